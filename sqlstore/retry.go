package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"
)

// querier is what one attempt of an operation runs its statements on: the
// *sql.DB, or one connection of it (see database.attempt).
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

// database is the *sql.DB a Store or a Limiter runs on, and how it runs
// an operation there: retried on a transient conflict, and never past the
// caller's deadline.
type database struct {
	db      *sql.DB
	dialect Dialect
	// busy is the pool's SQLite busy_timeout in milliseconds, plus one
	// (0: not read yet). Every connection of the pool is opened from one
	// DSN, so one reading stands for all of them.
	busy atomic.Int64
	// writer queues a Store's writes on SQLite (see acquireWrite): a slot,
	// held by the write statement or transaction in progress; nil on
	// PostgreSQL and for a Limiter.
	writer chan struct{}
}

// acquireWrite waits for the write slot on SQLite, or until ctx is done;
// without a slot (PostgreSQL, a Limiter) it returns at once. SQLite runs
// one write transaction at a time, and a connection that finds another
// writing waits by its busy timeout, sleeping and polling (1 ms, then
// longer sleeps, up to 100 ms): many writers of one process polling for
// the lock leave it idle between commits and wait far longer than their
// turn. Queued on the slot, a Store's writers take the lock one after
// another, in the order they arrive, and the busy timeout is left to other
// processes' writers. Each acquireWrite that returns nil is followed by
// one releaseWrite.
func (d *database) acquireWrite(ctx context.Context) error {
	if d.writer == nil {
		return nil
	}
	select {
	case d.writer <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// releaseWrite frees the slot acquireWrite took.
func (d *database) releaseWrite() {
	if d.writer != nil {
		<-d.writer
	}
}

// maxAttempts bounds how often an operation runs when the database reports
// a transient conflict.
const maxAttempts = 5

// retry runs fn again, after a short jittered pause, while it fails with a
// transient conflict: a serialization failure or deadlock (PostgreSQL, for
// databases whose default isolation is stricter than READ COMMITTED) or a
// busy or locked database (SQLite, past its busy_timeout). Every attempt is
// a whole statement or transaction that failed and changed nothing. It
// stops at ctx's end, between attempts and (see attempt) within one.
func (d *database) retry(ctx context.Context, fn func(q querier) error) error {
	return d.run(ctx, false, fn)
}

// retryWrite is retry for an operation that writes: each attempt holds the
// write slot (acquireWrite) while it runs, not while it pauses.
func (d *database) retryWrite(ctx context.Context, fn func(q querier) error) error {
	return d.run(ctx, true, fn)
}

// run is retry, each attempt holding the write slot when write is set.
func (d *database) run(ctx context.Context, write bool, fn func(q querier) error) error {
	for n := 1; ; n++ {
		err := d.writing(ctx, write, fn)
		if err == nil || n == maxAttempts || !transient(err) {
			return err
		}
		pause := time.Duration(1<<n)*time.Millisecond + rand.N(time.Millisecond)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
	}
}

// writing is attempt, holding the write slot while it runs when write is
// set.
func (d *database) writing(ctx context.Context, write bool, fn func(q querier) error) error {
	if write {
		if err := d.acquireWrite(ctx); err != nil {
			return err
		}
		defer d.releaseWrite()
	}
	return d.attempt(ctx, fn)
}

// attempt runs fn once, on the pool, or, on SQLite when ctx's deadline
// comes before the pool's busy timeout would end a wait for the write
// lock, on one connection whose busy_timeout is lowered to the time left
// for the attempt and restored after it. SQLite's busy handler sleeps
// without looking at the context (the driver interrupts a cancelled
// statement, but not the handler's sleep), so without this one attempt
// outlasts the caller's deadline by up to the whole busy timeout: 5 s with
// the DSN the package documentation shows.
func (d *database) attempt(ctx context.Context, fn func(q querier) error) error {
	if d.dialect != DialectSQLite {
		return fn(d.db)
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		return fn(d.db)
	}
	busy, err := d.busyTimeout(ctx)
	if err != nil {
		return err
	}
	left := time.Until(deadline)
	if left >= busy {
		return fn(d.db) // the busy timeout ends any wait first
	}
	if left <= 0 {
		return context.DeadlineExceeded
	}
	c, err := d.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := setBusyTimeout(ctx, c, int64((left+time.Millisecond-1)/time.Millisecond)); err != nil {
		return err
	}
	err = fn(c)
	// ctx may be over: the connection goes back to the pool as it came,
	// or not at all.
	if rerr := setBusyTimeout(context.WithoutCancel(ctx), c, int64(busy/time.Millisecond)); rerr != nil {
		_ = c.Raw(func(any) error { return driver.ErrBadConn }) // discarded by the pool
	}
	return err
}

// busyTimeout returns the pool's busy_timeout, read once.
func (d *database) busyTimeout(ctx context.Context) (time.Duration, error) {
	if v := d.busy.Load(); v > 0 {
		return time.Duration(v-1) * time.Millisecond, nil
	}
	var ms int64
	if err := d.db.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&ms); err != nil {
		return 0, err
	}
	d.busy.Store(ms + 1)
	return time.Duration(ms) * time.Millisecond, nil
}

// setBusyTimeout sets the busy_timeout of c, in milliseconds.
func setBusyTimeout(ctx context.Context, c *sql.Conn, ms int64) error {
	_, err := c.ExecContext(ctx, "PRAGMA busy_timeout = "+strconv.FormatInt(ms, 10))
	return err
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
