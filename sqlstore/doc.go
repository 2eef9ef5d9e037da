// Package sqlstore is a [jwtpair.Store] and [jwtpair.RevocationFeed] on a
// SQL database through database/sql: PostgreSQL 13 or later (with
// github.com/jackc/pgx/v5/stdlib, or github.com/lib/pq) for applications of
// several instances, or SQLite (with modernc.org/sqlite, pure Go, the
// supported SQLite driver) for a single instance whose sessions must survive
// restarts. The module itself registers no driver: the application picks
// one and opens the *sql.DB.
//
//	db, err := sql.Open("pgx", "postgres://app@db/app") // import _ "github.com/jackc/pgx/v5/stdlib"
//	…
//	store, err := sqlstore.New(db, sqlstore.WithJanitor(time.Hour))
//	if err != nil { … }
//	defer store.Close() // stops the janitor and the feed's listener; the store never closes db
//	if err := store.Migrate(ctx); err != nil { … }
//	auth, err := jwtpair.New(jwtpair.WithHMACKey(secret), jwtpair.WithAuthenticator(users),
//		jwtpair.WithStore(store))
//
// # Schema
//
// Three tables, named with a configurable prefix ([WithTablePrefix], default
// "jwtpair_"):
//
//   - jwtpair_sessions, one row per session (login) keyed by its id (the sid
//     claim): user, created, last refreshed, idle expiry (the latest expiry
//     of its tokens), absolute expiry, the client metadata as a JSON object,
//     and ended_at once it has ended;
//   - jwtpair_tokens, one row per refresh token keyed by jti: its session,
//     state (active, consumed, revoked), expiry, consumption time and the
//     replays the grace window granted;
//   - jwtpair_revocations, the revocation feed: user, session ("" for "all
//     of the user's sessions") and time of each end.
//
// No raw token is stored. Times are Unix nanoseconds in 64-bit integers, so
// that both dialects compare them exactly. Indexes cover what the queries
// use: the primary keys, sessions(user_id, created_at) for listing a user's
// sessions newest first, ending them all and the per-user cap,
// tokens(session_id) for the cap, which forgets a session with its tokens,
// and the expiry and time columns for [Store.PurgeExpired]. A trigger on
// sessions.ended_at writes the feed row of every session that ends, in the
// statement that ends it (also an administrator's UPDATE), so an end and
// its feed entry commit together. [Store.Migrate] creates all of it
// idempotently; [Store.Schema] returns the same DDL for your own migration
// tool, and schema/postgres.sql and schema/sqlite.sql ship in the module.
// Migrate refuses a database holding the family tables of the unreleased
// development versions before sessions, saying which tables to drop.
//
// # Atomicity
//
// Rotate is atomic under concurrent processes at the default isolation
// level (READ COMMITTED on PostgreSQL), with no check-then-act: a
// conditional UPDATE … WHERE state = 'active' AND the token is live, of the
// user and session named, and its session neither ended nor past its
// absolute expiry … RETURNING consumes the presented token, and the
// successor is inserted and the session marked refreshed in the same
// statement (PostgreSQL, one round trip) or transaction (SQLite). Of many
// concurrent rotations of one token without a grace window, exactly one
// succeeds; the others find it consumed, and the first of them ends the
// session. Ending a session sets a flag on its row, which every check and
// rotation reads, so a successor recorded while the session is being ended
// is ended with it.
//
// Issue with a per-user cap ([jwtpair.IssueOptions].MaxSessions) is atomic
// with the logins it races: on PostgreSQL it first takes a
// transaction-scoped advisory lock keyed by the user, then counts and
// evicts in a statement whose snapshot is taken after the lock is granted,
// so it sees every earlier login of the user; SQLite runs one write
// transaction at a time. The cap forgets the sessions it evicts (rows and
// tokens), so a user's rows stay bounded by the cap however fast they log
// in; their revocations go to the feed in the same statement.
//
// Transient conflicts (serialization failures and deadlocks on PostgreSQL,
// a busy database on SQLite) are retried a few times; every other database
// failure, a cancelled context included, is returned wrapping
// [jwtpair.ErrStoreUnavailable] and never taken for success. No call runs
// past its context's deadline (jwtpair's WithStoreTimeout sets one on every
// call an Auth makes): retries stop at it, and so does a wait for SQLite's
// write lock (see SQLite below). A *sql.DB reconnects on its own, so the
// store recovers when the database does.
//
// # Revocation feed
//
// [Store.Revocations] reads the revocations table. On PostgreSQL its cursor
// is a database snapshot, and each read returns the rows whose transaction
// the previous snapshot did not see: safe whatever order transactions
// commit in (a "highest id seen" cursor is not: a row that takes its id
// first and commits last would be skipped). Waiting for new entries, the
// store LISTENs on a connection of the pool it holds until [Store.Close]
// (pgx only; through lib/pq, and while that connection is down, it polls
// every 100 ms), woken by the NOTIFY a trigger on the feed table sends at
// each commit. On SQLite, which runs one writer at a time, the cursor is
// the last id read (AUTOINCREMENT: ids are never handed out again), polled
// every 100 ms. Entries are kept for [WithRevocationRetention] (default
// 1 h), then purged.
//
// # SQLite
//
// Open the database file with a busy timeout, so that writers wait for each
// other instead of failing with SQLITE_BUSY, and preferably in WAL mode,
// so that readers do not block the writer. With modernc.org/sqlite:
//
//	sql.Open("sqlite", "file:/var/lib/app/auth.db?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
//
// SQLite serializes writers, so every process sharing the file sees the
// same guarantees as on PostgreSQL. A Store queues its own writes: one
// write statement or transaction at a time per Store, in the order they
// come, so that the concurrent requests of one process take SQLite's write
// lock in turn rather than poll for it by their busy timeouts, which sleep
// between tries (up to 100 ms) while the lock may sit free. A queued write
// honours its context. Reads do not queue; writes of other processes (and
// of a [Limiter] on the same file) still wait by the busy timeout. SQLite's
// busy handler sleeps without looking at the context, so a write waiting
// for the lock would otherwise outlast its deadline by up to the busy
// timeout: when the time left before the context's deadline is shorter
// than the pool's busy timeout (read once, with PRAGMA busy_timeout), the
// store runs the call on one connection whose busy timeout it lowers to
// that time and restores afterwards (TestDeadlineEndsBusyWait,
// TestBusyWaitWithinDeadline). An in-memory database (":memory:") is
// private to each connection of the pool: use a file.
//
// # Expiry
//
// A record is expired at its token's expiry on the database's clock and is
// then reported unknown, whether or not it is still in the table. The
// statements read that clock themselves (PostgreSQL's statement_timestamp(),
// to the microsecond; SQLite's 'now', to the millisecond, which is the
// clock of the host holding the file) and measure the reuse grace window and
// stamp session times on it too, never on the clock of the instance that
// calls them. [Store.PurgeExpired] deletes expired tokens, sessions whose
// every token has expired (an ended session is kept as long as a token it
// covers) and feed entries past the retention, in small batches; call it
// from a cron job or let [WithJanitor] call it. [Store.Close] stops the
// janitor and waits for it, a purge statement in flight included.
//
// # Throttling
//
// [NewLimiter] makes a [jwtpair.Limiter] on the same database, so that
// login and refresh throttling hold across instances: pass it with
// jwtpair.WithLimiter. It has its own table (<prefix>limits), created by
// its own [Limiter.Migrate] and purged by [Limiter.PurgeExpired] or
// [WithLimiterJanitor]; each attempt is one statement.
package sqlstore
