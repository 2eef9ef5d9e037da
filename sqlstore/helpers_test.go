package sqlstore_test

import (
	"context"
	"database/sql"
	"net/url"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

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
