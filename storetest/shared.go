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
// with whole [jwtpair.Auth] instances over it: a logout on one instance is
// seen by another; 64 parallel refreshes of one token split across two
// instances give exactly one success; reuse seen by one instance revokes the
// family for all, also when the reuse is a logout with a rotated token; a
// logout on one instance ends the grace siblings a thief got on another; the
// reuse grace window is judged on the store's clock, not on that of an
// instance whose clock is an hour off; and a store value opened later over
// the same backend sees every earlier revocation. newBackend is called once
// per subtest and must return an Opener over an isolated namespace.
func RunShared(t *testing.T, newBackend func(t *testing.T) Opener) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, open Opener)
	}{
		{"LogoutSeenByOtherInstance", testSharedLogout},
		{"ParallelRefreshAcrossInstances", testSharedParallelRefresh},
		{"ReuseSeenByOtherInstance", testSharedReuse},
		{"LogoutWithRotatedTokenEndsFamily", testSharedLogoutRotated},
		{"LogoutEndsSiblingsAcrossInstances", testSharedLogoutEndsSiblings},
		{"GraceOnStoreClock", testSharedGraceClock},
		{"NewStoreValueSeesRevocations", testSharedReopen},
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

// instance is one Auth over a store value, served over HTTP like a process.
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
	mux := http.NewServeMux()
	mux.Handle("/api/token/", a.ObtainHandler())
	mux.Handle("/api/token/refresh/", a.RefreshHandler())
	mux.Handle("/api/token/blacklist/", a.BlacklistHandler())
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
	assert.Equal(t, http.StatusUnauthorized, status, "reuse seen by b revoked the family for a")
	assert.Equal(t, "Token is blacklisted", m["detail"])
}

// testSharedLogoutRotated: a thief who stole refresh token R1 rotates it
// (R1 → R2) on one instance, then logs out with R1 on the other, so that the
// victim's R1 would read "blacklisted" rather than "reused". The logout must
// count as reuse: it answers 401 "Token is blacklisted" and revokes the
// family, so the thief's R2 is refused too.
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
// and to log out.
func testSharedLogoutEndsSiblings(t *testing.T, open Opener) {
	victim := newInstance(t, open(t), jwtpair.WithReuseGrace(longGrace))
	thief := newInstance(t, open(t), jwtpair.WithReuseGrace(longGrace))
	r0 := victim.login(t, "u-"+NewID()).Refresh
	status, m := victim.refresh(t, r0)
	require.Equal(t, http.StatusOK, status, m)
	r1 := m["refresh"]
	status, m = thief.refresh(t, r0) // a replay inside the window
	require.Equal(t, http.StatusOK, status, m)
	sibling := m["refresh"]
	require.NotEmpty(t, sibling)

	status, m = victim.post(t, "/api/token/blacklist/", `{"refresh":"`+r1+`"}`)
	require.Equal(t, http.StatusOK, status, "the victim's logout: %v", m)

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
		assert.Equal(t, http.StatusOK, status, "the family lives on: %v", m)
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
		assert.Equal(t, http.StatusUnauthorized, status, "reuse revoked the family: %v", m)
		assert.Equal(t, "Token is blacklisted", m["detail"])
	})
}

func testSharedReopen(t *testing.T, open Opener) {
	a := newInstance(t, open(t))
	user := "u-" + NewID()
	loggedOut, everywhere1, everywhere2, kept := a.login(t, user), a.login(t, "e-"+user), a.login(t, "e-"+user), a.login(t, user)
	ctx := context.Background()
	require.NoError(t, a.auth.Revoke(ctx, loggedOut.Refresh))
	require.NoError(t, a.auth.RevokeUser(ctx, "e-"+user))

	later := newInstance(t, open(t)) // a process started afterwards
	for _, tok := range []string{loggedOut.Refresh, everywhere1.Refresh, everywhere2.Refresh} {
		_, err := later.auth.Refresh(ctx, tok)
		assert.True(t, errors.Is(err, jwtpair.ErrTokenBlacklisted), "got %v", err)
	}
	_, err := later.auth.Refresh(ctx, kept.Refresh)
	assert.NoError(t, err)
}
