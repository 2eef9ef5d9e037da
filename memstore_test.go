package jwtpair

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// memClock is a settable store clock. These tests use it from one goroutine.
type memClock struct{ t time.Time }

func (c *memClock) now() time.Time          { return c.t }
func (c *memClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newClockedMemoryStore(opts ...MemoryStoreOption) (*MemoryStore, *memClock) {
	clk := &memClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	return NewMemoryStore(append([]MemoryStoreOption{WithMemoryClock(clk.now)}, opts...)...), clk
}

// memLogin starts session sid of user with its first token jti.
func memLogin(t *testing.T, s *MemoryStore, jti, user, sid string, exp time.Time) {
	t.Helper()
	require.NoError(t, issueErr(s.Issue(t.Context(), Record{JTI: jti, UserID: user, SessionID: sid, ExpiresAt: exp}, IssueOptions{})), "Issue(%s)", jti)
}

// tok is the token jti of session sid of user.
func tok(jti, user, sid string) Token { return Token{JTI: jti, UserID: user, SessionID: sid} }

// memIndex returns the sessions held and, per user, the sessions indexed
// (those not ended).
func memIndex(s *MemoryStore) (sessions []string, users map[string][]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	users = make(map[string][]string)
	for id := range s.sessions {
		sessions = append(sessions, id)
	}
	for u, mine := range s.users {
		for id := range mine {
			users[u] = append(users[u], id)
		}
	}
	return sessions, users
}

// checkHeap asserts that the expiry heap holds exactly the records, each
// knowing its place, in heap order.
func checkHeap(t *testing.T, s *MemoryStore) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	require.Len(t, s.expiries, len(s.records))
	for i, r := range s.expiries {
		require.Equal(t, i, r.heapIdx)
		require.Same(t, r, s.records[r.jti])
		if i > 0 {
			require.False(t, r.expiresAt.Before(s.expiries[(i-1)/2].expiresAt), "heap order at %d", i)
		}
	}
}

func TestMemoryStoreEviction(t *testing.T) {
	ctx := t.Context()
	s, clk := newClockedMemoryStore()
	t0 := clk.now()

	memLogin(t, s, "a", "u", "s1", t0.Add(time.Minute))
	require.NoError(t, s.Rotate(ctx, tok("a", "u", "s1"), Record{JTI: "b", ExpiresAt: t0.Add(10 * time.Minute)}, RotateOptions{}))
	memLogin(t, s, "c", "u", "s2", t0.Add(time.Minute))
	memLogin(t, s, "d", "v", "s3", t0.Add(time.Hour))
	require.NoError(t, s.EndSession(ctx, "u", "s1"))
	require.Equal(t, 4, s.Len())
	checkHeap(t, s)

	// An expiry instant counts as expired, as a JWT's exp does.
	clk.advance(time.Minute)
	require.NoError(t, s.Rotate(ctx, tok("d", "v", "s3"), Record{JTI: "e", ExpiresAt: t0.Add(2 * time.Hour)}, RotateOptions{}))
	assert.Equal(t, 3, s.Len(), "a and c evicted")
	checkHeap(t, s)
	sessions, users := memIndex(s)
	assert.ElementsMatch(t, []string{"s1", "s3"}, sessions)
	assert.NotContains(t, users, "u", "s1 ended, s2 gone")
	assert.ElementsMatch(t, []string{"s3"}, users["v"])
	// s1's end outlives a, since b is still held.
	assert.ErrorIs(t, s.Check(ctx, tok("b", "u", "s1")), ErrTokenBlacklisted)
	assert.ErrorIs(t, s.Check(ctx, tok("a", "u", "s1")), ErrTokenNotFound)

	clk.advance(9 * time.Minute)
	require.NoError(t, s.EndSessions(ctx, "nobody", ""))
	assert.Equal(t, 2, s.Len(), "b evicted")
	sessions, _ = memIndex(s)
	assert.ElementsMatch(t, []string{"s3"}, sessions)

	// A session id whose session was forgotten starts afresh.
	memLogin(t, s, "g", "u", "s1", t0.Add(3*time.Hour))
	assert.NoError(t, s.Check(ctx, tok("g", "u", "s1")))

	clk.advance(3 * time.Hour)
	assert.ErrorIs(t, s.Check(ctx, tok("g", "u", "s1")), ErrTokenNotFound)
	assert.Equal(t, 0, s.Len())
	sessions, users = memIndex(s)
	assert.Empty(t, sessions)
	assert.Empty(t, users)
	assert.Empty(t, s.expiries)
}

func TestMemoryStoreSweepIsBounded(t *testing.T) {
	ctx := t.Context()
	s, clk := newClockedMemoryStore()
	t0 := clk.now()
	const n = 2*sweepBatch + 10
	for i := range n {
		memLogin(t, s, fmt.Sprintf("old%d", i), "u", fmt.Sprintf("s%d", i), t0.Add(30*time.Second))
	}
	memLogin(t, s, "x", "u", "sx", t0.Add(time.Minute))

	clk.advance(time.Minute)
	// One sweep evicts a batch of the earlier expiries; x is not reached,
	// but the lookup drops x, so its jti may be issued again.
	memLogin(t, s, "x", "u", "sx2", t0.Add(time.Hour))
	assert.Equal(t, n-sweepBatch+1, s.Len())
	checkHeap(t, s)

	for s.Len() > 1 {
		require.ErrorIs(t, s.Check(ctx, tok("missing", "u", "")), ErrTokenNotFound)
	}
	checkHeap(t, s)
	assert.NoError(t, s.Check(ctx, tok("x", "u", "sx2")))
}

// TestMemoryStoreGraceOnStoreClock: the window is measured on the store's
// clock, to the nanosecond, and is inclusive: "no later than Grace after"
// the consumption.
func TestMemoryStoreGraceOnStoreClock(t *testing.T) {
	ctx := t.Context()
	s, clk := newClockedMemoryStore()
	t0 := clk.now()
	const grace = 30 * time.Second
	exp := t0.Add(24 * time.Hour)
	opts := RotateOptions{Grace: grace}

	memLogin(t, s, "a", "u", "f", exp)
	memLogin(t, s, "x", "u", "g", exp)
	require.NoError(t, s.Rotate(ctx, tok("a", "u", "f"), Record{JTI: "b", ExpiresAt: exp}, opts))
	clk.advance(grace)
	assert.NoError(t, s.Rotate(ctx, tok("a", "u", "f"), Record{JTI: "c", ExpiresAt: exp}, opts), "exactly Grace after the consumption")
	clk.advance(time.Nanosecond)
	assert.ErrorIs(t, s.Rotate(ctx, tok("a", "u", "f"), Record{JTI: "d", ExpiresAt: exp}, opts), ErrTokenReused, "one nanosecond later")
	assert.ErrorIs(t, s.Check(ctx, tok("b", "u", "f")), ErrTokenBlacklisted)
	assert.ErrorIs(t, s.Check(ctx, tok("c", "u", "f")), ErrTokenBlacklisted)
	assert.NoError(t, s.Check(ctx, tok("x", "u", "g")), "another session is untouched")
}

func TestMemoryStoreRefusals(t *testing.T) {
	ctx := t.Context()
	s := NewMemoryStore()
	exp := time.Now().Add(time.Hour)
	memLogin(t, s, "a", "u", "f", exp)

	_, err := s.Issue(ctx, Record{JTI: "a", UserID: "u", SessionID: "f2", ExpiresAt: exp}, IssueOptions{})
	assert.ErrorIs(t, err, ErrStoreUnavailable, "duplicate jti")
	_, err = s.Issue(ctx, Record{JTI: "b", UserID: "v", SessionID: "f", ExpiresAt: exp}, IssueOptions{})
	assert.ErrorIs(t, err, ErrStoreUnavailable, "a session started twice")
	assert.ErrorIs(t, s.Check(ctx, tok("b", "v", "f")), ErrTokenNotFound)
	for _, rec := range []Record{{JTI: "c", UserID: "u", ExpiresAt: exp}, {JTI: "c", SessionID: "s", ExpiresAt: exp}} {
		assert.ErrorIs(t, issueErr(s.Issue(ctx, rec, IssueOptions{})), ErrStoreUnavailable, "no session id or user")
	}

	memLogin(t, s, "c", "u", "g", exp)
	err = s.Rotate(ctx, tok("a", "u", "f"), Record{JTI: "c", ExpiresAt: exp}, RotateOptions{})
	assert.ErrorIs(t, err, ErrStoreUnavailable, "successor jti taken")
	assert.NoError(t, s.Check(ctx, tok("a", "u", "f")), "a refused rotation consumes nothing")
	assert.Equal(t, 2, s.Len())
}

// TestMemoryStoreCapForgets: the sessions the cap ends are forgotten at
// once, every record of them, so that a user's memory is bounded by the
// cap whatever the rate of logins; their end is in the feed.
func TestMemoryStoreCapForgets(t *testing.T) {
	ctx := t.Context()
	s, clk := newClockedMemoryStore()
	exp := clk.now().Add(time.Hour)
	capped := IssueOptions{MaxSessions: 3}
	for i := range 100 {
		sid := fmt.Sprintf("s%d", i)
		require.NoError(t, issueErr(s.Issue(ctx, Record{JTI: "j" + sid, UserID: "u", SessionID: sid, ExpiresAt: exp}, capped)))
		require.NoError(t, s.Rotate(ctx, tok("j"+sid, "u", sid), Record{JTI: "k" + sid, ExpiresAt: exp}, RotateOptions{}))
		clk.advance(time.Millisecond)
	}
	assert.Equal(t, 6, s.Len(), "two records for each of the 3 live sessions")
	checkHeap(t, s)
	sessions, users := memIndex(s)
	assert.ElementsMatch(t, []string{"s97", "s98", "s99"}, sessions)
	assert.ElementsMatch(t, []string{"s97", "s98", "s99"}, users["u"])
	assert.ErrorIs(t, s.Check(ctx, tok("ks0", "u", "s0")), ErrTokenNotFound, "forgotten")

	revs, _, err := s.Revocations(ctx, "", 0)
	require.NoError(t, err)
	require.Len(t, revs, 97)
	assert.Equal(t, Revocation{UserID: "u", SessionID: "s0", At: clk.now().Add(-97 * time.Millisecond)}, revs[0], "ended by the fourth login")
}

// TestMemoryStoreFeed: the log is numbered, read after a cursor, trimmed
// by the retention on the store's clock; an old or foreign cursor reads
// everything retained; a waiting call is woken by the next revocation.
func TestMemoryStoreFeed(t *testing.T) {
	ctx := t.Context()
	s, clk := newClockedMemoryStore(WithMemoryRevocationRetention(10 * time.Minute))
	assert.Equal(t, 10*time.Minute, s.RevocationRetention())
	exp := clk.now().Add(time.Hour)

	revs, cursor, err := s.Revocations(ctx, "", 0)
	require.NoError(t, err)
	assert.Empty(t, revs)
	assert.Equal(t, "0", cursor)

	for i := range 4 {
		sid := fmt.Sprintf("s%d", i)
		memLogin(t, s, "j"+sid, "u", sid, exp)
		require.NoError(t, s.EndSession(ctx, "u", sid))
		clk.advance(3 * time.Minute)
	}
	revs, cursor, err = s.Revocations(ctx, "", 0)
	require.NoError(t, err)
	assert.Equal(t, "4", cursor)
	require.Len(t, revs, 3, "the first is past the retention")
	assert.Equal(t, "s1", revs[0].SessionID)

	revs, _, err = s.Revocations(ctx, "2", 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"s2", "s3"}, sessionIDsOf(revs))
	for _, c := range []string{"0", "99"} {
		revs, _, err = s.Revocations(ctx, c, 0)
		require.NoError(t, err)
		assert.Equal(t, []string{"s1", "s2", "s3"}, sessionIDsOf(revs), "cursor %s: everything retained", c)
	}
	_, _, err = s.Revocations(ctx, "x", 0)
	assert.ErrorIs(t, err, ErrStoreUnavailable)

	clk.advance(time.Hour)
	revs, cursor, err = s.Revocations(ctx, "4", 0)
	require.NoError(t, err)
	assert.Empty(t, revs)
	assert.Equal(t, "4", cursor, "numbers go on after a trim")
	assert.Empty(t, s.log)

	done := make(chan []Revocation)
	go func() {
		revs, _, err := s.Revocations(context.Background(), cursor, time.Minute)
		assert.NoError(t, err)
		done <- revs
	}()
	time.Sleep(20 * time.Millisecond)
	require.NoError(t, s.EndSessions(ctx, "w", ""))
	select {
	case revs := <-done:
		assert.Equal(t, []Revocation{{UserID: "w", At: clk.now()}}, revs)
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting call was not woken")
	}
}

func sessionIDsOf(revs []Revocation) []string {
	var out []string
	for _, r := range revs {
		out = append(out, r.SessionID)
	}
	return out
}

func TestMemoryStoreCancelledContext(t *testing.T) {
	s := NewMemoryStore()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := s.Check(ctx, tok("a", "u", "s"))
	assert.ErrorIs(t, err, ErrStoreUnavailable)
	assert.ErrorIs(t, err, context.Canceled)
}

// MemoryStore starts no goroutines (see its doc), so Close has nothing to
// stop; it must still be safe to call repeatedly and leave the store usable.
func TestMemoryStoreClose(t *testing.T) {
	s := NewMemoryStore()
	memLogin(t, s, "a", "u", "f", time.Now().Add(time.Hour))
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	assert.NoError(t, s.Check(t.Context(), tok("a", "u", "f")))
}

// TestMemoryStoreBytesPerSession measures the heap one live session takes
// (one login: its session, its first record, its index entries), with the
// default client metadata of a browser, and reports it; BENCHMARKS.md
// quotes it. It bounds it loosely, so that a change that doubles it is
// noticed.
func TestMemoryStoreBytesPerSession(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 100k sessions")
	}
	const n = 100_000
	client := map[string]string{
		"user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
		"ip":         "203.0.113.7",
	}
	exp := time.Now().Add(time.Hour)
	// No user past the cap: every login stays live. (An evicted session is
	// forgotten at once, so the figure would be per login, not per live
	// session.)
	userIDs := make([]string, n/DefaultMaxSessionsPerUser)
	for i := range userIDs {
		userIDs[i] = fmt.Sprintf("user-%d", i)
	}
	for _, withClient := range []bool{false, true} {
		opts := IssueOptions{MaxSessions: DefaultMaxSessionsPerUser}
		s := NewMemoryStore()
		before := heapInUse()
		for i := range n {
			if withClient {
				opts.Client = boundClient(client) // the strings of each login, as the Auth passes them
			}
			rec := Record{JTI: newID(), UserID: userIDs[i%len(userIDs)], SessionID: newID(), ExpiresAt: exp}
			if _, err := s.Issue(t.Context(), rec, opts); err != nil {
				t.Fatal(err)
			}
		}
		perSession := float64(heapInUse()-before) / n
		require.Equal(t, n, len(s.sessions), "every session live")
		runtime.KeepAlive(s)
		t.Logf("memory store: %.0f bytes per session (client metadata: %v), ids and strings included", perSession, withClient)
		assert.Less(t, perSession, 2000.0)
	}
}

// heapInUse returns the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
