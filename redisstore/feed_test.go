package redisstore_test

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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

// revoked is what a Revocation names, without its time.
type revoked struct{ user, session string }

func names(rs []jwtpair.Revocation) []revoked {
	out := make([]revoked, 0, len(rs))
	for _, r := range rs {
		out = append(out, revoked{r.UserID, r.SessionID})
	}
	return out
}

// feedKey is the store's revocation stream.
func feedKey(s *redisstore.Store) string { return s.KeyPrefix() + "{feed}" }

// TestFeedEntries: every way a session ends is one entry of the stream,
// in order, timed on Redis's clock; EndSessions with no session kept adds
// the user-wide entry.
func TestFeedEntries(t *testing.T) {
	s, c := newStore(t)
	ctx := t.Context()
	before := redisNow(t, c)

	logout := storetest.Login(t, s)
	require.NoError(t, s.Revoke(ctx, storetest.TokenOf(logout)))
	ended := storetest.Login(t, s)
	require.NoError(t, s.EndSession(ctx, ended.UserID, ended.SessionID))
	stolen := storetest.Login(t, s)
	require.NoError(t, s.Rotate(ctx, storetest.TokenOf(stolen), storetest.NewSuccessor(), jwtpair.RotateOptions{}))
	require.ErrorIs(t, s.Rotate(ctx, storetest.TokenOf(stolen), storetest.NewSuccessor(), jwtpair.RotateOptions{}), jwtpair.ErrTokenReused)
	oldest := storetest.Login(t, s)
	storetest.LoginAs(t, s, oldest.UserID, jwtpair.IssueOptions{MaxSessions: 1})
	kept, other := storetest.Login(t, s), storetest.NewRecord()
	other.UserID = kept.UserID
	require.NoError(t, issueErr(s.Issue(ctx, other, jwtpair.IssueOptions{})))
	require.NoError(t, s.EndSessions(ctx, kept.UserID, kept.SessionID))
	all := storetest.Login(t, s)
	require.NoError(t, s.EndSessions(ctx, all.UserID, ""))
	after := redisNow(t, c)

	got, cursor, err := s.Revocations(ctx, "", time.Second)
	require.NoError(t, err)
	assert.Equal(t, []revoked{
		{logout.UserID, logout.SessionID},
		{ended.UserID, ended.SessionID},
		{stolen.UserID, stolen.SessionID},
		{oldest.UserID, oldest.SessionID},
		{other.UserID, other.SessionID},
		{all.UserID, all.SessionID},
		{all.UserID, ""},
	}, names(got))
	for _, r := range got {
		assert.False(t, r.At.Before(before.Truncate(time.Microsecond)) || r.At.After(after), "%v on Redis's clock, in [%v, %v]", r.At, before, after)
	}
	last, err := c.XRevRangeN(ctx, feedKey(s), "+", "-", 1).Result()
	require.NoError(t, err)
	assert.Equal(t, last[0].ID, cursor, "the cursor is the last stream id")

	// Ending what has ended already records nothing more.
	require.NoError(t, s.EndSession(ctx, ended.UserID, ended.SessionID))
	require.ErrorIs(t, s.Revoke(ctx, storetest.TokenOf(logout)), jwtpair.ErrTokenBlacklisted)
	got, cursor2, err := s.Revocations(ctx, cursor, 0)
	require.NoError(t, err)
	assert.Empty(t, got)
	assert.Equal(t, cursor, cursor2)
}

// TestFeedPush: a blocked Revocations returns as soon as another client
// ends a session, long before its wait; with nothing, it returns after
// wait with the cursor unchanged; a wait under a millisecond never blocks
// (XREAD BLOCK 0 would block forever).
func TestFeedPush(t *testing.T) {
	s, _ := newStore(t)
	other := redisstore.New(newClient(t), redisstore.WithKeyPrefix(s.KeyPrefix()))
	ctx := t.Context()
	_, cursor, err := s.Revocations(ctx, "", 0)
	require.NoError(t, err)
	assert.Equal(t, "0-0", cursor, "an empty stream")

	a := storetest.Login(t, s)
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(100 * time.Millisecond) // let the reader block first
		assert.NoError(t, other.EndSession(context.Background(), a.UserID, a.SessionID))
	}()
	start := time.Now()
	got, cursor, err := s.Revocations(ctx, cursor, 10*time.Second)
	took := time.Since(start)
	<-done
	require.NoError(t, err)
	assert.Equal(t, []revoked{{a.UserID, a.SessionID}}, names(got))
	assert.Less(t, took, 2*time.Second, "pushed, not waited out")

	for _, wait := range []time.Duration{0, 500 * time.Microsecond, time.Millisecond, 200 * time.Millisecond} {
		start := time.Now()
		got, c2, err := s.Revocations(ctx, cursor, wait)
		took := time.Since(start)
		require.NoError(t, err)
		assert.Empty(t, got)
		assert.Equal(t, cursor, c2)
		assert.GreaterOrEqual(t, took, wait.Truncate(time.Millisecond), "wait %v", wait)
		assert.Less(t, took, wait+time.Second, "wait %v", wait)
	}
}

// TestFeedPages: one call returns every entry recorded before it started,
// however many pages of the stream that takes, from the empty cursor
// (XRANGE) and from a cursor (XREAD).
func TestFeedPages(t *testing.T) {
	const n = 2500
	s, _ := newStore(t)
	ctx := t.Context()
	_, cursor, err := s.Revocations(ctx, "", 0)
	require.NoError(t, err)
	user := "pages-" + storetest.NewID()[:8]
	for range n {
		storetest.LoginAs(t, s, user, jwtpair.IssueOptions{})
	}
	require.NoError(t, s.EndSessions(ctx, user, ""))

	for _, from := range []string{"", cursor} {
		got, _, err := s.Revocations(ctx, from, 0)
		require.NoError(t, err)
		require.Len(t, got, n+1, "from %q", from)
		seen := map[string]bool{}
		for _, r := range got {
			seen[r.SessionID] = true
		}
		assert.Len(t, seen, n+1, "no entry twice")
	}
}

// TestFeedRetention: the feed keeps what a revocation must cover and
// trims what is older, on Redis's clock.
func TestFeedRetention(t *testing.T) {
	const retention = 10 * time.Minute
	s, c := newStore(t, redisstore.WithRevocationRetention(retention))
	ctx := t.Context()
	assert.Equal(t, retention, s.RevocationRetention())
	d, _ := newStore(t)
	assert.Equal(t, redisstore.DefaultRevocationRetention, d.RevocationRetention())
	assert.Equal(t, time.Hour, d.RevocationRetention())
	z, _ := newStore(t, redisstore.WithRevocationRetention(0))
	assert.Equal(t, time.Hour, z.RevocationRetention())

	now := redisNow(t, c)
	add := func(age time.Duration, sid string) {
		id := strconv.FormatInt(now.Add(-age).UnixMilli(), 10) + "-0"
		require.NoError(t, c.XAdd(ctx, &redis.XAddArgs{Stream: feedKey(s), ID: id, Values: []any{"u", "old", "s", sid, "a", "0"}}).Err())
	}
	add(retention+time.Minute, "too-old")
	add(retention-time.Minute, "kept")
	a := storetest.Login(t, s)
	require.NoError(t, s.EndSession(ctx, a.UserID, a.SessionID))
	got, _, err := s.Revocations(ctx, "", 0)
	require.NoError(t, err)
	assert.Equal(t, []revoked{{"old", "kept"}, {a.UserID, a.SessionID}}, names(got))
	ttl, err := c.PTTL(ctx, feedKey(s)).Result()
	require.NoError(t, err)
	assert.InDelta(t, retention, ttl, float64(time.Minute))
}

func TestFeedInvalidCursor(t *testing.T) {
	s, _ := newStore(t)
	for _, cursor := range []string{"x", "1-", "-1", "1-2-3", "+", "$", "99999999999999999999999-0"} {
		_, _, err := s.Revocations(t.Context(), cursor, 0)
		storetest.RequireUnavailable(t, err, cursor)
	}
}

// breakFeed makes the stream unwritable (a string where the stream should
// be: XADD answers WRONGTYPE) until the returned func repairs it.
func breakFeed(t *testing.T, s *redisstore.Store, c *redis.Client) (repair func()) {
	t.Helper()
	require.NoError(t, c.Del(t.Context(), feedKey(s)).Err())
	require.NoError(t, c.Set(t.Context(), feedKey(s), "broken", 0).Err())
	return func() { require.NoError(t, c.Del(t.Context(), feedKey(s)).Err()) }
}

// TestFeedWriteFailure: when the feed entry cannot be written after the
// script ended a session, the method fails with ErrStoreUnavailable (never
// success, never a token verdict), the session stays ended, and the
// caller's retry writes the entry.
func TestFeedWriteFailure(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// end ends a session of a new user on s and returns it; again is
		// the caller's retry and the error it must answer once the feed
		// works.
		end   func(t *testing.T, s *redisstore.Store) (jwtpair.Record, error)
		again func(s *redisstore.Store, a jwtpair.Record) error
		want  error
		// gone is the verdict on the ended session's token.
		gone error
	}{
		{"Revoke",
			func(t *testing.T, s *redisstore.Store) (jwtpair.Record, error) {
				a := storetest.Login(t, s)
				return a, s.Revoke(ctx, storetest.TokenOf(a))
			},
			func(s *redisstore.Store, a jwtpair.Record) error { return s.Revoke(ctx, storetest.TokenOf(a)) },
			jwtpair.ErrTokenBlacklisted, jwtpair.ErrTokenBlacklisted},
		{"EndSession",
			func(t *testing.T, s *redisstore.Store) (jwtpair.Record, error) {
				a := storetest.Login(t, s)
				return a, s.EndSession(ctx, a.UserID, a.SessionID)
			},
			func(s *redisstore.Store, a jwtpair.Record) error { return s.EndSession(ctx, a.UserID, a.SessionID) },
			nil, jwtpair.ErrTokenBlacklisted},
		{"EndSessions keeping one",
			func(t *testing.T, s *redisstore.Store) (jwtpair.Record, error) {
				a := storetest.Login(t, s)
				keep := storetest.LoginAs(t, s, a.UserID, jwtpair.IssueOptions{})
				return a, s.EndSessions(ctx, a.UserID, keep.SessionID)
			},
			func(s *redisstore.Store, a jwtpair.Record) error { return s.EndSessions(ctx, a.UserID, "keep") },
			nil, jwtpair.ErrTokenBlacklisted},
		{"Rotate reuse",
			func(t *testing.T, s *redisstore.Store) (jwtpair.Record, error) {
				a := storetest.Login(t, s)
				require.NoError(t, s.Rotate(ctx, storetest.TokenOf(a), storetest.NewSuccessor(), jwtpair.RotateOptions{}))
				return a, s.Rotate(ctx, storetest.TokenOf(a), storetest.NewSuccessor(), jwtpair.RotateOptions{})
			},
			func(s *redisstore.Store, a jwtpair.Record) error {
				return s.Rotate(ctx, storetest.TokenOf(a), storetest.NewSuccessor(), jwtpair.RotateOptions{})
			},
			jwtpair.ErrTokenBlacklisted, jwtpair.ErrTokenBlacklisted},
		{"Issue cap",
			func(t *testing.T, s *redisstore.Store) (jwtpair.Record, error) {
				a := storetest.Login(t, s)
				return a, issueErr(s.Issue(ctx, recordOf(a.UserID), jwtpair.IssueOptions{MaxSessions: 1}))
			},
			func(s *redisstore.Store, a jwtpair.Record) error {
				return issueErr(s.Issue(ctx, recordOf(a.UserID), jwtpair.IssueOptions{MaxSessions: 2}))
			},
			nil, jwtpair.ErrTokenNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := newStore(t)
			repair := breakFeed(t, s, c)
			a, err := tc.end(t, s)
			storetest.RequireUnavailable(t, err, "the feed entry could not be written")
			require.ErrorIs(t, s.Check(ctx, storetest.TokenOf(a)), tc.gone, "the session has ended all the same")
			repair()

			require.ErrorIs(t, tc.again(s, a), tc.want)
			got, _, err := s.Revocations(ctx, "", 0)
			require.NoError(t, err)
			assert.Contains(t, names(got), revoked{a.UserID, a.SessionID}, "the retry wrote the entry")
			n, err := c.Exists(ctx, s.KeyPrefix()+"{u:"+a.UserID+"}:p").Result()
			require.NoError(t, err)
			assert.Zero(t, n, "and acknowledged it")
		})
	}
}

// TestFeedSurvivesOutage: a reader following the feed through a proxy sees
// errors (ErrStoreUnavailable) while Redis is unreachable and, with the
// cursor it had, every session ended before, during (by a client that can
// still reach Redis) and after the outage.
func TestFeedSurvivesOutage(t *testing.T) {
	rc, p := proxiedClient(t)
	writer, _ := newStore(t)
	reader := redisstore.New(rc, redisstore.WithKeyPrefix(writer.KeyPrefix()))
	ctx := t.Context()

	f := follow(t, reader)
	endOne := func() revoked {
		a := storetest.Login(t, writer)
		require.NoError(t, writer.EndSession(ctx, a.UserID, a.SessionID))
		return revoked{a.UserID, a.SessionID}
	}
	want := []revoked{endOne()}
	f.waitFor(t, want)

	p.Stop()
	for range 3 {
		want = append(want, endOne())
	}
	f.waitForError(t)
	p.Start()
	want = append(want, endOne())
	f.waitFor(t, want)
}

// follower runs Revocations in a loop, as an Auth does, and keeps what it
// saw.
type follower struct {
	mu     sync.Mutex
	seen   map[revoked]bool
	errs   int
	cancel context.CancelFunc
	done   chan struct{}
}

func follow(t *testing.T, s *redisstore.Store) *follower {
	ctx, cancel := context.WithCancel(context.Background())
	f := &follower{seen: map[revoked]bool{}, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		cursor := ""
		for ctx.Err() == nil {
			got, next, err := s.Revocations(ctx, cursor, 100*time.Millisecond)
			f.mu.Lock()
			if err != nil {
				if !assert.ErrorIs(t, err, jwtpair.ErrStoreUnavailable) {
					f.mu.Unlock()
					return
				}
				f.errs++
				f.mu.Unlock()
				time.Sleep(20 * time.Millisecond)
				continue
			}
			for _, r := range names(got) {
				f.seen[r] = true
			}
			f.mu.Unlock()
			cursor = next
		}
	}()
	t.Cleanup(func() {
		f.cancel()
		<-f.done
	})
	return f
}

func (f *follower) waitFor(t *testing.T, want []revoked) {
	t.Helper()
	require.Eventually(t, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, r := range want {
			if !f.seen[r] {
				return false
			}
		}
		return true
	}, 15*time.Second, 10*time.Millisecond, "every ended session reaches the reader")
}

func (f *follower) waitForError(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.errs > 0
	}, 15*time.Second, 10*time.Millisecond, "the reader sees the outage")
}

// TestFeedSurvivesRestart kills a Redis server of its own (AOF, fsync on
// every write) with SIGKILL while a reader follows the feed and a writer
// ends sessions, and starts it again on the same port and data: the reader
// reports the outage, then resumes from its cursor, and every session ended
// before the kill and after the restart reaches it; the ended sessions stay
// ended.
func TestFeedSurvivesRestart(t *testing.T) {
	if testing.Short() && !storetest.BackendsRequired() {
		t.Skip("starts a Redis server (run without -short, or with JWTPAIR_REQUIRE_BACKENDS=1)")
	}
	srv := startRedis(t)
	newC := func() *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: srv.addr, MaxRetries: 1, DialTimeout: time.Second, DialerRetries: 1})
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	writer := redisstore.New(newC())
	reader := redisstore.New(newC())
	ctx := context.Background()
	f := follow(t, reader)

	var want []revoked
	var ended []jwtpair.Record
	for range 5 {
		a := storetest.Login(t, writer)
		require.NoError(t, writer.EndSession(ctx, a.UserID, a.SessionID))
		want = append(want, revoked{a.UserID, a.SessionID})
		ended = append(ended, a)
	}
	f.waitFor(t, want)

	srv.kill(t)
	a := storetest.NewRecord()
	storetest.RequireUnavailable(t, issueErr(writer.Issue(ctx, a, jwtpair.IssueOptions{})), "Redis is down")
	f.waitForError(t)
	srv.start(t)

	require.Eventually(t, func() bool {
		return !errors.Is(writer.Check(ctx, storetest.TokenOf(ended[0])), jwtpair.ErrStoreUnavailable)
	}, 15*time.Second, 20*time.Millisecond, "the store works again once Redis is back")
	for _, a := range ended {
		require.ErrorIs(t, writer.Check(ctx, storetest.TokenOf(a)), jwtpair.ErrTokenBlacklisted, "ended before the kill, still ended")
	}
	for range 5 {
		a := storetest.Login(t, writer)
		require.NoError(t, writer.EndSession(ctx, a.UserID, a.SessionID))
		want = append(want, revoked{a.UserID, a.SessionID})
	}
	f.waitFor(t, want)
	got, _, err := reader.Revocations(ctx, "", 0)
	require.NoError(t, err)
	assert.ElementsMatch(t, want, names(got), "the stream itself survived")
}

// redisServer is a redis-server of a test's own.
type redisServer struct {
	bin, dir, port, addr string
	cmd                  *exec.Cmd
}

// startRedis starts redis-server on a free port with AOF and fsync on every
// write, stopped at cleanup.
func startRedis(t *testing.T) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if storetest.BackendsRequired() {
			t.Fatal("redis-server is needed for the restart test")
		}
		t.Skip("redis-server not on PATH: restart test skipped")
	}
	port := freePort(t)
	srv := &redisServer{bin: bin, dir: t.TempDir(), port: port, addr: "127.0.0.1:" + port}
	srv.start(t)
	t.Cleanup(func() {
		if srv.cmd != nil {
			_ = srv.cmd.Process.Kill()
			_ = srv.cmd.Wait()
		}
	})
	return srv
}

func (srv *redisServer) start(t *testing.T) {
	t.Helper()
	srv.cmd = exec.Command(srv.bin, "--bind", "127.0.0.1", "--port", srv.port, "--dir", srv.dir,
		"--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no",
		"--logfile", filepath.Join(srv.dir, "redis.log"))
	require.NoError(t, srv.cmd.Start())
	c := redis.NewClient(&redis.Options{Addr: srv.addr})
	defer c.Close()
	require.Eventually(t, func() bool { return c.Ping(context.Background()).Err() == nil }, 10*time.Second, 20*time.Millisecond,
		"redis-server on %s: %s", srv.addr, readFile(filepath.Join(srv.dir, "redis.log")))
}

func (srv *redisServer) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, srv.cmd.Process.Kill())
	_ = srv.cmd.Wait()
	srv.cmd = nil
}

func readFile(name string) string {
	b, _ := os.ReadFile(name)
	return string(b)
}

// freePort returns a port of 127.0.0.1 that nothing listens on.
func freePort(t *testing.T) string {
	t.Helper()
	_, port, err := net.SplitHostPort(storetest.ClosedAddr(t))
	require.NoError(t, err)
	return port
}
