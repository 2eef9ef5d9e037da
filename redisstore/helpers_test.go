package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
	"github.com/jwtpair/jwtpair/redisstore"
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
	u := os.Getenv("JWTPAIR_REDIS_URL")
	if u == "" {
		const msg = "set JWTPAIR_REDIS_URL=redis://127.0.0.1:6379/0 to run the Redis store tests"
		if os.Getenv("JWTPAIR_REQUIRE_BACKENDS") == "1" {
			tb.Fatal(msg + " (JWTPAIR_REQUIRE_BACKENDS=1 forbids skipping)")
		}
		tb.Skip(msg)
	}
	return u
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
	prefix := "jwtpairtest:" + newID()[:12] + ":"
	tb.Cleanup(func() { deleteKeys(c, "{"+prefix+"}*") })
	return prefix
}

func deleteKeys(c redis.UniversalClient, pattern string) {
	ctx := context.Background()
	iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
	for iter.Next(ctx) {
		c.Del(ctx, iter.Val())
	}
}

// newStore returns a store on its own key prefix.
func newStore(tb testing.TB, opts ...redisstore.Option) (*redisstore.Store, *redis.Client) {
	tb.Helper()
	c := newClient(tb)
	opts = append([]redisstore.Option{redisstore.WithKeyPrefix(newPrefix(tb, c))}, opts...)
	return redisstore.New(c, opts...), c
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// record returns a live record for a new user and family.
func record() jwtpair.Record {
	return jwtpair.Record{
		JTI:       newID(),
		UserID:    "user-" + newID(),
		FamilyID:  "family-" + newID(),
		ExpiresAt: time.Now().Add(time.Hour),
	}
}

// next returns a successor record for Rotate.
func next() jwtpair.Record {
	return jwtpair.Record{JTI: newID(), ExpiresAt: time.Now().Add(time.Hour)}
}

// closedAddr returns a 127.0.0.1 address nothing listens on.
func closedAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	addr := ln.Addr().String()
	require.NoError(tb, ln.Close())
	return addr
}
