package jwtpair

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair/internal/claimset"
)

// withSliding is WithSlidingTokens with simplejwt's defaults.
var withSliding = WithSlidingTokens(DefaultSlidingTTL, DefaultSlidingRefreshTTL)

// slidingAuth is a test Auth with sliding tokens.
func slidingAuth(t *testing.T, opts ...Option) (*Auth, *fakeClock) {
	t.Helper()
	return newTestAuth(t, append([]Option{withSliding}, opts...)...)
}

// loginSliding obtains a sliding token for alice through the handler.
func loginSliding(t *testing.T, a *Auth) string {
	t.Helper()
	w := postJSON(t, a.SlidingObtainHandler(), `{"username":"alice","password":"wonderland"}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var b map[string]string
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &b))
	require.Len(t, b, 1, "simplejwt's body: the token alone")
	require.NotEmpty(t, b["token"])
	return b["token"]
}

// refreshSliding posts tok to the sliding refresh endpoint.
func refreshSlidingReq(t *testing.T, a *Auth, tok string) *httptest.ResponseRecorder {
	t.Helper()
	return postJSON(t, a.SlidingRefreshHandler(), `{"token":"`+tok+`"}`)
}

// slidingClaims is simplejwt's sliding claim set (SlidingToken.for_user,
// 5.2.2: a numeric user_id, no sid), valid at clk's time.
func slidingClaims(clk *fakeClock) map[string]any {
	m := accessClaims(clk)
	m["token_type"] = "sliding"
	m["refresh_exp"] = clk.Now().Unix() + 86400
	return m
}

// handSliding signs claims with the test secret, by hand.
func handSliding(t *testing.T, claims map[string]any) string {
	t.Helper()
	return handTokenHS256(t, testSecret, simplejwtHeader, claimsJSON(t, claims))
}

// tokenBody is the token endpoints' 401 for a token verdict.
func tokenBody(msg string) string {
	return `{"detail":"` + msg + `","code":"token_not_valid"}`
}

// slidingRouteBody is the middleware's 401 on a route that accepts access
// and sliding tokens: a message per token class, as simplejwt's
// JWTAuthentication with AUTH_TOKEN_CLASSES = (AccessToken, SlidingToken).
func slidingRouteBody(access, sliding string) string {
	return `{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[` +
		`{"token_class":"AccessToken","token_type":"access","message":"` + access + `"},` +
		`{"token_class":"SlidingToken","token_type":"sliding","message":"` + sliding + `"}]}`
}

// TestSlidingObtain: the sliding login answers {"token"}, a sliding token
// of simplejwt's shape (exp the sliding TTL, refresh_exp the sliding
// refresh TTL) carrying its session, which the store records until
// refresh_exp.
func TestSlidingObtain(t *testing.T) {
	a, clk := slidingAuth(t)
	tok := loginSliding(t, a)
	now := clk.Now().Unix()
	m := payloadOf(t, tok)
	assert.Equal(t, "sliding", m["token_type"])
	assert.Equal(t, float64(now+300), m["exp"])
	assert.Equal(t, float64(now+86400), m["refresh_exp"])
	assert.Equal(t, float64(now), m["iat"])
	assert.Regexp(t, "^[0-9a-f]{32}$", m["jti"])
	assert.Equal(t, "1", m["user_id"])
	assert.Regexp(t, "^[0-9a-f]{32}$", m["sid"])
	assert.Equal(t, float64(now), m["auth_time"])
	assert.Len(t, m, 8, "simplejwt's sliding claims, sid and auth_time")

	sessions, err := a.Sessions(t.Context(), "1")
	require.NoError(t, err)
	require.Len(t, sessions, 1)
	assert.Equal(t, m["sid"], sessions[0].ID)
	assert.Equal(t, time.Unix(now+86400, 0), sessions[0].ExpiresAt, "recorded until refresh_exp")

	// The programmatic login.
	tok2, err := a.IssueSliding(t.Context(), User{ID: "2"})
	require.NoError(t, err)
	c, err := a.VerifyAccess(t.Context(), tok2)
	require.NoError(t, err)
	assert.Equal(t, TokenTypeSliding, c.TokenType)
	assert.Equal(t, time.Unix(now+86400, 0), c.RefreshExpiresAt)

	// The obtain endpoint's refusals.
	w := postJSON(t, a.SlidingObtainHandler(), `{"username":"alice","password":"nope"}`)
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.JSONEq(t, `{"detail":"No active account found with the given credentials"}`, w.Body.String())
	w = postJSON(t, a.SlidingObtainHandler(), `{"username":"alice"}`)
	assert.Equal(t, http.StatusBadRequest, w.Code)
	assert.JSONEq(t, `{"password":["This field is required."]}`, w.Body.String())
}

// TestSlidingEndpointsShape: the sliding views answer OPTIONS with DRF's
// metadata of simplejwt's views, and other methods with 405, as every
// token endpoint.
func TestSlidingEndpointsShape(t *testing.T) {
	a, _ := slidingAuth(t)
	for _, tc := range []struct {
		h      http.Handler
		name   string
		fields string
	}{
		{a.SlidingObtainHandler(), "Token Obtain Sliding", `"username":{"type":"string","required":true,"read_only":false,"label":"Username"},"password":{"type":"string","required":true,"read_only":false,"label":"Password"}`},
		{a.SlidingRefreshHandler(), "Token Refresh Sliding", `"token":{"type":"string","required":true,"read_only":false,"label":"Token"}`},
		{a.SlidingBlacklistHandler(), "Token Blacklist Sliding", `"token":{"type":"string","required":true,"read_only":false,"label":"Token"}`},
	} {
		w := httptest.NewRecorder()
		tc.h.ServeHTTP(w, httptest.NewRequest(http.MethodOptions, "/", nil))
		require.Equal(t, http.StatusOK, w.Code)
		assert.Equal(t, "POST, OPTIONS", w.Header().Get("Allow"))
		m := decodeBody(t, w)
		assert.Equal(t, tc.name, m["name"])
		actions, err := json.Marshal(m["actions"])
		require.NoError(t, err)
		assert.JSONEq(t, `{"POST":{`+tc.fields+`}}`, string(actions))

		w = httptest.NewRecorder()
		tc.h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
		assert.Equal(t, http.StatusMethodNotAllowed, w.Code)
		assert.JSONEq(t, `{"detail":"Method \"GET\" not allowed."}`, w.Body.String())
	}
	w := postJSON(t, a.SlidingRefreshHandler(), `{"token":""}`)
	assert.Equal(t, http.StatusBadRequest, w.Code)
	assert.JSONEq(t, `{"token":["This field may not be blank."]}`, w.Body.String())
}

// TestSlidingRefresh: a refresh keeps the token's jti, refresh_exp,
// session and user, and renews exp (never past refresh_exp) and iat. The
// refreshed token keeps working; the old one too, until its exp (it is the
// same session's, as in simplejwt).
func TestSlidingRefresh(t *testing.T) {
	a, clk := slidingAuth(t)
	tok := loginSliding(t, a)
	before := payloadOf(t, tok)
	clk.Advance(4 * time.Minute)
	w := refreshSlidingReq(t, a, tok)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var b map[string]string
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &b))
	require.Len(t, b, 1)
	after := payloadOf(t, b["token"])
	for _, k := range []string{"jti", "refresh_exp", "sid", "auth_time", "user_id", "token_type"} {
		assert.Equal(t, before[k], after[k], k)
	}
	now := clk.Now().Unix()
	assert.Equal(t, float64(now+300), after["exp"])
	assert.Equal(t, float64(now), after["iat"])
	status, _ := protected(a, b["token"])
	assert.Equal(t, http.StatusOK, status)

	// The programmatic refresh.
	tok2 := loginSliding(t, a)
	next, err := a.RefreshSliding(t.Context(), tok2)
	require.NoError(t, err)
	assert.Equal(t, payloadOf(t, tok2)["jti"], payloadOf(t, next)["jti"])

	// Near refresh_exp, exp is refresh_exp: no token of the session
	// outlives it (nor its record, which a logout must find).
	short, clk := slidingAuth(t, WithSlidingTokens(5*time.Minute, 12*time.Minute))
	tok = loginSliding(t, short)
	refreshExp := payloadOf(t, tok)["refresh_exp"]
	for range 2 {
		clk.Advance(4 * time.Minute)
		tok, err = short.RefreshSliding(t.Context(), tok)
		require.NoError(t, err)
	}
	assert.Equal(t, refreshExp, payloadOf(t, tok)["exp"], "8 minutes in: refresh_exp, not 13 minutes")
	clk.Advance(4 * time.Minute)
	w = refreshSlidingReq(t, short, tok)
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.JSONEq(t, tokenBody("Token is expired"), w.Body.String())
}

// TestSlidingRefreshRules: every rule of the sliding refresh, on tokens
// made by hand or by this Auth.
func TestSlidingRefreshRules(t *testing.T) {
	users := loaderUsers{newTestUsers()}
	a, clk := slidingAuth(t, WithAuthenticator(users), WithMaxSessionsPerUser(2))
	now := clk.Now().Unix()
	live := loginSliding(t, a)
	issued := payloadOf(t, live)
	reissue := func(edit func(m map[string]any)) string { // this session's claims, edited, signed by hand
		m := payloadOf(t, live)
		edit(m)
		return handSliding(t, m)
	}
	p := login(t, a)

	for _, tc := range []struct {
		name, tok, body string
		status          int
	}{
		{"control: the session's token, re-signed by hand", reissue(func(map[string]any) {}), "", http.StatusOK},
		{"refresh_exp missing", reissue(func(m map[string]any) { delete(m, "refresh_exp") }), tokenBody("Token has no 'refresh_exp' claim"), 401},
		{"refresh_exp past", reissue(func(m map[string]any) { m["refresh_exp"] = now - 1 }), tokenBody("Token 'refresh_exp' claim has expired"), 401},
		{"refresh_exp now", reissue(func(m map[string]any) { m["refresh_exp"] = now }), tokenBody("Token 'refresh_exp' claim has expired"), 401},
		{"refresh_exp not a number", reissue(func(m map[string]any) { m["refresh_exp"] = "99999999999" }), tokenBody("Token is invalid"), 401},
		{"exp past, refresh_exp ahead", reissue(func(m map[string]any) { m["exp"] = now - 1 }), tokenBody("Token is expired"), 401},
		{"an access token", p.Access, tokenBody("Token has wrong type"), 401},
		{"a refresh token", p.Refresh, tokenBody("Token has wrong type"), 401},
		{"token_type access, refresh_exp ahead", reissue(func(m map[string]any) { m["token_type"] = "access" }), tokenBody("Token has wrong type"), 401},
		{"no token_type", reissue(func(m map[string]any) { delete(m, "token_type") }), tokenBody("Token has no type"), 401},
		{"no jti", reissue(func(m map[string]any) { delete(m, "jti") }), tokenBody("Token has no id"), 401},
		{"no user_id", reissue(func(m map[string]any) { delete(m, "user_id") }), tokenBody(msgNoUserID), 401},
		{"never issued (simplejwt's, no sid)", handSliding(t, slidingClaims(clk)), tokenBody("Token is invalid"), 401},
		{"another session's sid", reissue(func(m map[string]any) { m["sid"] = strings.Repeat("0", 32) }), tokenBody("Token is invalid"), 401},
		{"another user", reissue(func(m map[string]any) { m["user_id"] = "2" }), tokenBody("Token is invalid"), 401},
		{"alg none", base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + strings.Split(live, ".")[1] + ".", tokenBody("Token is invalid"), 401},
		{"header alg HS512 over an HS256 signature", forgeHeader(t, live, `{"alg":"HS512","typ":"JWT"}`), tokenBody("Token is invalid"), 401},
		{"jku header", forgeHeader(t, live, `{"alg":"HS256","jku":"https://attacker.example/jwks.json","typ":"JWT"}`), tokenBody("Token is invalid"), 401},
		{"signed with another key", handTokenHS256(t, []byte("another-secret-of-at-least-32-bytes!!"), simplejwtHeader, claimsJSON(t, issued)), tokenBody("Token is invalid"), 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := refreshSlidingReq(t, a, tc.tok)
			assert.Equal(t, tc.status, w.Code, w.Body.String())
			if tc.body != "" {
				assert.JSONEq(t, tc.body, w.Body.String())
				assert.Contains(t, w.Header().Get("WWW-Authenticate"), `error="invalid_token"`)
			}
		})
	}

	t.Run("refresh_exp within the leeway", func(t *testing.T) {
		b, clk := slidingAuth(t, WithLeeway(30*time.Second))
		m := payloadOf(t, loginSliding(t, b))
		m["refresh_exp"] = clk.Now().Unix() - 29
		_, err := b.RefreshSliding(t.Context(), handSliding(t, m))
		require.NoError(t, err)
		m["refresh_exp"] = clk.Now().Unix() - 30
		_, err = b.RefreshSliding(t.Context(), handSliding(t, m))
		assert.ErrorIs(t, err, ErrTokenExpired)
		assert.Equal(t, errRefreshExpExpired, err)
	})
	t.Run("inactive or deleted user", func(t *testing.T) {
		tok := loginSliding(t, a)
		users.set(func(u *testUsers) { u.inactive["1"] = true })
		defer users.set(func(u *testUsers) { delete(u.inactive, "1") })
		w := refreshSlidingReq(t, a, tok)
		assert.Equal(t, http.StatusUnauthorized, w.Code)
		assert.JSONEq(t, `{"detail":"No active account found for the given token."}`, w.Body.String())
	})
	t.Run("the user's stamp changed: the session ends", func(t *testing.T) {
		tok := loginSliding(t, a)
		users.set(func(u *testUsers) { u.stamps["1"] = "password changed" })
		defer users.set(func(u *testUsers) { delete(u.stamps, "1") })
		w := refreshSlidingReq(t, a, tok)
		assert.Equal(t, http.StatusUnauthorized, w.Code)
		assert.JSONEq(t, tokenBody("Token is blacklisted"), w.Body.String())
		users.set(func(u *testUsers) { delete(u.stamps, "1") })
		_, err := a.RefreshSliding(t.Context(), tok)
		assert.ErrorIs(t, err, ErrTokenBlacklisted, "ended, not merely refused")
	})
	t.Run("evicted by the per-user cap", func(t *testing.T) {
		tok := loginSliding(t, a)
		loginSliding(t, a)
		loginSliding(t, a) // the cap is 2: the first of these three is ended
		_, err := a.RefreshSliding(t.Context(), tok)
		assert.Error(t, err)
		assert.True(t, errors.Is(err, ErrTokenBlacklisted) || errors.Is(err, ErrTokenNotFound), "%v", err)
	})
}

// forgeHeader re-signs tok's payload under another header with the test
// secret (HS256 over the new signing input, whatever the header says).
func forgeHeader(t *testing.T, tok, header string) string {
	t.Helper()
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	require.NoError(t, err)
	return handTokenHS256(t, testSecret, header, string(payload))
}

// TestSlidingSessionEnds: a sliding session ended any way — the sliding
// logout, Revoke, the session API, logout everywhere — refuses its token
// at the refresh (the store) and at the middleware and the verify
// endpoint (the revoked set), and leaves the user's other sessions alone.
func TestSlidingSessionEnds(t *testing.T) {
	a, _ := slidingAuth(t)
	for _, end := range []struct {
		name string
		do   func(t *testing.T, tok string)
	}{
		{"sliding logout endpoint", func(t *testing.T, tok string) {
			w := postJSON(t, a.SlidingBlacklistHandler(), `{"token":"`+tok+`"}`)
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			assert.JSONEq(t, `{}`, w.Body.String())
		}},
		{"Revoke", func(t *testing.T, tok string) { require.NoError(t, a.Revoke(t.Context(), tok)) }},
		{"EndSession", func(t *testing.T, tok string) { require.NoError(t, a.EndSession(t.Context(), "1", sidOf(t, a, tok))) }},
		{"EndAllSessions", func(t *testing.T, tok string) { require.NoError(t, a.EndAllSessions(t.Context(), "1")) }},
	} {
		t.Run(end.name, func(t *testing.T) {
			tok := loginSliding(t, a)
			other, err := a.IssueSliding(t.Context(), User{ID: "2"})
			require.NoError(t, err)
			end.do(t, tok)

			w := refreshSlidingReq(t, a, tok)
			assert.Equal(t, http.StatusUnauthorized, w.Code)
			assert.JSONEq(t, tokenBody("Token is blacklisted"), w.Body.String())
			awaitStatus(t, a, tok, http.StatusUnauthorized)
			w = serveWithHeader(a.Middleware(hello), "Authorization", "Bearer "+tok)
			assert.JSONEq(t, slidingRouteBody("Token has wrong type", "Token is blacklisted"), w.Body.String())
			w = postJSON(t, a.VerifyHandler(), `{"token":"`+tok+`"}`)
			assert.Equal(t, http.StatusBadRequest, w.Code)
			assert.JSONEq(t, `{"non_field_errors":["Token is blacklisted"]}`, w.Body.String())
			w = postJSON(t, a.SlidingBlacklistHandler(), `{"token":"`+tok+`"}`)
			assert.Equal(t, http.StatusUnauthorized, w.Code, "a second logout")
			assert.JSONEq(t, tokenBody("Token is blacklisted"), w.Body.String())

			status, _ := protected(a, other)
			assert.Equal(t, http.StatusOK, status, "another user's session")
			_, err = a.RefreshSliding(t.Context(), other)
			assert.NoError(t, err)
		})
	}
}

// TestSlidingLogoutReachesEveryInstance: a sliding logout on one Auth
// reaches the token on another sharing the store within the staleness
// bound, through the revoked set (no store call per request).
func TestSlidingLogoutReachesEveryInstance(t *testing.T) {
	store := NewMemoryStore()
	a, _ := slidingAuth(t, WithStore(store))
	b, _ := slidingAuth(t, WithStore(store))
	tok := loginSliding(t, a)
	status, _ := protected(b, tok)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, http.StatusOK, postJSON(t, a.SlidingBlacklistHandler(), `{"token":"`+tok+`"}`).Code)
	body := awaitWithin(t, b, tok, http.StatusUnauthorized, time.Now(), DefaultRevocationStaleness)
	assert.JSONEq(t, slidingRouteBody("Token has wrong type", "Token is blacklisted"), body)
}

// TestRevokedSetCoversSlidingTokens: an ended session's entry in the
// revoked set lives as long as its sliding token can, when sliding tokens
// outlive access tokens; and New sizes the default store's feed, and
// checks a given store's, by the longer of the two. With the entry's
// lifetime counted from the access TTL, the sliding token of an ended
// session is accepted again once its entry is dropped, and the test fails.
func TestRevokedSetCoversSlidingTokens(t *testing.T) {
	a, clk := newTestAuth(t, WithAccessTTL(time.Minute), WithSlidingTokens(10*time.Minute, time.Hour))
	ended, later := loginSliding(t, a), loginSliding(t, a)
	require.NoError(t, a.Revoke(t.Context(), ended))
	awaitStatus(t, a, ended, http.StatusUnauthorized)
	// Past the access TTL and its margin, within the sliding TTL: a later
	// revocation makes the follower drop what has expired.
	clk.Advance(5 * time.Minute)
	require.NoError(t, a.Revoke(t.Context(), later))
	awaitStatus(t, a, later, http.StatusUnauthorized)
	status, body := protected(a, ended)
	assert.Equal(t, http.StatusUnauthorized, status, body)

	// The default memory store keeps revocations as long as sliding
	// tokens live (its default is an hour).
	_, err := New(WithHMACKey(testSecret), WithAuthenticator(newTestUsers()), WithSlidingTokens(2*time.Hour, 24*time.Hour))
	require.NoError(t, err)
	short := NewMemoryStore(WithMemoryRevocationRetention(4 * time.Minute))
	_, err = New(WithHMACKey(testSecret), WithAuthenticator(newTestUsers()), WithStore(short), WithAccessTTL(3*time.Minute), WithSlidingTokens(5*time.Minute, time.Hour))
	assert.ErrorContains(t, err, "keeps revocations 4m0s, less than the sliding TTL plus leeway (5m0s)")
}

// TestSlidingMiddleware: with sliding tokens, the middleware, Check and
// VerifyAccess accept them beside access tokens, and refuse with a message
// per token class as simplejwt does; AccessMiddleware keeps a route to
// access tokens; without WithSlidingTokens a sliding token is refused
// everywhere. A refresh token is never accepted, nor a sliding token by the
// refresh and blacklist endpoints.
func TestSlidingMiddleware(t *testing.T) {
	a, clk := slidingAuth(t)
	tok := loginSliding(t, a)
	p := login(t, a)
	mw, accessOnly := a.Middleware(hello), a.AccessMiddleware(hello)
	now := clk.Now().Unix()

	for _, h := range []http.Handler{mw, a.OptionalMiddleware(hello)} {
		w := serveWithHeader(h, "Authorization", "Bearer "+tok)
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		assert.JSONEq(t, `{"user_id":"1","claims":null}`, w.Body.String())
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	c, err := a.Check(r)
	require.NoError(t, err)
	assert.Equal(t, TokenTypeSliding, c.TokenType)
	_, err = a.VerifyAccess(t.Context(), tok)
	assert.NoError(t, err)
	assert.Equal(t, http.StatusOK, serveWithHeader(mw, "Authorization", "Bearer "+p.Access).Code)
	assert.Equal(t, http.StatusOK, postJSON(t, a.VerifyHandler(), `{"token":"`+tok+`"}`).Code)

	expired := slidingClaims(clk)
	expired["exp"] = now - 1
	for _, tc := range []struct {
		name, tok, body string
	}{
		{"garbage", "not.a.token", slidingRouteBody("Token is invalid", "Token is invalid")},
		{"a refresh token", p.Refresh, slidingRouteBody("Token has wrong type", "Token has wrong type")},
		{"an expired sliding token", handSliding(t, expired), slidingRouteBody("Token is expired", "Token is expired")},
		{"oversized", strings.Repeat("a", defaultMaxTokenBytes+100), slidingRouteBody("Token is invalid", "Token is invalid")},
	} {
		w := serveWithHeader(mw, "Authorization", "Bearer "+tc.tok)
		assert.Equal(t, http.StatusUnauthorized, w.Code, tc.name)
		assert.JSONEq(t, tc.body, w.Body.String(), tc.name)
	}

	// A route for access tokens only.
	w := serveWithHeader(accessOnly, "Authorization", "Bearer "+tok)
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.JSONEq(t, bodyWrongType, w.Body.String())
	assert.Equal(t, http.StatusOK, serveWithHeader(accessOnly, "Authorization", "Bearer "+p.Access).Code)

	// An ended pair session's access token on a sliding route.
	require.NoError(t, a.Revoke(t.Context(), p.Refresh))
	awaitStatus(t, a, p.Access, http.StatusUnauthorized)
	w = serveWithHeader(mw, "Authorization", "Bearer "+p.Access)
	assert.JSONEq(t, slidingRouteBody("Token is blacklisted", "Token has wrong type"), w.Body.String())

	// Where refresh tokens are wanted, a sliding token is of the wrong type.
	for name, h := range map[string]http.Handler{"refresh": a.RefreshHandler(), "blacklist": a.BlacklistHandler()} {
		w := postJSON(t, h, `{"refresh":"`+tok+`"}`)
		assert.Equal(t, http.StatusUnauthorized, w.Code, name)
		assert.JSONEq(t, tokenBody("Token has wrong type"), w.Body.String(), name)
	}
	_, err = a.Refresh(t.Context(), tok)
	assert.ErrorIs(t, err, ErrTokenWrongType)
	// And the sliding logout takes sliding tokens only.
	p2 := login(t, a)
	w = postJSON(t, a.SlidingBlacklistHandler(), `{"token":"`+p2.Refresh+`"}`)
	assert.JSONEq(t, tokenBody("Token has wrong type"), w.Body.String())
	require.NoError(t, a.Revoke(t.Context(), p2.Refresh), "Revoke takes a refresh token as ever")

	t.Run("without WithSlidingTokens", func(t *testing.T) {
		plain, clk := newTestAuth(t)
		hand := handSliding(t, slidingClaims(clk))
		w := serveWithHeader(plain.Middleware(hello), "Authorization", "Bearer "+hand)
		assert.Equal(t, http.StatusUnauthorized, w.Code)
		assert.JSONEq(t, bodyWrongType, w.Body.String())
		_, err := plain.VerifyAccess(t.Context(), hand)
		assert.ErrorIs(t, err, ErrTokenWrongType)
		w = postJSON(t, plain.VerifyHandler(), `{"token":"`+hand+`"}`)
		assert.JSONEq(t, tokenBody("Token has wrong type"), w.Body.String())
		assert.ErrorIs(t, plain.Revoke(t.Context(), hand), ErrTokenWrongType)
		_, err = plain.RefreshSliding(t.Context(), hand)
		assert.ErrorIs(t, err, errSlidingOff)
		_, err = plain.IssueSliding(t.Context(), User{ID: "1"})
		assert.ErrorIs(t, err, errSlidingOff)
		assert.PanicsWithValue(t, "jwtpair: SlidingObtainHandler needs WithSlidingTokens", func() { plain.SlidingObtainHandler() })
		assert.PanicsWithValue(t, "jwtpair: SlidingRefreshHandler needs WithSlidingTokens", func() { plain.SlidingRefreshHandler() })
		assert.PanicsWithValue(t, "jwtpair: SlidingBlacklistHandler needs WithSlidingTokens", func() { plain.SlidingBlacklistHandler() })
	})
}

// TestSimplejwtSlidingTokens: a sliding token simplejwt minted with the
// same secret (a numeric user_id, no sid) authenticates requests; its
// refresh is refused, as this server's store does not know it (issue 12
// §4's adoption will).
func TestSimplejwtSlidingTokens(t *testing.T) {
	a, clk := slidingAuth(t)
	hand := handSliding(t, slidingClaims(clk))
	w := serveWithHeader(a.Middleware(hello), "Authorization", "Bearer "+hand)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.JSONEq(t, `{"user_id":"1","claims":null}`, w.Body.String())
	_, err := a.RefreshSliding(t.Context(), hand)
	assert.ErrorIs(t, err, ErrTokenNotFound)
}

// TestSlidingThrottled: the sliding login counts toward the login
// throttles, which the pair login shares, and the sliding refresh toward
// the refresh throttle.
func TestSlidingThrottled(t *testing.T) {
	one := Limit{Rate: 1, Period: time.Hour, Burst: 1}
	a, _ := slidingAuth(t, WithThrottle(Throttle{LoginPerIP: Limit{Rate: 2, Period: time.Hour, Burst: 2}, RefreshPerIP: one}))
	tok := loginSliding(t, a)
	login(t, a)
	w := postJSON(t, a.SlidingObtainHandler(), `{"username":"alice","password":"wonderland"}`)
	assert.Equal(t, http.StatusTooManyRequests, w.Code, w.Body.String())
	assert.NotEmpty(t, w.Header().Get("Retry-After"))
	assert.Equal(t, "POST, OPTIONS", w.Header().Get("Allow"))

	require.Equal(t, http.StatusOK, refreshSlidingReq(t, a, tok).Code)
	w = refreshSlidingReq(t, a, tok)
	assert.Equal(t, http.StatusTooManyRequests, w.Code, w.Body.String())
}

// TestSlidingMaxSessionAge: WithMaxSessionAge ends a sliding session too:
// refresh_exp, and so every exp, is no later than its end.
func TestSlidingMaxSessionAge(t *testing.T) {
	a, clk := slidingAuth(t, WithMaxSessionAge(time.Hour))
	tok := loginSliding(t, a)
	end := float64(clk.Now().Add(time.Hour).Unix())
	assert.Equal(t, end, payloadOf(t, tok)["refresh_exp"])
	for range 14 { // 56 minutes
		clk.Advance(4 * time.Minute)
		var err error
		tok, err = a.RefreshSliding(t.Context(), tok)
		require.NoError(t, err)
	}
	assert.Equal(t, end, payloadOf(t, tok)["exp"])
}

// TestSlidingStoreDown: a store failure is 503 at the sliding login and
// refresh, never a token.
func TestSlidingStoreDown(t *testing.T) {
	st := &switchStore{MemoryStore: NewMemoryStore()}
	a, _ := slidingAuth(t, WithStore(st))
	tok := loginSliding(t, a)
	st.down.Store(true)
	for _, w := range []*httptest.ResponseRecorder{
		postJSON(t, a.SlidingObtainHandler(), `{"username":"alice","password":"wonderland"}`),
		refreshSlidingReq(t, a, tok),
		postJSON(t, a.SlidingBlacklistHandler(), `{"token":"`+tok+`"}`),
	} {
		assert.Equal(t, http.StatusServiceUnavailable, w.Code, w.Body.String())
		assert.JSONEq(t, `{"detail":"Service temporarily unavailable, try again later.","code":"service_unavailable"}`, w.Body.String())
	}
}

// TestSlidingOptionChecks: New refuses sliding lifetimes it cannot honour.
func TestSlidingOptionChecks(t *testing.T) {
	for _, tc := range []struct {
		opts []Option
		want string
	}{
		{[]Option{WithSlidingTokens(0, time.Hour)}, "sliding TTLs must be positive whole seconds"},
		{[]Option{WithSlidingTokens(time.Minute, -1)}, "sliding TTLs must be positive whole seconds"},
		{[]Option{WithSlidingTokens(1500*time.Millisecond, time.Hour)}, "sliding TTLs must be positive whole seconds"},
		{[]Option{WithSlidingTokens(25*time.Hour, 48*time.Hour)}, "sliding TTL 25h0m0s is over 24h0m0s"},
		{[]Option{WithSlidingTokens(time.Hour, time.Minute)}, "sliding TTL (1h0m0s) longer than the sliding refresh TTL (1m0s)"},
		{[]Option{WithSlidingTokens(time.Minute, time.Hour), WithLeeway(time.Minute), WithAccessTTL(time.Hour)}, "leeway (1m0s) must be shorter than the sliding TTL (1m0s)"},
		{[]Option{WithSlidingTokens(time.Hour, 2*time.Hour), WithMaxSessionAge(10 * time.Minute), WithAccessTTL(time.Minute)}, "max session age (10m0s) shorter than the sliding TTL (1h0m0s)"},
		{[]Option{withSliding, WithCookies(CookieOptions{OmitBodyTokens: true, Insecure: true})}, "OmitBodyTokens forbids"},
	} {
		_, err := New(append([]Option{WithHMACKey(testSecret), WithAuthenticator(newTestUsers())}, tc.opts...)...)
		assert.ErrorContains(t, err, tc.want)
	}
}

// BenchmarkMiddlewareSliding: the middleware of an Auth with sliding
// tokens, with an access token and with a sliding token of one session
// each (bytes per op: the token's length, so that ns per byte compare).
func BenchmarkMiddlewareSliding(b *testing.B) {
	a, p := benchAuth(b, withSliding)
	tok, err := a.IssueSliding(context.Background(), User{ID: "1"})
	if err != nil {
		b.Fatal(err)
	}
	h := a.Middleware(noop)
	for _, tc := range []struct{ name, tok string }{{"access", p.Access}, {"sliding", tok}} {
		b.Run(tc.name, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodGet, "/hello/", nil)
			r.Header.Set("Authorization", "Bearer "+tc.tok)
			w := httptest.NewRecorder()
			b.SetBytes(int64(len(tc.tok)))
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
			if w.Code != http.StatusOK {
				b.Fatalf("status %d", w.Code)
			}
		})
	}
}

// TestSlidingMintRespectsVerificationLimits: a refresh_exp verification
// would refuse (past the NumericDate range) is never minted, though exp
// is in range.
func TestSlidingMintRespectsVerificationLimits(t *testing.T) {
	at := time.Unix(claimset.MaxNumericDate, 0).Add(-time.Hour)
	a, err := New(WithHMACKey(testSecret), WithAuthenticator(newTestUsers()), withSliding, WithClock(func() time.Time { return at }))
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })
	_, err = a.IssueSliding(t.Context(), User{ID: "1"})
	assert.ErrorContains(t, err, "NumericDate")
}
