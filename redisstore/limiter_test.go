package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
	"github.com/jwtpair/jwtpair/redisstore"
	"github.com/jwtpair/jwtpair/storetest"
)

// newLimiterPrefix returns a limiter key prefix of its own for one test and
// deletes its keys at cleanup.
func newLimiterPrefix(tb testing.TB, c redis.UniversalClient) string {
	tb.Helper()
	prefix := "jwtpairtest:" + storetest.NewID()[:12] + ":"
	tb.Cleanup(func() { deleteKeys(c, "rate:"+prefix+"*") })
	return prefix
}

// TestLimiterConformance: every open is a new client (a new process) over
// the same Redis and prefix.
func TestLimiterConformance(t *testing.T) {
	prefix := newLimiterPrefix(t, newClient(t))
	storetest.RunLimiter(t, func(t *testing.T) jwtpair.Limiter {
		return redisstore.NewLimiter(newClient(t), redisstore.WithLimiterPrefix(prefix))
	})
}

// TestLimiterKeys: a key is one string under the prefix, with a TTL of its
// time back to rest; limiters with other prefixes count apart.
func TestLimiterKeys(t *testing.T) {
	c := newClient(t)
	prefix, other := newLimiterPrefix(t, c), newLimiterPrefix(t, c)
	l, m := redisstore.NewLimiter(c, redisstore.WithLimiterPrefix(prefix)), redisstore.NewLimiter(c, redisstore.WithLimiterPrefix(other))
	limit := jwtpair.Limit{Rate: 1, Period: time.Hour, Burst: 2}
	ctx := t.Context()
	for range 2 {
		ok, _, err := l.Allow(ctx, "login:ip:203.0.113.7", limit)
		require.NoError(t, err)
		require.True(t, ok)
	}
	ttl, err := c.TTL(ctx, "rate:"+prefix+"login:ip:203.0.113.7").Result()
	require.NoError(t, err)
	assert.InDelta(t, (2 * time.Hour).Seconds(), ttl.Seconds(), 5, "TTL: the time back to rest")
	ok, _, err := l.Allow(ctx, "login:ip:203.0.113.7", limit)
	require.NoError(t, err)
	assert.False(t, ok)
	ok, _, err = m.Allow(ctx, "login:ip:203.0.113.7", limit)
	require.NoError(t, err)
	assert.True(t, ok, "another prefix counts apart")
	assert.Equal(t, redisstore.DefaultLimiterPrefix, "jwtpair:")
	assert.Panics(t, func() { redisstore.NewLimiter(nil) })
}

// TestLimiterOneRoundTrip: Allow and Reset are one command each once the
// server has the script cached.
func TestLimiterOneRoundTrip(t *testing.T) {
	c := newClient(t)
	l := redisstore.NewLimiter(c, redisstore.WithLimiterPrefix(newLimiterPrefix(t, c)))
	_, _, err := l.Allow(t.Context(), "warm", jwtpair.Limit{Rate: 1, Period: time.Second, Burst: 1}) // loads the script
	require.NoError(t, err)
	h := &countingHook{}
	c.AddHook(h)
	storetest.RequireLimiterRoundTrips(t, l, h.n.Load, 1)
}

// TestLimiterOutage: a Redis that cannot be reached fails Allow and Reset
// with ErrStoreUnavailable, and a login is then refused with 503.
func TestLimiterOutage(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: storetest.ClosedAddr(t), MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = c.Close() })
	l := redisstore.NewLimiter(c)
	ok, _, err := l.Allow(t.Context(), "k", jwtpair.Limit{Rate: 1, Period: time.Second, Burst: 1})
	storetest.RequireUnavailable(t, err, "Allow")
	assert.False(t, ok)
	storetest.RequireUnavailable(t, l.Reset(t.Context(), "k"), "Reset")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, _, err = l.Allow(ctx, "k", jwtpair.Limit{Rate: 1, Period: time.Second, Burst: 1})
	storetest.RequireUnavailable(t, err, "Allow, cancelled")
}

// BenchmarkThrottledRefusal measures a refused attempt: one script round
// trip (storetest.LimiterBenchmark).
func BenchmarkThrottledRefusal(b *testing.B) {
	c := newClient(b)
	storetest.LimiterBenchmark(b, redisstore.NewLimiter(c, redisstore.WithLimiterPrefix(newLimiterPrefix(b, c))))
}
