package redisstore_test

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
	"github.com/jwtpair/jwtpair/redisstore"
	"github.com/jwtpair/jwtpair/storetest"
)

// quietLogger drops go-redis's log lines: the outage tests make its pool
// report every failed dial.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	redis.SetLogger(quietLogger{})
	os.Exit(m.Run())
}

// redisURL returns JWTPAIR_REDIS_URL, skipping the test when it is unset,
// or failing it when JWTPAIR_REQUIRE_BACKENDS=1 (CI).
func redisURL(tb testing.TB) string {
	tb.Helper()
	return storetest.BackendURL(tb, "JWTPAIR_REDIS_URL", "redis://127.0.0.1:6379/0")
}

// newClient returns a client for JWTPAIR_REDIS_URL, closed at cleanup.
func newClient(tb testing.TB) *redis.Client {
	tb.Helper()
	opt, err := redis.ParseURL(redisURL(tb))
	require.NoError(tb, err, "JWTPAIR_REDIS_URL")
	opt.PoolSize = 128
	c := redis.NewClient(opt)
	tb.Cleanup(func() { _ = c.Close() })
	require.NoError(tb, c.Ping(context.Background()).Err(), "ping %s", opt.Addr)
	return c
}

// newPrefix returns a key prefix of its own for one test and deletes the
// test's keys at cleanup.
func newPrefix(tb testing.TB, c redis.UniversalClient) string {
	tb.Helper()
	prefix := "jwtpairtest:" + storetest.NewID()[:12] + ":"
	tb.Cleanup(func() { deleteKeys(c, prefix+"*") })
	return prefix
}

func deleteKeys(c redis.UniversalClient, pattern string) {
	ctx := context.Background()
	for _, node := range nodesOf(ctx, c) {
		iter := node.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			node.Del(ctx, iter.Val())
		}
	}
}

// nodesOf returns the servers behind c: a Cluster's masters, a Ring's
// shards, or c itself.
func nodesOf(ctx context.Context, c redis.UniversalClient) []*redis.Client {
	var nodes []*redis.Client
	var mu sync.Mutex // ForEachMaster and ForEachShard call fn concurrently
	add := func(_ context.Context, node *redis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		nodes = append(nodes, node)
		return nil
	}
	switch c := c.(type) {
	case *redis.ClusterClient:
		_ = c.ForEachMaster(ctx, add)
	case *redis.Ring:
		_ = c.ForEachShard(ctx, add)
	case *redis.Client:
		nodes = append(nodes, c)
	}
	return nodes
}

// newStore returns a store on its own key prefix.
func newStore(tb testing.TB, opts ...redisstore.Option) (*redisstore.Store, *redis.Client) {
	tb.Helper()
	c := newClient(tb)
	opts = append([]redisstore.Option{redisstore.WithKeyPrefix(newPrefix(tb, c))}, opts...)
	return redisstore.New(c, opts...), c
}

// newUser returns the id of a new user.
func newUser() string { return "user-" + storetest.NewID()[:16] }

// recordOf is [storetest.NewRecord] of user: the first token of a new
// session of an existing user.
func recordOf(user string) jwtpair.Record {
	rec := storetest.NewRecord()
	rec.UserID = user
	return rec
}

// succ is what the successor n of rec's session presents.
func succ(rec, n jwtpair.Record) jwtpair.Token {
	return jwtpair.Token{JTI: n.JTI, UserID: rec.UserID, SessionID: rec.SessionID}
}

// issueErr is the error of a Store.Issue whose evicted sessions a test
// does not look at.
func issueErr(_ []string, err error) error { return err }

// keysOf lists the keys matching pattern on every server behind c.
func keysOf(t *testing.T, c redis.UniversalClient, pattern string) []string {
	t.Helper()
	var keys []string
	for _, node := range nodesOf(t.Context(), c) {
		iter := node.Scan(t.Context(), 0, pattern, 1000).Iterator()
		for iter.Next(t.Context()) {
			keys = append(keys, iter.Val())
		}
		require.NoError(t, iter.Err())
	}
	return keys
}
