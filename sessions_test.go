package jwtpair

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMaxSessionAge: with WithMaxSessionAge, every token of a session
// expires by login + age, whatever its refreshes (a refresh token's exp is
// the earlier of its TTL and the session's end; so is an access token's),
// the store records the absolute expiry, and a refresh past it is refused.
// Without the cap in mint, a refresh pushes the end out and the test fails.
func TestMaxSessionAge(t *testing.T) {
	const age = time.Hour
	a, clk := newTestAuth(t, WithMaxSessionAge(age))
	login0 := clk.Now()
	end := login0.Add(age)
	p := login(t, a)
	for _, tok := range []string{p.Access, p.Refresh} {
		c, err := a.verify(tok, "")
		require.NoError(t, err)
		assert.Equal(t, login0.Unix(), c.AuthTime.Unix(), "auth_time is the login")
	}
	assert.Equal(t, end, mustClaims(t, a, p.Refresh).ExpiresAt, "refresh exp: the session's end, before the refresh TTL")
	sessions, err := a.Sessions(t.Context(), "1")
	require.NoError(t, err)
	require.Len(t, sessions, 1)
	assert.Equal(t, end, sessions[0].AbsoluteExpiry)

	tok := p.Refresh
	for _, step := range []time.Duration{20 * time.Minute, 20 * time.Minute, 19 * time.Minute} {
		clk.Advance(step)
		next, err := a.Refresh(t.Context(), tok)
		require.NoError(t, err)
		r, acc := mustClaims(t, a, next.Refresh), mustClaims(t, a, next.Access)
		assert.Equal(t, end, r.ExpiresAt, "no rotation extends the session")
		assert.Equal(t, login0.Unix(), r.AuthTime.Unix(), "auth_time goes on")
		assert.False(t, acc.ExpiresAt.After(end), "no access token outlives the session")
		tok = next.Refresh
	}
	clk.Advance(time.Minute) // login + 1 h
	_, err = a.Refresh(t.Context(), tok)
	assert.ErrorIs(t, err, ErrTokenExpired)
	w := postJSON(t, a.RefreshHandler(), refreshBody(tok))
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.JSONEq(t, bodyTokenExpired, w.Body.String())

	t.Run("within the leeway of the end", func(t *testing.T) {
		a, clk := newTestAuth(t, WithMaxSessionAge(age), WithLeeway(30*time.Second))
		p := login(t, a)
		clk.Advance(age + 10*time.Second) // the token still verifies: leeway
		_, err := a.Refresh(t.Context(), p.Refresh)
		assert.ErrorIs(t, err, ErrTokenExpired, "the session is over: nothing to mint")
	})
	t.Run("options", func(t *testing.T) {
		for _, bad := range []time.Duration{0, -time.Hour, 1500 * time.Millisecond} {
			_, err := New(WithHMACKey(testSecret), WithAuthenticator(newTestUsers()), WithMaxSessionAge(bad))
			assert.ErrorContains(t, err, "max session age must be a positive whole number of seconds")
		}
		_, err := New(WithHMACKey(testSecret), WithAuthenticator(newTestUsers()), WithMaxSessionAge(time.Minute))
		assert.ErrorContains(t, err, "max session age (1m0s) shorter than the access TTL (5m0s)")
	})
}

func mustClaims(t *testing.T, a *Auth, tok string) *Claims {
	t.Helper()
	c, err := a.verify(tok, "")
	require.NoError(t, err)
	return c
}

// TestMaxSessionsPerUser: a login past the cap ends the user's oldest
// session (its refresh token at once, its access token within the bound);
// the default is 50; concurrent logins through the handler never leave
// more than the cap. Without the cap passed to the store, the test fails.
func TestMaxSessionsPerUser(t *testing.T) {
	t.Run("cap", func(t *testing.T) {
		a, clk := newTestAuth(t, WithMaxSessionsPerUser(2))
		oldest := login(t, a)
		clk.Advance(time.Second)
		second := login(t, a)
		clk.Advance(time.Second)
		third := login(t, a)
		_, err := a.Refresh(t.Context(), oldest.Refresh)
		assert.Error(t, err, "the oldest session's refresh token")
		awaitStatus(t, a, oldest.Access, http.StatusUnauthorized)
		for _, p := range []Pair{second, third} {
			status, _ := protected(a, p.Access)
			assert.Equal(t, http.StatusOK, status)
		}
		_, err = New(WithHMACKey(testSecret), WithAuthenticator(newTestUsers()), WithMaxSessionsPerUser(0))
		assert.ErrorContains(t, err, "max sessions per user must be at least 1")
	})
	t.Run("default 50", func(t *testing.T) {
		a, _ := newTestAuth(t, WithThrottle(Throttle{})) // 55 logins from one address
		for range DefaultMaxSessionsPerUser + 5 {
			login(t, a)
		}
		sessions, err := a.Sessions(t.Context(), "1")
		require.NoError(t, err)
		assert.Len(t, sessions, DefaultMaxSessionsPerUser)
	})
	t.Run("concurrent logins", func(t *testing.T) {
		a, _ := newTestAuth(t, WithMaxSessionsPerUser(3), WithThrottle(Throttle{})) // 32 logins from one address
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				w := postJSON(t, a.ObtainHandler(), `{"username":"alice","password":"wonderland"}`)
				assert.Equal(t, http.StatusOK, w.Code)
			})
		}
		wg.Wait()
		sessions, err := a.Sessions(t.Context(), "1")
		require.NoError(t, err)
		assert.Len(t, sessions, 3)
	})
}

// TestSessionInfo: the default hook records the user agent, cut to 256
// bytes at a character boundary, and the client IP; nil records nothing;
// whatever a hook returns is bounded before the store sees it, and the
// store never keeps a slice of the request's (possibly huge) strings.
func TestSessionInfo(t *testing.T) {
	obtain := func(t *testing.T, a *Auth, ua string) map[string]string {
		t.Helper()
		r := httptest.NewRequest(http.MethodPost, "/api/token/", strings.NewReader(`{"username":"bob","password":"builder"}`))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("User-Agent", ua)
		r.RemoteAddr = "[2001:db8::7]:53211"
		w := httptest.NewRecorder()
		a.ObtainHandler().ServeHTTP(w, r)
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		sessions, err := a.Sessions(t.Context(), "2")
		require.NoError(t, err)
		return sessions[0].Client
	}
	t.Run("default", func(t *testing.T) {
		a, _ := newTestAuth(t)
		// 255 bytes of ASCII, then a 3-byte character across the limit.
		ua := strings.Repeat("a", 255) + "€" + strings.Repeat("b", 1<<20)
		client := obtain(t, a, ua)
		assert.Equal(t, map[string]string{"user_agent": strings.Repeat("a", 255), "ip": "2001:db8::7"}, client)
		assert.False(t, unsafe.StringData(client["user_agent"]) == unsafe.StringData(ua), "a copy, not a slice of the header")
		assert.Equal(t, map[string]string{"user_agent": "curl/8.5.0", "ip": "2001:db8::7"}, obtain(t, a, "curl/8.5.0"))
	})
	t.Run("the address as the throttles read it", func(t *testing.T) {
		// RemoteAddr is a trusted proxy: "ip" is the client it names in
		// X-Forwarded-For, as Auth.ClientIP reads it, not the proxy.
		a, _ := newTestAuth(t, WithTrustedProxies("2001:db8::/64"))
		r := httptest.NewRequest(http.MethodPost, "/api/token/", strings.NewReader(`{"username":"bob","password":"builder"}`))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("X-Forwarded-For", "198.51.100.9")
		r.RemoteAddr = "[2001:db8::7]:53211"
		w := httptest.NewRecorder()
		a.ObtainHandler().ServeHTTP(w, r)
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		sessions, err := a.Sessions(t.Context(), "2")
		require.NoError(t, err)
		assert.Equal(t, "198.51.100.9", sessions[0].Client["ip"])
	})
	t.Run("off", func(t *testing.T) {
		a, _ := newTestAuth(t, WithSessionInfo(nil))
		assert.Empty(t, obtain(t, a, "curl/8.5.0"))
	})
	t.Run("a hook's output is bounded", func(t *testing.T) {
		big := strings.Repeat("é", 200) // 400 bytes
		a, _ := newTestAuth(t, WithSessionInfo(func(r *http.Request) map[string]string {
			m := map[string]string{
				"":                      "no name",
				strings.Repeat("k", 33): "name too long",
				"bad\xffname":           "invalid name",
				"a-value":               big,
				"b-invalid":             "x\xff\xfey",
				"c-ua":                  r.UserAgent(),
				strings.Repeat("n", 32): "longest name",
				"d":                     "",
				"e":                     "",
				"f":                     "",
				"g":                     "",
				"h":                     "",
				"i":                     "",
			}
			return m
		}))
		client := obtain(t, a, "ua")
		assert.Len(t, client, maxClientPairs, "the first 8 names")
		assert.Equal(t, strings.Repeat("é", 128), client["a-value"], "cut at 256 bytes, at a character boundary")
		assert.Equal(t, "x\uFFFDy", client["b-invalid"], "invalid UTF-8 replaced")
		assert.Equal(t, "ua", client["c-ua"])
		assert.NotContains(t, client, strings.Repeat("n", 32), "past the first 8 names in byte order")
		for k, v := range client {
			assert.True(t, k != "" && len(k) <= maxClientName && utf8.ValidString(k), "name %q", k)
			assert.True(t, len(v) <= maxClientValue && utf8.ValidString(v), "value %q", v)
		}
	})
	t.Run("IssuePair records none", func(t *testing.T) {
		a, _ := newTestAuth(t)
		_, err := a.IssuePair(t.Context(), User{ID: "9"})
		require.NoError(t, err)
		sessions, err := a.Sessions(t.Context(), "9")
		require.NoError(t, err)
		assert.Empty(t, sessions[0].Client)
	})
}

// TestSessionsAPI: the programmatic API lists a user's sessions newest
// first, ends one, all but one, all; a session named with another user is
// left alone; empty ids are refused.
func TestSessionsAPI(t *testing.T) {
	a, clk := newTestAuth(t)
	ctx := t.Context()
	var pairs []Pair
	for range 3 {
		pairs = append(pairs, mustPair(t, a, User{ID: "7"}))
		clk.Advance(time.Second)
	}
	bob := mustPair(t, a, User{ID: "8"})
	sids := []string{sidOf(t, a, pairs[0].Access), sidOf(t, a, pairs[1].Access), sidOf(t, a, pairs[2].Access)}
	list, err := a.Sessions(ctx, "7")
	require.NoError(t, err)
	require.Len(t, list, 3)
	assert.Equal(t, []string{sids[2], sids[1], sids[0]}, []string{list[0].ID, list[1].ID, list[2].ID})

	require.NoError(t, a.EndSession(ctx, "8", sids[0]), "another user's session: no error")
	require.NoError(t, a.EndSession(ctx, "7", sids[0]))
	require.NoError(t, a.EndSession(ctx, "7", sids[0]), "idempotent")
	_, err = a.Refresh(ctx, pairs[0].Refresh)
	assert.ErrorIs(t, err, ErrTokenBlacklisted)
	require.NoError(t, a.EndOtherSessions(ctx, "7", sids[2]))
	list, err = a.Sessions(ctx, "7")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, sids[2], list[0].ID)
	require.NoError(t, a.EndAllSessions(ctx, "7"))
	list, err = a.Sessions(ctx, "7")
	require.NoError(t, err)
	assert.Empty(t, list)
	_, err = a.Refresh(ctx, bob.Refresh)
	assert.NoError(t, err, "another user untouched")

	for name, err := range map[string]error{
		"Sessions":         func() error { _, err := a.Sessions(ctx, ""); return err }(),
		"EndSession user":  a.EndSession(ctx, "", "s"),
		"EndSession id":    a.EndSession(ctx, "7", ""),
		"EndOther user":    a.EndOtherSessions(ctx, "", "s"),
		"EndOther keep":    a.EndOtherSessions(ctx, "7", ""),
		"EndAllSessions":   a.EndAllSessions(ctx, ""),
		"store down ends":  newDownAuth(t).EndSession(ctx, "7", "s"),
		"store down lists": func() error { _, err := newDownAuth(t).Sessions(ctx, "7"); return err }(),
	} {
		assert.Error(t, err, name)
		if strings.HasPrefix(name, "store down") {
			assert.ErrorIs(t, err, ErrStoreUnavailable, name)
		}
	}
}

// newDownAuth is an Auth whose store is down (and follows no feed).
func newDownAuth(t *testing.T) *Auth {
	a, _ := newTestAuth(t, WithStore(failingStore{context.DeadlineExceeded}), WithoutRevocationFeed())
	return a
}

// sessionsMux mounts the session endpoints as the docs say.
func sessionsMux(a *Auth) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/api/sessions/{$}", a.Middleware(a.SessionsHandler()))
	mux.Handle("/api/sessions/{sid}/{$}", a.Middleware(a.EndSessionHandler()))
	mux.Handle("/api/sessions/end-others/{$}", a.Middleware(a.EndOtherSessionsHandler()))
	return mux
}

// call serves a request with an access token (none when "") to h.
func call(h http.Handler, method, target, access string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	if access != "" {
		r.Header.Set("Authorization", "Bearer "+access)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestSessionEndpoints: the listing's JSON, the current session marked;
// DELETE of one's own session 204, of an unknown one or another user's
// the same 404, never ending it; end-others 200 {}; JSON 405s with Allow;
// 401 without a token; 403 for a token without a sid. A user can never
// see or end another user's session: with the ownership check removed
// (ending whatever sid is named), the test fails.
func TestSessionEndpoints(t *testing.T) {
	a, clk := newTestAuth(t, WithMaxSessionAge(48*time.Hour))
	mux := sessionsMux(a)
	alice1 := login(t, a)
	clk.Advance(time.Second)
	alice2 := login(t, a)
	_, bob := loginAs(t, a, "bob", "builder")
	sid1, sid2, sidBob := sidOf(t, a, alice1.Access), sidOf(t, a, alice2.Access), sidOf(t, a, bob.Access)

	w := call(mux, http.MethodGet, "/api/sessions/", alice1.Access)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
	at := func(d time.Duration) string { return clk.Now().Add(d).UTC().Format(time.RFC3339) }
	created2, created1 := at(0), at(-time.Second)
	assert.JSONEq(t, `[
		{"id":"`+sid2+`","created":"`+created2+`","last_refreshed":"`+created2+`",
		 "expires":"`+at(DefaultRefreshTTL)+`","absolute_expiry":"`+at(48*time.Hour)+`","client":{"ip":"192.0.2.1"},"current":false},
		{"id":"`+sid1+`","created":"`+created1+`","last_refreshed":"`+created1+`",
		 "expires":"`+at(DefaultRefreshTTL-time.Second)+`","absolute_expiry":"`+at(48*time.Hour-time.Second)+`","client":{"ip":"192.0.2.1"},"current":true}
	]`, w.Body.String())
	assert.NotContains(t, w.Body.String(), sidBob)

	// Another user's session and an unknown one: the same 404, nothing ended.
	foreign := call(mux, http.MethodDelete, "/api/sessions/"+sidBob+"/", alice1.Access)
	unknown := call(mux, http.MethodDelete, "/api/sessions/"+newID()+"/", alice1.Access)
	for _, w := range []*httptest.ResponseRecorder{foreign, unknown} {
		assert.Equal(t, http.StatusNotFound, w.Code)
		assert.Equal(t, "{\"detail\":\"Not found.\"}\n", w.Body.String())
	}
	assert.Equal(t, foreign.Header(), unknown.Header())
	bobNext, err := a.Refresh(t.Context(), bob.Refresh)
	require.NoError(t, err, "bob's session lives on")

	// One's own.
	w = call(mux, http.MethodDelete, "/api/sessions/"+sid2+"/", alice1.Access)
	assert.Equal(t, http.StatusNoContent, w.Code)
	assert.Empty(t, w.Body.String())
	awaitStatus(t, a, alice2.Access, http.StatusUnauthorized)
	assert.Equal(t, http.StatusNotFound, call(mux, http.MethodDelete, "/api/sessions/"+sid2+"/", alice1.Access).Code, "ended: not found")

	alice3 := login(t, a)
	w = call(mux, http.MethodPost, "/api/sessions/end-others/", alice1.Access)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.JSONEq(t, `{}`, w.Body.String())
	awaitStatus(t, a, alice3.Access, http.StatusUnauthorized)
	status, _ := protected(a, alice1.Access)
	assert.Equal(t, http.StatusOK, status, "the current session is kept")
	_, err = a.Refresh(t.Context(), bobNext.Refresh)
	require.NoError(t, err, "bob's session still lives on")

	// Ending the current one is a logout.
	w = call(mux, http.MethodDelete, "/api/sessions/"+sid1+"/", alice1.Access)
	assert.Equal(t, http.StatusNoContent, w.Code)
	awaitStatus(t, a, alice1.Access, http.StatusUnauthorized)

	// Methods, credentials, tokens without a session.
	for _, tc := range []struct{ method, target, allow string }{
		{http.MethodPost, "/api/sessions/", "GET"},
		{http.MethodGet, "/api/sessions/" + sidBob + "/", "DELETE"},
		{http.MethodGet, "/api/sessions/end-others/", "POST"},
	} {
		w := call(mux, tc.method, tc.target, bob.Access)
		assert.Equal(t, http.StatusMethodNotAllowed, w.Code, tc.target)
		assert.Equal(t, tc.allow, w.Header().Get("Allow"))
		assert.JSONEq(t, `{"detail":"Method \"`+tc.method+`\" not allowed."}`, w.Body.String(), "DRF's 405")
	}
	for _, h := range []http.Handler{a.SessionsHandler(), a.EndSessionHandler(), a.EndOtherSessionsHandler()} {
		w := call(h, http.MethodGet, "/", bob.Access) // not behind the middleware: no claims
		assert.Equal(t, http.StatusUnauthorized, w.Code)
		assert.JSONEq(t, bodyNotAuthenticated, w.Body.String())
	}
	noSID := handTokenHS256(t, testSecret, simplejwtHeader, claimsJSON(t, accessClaims(clk)))
	w = call(mux, http.MethodPost, "/api/sessions/end-others/", noSID)
	assert.Equal(t, http.StatusForbidden, w.Code)
	assert.JSONEq(t, `{"detail":"This token belongs to no session; sign in again.","code":"no_session"}`, w.Body.String())
	w = call(mux, http.MethodGet, "/api/sessions/", noSID)
	assert.Equal(t, http.StatusOK, w.Code, "listing needs no current session")
}

// TestSessionEndpointsCookieMode: the DELETE and the POST are unsafe
// requests: authenticated by the cookie, they need the CSRF token; ending
// the current session clears the cookies.
func TestSessionEndpointsCookieMode(t *testing.T) {
	a, _ := cookieAuth(t, CookieOptions{})
	mux := sessionsMux(a)
	j, _ := cookieLogin(t, a)
	sid := sidOf(t, a, j[accessCookie])

	w := serve(mux, j.request(http.MethodGet, "/api/sessions/", nil))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var list []map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &list))
	require.Len(t, list, 1)
	assert.Equal(t, true, list[0]["current"])

	for _, target := range []string{"/api/sessions/" + sid + "/", "/api/sessions/end-others/"} {
		method := http.MethodDelete
		if strings.HasSuffix(target, "end-others/") {
			method = http.MethodPost
		}
		w := serve(mux, j.request(method, target, nil))
		assert.Equal(t, http.StatusForbidden, w.Code, "%s %s without the CSRF token", method, target)
		assert.JSONEq(t, `{"detail":"CSRF Failed: CSRF token missing.","code":"csrf_failed"}`, w.Body.String())
	}
	w = serve(mux, j.withCSRF(j.request(http.MethodDelete, "/api/sessions/"+sid+"/", nil)))
	assert.Equal(t, http.StatusNoContent, w.Code, w.Body.String())
	assert.Equal(t, []string{clearAccess, clearRefresh, clearCSRF}, w.Header().Values("Set-Cookie"))
}

// TestPasswordChangeEndsAccessTokens: a refresh refused for a changed
// stamp ends the session through the store, so the feed takes the end to
// its access tokens (without WithUserCheck). With the stamp path only
// refusing, the access token lives on and the test fails.
func TestPasswordChangeEndsAccessTokens(t *testing.T) {
	a, users := newLoaderAuth(t)
	p := login(t, a)
	users.set(func(u *testUsers) { u.stamps["1"] = "pw-2026-11-22T09:00:00Z" })
	w := postJSON(t, a.RefreshHandler(), refreshBody(p.Refresh))
	assert.JSONEq(t, bodyBlacklisted, w.Body.String())
	awaitStatus(t, a, p.Access, http.StatusUnauthorized)
}
