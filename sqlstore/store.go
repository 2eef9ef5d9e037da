package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/jwtpair/jwtpair"
)

// Dialect is the SQL dialect of the database a [Store] runs on.
type Dialect int

// The supported dialects.
const (
	// DialectPostgres: PostgreSQL 12 or later, through any database/sql
	// driver (github.com/jackc/pgx/v5/stdlib, github.com/lib/pq).
	DialectPostgres Dialect = iota + 1
	// DialectSQLite: SQLite 3.35 or later (for RETURNING), through
	// modernc.org/sqlite, the supported driver: the store recognises busy
	// and constraint errors by its error type.
	DialectSQLite
)

// String returns "postgres" or "sqlite".
func (d Dialect) String() string {
	switch d {
	case DialectPostgres:
		return "postgres"
	case DialectSQLite:
		return "sqlite"
	}
	return fmt.Sprintf("Dialect(%d)", int(d))
}

// DefaultTablePrefix is the prefix of the store's table names unless
// [WithTablePrefix] sets another: tables jwtpair_tokens and jwtpair_families.
const DefaultTablePrefix = "jwtpair_"

// Store is a [jwtpair.Store] on a SQL database. Create it with [New], create
// its tables with [Store.Migrate] (or from [Store.Schema]); it is safe for
// concurrent use by many goroutines and many processes sharing the database.
type Store struct {
	db      *sql.DB
	dialect Dialect
	prefix  string
	logger  *slog.Logger
	janitor time.Duration
	q       *queries

	stop      context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once

	err error // the first invalid option, reported by New
}

var _ jwtpair.Store = (*Store)(nil)

// Option configures a [Store].
type Option func(*Store)

// WithDialect sets the SQL dialect. Default: detected from the driver of the
// *sql.DB (pgx, lib/pq → PostgreSQL; any driver package whose path contains
// "sqlite" → SQLite); New fails when it cannot tell.
func WithDialect(d Dialect) Option {
	return func(s *Store) {
		if d != DialectPostgres && d != DialectSQLite {
			s.setErr(fmt.Errorf("sqlstore: unknown dialect %v", d))
			return
		}
		s.dialect = d
	}
}

// WithTablePrefix sets the prefix of the store's table and index names.
// Default: [DefaultTablePrefix]. It must be a plain SQL identifier of at most
// 40 characters (letters, digits, underscores; not starting with a digit), or
// empty. On PostgreSQL the tables live in the connection's search_path
// schema.
func WithTablePrefix(prefix string) Option {
	return func(s *Store) {
		if !validPrefix.MatchString(prefix) {
			s.setErr(fmt.Errorf("sqlstore: invalid table prefix %q: want at most 40 letters, digits or underscores, not starting with a digit", prefix))
			return
		}
		s.prefix = prefix
	}
}

var validPrefix = regexp.MustCompile(`^(?:[A-Za-z_][A-Za-z0-9_]{0,39})?$`)

// WithJanitor starts a goroutine that purges expired records as
// [Store.PurgeExpired] does every interval until [Store.Close]. Default: no
// janitor; expired records are then never returned as usable but stay in the
// tables until PurgeExpired runs (from a cron job, say). The interval must be
// positive.
func WithJanitor(interval time.Duration) Option {
	return func(s *Store) {
		if interval <= 0 {
			s.setErr(fmt.Errorf("sqlstore: janitor interval %v is not positive", interval))
			return
		}
		s.janitor = interval
	}
}

// WithLogger sets where the janitor reports failed purges. Default:
// [slog.Default]. Nothing else is logged. A nil logger is ignored.
func WithLogger(l *slog.Logger) Option {
	return func(s *Store) {
		if l != nil {
			s.logger = l
		}
	}
}

func (s *Store) setErr(err error) {
	if s.err == nil {
		s.err = err
	}
}

// New returns a Store on db, which the caller owns: the store never closes
// it. New does no I/O; run [Store.Migrate] once to create the tables. It
// fails on a nil db, an invalid option, or a dialect it cannot detect.
//
// SQLite needs a busy timeout so that writers from several connections
// wait for each other instead of failing; see the package documentation
// for the DSN.
func New(db *sql.DB, opts ...Option) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqlstore: nil *sql.DB")
	}
	s := &Store{
		db:     db,
		prefix: DefaultTablePrefix,
		logger: slog.Default(),
	}
	for _, opt := range opts {
		opt(s)
	}
	if s.err != nil {
		return nil, s.err
	}
	if s.dialect == 0 {
		d, ok := detectDialect(db)
		if !ok {
			return nil, fmt.Errorf("sqlstore: cannot tell the dialect of driver %T; use WithDialect", db.Driver())
		}
		s.dialect = d
	}
	s.q = newQueries(s.dialect, s.prefix)
	if s.janitor > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		s.stop = cancel
		s.wg.Add(1)
		go s.runJanitor(ctx, s.janitor)
	}
	return s, nil
}

// detectDialect tells the dialect from the package of the driver.
func detectDialect(db *sql.DB) (Dialect, bool) {
	t := reflect.TypeOf(db.Driver())
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return 0, false
	}
	path := strings.ToLower(t.PkgPath())
	switch {
	case strings.Contains(path, "jackc/pgx"), strings.Contains(path, "lib/pq"):
		return DialectPostgres, true
	case strings.Contains(path, "sqlite"):
		return DialectSQLite, true
	}
	return 0, false
}

// Dialect returns the store's SQL dialect.
func (s *Store) Dialect() Dialect { return s.dialect }

// Close stops the janitor, if any, and waits for it to return. A purge
// statement the janitor has sent is left to finish (for at most 30 seconds)
// rather than cancelled, which would only abandon it on the client side
// while the database server ran it on; the purge ends there. So no purge of
// the janitor runs once Close has returned. Close does not close the
// *sql.DB. It may be called any number of times and always returns nil; the
// store's other methods keep working after it.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.stop != nil {
			s.stop()
		}
		s.wg.Wait()
	})
	return nil
}

// janitorStatementTimeout bounds one statement of the janitor's purges, so
// that Close does not wait forever on a database that does not answer.
const janitorStatementTimeout = 30 * time.Second

// runJanitor purges every interval until stop is done. Its statements do not
// run under stop, which would cancel them mid-flight at Close.
func (s *Store) runJanitor(stop context.Context, every time.Duration) {
	defer s.wg.Done()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-stop.Done():
			return
		case <-tick.C:
			if _, err := s.purge(context.Background(), janitorStatementTimeout, stop.Done()); err != nil {
				s.logger.Warn("sqlstore: purging expired refresh-token records failed", "err", err)
			}
		}
	}
}

// purgeBatch bounds the rows one DELETE of PurgeExpired removes, so that a
// large backlog never holds locks for long.
const purgeBatch = 1000

// PurgeExpired deletes the records of expired tokens, and the families whose
// every token has expired (with their revocations, which then cover nothing),
// in batches. It returns how many token records it deleted. Like simplejwt's
// flushexpiredtokens, run it from a cron job, or let [WithJanitor] run it.
func (s *Store) PurgeExpired(ctx context.Context) (int64, error) {
	return s.purge(ctx, 0, nil)
}

// purge runs the batches of PurgeExpired under ctx, each statement within
// timeout when it is positive. It stops between batches, with no error, once
// stop is closed.
func (s *Store) purge(ctx context.Context, timeout time.Duration, stop <-chan struct{}) (int64, error) {
	var total int64
	for _, q := range []string{s.q.purgeTokens, s.q.purgeFamilies} {
		for {
			select {
			case <-stop: // a nil stop never fires
				return total, nil
			default:
			}
			var n int64
			err := s.retry(ctx, func() (err error) {
				sctx := ctx
				if timeout > 0 {
					var cancel context.CancelFunc
					sctx, cancel = context.WithTimeout(ctx, timeout)
					defer cancel()
				}
				n, err = s.exec(sctx, q, purgeBatch)
				return err
			})
			if err != nil {
				return total, fmt.Errorf("sqlstore: purge expired: %w: %w", jwtpair.ErrStoreUnavailable, err)
			}
			if q == s.q.purgeTokens {
				total += n
			}
			if n < purgeBatch {
				break
			}
		}
	}
	return total, nil
}

// Token states, as stored.
const (
	stateActive   = "active"
	stateConsumed = "consumed"
	stateRevoked  = "revoked"
)

// Issue implements [jwtpair.Store.Issue]. It refuses, wrapping
// [jwtpair.ErrStoreUnavailable], a jti held by a live record and a FamilyID
// that names another user's family, and answers [jwtpair.ErrTokenBlacklisted]
// for a FamilyID that names a revoked family; it records nothing in those
// cases. One statement (one round trip) on PostgreSQL; one transaction on
// SQLite.
func (s *Store) Issue(ctx context.Context, rec jwtpair.Record) error {
	args := []any{rec.JTI, rec.FamilyID, rec.UserID, nanos(rec.ExpiresAt)}
	var famUser string
	var famRevoked, recorded bool
	err := s.retry(ctx, func() error {
		if s.dialect == DialectPostgres {
			err := s.db.QueryRowContext(ctx, s.q.issuePG, args...).Scan(&famUser, &famRevoked, &recorded)
			if errors.Is(err, sql.ErrNoRows) { // the jti is taken
				famUser, famRevoked, recorded = rec.UserID, false, false
				return nil
			}
			return err
		}
		return s.inTx(ctx, func(tx *sql.Tx) error {
			if err := tx.QueryRowContext(ctx, s.q.upsertFamily, args...).Scan(&famUser, &famRevoked); err != nil {
				return err
			}
			recorded = false
			if famUser != rec.UserID || famRevoked {
				return nil
			}
			res, err := tx.ExecContext(ctx, s.q.insertToken, args...)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if recorded = n == 1; !recorded {
				return errRollback // a new family row must not stay behind
			}
			return nil
		})
	})
	switch {
	case err != nil && !errors.Is(err, errRollback):
		return s.fail("issue", err)
	case famUser != rec.UserID:
		return fmt.Errorf("sqlstore: issue: %w: family belongs to another user", jwtpair.ErrStoreUnavailable)
	case famRevoked:
		return jwtpair.ErrTokenBlacklisted
	case !recorded:
		return fmt.Errorf("sqlstore: issue: %w: jti already recorded", jwtpair.ErrStoreUnavailable)
	}
	return nil
}

// errRollback makes inTx roll back without reporting a database failure.
var errRollback = errors.New("sqlstore: roll back")

// Rotate implements [jwtpair.Store.Rotate].
//
// On PostgreSQL a successful rotation is one statement (one round trip): a
// conditional UPDATE … RETURNING consumes the token only while it is active,
// live and its family unrevoked, and the same statement records the
// successor. Concurrent rotations of one token queue on its row lock, and
// every one after the first finds it consumed. Only when that statement
// consumes nothing does a transaction lock the row (SELECT … FOR UPDATE) and
// tell replay, reuse (revoking the family), revocation and absence apart.
// On SQLite the same steps run in one transaction, which SQLite serializes.
// Expiry and the grace window are judged on the database's clock, and
// replays are counted on the consumed token's row.
//
// A successor jti held by a live record is refused, wrapping
// [jwtpair.ErrStoreUnavailable], and nothing changes.
func (s *Store) Rotate(ctx context.Context, presentedJTI string, next jwtpair.Record, opts jwtpair.RotateOptions) error {
	r := rotation{
		presented: presentedJTI,
		next:      next.JTI,
		nextExp:   nanos(next.ExpiresAt),
		grace:     max(opts.Grace, 0),
		keep:      opts.KeepPresented,
	}
	var outcome error
	err := s.retry(ctx, func() (err error) {
		outcome, err = s.rotate(ctx, &r)
		return err
	})
	if err != nil {
		return s.fail("rotate", err)
	}
	return outcome
}

// rotation is one Rotate call; nextExp is in Unix nanoseconds.
type rotation struct {
	presented, next string
	nextExp         int64
	grace           time.Duration
	keep            bool
}

// rotate runs one attempt of a rotation. It returns the outcome (nil or a
// token-state sentinel) and, separately, a database error.
func (s *Store) rotate(ctx context.Context, r *rotation) (outcome, err error) {
	if s.dialect == DialectPostgres {
		q := s.q.rotatePG
		if r.keep {
			q = s.q.rotateKeepPG
		}
		var n int
		err := s.db.QueryRowContext(ctx, q, r.presented, r.next, r.nextExp).Scan(&n)
		switch {
		case err == nil && n == 1:
			return nil, nil
		case err != nil && !isUniqueViolation(err):
			return nil, err
		}
		// Nothing consumed, or the successor's jti is taken (perhaps by an
		// expired record): the slow path finds out which, under a row lock.
		err = s.inTx(ctx, func(tx *sql.Tx) error {
			outcome, err = s.rotateLocked(ctx, tx, r)
			return err
		})
		return outcome, err
	}

	err = s.inTx(ctx, func(tx *sql.Tx) error {
		q := s.q.consume
		if r.keep {
			q = s.q.consumeKeep
		}
		// A write first, so that the transaction takes SQLite's write lock
		// at once (waiting on busy_timeout) instead of upgrading later.
		var fam, user string
		err := tx.QueryRowContext(ctx, q, r.presented).Scan(&fam, &user)
		switch {
		case err == nil:
			outcome = nil
			return s.recordSuccessor(ctx, tx, r, fam, user)
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
	var state, fam, user string
	var exp int64
	var live, inGrace, famRevoked bool
	var replays int
	err = tx.QueryRowContext(ctx, s.q.lockToken, r.presented, int64(r.grace)).
		Scan(&state, &fam, &user, &exp, &live, &inGrace, &replays, &famRevoked)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return jwtpair.ErrTokenNotFound, nil
	case err != nil:
		return nil, err
	case !live:
		return jwtpair.ErrTokenNotFound, nil
	case state == stateRevoked || famRevoked:
		return jwtpair.ErrTokenBlacklisted, nil
	case state == stateConsumed:
		// A replay needs a window, a consumption within it (anchored at the
		// first consumption, on the database's clock) and replays to spare.
		if r.grace <= 0 || !inGrace || replays >= jwtpair.MaxGraceReplays {
			_, err := tx.ExecContext(ctx, s.q.revokeFamilyOf, fam, user, exp)
			return jwtpair.ErrTokenReused, err
		}
		if _, err := tx.ExecContext(ctx, s.q.countReplay, r.presented); err != nil {
			return nil, err
		}
	case !r.keep:
		if _, err := tx.ExecContext(ctx, s.q.markConsumed, r.presented); err != nil {
			return nil, err
		}
	}
	return nil, s.recordSuccessor(ctx, tx, r, fam, user)
}

// recordSuccessor inserts the successor in the presented token's family and
// moves the family's expiry to cover it.
func (s *Store) recordSuccessor(ctx context.Context, tx *sql.Tx, r *rotation, fam, user string) error {
	if _, err := tx.ExecContext(ctx, s.q.dropExpiredToken, r.next); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, s.q.insertSuccessor, r.next, fam, user, r.presented, r.nextExp); err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("%w: successor jti already recorded: %w", jwtpair.ErrStoreUnavailable, err)
		}
		return err
	}
	_, err := tx.ExecContext(ctx, s.q.extendFamily, fam, r.nextExp)
	return err
}

// Check implements [jwtpair.Store.Check]. One query.
func (s *Store) Check(ctx context.Context, jti string) error {
	var outcome error
	err := s.retry(ctx, func() (err error) {
		outcome, err = s.classify(ctx, jti)
		return err
	})
	if err != nil {
		return s.fail("check", err)
	}
	return outcome
}

// classify reads a token's state: nil when usable, else the sentinel.
func (s *Store) classify(ctx context.Context, jti string) (outcome, err error) {
	var state string
	var live, famRevoked bool
	err = s.db.QueryRowContext(ctx, s.q.check, jti).Scan(&state, &live, &famRevoked)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return jwtpair.ErrTokenNotFound, nil
	case err != nil:
		return nil, err
	case !live:
		return jwtpair.ErrTokenNotFound, nil
	case state == stateRevoked || state == stateConsumed || famRevoked:
		return jwtpair.ErrTokenBlacklisted, nil
	}
	return nil, nil
}

// Revoke implements [jwtpair.Store.Revoke]: it revokes the token's family,
// ending the session with every rotation and grace sibling of it. A token
// whose family or user was revoked counts as already revoked. A logout with
// an active token is one conditional statement, which revokes the family
// (on PostgreSQL marking the token revoked in the same statement). Only
// when that changes nothing does a second statement revoke the family of a
// consumed token, and, when that changes nothing either, a read tells
// "already revoked" from "unknown".
//
// When a concurrent Rotate consumes the token first, the first statement
// misses (on PostgreSQL after waiting for the rotation's row lock), and the
// second finds the token consumed and revokes the family, the rotation's
// successor included.
func (s *Store) Revoke(ctx context.Context, jti string) error {
	var outcome error
	err := s.retry(ctx, func() error {
		outcome = nil
		n, err := s.exec(ctx, s.q.revoke, jti)
		if err != nil || n == 1 {
			return err
		}
		// States only move from active towards consumed or revoked, and
		// families from live to revoked, so whatever made the statement
		// miss is still there.
		if n, err = s.exec(ctx, s.q.revokeConsumed, jti); err != nil {
			return err
		}
		if n == 1 {
			outcome = jwtpair.ErrTokenBlacklisted
			return nil
		}
		outcome, err = s.classify(ctx, jti)
		if err == nil && outcome == nil {
			outcome = jwtpair.ErrTokenBlacklisted
		}
		return err
	})
	if err != nil {
		return s.fail("revoke", err)
	}
	return outcome
}

// RevokeFamily implements [jwtpair.Store.RevokeFamily]. Revocation is a flag
// on the family row, which every rotation checks in the statement that
// consumes, so a successor recorded concurrently is revoked with its family.
// An unknown family is not remembered: a later Issue naming it starts a
// fresh family. One statement.
func (s *Store) RevokeFamily(ctx context.Context, familyID string) error {
	return s.execRetry(ctx, "revoke family", s.q.revokeFamily, familyID)
}

// RevokeUser implements [jwtpair.Store.RevokeUser]: it flags every family of
// the user, through the index on families(user_id). One statement.
func (s *Store) RevokeUser(ctx context.Context, userID string) error {
	return s.execRetry(ctx, "revoke user", s.q.revokeUser, userID)
}

// execRetry runs one statement of op, again while it fails with a transient
// conflict (see retry), and wraps its failure (see fail).
func (s *Store) execRetry(ctx context.Context, op, query string, arg any) error {
	err := s.retry(ctx, func() error {
		_, err := s.db.ExecContext(ctx, query, arg)
		return err
	})
	if err != nil {
		return s.fail(op, err)
	}
	return nil
}

// exec runs one statement and returns how many rows it changed.
func (s *Store) exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := s.db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// inTx runs fn in a transaction at the default isolation level, committing
// when fn returns nil and rolling back otherwise.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// fail wraps a database error in ErrStoreUnavailable, once.
func (s *Store) fail(op string, err error) error {
	if errors.Is(err, jwtpair.ErrStoreUnavailable) {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	return fmt.Errorf("sqlstore: %s: %w: %w", op, jwtpair.ErrStoreUnavailable, err)
}

// maxAttempts bounds how often an operation runs when the database reports
// a transient conflict.
const maxAttempts = 5

// retry runs fn again, after a short jittered pause, while it fails with a
// transient conflict: a serialization failure or deadlock (PostgreSQL, for
// databases whose default isolation is stricter than READ COMMITTED) or a
// busy or locked database (SQLite, past its busy_timeout). Every attempt is
// a whole statement or transaction that failed and changed nothing.
func (s *Store) retry(ctx context.Context, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || attempt == maxAttempts || !transient(err) {
			return err
		}
		pause := time.Duration(1<<attempt)*time.Millisecond + rand.N(time.Millisecond)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
	}
}

// transient reports whether err is a conflict worth retrying.
func transient(err error) bool {
	var pg interface{ SQLState() string }
	if errors.As(err, &pg) {
		switch pg.SQLState() {
		case "40001", "40P01": // serialization_failure, deadlock_detected
			return true
		}
		return false
	}
	var lite interface{ Code() int } // modernc.org/sqlite's *sqlite.Error
	if errors.As(err, &lite) {
		switch lite.Code() & 0xff {
		case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
			return true
		}
	}
	return false
}

// isUniqueViolation reports whether err is a unique-constraint violation.
func isUniqueViolation(err error) bool {
	var pg interface{ SQLState() string }
	if errors.As(err, &pg) {
		return pg.SQLState() == "23505"
	}
	var lite interface{ Code() int }
	if errors.As(err, &lite) {
		switch lite.Code() {
		case 1555, 2067: // SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE
			return true
		}
	}
	return false
}

// maxNanos is the last instant whose Unix nanoseconds fit in an int64.
var maxNanos = time.Unix(0, math.MaxInt64)

// nanos returns t as Unix nanoseconds, the stored form of every time;
// instants before 1970 clamp to zero and those after 2262 to the largest
// int64.
func nanos(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, 0)):
		return 0
	case t.After(maxNanos):
		return math.MaxInt64
	}
	return t.UnixNano()
}
