package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
)

// Opener returns a new store value over one backend namespace each time it
// is called: a new client or connection pool where the backend has one, over
// the same data. The memory store, being its own backend, returns itself.
type Opener func(t *testing.T) jwtpair.Store

// RunShared checks what a backend shared by several processes must show,
// with whole [jwtpair.Auth] instances over it, served over HTTP. Refresh
// tokens: a logout on one instance is seen by another; 64 parallel
// refreshes of one token split across two instances give exactly one
// success; reuse seen by one instance ends the session for all, also when
// the reuse is a logout with a rotated token; a logout on one instance ends
// the grace siblings a thief got on another; the reuse grace window is
// judged on the store's clock, not on that of an instance whose clock is an
// hour off; and a store value opened later over the same backend sees
// every earlier end. Access tokens, through each instance's revocation
// feed: a session ended on one instance, in every way (EndSession, logout,
// EndAllSessions, reuse, the per-user cap, the session endpoints), has its
// access tokens refused by the other within the revocation bound (never
// accepted once the bound has passed since the end), never another user's;
// and an instance started later refuses them from its first request.
// The adoption window (jwtpair.WithSimplejwtAdoption): 64 parallel first
// uses of one simplejwt token across two instances give exactly one
// success and reuse for the others; a session the per-user cap evicted is
// never adopted back.
// newBackend is called once per subtest and must return an Opener over an
// isolated namespace.
func RunShared(t *testing.T, newBackend func(t *testing.T) Opener) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, open Opener)
	}{
		{"LogoutSeenByOtherInstance", testSharedLogout},
		{"ParallelRefreshAcrossInstances", testSharedParallelRefresh},
		{"ReuseSeenByOtherInstance", testSharedReuse},
		{"LogoutWithRotatedTokenEndsSession", testSharedLogoutRotated},
		{"LogoutEndsSiblingsAcrossInstances", testSharedLogoutEndsSiblings},
		{"GraceOnStoreClock", testSharedGraceClock},
		{"NewStoreValueSeesEnds", testSharedReopen},
		{"EndSessionReachesAccessTokens", testSharedEndSession},
		{"LogoutReachesAccessTokens", testSharedLogoutAccess},
		{"EndAllSessionsReachesAccessTokens", testSharedEndAll},
		{"ReuseReachesAccessTokens", testSharedReuseAccess},
		{"CapReachesAccessTokens", testSharedCap},
		{"SessionEndpointsAcrossInstances", testSharedSessionEndpoints},
		{"OtherUsersSessionsUnreachable", testSharedOtherUsers},
		{"StartedInstanceCatchesUp", testSharedCatchUp},
		{"AdoptionParallelFirstUse", testSharedAdoption}, // adopt.go
		{"AdoptionNeverRevivesEvicted", testSharedAdoptionEvicted},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newBackend(t)) })
	}
}

// sharedSecret is the HMAC key every instance of a subtest shares, as the
// processes of one service do.
var sharedSecret = []byte("storetest-shared-secret-0123456789abcdef")

// users is the Authenticator of the shared tests: any username, password
// "pw"; the user id is the username.
var users = jwtpair.AuthenticatorFunc(func(_ context.Context, username, password string) (jwtpair.User, error) {
	if password != "pw" {
		return jwtpair.User{}, jwtpair.ErrInvalidCredentials
	}
	return jwtpair.User{ID: username}, nil
})

// instance is one Auth over a store value, served over HTTP like a process:
// the token endpoints, a protected /hello/, and the session endpoints.
type instance struct {
	auth *jwtpair.Auth
	srv  *httptest.Server
}

// newInstance serves an Auth over s with the shared secret, users and opts.
func newInstance(t *testing.T, s jwtpair.Store, opts ...jwtpair.Option) *instance {
	t.Helper()
	opts = append([]jwtpair.Option{jwtpair.WithHMACKey(sharedSecret), jwtpair.WithAuthenticator(users), jwtpair.WithStore(s)}, opts...)
	a, err := jwtpair.New(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })
	mux := http.NewServeMux()
	mux.Handle("/api/token/{$}", a.ObtainHandler())
	mux.Handle("/api/token/refresh/{$}", a.RefreshHandler())
	mux.Handle("/api/token/blacklist/{$}", a.BlacklistHandler())
	mux.Handle("/hello/{$}", a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := jwtpair.UserFrom(r.Context())
		_, _ = io.WriteString(w, u.ID)
	})))
	mux.Handle("/api/sessions/{$}", a.Middleware(a.SessionsHandler()))
	mux.Handle("/api/sessions/{sid}/{$}", a.Middleware(a.EndSessionHandler()))
	mux.Handle("/api/sessions/end-others/{$}", a.Middleware(a.EndOtherSessionsHandler()))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &instance{auth: a, srv: srv}
}

// post sends a JSON body and returns the status and the decoded answer.
func (in *instance) post(t *testing.T, path, body string) (int, map[string]string) {
	t.Helper()
	status, raw := in.postRaw(t, path, body)
	m := map[string]string{}
	_ = json.Unmarshal([]byte(raw), &m)
	return status, m
}

// postRaw sends a JSON body and returns the status and the body's text.
func (in *instance) postRaw(t *testing.T, path, body string) (int, string) {
	t.Helper()
	resp, err := in.srv.Client().Post(in.srv.URL+path, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(raw)
}

// do sends a request without a body, authenticated by an access token,
// and returns the status and the body's text.
func (in *instance) do(t *testing.T, method, path, access string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, in.srv.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+access)
	resp, err := in.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(raw)
}

// hello is a protected request with an access token.
func (in *instance) hello(t *testing.T, access string) int {
	t.Helper()
	status, _ := in.do(t, http.MethodGet, "/hello/", access)
	return status
}

func (in *instance) login(t *testing.T, user string) jwtpair.Pair {
	t.Helper()
	status, m := in.post(t, "/api/token/", `{"username":"`+user+`","password":"pw"}`)
	require.Equal(t, http.StatusOK, status, m)
	return jwtpair.Pair{Access: m["access"], Refresh: m["refresh"]}
}

func (in *instance) refresh(t *testing.T, tok string) (int, map[string]string) {
	t.Helper()
	return in.post(t, "/api/token/refresh/", `{"refresh":"`+tok+`"}`)
}

// sid returns the session a live access token belongs to.
func (in *instance) sid(t *testing.T, access string) string {
	t.Helper()
	c, err := in.auth.VerifyAccess(t.Context(), access)
	require.NoError(t, err)
	require.NotEmpty(t, c.SessionID, "access tokens carry their session")
	return c.SessionID
}

// awaitRefused asserts that in refuses access, a token of a session ended
// at or before since, within the revocation bound: it answers 401 "Token is
// blacklisted" within feedTimeout, 503 (fail closed) meanwhile if it must,
// and 200 only to requests sent less than the bound after since.
func (in *instance) awaitRefused(t *testing.T, access string, since time.Time) {
	t.Helper()
	bound := since.Add(jwtpair.DefaultRevocationStaleness)
	for {
		sent := time.Now()
		status, body := in.do(t, http.MethodGet, "/hello/", access)
		switch status {
		case http.StatusUnauthorized:
			assert.Contains(t, body, "Token is blacklisted")
			t.Logf("refused %v after the end", time.Since(since).Round(time.Millisecond))
			return
		case http.StatusOK:
			require.True(t, sent.Before(bound), "an ended session's access token was accepted %v after its end (bound %v)",
				sent.Sub(since), jwtpair.DefaultRevocationStaleness)
		case http.StatusServiceUnavailable: // fail closed: allowed
		default:
			t.Fatalf("status %d: %s", status, body)
		}
		require.Less(t, time.Since(since), feedTimeout, "the access token of an ended session was not refused within %v", feedTimeout)
		time.Sleep(10 * time.Millisecond)
	}
}

func testSharedLogout(t *testing.T, open Opener) {
	a, b := newInstance(t, open(t)), newInstance(t, open(t))
	p := a.login(t, "u-"+NewID())
	status, _ := a.post(t, "/api/token/blacklist/", `{"refresh":"`+p.Refresh+`"}`)
	require.Equal(t, http.StatusOK, status)
	status, m := b.refresh(t, p.Refresh)
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, "Token is blacklisted", m["detail"])
}

func testSharedParallelRefresh(t *testing.T, open Opener) {
	a, b := newInstance(t, open(t)), newInstance(t, open(t))
	p := a.login(t, "u-"+NewID())
	const n = 64
	var ok, refused atomic.Int32
	together(n, func(i int) {
		in := a
		if i%2 == 1 {
			in = b
		}
		resp, err := in.srv.Client().Post(in.srv.URL+"/api/token/refresh/", "application/json", strings.NewReader(`{"refresh":"`+p.Refresh+`"}`))
		if !assert.NoError(t, err) {
			return
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			ok.Add(1)
		case http.StatusUnauthorized:
			refused.Add(1)
		default:
			t.Errorf("status %d", resp.StatusCode)
		}
	})
	assert.Equal(t, int32(1), ok.Load(), "exactly one refresh succeeds")
	assert.Equal(t, int32(n-1), refused.Load())
}

func testSharedReuse(t *testing.T, open Opener) {
	a, b := newInstance(t, open(t)), newInstance(t, open(t))
	p := a.login(t, "u-"+NewID())
	status, next := a.refresh(t, p.Refresh)
	require.Equal(t, http.StatusOK, status)
	status, _ = b.refresh(t, p.Refresh)
	assert.Equal(t, http.StatusUnauthorized, status, "reuse of the consumed token")
	status, m := a.refresh(t, next["refresh"])
	assert.Equal(t, http.StatusUnauthorized, status, "reuse seen by b ended the session for a")
	assert.Equal(t, "Token is blacklisted", m["detail"])
}

// testSharedLogoutRotated: a thief who stole refresh token R1 rotates it
// (R1 → R2) on one instance, then logs out with R1 on the other, so that the
// victim's R1 would read "blacklisted" rather than "reused". The logout must
// count as reuse: it answers 401 "Token is blacklisted" and ends the
// session, so the thief's R2 is refused too.
func testSharedLogoutRotated(t *testing.T, open Opener) {
	a, b := newInstance(t, open(t)), newInstance(t, open(t))
	r1 := a.login(t, "u-"+NewID()).Refresh
	status, m := b.refresh(t, r1) // the thief rotates the stolen token
	require.Equal(t, http.StatusOK, status, m)
	r2 := m["refresh"]
	require.NotEmpty(t, r2)

	status, m = a.post(t, "/api/token/blacklist/", `{"refresh":"`+r1+`"}`)
	assert.Equal(t, http.StatusUnauthorized, status, "logout with the rotated R1")
	assert.Equal(t, "Token is blacklisted", m["detail"])
	status, m = a.refresh(t, r1) // the victim
	assert.Equal(t, http.StatusUnauthorized, status, "the victim's R1")
	assert.Equal(t, "Token is blacklisted", m["detail"])
	status, m = b.refresh(t, r2) // the thief
	assert.Equal(t, http.StatusUnauthorized, status, "the thief's R2 after the logout with R1")
	assert.Equal(t, "Token is blacklisted", m["detail"])
	_, err := a.auth.Verify(t.Context(), r2)
	assert.ErrorIs(t, err, jwtpair.ErrTokenBlacklisted, "verify of R2")
}

// testSharedLogoutEndsSiblings: with a grace window, the victim rotates R0
// → R1 on one instance; a thief replays the stolen R0 inside the window on
// the other and gets the sibling R1'; the victim logs out with R1 (200). The
// logout ends the session: the thief's R1' is refused, to refresh, to verify
// and to log out, and so is the thief's access token.
func testSharedLogoutEndsSiblings(t *testing.T, open Opener) {
	victim := newInstance(t, open(t), jwtpair.WithReuseGrace(longGrace))
	thief := newInstance(t, open(t), jwtpair.WithReuseGrace(longGrace))
	r0 := victim.login(t, "u-"+NewID()).Refresh
	status, m := victim.refresh(t, r0)
	require.Equal(t, http.StatusOK, status, m)
	r1 := m["refresh"]
	status, m = thief.refresh(t, r0) // a replay inside the window
	require.Equal(t, http.StatusOK, status, m)
	sibling, thiefAccess := m["refresh"], m["access"]
	require.NotEmpty(t, sibling)

	status, m = victim.post(t, "/api/token/blacklist/", `{"refresh":"`+r1+`"}`)
	require.Equal(t, http.StatusOK, status, "the victim's logout: %v", m)
	since := time.Now()

	status, m = thief.refresh(t, sibling)
	assert.Equal(t, http.StatusUnauthorized, status, "the thief's sibling after the logout")
	assert.Equal(t, "Token is blacklisted", m["detail"])
	_, err := thief.auth.Verify(t.Context(), sibling)
	assert.ErrorIs(t, err, jwtpair.ErrTokenBlacklisted, "verify of the sibling")
	status, _ = thief.post(t, "/api/token/blacklist/", `{"refresh":"`+sibling+`"}`)
	assert.Equal(t, http.StatusUnauthorized, status, "logout with the sibling")
	status, m = thief.refresh(t, r0) // another replay, still inside the window
	assert.Equal(t, http.StatusUnauthorized, status, "a replay of R0 after the logout")
	assert.Equal(t, "Token is blacklisted", m["detail"])
	thief.awaitRefused(t, thiefAccess, since)
}

// testSharedGraceClock: the grace window is judged on the store's clock,
// whatever the clock of the instance a presentation goes through says.
// Each case isolates the grace decision from the instance's own token
// checks: the tokens it is shown are never in its future.
func testSharedGraceClock(t *testing.T, open Opener) {
	skewed := func(d time.Duration) jwtpair.Option {
		return jwtpair.WithClock(func() time.Time { return time.Now().Add(d) })
	}
	t.Run("ReplayThroughInstanceAhead", func(t *testing.T) {
		// An instance an hour ahead relays a replay sent at once: a replay
		// (200), not reuse, though its clock says an hour has passed.
		honest := newInstance(t, open(t), jwtpair.WithReuseGrace(longGrace))
		ahead := newInstance(t, open(t), jwtpair.WithReuseGrace(longGrace), skewed(time.Hour))
		r0 := honest.login(t, "u-"+NewID()).Refresh
		status, m := honest.refresh(t, r0)
		require.Equal(t, http.StatusOK, status, m)
		r1 := m["refresh"]

		status, m = ahead.refresh(t, r0)
		assert.Equal(t, http.StatusOK, status, "a replay inside the window, through the instance ahead: %v", m)
		status, m = honest.refresh(t, r1)
		assert.Equal(t, http.StatusOK, status, "the session lives on: %v", m)
	})
	t.Run("ReuseThroughInstanceBehind", func(t *testing.T) {
		// An instance an hour behind relays a replay sent after the window
		// closed (shortGrace, waited out in real time): reuse, though its
		// clock says the token was consumed an hour in its future. The
		// login goes through it too, so that the token's iat is not in its
		// future; the consumption goes through an honest instance.
		honest := newInstance(t, open(t), jwtpair.WithReuseGrace(shortGrace))
		behind := newInstance(t, open(t), jwtpair.WithReuseGrace(shortGrace), skewed(-time.Hour))
		r0 := behind.login(t, "u-"+NewID()).Refresh
		status, m := honest.refresh(t, r0)
		require.Equal(t, http.StatusOK, status, m)
		r1 := m["refresh"]

		time.Sleep(pastShortGrace)
		status, m = behind.refresh(t, r0)
		assert.Equal(t, http.StatusUnauthorized, status, "a replay after the window, through the instance behind: %v", m)
		assert.Equal(t, "Token is blacklisted", m["detail"])
		status, m = honest.refresh(t, r1)
		assert.Equal(t, http.StatusUnauthorized, status, "reuse ended the session: %v", m)
		assert.Equal(t, "Token is blacklisted", m["detail"])
	})
}

func testSharedReopen(t *testing.T, open Opener) {
	a := newInstance(t, open(t))
	user := "u-" + NewID()
	loggedOut, everywhere1, everywhere2, kept := a.login(t, user), a.login(t, "e-"+user), a.login(t, "e-"+user), a.login(t, user)
	ctx := context.Background()
	require.NoError(t, a.auth.Revoke(ctx, loggedOut.Refresh))
	require.NoError(t, a.auth.EndAllSessions(ctx, "e-"+user))

	later := newInstance(t, open(t)) // a process started afterwards
	for _, tok := range []string{loggedOut.Refresh, everywhere1.Refresh, everywhere2.Refresh} {
		_, err := later.auth.Refresh(ctx, tok)
		assert.True(t, errors.Is(err, jwtpair.ErrTokenBlacklisted), "got %v", err)
	}
	_, err := later.auth.Refresh(ctx, kept.Refresh)
	assert.NoError(t, err)
}

// testSharedEndSession: a session ended on one instance (EndSession) has
// its access tokens refused by the other within the bound; the user's other
// session is untouched.
func testSharedEndSession(t *testing.T, open Opener) {
	a, b := newInstance(t, open(t)), newInstance(t, open(t))
	user := "u-" + NewID()
	p, other := a.login(t, user), a.login(t, user)
	require.Equal(t, http.StatusOK, b.hello(t, p.Access))

	require.NoError(t, a.auth.EndSession(t.Context(), user, a.sid(t, p.Access)))
	since := time.Now()
	b.awaitRefused(t, p.Access, since)
	a.awaitRefused(t, p.Access, since)
	assert.Equal(t, http.StatusOK, b.hello(t, other.Access), "the user's other session")
	status, m := b.refresh(t, p.Refresh)
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, "Token is blacklisted", m["detail"])
}

// testSharedLogoutAccess: a logout on one instance (the blacklist
// endpoint) ends the session's access tokens on the other, the ones minted
// by a refresh included.
func testSharedLogoutAccess(t *testing.T, open Opener) {
	a, b := newInstance(t, open(t)), newInstance(t, open(t))
	p := a.login(t, "u-"+NewID())
	status, m := b.refresh(t, p.Refresh)
	require.Equal(t, http.StatusOK, status, m)
	require.Equal(t, http.StatusOK, b.hello(t, m["access"]))

	status, _ = b.post(t, "/api/token/blacklist/", `{"refresh":"`+m["refresh"]+`"}`)
	require.Equal(t, http.StatusOK, status)
	since := time.Now()
	a.awaitRefused(t, p.Access, since)
	a.awaitRefused(t, m["access"], since)
}

// testSharedEndAll: EndAllSessions on one instance ends every session's
// access tokens on the other; a login afterwards works.
func testSharedEndAll(t *testing.T, open Opener) {
	a, b := newInstance(t, open(t)), newInstance(t, open(t))
	user := "u-" + NewID()
	p1, p2 := a.login(t, user), b.login(t, user)
	bystander := a.login(t, "v-"+NewID())

	require.NoError(t, a.auth.EndAllSessions(t.Context(), user))
	since := time.Now()
	b.awaitRefused(t, p1.Access, since)
	b.awaitRefused(t, p2.Access, since)
	assert.Equal(t, http.StatusOK, b.hello(t, bystander.Access), "another user")
	later := a.login(t, user)
	assert.Equal(t, http.StatusOK, b.hello(t, later.Access), "a login after the end")
}

// testSharedReuseAccess: reuse detected on one instance ends the session's
// access tokens on the other: the thief's and the victim's.
func testSharedReuseAccess(t *testing.T, open Opener) {
	a, b := newInstance(t, open(t)), newInstance(t, open(t))
	p := a.login(t, "u-"+NewID())
	status, thief := a.refresh(t, p.Refresh) // the thief rotates first
	require.Equal(t, http.StatusOK, status, thief)
	status, _ = b.refresh(t, p.Refresh) // the victim: reuse
	require.Equal(t, http.StatusUnauthorized, status)
	since := time.Now()
	a.awaitRefused(t, thief["access"], since)
	a.awaitRefused(t, p.Access, since)
}

// testSharedCap: the per-user cap, reached through logins on both
// instances, ends the oldest session's tokens on both.
func testSharedCap(t *testing.T, open Opener) {
	capped := jwtpair.WithMaxSessionsPerUser(2)
	a, b := newInstance(t, open(t), capped), newInstance(t, open(t), capped)
	user := "u-" + NewID()
	oldest := a.login(t, user)
	time.Sleep(tick)
	second := b.login(t, user)
	time.Sleep(tick)
	third := a.login(t, user)
	since := time.Now()
	for _, in := range []*instance{a, b} {
		in.awaitRefused(t, oldest.Access, since)
		assert.Equal(t, http.StatusOK, in.hello(t, second.Access))
		assert.Equal(t, http.StatusOK, in.hello(t, third.Access))
	}
	status, _ := b.refresh(t, oldest.Refresh)
	assert.Equal(t, http.StatusUnauthorized, status, "the evicted session's refresh token")
}

// sessionList decodes the session listing.
func sessionList(t *testing.T, body string) []map[string]any {
	t.Helper()
	var list []map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &list), body)
	return list
}

// testSharedSessionEndpoints: the session endpoints of one instance see
// and end the sessions begun on the other; the current one is marked.
func testSharedSessionEndpoints(t *testing.T, open Opener) {
	a, b := newInstance(t, open(t)), newInstance(t, open(t))
	user := "u-" + NewID()
	p1 := a.login(t, user)
	time.Sleep(tick)
	p2 := a.login(t, user)
	time.Sleep(tick)
	p3 := a.login(t, user)
	sid1, sid2, sid3 := a.sid(t, p1.Access), a.sid(t, p2.Access), a.sid(t, p3.Access)

	status, body := b.do(t, http.MethodGet, "/api/sessions/", p2.Access)
	require.Equal(t, http.StatusOK, status, body)
	list := sessionList(t, body)
	require.Len(t, list, 3)
	for i, want := range []struct {
		id      string
		current bool
	}{{sid3, false}, {sid2, true}, {sid1, false}} {
		assert.Equal(t, want.id, list[i]["id"], "newest first")
		assert.Equal(t, want.current, list[i]["current"], "current marks the caller's session")
	}

	status, body = b.do(t, http.MethodDelete, "/api/sessions/"+sid1+"/", p2.Access)
	require.Equal(t, http.StatusNoContent, status, body)
	since := time.Now()
	a.awaitRefused(t, p1.Access, since)
	status, body = b.do(t, http.MethodDelete, "/api/sessions/"+sid1+"/", p2.Access)
	assert.Equal(t, http.StatusNotFound, status, "an ended session is not found: %s", body)

	status, body = a.do(t, http.MethodPost, "/api/sessions/end-others/", p2.Access)
	require.Equal(t, http.StatusOK, status, body)
	assert.JSONEq(t, `{}`, body)
	since = time.Now()
	b.awaitRefused(t, p3.Access, since)
	assert.Equal(t, http.StatusOK, b.hello(t, p2.Access), "the current session is kept")
	_, body = b.do(t, http.MethodGet, "/api/sessions/", p2.Access)
	list = sessionList(t, body)
	require.Len(t, list, 1)
	assert.Equal(t, sid2, list[0]["id"])
}

// testSharedOtherUsers: a user never sees another user's sessions, and
// ending one answers exactly as for an unknown session (404) and ends
// nothing: the other user's tokens keep working past the bound.
func testSharedOtherUsers(t *testing.T, open Opener) {
	a, b := newInstance(t, open(t)), newInstance(t, open(t))
	alice, mallory := "alice-"+NewID(), "mallory-"+NewID()
	pa := a.login(t, alice)
	pm := b.login(t, mallory)
	sidAlice := a.sid(t, pa.Access)

	status, body := b.do(t, http.MethodGet, "/api/sessions/", pm.Access)
	require.Equal(t, http.StatusOK, status, body)
	list := sessionList(t, body)
	require.Len(t, list, 1)
	assert.Equal(t, b.sid(t, pm.Access), list[0]["id"])
	assert.NotContains(t, body, sidAlice)

	status, foreign := b.do(t, http.MethodDelete, "/api/sessions/"+sidAlice+"/", pm.Access)
	assert.Equal(t, http.StatusNotFound, status)
	status, unknown := b.do(t, http.MethodDelete, "/api/sessions/"+NewID()+"/", pm.Access)
	assert.Equal(t, http.StatusNotFound, status)
	assert.Equal(t, unknown, foreign, "another user's session answers as an unknown one")
	assert.JSONEq(t, `{"detail":"Not found."}`, foreign)
	status, _ = b.do(t, http.MethodPost, "/api/sessions/end-others/", pm.Access)
	require.Equal(t, http.StatusOK, status)

	time.Sleep(jwtpair.DefaultRevocationStaleness + 100*time.Millisecond) // past the bound
	assert.Equal(t, http.StatusOK, a.hello(t, pa.Access), "alice's access token")
	assert.Equal(t, http.StatusOK, b.hello(t, pa.Access), "alice's access token")
	status, m := a.refresh(t, pa.Refresh)
	assert.Equal(t, http.StatusOK, status, "alice's refresh token: %v", m)
	sessions, err := a.auth.Sessions(t.Context(), alice)
	require.NoError(t, err)
	assert.Len(t, sessions, 1)
}

// testSharedCatchUp: an instance started after sessions ended refuses
// their access tokens from its first request (New waits for the feed's
// catch-up; until it is done, protected requests answer 503, never 200).
func testSharedCatchUp(t *testing.T, open Opener) {
	a := newInstance(t, open(t))
	user := "u-" + NewID()
	ended1, ended2, live := a.login(t, user), a.login(t, user), a.login(t, user)
	require.NoError(t, a.auth.EndSession(t.Context(), user, a.sid(t, ended1.Access)))
	require.NoError(t, a.auth.Revoke(t.Context(), ended2.Refresh))

	later := newInstance(t, open(t))
	for _, p := range []jwtpair.Pair{ended1, ended2} {
		status := later.hello(t, p.Access)
		assert.Contains(t, []int{http.StatusUnauthorized, http.StatusServiceUnavailable}, status, "never 200")
		later.awaitRefused(t, p.Access, time.Now().Add(-jwtpair.DefaultRevocationStaleness))
	}
	assert.Equal(t, http.StatusOK, later.hello(t, live.Access))
}
