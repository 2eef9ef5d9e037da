package storetest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
)

// The cases of the revocation feed.

// feedTimeout bounds how long a case reads the feed for what it expects.
const feedTimeout = 10 * time.Second

// withFeed runs a feed case on a store that implements RevocationFeed,
// and skips it, saying so, on one that does not.
func withFeed(fn func(t *testing.T, s jwtpair.Store, f jwtpair.RevocationFeed)) func(*testing.T, jwtpair.Store) {
	return func(t *testing.T, s jwtpair.Store) {
		f, ok := s.(jwtpair.RevocationFeed)
		if !ok {
			t.Skip("the store implements no RevocationFeed: Auths over it need WithoutRevocationFeed")
		}
		fn(t, s, f)
	}
}

// revKey is what a revocation names: a session of a user, or (SessionID "")
// every session of the user.
type revKey struct{ UserID, SessionID string }

func keyOf(r jwtpair.Revocation) revKey { return revKey{r.UserID, r.SessionID} }

// ended is the revKey of rec's session.
func ended(rec jwtpair.Record) revKey { return revKey{rec.UserID, rec.SessionID} }

// feedEnd returns a cursor past every revocation recorded so far.
func feedEnd(t *testing.T, f jwtpair.RevocationFeed) string {
	t.Helper()
	_, cursor, err := f.Revocations(t.Context(), "", 0)
	require.NoError(t, err, "Revocations")
	return cursor
}

// readUntil reads the feed from cursor until every revocation of want has
// come, failing t after feedTimeout; it returns everything read, and
// checks that each came with an At within a minute of the test's clock.
func readUntil(t *testing.T, f jwtpair.RevocationFeed, cursor string, want ...revKey) []jwtpair.Revocation {
	t.Helper()
	got, missing, err := collect(t.Context(), f, cursor, want)
	require.NoError(t, err, "Revocations")
	require.Empty(t, missing, "the feed did not carry them within %v; it carried %v", feedTimeout, keys(got))
	for _, r := range got {
		assert.WithinDuration(t, time.Now(), r.At, pastBy, "At of %v is the store's now", keyOf(r))
	}
	return got
}

// collect reads the feed from cursor until every revocation of want has
// come, or feedTimeout has passed, or a call fails; it returns what it
// read and what of want it did not.
func collect(ctx context.Context, f jwtpair.RevocationFeed, cursor string, want []revKey) (got []jwtpair.Revocation, missing []revKey, err error) {
	deadline := time.Now().Add(feedTimeout)
	for {
		missing = missing[:0]
		for _, k := range want {
			if !slices.ContainsFunc(got, func(r jwtpair.Revocation) bool { return keyOf(r) == k }) {
				missing = append(missing, k)
			}
		}
		if len(missing) == 0 || !time.Now().Before(deadline) {
			return got, missing, nil
		}
		var batch []jwtpair.Revocation
		if batch, cursor, err = f.Revocations(ctx, cursor, 200*time.Millisecond); err != nil {
			return got, missing, err
		}
		got = append(got, batch...)
	}
}

// marker records one revocation of a session of a new user and returns
// its key: what is read up to it holds everything recorded before it.
func marker(t *testing.T, s jwtpair.Store) revKey {
	t.Helper()
	m := Login(t, s)
	require.NoError(t, s.EndSession(t.Context(), m.UserID, m.SessionID))
	return ended(m)
}

// testFeedEveryEnd: every way a session ends is a revocation in the feed:
// logout (with an active or a consumed token), EndSession, EndSessions
// (with keep: the others only; without: each session and the user), reuse
// detected by Rotate, and the per-user cap.
func testFeedEveryEnd(t *testing.T, s jwtpair.Store, f jwtpair.RevocationFeed) {
	ctx := t.Context()
	t.Run("Revoke", func(t *testing.T) {
		a := Login(t, s)
		cursor := feedEnd(t, f)
		require.NoError(t, s.Revoke(ctx, TokenOf(a)))
		readUntil(t, f, cursor, ended(a))
	})
	t.Run("RevokeConsumed", func(t *testing.T) {
		a := Login(t, s)
		mustRotate(t, s, a, noGrace)
		cursor := feedEnd(t, f)
		require.ErrorIs(t, s.Revoke(ctx, TokenOf(a)), jwtpair.ErrTokenBlacklisted)
		readUntil(t, f, cursor, ended(a))
	})
	t.Run("EndSession", func(t *testing.T) {
		a := Login(t, s)
		cursor := feedEnd(t, f)
		require.NoError(t, s.EndSession(ctx, a.UserID, a.SessionID))
		readUntil(t, f, cursor, ended(a))
	})
	t.Run("EndSessionsKeepingOne", func(t *testing.T) {
		a := Login(t, s)
		b := LoginAs(t, s, a.UserID, jwtpair.IssueOptions{})
		kept := LoginAs(t, s, a.UserID, jwtpair.IssueOptions{})
		cursor := feedEnd(t, f)
		require.NoError(t, s.EndSessions(ctx, a.UserID, kept.SessionID))
		got := readUntil(t, f, cursor, ended(a), ended(b), marker(t, s))
		for _, r := range got {
			assert.NotEqual(t, ended(kept), keyOf(r), "the kept session is not revoked")
			assert.NotEqual(t, revKey{a.UserID, ""}, keyOf(r), "keeping a session, EndSessions revokes no user")
		}
	})
	t.Run("EndSessionsAll", func(t *testing.T) {
		a := Login(t, s)
		b := LoginAs(t, s, a.UserID, jwtpair.IssueOptions{})
		cursor := feedEnd(t, f)
		require.NoError(t, s.EndSessions(ctx, a.UserID, ""))
		readUntil(t, f, cursor, ended(a), ended(b), revKey{a.UserID, ""})
	})
	t.Run("EndSessionsOfUserWithoutSessions", func(t *testing.T) {
		// Tokens without a sid (simplejwt's) of a user the store has no
		// session of are still covered.
		user := "user-" + NewID()
		cursor := feedEnd(t, f)
		require.NoError(t, s.EndSessions(ctx, user, ""))
		readUntil(t, f, cursor, revKey{user, ""})
	})
	t.Run("Reuse", func(t *testing.T) {
		a := Login(t, s)
		mustRotate(t, s, a, noGrace)
		cursor := feedEnd(t, f)
		_, err := rotate(t, s, a, noGrace)
		require.ErrorIs(t, err, jwtpair.ErrTokenReused)
		readUntil(t, f, cursor, ended(a))
	})
	t.Run("Cap", func(t *testing.T) {
		a := LoginAs(t, s, "user-"+NewID(), jwtpair.IssueOptions{MaxSessions: 1})
		time.Sleep(tick)
		cursor := feedEnd(t, f)
		b := LoginAs(t, s, a.UserID, jwtpair.IssueOptions{MaxSessions: 1})
		got := readUntil(t, f, cursor, ended(a), marker(t, s))
		for _, r := range got {
			assert.NotEqual(t, ended(b), keyOf(r), "the new session is not revoked")
		}
	})
}

// testFeedCatchUp: the empty cursor reads every revocation retained,
// oldest first.
func testFeedCatchUp(t *testing.T, s jwtpair.Store, f jwtpair.RevocationFeed) {
	var want []revKey
	for range 3 {
		a := Login(t, s)
		require.NoError(t, s.EndSession(t.Context(), a.UserID, a.SessionID))
		want = append(want, ended(a))
		time.Sleep(tick)
	}
	got, cursor, err := f.Revocations(t.Context(), "", 0)
	require.NoError(t, err)
	require.NotEmpty(t, cursor, "a cursor to go on from")
	var order []revKey
	for _, r := range got {
		if k := keyOf(r); slices.Contains(want, k) && !slices.Contains(order, k) {
			order = append(order, k)
		}
	}
	assert.Equal(t, want, order, "every revocation retained, oldest first")
	for i := 1; i < len(got); i++ {
		assert.False(t, got[i].At.Before(got[i-1].At.Add(-precision)), "oldest first: %v then %v", got[i-1].At, got[i].At)
	}

	// From the cursor returned, nothing more until something happens.
	more, _, err := f.Revocations(t.Context(), cursor, 0)
	require.NoError(t, err)
	for _, r := range more {
		assert.NotContains(t, want, keyOf(r), "read again past the cursor")
	}
}

// testFeedWaitReturnsOnNews: a call that waits returns with the first
// revocation recorded meanwhile, well before its wait is over, and never
// empty-handed before it.
func testFeedWaitReturnsOnNews(t *testing.T, s jwtpair.Store, f jwtpair.RevocationFeed) {
	a := Login(t, s)
	cursor := feedEnd(t, f)
	const delay = 200 * time.Millisecond
	var wg sync.WaitGroup
	wg.Go(func() {
		time.Sleep(delay)
		assert.NoError(t, s.EndSession(context.Background(), a.UserID, a.SessionID))
	})
	defer wg.Wait()
	start := time.Now()
	got, _, err := f.Revocations(t.Context(), cursor, feedTimeout)
	elapsed := time.Since(start)
	require.NoError(t, err)
	require.NotEmpty(t, got, "returned empty-handed after %v of a %v wait", elapsed, feedTimeout)
	assert.Contains(t, keys(got), ended(a))
	assert.Less(t, elapsed, feedTimeout/2, "the news is returned as it comes (push), or at the next poll")
}

// testFeedWaitTimesOut: with nothing to say, a call returns once its wait
// is over, not before and not much after, with a cursor that goes on from
// there; a call that does not wait returns at once.
func testFeedWaitTimesOut(t *testing.T, s jwtpair.Store, f jwtpair.RevocationFeed) {
	cursor := feedEnd(t, f)
	const wait = 300 * time.Millisecond
	start := time.Now()
	got, next, err := f.Revocations(t.Context(), cursor, wait)
	elapsed := time.Since(start)
	require.NoError(t, err)
	assert.Empty(t, got)
	assert.GreaterOrEqual(t, elapsed, wait-10*time.Millisecond, "returned before its wait with nothing")
	assert.Less(t, elapsed, wait+3*time.Second, "returned long after its wait")

	start = time.Now()
	got, next, err = f.Revocations(t.Context(), next, 0)
	require.NoError(t, err)
	assert.Empty(t, got)
	assert.Less(t, time.Since(start), time.Second, "wait 0 returns at once")

	a := Login(t, s)
	require.NoError(t, s.EndSession(t.Context(), a.UserID, a.SessionID))
	got, _, err = f.Revocations(t.Context(), next, 0)
	require.NoError(t, err)
	assert.Contains(t, keys(got), ended(a), "recorded before the call: never missed, even without waiting")
}

// testFeedMissesNothing: revocations recorded concurrently, by many
// callers at once, all reach a reader following the feed, and all are in
// one call made after they were recorded.
func testFeedMissesNothing(t *testing.T, s jwtpair.Store, f jwtpair.RevocationFeed) {
	const (
		workers = 16
		each    = 8
	)
	recs := make([]jwtpair.Record, workers*each)
	want := make([]revKey, len(recs))
	for i := range recs {
		recs[i] = Login(t, s)
		want[i] = ended(recs[i])
	}
	cursor := feedEnd(t, f)

	var (
		wg                sync.WaitGroup
		followed, missing []revKey
		ferr              error
	)
	wg.Go(func() {
		var got []jwtpair.Revocation
		got, missing, ferr = collect(context.Background(), f, cursor, want)
		followed = keys(got)
	})
	together(workers, func(w int) {
		for _, rec := range recs[w*each : (w+1)*each] {
			assert.NoError(t, s.EndSession(context.Background(), rec.UserID, rec.SessionID))
		}
	})
	all, _, err := f.Revocations(t.Context(), cursor, 0)
	require.NoError(t, err)
	assert.Subset(t, keys(all), want, "one call after the ends carries them all")
	wg.Wait()
	require.NoError(t, ferr, "Revocations")
	assert.Empty(t, missing, "a reader following the feed saw them all")
	assert.Subset(t, followed, want)
}

// testFeedIgnoresOtherUsers: naming a session with another user than its
// own ends nothing, so the feed carries nothing of it: one user cannot get
// another's access tokens refused.
func testFeedIgnoresOtherUsers(t *testing.T, s jwtpair.Store, f jwtpair.RevocationFeed) {
	victim := Login(t, s)
	attacker := Login(t, s)
	cursor := feedEnd(t, f)
	require.NoError(t, s.EndSession(t.Context(), attacker.UserID, victim.SessionID))
	require.NoError(t, s.EndSessions(t.Context(), attacker.UserID, victim.SessionID))
	got := readUntil(t, f, cursor, ended(attacker), marker(t, s))
	for _, r := range got {
		assert.NotEqual(t, victim.SessionID, r.SessionID, "a revocation of the victim's session")
		assert.NotEqual(t, victim.UserID, r.UserID, "a revocation of the victim")
	}
}

// testFeedRetention: the feed keeps revocations at least as long as the
// default access TTL, so that an Auth with the defaults can use it.
func testFeedRetention(t *testing.T, _ jwtpair.Store, f jwtpair.RevocationFeed) {
	assert.GreaterOrEqual(t, f.RevocationRetention(), jwtpair.DefaultAccessTTL)
}

// testFeedCancelled: a cancelled call is a store failure, waiting or not,
// and returns at once.
func testFeedCancelled(t *testing.T, s jwtpair.Store, f jwtpair.RevocationFeed) {
	cursor := feedEnd(t, f)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, wait := range []time.Duration{0, feedTimeout} {
		start := time.Now()
		_, _, err := f.Revocations(ctx, cursor, wait)
		RequireUnavailable(t, err, "Revocations(wait %v) with a cancelled context", wait)
		assert.Less(t, time.Since(start), time.Second)
	}
	_, _, err := f.Revocations(ctx, "", 0)
	RequireUnavailable(t, err, "the catch-up with a cancelled context")
}

// keys lists what revocations name.
func keys(revs []jwtpair.Revocation) []revKey {
	out := make([]revKey, len(revs))
	for i, r := range revs {
		out[i] = keyOf(r)
	}
	return out
}
