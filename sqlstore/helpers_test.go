package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/jwtpair/jwtpair"
	"github.com/jwtpair/jwtpair/sqlstore"
	"github.com/jwtpair/jwtpair/storetest"
)

// backend is one database the tests run on.
type backend struct {
	name string
	// newDB returns a namespace of its own (a SQLite file, or a table
	// prefix on the PostgreSQL database) and an opener of *sql.DB values
	// over it, each a separate pool as separate processes would have.
	newDB func(t testing.TB) (prefix string, open func(t testing.TB) *sql.DB)
}

// sqliteDSN is the DSN the package documentation recommends.
func sqliteDSN(path string) string {
	return "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"
}

var sqliteBackend = backend{
	name: "sqlite",
	newDB: func(t testing.TB) (string, func(testing.TB) *sql.DB) {
		path := filepath.Join(t.TempDir(), "jwtpair.db")
		return sqlstore.DefaultTablePrefix, func(t testing.TB) *sql.DB {
			return openDB(t, "sqlite", sqliteDSN(path))
		}
	},
}

// postgresURL returns JWTPAIR_POSTGRES_URL, skipping the test when it is
// unset, or failing it when JWTPAIR_REQUIRE_BACKENDS=1 (CI).
func postgresURL(tb testing.TB) string {
	tb.Helper()
	return storetest.BackendURL(tb, "JWTPAIR_POSTGRES_URL", "postgres://user@127.0.0.1:5432/db?sslmode=disable")
}

// postgresPrefix returns a table prefix of its own for one test and drops
// its tables from the database at dsn at cleanup.
func postgresPrefix(tb testing.TB, dsn string) string {
	tb.Helper()
	prefix := "t" + storetest.NewID()[:10] + "_"
	tb.Cleanup(func() {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return
		}
		defer db.Close()
		_, _ = db.ExecContext(context.Background(), "DROP TABLE IF EXISTS "+prefix+"tokens, "+prefix+"sessions, "+prefix+"revocations, "+prefix+"families")
		_, _ = db.ExecContext(context.Background(), "DROP FUNCTION IF EXISTS "+prefix+"sessions_ended(), "+prefix+"revocations_notify()")
	})
	return prefix
}

var postgresBackend = backend{
	name: "postgres",
	newDB: func(t testing.TB) (string, func(testing.TB) *sql.DB) {
		dsn := postgresURL(t)
		return postgresPrefix(t, dsn), func(t testing.TB) *sql.DB { return openDB(t, "pgx", dsn) }
	},
}

var backends = []backend{sqliteBackend, postgresBackend}

func openDB(tb testing.TB, driver, dsn string) *sql.DB {
	tb.Helper()
	db, err := sql.Open(driver, dsn)
	require.NoError(tb, err)
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	tb.Cleanup(func() { _ = db.Close() })
	require.NoError(tb, db.PingContext(context.Background()), "ping %s", driver)
	return db
}

// newStore returns a migrated store in a namespace of its own.
func newStore(tb testing.TB, be backend, opts ...sqlstore.Option) *sqlstore.Store {
	tb.Helper()
	prefix, open := be.newDB(tb)
	return storeOn(tb, open(tb), prefix, opts...)
}

// newStoreDB is newStore that also returns the store's database and table
// prefix, for a test that reads or changes rows itself.
func newStoreDB(tb testing.TB, be backend) (*sqlstore.Store, *sql.DB, string) {
	tb.Helper()
	prefix, open := be.newDB(tb)
	db := open(tb)
	return storeOn(tb, db, prefix), db, prefix
}

// twoStores returns two stores over one namespace, each on a connection
// pool of its own, as two processes sharing the database have.
func twoStores(tb testing.TB, be backend) (*sqlstore.Store, *sqlstore.Store) {
	tb.Helper()
	prefix, open := be.newDB(tb)
	return storeOn(tb, open(tb), prefix), storeOn(tb, open(tb), prefix)
}

// storeOn returns a migrated store on db, closed at cleanup.
func storeOn(tb testing.TB, db *sql.DB, prefix string, opts ...sqlstore.Option) *sqlstore.Store {
	tb.Helper()
	opts = append([]sqlstore.Option{sqlstore.WithTablePrefix(prefix)}, opts...)
	s, err := sqlstore.New(db, opts...)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = s.Close() })
	require.NoError(tb, s.Migrate(context.Background()))
	return s
}

// withHost returns the URL u with its host:port replaced by addr.
func withHost(tb testing.TB, u, addr string) string {
	tb.Helper()
	p, err := url.Parse(u)
	require.NoError(tb, err)
	p.Host = addr
	q := p.Query()
	q.Set("connect_timeout", "2")
	p.RawQuery = q.Encode()
	return p.String()
}

// urlHost returns the host:port of a URL.
func urlHost(u string) (string, error) {
	p, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	return p.Host, nil
}

// forEach runs fn as a subtest per backend.
func forEach(t *testing.T, fn func(t *testing.T, be backend)) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			if be.name == postgresBackend.name {
				postgresURL(t) // skip (or fail) once, not in every subtest
			}
			fn(t, be)
		})
	}
}

// record returns a record, live for an hour, of the first token of a new
// session of user.
func record(user string) jwtpair.Record {
	rec := storetest.NewRecord()
	rec.UserID = user
	return rec
}

// newUser returns a user id of its own.
func newUser() string { return "u-" + storetest.NewID() }

// tokenOf, login and successor are storetest's, in short.
var (
	tokenOf   = storetest.TokenOf
	login     = storetest.LoginAs
	successor = storetest.NewSuccessor
)

// live returns the ids of user's live sessions, newest first.
func live(tb testing.TB, s *sqlstore.Store, user string) []string {
	tb.Helper()
	list, err := s.Sessions(tb.Context(), user)
	require.NoError(tb, err)
	ids := make([]string, len(list))
	for i, ss := range list {
		ids[i] = ss.ID
	}
	return ids
}

// drain reads s's feed from cursor until a read with wait returns nothing,
// and returns what it read and the cursor after it.
func drain(tb testing.TB, s *sqlstore.Store, cursor string) ([]jwtpair.Revocation, string) {
	tb.Helper()
	var all []jwtpair.Revocation
	for {
		revs, next, err := s.Revocations(tb.Context(), cursor, 0)
		require.NoError(tb, err)
		cursor = next
		if len(revs) == 0 {
			return all, cursor
		}
		all = append(all, revs...)
	}
}

// sessionIDs returns the session ids of revs, user-wide entries as "*".
func sessionIDs(revs []jwtpair.Revocation) []string {
	ids := make([]string, len(revs))
	for i, r := range revs {
		ids[i] = r.SessionID
		if r.SessionID == "" {
			ids[i] = "*"
		}
	}
	return ids
}

// age moves every stored expiry of a store's tables d into the past, and
// every stored time of its feed: to expiry and retention, the same as the
// database's clock moving d ahead, which a test cannot do.
func age(tb testing.TB, db *sql.DB, prefix string, d time.Duration) {
	tb.Helper()
	ns := strconv.FormatInt(int64(d), 10)
	for _, stmt := range []string{
		"UPDATE " + prefix + "tokens SET expires_at = expires_at - " + ns,
		"UPDATE " + prefix + "sessions SET expires_at = expires_at - " + ns,
		"UPDATE " + prefix + "revocations SET at = at - " + ns,
	} {
		_, err := db.ExecContext(tb.Context(), stmt)
		require.NoError(tb, err, stmt)
	}
}

// exec runs a statement of the test's own on db, with db's placeholders
// ($N, rewritten ?N on SQLite).
func exec(tb testing.TB, db *sql.DB, query string, args ...any) {
	tb.Helper()
	if isSQLite(db) {
		query = strings.ReplaceAll(query, "$", "?")
	}
	_, err := db.ExecContext(tb.Context(), query, args...)
	require.NoError(tb, err, query)
}

func isSQLite(db *sql.DB) bool { return strings.Contains(fmt.Sprintf("%T", db.Driver()), "sqlite") }

// count returns the number of rows of a table of the store.
func count(tb testing.TB, db *sql.DB, table string) int {
	tb.Helper()
	var n int
	require.NoError(tb, db.QueryRowContext(tb.Context(), "SELECT count(*) FROM "+table).Scan(&n))
	return n
}

// proxied returns two stores over the tables of one PostgreSQL prefix: one
// connected directly, the other through a proxy a test can stop, as an
// instance that loses the database while others keep it.
func proxied(t *testing.T) (p *storetest.Proxy, direct, through *sqlstore.Store, prefix string) {
	t.Helper()
	target := postgresURL(t)
	u, err := urlHost(target)
	require.NoError(t, err)
	p = storetest.StartProxy(t, u)
	prefix = postgresPrefix(t, target)
	direct = storeOn(t, openDB(t, "pgx", target), prefix)
	through = storeOn(t, openDB(t, "pgx", withHost(t, target, p.Addr())), prefix)
	return p, direct, through, prefix
}

// issueErr is the error of a Store.Issue whose evicted sessions a test
// does not look at.
func issueErr(_ []string, err error) error { return err }
