package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jwtpair/jwtpair"
)

// Issue implements [jwtpair.Store.Issue]. It refuses, wrapping
// [jwtpair.ErrStoreUnavailable], a session id or a jti held by a live
// record, and records nothing then; an expired record's id may be taken
// again before it is purged.
//
// With no cap (opts.MaxSessions 0) it is one statement on PostgreSQL. With
// a cap it is a transaction of two: the first takes a transaction-scoped
// advisory lock keyed by the user (and the table prefix); the second, which
// PostgreSQL gives a snapshot only once it runs, after the lock is granted,
// records the session and its token and ends the user's oldest live
// sessions beyond the cap. Every Issue of one user queues on that lock, and
// the lock is released only once the holder's transaction is committed and
// visible, so each sees the sessions of all the Issues before it: the count
// it caps is never stale. Nothing else makes a session live, so however many
// logins run at once, on however many connections or processes, no more
// than the cap are live after any of them commits. On SQLite it is one
// transaction whose first statement is a write: SQLite runs one such
// transaction at a time.
//
// The cap forgets the sessions it ends, as [jwtpair.Store.Issue] allows:
// their rows and their tokens' go (their tokens are then unknown,
// ErrTokenNotFound), so a user's rows stay bounded by the cap however fast
// they log in; each gets its revocation in the feed in the same statement
// (PostgreSQL) or transaction (SQLite), which also returns their ids.
func (s *Store) Issue(ctx context.Context, first jwtpair.Record, opts jwtpair.IssueOptions) ([]string, error) {
	client, err := encodeClient(opts.Client)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: issue: %w: %w", jwtpair.ErrStoreUnavailable, err)
	}
	var absolute any
	if !opts.AbsoluteExpiry.IsZero() {
		absolute = nanos(opts.AbsoluteExpiry)
	}
	args := []any{first.JTI, first.SessionID, first.UserID, nanos(first.ExpiresAt), absolute, client}
	var recorded, jtiTaken bool
	var evicted []string
	err = s.retryWrite(ctx, func(q querier) error {
		evicted = nil
		if s.dialect == DialectPostgres {
			if opts.MaxSessions <= 0 {
				return q.QueryRowContext(ctx, s.q.issue, args...).Scan(new(bool), &recorded, &jtiTaken)
			}
			return inTx(ctx, q, func(tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, s.q.lockUser, s.userLockKey(first.UserID)); err != nil {
					return err
				}
				var ses bool
				var ids sql.NullString
				err := tx.QueryRowContext(ctx, s.q.issueCap, append(args, opts.MaxSessions-1)...).Scan(&ses, &recorded, &jtiTaken, &ids)
				switch {
				case err == nil && ses && !recorded:
					return errRollback // the jti was taken meanwhile: drop the session
				case err == nil && ids.Valid:
					return json.Unmarshal([]byte(ids.String), &evicted)
				}
				return err
			})
		}
		return inTx(ctx, q, func(tx *sql.Tx) error {
			recorded, jtiTaken = false, false
			n, err := affected(tx.ExecContext(ctx, s.q.insertSession, args...))
			if err != nil || n == 0 {
				return err // a live session holds the id: nothing was written
			}
			if n, err = affected(tx.ExecContext(ctx, s.q.insertToken, args...)); err != nil {
				return err
			}
			if n == 0 {
				jtiTaken = true
				return errRollback
			}
			if opts.MaxSessions > 0 {
				if evicted, err = s.evict(ctx, tx, first.UserID, first.SessionID, opts.MaxSessions-1); err != nil {
					return err
				}
			}
			recorded = true
			return nil
		})
	})
	switch {
	case err != nil && !errors.Is(err, errRollback):
		return nil, s.fail("issue", err)
	case recorded:
		return evicted, nil
	case jtiTaken:
		return nil, fmt.Errorf("sqlstore: issue: %w: jti already recorded", jwtpair.ErrStoreUnavailable)
	}
	return nil, fmt.Errorf("sqlstore: issue: %w: session id already recorded", jwtpair.ErrStoreUnavailable)
}

// evict runs SQLite's eviction (queries.evict) in tx: the revocations, the
// tokens, then the sessions, whose ids it returns.
func (s *Store) evict(ctx context.Context, tx *sql.Tx, userID, newest string, keep int) ([]string, error) {
	for _, q := range s.q.evict[:2] {
		if _, err := tx.ExecContext(ctx, q, userID, newest, keep); err != nil {
			return nil, err
		}
	}
	rows, err := tx.QueryContext(ctx, s.q.evict[2], userID, newest, keep)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var evicted []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		evicted = append(evicted, id)
	}
	return evicted, rows.Err()
}

// userLockKey is the advisory-lock key of a user's Issues on PostgreSQL:
// 64 bits of a hash of the table prefix and the user id. Two users whose
// keys collide only queue behind each other.
func (s *Store) userLockKey(userID string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("jwtpair/sqlstore/user:" + s.prefix + "\x00" + userID))
	return int64(h.Sum64())
}

// encodeClient returns the stored form of a session's client metadata: a
// JSON object, or nil (NULL) for none.
func encodeClient(m map[string]string) (any, error) {
	if len(m) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// EndSession implements [jwtpair.Store.EndSession]: it sets the session's
// ended_at, and the schema's trigger records the revocation, in one
// statement. An unknown session, an ended one and another user's change
// nothing.
func (s *Store) EndSession(ctx context.Context, userID, sessionID string) error {
	return s.execRetry(ctx, "end session", s.q.endSession, userID, sessionID)
}

// EndSessions implements [jwtpair.Store.EndSessions]: it ends every session
// of the user not ended yet but keep, each with its revocation, and, when
// keep is "", records the user-wide revocation, in one statement on
// PostgreSQL and one transaction on SQLite.
func (s *Store) EndSessions(ctx context.Context, userID, keep string) error {
	if s.dialect == DialectPostgres {
		return s.execRetry(ctx, "end sessions", s.q.endSessions, userID, keep)
	}
	err := s.retryWrite(ctx, func(q querier) error {
		return inTx(ctx, q, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, s.q.endSessions, userID, keep); err != nil {
				return err
			}
			if keep != "" {
				return nil
			}
			_, err := tx.ExecContext(ctx, s.q.endUser, userID)
			return err
		})
	})
	if err != nil {
		return s.fail("end sessions", err)
	}
	return nil
}

// Sessions implements [jwtpair.Store.Sessions]: one query, through the index
// on (user_id, created_at).
func (s *Store) Sessions(ctx context.Context, userID string) ([]jwtpair.Session, error) {
	var out []jwtpair.Session
	err := s.retry(ctx, func(q querier) error {
		out = out[:0]
		rows, err := q.QueryContext(ctx, s.q.sessions, userID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				ss                          jwtpair.Session
				created, refreshed, expires int64
				absolute                    sql.NullInt64
				client                      sql.NullString
			)
			if err := rows.Scan(&ss.ID, &created, &refreshed, &expires, &absolute, &client); err != nil {
				return err
			}
			ss.UserID = userID
			ss.Created, ss.LastRefreshed, ss.ExpiresAt = time.Unix(0, created), time.Unix(0, refreshed), time.Unix(0, expires)
			if absolute.Valid {
				ss.AbsoluteExpiry = time.Unix(0, absolute.Int64)
			}
			if client.Valid {
				if err := json.Unmarshal([]byte(client.String), &ss.Client); err != nil {
					return fmt.Errorf("session %s: client metadata: %w", ss.ID, err)
				}
			}
			out = append(out, ss)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, s.fail("sessions", err)
	}
	return out, nil
}

// execRetry runs one statement of op, again while it fails with a transient
// conflict (see retry), and wraps its failure (see fail).
func (s *Store) execRetry(ctx context.Context, op, query string, args ...any) error {
	err := s.retryWrite(ctx, func(q querier) error {
		_, err := q.ExecContext(ctx, query, args...)
		return err
	})
	if err != nil {
		return s.fail(op, err)
	}
	return nil
}
