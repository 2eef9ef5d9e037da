package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
)

// Proxy forwards TCP connections from a local address to a backend, so a
// test can take the backend away and bring it back: Stop closes the listener
// and every forwarded connection, as a server going down would; Start
// listens again on the same address. Stall holds every byte instead, on
// open connections, as a hung server or a network dropping packets does;
// Resume lets them through again.
type Proxy struct {
	tb     testing.TB
	target string
	addr   string

	mu      sync.Mutex
	ln      net.Listener
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
	stalled chan struct{} // closed by Resume and Stop; nil: bytes flow
}

// StartProxy starts a proxy to target ("host:port") on a free port of
// 127.0.0.1, stopped at the test's cleanup.
func StartProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	p := &Proxy{tb: tb, target: target, addr: "127.0.0.1:0", conns: make(map[net.Conn]struct{})}
	p.Start()
	tb.Cleanup(p.Stop)
	return p
}

// Addr is the proxy's address: point the store's client at it.
func (p *Proxy) Addr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addr
}

// Start listens (again) on the proxy's address.
func (p *Proxy) Start() {
	p.tb.Helper()
	ln, err := net.Listen("tcp", p.addr)
	require.NoError(p.tb, err, "proxy listen")
	p.mu.Lock()
	p.ln = ln
	p.addr = ln.Addr().String()
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.forward(c)
		}
	}()
}

func (p *Proxy) forward(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil { // stopped meanwhile
		p.mu.Unlock()
		_ = c.Close()
		_ = up.Close()
		return
	}
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	pipe := func(dst, src net.Conn) {
		defer p.wg.Done()
		_, _ = io.Copy(dst, gated{src, p})
		_ = dst.Close()
		_ = src.Close()
	}
	p.wg.Add(2)
	go pipe(up, c)
	go pipe(c, up)
}

// Stall holds every byte from then on, both ways, on every connection, new
// ones included (they are accepted, and hang): a store call waits until its
// context's deadline, or its client's own timeout. Resume (or Stop) ends it.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stalled == nil {
		p.stalled = make(chan struct{})
	}
}

// Resume lets the bytes Stall held through, and the next ones. Calling it
// when not stalled is harmless.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stalled != nil {
		close(p.stalled)
		p.stalled = nil
	}
}

// gated reads from a forwarded connection, holding what it read while the
// proxy is stalled.
type gated struct {
	net.Conn
	p *Proxy
}

func (g gated) Read(b []byte) (int, error) {
	n, err := g.Conn.Read(b)
	g.p.mu.Lock()
	stalled := g.p.stalled
	g.p.mu.Unlock()
	if stalled != nil {
		<-stalled
	}
	return n, err
}

// Stop closes the listener and all connections and waits for the copiers.
// Calling it again is harmless.
func (p *Proxy) Stop() {
	p.Resume()
	p.mu.Lock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
		delete(p.conns, c)
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// ClosedAddr returns an address of 127.0.0.1 that nothing listens on (a
// port just released), for a store whose backend cannot be reached at all:
// see [RequireAllUnavailable].
func ClosedAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	addr := ln.Addr().String()
	require.NoError(tb, ln.Close())
	return addr
}

// Calls returns one call of each Store method against s, on a fresh
// record, for outage tests; with the revocation feed's Revocations when s
// has one.
func Calls(s jwtpair.Store) map[string]func(context.Context) error {
	rec := NewRecord()
	calls := map[string]func(context.Context) error{
		"Issue": func(ctx context.Context) error {
			return issueErr(s.Issue(ctx, rec, jwtpair.IssueOptions{MaxSessions: 1}))
		},
		"Rotate": func(ctx context.Context) error {
			return s.Rotate(ctx, TokenOf(rec), successor(), jwtpair.RotateOptions{})
		},
		"Check":       func(ctx context.Context) error { return s.Check(ctx, TokenOf(rec)) },
		"Revoke":      func(ctx context.Context) error { return s.Revoke(ctx, TokenOf(rec)) },
		"EndSession":  func(ctx context.Context) error { return s.EndSession(ctx, rec.UserID, rec.SessionID) },
		"EndSessions": func(ctx context.Context) error { return s.EndSessions(ctx, rec.UserID, "") },
		"Sessions":    func(ctx context.Context) error { _, err := s.Sessions(ctx, rec.UserID); return err },
	}
	if f, ok := s.(jwtpair.RevocationFeed); ok {
		calls["Revocations"] = func(ctx context.Context) error { _, _, err := f.Revocations(ctx, "", 0); return err }
	}
	return calls
}

// RequireUnavailable asserts that err reports a store failure
// (jwtpair.ErrStoreUnavailable) and no token state.
func RequireUnavailable(tb testing.TB, err error, msgAndArgs ...any) {
	tb.Helper()
	require.ErrorIs(tb, err, jwtpair.ErrStoreUnavailable, msgAndArgs...)
	for _, state := range []error{jwtpair.ErrTokenNotFound, jwtpair.ErrTokenBlacklisted, jwtpair.ErrTokenReused} {
		require.False(tb, errors.Is(err, state), "a store failure must not report a token state: %v", err)
	}
}

// RequireAllUnavailable calls every method of s (see Calls) and asserts
// that each reports a store failure.
func RequireAllUnavailable(tb testing.TB, s jwtpair.Store) {
	tb.Helper()
	for name, call := range Calls(s) {
		RequireUnavailable(tb, call(context.Background()), name)
	}
}

// Link is the way to a backend that [RunOutage] cuts (Stop: nothing
// reaches the backend, every open connection to it is closed) and restores
// (Start: it is reachable again at the same address). A [*Proxy] is one; a
// backend of several servers is cut as a whole by a Link that stops a
// proxy in front of each (every node of a Redis Cluster).
type Link interface {
	Stop()
	Start()
}

// RunOutage checks what an outage of a networked backend must look like,
// on the store and through the HTTP endpoints of a real Auth. With the
// backend behind p gone, every store method fails with ErrStoreUnavailable;
// obtain, refresh, verify (of a refresh token) and blacklist answer 503
// with the documented JSON (never 200, never internal error text); an ended
// refresh token is never accepted; and once the revocation feed has been
// unreadable for the revocation bound, protected requests answer 503 too
// (never 200 after that), the access tokens of ended sessions never
// getting 200. When the backend returns, the same Auth and store work
// again without a restart, earlier ends intact, and no access token of a
// session ended before or during the outage is ever accepted: the session
// ended during it is ended through direct, a store value over the same
// backend that does not go through p (an instance that could still reach
// it). store must reach its backend only through p (a [*Proxy]'s Addr) and
// give up on a dead connection within a few seconds.
func RunOutage(t *testing.T, store jwtpair.Store, p Link, direct jwtpair.Store) {
	t.Helper()
	ctx := t.Context()
	endedRec, liveRec := Login(t, store), Login(t, store)
	require.NoError(t, store.Revoke(ctx, TokenOf(endedRec)))
	in := newInstance(t, store)
	user := "u-" + NewID()
	live, ended, endedDuring := in.login(t, user), in.login(t, user), in.login(t, user)
	require.NoError(t, in.auth.Revoke(ctx, ended.Refresh))
	in.awaitRefused(t, ended.Access, time.Now())
	sidDuring := in.sid(t, endedDuring.Access)
	require.Equal(t, http.StatusOK, in.hello(t, live.Access))

	p.Stop()
	stopped := time.Now()
	RequireAllUnavailable(t, store)
	RequireUnavailable(t, store.Check(ctx, TokenOf(endedRec)), "an ended token is never reported usable")
	const unavailable = `{"detail":"Service temporarily unavailable, try again later.","code":"service_unavailable"}`
	for name, req := range map[string][2]string{
		"obtain":             {"/api/token/", `{"username":"` + user + `","password":"pw"}`},
		"refresh":            {"/api/token/refresh/", `{"refresh":"` + live.Refresh + `"}`},
		"refresh of a ended": {"/api/token/refresh/", `{"refresh":"` + ended.Refresh + `"}`},
		"blacklist":          {"/api/token/blacklist/", `{"refresh":"` + live.Refresh + `"}`},
	} {
		status, body := in.postRaw(t, req[0], req[1])
		assert.Equal(t, http.StatusServiceUnavailable, status, "%s while the backend is down", name)
		assert.JSONEq(t, unavailable, body, name)
	}
	_, err := in.auth.Verify(ctx, ended.Refresh)
	assert.ErrorIs(t, err, jwtpair.ErrStoreUnavailable, "verify of a refresh token fails closed")

	// The feed is down: within the bound, protected requests fail closed.
	bound := stopped.Add(jwtpair.DefaultRevocationStaleness)
	for {
		sent := time.Now()
		status, body := in.do(t, http.MethodGet, "/hello/", live.Access)
		if status == http.StatusServiceUnavailable {
			assert.JSONEq(t, unavailable, body)
			t.Logf("503 %v after the backend went away", time.Since(stopped).Round(time.Millisecond))
			break
		}
		require.Equal(t, http.StatusOK, status, body)
		require.True(t, sent.Before(bound), "200 %v after the backend went away (bound %v)", sent.Sub(stopped), jwtpair.DefaultRevocationStaleness)
		time.Sleep(10 * time.Millisecond)
	}
	assert.Equal(t, http.StatusServiceUnavailable, in.hello(t, ended.Access), "an ended session's access token")

	// A session ended meanwhile by an instance that still reaches the
	// backend; the backend comes back once the bound has passed since.
	require.NoError(t, direct.EndSession(ctx, user, sidDuring))
	time.Sleep(jwtpair.DefaultRevocationStaleness + 100*time.Millisecond)
	p.Start()
	require.Eventually(t, func() bool {
		return in.hello(t, live.Access) == http.StatusOK
	}, 15*time.Second, 20*time.Millisecond, "protected requests work again once the backend is back, without a restart")
	for name, tok := range map[string]string{"ended before the outage": ended.Access, "ended during the outage": endedDuring.Access} {
		status, body := in.do(t, http.MethodGet, "/hello/", tok)
		assert.Equal(t, http.StatusUnauthorized, status, "the access token of a session %s: %s", name, body)
	}
	require.Eventually(t, func() bool {
		status, _ := in.postRaw(t, "/api/token/refresh/", `{"refresh":"`+live.Refresh+`"}`)
		return status == http.StatusOK
	}, 15*time.Second, 50*time.Millisecond, "refresh works again once the backend is back, without a restart")
	for _, tok := range []string{ended.Refresh, endedDuring.Refresh} {
		status, _ := in.postRaw(t, "/api/token/refresh/", `{"refresh":"`+tok+`"}`)
		assert.Equal(t, http.StatusUnauthorized, status, "the end survived the outage")
		_, err = in.auth.Refresh(ctx, tok)
		assert.ErrorIs(t, err, jwtpair.ErrTokenBlacklisted)
	}
	assert.ErrorIs(t, store.Check(ctx, TokenOf(endedRec)), jwtpair.ErrTokenBlacklisted)
	assert.NoError(t, store.Rotate(ctx, TokenOf(liveRec), successor(), jwtpair.RotateOptions{}))
}

// stallTimeout is the store timeout of RunStall's Auth.
const stallTimeout = 300 * time.Millisecond

// RunStall checks that a backend that stops answering costs a request a
// 503 within the Auth's store timeout (jwtpair.WithStoreTimeout), never a
// hang. With the backend stalled by stall (a [Proxy]'s Stall, a lock held
// on the database by another connection), obtain, refresh and blacklist on
// an Auth over store with a 300 ms store timeout each answer 503 with the
// documented JSON within two seconds (slack for a loaded machine); once resume has run, the same Auth logs
// in and refreshes again, without a restart. store must honour its
// context's deadline in every call that writes (a go-redis client needs
// ContextTimeoutEnabled). A call the stall held may still reach the
// backend once it answers again (a partition's retransmission does): the
// tokens used during the stall are not used after it.
func RunStall(t *testing.T, store jwtpair.Store, stall, resume func()) {
	t.Helper()
	in := newInstance(t, store, jwtpair.WithStoreTimeout(stallTimeout))
	t.Cleanup(resume) // before the Auth's Close, whose feed follower may wait on the backend
	user := "u-" + NewID()
	live := in.login(t, user)
	post := func(path, body string) (int, string, time.Duration) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second) // fail, not hang, without the timeout
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		start := time.Now()
		resp, err := in.srv.Client().Do(req)
		require.NoError(t, err, "%s: no answer", path)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(raw), time.Since(start)
	}

	stall()
	const unavailable = `{"detail":"Service temporarily unavailable, try again later.","code":"service_unavailable"}`
	for _, req := range []struct{ name, path, body string }{
		{"obtain", "/api/token/", `{"username":"` + user + `","password":"pw"}`},
		{"refresh", "/api/token/refresh/", `{"refresh":"` + live.Refresh + `"}`},
		{"blacklist", "/api/token/blacklist/", `{"refresh":"` + live.Refresh + `"}`},
	} {
		status, body, took := post(req.path, req.body)
		assert.Equal(t, http.StatusServiceUnavailable, status, "%s while the backend is stalled: %s", req.name, body)
		assert.JSONEq(t, unavailable, body, req.name)
		assert.Less(t, took, stallTimeout+2*time.Second, "%s answered after %v; store timeout %v", req.name, took, stallTimeout)
		t.Logf("%s: %d after %v", req.name, status, took.Round(time.Millisecond))
	}

	resume()
	var again jwtpair.Pair
	require.Eventually(t, func() bool {
		status, body, _ := post("/api/token/", `{"username":"`+user+`","password":"pw"}`)
		return status == http.StatusOK && json.Unmarshal([]byte(body), &again) == nil
	}, 15*time.Second, 50*time.Millisecond, "logins work again once the backend answers, without a restart")
	status, body, _ := post("/api/token/refresh/", `{"refresh":"`+again.Refresh+`"}`)
	assert.Equal(t, http.StatusOK, status, "refresh works again: %s", body)
}
