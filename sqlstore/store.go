package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
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
// [WithTablePrefix] sets another: tables jwtpair_sessions, jwtpair_tokens
// and jwtpair_revocations.
const DefaultTablePrefix = "jwtpair_"

// Store is a [jwtpair.Store] and a [jwtpair.RevocationFeed] on a SQL
// database. Create it with [New], create its tables with [Store.Migrate] (or
// from [Store.Schema]); it is safe for concurrent use by many goroutines and
// many processes sharing the database.
type Store struct {
	database  // the *sql.DB and its dialect (retry.go)
	prefix    string
	logger    *slog.Logger
	janitor   time.Duration
	retention time.Duration
	q         *queries

	done      context.Context // cancelled by Close: ends the janitor and the listener
	stop      context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	listen    listener // PostgreSQL's LISTEN connection for the feed

	err error // the first invalid option, reported by New
}

var (
	_ jwtpair.Store          = (*Store)(nil)
	_ jwtpair.RevocationFeed = (*Store)(nil)
)

// Option configures a [Store].
type Option func(*Store)

// WithDialect sets the SQL dialect. Default: detected from the driver of the
// *sql.DB (pgx, lib/pq → PostgreSQL; any driver package whose path contains
// "sqlite" → SQLite); New fails when it cannot tell.
func WithDialect(d Dialect) Option {
	return func(s *Store) {
		if err := checkDialect(d); err != nil {
			s.setErr(err)
			return
		}
		s.dialect = d
	}
}

// checkDialect refuses a dialect that is neither of the two (the store's
// and the limiter's WithDialect options).
func checkDialect(d Dialect) error {
	if d != DialectPostgres && d != DialectSQLite {
		return fmt.Errorf("sqlstore: unknown dialect %v", d)
	}
	return nil
}

// checkPrefix refuses a table prefix that is not a plain SQL identifier
// (the store's and the limiter's prefix options).
func checkPrefix(prefix string) error {
	if !validPrefix.MatchString(prefix) {
		return fmt.Errorf("sqlstore: invalid table prefix %q: want at most 40 letters, digits or underscores, not starting with a digit", prefix)
	}
	return nil
}

// WithTablePrefix sets the prefix of the store's table and index names.
// Default: [DefaultTablePrefix]. It must be a plain SQL identifier of at most
// 40 characters (letters, digits, underscores; not starting with a digit), or
// empty. On PostgreSQL the tables live in the connection's search_path
// schema.
func WithTablePrefix(prefix string) Option {
	return func(s *Store) {
		if err := checkPrefix(prefix); err != nil {
			s.setErr(err)
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
	return func(s *Store) { s.setPositive(&s.janitor, interval, "janitor interval") }
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

// DefaultRevocationRetention is how long the revocation feed keeps an entry
// unless [WithRevocationRetention] sets another.
const DefaultRevocationRetention = time.Hour

// WithRevocationRetention sets how long the revocation feed keeps an entry
// ([jwtpair.RevocationFeed]): [Store.Revocations] returns nothing older, and
// [Store.PurgeExpired] deletes it. jwtpair.New refuses an Auth whose access
// (or sliding) tokens live longer than that. Default:
// [DefaultRevocationRetention] (1 h). It must be positive.
func WithRevocationRetention(d time.Duration) Option {
	return func(s *Store) { s.setPositive(&s.retention, d, "revocation retention") }
}

func (s *Store) setErr(err error) {
	if s.err == nil {
		s.err = err
	}
}

// setPositive sets *dst to d, the option what, or records that d is not
// positive.
func (s *Store) setPositive(dst *time.Duration, d time.Duration, what string) {
	if d <= 0 {
		s.setErr(fmt.Errorf("sqlstore: %s %v is not positive", what, d))
		return
	}
	*dst = d
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
		database:  database{db: db},
		prefix:    DefaultTablePrefix,
		logger:    slog.Default(),
		retention: DefaultRevocationRetention,
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
	if s.dialect == DialectSQLite {
		s.writer = make(chan struct{}, 1)
	}
	s.done, s.stop = context.WithCancel(context.Background())
	s.listen.wake = make(chan struct{})
	if s.janitor > 0 {
		s.wg.Add(1)
		go s.runJanitor(s.done, s.janitor)
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

// Close stops the janitor, if any, and the feed's listener (PostgreSQL), and
// waits for them to return; [Store.Revocations] polls after it. A purge
// statement the janitor has sent is left to finish (for at most 30 seconds)
// rather than cancelled, which would only abandon it on the client side
// while the database server ran it on; the purge ends there. So no purge of
// the janitor runs once Close has returned. Close does not close the
// *sql.DB. It may be called any number of times and always returns nil; the
// store's other methods keep working after it.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.listen.mu.Lock() // see startListener
		s.stop()
		s.listen.mu.Unlock()
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
				s.logger.Warn("sqlstore: purging expired records failed", "err", err)
			}
		}
	}
}

// purgeBatch bounds the rows one DELETE of PurgeExpired removes, so that a
// large backlog never holds locks for long.
const purgeBatch = 1000

// PurgeExpired deletes, in batches, the records of expired tokens, the
// sessions whose every token has expired (ended or not: an ended session is
// kept as long as a token it covers), and the revocations older than the
// feed's retention ([WithRevocationRetention]). It returns how many token
// records it deleted. Like simplejwt's flushexpiredtokens, run it from a
// cron job, or let [WithJanitor] run it.
func (s *Store) PurgeExpired(ctx context.Context) (int64, error) {
	return s.purge(ctx, 0, nil)
}

// purge runs the batches of PurgeExpired under ctx, each statement within
// timeout when it is positive. It stops between batches, with no error, once
// stop is closed.
func (s *Store) purge(ctx context.Context, timeout time.Duration, stop <-chan struct{}) (int64, error) {
	var total int64
	for _, step := range []struct {
		query string
		args  []any
	}{
		{s.q.purgeTokens, []any{purgeBatch}},
		{s.q.purgeSessions, []any{purgeBatch}},
		{s.q.purgeRevocations, []any{purgeBatch, int64(s.retention)}},
	} {
		for {
			select {
			case <-stop: // a nil stop never fires
				return total, nil
			default:
			}
			var n int64
			err := s.retryWrite(ctx, func(q querier) (err error) {
				sctx := ctx
				if timeout > 0 {
					var cancel context.CancelFunc
					sctx, cancel = context.WithTimeout(ctx, timeout)
					defer cancel()
				}
				n, err = exec(sctx, q, step.query, step.args...)
				return err
			})
			if err != nil {
				return total, fmt.Errorf("sqlstore: purge expired: %w: %w", jwtpair.ErrStoreUnavailable, err)
			}
			if step.query == s.q.purgeTokens {
				total += n
			}
			if n < purgeBatch {
				break
			}
		}
	}
	return total, nil
}

// errRollback makes inTx roll back without reporting a database failure.
var errRollback = errors.New("sqlstore: roll back")

// exec runs one statement on q and returns how many rows it changed.
func exec(ctx context.Context, q querier, query string, args ...any) (int64, error) {
	return affected(q.ExecContext(ctx, query, args...))
}

// affected returns how many rows the statement whose result is res changed.
func affected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// inTx runs fn in a transaction on q at the default isolation level,
// committing when fn returns nil and rolling back otherwise.
func inTx(ctx context.Context, q querier, fn func(tx *sql.Tx) error) error {
	tx, err := q.BeginTx(ctx, nil)
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
