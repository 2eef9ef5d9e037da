package sqlstore

import (
	"regexp"
	"strings"
)

// queries holds every statement of a store, rendered once by New for its
// dialect and table prefix. The templates below use PostgreSQL's $N
// placeholders and {s}, {t}, {r} for the sessions, tokens and revocations
// tables; for SQLite $N becomes ?N, SQLite's own numbered placeholder.
//
// Times are int64 Unix nanoseconds. {now} is the database's clock, read in
// the statement itself (nowPG, nowSQLite): it decides expiry, stamps
// creation, refresh, consumption and ending, and measures the reuse grace
// window. The store never sends a time of its own process, only the
// expiries it is given.
//
// The revocation feed is written in the statement that ends a session, so
// that the end and its feed row commit together: by the schema's trigger on
// sessions.ended_at, except for the sessions the per-user cap forgets
// (deleted, not ended), whose rows the cap's statement writes. On
// PostgreSQL the trigger on the feed table notifies its listeners at the
// commit.
type queries struct {
	// issue starts a session with its first token: $1 jti, $2 session, $3
	// user, $4 expiry, $5 absolute expiry (NULL: none), $6 client (JSON or
	// NULL). PostgreSQL, one statement: returns whether the session and the
	// token were recorded, and whether a live record holds the jti; nothing
	// is recorded when the session id or the jti is live already. issueCap
	// is the same that then forgets the user's oldest live sessions but the
	// $7 newest of the others (the cap less one, the new session), tokens
	// included, records their revocations, and returns their ids too, a
	// JSON array (NULL: none).
	issue, issueCap string
	// insertSession, insertToken: Issue on SQLite, the first a write so
	// that the transaction takes the write lock at once. $1 … $6 as issue;
	// each affects no row when the id is live already.
	insertSession, insertToken string
	// evict forgets the user's oldest live sessions but the $3 newest
	// others, in three statements (SQLite's Issue): their revocations, their
	// tokens, their sessions, the last returning their ids. $1 user, $2
	// the new session, $3 the cap less one.
	evict [3]string
	// lockUser serializes the Issues of one user on PostgreSQL: $1 key.
	lockUser string

	// rotate: Rotate's fast path on PostgreSQL, one statement. It consumes
	// the presented token when it is active and live, of the named user and
	// session, and its session open; records the successor; and marks the
	// session refreshed. $1 presented jti, $2 successor jti, $3 successor
	// expiry, $4 user, $5 session ('' for any). Returns how many successors
	// it recorded (0 or 1). rotateKeep leaves the presented token active.
	rotate, rotateKeep string
	// consume, consumeKeep: Rotate on SQLite, the conditional consumption
	// that opens its transaction. $1 jti, $2 user, $3 session ('' for
	// any). Returns the session.
	consume, consumeKeep string

	// lockToken reads the presented token and its session for the slow path
	// of Rotate (PostgreSQL: under the token's row lock). $1 jti, $2 grace
	// window (ns), $3 user, $4 session ('' for any). Returns state, session,
	// whether the token is live, whether it was consumed within the window,
	// its replays, whether it belongs to the user and session named, and
	// whether its session is closed (ended, or past its absolute expiry).
	lockToken string
	// markConsumed: $1 jti.
	markConsumed string
	// countReplay counts one replay inside the grace window: $1 jti.
	countReplay string
	// dropExpiredToken frees a jti whose record expired but is not purged
	// yet. $1 jti.
	dropExpiredToken string
	// insertSuccessor: $1 jti, $2 session, $3 expiry.
	insertSuccessor string
	// touchSession marks a session refreshed: $1 session, $2 expiry of its
	// newest token.
	touchSession string
	// endSessionOf ends a session on reuse: $1 session.
	endSessionOf string

	// check: $1 jti, $2 user, $3 session ('' for any). Returns state,
	// whether live, whether owned, whether its session is closed.
	check string
	// revoke logs out with an active, live token of an open session of the
	// user named: it ends the session; on PostgreSQL it also marks the
	// token revoked, which takes the token's row lock so that a concurrent
	// rotation of it waits and then finds it revoked. $1 jti, $2 user, $3
	// session ('' for any). Affects one row when it ended the session.
	revoke string
	// revokeConsumed ends the open session of a consumed, live token of the
	// user named: $1 jti, $2 user, $3 session ('' for any).
	revokeConsumed string
	// endSession: $1 user, $2 session.
	endSession string
	// endSessions: $1 user, $2 the session kept ('' for none). On
	// PostgreSQL one statement that also records the user-wide revocation
	// when $2 is ''; on SQLite the first of two, endUser the second ($1
	// user).
	endSessions, endUser string

	// sessions lists a user's live sessions, newest first: $1 user.
	sessions string

	// feedAll returns every revocation within the retention, $1 (ns);
	// feedSince those after the cursor $2: on PostgreSQL a snapshot
	// (pg_snapshot text; the rows of transactions not visible in it), on
	// SQLite an id. Each row holds the next cursor's base (PostgreSQL: the
	// query's own snapshot; SQLite: the cursor, or 0 once it is past every
	// id handed out), then an entry's at, user, session and id (SQLite),
	// all NULL in the one row of a read with no entry.
	feedAll, feedSince string

	// purgeTokens, purgeSessions: $1 batch size. purgeRevocations: $1 batch
	// size, $2 retention (ns).
	purgeTokens, purgeSessions, purgeRevocations string
}

// The database's clock in Unix nanoseconds: PostgreSQL's statement time
// (microseconds), SQLite's 'now' (milliseconds; stable within a statement).
const (
	nowPG     = `((extract(epoch FROM statement_timestamp()) * 1000000)::bigint * 1000)`
	nowSQLite = `(CAST(round((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER) * 1000000)`
)

// Fragments. {owned(u,s)} is rendered with the placeholders of the user and
// session parameters of each statement: a session of that user, and the
// session named unless it is ”. {open} is a session neither ended nor past
// its absolute expiry; {live} adds "not idle-expired".
const (
	ownedTmpl = `s.user_id = $U AND ($S = '' OR s.session_id = $S)`
	openTmpl  = `s.ended_at IS NULL AND (s.absolute_expiry IS NULL OR s.absolute_expiry > {now})`
	liveTmpl  = `s.ended_at IS NULL AND s.expires_at > {now} AND (s.absolute_expiry IS NULL OR s.absolute_expiry > {now})`
)

const (
	sessionColumns = `session_id, user_id, created_at, refreshed_at, expires_at, absolute_expiry, client`
	// A session id is taken again only once its session has expired (its
	// tokens with it); ended_at is cleared with the rest.
	sessionConflict = `ON CONFLICT (session_id) DO UPDATE SET user_id = excluded.user_id,
	created_at = excluded.created_at, refreshed_at = excluded.refreshed_at,
	expires_at = excluded.expires_at, absolute_expiry = excluded.absolute_expiry,
	client = excluded.client, ended_at = NULL
WHERE s.expires_at <= {now}`
	tokenConflict = `ON CONFLICT (jti) DO UPDATE SET session_id = excluded.session_id, state = 'active',
	expires_at = excluded.expires_at, consumed_at = NULL, replays = 0
WHERE t.expires_at <= {now}`

	// The oldest live sessions of user $U but the $N newest, the new one
	// $NEW excluded (it is the newest, whatever the clock's resolution).
	victimsTmpl = `SELECT s.session_id FROM {s} s
	WHERE s.user_id = $U AND s.session_id <> $NEW AND {live}
	ORDER BY s.created_at DESC, s.session_id DESC {skip}`

	issueTmpl = `WITH ses AS (
	INSERT INTO {s} AS s (` + sessionColumns + `)
	SELECT $2, $3, {now}, {now}, $4, $5, $6
	WHERE NOT EXISTS (SELECT 1 FROM {t} WHERE jti = $1 AND expires_at > {now})
	` + sessionConflict + `
	RETURNING session_id
), tok AS (
	INSERT INTO {t} AS t (jti, session_id, state, expires_at)
	SELECT $1, session_id, 'active', $4 FROM ses
	` + tokenConflict + `
	RETURNING 1
){evict}
SELECT EXISTS (SELECT 1 FROM ses), EXISTS (SELECT 1 FROM tok),
	EXISTS (SELECT 1 FROM {t} WHERE jti = $1 AND expires_at > {now}){evicted}`
	// The cap forgets the sessions it ends: their rows and their tokens'
	// go, their feed entries are written here (no trigger fires on DELETE).
	// issueEvictedTmpl is the column issueCap adds to issue's answer: the
	// ids it evicted, a JSON array, NULL for none.
	issueEvictedTmpl = `, (SELECT json_agg(session_id)::text FROM evicted)`
	issueEvictTmpl   = `, evicted AS (
	DELETE FROM {s} WHERE session_id IN ({victims}) AND EXISTS (SELECT 1 FROM tok)
	RETURNING user_id, session_id
), forgotten AS (
	DELETE FROM {t} WHERE session_id IN (SELECT session_id FROM evicted)
), feed AS (
	INSERT INTO {r} (at, user_id, session_id) SELECT {now}, user_id, session_id FROM evicted
)`

	insertSessionTmpl = `INSERT INTO {s} AS s (` + sessionColumns + `)
VALUES ($2, $3, {now}, {now}, $4, $5, $6)
` + sessionConflict
	insertTokenTmpl = `INSERT INTO {t} AS t (jti, session_id, state, expires_at)
VALUES ($1, $2, 'active', $4)
` + tokenConflict
	evictFeedTmpl     = `INSERT INTO {r} (at, user_id, session_id) SELECT {now}, v.user_id, v.session_id FROM {s} v WHERE v.session_id IN ({victims})`
	evictTokensTmpl   = `DELETE FROM {t} WHERE session_id IN ({victims})`
	evictSessionsTmpl = `DELETE FROM {s} WHERE session_id IN ({victims}) RETURNING session_id`

	rotateTmpl = `WITH cur AS (
	UPDATE {t} AS t SET {consume}
	FROM {s} AS s
	WHERE t.jti = $1 AND t.state = 'active' AND t.expires_at > {now}
		AND s.session_id = t.session_id AND {owned} AND {open}
	RETURNING t.session_id
), nxt AS (
	INSERT INTO {t} (jti, session_id, state, expires_at)
	SELECT $2, session_id, 'active', $3 FROM cur
	RETURNING session_id
), ses AS (
	UPDATE {s} SET refreshed_at = {now}, expires_at = GREATEST(expires_at, $3)
	WHERE session_id IN (SELECT session_id FROM nxt)
)
SELECT count(*) FROM nxt`

	consumeTmpl = `UPDATE {t} AS t SET {consume}
WHERE t.jti = $1 AND t.state = 'active' AND t.expires_at > {now}
	AND EXISTS (SELECT 1 FROM {s} s WHERE s.session_id = t.session_id AND {owned} AND {open})
RETURNING session_id`

	lockTokenTmpl = `SELECT t.state, t.session_id, t.expires_at > {now},
	COALESCE(t.consumed_at >= {now} - $2, false), t.replays, {owned}, NOT ({open})
FROM {t} t JOIN {s} s ON s.session_id = t.session_id
WHERE t.jti = $1{lock}`

	markConsumedTmpl     = `UPDATE {t} SET state = 'consumed', consumed_at = {now} WHERE jti = $1`
	countReplayTmpl      = `UPDATE {t} SET replays = replays + 1 WHERE jti = $1`
	dropExpiredTokenTmpl = `DELETE FROM {t} WHERE jti = $1 AND expires_at <= {now}`
	insertSuccessorTmpl  = `INSERT INTO {t} (jti, session_id, state, expires_at) VALUES ($1, $2, 'active', $3)`
	touchSessionTmpl     = `UPDATE {s} SET refreshed_at = {now}, expires_at = {greatest}(expires_at, $2) WHERE session_id = $1`
	endSessionOfTmpl     = `UPDATE {s} SET ended_at = {now} WHERE session_id = $1 AND ended_at IS NULL`

	checkTmpl = `SELECT t.state, t.expires_at > {now}, {owned}, NOT ({open})
FROM {t} t JOIN {s} s ON s.session_id = t.session_id
WHERE t.jti = $1`

	revokePGTmpl = `WITH tok AS (
	UPDATE {t} AS t SET state = 'revoked'
	FROM {s} AS s
	WHERE t.jti = $1 AND t.state = 'active' AND t.expires_at > {now}
		AND s.session_id = t.session_id AND {owned} AND {open}
	RETURNING t.session_id
)
UPDATE {s} SET ended_at = {now} WHERE session_id IN (SELECT session_id FROM tok) AND ended_at IS NULL`
	// SQLite runs one write at a time, so the session's flag alone orders
	// a logout with a rotation.
	revokeSQLiteTmpl = `UPDATE {s} AS s SET ended_at = {now}
WHERE {owned} AND {open} AND s.session_id = (
	SELECT t.session_id FROM {t} t WHERE t.jti = $1 AND t.state = 'active' AND t.expires_at > {now})`
	revokeConsumedTmpl = `UPDATE {s} AS s SET ended_at = {now}
WHERE {owned} AND {open} AND s.session_id = (
	SELECT t.session_id FROM {t} t WHERE t.jti = $1 AND t.state = 'consumed' AND t.expires_at > {now})`

	endSessionTmpl    = `UPDATE {s} SET ended_at = {now} WHERE session_id = $2 AND user_id = $1 AND ended_at IS NULL`
	endSessionsPGTmpl = `WITH ended AS (
	UPDATE {s} SET ended_at = {now} WHERE user_id = $1 AND session_id <> $2 AND ended_at IS NULL
)
INSERT INTO {r} (at, user_id, session_id) SELECT {now}, $1, '' WHERE $2 = ''`
	endSessionsSQLiteTmpl = `UPDATE {s} SET ended_at = {now} WHERE user_id = $1 AND session_id <> $2 AND ended_at IS NULL`
	endUserTmpl           = `INSERT INTO {r} (at, user_id, session_id) VALUES ({now}, $1, '')`

	sessionsTmpl = `SELECT s.session_id, s.created_at, s.refreshed_at, s.expires_at, s.absolute_expiry, s.client
FROM {s} s WHERE s.user_id = $1 AND {live}
ORDER BY s.created_at DESC, s.session_id DESC`

	feedAllPGTmpl = `SELECT snap.s::text, r.at, r.user_id, r.session_id, NULL::bigint
FROM (SELECT pg_current_snapshot() AS s) AS snap
LEFT JOIN {r} r ON r.at > {now} - $1
ORDER BY r.at, r.xid`
	feedSincePGTmpl = `SELECT snap.s::text, r.at, r.user_id, r.session_id, NULL::bigint
FROM (SELECT pg_current_snapshot() AS s) AS snap
LEFT JOIN {r} r ON r.at > {now} - $1
	AND r.xid >= pg_snapshot_xmin($2::text::pg_snapshot)
	AND NOT pg_visible_in_snapshot(r.xid, $2::text::pg_snapshot)
ORDER BY r.at, r.xid`
	// A cursor beyond the highest id ever handed out (a restored file)
	// starts again from 0.
	feedAllSQLiteTmpl = `SELECT 0, r.at, r.user_id, r.session_id, r.id
FROM (SELECT 0) LEFT JOIN {r} r ON r.at > {now} - $1
ORDER BY r.id`
	feedSinceSQLiteTmpl = `SELECT b.c, r.at, r.user_id, r.session_id, r.id
FROM (SELECT CASE WHEN $2 > (SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = '{r}')
	THEN 0 ELSE $2 END AS c) b
LEFT JOIN {r} r ON r.id > b.c AND r.at > {now} - $1
ORDER BY r.id`

	// A purge statement deletes a batch of at most $1 rows of {table} that
	// match {cond}, picked on PostgreSQL by ctid (a TID scan), on SQLite by
	// primary key ({key}). The outer conditions of the tokens' and
	// sessions' purges are re-checked on rows changed concurrently, so a
	// session extended meanwhile is kept (TestPurgeKeepsRowExtendedMeanwhile;
	// on PostgreSQL the changed row's new ctid also misses the batch). They
	// read expires_at + 0, which no index serves, so that the batch is found
	// by its ids whatever the planner estimates: joined by primary key to
	// the rows the expires_at index gave, when the statistics said few rows
	// had expired (as they do once a backlog builds up after ANALYZE), it
	// got a nested loop that rescanned the batch for every expired row, and
	// 50,000 expired sessions took about a minute to purge
	// (TestPurgeStaleStatistics).
	purgeBatchPGTmpl     = `ctid = ANY (ARRAY (SELECT ctid FROM {table} WHERE {cond} LIMIT $1))`
	purgeBatchSQLiteTmpl = `{key} IN (SELECT {key} FROM {table} WHERE {cond} LIMIT $1)`
)

var placeholder = regexp.MustCompile(`\$(\d+)`)

// dialectSQL is what differs between the dialects' statements.
type dialectSQL struct {
	now, lock, greatest, skip                                  string
	issue, revoke, endSessions, feedAll, feedSince, purgeBatch string
}

func newQueries(d Dialect, prefix string) *queries {
	ds := dialectSQL{
		now: nowPG, lock: "\nFOR UPDATE OF t", greatest: "GREATEST", skip: "OFFSET $N",
		revoke: revokePGTmpl, endSessions: endSessionsPGTmpl,
		feedAll: feedAllPGTmpl, feedSince: feedSincePGTmpl, purgeBatch: purgeBatchPGTmpl,
	}
	if d == DialectSQLite {
		ds = dialectSQL{
			now: nowSQLite, greatest: "max", skip: "LIMIT -1 OFFSET $N",
			revoke: revokeSQLiteTmpl, endSessions: endSessionsSQLiteTmpl,
			feedAll: feedAllSQLiteTmpl, feedSince: feedSinceSQLiteTmpl, purgeBatch: purgeBatchSQLiteTmpl,
		}
	}
	// owned renders {owned} with the user and session placeholders u, s.
	owned := func(tmpl, u, s string) string {
		return strings.ReplaceAll(tmpl, "{owned}", strings.NewReplacer("$U", u, "$S", s).Replace(ownedTmpl))
	}
	victims := func(tmpl, u, newest, n string) string {
		v := strings.NewReplacer("$U", u, "$NEW", newest, "{skip}", strings.ReplaceAll(ds.skip, "$N", n)).Replace(victimsTmpl)
		return strings.ReplaceAll(tmpl, "{victims}", v)
	}
	render := func(tmpl string) string {
		s := strings.NewReplacer(
			"{open}", openTmpl,
			"{live}", liveTmpl,
		).Replace(tmpl)
		s = strings.NewReplacer(
			"{s}", prefix+"sessions",
			"{t}", prefix+"tokens",
			"{r}", prefix+"revocations",
			"{now}", ds.now,
			"{lock}", ds.lock,
			"{greatest}", ds.greatest,
		).Replace(s)
		if d == DialectSQLite {
			s = placeholder.ReplaceAllString(s, "?$1")
		}
		return s
	}
	// {consume} holds {now}: it is replaced before render.
	consume := func(tmpl string, keep bool) string {
		set := "state = 'consumed', consumed_at = {now}"
		if keep {
			set = "state = state" // takes the row lock, changes nothing
		}
		return strings.ReplaceAll(tmpl, "{consume}", set)
	}
	// purge renders the purge of table (primary key key: SQLite's pick)
	// in batches of the rows matching cond, then recheck.
	purge := func(table, key, cond, recheck string) string {
		batch := strings.NewReplacer("{table}", table, "{key}", key, "{cond}", cond).Replace(ds.purgeBatch)
		return render("DELETE FROM " + table + " WHERE " + batch + recheck)
	}
	return &queries{
		issue: render(strings.NewReplacer("{evict}", "", "{evicted}", "").Replace(issueTmpl)),
		issueCap: render(strings.NewReplacer("{evict}", victims(issueEvictTmpl, "$3", "$2", "$7"),
			"{evicted}", issueEvictedTmpl).Replace(issueTmpl)),
		insertSession: render(insertSessionTmpl),
		insertToken:   render(insertTokenTmpl),
		evict: [3]string{
			render(victims(evictFeedTmpl, "$1", "$2", "$3")),
			render(victims(evictTokensTmpl, "$1", "$2", "$3")),
			render(victims(evictSessionsTmpl, "$1", "$2", "$3")),
		},
		lockUser:         "SELECT pg_advisory_xact_lock($1)",
		rotate:           render(owned(consume(rotateTmpl, false), "$4", "$5")),
		rotateKeep:       render(owned(consume(rotateTmpl, true), "$4", "$5")),
		consume:          render(owned(consume(consumeTmpl, false), "$2", "$3")),
		consumeKeep:      render(owned(consume(consumeTmpl, true), "$2", "$3")),
		lockToken:        render(owned(lockTokenTmpl, "$3", "$4")),
		markConsumed:     render(markConsumedTmpl),
		countReplay:      render(countReplayTmpl),
		dropExpiredToken: render(dropExpiredTokenTmpl),
		insertSuccessor:  render(insertSuccessorTmpl),
		touchSession:     render(touchSessionTmpl),
		endSessionOf:     render(endSessionOfTmpl),
		check:            render(owned(checkTmpl, "$2", "$3")),
		revoke:           render(owned(ds.revoke, "$2", "$3")),
		revokeConsumed:   render(owned(revokeConsumedTmpl, "$2", "$3")),
		endSession:       render(endSessionTmpl),
		endSessions:      render(ds.endSessions),
		endUser:          render(endUserTmpl),
		sessions:         render(sessionsTmpl),
		feedAll:          render(ds.feedAll),
		feedSince:        render(ds.feedSince),
		purgeTokens:      purge("{t}", "jti", "expires_at <= {now}", " AND expires_at + 0 <= {now}"),
		purgeSessions:    purge("{s}", "session_id", "expires_at <= {now}", " AND expires_at + 0 <= {now}"),
		purgeRevocations: purge("{r}", "id", "at <= {now} - $2", ""),
	}
}
