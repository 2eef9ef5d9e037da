package sqlstore_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
	"github.com/jwtpair/jwtpair/sqlstore"
	"github.com/jwtpair/jwtpair/storetest"
)

// busyDSN opens path with the 5-second busy timeout of the package
// documentation (and of the example server).
func busyDSN(path string) string {
	return "file:" + path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)"
}

// holdWriteLock takes SQLite's write lock on the database at dsn from a
// connection of its own, as another process's long transaction would, and
// returns the function that releases it (also run at cleanup).
func holdWriteLock(t *testing.T, dsn string) (release func()) {
	t.Helper()
	conn, err := openDB(t, "sqlite", dsn).Conn(t.Context())
	require.NoError(t, err)
	_, err = conn.ExecContext(t.Context(), "BEGIN IMMEDIATE")
	require.NoError(t, err)
	done := false
	release = func() {
		if !done {
			done = true
			_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
			_ = conn.Close()
		}
	}
	t.Cleanup(release)
	return release
}

// TestDeadlineEndsBusyWait: with the write lock held by another
// connection, every write of the store and the limiter gives up at its
// context's deadline, an error wrapping ErrStoreUnavailable, instead of
// waiting out the busy timeout (5 s here) once per retry. SQLite's busy
// handler does not look at the context: the store lowers the busy timeout
// of the connection it runs on to the time left.
func TestDeadlineEndsBusyWait(t *testing.T) {
	dsn := busyDSN(filepath.Join(t.TempDir(), "jwtpair.db"))
	db := openDB(t, "sqlite", dsn)
	s := storeOn(t, db, sqlstore.DefaultTablePrefix)
	lim, err := sqlstore.NewLimiter(db)
	require.NoError(t, err)
	require.NoError(t, lim.Migrate(t.Context()))
	active := storetest.Login(t, s)
	holdWriteLock(t, dsn)

	const deadline = 200 * time.Millisecond
	limit := jwtpair.Limit{Rate: 1, Period: time.Second, Burst: 1}
	for _, c := range []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Issue", func(ctx context.Context) error {
			return issueErr(s.Issue(ctx, storetest.NewRecord(), jwtpair.IssueOptions{}))
		}},
		{"Issue with a cap", func(ctx context.Context) error {
			return issueErr(s.Issue(ctx, storetest.NewRecord(), jwtpair.IssueOptions{MaxSessions: 3}))
		}},
		{"Rotate", func(ctx context.Context) error {
			return s.Rotate(ctx, storetest.TokenOf(active), storetest.NewSuccessor(), jwtpair.RotateOptions{})
		}},
		{"Revoke", func(ctx context.Context) error { return s.Revoke(ctx, storetest.TokenOf(active)) }},
		{"EndSession", func(ctx context.Context) error { return s.EndSession(ctx, active.UserID, active.SessionID) }},
		{"EndSessions", func(ctx context.Context) error { return s.EndSessions(ctx, active.UserID, "") }},
		{"Limiter.Allow", func(ctx context.Context) error {
			_, _, err := lim.Allow(ctx, "login:ip:127.0.0.1", limit)
			return err
		}},
		{"Limiter.Reset", func(ctx context.Context) error { return lim.Reset(ctx, "login:ip:127.0.0.1") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), deadline)
			defer cancel()
			start := time.Now()
			err := c.call(ctx)
			took := time.Since(start)
			storetest.RequireUnavailable(t, err, "%s with the write lock held", c.name)
			assert.Less(t, took, deadline+time.Second, "gave up %v after a %v deadline", took, deadline)
		})
	}
	// Reads do not need the write lock (WAL): they answer.
	require.NoError(t, s.Check(t.Context(), storetest.TokenOf(active)), "nothing was written")
}

// TestBusyWaitWithinDeadline: a write waiting for the lock still gets it
// when it is released before the deadline (the lowered busy timeout is
// the time left, not nothing), and the connection it ran on goes back to
// the pool with the DSN's busy timeout.
func TestBusyWaitWithinDeadline(t *testing.T) {
	dsn := busyDSN(filepath.Join(t.TempDir(), "jwtpair.db"))
	db := openDB(t, "sqlite", dsn)
	db.SetMaxOpenConns(1) // one connection: the one the write ran on
	s := storeOn(t, db, sqlstore.DefaultTablePrefix)
	release := holdWriteLock(t, dsn)
	time.AfterFunc(300*time.Millisecond, release)

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	start := time.Now()
	require.NoError(t, issueErr(s.Issue(ctx, storetest.NewRecord(), jwtpair.IssueOptions{})), "the lock came back within the deadline")
	assert.GreaterOrEqual(t, time.Since(start), 250*time.Millisecond, "it waited for the lock")
	assert.Equal(t, 5000, busyTimeout(t, db), "the connection's busy timeout restored")
}

// busyTimeout reads the busy timeout of a connection of db.
func busyTimeout(t *testing.T, db *sql.DB) int {
	t.Helper()
	var ms int
	require.NoError(t, db.QueryRowContext(t.Context(), "PRAGMA busy_timeout").Scan(&ms))
	return ms
}
