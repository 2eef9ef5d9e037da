package jwtpair

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	bodyCSRFMissing   = `{"detail":"CSRF Failed: CSRF token missing.","code":"csrf_failed"}`
	bodyCSRFIncorrect = `{"detail":"CSRF Failed: CSRF token incorrect.","code":"csrf_failed"}`
	bodyCSRFNoCookie  = `{"detail":"CSRF Failed: CSRF cookie not set.","code":"csrf_failed"}`
	bodyCSRFOrigin    = `{"detail":"CSRF Failed: Origin checking failed.","code":"csrf_failed"}`
)

// TestCSRFToken: 403 without, or with a wrong, CSRF token, on the
// middleware and on refresh and logout from the cookie.
func TestCSRFToken(t *testing.T) {
	a, _ := cookieAuth(t, CookieOptions{})
	alice, _ := cookieLogin(t, a)
	bob, _ := loginAs(t, a, "bob", "builder")
	flip := func(s string) string { // change one character of the tag
		b := []byte(s)
		i := len(b) - 10
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	tests := []struct {
		name           string
		cookie, header string // "-" for none
		body           string
	}{
		{"no cookie, no header", "-", "-", bodyCSRFNoCookie},
		{"no cookie", "-", alice[csrfCookie], bodyCSRFNoCookie},
		{"no header", alice[csrfCookie], "-", bodyCSRFMissing},
		{"empty header", alice[csrfCookie], "", bodyCSRFMissing},
		{"header differs from cookie", alice[csrfCookie], bob[csrfCookie], bodyCSRFIncorrect},
		{"another user's token in both", bob[csrfCookie], bob[csrfCookie], bodyCSRFIncorrect},
		{"tampered token in both", flip(alice[csrfCookie]), flip(alice[csrfCookie]), bodyCSRFIncorrect},
		{"truncated token in both", alice[csrfCookie][:40], alice[csrfCookie][:40], bodyCSRFIncorrect},
		{"stray bits set in both", strayBits(alice[csrfCookie]), strayBits(alice[csrfCookie]), bodyCSRFIncorrect},
		{"garbage in both", "x", "x", bodyCSRFIncorrect},
	}
	endpoints := map[string]http.Handler{
		"middleware": a.Middleware(hello),
		"refresh":    a.RefreshHandler(),
		"blacklist":  a.BlacklistHandler(),
	}
	for ename, h := range endpoints {
		for _, tt := range tests {
			t.Run(ename+"/"+tt.name, func(t *testing.T) {
				r := alice.request(http.MethodPost, "/", nil, accessCookie, refreshCookie)
				if tt.cookie != "-" {
					r.AddCookie(&http.Cookie{Name: csrfCookie, Value: tt.cookie})
				}
				if tt.header != "-" {
					r.Header.Set("X-CSRF-Token", tt.header)
				}
				w := serve(h, r)
				assert.Equal(t, http.StatusForbidden, w.Code)
				assert.JSONEq(t, tt.body, w.Body.String())
				assert.Empty(t, w.Header().Get("WWW-Authenticate"))
				assert.Empty(t, w.Header().Values("Set-Cookie"))
				assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
			})
		}
	}
	// None of that spent alice's session.
	w := serve(a.RefreshHandler(), alice.withCSRF(alice.request(http.MethodPost, "/", nil)))
	assert.Equal(t, http.StatusOK, w.Code, w.Body.String())

	t.Run("two headers", func(t *testing.T) {
		r := alice.request(http.MethodPost, "/", nil)
		r.Header.Add("X-CSRF-Token", alice[csrfCookie])
		r.Header.Add("X-CSRF-Token", alice[csrfCookie])
		assert.JSONEq(t, bodyCSRFIncorrect, serve(a.Middleware(hello), r).Body.String())
	})

	t.Run("CSRFNames", func(t *testing.T) {
		cookie, header := a.CSRFNames()
		assert.Equal(t, csrfCookie, cookie)
		assert.Equal(t, "X-CSRF-Token", header)
		plain, _ := newTestAuth(t)
		cookie, header = plain.CSRFNames()
		assert.Empty(t, cookie+header)
	})

	t.Run("Check reports ErrCSRF", func(t *testing.T) {
		_, err := a.Check(alice.request(http.MethodPost, "/", nil))
		assert.ErrorIs(t, err, ErrCSRF)
		assert.Equal(t, http.StatusForbidden, ResponseFor(err).Status)
		assert.JSONEq(t, `{"detail":"CSRF Failed.","code":"csrf_failed"}`, string(ResponseFor(ErrCSRF).Body))
	})

	t.Run("own header name", func(t *testing.T) {
		a, _ := cookieAuth(t, CookieOptions{CSRFHeader: "x-xsrf-token", Insecure: true})
		cookie, header := a.CSRFNames()
		assert.Equal(t, "jwtpair-csrf", cookie)
		assert.Equal(t, "x-xsrf-token", header)
		j, _ := cookieLogin(t, a)
		j[csrfCookie] = j[cookie] // withCSRF reads the default name
		r := j.request(http.MethodPost, "/", nil)
		r.Header.Set("X-XSRF-Token", j[csrfCookie])
		assert.Equal(t, http.StatusOK, serve(a.Middleware(hello), r).Code)
	})
}

// TestCSRFOrigin: cross-origin unsafe requests are refused by
// Sec-Fetch-Site or Origin, on every cookie-mode endpoint, even with a
// valid CSRF token and even with the token in the body.
func TestCSRFOrigin(t *testing.T) {
	// Throttling off: the test logs in from one address more often than
	// the default throttle allows (on a clock that does not move).
	a, _ := cookieAuth(t, CookieOptions{TrustedOrigins: []string{"https://app.example.com"}}, WithThrottle(Throttle{}))
	j, _ := cookieLogin(t, a)
	p := login(t, a)
	tests := []struct {
		name    string
		headers map[string]string
		refused bool
	}{
		{"Sec-Fetch-Site cross-site", map[string]string{"Sec-Fetch-Site": "cross-site"}, true},
		{"Sec-Fetch-Site same-site (a sibling subdomain)", map[string]string{"Sec-Fetch-Site": "same-site"}, true},
		{"Sec-Fetch-Site cross-site beats a matching Origin", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "http://example.com"}, true},
		{"Origin of another host (old browser)", map[string]string{"Origin": "https://evil.example"}, true},
		{"Origin null", map[string]string{"Origin": "null"}, true},
		{"Sec-Fetch-Site same-origin", map[string]string{"Sec-Fetch-Site": "same-origin"}, false},
		{"Sec-Fetch-Site none (typed by the user)", map[string]string{"Sec-Fetch-Site": "none"}, false},
		{"Origin of this host", map[string]string{"Origin": "http://example.com"}, false},
		{"no headers (not a browser)", nil, false},
		{"trusted origin", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://app.example.com"}, false},
	}
	type endpoint struct {
		h    http.Handler
		body string
		ok   int
	}
	endpoints := map[string]func() endpoint{
		"middleware with cookie": func() endpoint { return endpoint{a.Middleware(hello), "", http.StatusOK} },
		"obtain (login CSRF)": func() endpoint {
			return endpoint{a.ObtainHandler(), `{"username":"alice","password":"wonderland"}`, http.StatusOK}
		},
		"refresh with the body token": func() endpoint {
			return endpoint{a.RefreshHandler(), `{"refresh":"` + login(t, a).Refresh + `"}`, http.StatusOK}
		},
		"blacklist with the cookie": func() endpoint {
			return endpoint{a.BlacklistHandler(), "", http.StatusOK}
		},
		"verify is not cookie-bound": func() endpoint {
			return endpoint{a.VerifyHandler(), `{"token":"` + p.Access + `"}`, http.StatusOK}
		},
	}
	for ename, mk := range endpoints {
		for _, tt := range tests {
			t.Run(ename+"/"+tt.name, func(t *testing.T) {
				e := mk()
				jj := j
				if ename == "blacklist with the cookie" {
					jj, _ = cookieLogin(t, a) // one to spend
				}
				r := jj.withCSRF(jj.request(http.MethodPost, "http://example.com/", strings.NewReader(e.body)))
				if e.body != "" {
					r.Header.Set("Content-Type", "application/json")
				}
				for k, v := range tt.headers {
					r.Header.Set(k, v)
				}
				w := serve(e.h, r)
				if tt.refused && ename != "verify is not cookie-bound" {
					assert.Equal(t, http.StatusForbidden, w.Code)
					assert.JSONEq(t, bodyCSRFOrigin, w.Body.String())
					assert.Empty(t, w.Header().Values("Set-Cookie"))
					return
				}
				assert.Equal(t, e.ok, w.Code, w.Body.String())
			})
		}
	}

	t.Run("cross-site unsafe request without any credentials", func(t *testing.T) {
		// SameSite=Lax browsers send no cookie with a cross-site POST; it is
		// refused as cross-site all the same, not merely as anonymous.
		r := httptest.NewRequest(http.MethodPost, "/hello/", nil)
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		for _, h := range []http.Handler{a.Middleware(hello), a.OptionalMiddleware(hello)} {
			w := serve(h, r)
			assert.Equal(t, http.StatusForbidden, w.Code)
			assert.JSONEq(t, bodyCSRFOrigin, w.Body.String())
		}
	})

	t.Run("header mode is untouched", func(t *testing.T) {
		a, _ := newTestAuth(t)
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"username":"alice","password":"wonderland"}`))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		w := serve(a.ObtainHandler(), r)
		assert.Equal(t, http.StatusOK, w.Code)
		assert.Empty(t, w.Header().Values("Set-Cookie"))
		assert.NotContains(t, w.Body.String(), "access_expires")
	})
}

// TestCSRFMultiInstance: instances with the same configuration accept each
// other's CSRF tokens; other keys do not.
func TestCSRFMultiInstance(t *testing.T) {
	store := NewMemoryStore()
	clk := newFakeClock()
	mk := func(opts ...Option) *Auth {
		t.Helper()
		base := []Option{WithAuthenticator(newTestUsers()), WithStore(store), WithClock(clk.Now), WithLogger(quietLogger)}
		a, err := New(append(base, opts...)...)
		require.NoError(t, err)
		return a
	}
	crossCheck := func(t *testing.T, from, to *Auth, want int) {
		t.Helper()
		j, _ := cookieLogin(t, from)
		w := serve(to.Middleware(hello), j.withCSRF(j.request(http.MethodPost, "/", nil)))
		assert.Equal(t, want, w.Code, w.Body.String())
		w = serve(to.RefreshHandler(), j.withCSRF(j.request(http.MethodPost, "/", nil)))
		assert.Equal(t, want, w.Code, w.Body.String())
	}

	t.Run("same HMAC key", func(t *testing.T) {
		one, two := mk(WithHMACKey(testSecret), WithCookies(CookieOptions{})), mk(WithHMACKey(testSecret), WithCookies(CookieOptions{}))
		crossCheck(t, one, two, http.StatusOK)
		crossCheck(t, two, one, http.StatusOK)
	})

	t.Run("same HMAC key, other server secret", func(t *testing.T) {
		one := mk(WithHMACKey(testSecret), WithCookies(CookieOptions{}))
		two := mk(WithHMACKey(testSecret), WithServerSecret([]byte(strings.Repeat("c", 32))), WithCookies(CookieOptions{}))
		j, _ := cookieLogin(t, one)
		w := serve(two.Middleware(hello), j.withCSRF(j.request(http.MethodPost, "/", nil)))
		assert.Equal(t, http.StatusForbidden, w.Code)
		assert.JSONEq(t, bodyCSRFIncorrect, w.Body.String())
	})

	t.Run("asymmetric key and a shared server secret", func(t *testing.T) {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		require.NoError(t, err)
		secret := WithServerSecret([]byte("a server secret every instance shares"))
		one, two := mk(WithSigningKey(priv, "EdDSA"), secret, WithCookies(CookieOptions{})), mk(WithSigningKey(priv, "EdDSA"), secret, WithCookies(CookieOptions{}))
		crossCheck(t, one, two, http.StatusOK)
	})

	t.Run("HMAC key rotation keeps CSRF tokens until the previous key ends", func(t *testing.T) {
		oldKey, newKey := testSecret, []byte(strings.Repeat("n", 32))
		until := clk.Now().Add(time.Hour)
		before := mk(WithHMACKey(oldKey), WithKeyID("old"), WithCookies(CookieOptions{}))
		after := mk(WithHMACKey(newKey), WithKeyID("new"), WithPreviousKey(oldKey, "HS256", "old", until), WithCookies(CookieOptions{}))
		j, _ := cookieLogin(t, before)
		w := serve(after.RefreshHandler(), j.withCSRF(j.request(http.MethodPost, "/", nil)))
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		j.update(t, w)
		// The new cookies are the new key's: they work where the old key is gone.
		only := mk(WithHMACKey(newKey), WithKeyID("new"), WithCookies(CookieOptions{}))
		assert.Equal(t, http.StatusOK, serve(only.Middleware(hello), j.withCSRF(j.request(http.MethodPost, "/", nil))).Code)
	})
}

// strayBits sets the unused low bits of a CSRF token's last character (75
// characters carry 448 bits: 2 spare), a second text for the same bytes.
func strayBits(tok string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, tok[len(tok)-1])
	return tok[:len(tok)-1] + string(alphabet[i|3])
}

// TestCSRFTokenBinding: the token's expiry, and the user, stamp and session
// it was issued for, are signed.
func TestCSRFTokenBinding(t *testing.T) {
	a, clk := cookieAuth(t, CookieOptions{})
	m := a.cookies
	now := clk.Now()
	exp := now.Add(time.Hour)
	session := subject{id: "1", stamp: "stamp", sid: "s1"}
	tok := m.newCSRFToken(session, exp)
	assert.Len(t, tok, 75)
	assert.True(t, m.validCSRFToken(tok, session, now))
	assert.True(t, m.validCSRFToken(tok, session, exp.Add(-time.Second)))
	assert.False(t, m.validCSRFToken(tok, session, exp), "expired")
	assert.False(t, m.validCSRFToken(tok, subject{id: "2", stamp: "stamp", sid: "s1"}, now), "another user")
	assert.False(t, m.validCSRFToken(tok, subject{id: "1", sid: "s1"}, now), "another stamp (a password change)")
	assert.False(t, m.validCSRFToken(tok, subject{id: "1", stamp: "stamp", sid: "s2"}, now), "another session of the user")
	assert.False(t, m.validCSRFToken(tok, subject{id: "1", stamp: "stamp"}, now), "no session")
	assert.False(t, m.validCSRFToken(tok, subject{id: "1s", stamp: "tamp", sid: "s1"}, now), "fields are length-prefixed")
	assert.False(t, m.validCSRFToken(tok, subject{id: "1", stamp: "stamps", sid: "1"}, now), "fields are length-prefixed")
	assert.NotEqual(t, tok, m.newCSRFToken(session, exp), "random nonce")

	// A token minted before tokens carried a session id (its tag covers
	// user and stamp only) still works for such a session, and for no
	// session that has an id.
	head := make([]byte, 8+csrfNonceBytes)
	binary.BigEndian.PutUint64(head, uint64(exp.Unix()))
	mac := hmac.New(sha256.New, m.csrfKeys[0].key)
	mac.Write([]byte(csrfInfo))
	mac.Write([]byte{1, '1', 5, 's', 't', 'a', 'm', 'p'}) // len ‖ user id ‖ len ‖ stamp
	mac.Write(head)
	before := csrfEncoding.EncodeToString(append(head, mac.Sum(nil)...))
	assert.True(t, m.validCSRFToken(before, subject{id: "1", stamp: "stamp"}, now), "a token of the earlier format")
	assert.False(t, m.validCSRFToken(before, session, now), "an earlier token is not good for a session with an id")

	// Moving the expiry forward breaks the tag.
	raw, err := csrfEncoding.DecodeString(tok)
	require.NoError(t, err)
	raw[7]++
	assert.False(t, m.validCSRFToken(csrfEncoding.EncodeToString(raw), session, now))
}

// TestCSRFTokenPerSession: over HTTP, a CSRF token works only with the
// cookies of the login session it was issued to: not with another session
// of the same user, nor after its session was logged out and a new one
// began; it survives the session's refresh rotation.
func TestCSRFTokenPerSession(t *testing.T) {
	a, _ := cookieAuth(t, CookieOptions{})
	hello := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	post := func(cookies jar, csrf string) int {
		r := cookies.request(http.MethodPost, "/hello/", nil)
		r.Header.Set(defaultCSRFHeader, csrf)
		return serve(hello, r).Code
	}
	// withCSRFCookie is j with its CSRF cookie replaced by csrf, as an
	// attacker able to plant a cookie (a sibling subdomain) would send.
	withCSRFCookie := func(j jar, csrf string) jar {
		out := jar{}
		for k, v := range j {
			out[k] = v
		}
		out[csrfCookie] = csrf
		return out
	}

	// sessionOf is the session id both of a jar's tokens carry.
	sessionOf := func(j jar) string {
		t.Helper()
		ac, err := a.VerifyAccess(t.Context(), j[accessCookie])
		require.NoError(t, err)
		rc, err := a.verify(j[refreshCookie], TokenTypeRefresh)
		require.NoError(t, err)
		require.Regexp(t, "^[0-9a-f]{32}$", ac.SessionID)
		require.Equal(t, ac.SessionID, rc.SessionID, "one session id in both tokens")
		return ac.SessionID
	}

	one, _ := cookieLogin(t, a)
	two, _ := cookieLogin(t, a) // alice again, another device
	sid := sessionOf(one)
	require.NotEqual(t, sid, sessionOf(two))
	require.NotEqual(t, one[csrfCookie], two[csrfCookie])
	assert.Equal(t, http.StatusOK, post(one, one[csrfCookie]))
	assert.Equal(t, http.StatusOK, post(two, two[csrfCookie]))
	assert.Equal(t, http.StatusForbidden, post(withCSRFCookie(two, one[csrfCookie]), one[csrfCookie]),
		"session one's CSRF token with session two's access cookie")

	// A refresh rotates the tokens and issues a new CSRF token; the session
	// is the same, so the previous CSRF token still matches it.
	before := one[csrfCookie]
	w := serve(a.RefreshHandler(), one.withCSRF(one.request(http.MethodPost, "/api/token/refresh/", nil)))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	one.update(t, w)
	assert.NotEqual(t, before, one[csrfCookie], "a new CSRF token per refresh")
	assert.Equal(t, sid, sessionOf(one), "the session goes on through rotation")
	assert.Equal(t, http.StatusOK, post(one, one[csrfCookie]))
	assert.Equal(t, http.StatusOK, post(withCSRFCookie(one, before), before), "same session, before the rotation")

	// Logout ends session one; its CSRF token is no good for a new login.
	old := one[csrfCookie]
	w = serve(a.BlacklistHandler(), one.withCSRF(one.request(http.MethodPost, "/api/token/blacklist/", nil)))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	three, _ := cookieLogin(t, a)
	assert.Equal(t, http.StatusForbidden, post(withCSRFCookie(three, old), old), "a logged-out session's CSRF token on a new login")
	w = serve(a.RefreshHandler(), withCSRFCookie(three, old).request(http.MethodPost, "/api/token/refresh/", nil))
	assert.Equal(t, http.StatusForbidden, w.Code, "without the header")
	r := withCSRFCookie(three, old).request(http.MethodPost, "/api/token/refresh/", nil)
	r.Header.Set(defaultCSRFHeader, old)
	assert.Equal(t, http.StatusForbidden, serve(a.RefreshHandler(), r).Code, "a logged-out session's CSRF token on a new session's refresh")
}

// TestCSRFUnsafeMethods: every method but GET, HEAD and OPTIONS needs the
// CSRF token on a cookie-authenticated request, PUT, PATCH and DELETE as
// much as POST: 403 without it, through with it.
func TestCSRFUnsafeMethods(t *testing.T) {
	a, _ := cookieAuth(t, CookieOptions{})
	j, _ := cookieLogin(t, a)
	h := a.Middleware(hello)
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodConnect, http.MethodTrace, "PROPFIND"} {
		t.Run(m, func(t *testing.T) {
			w := serve(h, j.request(m, "/hello/", nil))
			assert.Equal(t, http.StatusForbidden, w.Code)
			assert.JSONEq(t, bodyCSRFMissing, w.Body.String())
			w = serve(h, j.withCSRF(j.request(m, "/hello/", nil)))
			assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
		})
	}
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodOptions} {
		assert.Equal(t, http.StatusOK, serve(h, j.request(m, "/hello/", nil)).Code, m)
	}
}

// TestCSRFPreviousKeyEnds: after an HMAC key rotation, CSRF tokens signed
// with the previous key are accepted until the previous key's end and not
// from that instant on, also with tokens that still verify.
func TestCSRFPreviousKeyEnds(t *testing.T) {
	clk := newFakeClock()
	oldKey, newKey := testSecret, []byte(strings.Repeat("n", 32))
	until := clk.Now().Add(time.Hour)
	mk := func(opts ...Option) *Auth {
		t.Helper()
		base := []Option{WithAuthenticator(newTestUsers()), WithClock(clk.Now), WithLogger(quietLogger), WithCookies(CookieOptions{})}
		a, err := New(append(base, opts...)...)
		require.NoError(t, err)
		return a
	}
	before := mk(WithHMACKey(oldKey), WithKeyID("old"))
	after := mk(WithHMACKey(newKey), WithKeyID("new"), WithPreviousKey(oldKey, "HS256", "old", until))

	// A session of the new key, as of shortly before the end, and a CSRF
	// token for it signed with the old key.
	clk.Advance(time.Hour - time.Minute)
	j, _ := cookieLogin(t, after)
	ac, err := after.VerifyAccess(t.Context(), j[accessCookie])
	require.NoError(t, err)
	j[csrfCookie] = before.cookies.newCSRFToken(sessionOf(ac), clk.Now().Add(DefaultRefreshTTL))
	post := func() *httptest.ResponseRecorder {
		return serve(after.Middleware(hello), j.withCSRF(j.request(http.MethodPost, "/hello/", nil)))
	}

	clk.Advance(time.Minute - time.Second) // until − 1 s
	assert.Equal(t, http.StatusOK, post().Code)
	clk.Advance(time.Second) // until
	w := post()
	assert.Equal(t, http.StatusForbidden, w.Code)
	assert.JSONEq(t, bodyCSRFIncorrect, w.Body.String())
	clk.Advance(time.Second) // just after
	assert.Equal(t, http.StatusForbidden, post().Code)
	_, err = after.VerifyAccess(t.Context(), j[accessCookie])
	assert.NoError(t, err, "the access token itself is still good")
}

// TestCSRFPlantedCookie: a CSRF cookie planted beside the page's (possible
// where it has no __Host- prefix: Domain, Insecure, or a Path other than /)
// neither blocks the page's requests nor passes for the page's token: the
// header must equal one of the CSRF cookies sent, and be a token for the
// session of the cookie authenticating the request.
func TestCSRFPlantedCookie(t *testing.T) {
	a, _ := cookieAuth(t, CookieOptions{Path: "/app/"}) // names: __Secure-…
	cookie, header := a.CSRFNames()
	require.Equal(t, "__Secure-jwtpair-csrf", cookie)
	j, _ := cookieLogin(t, a)
	bob, _ := loginAs(t, a, "bob", "builder")
	h := a.Middleware(hello)
	send := func(csrfCookies []string, sent string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/app/x", nil)
		r.AddCookie(&http.Cookie{Name: "__Secure-jwtpair-access", Value: j["__Secure-jwtpair-access"]})
		for _, v := range csrfCookies {
			r.AddCookie(&http.Cookie{Name: cookie, Value: v})
		}
		r.Header.Set(header, sent)
		return serve(h, r)
	}
	own, planted := j[cookie], bob[cookie]
	assert.Equal(t, http.StatusOK, send([]string{"garbage", own}, own).Code, "planted garbage ahead")
	assert.Equal(t, http.StatusOK, send([]string{planted, own}, own).Code, "planted token of another session ahead")
	assert.Equal(t, http.StatusForbidden, send([]string{planted, own}, planted).Code, "the planted token is not this session's")
	assert.Equal(t, http.StatusForbidden, send([]string{"garbage", "x"}, own).Code, "the header must equal a cookie")
}
