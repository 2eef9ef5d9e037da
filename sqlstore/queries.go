package sqlstore

import (
	"regexp"
	"strings"
)

// queries holds every statement of a store, rendered once by New for its
// dialect and table prefix. The templates below use PostgreSQL's $N
// placeholders and {t} / {f} for the tokens and families tables; for SQLite
// $N becomes ?N, SQLite's own numbered placeholder.
//
// Times are int64 Unix nanoseconds. "now" is the store clock and decides
// expiry; "at" is RotateOptions.Now and anchors the reuse grace window.
type queries struct {
	// Issue, PostgreSQL: one statement. $1 jti, $2 family, $3 user, $4
	// expiry, $5 now. Returns the family's user, whether it is revoked, and
	// whether the token was recorded; no row when a live record holds the
	// jti (the family is then left untouched).
	issuePG string

	// Issue, SQLite: two statements in a transaction, the first a write.
	// upsertFamily: $2 family, $3 user, $4 expiry, $5 now; returns the
	// family's user and whether it is revoked.
	upsertFamily string
	// insertToken: $1 jti, $2 family, $3 user, $4 expiry, $5 now. Affects no
	// row when a live record holds the jti.
	insertToken string

	// Rotate fast path, PostgreSQL: one statement that consumes the active,
	// live, unrevoked presented token, records the successor and extends the
	// family. $1 presented jti, $2 successor jti, $3 at, $4 now, $5 successor
	// expiry. Returns how many successors it recorded (0 or 1).
	rotatePG, rotateKeepPG string

	// Rotate, SQLite: the conditional consumption that opens the
	// transaction. $1 jti, $2 at, $3 now. Returns family and user.
	consume, consumeKeep string

	// lockToken reads the presented token and its family's revocation for
	// the slow path of Rotate (PostgreSQL: row lock on the token). $1 jti.
	lockToken string
	// markConsumed: $1 jti, $2 at.
	markConsumed string
	// dropExpiredToken frees a jti whose record expired but is not purged
	// yet. $1 jti, $2 now.
	dropExpiredToken string
	// insertSuccessor: $1 jti, $2 family, $3 user, $4 parent, $5 at, $6 expiry.
	insertSuccessor string
	// extendFamily: $1 family, $2 expiry.
	extendFamily string
	// revokeFamilyOf marks a family revoked on reuse, creating its row if it
	// is missing. $1 family, $2 user, $3 at, $4 expiry.
	revokeFamilyOf string

	// check: $1 jti. Returns state, expiry, family revoked.
	check string
	// revoke revokes an active, live token of an unrevoked family: $1 jti,
	// $2 now.
	revoke string
	// revokeConsumed revokes the family of a consumed, live token, creating
	// the family row if it is missing: $1 jti, $2 now.
	revokeConsumed string
	// revokeFamily: $1 family, $2 now.
	revokeFamily string
	// revokeUser: $1 user, $2 now.
	revokeUser string

	// purgeTokens, purgeFamilies: $1 now, $2 batch size.
	purgeTokens, purgeFamilies string
}

const (
	issuePGTmpl = `WITH fam AS (
	INSERT INTO {f} AS f (family_id, user_id, created_at, expires_at)
	SELECT $2::text, $3::text, $5::bigint, $4::bigint
	WHERE NOT EXISTS (SELECT 1 FROM {t} WHERE jti = $1 AND expires_at > $5)
	ON CONFLICT (family_id) DO UPDATE SET expires_at = CASE
		WHEN f.user_id = EXCLUDED.user_id AND f.revoked_at IS NULL AND f.expires_at < EXCLUDED.expires_at
		THEN EXCLUDED.expires_at ELSE f.expires_at END
	RETURNING f.user_id, f.revoked_at
), tok AS (
	INSERT INTO {t} AS t (jti, family_id, user_id, state, issued_at, expires_at)
	SELECT $1, $2, $3, 'active', $5, $4 FROM fam WHERE fam.user_id = $3 AND fam.revoked_at IS NULL
	ON CONFLICT (jti) DO UPDATE SET family_id = EXCLUDED.family_id, user_id = EXCLUDED.user_id,
		state = 'active', parent_jti = NULL, issued_at = EXCLUDED.issued_at,
		expires_at = EXCLUDED.expires_at, consumed_at = NULL, revoked_at = NULL
	WHERE t.expires_at <= $5
	RETURNING 1
)
SELECT fam.user_id, fam.revoked_at IS NOT NULL, EXISTS (SELECT 1 FROM tok) FROM fam`

	upsertFamilyTmpl = `INSERT INTO {f} AS f (family_id, user_id, created_at, expires_at) VALUES ($2, $3, $5, $4)
ON CONFLICT (family_id) DO UPDATE SET expires_at = CASE
	WHEN f.user_id = excluded.user_id AND f.revoked_at IS NULL AND f.expires_at < excluded.expires_at
	THEN excluded.expires_at ELSE f.expires_at END
RETURNING user_id, revoked_at IS NOT NULL`

	insertTokenTmpl = `INSERT INTO {t} AS t (jti, family_id, user_id, state, issued_at, expires_at)
VALUES ($1, $2, $3, 'active', $5, $4)
ON CONFLICT (jti) DO UPDATE SET family_id = excluded.family_id, user_id = excluded.user_id,
	state = 'active', parent_jti = NULL, issued_at = excluded.issued_at,
	expires_at = excluded.expires_at, consumed_at = NULL, revoked_at = NULL
WHERE t.expires_at <= $5`

	rotatePGTmpl = `WITH cur AS (
	UPDATE {t} AS t SET {consume}
	WHERE t.jti = $1 AND t.state = 'active' AND t.expires_at > $4
		AND NOT EXISTS (SELECT 1 FROM {f} f WHERE f.family_id = t.family_id AND f.revoked_at IS NOT NULL)
	RETURNING family_id, user_id
), nxt AS (
	INSERT INTO {t} (jti, family_id, user_id, state, parent_jti, issued_at, expires_at)
	SELECT $2, family_id, user_id, 'active', $1, $3, $5 FROM cur
	RETURNING family_id
), fam AS (
	UPDATE {f} SET expires_at = $5 WHERE family_id IN (SELECT family_id FROM nxt) AND expires_at < $5
)
SELECT count(*) FROM nxt`

	consumeTmpl = `UPDATE {t} AS t SET {consume}
WHERE t.jti = $1 AND t.state = 'active' AND t.expires_at > $3
	AND NOT EXISTS (SELECT 1 FROM {f} f WHERE f.family_id = t.family_id AND f.revoked_at IS NOT NULL)
RETURNING family_id, user_id`

	lockTokenTmpl = `SELECT t.state, t.family_id, t.user_id, t.expires_at, t.consumed_at, f.revoked_at IS NOT NULL
FROM {t} t LEFT JOIN {f} f ON f.family_id = t.family_id
WHERE t.jti = $1{lock}`

	markConsumedTmpl     = `UPDATE {t} SET state = 'consumed', consumed_at = $2 WHERE jti = $1`
	dropExpiredTokenTmpl = `DELETE FROM {t} WHERE jti = $1 AND expires_at <= $2`
	insertSuccessorTmpl  = `INSERT INTO {t} (jti, family_id, user_id, state, parent_jti, issued_at, expires_at)
VALUES ($1, $2, $3, 'active', $4, $5, $6)`
	extendFamilyTmpl   = `UPDATE {f} SET expires_at = $2 WHERE family_id = $1 AND expires_at < $2`
	revokeFamilyOfTmpl = `INSERT INTO {f} AS f (family_id, user_id, created_at, expires_at, revoked_at)
VALUES ($1, $2, $3, $4, $3)
ON CONFLICT (family_id) DO UPDATE SET revoked_at = COALESCE(f.revoked_at, excluded.revoked_at)`

	checkTmpl = `SELECT t.state, t.expires_at, f.revoked_at IS NOT NULL
FROM {t} t LEFT JOIN {f} f ON f.family_id = t.family_id
WHERE t.jti = $1`
	revokeTmpl = `UPDATE {t} AS t SET state = 'revoked', revoked_at = $2
WHERE t.jti = $1 AND t.state = 'active' AND t.expires_at > $2
	AND NOT EXISTS (SELECT 1 FROM {f} f WHERE f.family_id = t.family_id AND f.revoked_at IS NOT NULL)`
	// The WHERE clause also tells SQLite that ON CONFLICT is no join's ON.
	revokeConsumedTmpl = `INSERT INTO {f} AS f (family_id, user_id, created_at, expires_at, revoked_at)
SELECT t.family_id, t.user_id, $2, t.expires_at, $2 FROM {t} t
WHERE t.jti = $1 AND t.state = 'consumed' AND t.expires_at > $2
ON CONFLICT (family_id) DO UPDATE SET revoked_at = COALESCE(f.revoked_at, excluded.revoked_at)`
	revokeFamilyTmpl = `UPDATE {f} SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL`
	revokeUserTmpl   = `UPDATE {f} SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL`

	// The outer expires_at conditions are re-checked on rows changed
	// concurrently, so a family extended meanwhile is kept.
	purgeTokensTmpl = `DELETE FROM {t} WHERE jti IN (
	SELECT jti FROM {t} WHERE expires_at <= $1 LIMIT $2
) AND expires_at <= $1`
	purgeFamiliesTmpl = `DELETE FROM {f} WHERE family_id IN (
	SELECT family_id FROM {f} WHERE expires_at <= $1 LIMIT $2
) AND expires_at <= $1`
)

var placeholder = regexp.MustCompile(`\$(\d+)`)

func newQueries(d Dialect, prefix string) *queries {
	render := func(tmpl string) string {
		s := strings.NewReplacer(
			"{t}", prefix+"tokens",
			"{f}", prefix+"families",
		).Replace(tmpl)
		if d == DialectSQLite {
			s = strings.ReplaceAll(s, "{lock}", "")
			s = placeholder.ReplaceAllString(s, "?$1")
		} else {
			s = strings.ReplaceAll(s, "{lock}", "\nFOR UPDATE OF t")
		}
		return s
	}
	// {consume} names the "at" parameter, whose number differs per statement.
	consumeAt := func(tmpl, at string, keep bool) string {
		set := "state = 'consumed', consumed_at = " + at
		if keep {
			set = "state = state" // takes the row lock, changes nothing
		}
		return strings.ReplaceAll(tmpl, "{consume}", set)
	}
	return &queries{
		issuePG:          render(issuePGTmpl),
		upsertFamily:     render(upsertFamilyTmpl),
		insertToken:      render(insertTokenTmpl),
		rotatePG:         render(consumeAt(rotatePGTmpl, "$3", false)),
		rotateKeepPG:     render(consumeAt(rotatePGTmpl, "$3", true)),
		consume:          render(consumeAt(consumeTmpl, "$2", false)),
		consumeKeep:      render(consumeAt(consumeTmpl, "$2", true)),
		lockToken:        render(lockTokenTmpl),
		markConsumed:     render(markConsumedTmpl),
		dropExpiredToken: render(dropExpiredTokenTmpl),
		insertSuccessor:  render(insertSuccessorTmpl),
		extendFamily:     render(extendFamilyTmpl),
		revokeFamilyOf:   render(revokeFamilyOfTmpl),
		check:            render(checkTmpl),
		revoke:           render(revokeTmpl),
		revokeConsumed:   render(revokeConsumedTmpl),
		revokeFamily:     render(revokeFamilyTmpl),
		revokeUser:       render(revokeUserTmpl),
		purgeTokens:      render(purgeTokensTmpl),
		purgeFamilies:    render(purgeFamiliesTmpl),
	}
}
