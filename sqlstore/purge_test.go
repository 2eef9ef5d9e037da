package sqlstore_test

import (
	"database/sql"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
	"github.com/jwtpair/jwtpair/sqlstore"
)

// TestPurgeStaleStatistics is the regression test of a purge that went
// quadratic on PostgreSQL (issue 16 §3): when the planner's statistics said
// few rows had expired (ANALYZE ran before the backlog built up, as it does
// between autovacuum's runs), each batch of the tokens' and the sessions'
// purges joined its 1,000 ids to the expired rows by a nested loop,
// rescanning the batch for every expired row: 50,000 expired sessions took
// about a minute to purge. Each purge statement, run under EXPLAIN ANALYZE
// on such a backlog, must now look at no more than a few rows per row it
// deletes; and PurgeExpired deletes the backlog, only it.
func TestPurgeStaleStatistics(t *testing.T) {
	s, db, prefix := newStoreDB(t, postgresBackend)
	ctx := t.Context()
	for _, table := range []string{"tokens", "sessions"} {
		exec(t, db, "ALTER TABLE "+prefix+table+" SET (autovacuum_enabled = false)")
	}
	const n, batch = 20_000, 1000
	load := func(exp time.Time) {
		recs := make([]jwtpair.Record, n)
		for i := range recs {
			recs[i] = record(newUser())
			recs[i].ExpiresAt = exp
		}
		require.NoError(t, s.BulkIssue(ctx, recs, jwtpair.IssueOptions{}))
	}
	load(time.Now().Add(time.Hour))
	exec(t, db, "ANALYZE "+prefix+"tokens, "+prefix+"sessions") // no expired row yet
	load(time.Now().Add(-time.Minute))

	for _, q := range sqlstore.PurgeStatements(s)[:2] {
		examined := explainAnalyze(t, db, q, batch)
		require.LessOrEqual(t, examined, 5.0*batch, "rows examined by one batch of\n%s", q)
	}
	deleted, err := s.PurgeExpired(ctx)
	require.NoError(t, err)
	require.EqualValues(t, n, deleted)
	require.Equal(t, n, count(t, db, prefix+"tokens"))
	require.Equal(t, n, count(t, db, prefix+"sessions"))
}

// explainAnalyze runs query under EXPLAIN ANALYZE in a transaction it
// rolls back, and returns the rows its plan's nodes produced or filtered
// out, over all their loops: the work it did.
func explainAnalyze(tb testing.TB, db *sql.DB, query string, args ...any) float64 {
	tb.Helper()
	tx, err := db.BeginTx(tb.Context(), nil)
	require.NoError(tb, err)
	defer func() { _ = tx.Rollback() }()
	var out string
	require.NoError(tb, tx.QueryRowContext(tb.Context(), "EXPLAIN (ANALYZE, FORMAT JSON) "+query, args...).Scan(&out))
	var plans []struct{ Plan planNode }
	require.NoError(tb, json.Unmarshal([]byte(out), &plans))
	require.Len(tb, plans, 1)
	return plans[0].Plan.examined()
}

// planNode is a node of EXPLAIN (ANALYZE, FORMAT JSON), whose counts are
// per loop.
type planNode struct {
	Rows          float64    `json:"Actual Rows"`
	Loops         float64    `json:"Actual Loops"`
	Filtered      float64    `json:"Rows Removed by Filter"`
	JoinFiltered  float64    `json:"Rows Removed by Join Filter"`
	IndexRechecks float64    `json:"Rows Removed by Index Recheck"`
	Plans         []planNode `json:"Plans"`
}

func (p planNode) examined() float64 {
	n := p.Loops * (p.Rows + p.Filtered + p.JoinFiltered + p.IndexRechecks)
	for _, c := range p.Plans {
		n += c.examined()
	}
	return n
}

// TestPurgeKeepsRowExtendedMeanwhile proves, on PostgreSQL, that a purge
// keeps a row changed while it waited for it: a session picked as expired
// but extended by a transaction that held its row lock and then committed
// is kept, for the sessions' purge and the tokens'. Two things keep it:
// the changed row's new ctid misses the batch, and the statement re-checks
// the expiry (kept for a plan that would not pick the batch by ctid). On
// PostgreSQL 15 the first is enough: the test passes with the re-check
// removed, so it guards the behaviour, not the re-check.
func TestPurgeKeepsRowExtendedMeanwhile(t *testing.T) {
	for i, table := range []string{"tokens", "sessions"} {
		t.Run(table, func(t *testing.T) {
			s, db, prefix := newStoreDB(t, postgresBackend)
			ctx := t.Context()
			rec := record(newUser())
			rec.ExpiresAt = time.Now().Add(-time.Minute)
			require.NoError(t, s.BulkIssue(ctx, []jwtpair.Record{rec}, jwtpair.IssueOptions{}))
			key, id := "jti", rec.JTI
			if table == "sessions" {
				key, id = "session_id", rec.SessionID
			}
			tx, err := db.BeginTx(ctx, nil)
			require.NoError(t, err)
			defer func() { _ = tx.Rollback() }()
			_, err = tx.ExecContext(ctx, "UPDATE "+prefix+table+" SET expires_at = $1 WHERE "+key+" = $2",
				time.Now().Add(time.Hour).UnixNano(), id)
			require.NoError(t, err)

			purged := make(chan int64, 1)
			go func() {
				n, err := execCount(db, sqlstore.PurgeStatements(s)[i], 1000)
				if err != nil {
					t.Error(err)
				}
				purged <- n
			}()
			require.Eventually(t, func() bool { // the purge waits for the row's lock
				var waiting bool
				err := db.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'DELETE FROM "+prefix+table+"%')").Scan(&waiting)
				return err == nil && waiting
			}, 10*time.Second, 10*time.Millisecond)
			require.NoError(t, tx.Commit())
			require.Zero(t, <-purged, "the extended row is kept")
			require.Equal(t, 1, count(t, db, prefix+table))
		})
	}
}

// execCount runs a statement and returns the rows it changed.
func execCount(db *sql.DB, query string, args ...any) (int64, error) {
	res, err := db.Exec(query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
