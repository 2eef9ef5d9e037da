package jwtpair

import (
	"fmt"
	"hash/maphash"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cached reports whether a's cache of verified tokens holds tok.
func cached(a *Auth, tok string) bool {
	if a.verified == nil {
		return false
	}
	v, _ := a.verified.lookup(tok, a.keys())
	return v != nil
}

// warm presents tok to mw twice, which puts it in the cache, and checks
// both requests got 200.
func warm(t *testing.T, a *Auth, mw http.Handler, tok string) {
	t.Helper()
	for range 2 {
		require.Equal(t, http.StatusOK, serveWithHeader(mw, "Authorization", "Bearer "+tok).Code)
	}
	require.True(t, cached(a, tok), "the token is cached after its second request")
}

// TestVerifiedTokenCacheAdmits: a token takes its slot on its second
// request in a row there, not its first; refresh tokens never do; tokens
// presented once do not push out a token in use; a token presented twice
// in a row does.
func TestVerifiedTokenCacheAdmits(t *testing.T) {
	a, _ := newTestAuth(t, WithVerifiedTokenCache(1))
	mw := a.Middleware(hello)
	p := login(t, a)
	require.Equal(t, http.StatusOK, serveWithHeader(mw, "Authorization", "Bearer "+p.Access).Code)
	assert.False(t, cached(a, p.Access), "not on its first request")
	warm(t, a, mw, p.Access)

	for i := range 20 {
		q, err := a.IssuePair(t.Context(), User{ID: fmt.Sprint("once-", i)})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, serveWithHeader(mw, "Authorization", "Bearer "+q.Access).Code)
		require.Equal(t, http.StatusOK, serveWithHeader(mw, "Authorization", "Bearer "+p.Access).Code)
		assert.False(t, cached(a, q.Access))
	}
	assert.True(t, cached(a, p.Access), "tokens seen once leave the token in use in its slot")

	forged := p.Access[:strings.LastIndexByte(p.Access, '.')+1] + strings.Repeat("A", 43)
	q := login(t, a)
	require.Equal(t, http.StatusOK, serveWithHeader(mw, "Authorization", "Bearer "+q.Access).Code)
	require.Equal(t, http.StatusUnauthorized, serveWithHeader(mw, "Authorization", "Bearer "+forged).Code)
	require.Equal(t, http.StatusOK, serveWithHeader(mw, "Authorization", "Bearer "+q.Access).Code)
	assert.True(t, cached(a, q.Access), "forged tokens do not count: they keep no token out")
	assert.False(t, cached(a, p.Access), "a token presented twice in a row takes the slot")

	for range 3 {
		_, err := a.verify(p.Refresh, TokenTypeRefresh)
		require.NoError(t, err)
	}
	assert.False(t, cached(a, p.Refresh), "refresh tokens are spent once: never cached")

	b, clk := newTestAuth(t)
	expired := login(t, b).Access
	clk.Advance(DefaultAccessTTL)
	for range 3 {
		require.Equal(t, http.StatusUnauthorized, serveWithHeader(b.Middleware(hello), "Authorization", "Bearer "+expired).Code)
	}
	assert.False(t, cached(b, expired), "a token its claims refuse is never cached")
}

// TestVerifiedTokenCacheRules: the rules that may turn a token down after
// it was verified once apply to tokens from the cache as to others: expiry
// (with the leeway), the kind the route wants, the revoked set, cookie
// mode's CSRF check, WithUserCheck's user.
func TestVerifiedTokenCacheRules(t *testing.T) {
	t.Run("expiry", func(t *testing.T) {
		a, clk := newTestAuth(t, WithLeeway(10*time.Second))
		mw := a.Middleware(hello)
		p := login(t, a)
		warm(t, a, mw, p.Access)
		clk.Advance(DefaultAccessTTL + 9*time.Second)
		assert.Equal(t, http.StatusOK, serveWithHeader(mw, "Authorization", "Bearer "+p.Access).Code, "within the leeway")
		clk.Advance(time.Second)
		w := serveWithHeader(mw, "Authorization", "Bearer "+p.Access)
		assert.Equal(t, http.StatusUnauthorized, w.Code, "expired, though cached")
		assert.Equal(t, "token_not_valid", decodeBody(t, w)["code"])
		_, err := a.VerifyAccess(t.Context(), p.Access)
		assert.ErrorIs(t, err, ErrTokenExpired)
	})
	t.Run("kind", func(t *testing.T) {
		a, _ := newTestAuth(t)
		p := login(t, a)
		warm(t, a, a.Middleware(hello), p.Access)
		_, err := a.verify(p.Access, TokenTypeRefresh)
		assert.ErrorIs(t, err, ErrTokenWrongType, "a cached access token is no refresh token")
		w := postJSON(t, a.RefreshHandler(), `{"refresh":"`+p.Access+`"}`)
		assert.Equal(t, http.StatusUnauthorized, w.Code)
	})
	t.Run("revoked", func(t *testing.T) {
		a, _ := newTestAuth(t)
		mw := a.Middleware(hello)
		p := login(t, a)
		warm(t, a, mw, p.Access)
		c, err := a.VerifyAccess(t.Context(), p.Access)
		require.NoError(t, err)
		require.NoError(t, a.EndSession(t.Context(), c.UserID, c.SessionID))
		require.Eventually(t, func() bool {
			return serveWithHeader(mw, "Authorization", "Bearer "+p.Access).Code == http.StatusUnauthorized
		}, 2*time.Second, 5*time.Millisecond, "an ended session's cached token is refused")
		_, err = a.VerifyAccess(t.Context(), p.Access)
		assert.ErrorIs(t, err, ErrTokenBlacklisted)
	})
	t.Run("csrf", func(t *testing.T) {
		a, _ := cookieAuth(t, CookieOptions{})
		j, _ := cookieLogin(t, a)
		h := a.Middleware(hello)
		for range 2 {
			require.Equal(t, http.StatusOK, serve(h, j.request(http.MethodGet, "/hello/", nil)).Code)
		}
		require.True(t, cached(a, j[accessCookie]))
		w := serve(h, j.request(http.MethodPost, "/hello/", nil))
		assert.Equal(t, http.StatusForbidden, w.Code, "a cached cookie token without the CSRF header")
		assert.JSONEq(t, bodyCSRFMissing, w.Body.String())
		assert.Equal(t, http.StatusOK, serve(h, j.withCSRF(j.request(http.MethodPost, "/hello/", nil))).Code)
	})
	t.Run("user check", func(t *testing.T) {
		a, users := newLoaderAuth(t, WithUserCheck())
		t.Cleanup(func() { _ = a.Close() })
		mw := a.Middleware(hello)
		p := login(t, a)
		warm(t, a, mw, p.Access)
		users.set(func(u *testUsers) { u.inactive["1"] = true })
		w := serveWithHeader(mw, "Authorization", "Bearer "+p.Access)
		assert.Equal(t, http.StatusUnauthorized, w.Code, "a cached token of a user made inactive")
		assert.Equal(t, "User is inactive", decodeBody(t, w)["detail"])
	})
}

// TestVerifiedTokenCacheKeys: a cached token is refused once the key that
// verified it is no longer usable: a previous key past its end, a key a
// JWKS no longer publishes.
func TestVerifiedTokenCacheKeys(t *testing.T) {
	t.Run("previous key past its end", func(t *testing.T) {
		oldSecret := []byte(strings.Repeat("o", 32))
		clk := newFakeClock()
		a, err := New(WithHMACKey(testSecret), WithKeyID("new"), WithPreviousKey(oldSecret, "HS256", "old", clk.Now().Add(time.Minute)),
			WithAuthenticator(newTestUsers()), WithClock(clk.Now), WithLogger(quietLogger))
		require.NoError(t, err)
		t.Cleanup(func() { _ = a.Close() })
		mw := a.Middleware(hello)
		tok := handTokenHS256(t, oldSecret, `{"alg":"HS256","kid":"old","typ":"JWT"}`, claimsJSON(t, accessClaims(clk)))
		warm(t, a, mw, tok)
		clk.Advance(time.Minute)
		assert.Equal(t, http.StatusUnauthorized, serveWithHeader(mw, "Authorization", "Bearer "+tok).Code)
	})
	t.Run("key withdrawn from the JWKS", func(t *testing.T) {
		g := newJWKSBudgetRig(t)
		tok := esToken(t, ecKey, mustThumb(t, &ecKey.PublicKey), g.clk)
		warm(t, g.rs, g.mw, tok)
		issuer, err := New(WithSigningKey(ecKey2, "ES256"), WithAuthenticator(newTestUsers()))
		require.NoError(t, err)
		g.srv.serve(issuer) // ecKey2 alone
		_, err = g.rs.remote.cache.Refresh(t.Context(), g.rs.remote.url)
		require.NoError(t, err)
		g.clk.Advance(jwksPoll)
		require.Nil(t, g.rs.keys().Key(mustThumb(t, &ecKey.PublicKey)), "the new set is installed")
		assert.Equal(t, http.StatusUnauthorized, serveWithHeader(g.mw, "Authorization", "Bearer "+tok).Code)
	})
}

// TestVerifiedTokenCacheSameStringOnly: the cache answers for the very
// token it verified. Another signature on the same header and payload is
// checked, and refused; a slot is found by a token only when it is the
// same string, even where the hashes are made to agree.
func TestVerifiedTokenCacheSameStringOnly(t *testing.T) {
	a, _ := newTestAuth(t)
	mw := a.Middleware(hello)
	p := login(t, a)
	warm(t, a, mw, p.Access)
	i := strings.LastIndexByte(p.Access, '.') + 1
	flipped := []byte(p.Access)
	flipped[i+3] = "AB"[strings.Count(p.Access[i+3:i+4], "A")] // one character of the signature, changed
	for _, forged := range []string{
		p.Access[:i] + strings.Repeat("A", len(p.Access)-i),
		string(flipped),
		p.Access + "A",
		p.Access[:len(p.Access)-1],
	} {
		require.NotEqual(t, p.Access, forged)
		assert.Equal(t, http.StatusUnauthorized, serveWithHeader(mw, "Authorization", "Bearer "+forged).Code, forged)
	}

	c := newVerifiedTokens(1)
	v := &verifiedToken{token: p.Access, ring: a.keys()}
	other := p.Access[:len(p.Access)-2] + "xx"
	v.hash = maphash.String(c.seed, other) // a collision, as if found
	c.add(v)
	got, _ := c.lookup(other, a.keys())
	assert.Nil(t, got, "equal hashes, other strings")
	v.hash = maphash.String(c.seed, p.Access)
	got, _ = c.lookup(p.Access, a.keys())
	assert.Same(t, v, got)
	got, _ = c.lookup(p.Access, &keyring{})
	assert.Nil(t, got, "another keyring")

	assert.True(t, sameToken("", ""))
	assert.True(t, sameToken("0123456789abcdefXYZ", "0123456789abcdefXYZ"))
	for _, s := range []string{"0123456789abcdefXYz", "0123456789abcdeFXYZ", "1123456789abcdefXYZ", "0123456789abcdefXY"} {
		assert.False(t, sameToken("0123456789abcdefXYZ", s), s)
	}
}

// TestVerifiedTokenCacheClaimsAreTheRequests: what a handler may write of
// the claims it gets (their fields, the audience, the custom claims) is
// its request's own: the next request with the same token, from the cache,
// gets the token's claims.
func TestVerifiedTokenCacheClaimsAreTheRequests(t *testing.T) {
	a, _ := newTestAuth(t, WithAudience("api", "other"))
	p, err := a.IssuePair(t.Context(), User{ID: "7", Claims: map[string]any{"role": "user"}})
	require.NoError(t, err)
	var seen []string
	mw := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := ClaimsFrom(r.Context())
		u := c.User()
		seen = append(seen, fmt.Sprintf("%s %v %v", c.UserID, c.Audience, u.Claims["role"]))
		c.UserID, c.Audience[0] = "admin", "evil"
		u.Claims["role"] = "admin"
	}))
	for range 4 {
		require.Equal(t, http.StatusOK, serveWithHeader(mw, "Authorization", "Bearer "+p.Access).Code)
	}
	require.True(t, cached(a, p.Access))
	assert.Equal(t, []string{"7 [api] user", "7 [api] user", "7 [api] user", "7 [api] user"}, seen)

	// Two audiences: a slice of the request's own too.
	seen = nil
	claims := accessClaims(newFakeClock())
	claims["aud"], claims["role"] = []string{"other", "api"}, "user"
	tok := handTokenHS256(t, testSecret, simplejwtHeader, claimsJSON(t, claims))
	for range 4 {
		require.Equal(t, http.StatusOK, serveWithHeader(mw, "Authorization", "Bearer "+tok).Code)
	}
	require.True(t, cached(a, tok))
	assert.Equal(t, []string{"1 [other api] user", "1 [other api] user", "1 [other api] user", "1 [other api] user"}, seen)
}

// TestVerifiedTokenCacheConcurrent: requests with many tokens in parallel,
// more tokens than slots, each get their own token's user, whether their
// token came from the cache, took a slot or was pushed out (run with
// -race).
func TestVerifiedTokenCacheConcurrent(t *testing.T) {
	a, _ := newTestAuth(t, WithVerifiedTokenCache(2))
	toks := make([]string, 8)
	for i := range toks {
		p, err := a.IssuePair(t.Context(), User{ID: fmt.Sprint(i)})
		require.NoError(t, err)
		toks[i] = p.Access
	}
	mw := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := UserFrom(r.Context())
		_, _ = w.Write([]byte(u.ID))
	}))
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for g := range 16 {
		wg.Go(func() {
			for n := range 300 {
				i := (g + n/(1+g%3)) % len(toks) // runs of one token, of several lengths
				w := serveWithHeader(mw, "Authorization", "Bearer "+toks[i])
				if w.Code != http.StatusOK || w.Body.String() != fmt.Sprint(i) {
					errs <- fmt.Sprintf("token of user %d: %d %q", i, w.Code, w.Body.String())
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestVerifiedTokenCacheKeepsACopy: the cache keeps its own copy of a
// token, not the request's string, which may be part of a larger header (a
// cookie header) it would otherwise keep alive.
func TestVerifiedTokenCacheKeepsACopy(t *testing.T) {
	a, _ := newTestAuth(t)
	mw := a.Middleware(hello)
	p := login(t, a)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+p.Access)
	for range 2 {
		w := httptest.NewRecorder()
		mw.ServeHTTP(w, r)
		require.Equal(t, http.StatusOK, w.Code)
	}
	v, _ := a.verified.lookup(p.Access, a.keys())
	require.NotNil(t, v)
	assert.Equal(t, p.Access, v.token)
	header := r.Header.Get("Authorization")
	start, at := uintptr(unsafe.Pointer(unsafe.StringData(header))), uintptr(unsafe.Pointer(unsafe.StringData(v.token)))
	assert.False(t, at >= start && at < start+uintptr(len(header)), "the cached token is a view of the request's header")
}

func TestWithVerifiedTokenCache(t *testing.T) {
	for _, n := range []int{-1, maxVerified + 1} {
		_, err := New(WithHMACKey(testSecret), WithAuthenticator(newTestUsers()), WithVerifiedTokenCache(n))
		require.Error(t, err, n)
		assert.Contains(t, err.Error(), "verified token cache")
	}
	for n, slots := range map[int]int{0: 0, 1: 1, 5: 8, 4096: 4096, maxVerified: maxVerified} {
		a, _ := newTestAuth(t, WithVerifiedTokenCache(n))
		if slots == 0 {
			assert.Nil(t, a.verified)
			p := login(t, a)
			for range 3 {
				assert.Equal(t, http.StatusOK, serveWithHeader(a.Middleware(hello), "Authorization", "Bearer "+p.Access).Code)
			}
			continue
		}
		assert.Len(t, a.verified.slots, slots, n)
	}
	a, _ := newTestAuth(t)
	assert.Len(t, a.verified.slots, keepVerified, "the default")
}
