package redisstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
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
// redis-server and redis-cli are installed, every storetest suite that
// applies through redis.ClusterClients (every script must keep to one
// slot): Run, RunShared (two Auth instances, each with a client of its
// own), RunLimiter (NewLimiter), RunOutage (a proxy in front of every node,
// all cut at once); then what is the Cluster's own: every key of a user in
// one slot with a TTL, the feed gathering the ends of users on every
// master, scripts reloaded after SCRIPT FLUSH on every master, MigrateKeys
// from the single-slot layout, and 10k users spread over all three masters.
//
// Not here: a restart. TestFeedSurvivesRestart kills one Redis server with
// SIGKILL and starts it again from its AOF; killing a node of this
// Cluster (no replicas) and restarting it would test the same thing again,
// the node's persistence of the same scripts' writes, plus the client
// finding the node again, which Outage covers (every node unreachable,
// then back, without a restart of the client). Failover to a replica is
// Redis's (see the package documentation's Durability).
//
// -short skips it, unless JWTPAIR_REQUIRE_BACKENDS=1 (CI), which forbids
// skipping it for any reason.
func TestCluster(t *testing.T) {
	if testing.Short() && !storetest.BackendsRequired() {
		t.Skip("starts a Redis Cluster (run without -short, or with JWTPAIR_REQUIRE_BACKENDS=1)")
	}
	started := time.Now()
	addrs := startCluster(t)
	t.Logf("cluster of 3 masters started in %v", time.Since(started).Round(time.Millisecond))
	c := newClusterClient(t, addrs, nil)
	newClusterStore := func(t *testing.T) *redisstore.Store {
		return redisstore.New(c, redisstore.WithKeyPrefix(newPrefix(t, c)))
	}
	t.Run("Conformance", func(t *testing.T) {
		runConformance(t, func(t *testing.T) jwtpair.Store { return newClusterStore(t) })
	})
	t.Run("Shared", func(t *testing.T) {
		storetest.RunShared(t, func(t *testing.T) storetest.Opener {
			prefix := newPrefix(t, c)
			return func(t *testing.T) jwtpair.Store {
				return redisstore.New(newClusterClient(t, addrs, nil), redisstore.WithKeyPrefix(prefix))
			}
		})
	})
	t.Run("Limiter", func(t *testing.T) {
		prefix := newLimiterPrefix(t, c)
		storetest.RunLimiter(t, func(t *testing.T) jwtpair.Limiter {
			return redisstore.NewLimiter(newClusterClient(t, addrs, nil), redisstore.WithLimiterPrefix(prefix))
		})
	})
	t.Run("Outage", func(t *testing.T) { testClusterOutage(t, addrs, c) })
	t.Run("OneSlotPerUser", func(t *testing.T) { testClusterSlots(t, c, newClusterStore(t)) })
	t.Run("Feed", func(t *testing.T) { testClusterFeed(t, c, newClusterStore(t)) })
	t.Run("ScriptReload", func(t *testing.T) {
		testScriptReload(t, newClusterStore(t), func(ctx context.Context) error {
			return c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
				return m.ScriptFlush(ctx).Err()
			})
		})
	})
	t.Run("Migrate", func(t *testing.T) { testMigrate(t, c) })
	t.Run("Spread", func(t *testing.T) { testClusterSpread(t, c, newClusterStore(t)) })
}

// newClusterClient returns a client of the cluster at addrs, closed at
// cleanup, that dials through dial when it is not nil.
func newClusterClient(t *testing.T, addrs []string, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *redis.ClusterClient {
	t.Helper()
	opt := &redis.ClusterOptions{Addrs: addrs, PoolSize: 128, Dialer: dial}
	if dial != nil { // give up on a dead node within seconds (RunOutage)
		opt.MaxRetries, opt.DialTimeout, opt.DialerRetries = 1, time.Second, 1
	}
	c := redis.NewClusterClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.ForEachShard(t.Context(), func(ctx context.Context, shard *redis.Client) error {
		return shard.Ping(ctx).Err()
	}))
	return c
}

// proxies cuts and restores every node of a cluster at once.
type proxies []*storetest.Proxy

func (ps proxies) Stop() {
	for _, p := range ps {
		p.Stop()
	}
}

func (ps proxies) Start() {
	for _, p := range ps {
		p.Start()
	}
}

// testClusterOutage runs storetest.RunOutage with a proxy in front of each
// node: the store's client dials every node (those CLUSTER SLOTS names
// included) through its proxy and nothing else; direct reaches the nodes
// as they are.
func testClusterOutage(t *testing.T, addrs []string, direct *redis.ClusterClient) {
	var ps proxies
	via := map[string]string{}
	for _, addr := range addrs {
		p := storetest.StartProxy(t, addr)
		ps = append(ps, p)
		via[addr] = p.Addr()
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		to, ok := via[addr]
		if !ok {
			return nil, fmt.Errorf("no proxy for %s", addr)
		}
		d := net.Dialer{Timeout: time.Second}
		return d.DialContext(ctx, network, to)
	}
	prefix := newPrefix(t, direct)
	storetest.RunOutage(t, redisstore.New(newClusterClient(t, addrs, dial), redisstore.WithKeyPrefix(prefix)), ps,
		redisstore.New(direct, redisstore.WithKeyPrefix(prefix)))
}

// testClusterSlots: every key one user's sessions leave (tokens, rotations,
// sessions, index, pending set) hashes to one slot, by the cluster's own
// CLUSTER KEYSLOT; different users land in different slots; every key,
// the feed's included, carries a TTL.
func testClusterSlots(t *testing.T, c *redis.ClusterClient, s *redisstore.Store) {
	ctx := t.Context()
	users := []string{"42", "alice@example.com", "a}b", strings.Repeat("x", 100)}
	for _, user := range users {
		a := storetest.LoginAs(t, s, user, jwtpair.IssueOptions{Client: map[string]string{"ip": "192.0.2.1"}})
		b := storetest.NewSuccessor()
		require.NoError(t, s.Rotate(ctx, storetest.TokenOf(a), b, jwtpair.RotateOptions{}))
		other := storetest.LoginAs(t, s, user, jwtpair.IssueOptions{})
		require.NoError(t, s.EndSession(ctx, user, other.SessionID))
	}
	byTag := map[string]map[int64]bool{}
	feed := false
	for _, k := range keysOf(t, c, s.KeyPrefix()+"*") {
		ttl, err := c.PTTL(ctx, k).Result()
		require.NoError(t, err)
		assert.Positive(t, ttl, "%s has a TTL", k)
		if k == feedKey(s) {
			feed = true
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
	assert.True(t, feed, "the ends are in the feed")
	require.Len(t, byTag, len(users), "one tag per user: %v", byTag)
	slots := map[int64]bool{}
	for tag, ss := range byTag {
		assert.Len(t, ss, 1, "every key of user tag %s in one slot", tag)
		for slot := range ss {
			slots[slot] = true
		}
	}
	assert.Len(t, slots, len(byTag), "users in different slots")
}

// testClusterFeed: the feed, one stream in a slot of its own, gathers the
// ends of users whose keys live on each of the three masters, in order;
// a blocked read is woken by an ending on a master other than the feed's.
func testClusterFeed(t *testing.T, c *redis.ClusterClient, s *redisstore.Store) {
	ctx := t.Context()
	masterOf := func(key string) string {
		m, err := c.MasterForKey(ctx, key)
		require.NoError(t, err)
		return m.Options().Addr
	}
	feedOn := masterOf(feedKey(s))
	var users []string // one per master, the feed's last
	seen := map[string]bool{}
	for i := 0; len(users) < 3; i++ {
		require.Less(t, i, 1000, "users on every master")
		user := fmt.Sprintf("feed-%d", i)
		on := masterOf(s.KeyPrefix() + "{u:" + user + "}:i")
		if seen[on] || (on == feedOn && len(users) < 2) {
			continue
		}
		seen[on] = true
		users = append(users, user)
	}

	var want []revoked
	for _, user := range users[:2] {
		a := storetest.LoginAs(t, s, user, jwtpair.IssueOptions{})
		require.NoError(t, s.EndSession(ctx, user, a.SessionID))
		want = append(want, revoked{user, a.SessionID})
	}
	got, cursor, err := s.Revocations(ctx, "", 0)
	require.NoError(t, err)
	assert.Equal(t, want, names(got))

	b := storetest.LoginAs(t, s, users[0], jwtpair.IssueOptions{})
	go func() {
		time.Sleep(100 * time.Millisecond)
		assert.NoError(t, s.EndSessions(context.Background(), users[0], ""))
	}()
	start := time.Now()
	got, cursor, err = s.Revocations(ctx, cursor, 10*time.Second)
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.Equal(t, []revoked{{users[0], b.SessionID}, {users[0], ""}}, names(got))

	last := storetest.LoginAs(t, s, users[2], jwtpair.IssueOptions{})
	require.NoError(t, s.Revoke(ctx, storetest.TokenOf(last)))
	got, _, err = s.Revocations(ctx, cursor, 0)
	require.NoError(t, err)
	assert.Equal(t, []revoked{{users[2], last.SessionID}}, names(got), "the feed's own master")
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
	slots, err := c.ClusterSlots(ctx).Result()
	require.NoError(t, err)
	require.Len(t, slots, 3, "one slot range per master")
	sort.Slice(slots, func(i, j int) bool { return slots[i].Start < slots[j].Start })
	var report []string
	total := 0
	for _, r := range slots {
		m := redis.NewClient(&redis.Options{Addr: r.Nodes[0].Addr})
		n := 0
		iter := m.Scan(ctx, 0, s.KeyPrefix()+"*:s:*", 1000).Iterator()
		for iter.Next(ctx) {
			n++
		}
		require.NoError(t, iter.Err())
		_ = m.Close()
		total += n
		report = append(report, fmt.Sprintf("slots %d-%d: %d (%.1f%%)", r.Start, r.End, n, 100*float64(n)/users))
		assert.Greater(t, n, users/4, "the master of slots %d-%d holds its share of users", r.Start, r.End)
	}
	t.Logf("sessions of %d users per master: %s", users, strings.Join(report, ", "))
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
