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
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
	"github.com/jwtpair/jwtpair/redisstore"
	"github.com/jwtpair/jwtpair/storetest"
)

func TestConformance(t *testing.T) {
	redisURL(t) // skip (or fail) once, not in every subtest
	storetest.Run(t, func(t *testing.T) jwtpair.Store {
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

func TestKeyPrefix(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: storetest.ClosedAddr(t)})
	t.Cleanup(func() { _ = c.Close() })
	tests := []struct {
		prefix, want string
	}{
		{"", "{jwtpair:}"},
		{"jwtpair:", "{jwtpair:}"},
		{"app:", "{app:}"},
		{"app:{auth}:", "app:{auth}:"}, // already tagged: kept
		{"app:{}:", "{app:{}:}"},       // empty tag does not count
		{"app:{auth", "{app:{auth}"},   // unclosed brace: wrapped
		{"{a}{b}", "{a}{b}"},           // first tag wins, as in Redis
		{"}{x}", "}{x}"},               // a "}" before the tag is no matter
	}
	for _, tc := range tests {
		t.Run(tc.prefix, func(t *testing.T) {
			s := redisstore.New(c, redisstore.WithKeyPrefix(tc.prefix))
			assert.Equal(t, tc.want, s.KeyPrefix())
		})
	}
	assert.Equal(t, "{"+redisstore.DefaultKeyPrefix+"}", redisstore.New(c).KeyPrefix())
	assert.Panics(t, func() { redisstore.New(nil) })
}

// TestKeyLayout checks that every key a store writes shares its hash tag
// (one Cluster slot) and carries a TTL matching the tokens it covers.
func TestKeyLayout(t *testing.T) {
	s, c := newStore(t)
	ctx := t.Context()
	exp1 := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	exp2 := exp1.Add(time.Hour)

	a := storetest.NewRecord()
	a.ExpiresAt = exp1
	require.NoError(t, s.Issue(ctx, a))
	b := storetest.NewSuccessor()
	b.ExpiresAt = exp2
	require.NoError(t, s.Rotate(ctx, a.JTI, b, jwtpair.RotateOptions{}))

	p := s.KeyPrefix()
	keys, err := c.Keys(ctx, p+"*").Result()
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{
		p + "t:" + a.JTI, p + "t:" + b.JTI, p + "f:" + a.FamilyID, p + "u:" + a.UserID,
	}, keys)

	expireAt := func(key string) time.Time {
		t.Helper()
		ms, err := c.Do(ctx, "PEXPIRETIME", key).Int64()
		require.NoError(t, err, key)
		require.Positive(t, ms, "%s must have a TTL", key)
		return time.UnixMilli(ms)
	}
	assert.Equal(t, exp1, expireAt(p+"t:"+a.JTI), "token expires with its token")
	assert.Equal(t, exp2, expireAt(p+"t:"+b.JTI))
	assert.Equal(t, exp2, expireAt(p+"f:"+a.FamilyID), "family lives as long as its latest token")
	assert.Equal(t, exp2, expireAt(p+"u:"+a.UserID), "user index lives as long as the latest family")

	// A revocation keeps the family's TTL.
	require.NoError(t, s.RevokeFamily(ctx, a.FamilyID))
	assert.Equal(t, exp2, expireAt(p+"f:"+a.FamilyID))

	// Raw tokens are never stored: only these fields exist.
	fields, err := c.HKeys(ctx, p+"t:"+b.JTI).Result()
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"s", "f", "u", "e", "m", "p"}, fields)
}

// setField overwrites one field of a token's hash, as time passing or an
// older record would leave it.
func setField(t *testing.T, s *redisstore.Store, c *redis.Client, jti, field, value string) {
	t.Helper()
	require.NoError(t, c.HSet(t.Context(), s.KeyPrefix()+"t:"+jti, field, value).Err())
}

// nanosText formats t as the scripts store times: 19-digit Unix nanoseconds.
func nanosText(t time.Time) string { return fmt.Sprintf("%019d", t.UnixNano()) }

// TestExpiryOnRedisClock: a record whose expiry has passed on Redis's clock
// is unknown, even while Redis still holds its key (its TTL is in
// milliseconds, the scripts compare to the microsecond).
func TestExpiryOnRedisClock(t *testing.T) {
	s, c := newStore(t)
	ctx := t.Context()
	a := storetest.Login(t, s)
	require.NoError(t, s.Check(ctx, a.JTI))

	setField(t, s, c, a.JTI, "e", nanosText(time.Now().Add(-time.Second)))
	require.ErrorIs(t, s.Check(ctx, a.JTI), jwtpair.ErrTokenNotFound)
	require.ErrorIs(t, s.Revoke(ctx, a.JTI), jwtpair.ErrTokenNotFound)
	require.ErrorIs(t, s.Rotate(ctx, a.JTI, storetest.NewSuccessor(), jwtpair.RotateOptions{}), jwtpair.ErrTokenNotFound)
	// The jti may be issued again once its record has expired.
	require.NoError(t, s.Issue(ctx, a))
	require.NoError(t, s.Check(ctx, a.JTI))
}

// TestGraceWindowOnRedisClock moves a token's consumption time, as stored,
// to either side of the window's edge on Redis's clock: 50 ms inside is a
// replay, 50 ms outside is reuse. No sleep: the window is 10 s.
func TestGraceWindowOnRedisClock(t *testing.T) {
	const grace = 10 * time.Second
	s, c := newStore(t)
	ctx := t.Context()
	opts := jwtpair.RotateOptions{Grace: grace}
	redisNow := func() time.Time {
		now, err := c.Time(ctx).Result()
		require.NoError(t, err)
		return now
	}

	a := storetest.Login(t, s)
	require.NoError(t, s.Rotate(ctx, a.JTI, storetest.NewSuccessor(), opts))
	setField(t, s, c, a.JTI, "c", nanosText(redisNow().Add(-grace+50*time.Millisecond)))
	require.NoError(t, s.Rotate(ctx, a.JTI, storetest.NewSuccessor(), opts), "consumed 9.95 s ago")
	setField(t, s, c, a.JTI, "c", nanosText(redisNow().Add(-grace-50*time.Millisecond)))
	require.ErrorIs(t, s.Rotate(ctx, a.JTI, storetest.NewSuccessor(), opts), jwtpair.ErrTokenReused, "consumed 10.05 s ago")
}

// TestUnknownStateRefused: a token whose state the scripts do not know is
// never rotated (fail closed).
func TestUnknownStateRefused(t *testing.T) {
	s, c := newStore(t)
	ctx := t.Context()
	a := storetest.Login(t, s)
	setField(t, s, c, a.JTI, "s", "r") // an earlier layout's revoked token
	require.ErrorIs(t, s.Rotate(ctx, a.JTI, storetest.NewSuccessor(), jwtpair.RotateOptions{}), jwtpair.ErrTokenBlacklisted)
	require.ErrorIs(t, s.Check(ctx, a.JTI), jwtpair.ErrTokenBlacklisted)
}

func TestIssueRefusals(t *testing.T) {
	s, c := newStore(t)
	ctx := t.Context()
	a := storetest.Login(t, s)

	dup := storetest.NewRecord()
	dup.JTI = a.JTI
	storetest.RequireUnavailable(t, s.Issue(ctx, dup), "duplicate jti")

	stranger := storetest.NewRecord()
	stranger.FamilyID = a.FamilyID
	storetest.RequireUnavailable(t, s.Issue(ctx, stranger), "another user's family")
	require.ErrorIs(t, s.Check(ctx, stranger.JTI), jwtpair.ErrTokenNotFound)
	n, err := c.Exists(ctx, s.KeyPrefix()+"u:"+stranger.UserID).Result()
	require.NoError(t, err)
	require.Zero(t, n, "a refused Issue indexes nothing")

	require.NoError(t, s.RevokeFamily(ctx, a.FamilyID))
	late := storetest.NewRecord()
	late.UserID, late.FamilyID = a.UserID, a.FamilyID
	require.ErrorIs(t, s.Issue(ctx, late), jwtpair.ErrTokenBlacklisted)
	require.ErrorIs(t, s.Check(ctx, late.JTI), jwtpair.ErrTokenNotFound)

	// A Rotate successor that is already recorded is refused and changes nothing.
	b := storetest.Login(t, s)
	taken := storetest.NewSuccessor()
	taken.JTI = b.JTI
	other := storetest.Login(t, s)
	storetest.RequireUnavailable(t, s.Rotate(ctx, other.JTI, taken, jwtpair.RotateOptions{}))
	require.NoError(t, s.Check(ctx, other.JTI), "the presented token stays active")
}

// TestRotateRetry: go-redis resends a command whose reply was lost; the
// same rotation arriving twice must not be taken for reuse.
func TestRotateRetry(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	a := storetest.Login(t, s)
	b := storetest.NewSuccessor()
	opts := jwtpair.RotateOptions{}
	require.NoError(t, s.Rotate(ctx, a.JTI, b, opts))
	require.NoError(t, s.Rotate(ctx, a.JTI, b, opts), "the same rotation again")
	require.NoError(t, s.Check(ctx, b.JTI), "no reuse was detected")

	// A different successor is a real second use.
	require.ErrorIs(t, s.Rotate(ctx, a.JTI, storetest.NewSuccessor(), opts), jwtpair.ErrTokenReused)
	require.ErrorIs(t, s.Check(ctx, b.JTI), jwtpair.ErrTokenBlacklisted)

	// With KeepPresented and with a grace window, the retry changes nothing.
	for _, opts := range []jwtpair.RotateOptions{
		{KeepPresented: true},
		{Grace: time.Minute},
	} {
		a := storetest.Login(t, s)
		b := storetest.NewSuccessor()
		require.NoError(t, s.Rotate(ctx, a.JTI, b, opts))
		require.NoError(t, s.Rotate(ctx, a.JTI, b, opts), "the same rotation again, %+v", opts)
		require.NoError(t, s.Check(ctx, b.JTI))
		if opts.KeepPresented {
			require.NoError(t, s.Check(ctx, a.JTI))
		}
	}
}

// TestRotateRetryNotRevived: the same rotation arriving again once its
// successor is no longer active neither succeeds nor revives the successor;
// the conformance suite covers the revoked-family and reuse cases.
func TestRotateRetryNotRevived(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	opts := jwtpair.RotateOptions{Grace: time.Minute} // a replay, not reuse

	// The successor rotated since: its jti is taken by a consumed token.
	a := storetest.Login(t, s)
	b := storetest.NewSuccessor()
	require.NoError(t, s.Rotate(ctx, a.JTI, b, opts))
	c := storetest.NewSuccessor()
	require.NoError(t, s.Rotate(ctx, b.JTI, c, opts))
	storetest.RequireUnavailable(t, s.Rotate(ctx, a.JTI, b, opts), "successor consumed: its jti is taken")
	require.ErrorIs(t, s.Check(ctx, b.JTI), jwtpair.ErrTokenBlacklisted)
	require.NoError(t, s.Check(ctx, c.JTI))

	// The presented token, kept active by its rotation (blacklist after
	// rotation off), logged out with afterwards: the session is over, the
	// retry is blacklisted and the successor is revoked too.
	keep := jwtpair.RotateOptions{KeepPresented: true}
	a = storetest.NewRecord()
	require.NoError(t, s.Issue(ctx, a))
	b = storetest.NewSuccessor()
	require.NoError(t, s.Rotate(ctx, a.JTI, b, keep))
	require.NoError(t, s.Revoke(ctx, a.JTI))
	require.ErrorIs(t, s.Rotate(ctx, a.JTI, b, keep), jwtpair.ErrTokenBlacklisted, "presented token revoked")
	require.ErrorIs(t, s.Check(ctx, b.JTI), jwtpair.ErrTokenBlacklisted, "the logout ended the session")

	// The presented token consumed by its rotation, then revoked: that is
	// reuse, the family ends, and the retry is blacklisted.
	a = storetest.NewRecord()
	require.NoError(t, s.Issue(ctx, a))
	b = storetest.NewSuccessor()
	require.NoError(t, s.Rotate(ctx, a.JTI, b, opts))
	require.ErrorIs(t, s.Revoke(ctx, a.JTI), jwtpair.ErrTokenBlacklisted)
	require.ErrorIs(t, s.Rotate(ctx, a.JTI, b, opts), jwtpair.ErrTokenBlacklisted)
	require.ErrorIs(t, s.Check(ctx, b.JTI), jwtpair.ErrTokenBlacklisted, "the family is revoked")
}

// TestConcurrentRotateAcrossClients: 64 rotations of one token, grace 0,
// split over two clients (two processes sharing Redis): exactly one wins.
func TestConcurrentRotateAcrossClients(t *testing.T) {
	const n = 64
	s1, _ := newStore(t)
	s2 := redisstore.New(newClient(t), redisstore.WithKeyPrefix(s1.KeyPrefix()))
	for round := range 5 {
		a := storetest.Login(t, s1)
		race := storetest.RotateRace(t, a.JTI, n, s1, s2)
		require.Len(t, race.Won, 1, "round %d: %s", round, race)
		require.Equal(t, 1, race.Reused, "round %d: the first loser detects reuse, later ones see the revoked family", round)
	}
}

// TestRevokeUserIndex: RevokeUser reaches every family through the per-user
// index and drops the index.
func TestRevokeUserIndex(t *testing.T) {
	s, c := newStore(t)
	ctx := t.Context()
	a := storetest.Login(t, s)
	b := storetest.NewRecord()
	b.UserID = a.UserID
	require.NoError(t, s.Issue(ctx, b))
	expired := storetest.NewRecord()
	expired.UserID = a.UserID
	expired.ExpiresAt = time.Now().Add(-time.Minute)
	require.NoError(t, s.Issue(ctx, expired))

	members, err := c.ZRange(ctx, s.KeyPrefix()+"u:"+a.UserID, 0, -1).Result()
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{a.FamilyID, b.FamilyID}, members, "expired families are not indexed")

	require.NoError(t, s.RevokeUser(ctx, a.UserID))
	require.ErrorIs(t, s.Check(ctx, a.JTI), jwtpair.ErrTokenBlacklisted)
	require.ErrorIs(t, s.Check(ctx, b.JTI), jwtpair.ErrTokenBlacklisted)
	n, err := c.Exists(ctx, s.KeyPrefix()+"u:"+a.UserID).Result()
	require.NoError(t, err)
	require.Zero(t, n)
}

// TestIssuePrune: an Issue drops from the user's index the families whose
// key Redis has expired, and keeps the live ones, so that a later RevokeUser
// reaches them.
func TestIssuePrune(t *testing.T) {
	s, c := newStore(t)
	ctx := t.Context()
	a := storetest.Login(t, s)
	gone := storetest.NewRecord() // expired, its family key gone: pruned
	gone.UserID = a.UserID
	gone.ExpiresAt = time.Now().Add(-time.Minute)
	require.NoError(t, c.ZAdd(ctx, s.KeyPrefix()+"u:"+a.UserID, redis.Z{
		Score: float64(gone.ExpiresAt.UnixMilli()), Member: gone.FamilyID,
	}).Err())

	b := storetest.NewRecord()
	b.UserID = a.UserID
	require.NoError(t, s.Issue(ctx, b))
	members, err := c.ZRange(ctx, s.KeyPrefix()+"u:"+a.UserID, 0, -1).Result()
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{a.FamilyID, b.FamilyID}, members, "live families stay indexed, gone ones are pruned")

	require.NoError(t, s.RevokeUser(ctx, a.UserID))
	require.ErrorIs(t, s.Rotate(ctx, a.JTI, storetest.NewSuccessor(), jwtpair.RotateOptions{}), jwtpair.ErrTokenBlacklisted)
	require.ErrorIs(t, s.Check(ctx, b.JTI), jwtpair.ErrTokenBlacklisted)
}

// TestIssueRetry: go-redis resends a command whose reply was lost; the
// same Issue arriving twice succeeds (the login did) and changes nothing.
func TestIssueRetry(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	a := storetest.Login(t, s)
	require.NoError(t, s.Issue(ctx, a), "the same Issue again")
	require.NoError(t, s.Check(ctx, a.JTI))

	// Any difference is another token under a taken jti.
	later := a
	later.ExpiresAt = a.ExpiresAt.Add(time.Second)
	storetest.RequireUnavailable(t, s.Issue(ctx, later), "another expiry")
	otherFamily := a
	otherFamily.FamilyID = "family-" + storetest.NewID()
	storetest.RequireUnavailable(t, s.Issue(ctx, otherFamily), "another family")

	// A token no longer active is not made usable, nor reported issued.
	b := storetest.NewSuccessor()
	require.NoError(t, s.Rotate(ctx, a.JTI, b, jwtpair.RotateOptions{}))
	storetest.RequireUnavailable(t, s.Issue(ctx, a), "consumed since")
	require.ErrorIs(t, s.Check(ctx, a.JTI), jwtpair.ErrTokenBlacklisted)
	c := storetest.Login(t, s)
	require.NoError(t, s.RevokeFamily(ctx, c.FamilyID))
	require.ErrorIs(t, s.Issue(ctx, c), jwtpair.ErrTokenBlacklisted, "family revoked since")
	require.ErrorIs(t, s.Check(ctx, c.JTI), jwtpair.ErrTokenBlacklisted)
}

// TestSharedPrefix: a new Store value on the same Redis and prefix (a
// restarted process) sees every earlier revocation.
func TestSharedPrefix(t *testing.T) {
	s1, _ := newStore(t)
	ctx := t.Context()
	a, b, c := storetest.NewRecord(), storetest.NewRecord(), storetest.NewRecord()
	for _, r := range []jwtpair.Record{a, b, c} {
		require.NoError(t, s1.Issue(ctx, r))
	}
	require.NoError(t, s1.Revoke(ctx, a.JTI))
	require.NoError(t, s1.RevokeFamily(ctx, b.FamilyID))
	require.NoError(t, s1.RevokeUser(ctx, c.UserID))

	s2 := redisstore.New(newClient(t), redisstore.WithKeyPrefix(s1.KeyPrefix()))
	for _, r := range []jwtpair.Record{a, b, c} {
		require.ErrorIs(t, s2.Check(ctx, r.JTI), jwtpair.ErrTokenBlacklisted)
	}
}

func TestOutageClosedPort(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: storetest.ClosedAddr(t), MaxRetries: 1, DialTimeout: time.Second, DialerRetries: 1})
	t.Cleanup(func() { _ = c.Close() })
	s := redisstore.New(c)
	storetest.RequireAllUnavailable(t, s)
}

// TestScriptReload: after SCRIPT FLUSH (as after a Redis restart) the store
// sends the script source again instead of failing.
func TestScriptReload(t *testing.T) {
	s, c := newStore(t)
	ctx := t.Context()
	a := storetest.Login(t, s)
	require.NoError(t, c.ScriptFlush(ctx).Err())
	require.NoError(t, s.Rotate(ctx, a.JTI, storetest.NewSuccessor(), jwtpair.RotateOptions{}))
	require.NoError(t, c.ScriptFlush(ctx).Err())
	require.ErrorIs(t, s.Check(ctx, a.JTI), jwtpair.ErrTokenBlacklisted)
}

// TestCluster runs the conformance suite on a three-node Redis Cluster it
// starts itself, when redis-server and redis-cli are installed: the scripts
// must keep to one slot. -short skips it, unless JWTPAIR_REQUIRE_BACKENDS=1
// (CI), which forbids skipping it for any reason.
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
	storetest.Run(t, func(t *testing.T) jwtpair.Store {
		return redisstore.New(c, redisstore.WithKeyPrefix("jwtpairtest:"+storetest.NewID()[:12]+":"))
	})

	// Prefixes spread stores over the shards: find two on different nodes.
	slot := func(prefix string) int64 {
		n, err := c.ClusterKeySlot(t.Context(), redisstore.New(c, redisstore.WithKeyPrefix(prefix)).KeyPrefix()+"t:x").Result()
		require.NoError(t, err)
		return n
	}
	assert.NotEqual(t, slot("a:"), slot("b:"))
	assert.Equal(t, slot("a:"), slot("{a:}"), "the hash tag is the prefix")
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

// countingHook counts the commands a client sends.
type countingHook struct{ n atomic.Int64 }

func (h *countingHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}
func (h *countingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// TestOneRoundTrip: every method is one command (EVALSHA) once the server
// has the scripts cached.
func TestOneRoundTrip(t *testing.T) {
	s, c := newStore(t)
	ctx := t.Context()
	storetest.Login(t, s)
	for _, call := range storetest.Calls(s) { // loads every script
		_ = call(ctx)
	}
	h := &countingHook{}
	c.AddHook(h)

	storetest.RequireRoundTrips(t, s, h.n.Load, 1)
}

// TestHTTPOutage: with Redis gone, the endpoints of a real Auth answer 503
// and never accept a revoked token, the middleware keeps serving, and all
// recovers without a restart (storetest.RunOutage).
func TestHTTPOutage(t *testing.T) {
	opt, err := redis.ParseURL(redisURL(t))
	require.NoError(t, err)
	p := storetest.StartProxy(t, opt.Addr)
	opt.Addr = p.Addr()
	opt.MaxRetries = 1
	opt.DialTimeout = time.Second
	opt.DialerRetries = 1
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	storetest.RunOutage(t, redisstore.New(c, redisstore.WithKeyPrefix(newPrefix(t, c))), p)
}
