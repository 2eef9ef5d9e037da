// Package sqlstore is a [jwtpair.Store] on a SQL database through
// database/sql: PostgreSQL (with github.com/jackc/pgx/v5/stdlib or
// github.com/lib/pq) for applications of several instances, or SQLite (with
// modernc.org/sqlite, pure Go, the supported SQLite driver) for a single
// instance whose logouts must survive restarts. The module itself imports no
// driver: the application picks one and opens the *sql.DB.
//
//	db, err := sql.Open("pgx", "postgres://app@db/app") // import _ "github.com/jackc/pgx/v5/stdlib"
//	…
//	store, err := sqlstore.New(db, sqlstore.WithJanitor(time.Hour))
//	if err != nil { … }
//	defer store.Close() // stops the janitor; the store never closes db
//	if err := store.Migrate(ctx); err != nil { … }
//	auth, err := jwtpair.New(jwtpair.WithHMACKey(secret), jwtpair.WithAuthenticator(users),
//		jwtpair.WithStore(store))
//
// # Schema
//
// Two tables, named with a configurable prefix ([WithTablePrefix], default
// "jwtpair_"): jwtpair_tokens, one row per refresh token keyed by jti (its
// family, user, state active/consumed/revoked, parent jti, times, replays
// granted inside the grace window), and jwtpair_families, one row per family
// (user, latest token expiry, revocation time). No raw token is stored. Times are Unix nanoseconds in 64-bit
// integers, so that both dialects compare them exactly. Indexes cover what the
// queries use: the jti and family primary keys, families(user_id) for
// RevokeUser, and the expires_at columns for PurgeExpired. [Store.Migrate]
// creates them idempotently; [Store.Schema] returns the same DDL for your own
// migration tool, and schema/postgres.sql and schema/sqlite.sql ship in the
// module.
//
// # Atomicity
//
// Rotate is atomic under concurrent processes at the default isolation
// level (READ COMMITTED on PostgreSQL), with no check-then-act: a
// conditional UPDATE … WHERE state = 'active' AND expires_at > now AND the
// family is unrevoked … RETURNING consumes the presented token, and the
// successor is inserted in the same statement (PostgreSQL, one round trip)
// or transaction (SQLite). Of many concurrent rotations of one token without
// a grace window, exactly one succeeds; the others find it consumed, and the
// first of them revokes the family. A logout, a detected reuse and revoking a
// family or a user set a flag on family rows, which every check and rotation
// reads, so a successor recorded while the family is being revoked is
// revoked with it.
//
// Transient conflicts (serialization failures and deadlocks on PostgreSQL,
// a busy database on SQLite) are retried a few times; every other database
// failure, a cancelled context included, is returned wrapping
// [jwtpair.ErrStoreUnavailable] and never taken for success. A *sql.DB
// reconnects on its own, so the store recovers when the database does.
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
// same guarantees as on PostgreSQL. An in-memory database (":memory:") is
// private to each connection of the pool: use a file.
//
// # Expiry
//
// A record is expired at its token's expiry on the database's clock and is
// then reported unknown, whether or not it is still in the table. The
// statements read that clock themselves (PostgreSQL's statement_timestamp(),
// to the microsecond; SQLite's 'now', to the millisecond, which is the
// clock of the host holding the file) and measure the reuse grace window on
// it too, never on the clock of the instance that calls them.
// [Store.PurgeExpired] deletes expired tokens, and families whose every token
// has expired (a revocation is kept as long as a token it covers), in small
// batches; call it from a cron job or let [WithJanitor] call it. [Store.Close]
// stops the janitor and waits for it, a purge statement in flight included.
//
// # Throttling
//
// [NewLimiter] makes a [jwtpair.Limiter] on the same database, so that
// login and refresh throttling hold across instances: pass it with
// jwtpair.WithLimiter. It has its own table (<prefix>limits), created by
// its own [Limiter.Migrate] and purged by [Limiter.PurgeExpired] or
// [WithLimiterJanitor]; each attempt is one statement.
package sqlstore
