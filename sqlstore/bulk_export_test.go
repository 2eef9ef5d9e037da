package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/jwtpair/jwtpair"
)

// BulkIssue records every rec as s.Issue(ctx, rec, opts) does (the same
// rows: the session, created and refreshed now on the database's clock,
// and its first token, active), in bulk: COPY on PostgreSQL (pgx), multi-row
// INSERTs in one transaction on SQLite. It is the loader of the scale
// benchmark (scale_test.go) and checks nothing Issue checks: every rec must
// start a new session of a user with no other (opts.MaxSessions is not
// applied), with a jti and a session id never recorded (a duplicate fails
// the whole batch).
func (s *Store) BulkIssue(ctx context.Context, recs []jwtpair.Record, opts jwtpair.IssueOptions) error {
	client, err := encodeClient(opts.Client)
	if err != nil {
		return err
	}
	var absolute any
	if !opts.AbsoluteExpiry.IsZero() {
		absolute = nanos(opts.AbsoluteExpiry)
	}
	now := nowPG
	if s.dialect == DialectSQLite {
		now = nowSQLite
	}
	var at int64
	if err := s.db.QueryRowContext(ctx, "SELECT "+now).Scan(&at); err != nil {
		return err
	}
	sessions := func(i int) []any {
		r := recs[i]
		return []any{r.SessionID, r.UserID, at, at, nanos(r.ExpiresAt), absolute, client}
	}
	tokens := func(i int) []any {
		r := recs[i]
		return []any{r.JTI, r.SessionID, "active", nanos(r.ExpiresAt)}
	}
	sessionCols := []string{"session_id", "user_id", "created_at", "refreshed_at", "expires_at", "absolute_expiry", "client"}
	tokenCols := []string{"jti", "session_id", "state", "expires_at"}
	if s.dialect == DialectPostgres {
		conn, err := s.db.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		return conn.Raw(func(dc any) error {
			c, ok := dc.(*stdlib.Conn)
			if !ok {
				return fmt.Errorf("bulk issue: a pgx connection is needed for COPY, not %T", dc)
			}
			return pgx.BeginFunc(ctx, c.Conn(), func(tx pgx.Tx) error {
				for _, t := range []struct {
					table string
					cols  []string
					row   func(int) []any
				}{{"sessions", sessionCols, sessions}, {"tokens", tokenCols, tokens}} {
					i := -1
					_, err := tx.CopyFrom(ctx, pgx.Identifier{s.prefix + t.table}, t.cols, pgx.CopyFromFunc(func() ([]any, error) {
						if i++; i == len(recs) {
							return nil, nil
						}
						return t.row(i), nil
					}))
					if err != nil {
						return err
					}
				}
				return nil
			})
		})
	}
	// Each table is written in the order of its primary key, and with a
	// page cache large enough for the indexes, which random ids otherwise
	// make SQLite read back from the file page by page (the connection's
	// own cache size is restored before it returns to the pool).
	byID := func(id func(jwtpair.Record) string) func(int) int {
		order := make([]int, len(recs))
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(a, b int) int { return strings.Compare(id(recs[a]), id(recs[b])) })
		return func(i int) int { return order[i] }
	}
	sesOrder := byID(func(r jwtpair.Record) string { return r.SessionID })
	tokOrder := byID(func(r jwtpair.Record) string { return r.JTI })
	return s.retryWrite(ctx, func(q querier) error {
		return inTx(ctx, q, func(tx *sql.Tx) error {
			var cache int64
			if err := tx.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&cache); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "PRAGMA cache_size = -262144"); err != nil { // 256 MiB
				return err
			}
			defer tx.ExecContext(context.WithoutCancel(ctx), "PRAGMA cache_size = "+strconv.FormatInt(cache, 10))
			if err := insertRows(ctx, tx, s.prefix+"sessions", sessionCols, len(recs), func(i int) []any { return sessions(sesOrder(i)) }); err != nil {
				return err
			}
			return insertRows(ctx, tx, s.prefix+"tokens", tokenCols, len(recs), func(i int) []any { return tokens(tokOrder(i)) })
		})
	})
}

// insertRows inserts n rows, row(0) to row(n-1), into table in INSERTs of
// up to 100 rows each (modernc.org/sqlite binds a long list of parameters
// slowly).
func insertRows(ctx context.Context, tx *sql.Tx, table string, cols []string, n int, row func(int) []any) error {
	const per = 100
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",") + ")"
	args := make([]any, 0, per*len(cols))
	for lo := 0; lo < n; lo += per {
		hi := min(lo+per, n)
		args = args[:0]
		for i := lo; i < hi; i++ {
			args = append(args, row(i)...)
		}
		q := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES " +
			strings.TrimSuffix(strings.Repeat(one+",", hi-lo), ",")
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
	}
	return nil
}
