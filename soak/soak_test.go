package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
)

// TestSoakInProcess runs the clients, vegeta's traffic and the checker
// for a few seconds against two in-process jwtpair instances sharing one
// memory store, which goes down (every call fails as unavailable) for a
// while: the whole pipeline of soak run but the processes, in make test.
func TestSoakInProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("a few seconds of traffic")
	}
	store := &switchStore{MemoryStore: jwtpair.NewMemoryStore()}
	const grace = 300 * time.Millisecond
	var bases []string
	for range 2 {
		auth, err := jwtpair.New(
			jwtpair.WithHMACKey([]byte("soak-test-secret-0123456789abcdef")),
			jwtpair.WithAuthenticator(users{}),
			jwtpair.WithStore(store),
			jwtpair.WithAccessTTL(2*time.Second),
			jwtpair.WithReuseGrace(grace),
			jwtpair.WithLogger(slog.New(slog.DiscardHandler)),
		)
		require.NoError(t, err)
		mux := http.NewServeMux()
		mux.Handle("/api/token/", auth.ObtainHandler())
		mux.Handle("/api/token/refresh/", auth.RefreshHandler())
		mux.Handle("/api/token/blacklist/", auth.BlacklistHandler())
		mux.Handle("/hello/", auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Write([]byte(`{"message":"Hello, World!"}`))
		})))
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		bases = append(bases, srv.URL)
	}

	path := filepath.Join(t.TempDir(), "requests.jsonl")
	log, err := newLogWriter(path)
	require.NoError(t, err)
	pool := newTokenPool()
	client := &http.Client{Timeout: 10 * time.Second}
	c := &caller{client: client, bases: bases, log: log, tokens: pool}
	const du = 3 * time.Second
	start := time.Now()
	var wg sync.WaitGroup
	var groups atomic.Uint64
	for i := range 4 {
		ch := &chain{id: i, user: fmt.Sprintf("u%d", i), password: "pw", c: c, rng: rand.New(rand.NewPCG(1, uint64(i))),
			grace: grace, deadline: start.Add(du), groups: &groups}
		wg.Go(ch.run)
	}
	wg.Go(func() { attack(&http.Client{Timeout: 10 * time.Second}, pool, bases, 60, du, 1, log) })
	var o Outage
	time.Sleep(time.Second)
	o.Down = time.Now().UnixNano()
	store.down.Store(true)
	o.Killed = time.Now().UnixNano()
	time.Sleep(700 * time.Millisecond)
	o.Restart = time.Now().UnixNano()
	store.down.Store(false)
	o.Up = time.Now().UnixNano()
	wg.Wait()
	require.NoError(t, log.close())

	fh, err := os.Open(path)
	require.NoError(t, err)
	defer fh.Close()
	entries, err := readLog(fh)
	require.NoError(t, err)
	cfg := CheckConfig{Instances: 2, Grace: grace, MaxGraceReplays: jwtpair.MaxGraceReplays, Recovery: time.Second, AccessBound: time.Second, AccessRevocation: true}
	f := check(entries, []Outage{o}, cfg)
	require.Zero(t, f.ViolationCount, "%+v", f.Violations)
	t.Logf("%d requests, %+v 200s, %d 503s, %d concurrent groups, %d replays, %d sessions ended, recovery %v",
		f.Requests, f.OK, f.Unavailable, f.Concurrent, f.Replays, f.SessionsEnded, time.Duration(f.Outages[0].Recovery))
	for _, kind := range []string{kindLogin, kindRefresh, kindLogout, kindHello} {
		assert.Positive(t, f.OK[kind], kind)
	}
	assert.Positive(t, f.ByKind[kindHello]-f.OK[kindHello], "refused protected requests (expired, anonymous)")
	assert.Positive(t, f.Unavailable, "503s during the outage")
	assert.Positive(t, f.Concurrent)
	assert.Positive(t, f.SessionsEnded)
	assert.True(t, f.Outages[0].Survived)
	var fromVegeta, fromChains int
	for _, e := range entries {
		if e.Client < 0 {
			fromVegeta++
		} else {
			fromChains++
		}
	}
	assert.InDelta(t, 60*du.Seconds(), fromVegeta, 20, "vegeta's pace")
	assert.Positive(t, fromChains)

	// The same log, with the store's verdicts broken after the fact, is
	// refused: a refresh token's first rotation answered twice.
	for i, e := range entries {
		if e.Kind == kindRefresh && e.Status == 200 && e.Probe == "" {
			late := e
			late.Start, late.End = e.End+int64(2*grace), e.End+int64(2*grace)+1
			f := check(append(entries[:i:i], append([]Entry{late}, entries[i:]...)...), []Outage{o}, cfg)
			assert.Equal(t, 1, f.ByRule[ruleRefreshReuse], "%+v", f.Violations)
			break
		}
	}
}

// users accepts any user with the password "pw".
type users struct{}

func (users) Authenticate(_ context.Context, name, password string) (jwtpair.User, error) {
	if password != "pw" {
		return jwtpair.User{}, jwtpair.ErrInvalidCredentials
	}
	return jwtpair.User{ID: name}, nil
}

// switchStore is a memory store that can be made unavailable: every call,
// its revocation feed's included, then fails as a backend down would.
type switchStore struct {
	*jwtpair.MemoryStore
	down atomic.Bool
}

func (s *switchStore) err() error {
	if s.down.Load() {
		return fmt.Errorf("%w: test outage", jwtpair.ErrStoreUnavailable)
	}
	return nil
}

func (s *switchStore) Issue(ctx context.Context, rec jwtpair.Record, opts jwtpair.IssueOptions) ([]string, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.MemoryStore.Issue(ctx, rec, opts)
}

func (s *switchStore) Rotate(ctx context.Context, t jwtpair.Token, next jwtpair.Record, opts jwtpair.RotateOptions) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.MemoryStore.Rotate(ctx, t, next, opts)
}

func (s *switchStore) Check(ctx context.Context, t jwtpair.Token) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.MemoryStore.Check(ctx, t)
}

func (s *switchStore) Revoke(ctx context.Context, t jwtpair.Token) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.MemoryStore.Revoke(ctx, t)
}

func (s *switchStore) EndSession(ctx context.Context, userID, sessionID string) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.MemoryStore.EndSession(ctx, userID, sessionID)
}

func (s *switchStore) EndSessions(ctx context.Context, userID, keep string) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.MemoryStore.EndSessions(ctx, userID, keep)
}

func (s *switchStore) Sessions(ctx context.Context, userID string) ([]jwtpair.Session, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.MemoryStore.Sessions(ctx, userID)
}

func (s *switchStore) Revocations(ctx context.Context, cursor string, wait time.Duration) ([]jwtpair.Revocation, string, error) {
	if err := s.err(); err != nil {
		return nil, cursor, err
	}
	return s.MemoryStore.Revocations(ctx, cursor, wait)
}
