package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jwtpair/jwtpair"
)

// limiterSchemaFS holds the limiter's schema of each dialect, written for
// the default table prefix.
//
//go:embed schema/limiter_postgres.sql schema/limiter_sqlite.sql
var limiterSchemaFS embed.FS

// Limiter is a [jwtpair.Limiter] on a SQL database (PostgreSQL or SQLite),
// for login and refresh throttling that holds across every instance sharing
// the database:
//
//	lim, err := sqlstore.NewLimiter(db, sqlstore.WithLimiterJanitor(time.Minute))
//	if err != nil { … }
//	defer lim.Close()
//	if err := lim.Migrate(ctx); err != nil { … }
//	auth, err := jwtpair.New(…, jwtpair.WithLimiter(lim))
//
// It keeps one row per key in the table <prefix>limits (jwtpair_limits by
// default): the key's GCRA time (when it is back at rest), in Unix
// nanoseconds on the database's clock. Every attempt is one statement, an
// INSERT … ON CONFLICT DO UPDATE … RETURNING that decides and counts at
// once under the row's lock, so it is atomic under concurrent processes at
// the default isolation level and is one round trip; the time is the
// database's (PostgreSQL's statement_timestamp(), SQLite's 'now'), never
// the instance's. No Go GCRA library runs in the database, and the
// arithmetic is a few integer operations, so it is written here, the same
// GCRA as the memory limiter's and redis_rate's.
//
// Rows of keys at rest hold nothing: [Limiter.PurgeExpired] deletes them in
// small batches; run it from a cron job or let [WithLimiterJanitor] run
// it. Any database failure is returned wrapping
// [jwtpair.ErrStoreUnavailable] (transient conflicts are retried first, as
// by the [Store]). A Limiter is safe for concurrent use; it never closes
// the *sql.DB.
type Limiter struct {
	database // the *sql.DB and its dialect (retry.go)
	prefix   string
	logger   *slog.Logger
	janitor  time.Duration

	allow, reset, purge string // statements, rendered by NewLimiter

	stop      context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once

	err error // the first invalid option, reported by NewLimiter
}

var _ jwtpair.Limiter = (*Limiter)(nil)

// LimiterOption configures a [Limiter].
type LimiterOption func(*Limiter)

// WithLimiterDialect sets the SQL dialect. Default: detected from the
// driver of the *sql.DB, as for [New].
func WithLimiterDialect(d Dialect) LimiterOption {
	return func(l *Limiter) {
		if err := checkDialect(d); err != nil {
			l.setErr(err)
			return
		}
		l.dialect = d
	}
}

// WithLimiterTablePrefix sets the prefix of the limiter's table name, as
// [WithTablePrefix] does the store's: the table is <prefix>limits. Default:
// [DefaultTablePrefix].
func WithLimiterTablePrefix(prefix string) LimiterOption {
	return func(l *Limiter) {
		if err := checkPrefix(prefix); err != nil {
			l.setErr(err)
			return
		}
		l.prefix = prefix
	}
}

// WithLimiterJanitor starts a goroutine that runs [Limiter.PurgeExpired]
// every interval until [Limiter.Close]. Default: none. The interval must be
// positive.
func WithLimiterJanitor(interval time.Duration) LimiterOption {
	return func(l *Limiter) {
		if interval <= 0 {
			l.setErr(fmt.Errorf("sqlstore: janitor interval %v is not positive", interval))
			return
		}
		l.janitor = interval
	}
}

// WithLimiterLogger sets where the janitor reports failed purges. Default:
// [slog.Default]. A nil logger is ignored.
func WithLimiterLogger(lg *slog.Logger) LimiterOption {
	return func(l *Limiter) {
		if lg != nil {
			l.logger = lg
		}
	}
}

func (l *Limiter) setErr(err error) {
	if l.err == nil {
		l.err = err
	}
}

// NewLimiter returns a Limiter on db, which the caller owns. It does no
// I/O; run [Limiter.Migrate] once to create its table. It fails on a nil
// db, an invalid option, or a dialect it cannot detect.
func NewLimiter(db *sql.DB, opts ...LimiterOption) (*Limiter, error) {
	if db == nil {
		return nil, errors.New("sqlstore: nil *sql.DB")
	}
	l := &Limiter{database: database{db: db}, prefix: DefaultTablePrefix, logger: slog.Default()}
	for _, opt := range opts {
		opt(l)
	}
	if l.err != nil {
		return nil, l.err
	}
	if l.dialect == 0 {
		d, ok := detectDialect(db)
		if !ok {
			return nil, fmt.Errorf("sqlstore: cannot tell the dialect of driver %T; use WithLimiterDialect", db.Driver())
		}
		l.dialect = d
	}
	l.allow, l.reset, l.purge = limiterQueries(l.dialect, l.prefix+"limits")
	if l.janitor > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		l.stop = cancel
		l.wg.Go(func() { l.runJanitor(ctx) })
	}
	return l, nil
}

// Dialect returns the limiter's SQL dialect.
func (l *Limiter) Dialect() Dialect { return l.dialect }

// The limiter's statements. {l} is the table, {now} the database's clock
// in Unix nanoseconds, {max} the two-argument maximum; $N are PostgreSQL's
// placeholders, ?N SQLite's.
//
// allow: $1 key, $2 the limit's interval, $3 its tolerance (interval ×
// (burst − 1)), in nanoseconds. A key at rest, or unknown, is as if its
// time were now; the attempt is allowed when that time is at most the
// tolerance ahead of now, and then moves it one interval on. A refused
// attempt changes nothing but the verdict. Returns the verdict and the
// key's time ahead of now.
const (
	limiterAllowTmpl = `INSERT INTO {l} AS l (name, tat, allowed) VALUES ($1, {now} + CAST($2 AS bigint), true)
ON CONFLICT (name) DO UPDATE SET
	allowed = {max}(l.tat, {now}) - {now} <= CAST($3 AS bigint),
	tat = CASE WHEN {max}(l.tat, {now}) - {now} <= CAST($3 AS bigint)
		THEN {max}(l.tat, {now}) + CAST($2 AS bigint) ELSE l.tat END
RETURNING allowed, tat - {now}`
	limiterResetTmpl = `DELETE FROM {l} WHERE name = $1`
	limiterPurgeTmpl = `DELETE FROM {l} WHERE name IN (
	SELECT name FROM {l} WHERE tat <= {now} LIMIT $1
) AND tat <= {now}`
)

// limiterQueries renders the statements for a dialect and table.
func limiterQueries(d Dialect, table string) (allow, reset, purge string) {
	now, maxFn := nowPG, "GREATEST"
	if d == DialectSQLite {
		now, maxFn = nowSQLite, "max"
	}
	r := strings.NewReplacer("{l}", table, "{now}", now, "{max}", maxFn)
	render := func(tmpl string) string {
		s := r.Replace(tmpl)
		if d == DialectSQLite {
			s = placeholder.ReplaceAllString(s, "?$1")
		}
		return s
	}
	return render(limiterAllowTmpl), render(limiterResetTmpl), render(limiterPurgeTmpl)
}

// Allow implements [jwtpair.Limiter.Allow]: one statement (one round trip),
// retried only on a transient conflict, which changed nothing.
func (l *Limiter) Allow(ctx context.Context, key string, limit jwtpair.Limit) (bool, time.Duration, error) {
	if err := limit.Validate(); err != nil {
		return false, 0, err
	}
	interval := limit.Interval()
	tolerance := interval * time.Duration(limit.Burst-1)
	var ok bool
	var ahead int64
	err := l.retry(ctx, func(q querier) error {
		return q.QueryRowContext(ctx, l.allow, key, int64(interval), int64(tolerance)).Scan(&ok, &ahead)
	})
	switch {
	case err != nil:
		return false, 0, l.fail("allow", err)
	case ok:
		return true, 0, nil
	}
	return false, max(time.Duration(ahead)-tolerance, time.Microsecond), nil
}

// Reset implements [jwtpair.Limiter.Reset]: one DELETE.
func (l *Limiter) Reset(ctx context.Context, key string) error {
	err := l.retry(ctx, func(q querier) error {
		_, err := q.ExecContext(ctx, l.reset, key)
		return err
	})
	if err != nil {
		return l.fail("reset", err)
	}
	return nil
}

// PurgeExpired deletes the rows of keys at rest, in batches, and returns
// how many it deleted.
func (l *Limiter) PurgeExpired(ctx context.Context) (int64, error) {
	var total int64
	for {
		var n int64
		err := l.retry(ctx, func(q querier) error {
			res, err := q.ExecContext(ctx, l.purge, purgeBatch)
			if err == nil {
				n, err = res.RowsAffected()
			}
			return err
		})
		if err != nil {
			return total, l.fail("purge", err)
		}
		total += n
		if n < purgeBatch {
			return total, nil
		}
	}
}

// runJanitor purges every interval until stop is done; a purge under way
// is left to finish, within janitorStatementTimeout per batch.
func (l *Limiter) runJanitor(stop context.Context) {
	tick := time.NewTicker(l.janitor)
	defer tick.Stop()
	for {
		select {
		case <-stop.Done():
			return
		case <-tick.C:
			ctx, cancel := context.WithTimeout(context.Background(), janitorStatementTimeout)
			if _, err := l.PurgeExpired(ctx); err != nil {
				l.logger.Warn("sqlstore: purging the rows of keys at rest from the limiter failed", "err", err)
			}
			cancel()
		}
	}
}

// Close stops the janitor, if any, and waits for it. It does not close the
// *sql.DB, may be called any number of times, and always returns nil; the
// limiter keeps working after it.
func (l *Limiter) Close() error {
	l.closeOnce.Do(func() {
		if l.stop != nil {
			l.stop()
		}
		l.wg.Wait()
	})
	return nil
}

// Schema returns the DDL that [Limiter.Migrate] runs, for the limiter's
// dialect and table prefix; idempotent (IF NOT EXISTS).
func (l *Limiter) Schema() string {
	name := "schema/limiter_postgres.sql"
	if l.dialect == DialectSQLite {
		name = "schema/limiter_sqlite.sql"
	}
	b, err := limiterSchemaFS.ReadFile(name)
	if err != nil {
		panic("sqlstore: embedded schema missing: " + err.Error()) // cannot happen: embedded at build
	}
	return strings.ReplaceAll(string(b), DefaultTablePrefix, l.prefix)
}

// Migrate creates the limiter's table if it does not exist, in one
// transaction; idempotent, and safe to run from several processes at once.
func (l *Limiter) Migrate(ctx context.Context) error {
	tx, err := l.db.BeginTx(ctx, nil)
	if err == nil {
		err = l.migrate(ctx, tx)
		if err == nil {
			err = tx.Commit()
		} else {
			_ = tx.Rollback()
		}
	}
	if err != nil {
		return fmt.Errorf("sqlstore: limiter: migrate: %w", err)
	}
	return nil
}

func (l *Limiter) migrate(ctx context.Context, tx *sql.Tx) error {
	if l.dialect == DialectPostgres {
		// Concurrent CREATE … IF NOT EXISTS can collide in the catalog.
		h := fnv.New64a()
		_, _ = h.Write([]byte("jwtpair/sqlstore/limiter:" + l.prefix))
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", int64(h.Sum64())); err != nil {
			return err
		}
	}
	for _, stmt := range statements(l.Schema()) {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%w\n%s", err, stmt)
		}
	}
	return nil
}

// fail wraps a database error in ErrStoreUnavailable.
func (l *Limiter) fail(op string, err error) error {
	return fmt.Errorf("sqlstore: limiter: %s: %w: %w", op, jwtpair.ErrStoreUnavailable, err)
}
