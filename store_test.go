package jwtpair

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stallFor is how long a stalled call of slowStore or slowLimiter takes
// when its context does not end first: far longer than the store timeout
// of the tests, so that a call without a deadline shows.
const stallFor = 5 * time.Second

// stall is the part of slowStore and slowLimiter that stalls: a backend
// that stopped answering (a partition, a lock held elsewhere) for the
// calls of one method, which honour their context as the Store contract
// requires. It records the deadline each call was given.
type stall struct {
	mu        sync.Mutex
	method    string               // the method that stalls; "" none
	deadlines map[string]time.Time // per method, the deadline of its last call; zero: none
}

// wait stalls a call of method when method is the one that stalls, until
// stallFor has passed (then the call goes on, as a slow backend's would)
// or ctx ends (an error that does not wrap ErrStoreUnavailable: the Auth
// must map it to 503 itself).
func (s *stall) wait(ctx context.Context, method string) error {
	s.mu.Lock()
	if s.deadlines == nil {
		s.deadlines = map[string]time.Time{}
	}
	s.deadlines[method], _ = ctx.Deadline()
	stalled := s.method == method
	s.mu.Unlock()
	if !stalled {
		return nil
	}
	t := time.NewTimer(stallFor)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("slow backend: %s: %w", method, ctx.Err())
	case <-t.C:
		return nil
	}
}

// set makes method the one that stalls ("" for none).
func (s *stall) set(method string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.method = method
}

// deadline is the deadline the last call of method was given.
func (s *stall) deadline(method string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deadlines[method]
}

// slowStore is a memory store (its revocation feed included, never
// stalled) whose calls stall as its stall says.
type slowStore struct {
	*MemoryStore
	*stall
}

func (s slowStore) Issue(ctx context.Context, r Record, o IssueOptions) ([]string, error) {
	if err := s.wait(ctx, "Issue"); err != nil {
		return nil, err
	}
	return s.MemoryStore.Issue(ctx, r, o)
}

func (s slowStore) Rotate(ctx context.Context, t Token, r Record, o RotateOptions) error {
	if err := s.wait(ctx, "Rotate"); err != nil {
		return err
	}
	return s.MemoryStore.Rotate(ctx, t, r, o)
}

func (s slowStore) Check(ctx context.Context, t Token) error {
	if err := s.wait(ctx, "Check"); err != nil {
		return err
	}
	return s.MemoryStore.Check(ctx, t)
}

func (s slowStore) Revoke(ctx context.Context, t Token) error {
	if err := s.wait(ctx, "Revoke"); err != nil {
		return err
	}
	return s.MemoryStore.Revoke(ctx, t)
}

func (s slowStore) EndSession(ctx context.Context, u, id string) error {
	if err := s.wait(ctx, "EndSession"); err != nil {
		return err
	}
	return s.MemoryStore.EndSession(ctx, u, id)
}

func (s slowStore) EndSessions(ctx context.Context, u, keep string) error {
	if err := s.wait(ctx, "EndSessions"); err != nil {
		return err
	}
	return s.MemoryStore.EndSessions(ctx, u, keep)
}

func (s slowStore) Sessions(ctx context.Context, u string) ([]Session, error) {
	if err := s.wait(ctx, "Sessions"); err != nil {
		return nil, err
	}
	return s.MemoryStore.Sessions(ctx, u)
}

// slowLimiter is a memory limiter whose calls stall as its stall says.
type slowLimiter struct {
	*MemoryLimiter
	*stall
}

func (l slowLimiter) Allow(ctx context.Context, key string, limit Limit) (bool, time.Duration, error) {
	if err := l.wait(ctx, "Allow"); err != nil {
		return false, 0, err
	}
	return l.MemoryLimiter.Allow(ctx, key, limit)
}

func (l slowLimiter) Reset(ctx context.Context, key string) error {
	if err := l.wait(ctx, "Reset"); err != nil {
		return err
	}
	return l.MemoryLimiter.Reset(ctx, key)
}

// slowAuth returns an Auth over a slowStore and a slowLimiter sharing
// one stall, with store timeout d.
func slowAuth(t *testing.T, d time.Duration, opts ...Option) (*Auth, *stall) {
	t.Helper()
	st := &stall{}
	a, _ := newTestAuth(t, append([]Option{
		WithAuthenticator(loaderUsers{newTestUsers()}),
		WithStore(slowStore{NewMemoryStore(), st}),
		WithLimiter(slowLimiter{NewMemoryLimiter(), st}),
		WithStoreTimeout(d),
	}, opts...)...)
	return a, st
}

// TestStoreTimeout: with the store (or the limiter) stalled, every
// endpoint and method that calls it answers 503 with the documented JSON
// (ErrStoreUnavailable) within the store timeout, never a hang, a 500 or
// a success; one case per method of the Store and the Limiter an Auth
// calls for a request. The stalled calls return the bare context error:
// the 503 is the Auth's doing.
func TestStoreTimeout(t *testing.T) {
	const timeout = 100 * time.Millisecond
	const bound = timeout + 2*time.Second // scheduling on a loaded machine
	cases := []struct {
		name   string
		stall  string // the method stalled
		opts   []Option
		before func(t *testing.T, f *fixture) // after the login, before the stall
		req    func(f *fixture) *http.Request
		h      func(a *Auth) http.Handler
	}{
		{name: "obtain", stall: "Issue", h: (*Auth).ObtainHandler, req: obtainRequest},
		{name: "obtain, throttle count", stall: "Allow", h: (*Auth).ObtainHandler, req: obtainRequest},
		{name: "refresh", stall: "Rotate", h: (*Auth).RefreshHandler, req: func(f *fixture) *http.Request {
			return jsonRequest(http.MethodPost, "/", refreshBody(f.p.Refresh))
		}},
		{name: "refresh, throttle count", stall: "Allow", h: (*Auth).RefreshHandler, req: func(f *fixture) *http.Request {
			return jsonRequest(http.MethodPost, "/", refreshBody(f.p.Refresh))
		}},
		{name: "refresh without rotation", stall: "Check", opts: []Option{WithRotation(false)}, h: (*Auth).RefreshHandler, req: func(f *fixture) *http.Request {
			return jsonRequest(http.MethodPost, "/", refreshBody(f.p.Refresh))
		}},
		{
			name: "refresh after a password change", stall: "EndSession", h: (*Auth).RefreshHandler,
			before: func(t *testing.T, f *fixture) { f.users.set(func(u *testUsers) { u.stamps["1"] = "changed" }) },
			req: func(f *fixture) *http.Request {
				return jsonRequest(http.MethodPost, "/", refreshBody(f.p.Refresh))
			},
		},
		{name: "verify a refresh token", stall: "Check", h: (*Auth).VerifyHandler, req: func(f *fixture) *http.Request {
			return jsonRequest(http.MethodPost, "/", `{"token":"`+f.p.Refresh+`"}`)
		}},
		{name: "blacklist", stall: "Revoke", h: (*Auth).BlacklistHandler, req: func(f *fixture) *http.Request {
			return jsonRequest(http.MethodPost, "/", refreshBody(f.p.Refresh))
		}},
		{name: "sliding obtain", stall: "Issue", opts: []Option{WithSlidingTokens(DefaultSlidingTTL, DefaultSlidingRefreshTTL)}, h: (*Auth).SlidingObtainHandler, req: obtainRequest},
		{name: "sessions", stall: "Sessions", h: sessionRoutes, req: func(f *fixture) *http.Request {
			return bearer(httptest.NewRequest(http.MethodGet, "/api/sessions/", nil), f.p.Access)
		}},
		{name: "end a session", stall: "EndSession", h: sessionRoutes, req: func(f *fixture) *http.Request {
			c, err := f.a.VerifyAccess(context.Background(), f.p.Access)
			if err != nil {
				panic(err)
			}
			return bearer(httptest.NewRequest(http.MethodDelete, "/api/sessions/"+c.SessionID+"/", nil), f.p.Access)
		}},
		{name: "end the other sessions", stall: "EndSessions", h: sessionRoutes, req: func(f *fixture) *http.Request {
			return bearer(httptest.NewRequest(http.MethodPost, "/api/sessions/end-others/", nil), f.p.Access)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			users := newTestUsers()
			users.stamps["1"] = "v1"
			a, st := slowAuth(t, timeout, append([]Option{WithAuthenticator(loaderUsers{users})}, c.opts...)...)
			f := &fixture{a: a, users: users, p: login(t, a)}
			if c.before != nil {
				c.before(t, f)
			}
			h, r := c.h(a), c.req(f)
			st.set(c.stall)
			start := time.Now()
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			took := time.Since(start)
			assert.Equal(t, http.StatusServiceUnavailable, w.Code, w.Body.String())
			assert.JSONEq(t, bodyUnavailable, w.Body.String())
			assert.Less(t, took, bound, "answered after %v; store timeout %v", took, timeout)
			assert.GreaterOrEqual(t, took, timeout, "the call waited for its deadline")
		})
	}
}

// TestStoreTimeoutMethods: the programmatic API fails alike, with an
// error wrapping ErrStoreUnavailable within the store timeout.
func TestStoreTimeoutMethods(t *testing.T) {
	const timeout = 100 * time.Millisecond
	a, st := slowAuth(t, timeout)
	p := login(t, a)
	c, err := a.VerifyAccess(t.Context(), p.Access)
	require.NoError(t, err)
	for _, m := range []struct {
		name, stall string
		call        func(ctx context.Context) error
	}{
		{"IssuePair", "Issue", func(ctx context.Context) error { _, err := a.IssuePair(ctx, User{ID: "1"}); return err }},
		{"Refresh", "Rotate", func(ctx context.Context) error { _, err := a.Refresh(ctx, p.Refresh); return err }},
		{"Verify", "Check", func(ctx context.Context) error { _, err := a.Verify(ctx, p.Refresh); return err }},
		{"Revoke", "Revoke", func(ctx context.Context) error { return a.Revoke(ctx, p.Refresh) }},
		{"Sessions", "Sessions", func(ctx context.Context) error { _, err := a.Sessions(ctx, "1"); return err }},
		{"EndSession", "EndSession", func(ctx context.Context) error { return a.EndSession(ctx, "1", c.SessionID) }},
		{"EndOtherSessions", "EndSessions", func(ctx context.Context) error { return a.EndOtherSessions(ctx, "1", c.SessionID) }},
		{"EndAllSessions", "EndSessions", func(ctx context.Context) error { return a.EndAllSessions(ctx, "1") }},
	} {
		t.Run(m.name, func(t *testing.T) {
			st.set(m.stall)
			defer st.set("")
			start := time.Now()
			err := m.call(t.Context())
			assert.ErrorIs(t, err, ErrStoreUnavailable)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.Less(t, time.Since(start), timeout+2*time.Second)
		})
	}
}

// TestStoreTimeoutLoginReset: a login whose throttle reset stalls still
// succeeds, within the store timeout (the reset's failure is logged, not
// answered: the login is done).
func TestStoreTimeoutLoginReset(t *testing.T) {
	const timeout = 100 * time.Millisecond
	a, st := slowAuth(t, timeout)
	st.set("Reset")
	start := time.Now()
	w := httptest.NewRecorder()
	a.ObtainHandler().ServeHTTP(w, obtainRequest(nil))
	assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Less(t, time.Since(start), timeout+2*time.Second)
}

// TestStoreTimeoutDeadline: each call gets a deadline of the store timeout
// (by default DefaultStoreTimeout), or the caller's when it is sooner; New
// refuses a timeout that is not positive.
func TestStoreTimeoutDeadline(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Second} {
		_, err := New(WithHMACKey(testSecret), WithAuthenticator(newTestUsers()), WithStoreTimeout(d))
		require.ErrorContains(t, err, "jwtpair: store timeout "+d.String()+" is not positive")
	}
	st := &stall{}
	a, _ := newTestAuth(t, WithStore(slowStore{NewMemoryStore(), st}), WithLimiter(slowLimiter{NewMemoryLimiter(), st}))
	start := time.Now()
	p := login(t, a)
	for _, m := range []string{"Allow", "Issue", "Reset"} {
		dl := st.deadline(m)
		require.False(t, dl.IsZero(), "%s had no deadline", m)
		assert.WithinDuration(t, start.Add(DefaultStoreTimeout), dl, time.Second, m)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	want, _ := ctx.Deadline()
	_, err := a.Refresh(ctx, p.Refresh)
	require.NoError(t, err)
	assert.Equal(t, want, st.deadline("Rotate"), "the caller's sooner deadline stays")
}

// fixture is what a case of TestStoreTimeout builds its request from: the
// Auth, its users, and a pair of alice's.
type fixture struct {
	a     *Auth
	users *testUsers
	p     Pair
}

// obtainRequest is alice's login.
func obtainRequest(*fixture) *http.Request {
	return jsonRequest(http.MethodPost, "/", `{"username":"alice","password":"wonderland"}`)
}

// jsonRequest is a request with a JSON body.
func jsonRequest(method, target, body string) *http.Request {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return r
}

// bearer adds an access token to r.
func bearer(r *http.Request, access string) *http.Request {
	r.Header.Set("Authorization", "Bearer "+access)
	return r
}

// sessionRoutes mounts the session endpoints as their doc shows.
func sessionRoutes(a *Auth) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/api/sessions/{$}", a.Middleware(a.SessionsHandler()))
	mux.Handle("/api/sessions/{sid}/{$}", a.Middleware(a.EndSessionHandler()))
	mux.Handle("/api/sessions/end-others/{$}", a.Middleware(a.EndOtherSessionsHandler()))
	return mux
}
