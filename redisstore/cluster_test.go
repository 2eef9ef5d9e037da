package redisstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
	"github.com/jwtpair/jwtpair/redisstore"
	"github.com/jwtpair/jwtpair/storetest"
)

// TestCluster runs on a three-master Redis Cluster it starts itself, when
// redis-server and redis-cli are installed: the conformance suite through a
// redis.ClusterClient (every script must keep to one slot), every key of a
// user in one slot, the feed, and 10k users spread over all three masters.
// -short skips it, unless JWTPAIR_REQUIRE_BACKENDS=1 (CI), which forbids
// skipping it for any reason.
func TestCluster(t *testing.T) {
	if testing.Short() && !storetest.BackendsRequired() {
		t.Skip("starts a Redis Cluster (run without -short, or with JWTPAIR_REQUIRE_BACKENDS=1)")
	}
	addrs := startCluster(t)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.ForEachShard(t.Context(), func(ctx context.Context, shard *redis.Client) error {
		return shard.Ping(ctx).Err()
	}))
	newClusterStore := func(t *testing.T) *redisstore.Store {
		return redisstore.New(c, redisstore.WithKeyPrefix(newPrefix(t, c)))
	}
	t.Run("Conformance", func(t *testing.T) {
		runConformance(t, func(t *testing.T) jwtpair.Store { return newClusterStore(t) })
	})
	t.Run("OneSlotPerUser", func(t *testing.T) { testClusterSlots(t, c, newClusterStore(t)) })
	t.Run("Feed", func(t *testing.T) { testClusterFeed(t, newClusterStore(t)) })
	t.Run("Spread", func(t *testing.T) { testClusterSpread(t, c, newClusterStore(t)) })
}

// testClusterSlots: every key one user's sessions leave (tokens, rotations,
// sessions, index, pending set) hashes to one slot, by the cluster's own
// CLUSTER KEYSLOT; different users land in different slots.
func testClusterSlots(t *testing.T, c *redis.ClusterClient, s *redisstore.Store) {
	ctx := t.Context()
	slotsOf := map[string]map[int64]bool{}
	for _, user := range []string{"42", "alice@example.com", "a}b", strings.Repeat("x", 100)} {
		a := storetest.LoginAs(t, s, user, jwtpair.IssueOptions{})
		b := storetest.NewSuccessor()
		require.NoError(t, s.Rotate(ctx, storetest.TokenOf(a), b, jwtpair.RotateOptions{}))
		other := storetest.LoginAs(t, s, user, jwtpair.IssueOptions{})
		require.NoError(t, s.EndSession(ctx, user, other.SessionID))
		slotsOf[user] = map[int64]bool{}
	}
	var keys []string
	var mu sync.Mutex // ForEachMaster calls its func concurrently
	require.NoError(t, c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		iter := m.Scan(ctx, 0, s.KeyPrefix()+"*", 1000).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			keys = append(keys, iter.Val())
			mu.Unlock()
		}
		return iter.Err()
	}))
	byTag := map[string]map[int64]bool{}
	for _, k := range keys {
		if k == s.KeyPrefix()+"{feed}" {
			continue
		}
		slot, err := c.ClusterKeySlot(ctx, k).Result()
		require.NoError(t, err)
		tag := hashTag(k)
		if byTag[tag] == nil {
			byTag[tag] = map[int64]bool{}
		}
		byTag[tag][slot] = true
	}
	require.Len(t, byTag, len(slotsOf), "one tag per user: %v", keys)
	slots := map[int64]bool{}
	for tag, ss := range byTag {
		assert.Len(t, ss, 1, "every key of user tag %s in one slot", tag)
		for slot := range ss {
			slots[slot] = true
		}
	}
	assert.Len(t, slots, len(byTag), "users in different slots")
}

// testClusterFeed: the feed works through a ClusterClient (its stream in a
// slot of its own): catch-up and a blocked read woken by an ending.
func testClusterFeed(t *testing.T, s *redisstore.Store) {
	ctx := t.Context()
	a := storetest.Login(t, s)
	require.NoError(t, s.EndSession(ctx, a.UserID, a.SessionID))
	got, cursor, err := s.Revocations(ctx, "", 0)
	require.NoError(t, err)
	assert.Equal(t, []revoked{{a.UserID, a.SessionID}}, names(got))

	b := storetest.Login(t, s)
	go func() {
		time.Sleep(100 * time.Millisecond)
		assert.NoError(t, s.EndSessions(context.Background(), b.UserID, ""))
	}()
	start := time.Now()
	got, _, err = s.Revocations(ctx, cursor, 10*time.Second)
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.Equal(t, []revoked{{b.UserID, b.SessionID}, {b.UserID, ""}}, names(got))
}

// testClusterSpread logs in 10k users and counts their sessions on each
// master: users spread over all three (about a third each).
func testClusterSpread(t *testing.T, c *redis.ClusterClient, s *redisstore.Store) {
	const users, workers = 10000, 16
	ctx := t.Context()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < users; i += workers {
				rec := recordOf(fmt.Sprintf("spread-%d", i))
				if !assert.NoError(t, issueErr(s.Issue(ctx, rec, jwtpair.IssueOptions{}))) {
					return
				}
			}
		})
	}
	wg.Wait()
	var mu sync.Mutex
	perMaster := map[string]int{}
	require.NoError(t, c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		n := 0
		iter := m.Scan(ctx, 0, s.KeyPrefix()+"*:s:*", 1000).Iterator()
		for iter.Next(ctx) {
			n++
		}
		mu.Lock()
		perMaster[m.Options().Addr] = n
		mu.Unlock()
		return iter.Err()
	}))
	t.Logf("sessions of %d users per master: %v", users, perMaster)
	require.Len(t, perMaster, 3)
	total := 0
	for addr, n := range perMaster {
		total += n
		assert.Greater(t, n, users/4, "master %s holds its share of users", addr)
	}
	assert.Equal(t, users, total)
}

func startCluster(t *testing.T) []string {
	t.Helper()
	server, err1 := exec.LookPath("redis-server")
	cli, err2 := exec.LookPath("redis-cli")
	if err1 != nil || err2 != nil {
		if storetest.BackendsRequired() {
			t.Fatal("redis-server and redis-cli are needed for the Cluster test")
		}
		t.Skip("redis-server and redis-cli not on PATH: Cluster test skipped")
	}
	dir := t.TempDir()
	var addrs []string
	for i := range 3 {
		port := clusterPort(t)
		addr := "127.0.0.1:" + port
		nodeDir := filepath.Join(dir, port)
		require.NoError(t, os.Mkdir(nodeDir, 0o755))
		cmd := exec.Command(server, "--bind", "127.0.0.1", "--port", port,
			"--cluster-enabled", "yes", "--cluster-config-file", nodeDir+"/nodes.conf",
			"--dir", nodeDir, "--save", "", "--appendonly", "no", "--daemonize", "no",
			"--logfile", nodeDir+"/redis.log")
		require.NoError(t, cmd.Start(), "node %d", i)
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
		addrs = append(addrs, addr)
	}
	for _, addr := range addrs {
		c := redis.NewClient(&redis.Options{Addr: addr})
		require.Eventually(t, func() bool { return c.Ping(t.Context()).Err() == nil }, 10*time.Second, 20*time.Millisecond)
		_ = c.Close()
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.Command(cli, args...).CombinedOutput()
	require.NoError(t, err, "redis-cli --cluster create: %s", out)
	for _, addr := range addrs {
		c := redis.NewClient(&redis.Options{Addr: addr})
		require.Eventually(t, func() bool {
			info, err := c.ClusterInfo(t.Context()).Result()
			return err == nil && strings.Contains(info, "cluster_state:ok")
		}, 20*time.Second, 50*time.Millisecond, "cluster state on %s", addr)
		_ = c.Close()
	}
	return addrs
}

// clusterPort returns a free port p below 55536 whose cluster bus port
// p+10000 is free too.
func clusterPort(t *testing.T) string {
	t.Helper()
	for range 100 {
		p := 20000 + rand.IntN(20000)
		l1, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		l2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+10000))
		_ = l1.Close()
		if err != nil {
			continue
		}
		_ = l2.Close()
		return strconv.Itoa(p)
	}
	t.Fatal("no free port pair for a cluster node")
	return ""
}
