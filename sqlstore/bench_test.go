package sqlstore_test

import (
	"database/sql"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
	"github.com/jwtpair/jwtpair/storetest"
)

// BenchmarkRotate measures refresh-token rotation per backend
// (storetest.RotateBenchmark): one statement on PostgreSQL, one transaction
// on SQLite.
func BenchmarkRotate(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			if be.name == postgresBackend.name {
				postgresURL(b)
			}
			storetest.RotateBenchmark(b, newStore(b, be))
		})
	}
}

// BenchmarkSessionBytes reports the database space one session takes: b.N
// logins of distinct users, each with the default client metadata's size
// (a 101-byte user agent and an IPv4 address) and the default cap, then
// rotations=1 of each; bytes/session is the growth of the store's tables
// with their indexes (PostgreSQL: pg_total_relation_size; SQLite: pages
// in use) over b.N. Run it with a fixed count:
//
//	go test -run '^$' -bench SessionBytes -benchtime 20000x
func BenchmarkSessionBytes(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			if be.name == postgresBackend.name {
				postgresURL(b)
			}
			prefix, open := be.newDB(b)
			db := open(b)
			s := storeOn(b, db, prefix)
			ctx := b.Context()
			client := map[string]string{
				"user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
				"ip":         "203.0.113.42",
			}
			before := dbBytes(b, db, prefix)
			b.ResetTimer()
			for range b.N {
				rec := record(newUser())
				require.NoError(b, issueErr(s.Issue(ctx, rec, jwtpair.IssueOptions{Client: client, MaxSessions: 50})))
				require.NoError(b, s.Rotate(ctx, tokenOf(rec), successor(), jwtpair.RotateOptions{}))
			}
			b.StopTimer()
			b.ReportMetric(float64(dbBytes(b, db, prefix)-before)/float64(b.N), "bytes/session")
		})
	}
}

// dbBytes returns the space the store's tables and indexes take.
func dbBytes(tb testing.TB, db *sql.DB, prefix string) int64 {
	tb.Helper()
	ctx := tb.Context()
	var n int64
	if isSQLite(db) {
		_, err := db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
		require.NoError(tb, err)
		var pages, free, size int64
		require.NoError(tb, db.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages))
		require.NoError(tb, db.QueryRowContext(ctx, "PRAGMA freelist_count").Scan(&free))
		require.NoError(tb, db.QueryRowContext(ctx, "PRAGMA page_size").Scan(&size))
		return (pages - free) * size
	}
	tables := []string{prefix + "sessions", prefix + "tokens", prefix + "revocations"}
	require.NoError(tb, db.QueryRowContext(ctx,
		"SELECT sum(pg_total_relation_size(t::regclass))::bigint FROM unnest($1::text[]) t",
		"{"+strings.Join(tables, ",")+"}").Scan(&n))
	return n
}
