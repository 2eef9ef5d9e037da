package sqlstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
	"github.com/jwtpair/jwtpair/sqlstore"
)

// TestSQLiteWritesQueue proves that a store's concurrent writes on SQLite
// take SQLite's write lock one after another instead of contending for
// it: on a database opened with no busy timeout at all, where a writer
// that finds the lock taken fails at once with SQLITE_BUSY (and the store
// retries it only a few times), 64 clients logging in and rotating at the
// same time through one store all succeed.
func TestSQLiteWritesQueue(t *testing.T) {
	db := openDB(t, "sqlite", "file:"+filepath.Join(t.TempDir(), "queue.db")+"?_pragma=journal_mode(WAL)")
	db.SetMaxOpenConns(64)
	db.SetMaxIdleConns(64)
	s := storeOn(t, db, sqlstore.DefaultTablePrefix)
	const clients, rotations = 64, 3
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	start := make(chan struct{})
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			rec := record(newUser())
			if _, err := s.Issue(t.Context(), rec, jwtpair.IssueOptions{MaxSessions: 5}); err != nil {
				errs <- err
				return
			}
			for range rotations {
				next := successor()
				if err := s.Rotate(t.Context(), tokenOf(rec), next, jwtpair.RotateOptions{}); err != nil {
					errs <- err
					return
				}
				rec.JTI = next.JTI
			}
			if err := s.Revoke(t.Context(), tokenOf(rec)); err != nil {
				errs <- err
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	require.NoError(t, errors.Join(all...), "%d of %d clients failed", len(all), clients)
	require.Equal(t, clients*(rotations+1), count(t, db, sqlstore.DefaultTablePrefix+"tokens"))
}

// TestSQLiteQueuedWriteHonoursContext proves that a write waiting for its
// turn returns when its context ends (failing closed, wrapping
// ErrStoreUnavailable), and that reads do not wait for the writes.
func TestSQLiteQueuedWriteHonoursContext(t *testing.T) {
	s := newStore(t, sqliteBackend)
	rec := login(t, s, newUser(), jwtpair.IssueOptions{})
	release := sqlstore.HoldWrites(s)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Rotate(ctx, tokenOf(rec), successor(), jwtpair.RotateOptions{})
	require.ErrorIs(t, err, jwtpair.ErrStoreUnavailable)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 5*time.Second)
	// Reads go on meanwhile.
	require.NoError(t, s.Check(t.Context(), tokenOf(rec)))
	require.Equal(t, []string{rec.SessionID}, live(t, s, rec.UserID))
	release()
	require.NoError(t, s.Rotate(t.Context(), tokenOf(rec), successor(), jwtpair.RotateOptions{}))
}
