package sqlstore_test

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
	"github.com/jwtpair/jwtpair/internal/scalebench"
)

// limitRows is the size of the table the limit's single-row UPDATEs hit.
const limitRows = 100_000

// BenchmarkScale measures the store holding many live sessions, on
// PostgreSQL and SQLite, loaded by BulkIssue (COPY; multi-row INSERTs)
// (internal/scalebench documents the sub-benchmarks and the environment;
// bench/scale.sh runs it with 10k to 1M sessions). The pool holds a
// connection per client. Each rotation run on PostgreSQL also reports
// WAL-B/op, the WAL it wrote per rotation. The limit is a single-row
// UPDATE (one statement, one commit) of a table of 100,000 rows in the same
// database, through the same pool.
func BenchmarkScale(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			if be.name == postgresBackend.name {
				postgresURL(b)
			}
			prefix, open := be.newDB(b)
			db := open(b)
			db.SetMaxOpenConns(80) // more than the most clients, JWTPAIR_SCALE_CLIENTS's default 64
			db.SetMaxIdleConns(80)
			s := storeOn(b, db, prefix)
			limit := prefix + "scale_limit"
			b.Cleanup(func() { _, _ = db.ExecContext(context.Background(), "DROP TABLE IF EXISTS "+limit) })
			exec(b, db, "CREATE TABLE "+limit+" (id integer PRIMARY KEY, n bigint NOT NULL DEFAULT 0)")
			exec(b, db, "INSERT INTO "+limit+" (id) WITH RECURSIVE i(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM i WHERE v < $1) SELECT v FROM i", limitRows)
			update := "UPDATE " + limit + " SET n = n + 1 WHERE id = $1"
			if isSQLite(db) {
				update = strings.ReplaceAll(update, "$", "?")
			}
			sb := scalebench.Backend{
				Name:  be.name,
				Store: s,
				Load: func(ctx context.Context, recs []jwtpair.Record) error {
					return s.BulkIssue(ctx, recs, scalebench.IssueOptions())
				},
				Stats: func(ctx context.Context, _ []jwtpair.Record) (map[string]float64, error) {
					return sqlStats(ctx, db, prefix)
				},
				Purge: s.PurgeExpired,
				Limit: func(ctx context.Context) error {
					_, err := db.ExecContext(ctx, update, 1+rand.IntN(limitRows))
					return err
				},
			}
			if !isSQLite(db) {
				sb.Measure = walWritten(db)
			}
			scalebench.Run(b, sb)
		})
	}
}

// TestBulkIssueIsIssue proves the scale benchmark's loader records exactly
// what Issue records: the same rows and values (times aside), and that the
// session it loads lists, rotates and is purged as an issued one.
func TestBulkIssueIsIssue(t *testing.T) {
	forEach(t, func(t *testing.T, be backend) {
		s, db, prefix := newStoreDB(t, be)
		ctx := t.Context()
		opts := scalebench.IssueOptions()
		issued, bulk := record(newUser()), record(newUser())
		bulk.ExpiresAt = issued.ExpiresAt
		require.NoError(t, issueErr(s.Issue(ctx, issued, opts)))
		require.NoError(t, s.BulkIssue(ctx, []jwtpair.Record{bulk}, opts))

		// Every column of the session's row and of its token's, times of the
		// database's clock (created, refreshed) checked and then left out.
		row := func(rec jwtpair.Record) []any {
			var ses, tok []any
			var created, refreshed int64
			q := "SELECT session_id, user_id, created_at, refreshed_at, expires_at, absolute_expiry, client, ended_at FROM " + prefix + "sessions WHERE session_id = $1"
			ses = scanAll(t, db, q, 8, rec.SessionID)
			created, refreshed = ses[2].(int64), ses[3].(int64)
			require.Equal(t, created, refreshed)
			require.InDelta(t, float64(created), float64(dbNow(t, db)), 60e9)
			q = "SELECT jti, session_id, state, expires_at, consumed_at, replays FROM " + prefix + "tokens WHERE jti = $1"
			tok = scanAll(t, db, q, 6, rec.JTI)
			return slices.Concat([]any{ses[0] == rec.SessionID, ses[1] == rec.UserID}, ses[4:], []any{tok[0] == rec.JTI, tok[1] == rec.SessionID}, tok[2:])
		}
		require.Equal(t, row(issued), row(bulk))

		require.Equal(t, []string{bulk.SessionID}, live(t, s, bulk.UserID))
		list, err := s.Sessions(ctx, bulk.UserID)
		require.NoError(t, err)
		require.Equal(t, opts.Client, list[0].Client)
		require.NoError(t, s.Rotate(ctx, tokenOf(bulk), successor(), jwtpair.RotateOptions{}))
		require.ErrorIs(t, s.Rotate(ctx, tokenOf(bulk), successor(), jwtpair.RotateOptions{}), jwtpair.ErrTokenReused)

		// An expired one is purged, session and token.
		old := record(newUser())
		old.ExpiresAt = old.ExpiresAt.Add(-2 * scalebench.RefreshTTL)
		require.NoError(t, s.BulkIssue(ctx, []jwtpair.Record{old}, opts))
		n, err := s.PurgeExpired(ctx)
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		require.EqualValues(t, []any{int64(0)}, scanAll(t, db, "SELECT count(*) FROM "+prefix+"sessions WHERE session_id = $1", 1, old.SessionID))
	})
}

// scanAll returns the n columns of the one row query returns.
func scanAll(tb testing.TB, db *sql.DB, query string, n int, args ...any) []any {
	tb.Helper()
	if isSQLite(db) {
		query = strings.ReplaceAll(query, "$", "?")
	}
	vals := make([]any, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	require.NoError(tb, db.QueryRowContext(tb.Context(), query, args...).Scan(ptrs...), query)
	for i, v := range vals {
		if b, ok := v.([]byte); ok {
			vals[i] = string(b)
		}
	}
	return vals
}

// dbNow returns the database's clock in Unix nanoseconds.
func dbNow(tb testing.TB, db *sql.DB) int64 {
	tb.Helper()
	q := "SELECT (extract(epoch FROM now()) * 1e9)::bigint"
	if isSQLite(db) {
		q = "SELECT CAST((julianday('now') - 2440587.5) * 86400e9 AS INTEGER)"
	}
	var n int64
	require.NoError(tb, db.QueryRowContext(tb.Context(), q).Scan(&n))
	return n
}

// sqlStats reads the space the store's tables and indexes take
// (relation_bytes; SQLite: the pages in use), their rows, and the height
// of the tokens' primary-key B-tree (PostgreSQL: pageinspect's bt_metap,
// when the extension can be created; SQLite: dbstat); on SQLite also the
// connections' synchronous setting and page cache (PRAGMA cache_size).
func sqlStats(ctx context.Context, db *sql.DB, prefix string) (map[string]float64, error) {
	out := map[string]float64{}
	var rows int64
	for _, t := range []string{"sessions", "tokens"} {
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+prefix+t).Scan(&rows); err != nil {
			return nil, err
		}
		out[t] = float64(rows)
	}
	var size, depth int64
	if isSQLite(db) {
		if _, err := db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			return nil, err
		}
		var pages, free, page int64
		for q, dst := range map[string]*int64{"PRAGMA page_count": &pages, "PRAGMA freelist_count": &free, "PRAGMA page_size": &page} {
			if err := db.QueryRowContext(ctx, q).Scan(dst); err != nil {
				return nil, err
			}
		}
		out["relation_bytes"] = float64((pages - free) * page)
		// What every connection of the pool runs with.
		var sync, cache int64
		if err := db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
			return nil, err
		}
		if err := db.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&cache); err != nil {
			return nil, err
		}
		out["synchronous"], out["cache_size"] = float64(sync), float64(cache)
		// A path names a page by its ancestors ("/000/01a/"): its slashes
		// count the levels down to it.
		err := db.QueryRowContext(ctx, "SELECT max(length(path) - length(replace(path, '/', ''))) FROM dbstat WHERE name = ?", prefix+"tokens").Scan(&depth)
		if err != nil {
			return nil, err
		}
		out["tokens_pk_levels"] = float64(depth)
		return out, nil
	}
	err := db.QueryRowContext(ctx, "SELECT sum(pg_total_relation_size(t::regclass))::bigint FROM unnest($1::text[]) t",
		"{"+prefix+"sessions,"+prefix+"tokens,"+prefix+"revocations}").Scan(&size)
	if err != nil {
		return nil, err
	}
	out["relation_bytes"] = float64(size)
	if _, err := db.ExecContext(ctx, "CREATE EXTENSION IF NOT EXISTS pageinspect"); err == nil {
		// level is the root's, counted from the leaves (0).
		if err := db.QueryRowContext(ctx, "SELECT level + 1 FROM bt_metap($1)", prefix+"tokens_pkey").Scan(&depth); err != nil {
			return nil, err
		}
		out["tokens_pk_levels"] = float64(depth)
	}
	return out, nil
}

// walWritten is a Measure (scalebench.Backend) of the WAL PostgreSQL
// writes per operation (WAL-B/op): the distance between the WAL's insert
// positions before and after.
func walWritten(db *sql.DB) func(context.Context) (func(context.Context, int) (map[string]float64, error), error) {
	return func(ctx context.Context) (func(context.Context, int) (map[string]float64, error), error) {
		var start string
		if err := db.QueryRowContext(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&start); err != nil {
			return nil, err
		}
		return func(ctx context.Context, ops int) (map[string]float64, error) {
			var n float64
			err := db.QueryRowContext(ctx, "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::pg_lsn)", start).Scan(&n)
			return map[string]float64{"WAL-B/op": n / float64(ops)}, err
		}, nil
	}
}
