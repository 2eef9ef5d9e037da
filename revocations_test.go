package jwtpair

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bodyAccessBlacklisted is the middleware's answer to an access token of
// an ended session.
const bodyAccessBlacklisted = `{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is blacklisted"}]}`

// fakeFeed is a memory store whose revocation feed a test controls: it
// can fail, or hold every call until released; otherwise it is the memory
// store's.
type fakeFeed struct {
	*MemoryStore
	mu    sync.Mutex
	fail  error           // while set, Revocations fails with it
	block chan struct{}   // while set, Revocations waits for it to close
	waits []time.Duration // the wait of every call, in order
}

func newFakeFeed() *fakeFeed { return &fakeFeed{MemoryStore: NewMemoryStore()} }

func (f *fakeFeed) set(fail error, block chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail, f.block = fail, block
}

func (f *fakeFeed) Revocations(ctx context.Context, cursor string, wait time.Duration) ([]Revocation, string, error) {
	f.mu.Lock()
	fail, block := f.fail, f.block
	f.waits = append(f.waits, wait)
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return nil, "", fmt.Errorf("%w: %w", ErrStoreUnavailable, ctx.Err())
		}
	}
	if fail != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrStoreUnavailable, fail)
	}
	return f.MemoryStore.Revocations(ctx, cursor, wait)
}

// protected serves a GET of the middleware with an access token.
func protected(a *Auth, access string) (int, string) {
	w := serveWithHeader(a.Middleware(hello), "Authorization", "Bearer "+access)
	return w.Code, w.Body.String()
}

// awaitStatus polls the middleware with access until it answers want, and
// fails t after a few seconds. It returns how long that took.
func awaitStatus(t *testing.T, a *Auth, access string, want int) time.Duration {
	t.Helper()
	start := time.Now()
	var status int
	var body string
	for time.Since(start) < 5*time.Second {
		if status, body = protected(a, access); status == want {
			return time.Since(start)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("the middleware answered %d %s, not %d, for 5 s", status, body, want)
	return 0
}

// awaitWithin polls the middleware with access, after something happened
// at since, until it answers want, and returns the body; it answers 200
// meanwhile only to requests sent less than bound after since, and want
// within a few seconds, or t fails.
func awaitWithin(t *testing.T, a *Auth, access string, want int, since time.Time, bound time.Duration) string {
	t.Helper()
	for {
		sent := time.Now()
		status, body := protected(a, access)
		if status == want {
			t.Logf("%d %v after the event", want, time.Since(since))
			return body
		}
		require.Equal(t, http.StatusOK, status, body)
		require.Less(t, sent.Sub(since), bound, "200 past the bound")
		require.Less(t, time.Since(since), 5*time.Second, "no %d", want)
		time.Sleep(time.Millisecond)
	}
}

// sidOf is the sid of a token a verifies.
func sidOf(t *testing.T, a *Auth, tok string) string {
	t.Helper()
	c, err := a.verify(tok, "")
	require.NoError(t, err)
	require.NotEmpty(t, c.SessionID)
	return c.SessionID
}

// TestEndedSessionRefusedOnAnotherAuth: two Auths over one memory store,
// as two handlers of one process: a logout on one reaches the session's
// access tokens on the other within the staleness bound, the other
// sessions untouched. Without the revoked set (the middleware not looking
// it up) the access token stays valid and the test fails.
func TestEndedSessionRefusedOnAnotherAuth(t *testing.T) {
	store := NewMemoryStore()
	a, _ := newTestAuth(t, WithStore(store))
	b, _ := newTestAuth(t, WithStore(store))
	p, other := login(t, a), login(t, a)
	status, _ := protected(b, p.Access)
	require.Equal(t, http.StatusOK, status)

	require.Equal(t, http.StatusOK, postJSON(t, a.BlacklistHandler(), refreshBody(p.Refresh)).Code)
	body := awaitWithin(t, b, p.Access, http.StatusUnauthorized, time.Now(), DefaultRevocationStaleness)
	assert.JSONEq(t, bodyAccessBlacklisted, body)
	status, _ = protected(b, other.Access)
	assert.Equal(t, http.StatusOK, status, "the user's other session")

	// VerifyAccess and the verify endpoint refuse it too.
	_, err := b.VerifyAccess(t.Context(), p.Access)
	assert.ErrorIs(t, err, ErrTokenBlacklisted)
	_, err = b.Verify(t.Context(), p.Access)
	assert.ErrorIs(t, err, ErrTokenBlacklisted)
	// As simplejwt's verify answers a blacklisted token: a validation error.
	w := postJSON(t, b.VerifyHandler(), `{"token":"`+p.Access+`"}`)
	assert.Equal(t, http.StatusBadRequest, w.Code)
	assert.JSONEq(t, `{"non_field_errors":["Token is blacklisted"]}`, w.Body.String())
}

// TestStaleFeedFailsClosed: when the feed fails, the middleware answers
// 503 once the last successful reading is older than the bound (and never
// 200 after that), whatever the Auth's clock (WithClock) says; when the
// feed works again it recovers by itself, and what was ended meanwhile is
// refused from the first 200 on. Without the staleness check the
// middleware keeps answering 200 and the test fails.
func TestStaleFeedFailsClosed(t *testing.T) {
	const bound = 200 * time.Millisecond
	feed := newFakeFeed()
	a, clk := newTestAuth(t, WithStore(feed), WithRevocationStaleness(bound))
	live, ended := login(t, a), login(t, a)
	status, _ := protected(a, live.Access)
	require.Equal(t, http.StatusOK, status)

	feed.set(errors.New("connection refused"), nil)
	body := awaitWithin(t, a, live.Access, http.StatusServiceUnavailable, time.Now(), bound)
	assert.JSONEq(t, bodyUnavailable, body)
	_, err := a.VerifyAccess(t.Context(), live.Access)
	assert.ErrorIs(t, err, ErrStoreUnavailable)
	clk.Advance(time.Minute) // the injectable clock has no say
	status, _ = protected(a, live.Access)
	assert.Equal(t, http.StatusServiceUnavailable, status)
	w := serveWithHeader(a.OptionalMiddleware(hello), "X-None")
	assert.Equal(t, http.StatusOK, w.Code, "anonymous requests need no revoked set")

	require.NoError(t, a.Revoke(t.Context(), ended.Refresh)) // the store works; its feed does not
	time.Sleep(2 * bound)
	feed.set(nil, nil)
	awaitStatus(t, a, live.Access, http.StatusOK)
	status, body = protected(a, ended.Access)
	assert.Equal(t, http.StatusUnauthorized, status, "ended while the feed was down: %s", body)
}

// TestFeedHangFailsClosed: a feed call that hangs (a network black hole)
// makes the set stale as a failure does.
func TestFeedHangFailsClosed(t *testing.T) {
	const bound = 200 * time.Millisecond
	feed := newFakeFeed()
	a, _ := newTestAuth(t, WithStore(feed), WithRevocationStaleness(bound))
	p := login(t, a)
	hang := make(chan struct{})
	feed.set(nil, hang)
	took := awaitStatus(t, a, p.Access, http.StatusServiceUnavailable)
	assert.Less(t, took, bound+maxFeedWait+time.Second)
	feed.set(nil, nil)
	close(hang)
	awaitStatus(t, a, p.Access, http.StatusOK)
}

// TestCatchUpBeforeServing: a starting Auth reads every retained
// revocation before it accepts a token: New waits for that reading, and
// while it cannot be had (the feed down at start) protected requests
// answer 503, never 200; once it is had, ended sessions are refused from
// the first request. Without the catch-up (a follower that starts from
// the feed's end) or with an Auth fresh from the start, the test fails.
func TestCatchUpBeforeServing(t *testing.T) {
	feed := newFakeFeed()
	first, _ := newTestAuth(t, WithStore(feed))
	ended, live := login(t, first), login(t, first)
	require.NoError(t, first.EndSession(t.Context(), "1", sidOf(t, first, ended.Access)))

	t.Run("New waits for the catch-up", func(t *testing.T) {
		a, _ := newTestAuth(t, WithStore(feed))
		status, _ := protected(a, ended.Access)
		assert.Equal(t, http.StatusUnauthorized, status, "the first request already knows")
		status, _ = protected(a, live.Access)
		assert.Equal(t, http.StatusOK, status)
	})
	t.Run("stale until the catch-up", func(t *testing.T) {
		feed.set(errors.New("connection refused"), nil)
		start := time.Now()
		// A bound far longer than New waits: not having read the feed
		// once is stale, however recent the start.
		a, _ := newTestAuth(t, WithStore(feed), WithRevocationStaleness(time.Minute))
		assert.GreaterOrEqual(t, time.Since(start), feedStartWait, "New waited for the catch-up")
		for _, p := range []Pair{ended, live} {
			status, body := protected(a, p.Access)
			assert.Equal(t, http.StatusServiceUnavailable, status, body)
		}
		feed.set(nil, nil)
		awaitStatus(t, a, live.Access, http.StatusOK)
		status, _ := protected(a, ended.Access)
		assert.Equal(t, http.StatusUnauthorized, status)
	})
}

// TestCloseStopsTheFollower: Close stops the feed's goroutine and waits
// for it; the Auth then goes stale (503), and Close can be called again.
func TestCloseStopsTheFollower(t *testing.T) {
	a, err := New(WithHMACKey(testSecret), WithAuthenticator(newTestUsers()), WithLogger(quietLogger), WithRevocationStaleness(minStaleness))
	require.NoError(t, err)
	p := login(t, a)
	require.NoError(t, a.Close())
	select {
	case <-a.revoked.done:
	default:
		t.Fatal("Close returned before the follower")
	}
	require.NoError(t, a.Close())
	awaitStatus(t, a, p.Access, http.StatusServiceUnavailable)
}

// TestNewNeedsARevocationFeed: New refuses a store without a revocation
// feed, and a feed that forgets revocations before the access tokens they
// cover expire, unless WithoutRevocationFeed says that access tokens of
// ended sessions may live on; that Auth runs no follower and checks no set.
func TestNewNeedsARevocationFeed(t *testing.T) {
	_, err := New(WithHMACKey(testSecret), WithAuthenticator(newTestUsers()), WithStore(failingStore{}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the store has no revocation feed")

	short := NewMemoryStore(WithMemoryRevocationRetention(4 * time.Minute))
	_, err = New(WithHMACKey(testSecret), WithAuthenticator(newTestUsers()), WithStore(short))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "keeps revocations 4m0s, less than the access TTL plus leeway (5m0s)")
	_, err = New(WithHMACKey(testSecret), WithAuthenticator(newTestUsers()), WithStore(short), WithAccessTTL(3*time.Minute), WithLeeway(time.Minute))
	assert.NoError(t, err, "exactly covered")

	for _, store := range []Store{failingStore{}, short} {
		a, err := New(WithHMACKey(testSecret), WithAuthenticator(newTestUsers()), WithStore(store), WithoutRevocationFeed())
		require.NoError(t, err)
		assert.Nil(t, a.revoked)
	}

	// The opt-out: a logout leaves the access token valid until it expires.
	a, _ := newTestAuth(t, WithoutRevocationFeed())
	p := login(t, a)
	require.NoError(t, a.Revoke(t.Context(), p.Refresh))
	status, _ := protected(a, p.Access)
	assert.Equal(t, http.StatusOK, status)

	_, err = New(WithHMACKey(testSecret), WithAuthenticator(newTestUsers()), WithRevocationStaleness(minStaleness-1))
	assert.ErrorContains(t, err, "revocation staleness 99.999999ms is under 100ms")
}

// TestUserRevocationCoversTokensWithoutSID: ending every session of a
// user reaches the access tokens that name no session (minted by
// simplejwt, with the same secret) issued until then, and no later ones.
// Without the user entries of the set the test fails.
func TestUserRevocationCoversTokensWithoutSID(t *testing.T) {
	a, clk := newTestAuth(t)
	before := handTokenHS256(t, testSecret, simplejwtHeader, claimsJSON(t, accessClaims(clk)))
	status, _ := protected(a, before)
	require.Equal(t, http.StatusOK, status)
	bob := accessClaims(clk)
	bob["user_id"] = 2
	bobs := handTokenHS256(t, testSecret, simplejwtHeader, claimsJSON(t, bob))

	require.NoError(t, a.EndAllSessions(t.Context(), "1"))
	awaitStatus(t, a, before, http.StatusUnauthorized)
	status, _ = protected(a, bobs)
	assert.Equal(t, http.StatusOK, status, "another user")

	// The entry dates the end on this Auth's clock, from the feed: tokens
	// issued a while after it are not covered.
	clk.Advance(time.Minute)
	after := handTokenHS256(t, testSecret, simplejwtHeader, claimsJSON(t, accessClaims(clk)))
	status, body := protected(a, after)
	assert.Equal(t, http.StatusOK, status, "issued after the end: %s", body)
}

// TestRevokedSetGenerations: the set keeps every entry across the young
// generation's merges into the old one, each batch leaves the published
// set unchanged (a new one is published), and entries are dropped once
// their tokens have expired, on the Auth's clock.
func TestRevokedSetGenerations(t *testing.T) {
	clk := newFakeClock()
	storeNow := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) // another clock than the Auth's
	v := &revocations{now: clk.Now, cover: 5 * time.Minute, logger: quietLogger}
	v.set.Store(&revokedSet{keys: newIDKeys()})
	v.pruneAt = clk.Now().Add(time.Hour)
	const batches, per = 40, 100
	v.apply([]Revocation{{UserID: "everyone-out", At: storeNow}})
	for b := range batches {
		batch := make([]Revocation, per)
		for i := range batch {
			batch[i] = Revocation{UserID: "u", SessionID: fmt.Sprintf("s%d-%d", b, i), At: storeNow}
		}
		before := v.set.Load()
		sizeBefore := len(before.young) + len(before.old)
		v.apply(batch)
		assert.Equal(t, sizeBefore, len(before.young)+len(before.old), "a published set never changes")
		after := v.set.Load()
		assert.LessOrEqual(t, len(after.young), max(youngMin, len(after.old)/4)+per, "the young generation stays small")
	}
	s := v.set.Load()
	assert.Equal(t, batches*per, len(s.young)+len(s.old), "nothing lost in the merges")
	assert.NotEmpty(t, s.old, "merged at least once")
	for b := range batches {
		assert.True(t, s.has(&Claims{UserID: "u", SessionID: fmt.Sprintf("s%d-%d", b, per-1)}, nil))
	}
	assert.False(t, s.has(&Claims{UserID: "u", SessionID: "s-unknown"}, nil))
	assert.True(t, s.has(&Claims{UserID: "everyone-out", IssuedAt: clk.Now()}, nil))

	// Two minutes later on both clocks: a revocation the store dated more
	// than the cover before the latest it has told is not kept at all (its
	// tokens expired before it was read); a later one gets the full cover.
	clk.Advance(2 * time.Minute)
	storeNow = storeNow.Add(2 * time.Minute)
	v.apply([]Revocation{{UserID: "u", SessionID: "late", At: storeNow}, {UserID: "u", SessionID: "stale", At: storeNow.Add(-6 * time.Minute)}})
	s = v.set.Load()
	assert.True(t, s.has(&Claims{SessionID: "late"}, nil))
	assert.False(t, s.has(&Claims{SessionID: "stale"}, nil))

	// Past the cover on the Auth's clock (6 minutes after the first ones
	// were read), a prune drops the first ones, not the late one.
	clk.Advance(4 * time.Minute)
	v.pruneAt = clk.Now()
	v.apply(nil)
	s = v.set.Load()
	assert.Equal(t, 1, len(s.young)+len(s.old), "only the late one is left")
	assert.True(t, s.has(&Claims{SessionID: "late"}, nil))
	assert.Empty(t, s.users, "the user entry is dropped too")
	clk.Advance(2 * time.Minute)
	v.pruneAt = clk.Now()
	v.apply(nil)
	s = v.set.Load()
	assert.Zero(t, len(s.young)+len(s.old))
}

// TestRevokedLookupAllocatesNothing: the request path's lookup, with a set
// of 100k ended sessions, allocates nothing, for a token of an ended
// session, of a live one, or without a sid.
func TestRevokedLookupAllocatesNothing(t *testing.T) {
	a, _ := newTestAuth(t)
	frozenRevocations(a, 100_000)
	for name, c := range map[string]*Claims{
		"ended":  {UserID: "u", SessionID: "s-7"},
		"live":   {UserID: "u", SessionID: "live"},
		"no sid": {UserID: "1"},
	} {
		assert.Zero(t, allocsPerRun(100, func() { _ = a.revoked.check(c, nil, time.Time{}) }), name)
		k := a.revoked.keyOf(c.SessionID)
		assert.Zero(t, allocsPerRun(100, func() { _ = a.revoked.check(c, &k, time.Time{}) }), name+", keyed")
	}
	assert.ErrorIs(t, a.revoked.check(&Claims{SessionID: "s-99999"}, nil, time.Time{}), ErrTokenBlacklisted)
	k := a.revoked.keyOf("s-99999")
	assert.ErrorIs(t, a.revoked.check(&Claims{SessionID: "s-99999"}, &k, time.Time{}), ErrTokenBlacklisted, "keyed")
	k = a.revoked.keyOf("live")
	assert.NoError(t, a.revoked.check(&Claims{SessionID: "s-99999"}, &k, time.Time{}), "the key given is the one looked up")
}

// frozenRevocations stops a's follower and gives a a revoked set of n
// ended sessions, "s-0" …, applied as the follower does from a feed (fresh
// strings, as a network store returns them, in batches of 1000), that
// stays fresh for an hour and follows nothing: for lookups and benchmarks.
func frozenRevocations(a *Auth, n int) {
	a.revoked.close()
	v := &revocations{now: a.now, cover: a.bearerTTL() + a.leeway + revocationMargin, stale: time.Hour, logger: quietLogger, origin: time.Now()}
	v.set.Store(&revokedSet{keys: newIDKeys()})
	v.pruneAt = v.now().Add(time.Hour)
	at := time.Now()
	for i := 0; i < n; i += 1000 {
		batch := make([]Revocation, 0, 1000)
		for j := i; j < min(n, i+1000); j++ {
			batch = append(batch, Revocation{UserID: strings.Clone("user"), SessionID: fmt.Sprintf("s-%d", j), At: at})
		}
		v.apply(batch)
	}
	v.fresh.Store(1)
	v.stop.Do(func() {}) // nothing to stop
	a.revoked = v
}

// TestRevokedSetBytesPerEntry reports the heap an entry of the revoked set
// takes, its session id included; BENCHMARKS.md quotes it.
func TestRevokedSetBytesPerEntry(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a set of 100k entries")
	}
	const n = 100_000
	clk := newFakeClock()
	v := &revocations{now: clk.Now, cover: 6 * time.Minute, logger: quietLogger}
	v.set.Store(&revokedSet{keys: newIDKeys()})
	v.pruneAt = clk.Now().Add(time.Hour)
	at := time.Now()
	before := heapInUse()
	for i := 0; i < n; i += 1000 {
		batch := make([]Revocation, 1000)
		for j := range batch {
			batch[j] = Revocation{UserID: "user", SessionID: newID(), At: at}
		}
		v.apply(batch)
	}
	v.pruneAt = clk.Now()
	v.apply(nil) // one generation, as at rest
	perEntry := float64(heapInUse()-before) / n
	s := v.set.Load()
	require.Equal(t, n, len(s.old)+len(s.young))
	t.Logf("revoked set: %.0f bytes per ended session (its id kept as a 16-byte hash)", perEntry)
	assert.Less(t, perEntry, 100.0)
}

// TestStaleSetLoggedOnce: while the feed fails, its follower logs the
// failure once, and the 503s it causes are not logged one by one (an
// outage would flood the log); its recovery is logged once too.
func TestStaleSetLoggedOnce(t *testing.T) {
	logger, logs := recordLogs()
	feed := newFakeFeed()
	a, _ := newTestAuth(t, WithStore(feed), WithRevocationStaleness(minStaleness), WithLogger(logger))
	p := login(t, a)
	feed.set(errors.New("connection refused"), nil)
	awaitStatus(t, a, p.Access, http.StatusServiceUnavailable)
	for range 10 {
		status, _ := protected(a, p.Access)
		require.Equal(t, http.StatusServiceUnavailable, status)
	}
	feed.set(nil, nil)
	awaitStatus(t, a, p.Access, http.StatusOK)
	assert.Equal(t, 1, strings.Count(logs.String(), "reading the revocation feed failed"), logs.String())
	assert.Equal(t, 1, strings.Count(logs.String(), "the revocation feed is read again"), logs.String())
	assert.NotContains(t, logs.String(), "request failed")
}

// TestLateReadIsRepeatedAtOnce: when a read of the feed took far longer
// than a wait (the backend slow, the process stalled), the next read does
// not wait, so that the set is fresh again as soon as it can be. Without
// that, requests get 503s for one more wait.
func TestLateReadIsRepeatedAtOnce(t *testing.T) {
	feed := newFakeFeed()
	a, _ := newTestAuth(t, WithStore(feed))
	p := login(t, a)
	hold := make(chan struct{})
	feed.set(nil, hold)
	awaitStatus(t, a, p.Access, http.StatusServiceUnavailable)
	feed.mu.Lock()
	held := len(feed.waits)
	feed.mu.Unlock()
	feed.set(nil, nil)
	close(hold) // the held read returns, late
	awaitStatus(t, a, p.Access, http.StatusOK)
	feed.mu.Lock()
	defer feed.mu.Unlock()
	require.Greater(t, len(feed.waits), held)
	assert.Equal(t, time.Duration(0), feed.waits[held], "the read after the late one")
	assert.Equal(t, maxFeedWait, feed.waits[held-1], "the late one waited as usual")
}
