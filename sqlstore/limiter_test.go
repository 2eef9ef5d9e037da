package sqlstore_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
	"github.com/jwtpair/jwtpair/sqlstore"
	"github.com/jwtpair/jwtpair/storetest"
)

// limiterOn returns a migrated limiter on db with a table prefix, closed at
// cleanup; on PostgreSQL its table is dropped at cleanup.
func limiterOn(tb testing.TB, db *sql.DB, prefix string, opts ...sqlstore.LimiterOption) *sqlstore.Limiter {
	tb.Helper()
	l, err := sqlstore.NewLimiter(db, append([]sqlstore.LimiterOption{sqlstore.WithLimiterTablePrefix(prefix)}, opts...)...)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = l.Close() })
	require.NoError(tb, l.Migrate(context.Background()))
	if l.Dialect() == sqlstore.DialectPostgres {
		tb.Cleanup(func() { _, _ = db.ExecContext(context.Background(), "DROP TABLE IF EXISTS "+prefix+"limits") })
	}
	return l
}

// TestLimiterConformance: every open is a new connection pool (a new
// process) over the same table.
func TestLimiterConformance(t *testing.T) {
	forEach(t, func(t *testing.T, be backend) {
		prefix, open := be.newDB(t)
		limiterOn(t, open(t), prefix) // migrate once
		storetest.RunLimiter(t, func(t *testing.T) jwtpair.Limiter {
			l, err := sqlstore.NewLimiter(open(t), sqlstore.WithLimiterTablePrefix(prefix))
			require.NoError(t, err)
			return l
		})
	})
}

// TestLimiterOneStatementPostgres: Allow, allowed or refused, and Reset
// are one statement each, with no transaction around them.
func TestLimiterOneStatementPostgres(t *testing.T) {
	dsn := postgresURL(t)
	cfg, err := pgx.ParseConfig(dsn)
	require.NoError(t, err)
	counter := &queryCounter{}
	cfg.Tracer = counter
	db := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { _ = db.Close() })
	l := limiterOn(t, db, postgresPrefix(t, dsn))
	storetest.RequireLimiterRoundTrips(t, l, counter.n.Load, 1)
}

// TestLimiterPurge: PurgeExpired deletes the rows of keys at rest and
// keeps the others, counting on; the janitor runs it until Close.
func TestLimiterPurge(t *testing.T) {
	forEach(t, func(t *testing.T, be backend) {
		prefix, open := be.newDB(t)
		db := open(t)
		l := limiterOn(t, db, prefix)
		ctx := t.Context()
		limit := jwtpair.Limit{Rate: 1, Period: time.Hour, Burst: 1}
		for _, k := range []string{"a", "b", "c"} {
			ok, _, err := l.Allow(ctx, k, limit)
			require.NoError(t, err)
			require.True(t, ok)
		}
		// Put a and b at rest: their time in 1970.
		_, err := db.ExecContext(ctx, "UPDATE "+prefix+"limits SET tat = 0 WHERE name IN ('a', 'b')")
		require.NoError(t, err)
		n, err := l.PurgeExpired(ctx)
		require.NoError(t, err)
		assert.Equal(t, int64(2), n)
		var rows int
		require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM "+prefix+"limits").Scan(&rows))
		assert.Equal(t, 1, rows)
		ok, _, err := l.Allow(ctx, "c", limit)
		require.NoError(t, err)
		assert.False(t, ok, "c is still counted")
		ok, _, err = l.Allow(ctx, "a", limit)
		require.NoError(t, err)
		assert.True(t, ok, "a was at rest")

		j := limiterOn(t, db, prefix, sqlstore.WithLimiterJanitor(10*time.Millisecond))
		_, err = db.ExecContext(ctx, "UPDATE "+prefix+"limits SET tat = 0")
		require.NoError(t, err)
		assert.Eventually(t, func() bool {
			var rows int
			return db.QueryRowContext(ctx, "SELECT count(*) FROM "+prefix+"limits").Scan(&rows) == nil && rows == 0
		}, 5*time.Second, 10*time.Millisecond, "the janitor purges")
		require.NoError(t, j.Close())
		require.NoError(t, j.Close())
	})
}

// TestNewLimiter: options and their errors, and the schema.
func TestNewLimiter(t *testing.T) {
	lite, err := sql.Open("sqlite", ":memory:")
	require.NoError(t, err)
	t.Cleanup(func() { _ = lite.Close() })
	_, err = sqlstore.NewLimiter(nil)
	assert.ErrorContains(t, err, "nil *sql.DB")
	for _, opt := range []sqlstore.LimiterOption{
		sqlstore.WithLimiterTablePrefix("1bad"),
		sqlstore.WithLimiterTablePrefix("bad-prefix"),
		sqlstore.WithLimiterJanitor(0),
		sqlstore.WithLimiterDialect(sqlstore.Dialect(7)),
	} {
		_, err := sqlstore.NewLimiter(lite, opt)
		assert.Error(t, err)
	}
	l, err := sqlstore.NewLimiter(lite, sqlstore.WithLimiterLogger(nil))
	require.NoError(t, err)
	assert.Equal(t, sqlstore.DialectSQLite, l.Dialect())
	for _, d := range []sqlstore.Dialect{sqlstore.DialectPostgres, sqlstore.DialectSQLite} {
		l, err := sqlstore.NewLimiter(lite, sqlstore.WithLimiterDialect(d), sqlstore.WithLimiterTablePrefix("auth_"))
		require.NoError(t, err)
		assert.Contains(t, l.Schema(), "CREATE TABLE IF NOT EXISTS auth_limits", d)
		assert.NotContains(t, l.Schema(), "jwtpair_", d)
	}
}

// TestLimiterOutage: a database that cannot be reached, or is closed,
// fails Allow and Reset with ErrStoreUnavailable.
func TestLimiterOutage(t *testing.T) {
	dsn := withHost(t, "postgres://postgres@127.0.0.1:5432/jwtpair?sslmode=disable", storetest.ClosedAddr(t))
	pg, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = pg.Close() })
	prefix, open := sqliteBackend.newDB(t)
	lite := open(t)
	closed := limiterOn(t, lite, prefix)
	require.NoError(t, lite.Close())
	down, err := sqlstore.NewLimiter(pg)
	require.NoError(t, err)
	for name, l := range map[string]*sqlstore.Limiter{"postgres down": down, "sqlite closed": closed} {
		ok, _, err := l.Allow(t.Context(), "k", jwtpair.Limit{Rate: 1, Period: time.Second, Burst: 1})
		storetest.RequireUnavailable(t, err, name+": Allow")
		assert.False(t, ok)
		storetest.RequireUnavailable(t, l.Reset(t.Context(), "k"), name+": Reset")
		_, err = l.PurgeExpired(t.Context())
		storetest.RequireUnavailable(t, err, name+": PurgeExpired")
	}
	assert.True(t, strings.HasPrefix(down.Schema(), "--"))
	assert.Error(t, down.Migrate(t.Context()))
}

// BenchmarkThrottledRefusal measures a refused attempt per backend: one
// statement (storetest.LimiterBenchmark).
func BenchmarkThrottledRefusal(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			prefix, open := be.newDB(b)
			storetest.LimiterBenchmark(b, limiterOn(b, open(b), prefix))
		})
	}
}
