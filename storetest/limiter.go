package storetest

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
)

// LimiterOpener returns a new [jwtpair.Limiter] value over one backend each
// time it is called (a new client or connection pool where the backend has
// one), as separate processes sharing it have; the memory limiter, being
// its own backend, returns itself. The suite's keys are random, so every
// call may share one namespace.
type LimiterOpener func(t *testing.T) jwtpair.Limiter

// RunLimiter runs the conformance suite of [jwtpair.Limiter] against the
// limiters open returns, one subtest per behaviour: a burst then refusals
// with the wait until the next attempt; refused attempts not counted;
// attempts regained over time; keys independent; Reset; an invalid limit
// and a cancelled context refused; 64 concurrent attempts on one key over
// two limiter values letting exactly the burst through; and 64 concurrent
// logins of one username from one address, split over two Auth instances
// with a limiter value each, reaching the Authenticator exactly as often
// as the default LoginPerUserIP burst allows.
//
// Waits are measured on the backend's clock (Redis TIME, the database's),
// which the suite cannot set: the one case that must see an attempt
// regained sleeps for it, well under a second.
func RunLimiter(t *testing.T, open LimiterOpener) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, open LimiterOpener)
	}{
		{"BurstThenRefused", testLimiterBurst},
		{"RefusedNotCounted", testLimiterRefusedNotCounted},
		{"Regained", testLimiterRegained},
		{"KeysIndependent", testLimiterKeys},
		{"Reset", testLimiterReset},
		{"InvalidLimit", testLimiterInvalid},
		{"CancelledContext", testLimiterCancelled},
		{"ConcurrentBurst", testLimiterConcurrent},
		{"LoginBurstAcrossInstances", testLimiterLoginBurst},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

// hourly is a limit whose attempts do not come back during a test: 3 at
// once, then one every 20 minutes.
var hourly = jwtpair.Limit{Rate: 3, Period: time.Hour, Burst: 3}

// limiterKey returns a key of the form the Auth uses, random.
func limiterKey() string { return "test:" + NewID() }

// allow calls Allow and requires it not to fail.
func allow(t *testing.T, l jwtpair.Limiter, key string, limit jwtpair.Limit) (bool, time.Duration) {
	t.Helper()
	ok, wait, err := l.Allow(t.Context(), key, limit)
	require.NoError(t, err, "Allow")
	if ok {
		assert.Zero(t, wait, "an allowed attempt has no wait")
	} else {
		assert.Positive(t, wait, "a refused attempt says how long to wait")
	}
	return ok, wait
}

// exhaust makes the burst of limit on key and requires each to be allowed.
func exhaust(t *testing.T, l jwtpair.Limiter, key string, limit jwtpair.Limit) {
	t.Helper()
	for i := range limit.Burst {
		ok, _ := allow(t, l, key, limit)
		require.True(t, ok, "attempt %d of a burst of %d", i+1, limit.Burst)
	}
}

func testLimiterBurst(t *testing.T, open LimiterOpener) {
	l, key := open(t), limiterKey()
	exhaust(t, l, key, hourly)
	ok, wait := allow(t, l, key, hourly)
	require.False(t, ok, "the attempt after the burst")
	// The next attempt comes back one interval after the first one.
	interval := hourly.Interval()
	assert.LessOrEqual(t, wait, interval, "wait")
	assert.Greater(t, wait, interval-30*time.Second, "wait")
}

func testLimiterRefusedNotCounted(t *testing.T, open LimiterOpener) {
	l, key := open(t), limiterKey()
	exhaust(t, l, key, hourly)
	_, first := allow(t, l, key, hourly)
	for range 5 {
		ok, wait := allow(t, l, key, hourly)
		require.False(t, ok)
		// Refusals leave the key as it was: the wait only shrinks with time.
		assert.LessOrEqual(t, wait, first, "a refused attempt was counted")
	}
}

func testLimiterRegained(t *testing.T, open LimiterOpener) {
	l, key := open(t), limiterKey()
	fast := jwtpair.Limit{Rate: 20, Period: time.Second, Burst: 1} // one every 50 ms
	ok, _ := allow(t, l, key, fast)
	require.True(t, ok)
	ok, wait := allow(t, l, key, fast)
	require.False(t, ok)
	require.LessOrEqual(t, wait, fast.Interval())
	time.Sleep(wait + 30*time.Millisecond) // on the backend's clock, which the test cannot move
	ok, _ = allow(t, l, key, fast)
	assert.True(t, ok, "an attempt is regained after the wait")
}

func testLimiterKeys(t *testing.T, open LimiterOpener) {
	l, a, b := open(t), limiterKey(), limiterKey()
	exhaust(t, l, a, hourly)
	ok, _ := allow(t, l, a, hourly)
	require.False(t, ok)
	exhaust(t, l, b, hourly) // untouched by a's attempts
}

func testLimiterReset(t *testing.T, open LimiterOpener) {
	l, key := open(t), limiterKey()
	exhaust(t, l, key, hourly)
	require.NoError(t, l.Reset(t.Context(), key), "Reset")
	exhaust(t, l, key, hourly) // the whole burst again
	ok, _ := allow(t, l, key, hourly)
	assert.False(t, ok)
	require.NoError(t, l.Reset(t.Context(), limiterKey()), "Reset of an unknown key")
}

func testLimiterInvalid(t *testing.T, open LimiterOpener) {
	l := open(t)
	for _, limit := range []jwtpair.Limit{
		{},
		{Rate: 0, Period: time.Minute, Burst: 1},
		{Rate: 1, Period: time.Minute, Burst: 0},
		{Rate: 1, Period: 0, Burst: 1},
		{Rate: 1 << 20, Period: time.Second, Burst: 1},
		{Rate: 1, Period: 24 * time.Hour, Burst: 1000},
	} {
		ok, _, err := l.Allow(t.Context(), limiterKey(), limit)
		assert.Error(t, err, "%+v", limit)
		assert.False(t, ok, "%+v", limit)
	}
}

func testLimiterCancelled(t *testing.T, open LimiterOpener) {
	l := open(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	ok, _, err := l.Allow(ctx, limiterKey(), hourly)
	RequireUnavailable(t, err, "Allow")
	assert.False(t, ok)
	RequireUnavailable(t, l.Reset(ctx, limiterKey()), "Reset")
}

func testLimiterConcurrent(t *testing.T, open LimiterOpener) {
	limiters := []jwtpair.Limiter{open(t), open(t)}
	key := limiterKey()
	limit := jwtpair.Limit{Rate: 5, Period: time.Hour, Burst: 5}
	const n = 64
	var allowed atomic.Int32
	errs := make([]error, n)
	together(n, func(i int) {
		ok, _, err := limiters[i%2].Allow(t.Context(), key, limit)
		errs[i] = err
		if ok {
			allowed.Add(1)
		}
	})
	for i, err := range errs {
		require.NoError(t, err, "Allow #%d", i)
	}
	assert.Equal(t, int32(limit.Burst), allowed.Load(), "of %d concurrent attempts on one key", n)
}

func testLimiterLoginBurst(t *testing.T, open LimiterOpener) {
	var calls atomic.Int32
	wrong := jwtpair.AuthenticatorFunc(func(context.Context, string, string) (jwtpair.User, error) {
		calls.Add(1)
		return jwtpair.User{}, jwtpair.ErrInvalidCredentials
	})
	var auths []*jwtpair.Auth
	for range 2 {
		a, err := jwtpair.New(jwtpair.WithHMACKey(sharedSecret), jwtpair.WithAuthenticator(wrong), jwtpair.WithLimiter(open(t)),
			jwtpair.WithLogger(slog.New(slog.DiscardHandler))) // 59 throttled attempts, each logged
		require.NoError(t, err)
		auths = append(auths, a)
	}
	// One username from one address, both new to the backend.
	body := `{"username":"victim-` + NewID() + `","password":"guess"}`
	id := NewID()
	addr := "10." + strconv.Itoa(int(id[0])) + "." + strconv.Itoa(int(id[1])) + "." + strconv.Itoa(int(id[2])) + ":4711"
	const n = 64
	codes := make([]int, n)
	together(n, func(i int) {
		r := httptest.NewRequest(http.MethodPost, "/api/token/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.RemoteAddr = addr
		w := httptest.NewRecorder()
		auths[i%2].ObtainHandler().ServeHTTP(w, r)
		codes[i] = w.Code
	})
	burst := jwtpair.DefaultThrottle().LoginPerUserIP.Burst
	var unauthorized, throttled int
	for _, c := range codes {
		switch c {
		case http.StatusUnauthorized:
			unauthorized++
		case http.StatusTooManyRequests:
			throttled++
		default:
			t.Errorf("unexpected status %d", c)
		}
	}
	assert.Equal(t, int32(burst), calls.Load(), "attempts that reached the Authenticator")
	assert.Equal(t, burst, unauthorized, "401s")
	assert.Equal(t, n-burst, throttled, "429s")
}

// RequireLimiterRoundTrips calls Allow (allowed), Allow (refused) and Reset
// on l and requires each to cost want round trips to the backend, as
// counted by sent (a hook or tracer on the limiter's client, read before
// and after each call). A limiter whose client caches server-side state
// (Redis scripts) warms it first.
func RequireLimiterRoundTrips(tb testing.TB, l jwtpair.Limiter, sent func() int64, want int64) {
	tb.Helper()
	ctx := tb.Context()
	key, limit := limiterKey(), jwtpair.Limit{Rate: 1, Period: time.Hour, Burst: 1}
	for _, step := range []struct {
		name    string
		allowed bool
		call    func() (bool, error)
	}{
		{"Allow", true, func() (bool, error) { ok, _, err := l.Allow(ctx, key, limit); return ok, err }},
		{"Allow refused", false, func() (bool, error) { ok, _, err := l.Allow(ctx, key, limit); return ok, err }},
		{"Reset", false, func() (bool, error) { return false, l.Reset(ctx, key) }},
	} {
		before := sent()
		ok, err := step.call()
		require.NoError(tb, err, step.name)
		require.Equal(tb, step.allowed, ok, step.name)
		assert.Equal(tb, want, sent()-before, "%s: round trips", step.name)
	}
}

// LimiterBenchmark measures what a throttled refusal costs on l: Allow on
// a key whose burst is spent, as a source hammering the login endpoint
// meets it, under b.RunParallel with 4 workers per GOMAXPROCS, all on the
// one key (an attack comes from one address). Every limiter's
// BenchmarkThrottledRefusal calls it.
func LimiterBenchmark(b *testing.B, l jwtpair.Limiter) {
	key, limit := limiterKey(), jwtpair.Limit{Rate: 1, Period: time.Hour, Burst: 1}
	if _, _, err := l.Allow(b.Context(), key, limit); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ok, _, err := l.Allow(b.Context(), key, limit)
			if err != nil || ok {
				b.Errorf("Allow = %v, %v; want a refusal", ok, err)
				return
			}
		}
	})
}
