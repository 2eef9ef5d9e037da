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
// Times are int64 Unix nanoseconds. {now} is the database's clock, read in
// the statement itself (nowPG, nowSQLite): it decides expiry, stamps
// consumption and revocation, and measures the reuse grace window. The
// store never sends a time of its own process, only token expiries.
type queries struct {
	// Issue, PostgreSQL: one statement. $1 jti, $2 family, $3 user, $4
	// expiry. Returns the family's user, whether it is revoked, and whether
	// the token was recorded; no row when a live record holds the jti (the
	// family is then left untouched).
	issuePG string

	// Issue, SQLite: two statements in a transaction, the first a write.
	// upsertFamily: $2 family, $3 user, $4 expiry; returns the family's
	// user and whether it is revoked.
	upsertFamily string
	// insertToken: $1 jti, $2 family, $3 user, $4 expiry. Affects no row
	// when a live record holds the jti.
	insertToken string

	// Rotate fast path, PostgreSQL: one statement that consumes the active,
	// live, unrevoked presented token, records the successor and extends the
	// family. $1 presented jti, $2 successor jti, $3 successor expiry.
	// Returns how many successors it recorded (0 or 1).
	rotatePG, rotateKeepPG string

	// Rotate, SQLite: the conditional consumption that opens the
	// transaction. $1 jti. Returns family and user.
	consume, consumeKeep string

	// lockToken reads the presented token and its family's revocation for
	// the slow path of Rotate (PostgreSQL: row lock on the token). $1 jti,
	// $2 grace window (ns). Returns state, family, user, expiry, whether the
	// token is live, whether it was consumed within the window, its replays
	// and whether its family is revoked.
	lockToken string
	// markConsumed: $1 jti.
	markConsumed string
	// countReplay counts one replay inside the grace window: $1 jti.
	countReplay string
	// dropExpiredToken frees a jti whose record expired but is not purged
	// yet. $1 jti.
	dropExpiredToken string
	// insertSuccessor: $1 jti, $2 family, $3 user, $4 parent, $5 expiry.
	insertSuccessor string
	// extendFamily: $1 family, $2 expiry.
	extendFamily string
	// revokeFamilyOf marks a family revoked on reuse, creating its row if it
	// is missing. $1 family, $2 user, $3 expiry.
	revokeFamilyOf string

	// check: $1 jti. Returns state, whether live, family revoked.
	check string
	// revoke logs out with an active, live token of an unrevoked family: it
	// revokes the family (creating its row if it is missing); on PostgreSQL
	// it also marks the token revoked, which takes the token's row lock so
	// that a concurrent rotation of it waits and then finds it revoked. $1
	// jti. Affects one row when it revoked.
	revoke string
	// revokeConsumed revokes the family of a consumed, live token, creating
	// the family row if it is missing: $1 jti.
	revokeConsumed string
	// revokeFamily: $1 family.
	revokeFamily string
	// revokeUser: $1 user.
	revokeUser string

	// purgeTokens, purgeFamilies: $1 batch size.
	purgeTokens, purgeFamilies string
}

// The database's clock in Unix nanoseconds: PostgreSQL's statement time
// (microseconds), SQLite's 'now' (milliseconds; stable within a statement).
const (
	nowPG     = `((extract(epoch FROM statement_timestamp()) * 1000000)::bigint * 1000)`
	nowSQLite = `(CAST(round((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER) * 1000000)`
)

const (
	issuePGTmpl = `WITH fam AS (
	INSERT INTO {f} AS f (family_id, user_id, created_at, expires_at)
	SELECT $2::text, $3::text, {now}, $4::bigint
	WHERE NOT EXISTS (SELECT 1 FROM {t} WHERE jti = $1 AND expires_at > {now})
	ON CONFLICT (family_id) DO UPDATE SET expires_at = CASE
		WHEN f.user_id = EXCLUDED.user_id AND f.revoked_at IS NULL AND f.expires_at < EXCLUDED.expires_at
		THEN EXCLUDED.expires_at ELSE f.expires_at END
	RETURNING f.user_id, f.revoked_at
), tok AS (
	INSERT INTO {t} AS t (jti, family_id, user_id, state, issued_at, expires_at)
	SELECT $1, $2, $3, 'active', {now}, $4 FROM fam WHERE fam.user_id = $3 AND fam.revoked_at IS NULL
	ON CONFLICT (jti) DO UPDATE SET family_id = EXCLUDED.family_id, user_id = EXCLUDED.user_id,
		state = 'active', parent_jti = NULL, issued_at = EXCLUDED.issued_at,
		expires_at = EXCLUDED.expires_at, consumed_at = NULL, replays = 0, revoked_at = NULL
	WHERE t.expires_at <= {now}
	RETURNING 1
)
SELECT fam.user_id, fam.revoked_at IS NOT NULL, EXISTS (SELECT 1 FROM tok) FROM fam`

	upsertFamilyTmpl = `INSERT INTO {f} AS f (family_id, user_id, created_at, expires_at) VALUES ($2, $3, {now}, $4)
ON CONFLICT (family_id) DO UPDATE SET expires_at = CASE
	WHEN f.user_id = excluded.user_id AND f.revoked_at IS NULL AND f.expires_at < excluded.expires_at
	THEN excluded.expires_at ELSE f.expires_at END
RETURNING user_id, revoked_at IS NOT NULL`

	insertTokenTmpl = `INSERT INTO {t} AS t (jti, family_id, user_id, state, issued_at, expires_at)
VALUES ($1, $2, $3, 'active', {now}, $4)
ON CONFLICT (jti) DO UPDATE SET family_id = excluded.family_id, user_id = excluded.user_id,
	state = 'active', parent_jti = NULL, issued_at = excluded.issued_at,
	expires_at = excluded.expires_at, consumed_at = NULL, replays = 0, revoked_at = NULL
WHERE t.expires_at <= {now}`

	rotatePGTmpl = `WITH cur AS (
	UPDATE {t} AS t SET {consume}
	WHERE t.jti = $1 AND t.state = 'active' AND t.expires_at > {now}
		AND NOT EXISTS (SELECT 1 FROM {f} f WHERE f.family_id = t.family_id AND f.revoked_at IS NOT NULL)
	RETURNING family_id, user_id
), nxt AS (
	INSERT INTO {t} (jti, family_id, user_id, state, parent_jti, issued_at, expires_at)
	SELECT $2, family_id, user_id, 'active', $1, {now}, $3 FROM cur
	RETURNING family_id
), fam AS (
	UPDATE {f} SET expires_at = $3 WHERE family_id IN (SELECT family_id FROM nxt) AND expires_at < $3
)
SELECT count(*) FROM nxt`

	consumeTmpl = `UPDATE {t} AS t SET {consume}
WHERE t.jti = $1 AND t.state = 'active' AND t.expires_at > {now}
	AND NOT EXISTS (SELECT 1 FROM {f} f WHERE f.family_id = t.family_id AND f.revoked_at IS NOT NULL)
RETURNING family_id, user_id`

	lockTokenTmpl = `SELECT t.state, t.family_id, t.user_id, t.expires_at, t.expires_at > {now},
	COALESCE(t.consumed_at >= {now} - $2, false), t.replays, f.revoked_at IS NOT NULL
FROM {t} t LEFT JOIN {f} f ON f.family_id = t.family_id
WHERE t.jti = $1{lock}`

	markConsumedTmpl     = `UPDATE {t} SET state = 'consumed', consumed_at = {now} WHERE jti = $1`
	countReplayTmpl      = `UPDATE {t} SET replays = replays + 1 WHERE jti = $1`
	dropExpiredTokenTmpl = `DELETE FROM {t} WHERE jti = $1 AND expires_at <= {now}`
	insertSuccessorTmpl  = `INSERT INTO {t} (jti, family_id, user_id, state, parent_jti, issued_at, expires_at)
VALUES ($1, $2, $3, 'active', $4, {now}, $5)`
	extendFamilyTmpl   = `UPDATE {f} SET expires_at = $2 WHERE family_id = $1 AND expires_at < $2`
	revokeFamilyOfTmpl = `INSERT INTO {f} AS f (family_id, user_id, created_at, expires_at, revoked_at)
VALUES ($1, $2, {now}, $3, {now})
ON CONFLICT (family_id) DO UPDATE SET revoked_at = COALESCE(f.revoked_at, excluded.revoked_at)`

	checkTmpl = `SELECT t.state, t.expires_at > {now}, f.revoked_at IS NOT NULL
FROM {t} t LEFT JOIN {f} f ON f.family_id = t.family_id
WHERE t.jti = $1`
	revokePGTmpl = `WITH tok AS (
	UPDATE {t} AS t SET state = 'revoked', revoked_at = {now}
	WHERE t.jti = $1 AND t.state = 'active' AND t.expires_at > {now}
		AND NOT EXISTS (SELECT 1 FROM {f} f WHERE f.family_id = t.family_id AND f.revoked_at IS NOT NULL)
	RETURNING family_id, user_id, expires_at
)
INSERT INTO {f} AS f (family_id, user_id, created_at, expires_at, revoked_at)
SELECT family_id, user_id, {now}, expires_at, {now} FROM tok
ON CONFLICT (family_id) DO UPDATE SET revoked_at = COALESCE(f.revoked_at, excluded.revoked_at)`
	// SQLite runs one write at a time, so the family flag alone orders a
	// logout with a rotation. The WHERE clause also tells SQLite that ON
	// CONFLICT is no join's ON.
	revokeSQLiteTmpl = `INSERT INTO {f} AS f (family_id, user_id, created_at, expires_at, revoked_at)
SELECT t.family_id, t.user_id, {now}, t.expires_at, {now} FROM {t} t
WHERE t.jti = $1 AND t.state = 'active' AND t.expires_at > {now}
	AND NOT EXISTS (SELECT 1 FROM {f} r WHERE r.family_id = t.family_id AND r.revoked_at IS NOT NULL)
ON CONFLICT (family_id) DO UPDATE SET revoked_at = COALESCE(f.revoked_at, excluded.revoked_at)`
	revokeConsumedTmpl = `INSERT INTO {f} AS f (family_id, user_id, created_at, expires_at, revoked_at)
SELECT t.family_id, t.user_id, {now}, t.expires_at, {now} FROM {t} t
WHERE t.jti = $1 AND t.state = 'consumed' AND t.expires_at > {now}
ON CONFLICT (family_id) DO UPDATE SET revoked_at = COALESCE(f.revoked_at, excluded.revoked_at)`
	revokeFamilyTmpl = `UPDATE {f} SET revoked_at = {now} WHERE family_id = $1 AND revoked_at IS NULL`
	revokeUserTmpl   = `UPDATE {f} SET revoked_at = {now} WHERE user_id = $1 AND revoked_at IS NULL`

	// The outer expires_at conditions are re-checked on rows changed
	// concurrently, so a family extended meanwhile is kept.
	purgeTokensTmpl = `DELETE FROM {t} WHERE jti IN (
	SELECT jti FROM {t} WHERE expires_at <= {now} LIMIT $1
) AND expires_at <= {now}`
	purgeFamiliesTmpl = `DELETE FROM {f} WHERE family_id IN (
	SELECT family_id FROM {f} WHERE expires_at <= {now} LIMIT $1
) AND expires_at <= {now}`
)

var placeholder = regexp.MustCompile(`\$(\d+)`)

func newQueries(d Dialect, prefix string) *queries {
	now, lock, revoke := nowPG, "\nFOR UPDATE OF t", revokePGTmpl
	if d == DialectSQLite {
		now, lock, revoke = nowSQLite, "", revokeSQLiteTmpl
	}
	render := func(tmpl string) string {
		s := strings.NewReplacer(
			"{t}", prefix+"tokens",
			"{f}", prefix+"families",
			"{now}", now,
			"{lock}", lock,
		).Replace(tmpl)
		if d == DialectSQLite {
			s = placeholder.ReplaceAllString(s, "?$1")
		}
		return s
	}
	// {consume} is rendered first: it holds {now}.
	consume := func(tmpl string, keep bool) string {
		set := "state = 'consumed', consumed_at = {now}"
		if keep {
			set = "state = state" // takes the row lock, changes nothing
		}
		return render(strings.ReplaceAll(tmpl, "{consume}", set))
	}
	return &queries{
		issuePG:          render(issuePGTmpl),
		upsertFamily:     render(upsertFamilyTmpl),
		insertToken:      render(insertTokenTmpl),
		rotatePG:         consume(rotatePGTmpl, false),
		rotateKeepPG:     consume(rotatePGTmpl, true),
		consume:          consume(consumeTmpl, false),
		consumeKeep:      consume(consumeTmpl, true),
		lockToken:        render(lockTokenTmpl),
		markConsumed:     render(markConsumedTmpl),
		countReplay:      render(countReplayTmpl),
		dropExpiredToken: render(dropExpiredTokenTmpl),
		insertSuccessor:  render(insertSuccessorTmpl),
		extendFamily:     render(extendFamilyTmpl),
		revokeFamilyOf:   render(revokeFamilyOfTmpl),
		check:            render(checkTmpl),
		revoke:           render(revoke),
		revokeConsumed:   render(revokeConsumedTmpl),
		revokeFamily:     render(revokeFamilyTmpl),
		revokeUser:       render(revokeUserTmpl),
		purgeTokens:      render(purgeTokensTmpl),
		purgeFamilies:    render(purgeFamiliesTmpl),
	}
}
