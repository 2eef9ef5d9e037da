package sqlstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/jwtpair/jwtpair"
	"github.com/jwtpair/jwtpair/sqlstore"
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
	u := os.Getenv("JWTPAIR_POSTGRES_URL")
	if u == "" {
		const msg = "set JWTPAIR_POSTGRES_URL=postgres://user@127.0.0.1:5432/db?sslmode=disable to run the PostgreSQL store tests"
		if os.Getenv("JWTPAIR_REQUIRE_BACKENDS") == "1" {
			tb.Fatal(msg + " (JWTPAIR_REQUIRE_BACKENDS=1 forbids skipping)")
		}
		tb.Skip(msg)
	}
	return u
}

var postgresBackend = backend{
	name: "postgres",
	newDB: func(t testing.TB) (string, func(testing.TB) *sql.DB) {
		dsn := postgresURL(t)
		prefix := "t" + newID()[:10] + "_"
		t.Cleanup(func() {
			db, err := sql.Open("pgx", dsn)
			if err != nil {
				return
			}
			defer db.Close()
			ctx := context.Background()
			_, _ = db.ExecContext(ctx, "DROP TABLE IF EXISTS "+prefix+"tokens, "+prefix+"families")
		})
		return prefix, func(t testing.TB) *sql.DB { return openDB(t, "pgx", dsn) }
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

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// record returns a live record for a new user and family.
func record() jwtpair.Record {
	return jwtpair.Record{
		JTI:       newID(),
		UserID:    "user-" + newID(),
		FamilyID:  "family-" + newID(),
		ExpiresAt: time.Now().Add(time.Hour),
	}
}

// next returns a successor record for Rotate.
func next() jwtpair.Record {
	return jwtpair.Record{JTI: newID(), ExpiresAt: time.Now().Add(time.Hour)}
}

// closedAddr returns a 127.0.0.1 address nothing listens on.
func closedAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	addr := ln.Addr().String()
	require.NoError(tb, ln.Close())
	return addr
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
