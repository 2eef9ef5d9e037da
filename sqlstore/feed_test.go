package sqlstore_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
	"github.com/jwtpair/jwtpair/sqlstore"
	"github.com/jwtpair/jwtpair/storetest"
)

// TestFeedOutOfOrderCommit: two sessions end in two transactions, the one
// that started first (lower transaction id, earlier time) committing last.
// A reader that reads between the commits gets the second end, and the
// first on its next read: a cursor of "the highest id (or time) seen" would
// skip it for good, the snapshot cursor does not.
func TestFeedOutOfOrderCommit(t *testing.T) {
	s, db, prefix := newStoreDB(t, postgresBackend)
	ctx := t.Context()
	user := newUser()
	a, b := login(t, s, user, jwtpair.IssueOptions{}), login(t, s, user, jwtpair.IssueOptions{})
	_, cursor := drain(t, s, "")

	txA, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = txA.Rollback() })
	_, err = txA.ExecContext(ctx, "UPDATE "+prefix+"sessions SET ended_at = (extract(epoch FROM statement_timestamp()) * 1e6)::bigint * 1000 WHERE session_id = $1", a.SessionID)
	require.NoError(t, err, "A ends a, and does not commit yet")
	time.Sleep(2 * time.Millisecond)
	require.NoError(t, s.EndSession(ctx, user, b.SessionID), "B ends b and commits")

	revs, cursor, err := s.Revocations(ctx, cursor, 0)
	require.NoError(t, err)
	require.Equal(t, []string{b.SessionID}, sessionIDs(revs), "A is not committed")

	require.NoError(t, txA.Commit())
	var aFirst bool
	require.NoError(t, db.QueryRowContext(ctx, `SELECT ra.xid < rb.xid AND ra.at < rb.at FROM `+prefix+`revocations ra, `+prefix+`revocations rb
WHERE ra.session_id = $1 AND rb.session_id = $2`, a.SessionID, b.SessionID).Scan(&aFirst))
	require.True(t, aFirst, "a's entry has the lower transaction id and the earlier time")

	revs, cursor, err = s.Revocations(ctx, cursor, 0)
	require.NoError(t, err)
	require.Equal(t, []string{a.SessionID}, sessionIDs(revs), "the late commit is read after all")
	revs, _ = drain(t, s, cursor)
	require.Empty(t, revs, "and only once")
}

// TestFeedRollback: an end that rolls back never reaches the feed.
func TestFeedRollback(t *testing.T) {
	forEach(t, func(t *testing.T, be backend) {
		s, db, prefix := newStoreDB(t, be)
		ctx := t.Context()
		a := login(t, s, newUser(), jwtpair.IssueOptions{})
		_, cursor := drain(t, s, "")
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		_, err = tx.ExecContext(ctx, "UPDATE "+prefix+"sessions SET ended_at = 1 WHERE session_id = '"+a.SessionID+"'")
		require.NoError(t, err)
		require.NoError(t, tx.Rollback())
		revs, _ := drain(t, s, cursor)
		require.Empty(t, revs)
		require.NoError(t, s.Check(ctx, tokenOf(a)))
	})
}

// listening reports whether a connection of the database LISTENs for the
// feed of prefix.
func listening(t *testing.T, prefix string) bool {
	t.Helper()
	return len(listeners(t, prefix)) > 0
}

// listeners returns the process ids of the database's connections that
// LISTEN for the feed of prefix.
func listeners(t *testing.T, prefix string) []int {
	t.Helper()
	db, err := sql.Open("pgx", postgresURL(t))
	require.NoError(t, err)
	defer db.Close()
	rows, err := db.QueryContext(t.Context(),
		`SELECT pid FROM pg_stat_activity WHERE query = $1 AND state = 'idle'`, `LISTEN "`+prefix+`revocations"`)
	require.NoError(t, err)
	defer rows.Close()
	var pids []int
	for rows.Next() {
		var pid int
		require.NoError(t, rows.Scan(&pid))
		pids = append(pids, pid)
	}
	require.NoError(t, rows.Err())
	return pids
}

// revocationsAsync runs Revocations in a goroutine and delivers its answer.
func revocationsAsync(ctx context.Context, s *sqlstore.Store, cursor string, wait time.Duration) <-chan []jwtpair.Revocation {
	out := make(chan []jwtpair.Revocation, 1)
	go func() {
		revs, _, err := s.Revocations(ctx, cursor, wait)
		if err != nil {
			revs = []jwtpair.Revocation{{UserID: "error: " + err.Error()}}
		}
		out <- revs
	}()
	return out
}

// TestFeedWait: Revocations returns as soon as an entry is recorded
// (PostgreSQL: woken by NOTIFY, with a wait far longer than any poll;
// SQLite: polled), and after the wait with none.
func TestFeedWait(t *testing.T) {
	forEach(t, func(t *testing.T, be backend) {
		s, _, prefix := newStoreDB(t, be)
		ctx := t.Context()
		_, cursor := drain(t, s, "")
		if be.name == postgresBackend.name {
			require.Eventually(t, func() bool { return sqlstore.Listening(s) && listening(t, prefix) }, 10*time.Second, 10*time.Millisecond,
				"the first read starts the listener; waiting, Revocations polls no more")
		}

		start := time.Now()
		revs, next, err := s.Revocations(ctx, cursor, 300*time.Millisecond)
		require.NoError(t, err)
		require.Empty(t, revs)
		require.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond, "none: after the wait")
		require.Less(t, time.Since(start), 3*time.Second)

		a := login(t, s, newUser(), jwtpair.IssueOptions{})
		got := revocationsAsync(ctx, s, next, time.Minute)
		time.Sleep(300 * time.Millisecond) // it waits
		ended := time.Now()
		require.NoError(t, s.EndSession(ctx, a.UserID, a.SessionID))
		select {
		case revs := <-got:
			require.Equal(t, []string{a.SessionID}, sessionIDs(revs))
			t.Logf("%s: woken %v after the end", be.name, time.Since(ended))
		case <-time.After(5 * time.Second):
			t.Fatal("Revocations did not return when an entry was recorded")
		}
		_, next = drain(t, s, next)

		// A cancelled context ends the wait with an error.
		cctx, cancel := context.WithCancel(ctx)
		got = revocationsAsync(cctx, s, next, time.Minute)
		time.Sleep(50 * time.Millisecond)
		cancel()
		select {
		case revs := <-got:
			require.Len(t, revs, 1)
			require.Contains(t, revs[0].UserID, "error: ")
		case <-time.After(5 * time.Second):
			t.Fatal("Revocations ignored its context")
		}

		// Close stops the listener and gives its connection up; the feed
		// still answers, polling.
		require.NoError(t, s.Close())
		if be.name == postgresBackend.name {
			require.Eventually(t, func() bool { return !listening(t, prefix) }, 10*time.Second, 10*time.Millisecond)
		}
		b := login(t, s, newUser(), jwtpair.IssueOptions{})
		got = revocationsAsync(ctx, s, next, time.Minute)
		require.NoError(t, s.EndSession(ctx, b.UserID, b.SessionID))
		select {
		case revs := <-got:
			require.Contains(t, sessionIDs(revs), b.SessionID)
		case <-time.After(5 * time.Second):
			t.Fatal("Revocations after Close did not poll")
		}
	})
}

// TestFeedResumesAfterOutage: a reader whose database goes away gets
// errors (ErrStoreUnavailable) while it is away, and once it is back reads
// every end recorded meanwhile from its old cursor, and is pushed to again
// (its listener reconnected).
func TestFeedResumesAfterOutage(t *testing.T) {
	p, direct, reader, prefix := proxied(t)
	ctx := t.Context()
	user := newUser()
	a, b := login(t, direct, user, jwtpair.IssueOptions{}), login(t, direct, user, jwtpair.IssueOptions{})
	_, cursor := drain(t, reader, "")
	require.Eventually(t, func() bool { return sqlstore.Listening(reader) && listening(t, prefix) }, 10*time.Second, 10*time.Millisecond)
	before := listeners(t, prefix)
	require.Len(t, before, 1)

	p.Stop()
	_, _, err := reader.Revocations(ctx, cursor, 0)
	storetest.RequireUnavailable(t, err, "the database is away")
	require.NoError(t, direct.EndSession(ctx, user, a.SessionID), "an end during the outage")
	_, _, err = reader.Revocations(ctx, cursor, 100*time.Millisecond)
	storetest.RequireUnavailable(t, err, "still away")

	p.Start()
	var revs []jwtpair.Revocation
	require.Eventually(t, func() bool {
		var err error
		revs, cursor, err = reader.Revocations(ctx, cursor, 0)
		return err == nil
	}, 15*time.Second, 50*time.Millisecond, "the feed works again without a restart")
	if len(revs) == 0 {
		revs, cursor = drain(t, reader, cursor)
	}
	require.Equal(t, []string{a.SessionID}, sessionIDs(revs), "the end recorded during the outage")

	require.Eventually(t, func() bool {
		now := listeners(t, prefix)
		return sqlstore.Listening(reader) && len(now) == 1 && now[0] != before[0]
	}, 15*time.Second, 10*time.Millisecond, "the listener reconnects, on a new connection")
	got := revocationsAsync(ctx, reader, cursor, time.Minute)
	require.NoError(t, direct.EndSession(ctx, user, b.SessionID))
	select {
	case revs := <-got:
		require.Equal(t, []string{b.SessionID}, sessionIDs(revs))
	case <-time.After(5 * time.Second):
		t.Fatal("no push after the outage")
	}
}

// TestFeedCursor: invalid cursors are refused; a cursor from beyond what
// the database has handed out (a restored backup) restarts at every
// retained entry; and on SQLite ids are never handed out again once every
// entry is purged.
func TestFeedCursor(t *testing.T) {
	forEach(t, func(t *testing.T, be backend) {
		s, db, prefix := newStoreDB(t, be)
		ctx := t.Context()
		for _, c := range []string{"x", "1:2", "1:2:3,", "-1", "1 OR 1=1", "1:2:3;DROP", "99999999999999999999999"} {
			_, _, err := s.Revocations(ctx, c, 0)
			storetest.RequireUnavailable(t, err, "cursor %q", c)
		}
		a := login(t, s, newUser(), jwtpair.IssueOptions{})
		require.NoError(t, s.EndSession(ctx, a.UserID, a.SessionID))
		beyond := "999999999"
		if be.name == postgresBackend.name {
			beyond = "999999999:999999999:"
		}
		revs, cursor, err := s.Revocations(ctx, beyond, 0)
		require.NoError(t, err)
		require.Equal(t, []string{a.SessionID}, sessionIDs(revs), "a cursor from the future reads everything again")
		revs, cursor = drain(t, s, cursor)
		require.Empty(t, revs)

		age(t, db, prefix, 2*time.Hour)
		_, err = s.PurgeExpired(ctx)
		require.NoError(t, err)
		require.Zero(t, count(t, db, prefix+"revocations"))
		var ended []string
		for range 3 { // more entries than the table held: ids past the cursor's
			b := login(t, s, newUser(), jwtpair.IssueOptions{})
			require.NoError(t, s.EndSession(ctx, b.UserID, b.SessionID))
			ended = append(ended, b.SessionID)
		}
		revs, _ = drain(t, s, cursor)
		assert.Equal(t, ended, sessionIDs(revs), "the entries after the table was emptied")
	})
}

// TestFeedSingleConnectionPool: with a pool of one connection the store
// does not take it for LISTEN (every other call would wait for it forever):
// it polls, and the store keeps working.
func TestFeedSingleConnectionPool(t *testing.T) {
	prefix, open := postgresBackend.newDB(t)
	db := open(t)
	db.SetMaxOpenConns(1)
	s := storeOn(t, db, prefix)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, cursor, err := s.Revocations(ctx, "", 0)
	require.NoError(t, err)
	a := record(newUser())
	require.NoError(t, issueErr(s.Issue(ctx, a, jwtpair.IssueOptions{})), "the pool's connection is free")
	got := revocationsAsync(ctx, s, cursor, time.Minute)
	require.NoError(t, s.EndSession(ctx, a.UserID, a.SessionID))
	select {
	case revs := <-got:
		require.Equal(t, []string{a.SessionID}, sessionIDs(revs))
	case <-ctx.Done():
		t.Fatal("the feed did not poll")
	}
	require.False(t, sqlstore.Listening(s))
}
