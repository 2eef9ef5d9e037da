package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jwtpair/jwtpair"
)

// Token states, as stored.
const (
	stateRevoked  = "revoked"
	stateConsumed = "consumed"
)

// Rotate implements [jwtpair.Store.Rotate].
//
// On PostgreSQL a successful rotation is one statement (one round trip): a
// conditional UPDATE … RETURNING consumes the token only while it is active
// and live, of the user and session named, and its session open (not ended,
// not past its absolute expiry); the same statement records the successor
// and marks the session refreshed (refreshed_at, expires_at). Concurrent
// rotations of one token queue on its row lock, and every one after the
// first finds it consumed. Only when that statement consumes nothing does a
// transaction lock the row (SELECT … FOR UPDATE) and tell replay, reuse
// (ending the session), an ended session and absence apart. On SQLite the
// same steps run in one transaction, which SQLite serializes. Expiry and
// the grace window are judged on the database's clock, and replays are
// counted on the consumed token's row.
//
// A successor jti held by a live record is refused, wrapping
// [jwtpair.ErrStoreUnavailable], and nothing changes.
func (s *Store) Rotate(ctx context.Context, presented jwtpair.Token, next jwtpair.Record, opts jwtpair.RotateOptions) error {
	r := rotation{
		presented: presented,
		next:      next.JTI,
		nextExp:   nanos(next.ExpiresAt),
		grace:     max(opts.Grace, 0),
		keep:      opts.KeepPresented,
	}
	var outcome error
	err := s.retryWrite(ctx, func(q querier) (err error) {
		outcome, err = s.rotate(ctx, q, &r)
		return err
	})
	if err != nil {
		return s.fail("rotate", err)
	}
	return outcome
}

// rotation is one Rotate call; nextExp is in Unix nanoseconds.
type rotation struct {
	presented jwtpair.Token
	next      string
	nextExp   int64
	grace     time.Duration
	keep      bool
}

// rotate runs one attempt of a rotation. It returns the outcome (nil or a
// token-state sentinel) and, separately, a database error.
func (s *Store) rotate(ctx context.Context, db querier, r *rotation) (outcome, err error) {
	p := r.presented
	if s.dialect == DialectPostgres {
		q := s.q.rotate
		if r.keep {
			q = s.q.rotateKeep
		}
		var n int
		err := db.QueryRowContext(ctx, q, p.JTI, r.next, r.nextExp, p.UserID, p.SessionID).Scan(&n)
		switch {
		case err == nil && n == 1:
			return nil, nil
		case err != nil && !isUniqueViolation(err):
			return nil, err
		}
		// Nothing consumed, or the successor's jti is taken (perhaps by an
		// expired record): the slow path finds out which, under a row lock.
		err = inTx(ctx, db, func(tx *sql.Tx) error {
			outcome, err = s.rotateLocked(ctx, tx, r)
			return err
		})
		return outcome, err
	}

	err = inTx(ctx, db, func(tx *sql.Tx) error {
		q := s.q.consume
		if r.keep {
			q = s.q.consumeKeep
		}
		// A write first, so that the transaction takes SQLite's write lock
		// at once (waiting on busy_timeout) instead of upgrading later.
		var session string
		err := tx.QueryRowContext(ctx, q, p.JTI, p.UserID, p.SessionID).Scan(&session)
		switch {
		case err == nil:
			outcome = nil
			return s.recordSuccessor(ctx, tx, r, session)
		case errors.Is(err, sql.ErrNoRows):
			outcome, err = s.rotateLocked(ctx, tx, r)
			return err
		}
		return err
	})
	return outcome, err
}

// rotateLocked reads the presented token under a row lock (PostgreSQL) or
// in a write transaction (SQLite) and acts on its state.
func (s *Store) rotateLocked(ctx context.Context, tx *sql.Tx, r *rotation) (outcome, err error) {
	p := r.presented
	var state, session string
	var live, inGrace, owned, closed bool
	var replays int
	err = tx.QueryRowContext(ctx, s.q.lockToken, p.JTI, int64(r.grace), p.UserID, p.SessionID).
		Scan(&state, &session, &live, &inGrace, &replays, &owned, &closed)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return jwtpair.ErrTokenNotFound, nil
	case err != nil:
		return nil, err
	}
	if refused := refusal(state, live, owned, closed); refused != nil {
		return refused, nil
	}
	switch {
	case state == stateConsumed:
		// A replay needs a window, a consumption within it (anchored at the
		// first consumption, on the database's clock) and replays to spare.
		if r.grace <= 0 || !inGrace || replays >= jwtpair.MaxGraceReplays {
			_, err := tx.ExecContext(ctx, s.q.endSessionOf, session)
			return jwtpair.ErrTokenReused, err
		}
		if _, err := tx.ExecContext(ctx, s.q.countReplay, p.JTI); err != nil {
			return nil, err
		}
	case !r.keep:
		if _, err := tx.ExecContext(ctx, s.q.markConsumed, p.JTI); err != nil {
			return nil, err
		}
	}
	return nil, s.recordSuccessor(ctx, tx, r, session)
}

// recordSuccessor inserts the successor in the presented token's session
// and marks the session refreshed.
func (s *Store) recordSuccessor(ctx context.Context, tx *sql.Tx, r *rotation, session string) error {
	if _, err := tx.ExecContext(ctx, s.q.dropExpiredToken, r.next); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, s.q.insertSuccessor, r.next, session, r.nextExp); err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("%w: successor jti already recorded: %w", jwtpair.ErrStoreUnavailable, err)
		}
		return err
	}
	_, err := tx.ExecContext(ctx, s.q.touchSession, session, r.nextExp)
	return err
}

// Check implements [jwtpair.Store.Check]. One query.
func (s *Store) Check(ctx context.Context, presented jwtpair.Token) error {
	var outcome error
	err := s.retry(ctx, func(q querier) (err error) {
		outcome, err = s.classify(ctx, q, presented)
		return err
	})
	if err != nil {
		return s.fail("check", err)
	}
	return outcome
}

// classify reads a token's state: nil when usable, else the sentinel.
func (s *Store) classify(ctx context.Context, q querier, p jwtpair.Token) (outcome, err error) {
	var state string
	var live, owned, closed bool
	err = q.QueryRowContext(ctx, s.q.check, p.JTI, p.UserID, p.SessionID).Scan(&state, &live, &owned, &closed)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return jwtpair.ErrTokenNotFound, nil
	case err != nil:
		return nil, err
	case state == stateConsumed && live && owned:
		return jwtpair.ErrTokenBlacklisted, nil
	}
	return refusal(state, live, owned, closed), nil
}

// refusal is what refuses any use of a recorded token: unknown when it
// expired or belongs to another user or session than the one named,
// blacklisted when its session is closed (ended, or past its absolute
// expiry) or a logout named it; nil otherwise.
func refusal(state string, live, owned, closed bool) error {
	switch {
	case !live || !owned:
		return jwtpair.ErrTokenNotFound
	case state == stateRevoked || closed:
		return jwtpair.ErrTokenBlacklisted
	}
	return nil
}

// Revoke implements [jwtpair.Store.Revoke]: it ends the token's session,
// with every rotation and grace sibling of it, and the schema's trigger
// records the revocation in the same statement. A logout with an active
// token is one conditional statement (on PostgreSQL also marking the token
// revoked). Only when that changes nothing does a second statement end the
// session of a consumed token, and, when that changes nothing either, a read
// tells "already ended" from "unknown".
//
// When a concurrent Rotate consumes the token first, the first statement
// misses (on PostgreSQL after waiting for the rotation's row lock), and the
// second finds the token consumed and ends the session, the rotation's
// successor included.
func (s *Store) Revoke(ctx context.Context, presented jwtpair.Token) error {
	p := presented
	var outcome error
	err := s.retryWrite(ctx, func(q querier) error {
		outcome = nil
		n, err := exec(ctx, q, s.q.revoke, p.JTI, p.UserID, p.SessionID)
		if err != nil || n == 1 {
			return err
		}
		// States only move from active towards consumed or revoked, and
		// sessions from open to ended, so whatever made the statement miss
		// is still there.
		if n, err = exec(ctx, q, s.q.revokeConsumed, p.JTI, p.UserID, p.SessionID); err != nil {
			return err
		}
		if n == 1 {
			outcome = jwtpair.ErrTokenBlacklisted
			return nil
		}
		outcome, err = s.classify(ctx, q, p)
		if err == nil && outcome == nil {
			// Active, yet the first statement missed: its session ended
			// in between (the end recorded its revocation).
			outcome = jwtpair.ErrTokenBlacklisted
		}
		return err
	})
	if err != nil {
		return s.fail("revoke", err)
	}
	return outcome
}
