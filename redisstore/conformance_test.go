package redisstore_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
	"github.com/jwtpair/jwtpair/redisstore"
	"github.com/jwtpair/jwtpair/storetest"
)

// runConformance runs the storetest suite on stores from newStore (a single
// node here, a Cluster in TestCluster).
func runConformance(t *testing.T, newStore func(t *testing.T) jwtpair.Store) {
	storetest.Run(t, newStore)
}

func TestConformance(t *testing.T) {
	redisURL(t) // skip (or fail) once, not in every subtest
	runConformance(t, func(t *testing.T) jwtpair.Store {
		s, _ := newStore(t)
		return s
	})
}

// TestShared runs the cross-instance suite: every Opener call is a new
// client (a new process) over the same key prefix.
func TestShared(t *testing.T) {
	redisURL(t)
	storetest.RunShared(t, func(t *testing.T) storetest.Opener {
		prefix := newPrefix(t, newClient(t))
		return func(t *testing.T) jwtpair.Store {
			return redisstore.New(newClient(t), redisstore.WithKeyPrefix(prefix))
		}
	})
}

// TestHTTPOutage: with Redis gone, the endpoints of a real Auth answer 503
// and never accept a revoked token, the feed fails and the Auth with it,
// and all recovers without a restart (storetest.RunOutage).
func TestHTTPOutage(t *testing.T) {
	c, p := proxiedClient(t)
	prefix := newPrefix(t, c)
	direct := redisstore.New(newClient(t), redisstore.WithKeyPrefix(prefix))
	storetest.RunOutage(t, redisstore.New(c, redisstore.WithKeyPrefix(prefix)), p, direct)
}

// TestHTTPStall: with Redis stalled (connections open, nothing answered),
// the endpoints of an Auth with a store timeout answer 503 within it, and
// all recovers (storetest.RunStall). The client honours context deadlines
// (ContextTimeoutEnabled), as jwtpair.WithStoreTimeout needs.
func TestHTTPStall(t *testing.T) {
	c, p := proxiedClient(t, func(o *redis.Options) { o.ContextTimeoutEnabled = true })
	storetest.RunStall(t, redisstore.New(c, redisstore.WithKeyPrefix(newPrefix(t, c))), p.Stall, p.Resume)
}

// proxiedClient returns a client for JWTPAIR_REDIS_URL through a proxy the
// test can stop, which gives up on a dead connection within seconds; opts
// change its options further.
func proxiedClient(t *testing.T, opts ...func(*redis.Options)) (*redis.Client, *storetest.Proxy) {
	t.Helper()
	opt, err := redis.ParseURL(redisURL(t))
	require.NoError(t, err)
	p := storetest.StartProxy(t, opt.Addr)
	opt.Addr = p.Addr()
	opt.MaxRetries = 1
	opt.DialTimeout = time.Second
	opt.DialerRetries = 1
	for _, o := range opts {
		o(opt)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c, p
}

func TestOutageClosedPort(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: storetest.ClosedAddr(t), MaxRetries: 1, DialTimeout: time.Second, DialerRetries: 1})
	t.Cleanup(func() { _ = c.Close() })
	storetest.RequireAllUnavailable(t, redisstore.New(c))
}
