package jwtpair

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair/internal/jws"
)

// Default cookie names (secure, host-only, refresh cookie under /api/token/).
const (
	accessCookie  = "__Host-jwtpair-access"
	refreshCookie = "__Secure-jwtpair-refresh"
	csrfCookie    = "__Host-jwtpair-csrf"
)

// Expiries on the fake clock (1_800_000_000) with the default TTLs.
const (
	expiresNow     = "Fri, 15 Jan 2027 08:00:00 GMT"
	expiresAccess  = "Fri, 15 Jan 2027 08:05:00 GMT"
	expiresRefresh = "Sat, 16 Jan 2027 08:00:00 GMT"
	expiresEpoch   = "Thu, 01 Jan 1970 00:00:00 GMT"
)

// The attributes of the default cookies, as set by obtain at the fake
// clock's start, and as cleared.
const (
	attrsAccess  = "; Path=/; Expires=" + expiresAccess + "; Max-Age=300; HttpOnly; Secure; SameSite=Lax"
	attrsRefresh = "; Path=/api/token/; Expires=" + expiresRefresh + "; Max-Age=86400; HttpOnly; Secure; SameSite=Lax"
	attrsCSRF    = "; Path=/; Expires=" + expiresRefresh + "; Max-Age=86400; Secure; SameSite=Lax"

	clearAccess  = accessCookie + "=; Path=/; Expires=" + expiresEpoch + "; Max-Age=0; HttpOnly; Secure; SameSite=Lax"
	clearRefresh = refreshCookie + "=; Path=/api/token/; Expires=" + expiresEpoch + "; Max-Age=0; HttpOnly; Secure; SameSite=Lax"
	clearCSRF    = csrfCookie + "=; Path=/; Expires=" + expiresEpoch + "; Max-Age=0; Secure; SameSite=Lax"
)

// cookieAuth returns a cookie-mode Auth over testUsers with a fake clock.
func cookieAuth(t *testing.T, o CookieOptions, opts ...Option) (*Auth, *fakeClock) {
	t.Helper()
	return newTestAuth(t, append([]Option{WithCookies(o)}, opts...)...)
}

// jar is what a browser keeps of a cookie-mode session: name → value.
type jar map[string]string

// setCookie is one Set-Cookie line split into its name, value and the
// attributes text after the value.
type setCookie struct{ name, value, attrs string }

// setCookies returns the Set-Cookie lines of a response, in order.
func setCookies(t *testing.T, w *httptest.ResponseRecorder) []setCookie {
	t.Helper()
	var out []setCookie
	for _, line := range w.Header().Values("Set-Cookie") {
		pair, attrs, _ := strings.Cut(line, ";")
		name, value, ok := strings.Cut(pair, "=")
		require.True(t, ok, "Set-Cookie %q", line)
		out = append(out, setCookie{name, value, ";" + attrs})
	}
	return out
}

// update applies a response's Set-Cookie lines to the jar as a browser
// would (an empty value with Max-Age=0 deletes).
func (j jar) update(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(j, c.Name)
		} else {
			j[c.Name] = c.Value
		}
	}
}

// request builds a request carrying the jar's cookies (those in only, when
// given).
func (j jar) request(method, target string, body io.Reader, only ...string) *http.Request {
	r := httptest.NewRequest(method, target, body)
	for name, v := range j {
		if len(only) == 0 || contains(only, name) {
			r.AddCookie(&http.Cookie{Name: name, Value: v})
		}
	}
	return r
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// withCSRF sets the CSRF header to the jar's CSRF cookie, as the page does.
func (j jar) withCSRF(r *http.Request) *http.Request {
	r.Header.Set(defaultCSRFHeader, j[csrfCookie])
	return r
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// cookieLogin logs alice in through obtain and returns the browser's jar.
func cookieLogin(t *testing.T, a *Auth) (jar, *httptest.ResponseRecorder) {
	t.Helper()
	w := postJSON(t, a.ObtainHandler(), `{"username":"alice","password":"wonderland"}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	j := jar{}
	j.update(t, w)
	require.Len(t, j, 3)
	return j, w
}

// loginAs logs a user in through obtain and returns the cookies set and
// the pair of the body.
func loginAs(t *testing.T, a *Auth, username, password string) (jar, Pair) {
	t.Helper()
	w := postJSON(t, a.ObtainHandler(), `{"username":"`+username+`","password":"`+password+`"}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	j := jar{}
	j.update(t, w)
	var p Pair
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p))
	return j, p
}

func TestCookieObtain(t *testing.T) {
	a, clk := cookieAuth(t, CookieOptions{})
	j, w := cookieLogin(t, a)

	sc := setCookies(t, w)
	require.Len(t, sc, 3)
	assert.Equal(t, setCookie{accessCookie, j[accessCookie], attrsAccess}, sc[0])
	assert.Equal(t, setCookie{refreshCookie, j[refreshCookie], attrsRefresh}, sc[1])
	assert.Equal(t, setCookie{csrfCookie, j[csrfCookie], attrsCSRF}, sc[2])
	assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))

	// Tokens stay in the body by default, beside their expiries.
	body := decodeBody(t, w)
	assert.Equal(t, map[string]any{
		"access": j[accessCookie], "refresh": j[refreshCookie],
		"access_expires":  float64(clk.Now().Add(DefaultAccessTTL).Unix()),
		"refresh_expires": float64(clk.Now().Add(DefaultRefreshTTL).Unix()),
	}, body)

	// The cookies hold a working pair.
	c, err := a.VerifyAccess(context.Background(), j[accessCookie])
	require.NoError(t, err)
	assert.Equal(t, "1", c.UserID)
	_, err = a.Verify(context.Background(), j[refreshCookie])
	require.NoError(t, err)

	t.Run("OmitBodyTokens", func(t *testing.T) {
		a, _ := cookieAuth(t, CookieOptions{OmitBodyTokens: true})
		_, w := cookieLogin(t, a)
		assert.JSONEq(t, `{"access_expires":1800000300,"refresh_expires":1800086400}`, w.Body.String())
	})

	t.Run("bad credentials set no cookie", func(t *testing.T) {
		w := postJSON(t, a.ObtainHandler(), `{"username":"alice","password":"nope"}`)
		assert.Equal(t, http.StatusUnauthorized, w.Code)
		assert.Empty(t, w.Header().Values("Set-Cookie"))
	})
}

// TestCookieAttributes: names and attributes for each option that changes
// them.
func TestCookieAttributes(t *testing.T) {
	tests := []struct {
		name string
		o    CookieOptions
		want []string // access, refresh, csrf, without values
	}{
		{"insecure drops Secure and the prefixes", CookieOptions{Insecure: true}, []string{
			"jwtpair-access=; Path=/; Expires=" + expiresAccess + "; Max-Age=300; HttpOnly; SameSite=Lax",
			"jwtpair-refresh=; Path=/api/token/; Expires=" + expiresRefresh + "; Max-Age=86400; HttpOnly; SameSite=Lax",
			"jwtpair-csrf=; Path=/; Expires=" + expiresRefresh + "; Max-Age=86400; SameSite=Lax",
		}},
		{"strict, refresh path /", CookieOptions{SameSite: http.SameSiteStrictMode, RefreshPath: "/"}, []string{
			"__Host-jwtpair-access=; Path=/; Expires=" + expiresAccess + "; Max-Age=300; HttpOnly; Secure; SameSite=Strict",
			"__Host-jwtpair-refresh=; Path=/; Expires=" + expiresRefresh + "; Max-Age=86400; HttpOnly; Secure; SameSite=Strict",
			"__Host-jwtpair-csrf=; Path=/; Expires=" + expiresRefresh + "; Max-Age=86400; Secure; SameSite=Strict",
		}},
		{"domain and SameSite=None", CookieOptions{Domain: "example.com", SameSite: http.SameSiteNoneMode, RefreshPath: "/auth/"}, []string{
			"__Secure-jwtpair-access=; Path=/; Domain=example.com; Expires=" + expiresAccess + "; Max-Age=300; HttpOnly; Secure; SameSite=None",
			"__Secure-jwtpair-refresh=; Path=/auth/; Domain=example.com; Expires=" + expiresRefresh + "; Max-Age=86400; HttpOnly; Secure; SameSite=None",
			"__Secure-jwtpair-csrf=; Path=/; Domain=example.com; Expires=" + expiresRefresh + "; Max-Age=86400; Secure; SameSite=None",
		}},
		{"own names and path", CookieOptions{AccessName: "at", RefreshName: "__Secure-rt", CSRFName: "csrftoken", Path: "/app/"}, []string{
			"at=; Path=/app/; Expires=" + expiresAccess + "; Max-Age=300; HttpOnly; Secure; SameSite=Lax",
			"__Secure-rt=; Path=/api/token/; Expires=" + expiresRefresh + "; Max-Age=86400; HttpOnly; Secure; SameSite=Lax",
			"csrftoken=; Path=/app/; Expires=" + expiresRefresh + "; Max-Age=86400; Secure; SameSite=Lax",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _ := cookieAuth(t, tt.o, WithClock(newFakeClock().Now))
			w := postJSON(t, a.ObtainHandler(), `{"username":"alice","password":"wonderland"}`)
			require.Equal(t, http.StatusOK, w.Code)
			sc := setCookies(t, w)
			require.Len(t, sc, len(tt.want))
			for i, c := range sc {
				assert.NotEmpty(t, c.value)
				assert.Equal(t, tt.want[i], c.name+"="+c.attrs)
			}
		})
	}
}

func TestCookieOptionsValidation(t *testing.T) {
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	key32 := []byte(strings.Repeat("k", 32))
	hmacBase := []Option{WithHMACKey(testSecret), WithAuthenticator(newTestUsers())}
	edBase := []Option{WithSigningKey(edKey, "EdDSA"), WithAuthenticator(newTestUsers())}
	tests := []struct {
		name    string
		base    []Option
		o       CookieOptions
		extra   []Option
		wantErr string // "" means New succeeds
	}{
		{"defaults", hmacBase, CookieOptions{}, nil, ""},
		{"insecure defaults", hmacBase, CookieOptions{Insecure: true}, nil, ""},
		{"asymmetric key with a server secret", edBase, CookieOptions{}, []Option{WithServerSecret(key32)}, ""},
		{"asymmetric key without a server secret", edBase, CookieOptions{}, nil, "CSRF tokens need WithServerSecret"},
		{"short server secret", hmacBase, CookieOptions{}, []Option{WithServerSecret(key32[:31])}, "server secret is 31 bytes, want at least 32"},
		{"__Host- with Insecure", hmacBase, CookieOptions{Insecure: true, AccessName: "__Host-a"}, nil, "__Host- prefix rules"},
		{"__Host- with a path", hmacBase, CookieOptions{RefreshName: "__Host-r"}, nil, "__Host- prefix rules"},
		{"__Host- with a domain", hmacBase, CookieOptions{Domain: "example.com", CSRFName: "__Host-c"}, nil, "__Host- prefix rules"},
		{"__host- in lower case", hmacBase, CookieOptions{Path: "/app/", AccessName: "__host-a"}, nil, "__Host- prefix rules"},
		{"__Secure- with Insecure", hmacBase, CookieOptions{Insecure: true, CSRFName: "__Secure-c"}, nil, "__Secure- prefix rule"},
		{"SameSite=None with Insecure", hmacBase, CookieOptions{Insecure: true, SameSite: http.SameSiteNoneMode}, nil, "SameSite=None needs Secure"},
		{"SameSiteDefaultMode", hmacBase, CookieOptions{SameSite: http.SameSiteDefaultMode}, nil, "SameSite must be"},
		{"duplicate names", hmacBase, CookieOptions{AccessName: "t", RefreshName: "T"}, nil, "is taken by another cookie"},
		{"bad name", hmacBase, CookieOptions{AccessName: "a b"}, nil, "access cookie"},
		{"relative path", hmacBase, CookieOptions{RefreshPath: "api/token/"}, nil, "must start with /"},
		{"bad path", hmacBase, CookieOptions{Path: "/a;b"}, nil, "access cookie"},
		{"bad domain", hmacBase, CookieOptions{Domain: "example.com/x"}, nil, "bad domain"},
		{"bad CSRF header", hmacBase, CookieOptions{CSRFHeader: "X CSRF"}, nil, "bad CSRF header"},
		{"bad trusted origin", hmacBase, CookieOptions{TrustedOrigins: []string{"example.com"}}, nil, "trusted origin"},
		{"sub-second TTL", hmacBase, CookieOptions{}, []Option{WithAccessTTL(500 * time.Millisecond)}, "whole seconds"},
		{"twice", hmacBase, CookieOptions{}, []Option{WithCookies(CookieOptions{})}, "WithCookies given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := append(append(append([]Option{}, tt.base...), WithCookies(tt.o)), tt.extra...)
			_, err := New(opts...)
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

// refreshCookieRequest is a POST to the refresh or blacklist endpoint with
// the given body shape and the jar's cookies.
func refreshCookieRequest(j jar, target, shape string) *http.Request {
	var r *http.Request
	switch shape {
	case "no body":
		r = j.request(http.MethodPost, target, nil)
	case "empty JSON body":
		r = j.request(http.MethodPost, target, nil)
		r.Header.Set("Content-Type", "application/json")
	case "{}":
		r = j.request(http.MethodPost, target, strings.NewReader(`{}`))
		r.Header.Set("Content-Type", "application/json")
	case "empty form":
		r = j.request(http.MethodPost, target, strings.NewReader(``))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	case "form without refresh":
		r = j.request(http.MethodPost, target, strings.NewReader(`x=1`))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	default:
		panic(shape)
	}
	return j.withCSRF(r)
}

var bodyShapes = []string{"no body", "empty JSON body", "{}", "empty form", "form without refresh"}

func TestCookieRefresh(t *testing.T) {
	for _, shape := range bodyShapes {
		t.Run(shape, func(t *testing.T) {
			a, clk := cookieAuth(t, CookieOptions{})
			j, _ := cookieLogin(t, a)
			old := j[refreshCookie]
			clk.Advance(time.Minute)

			w := serve(a.RefreshHandler(), refreshCookieRequest(j, "/api/token/refresh/", shape))
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			next := jar{}
			next.update(t, w)
			sc := setCookies(t, w)
			require.Len(t, sc, 3)
			at := func(d time.Duration) string { return clk.Now().Add(d).UTC().Format(http.TimeFormat) }
			assert.Equal(t, setCookie{accessCookie, next[accessCookie], "; Path=/; Expires=" + at(DefaultAccessTTL) + "; Max-Age=300; HttpOnly; Secure; SameSite=Lax"}, sc[0])
			assert.Equal(t, setCookie{refreshCookie, next[refreshCookie], "; Path=/api/token/; Expires=" + at(DefaultRefreshTTL) + "; Max-Age=86400; HttpOnly; Secure; SameSite=Lax"}, sc[1])
			assert.Equal(t, setCookie{csrfCookie, next[csrfCookie], "; Path=/; Expires=" + at(DefaultRefreshTTL) + "; Max-Age=86400; Secure; SameSite=Lax"}, sc[2])
			assert.NotEqual(t, old, next[refreshCookie], "rotated")
			assert.NotEqual(t, j[csrfCookie], next[csrfCookie], "a fresh CSRF token")
			assert.Equal(t, map[string]any{
				"access": next[accessCookie], "refresh": next[refreshCookie],
				"access_expires":  float64(clk.Now().Add(DefaultAccessTTL).Unix()),
				"refresh_expires": float64(clk.Now().Add(DefaultRefreshTTL).Unix()),
			}, decodeBody(t, w))

			// The new pair works; the rotated cookie is spent: presenting it
			// again is reuse, which ends the session and clears the cookies.
			j.update(t, w)
			j[refreshCookie] = old
			w = serve(a.RefreshHandler(), refreshCookieRequest(j, "/api/token/refresh/", shape))
			assert.Equal(t, http.StatusUnauthorized, w.Code)
			assert.JSONEq(t, `{"detail":"Token is blacklisted","code":"token_not_valid"}`, w.Body.String())
			assert.Equal(t, []string{clearAccess, clearRefresh, clearCSRF}, w.Header().Values("Set-Cookie"))
		})
	}

	t.Run("without rotation", func(t *testing.T) {
		a, clk := cookieAuth(t, CookieOptions{OmitBodyTokens: true}, WithRotation(false))
		j, _ := cookieLogin(t, a)
		clk.Advance(time.Hour)
		w := serve(a.RefreshHandler(), refreshCookieRequest(j, "/", "no body"))
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		sc := setCookies(t, w)
		require.Len(t, sc, 2, "no new refresh token, no refresh cookie")
		// The session still ends when the refresh token expires: so does the CSRF token.
		assert.Equal(t, "; Path=/; Expires="+clk.Now().Add(DefaultAccessTTL).UTC().Format(http.TimeFormat)+"; Max-Age=300; HttpOnly; Secure; SameSite=Lax", sc[0].attrs)
		assert.Equal(t, csrfCookie, sc[1].name)
		assert.Equal(t, "; Path=/; Expires="+expiresRefresh+"; Max-Age=82800; Secure; SameSite=Lax", sc[1].attrs)
		assert.JSONEq(t, fmt.Sprintf(`{"access_expires":%d,"refresh_expires":1800086400}`, clk.Now().Add(DefaultAccessTTL).Unix()), w.Body.String())
	})

	t.Run("body token wins and needs no CSRF token", func(t *testing.T) {
		a, _ := cookieAuth(t, CookieOptions{})
		j, _ := cookieLogin(t, a)
		other := login(t, a) // a second session of alice, header style
		r := j.request(http.MethodPost, "/", strings.NewReader(`{"refresh":"`+other.Refresh+`"}`))
		r.Header.Set("Content-Type", "application/json")
		w := serve(a.RefreshHandler(), r)
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		// The body's token was rotated, not the cookie's.
		_, err := a.Verify(context.Background(), j[refreshCookie])
		assert.NoError(t, err)
		_, err = a.Verify(context.Background(), other.Refresh)
		assert.ErrorIs(t, err, ErrTokenBlacklisted)
	})

	t.Run("other field errors stay 400", func(t *testing.T) {
		a, _ := cookieAuth(t, CookieOptions{})
		j, _ := cookieLogin(t, a)
		for body, want := range map[string]string{
			`{"refresh":true}`: `{"refresh":["Not a valid string."]}`,
			`{"refresh":`:      `{"detail":"JSON parse error - Expecting value: line 1 column 12 (char 11)"}`,
		} {
			r := j.withCSRF(j.request(http.MethodPost, "/", strings.NewReader(body)))
			r.Header.Set("Content-Type", "application/json")
			w := serve(a.RefreshHandler(), r)
			assert.Equal(t, http.StatusBadRequest, w.Code)
			assert.JSONEq(t, want, w.Body.String())
			assert.Empty(t, w.Header().Values("Set-Cookie"))
		}
	})

	t.Run("no cookie, no body", func(t *testing.T) {
		a, _ := cookieAuth(t, CookieOptions{})
		w := serve(a.RefreshHandler(), httptest.NewRequest(http.MethodPost, "/", nil))
		assert.Equal(t, http.StatusBadRequest, w.Code)
		assert.JSONEq(t, `{"refresh":["This field is required."]}`, w.Body.String())
		assert.Empty(t, w.Header().Values("Set-Cookie"))
	})

	t.Run("GET is 405", func(t *testing.T) {
		a, _ := cookieAuth(t, CookieOptions{})
		j, _ := cookieLogin(t, a)
		w := serve(a.RefreshHandler(), j.withCSRF(j.request(http.MethodGet, "/", nil)))
		assert.Equal(t, http.StatusMethodNotAllowed, w.Code)
		assert.Equal(t, "POST, OPTIONS", w.Header().Get("Allow"))
	})

	t.Run("expired refresh cookie clears the cookies", func(t *testing.T) {
		a, clk := cookieAuth(t, CookieOptions{})
		j, _ := cookieLogin(t, a)
		clk.Advance(DefaultRefreshTTL)
		w := serve(a.RefreshHandler(), refreshCookieRequest(j, "/", "no body"))
		assert.Equal(t, http.StatusUnauthorized, w.Code)
		assert.JSONEq(t, `{"detail":"Token is expired","code":"token_not_valid"}`, w.Body.String())
		assert.Equal(t, []string{clearAccess, clearRefresh, clearCSRF}, w.Header().Values("Set-Cookie"))
	})

	t.Run("store down: 503, cookies kept", func(t *testing.T) {
		st := &switchStore{MemoryStore: NewMemoryStore()}
		a, _ := cookieAuth(t, CookieOptions{}, WithStore(st))
		j, _ := cookieLogin(t, a)
		st.down.Store(true)
		w := serve(a.RefreshHandler(), refreshCookieRequest(j, "/", "no body"))
		assert.Equal(t, http.StatusServiceUnavailable, w.Code)
		assert.Empty(t, w.Header().Values("Set-Cookie"))
	})
}

func TestCookieLogout(t *testing.T) {
	cleared := []string{clearAccess, clearRefresh, clearCSRF}
	for _, shape := range bodyShapes {
		t.Run(shape, func(t *testing.T) {
			a, _ := cookieAuth(t, CookieOptions{})
			j, _ := cookieLogin(t, a)
			w := serve(a.BlacklistHandler(), refreshCookieRequest(j, "/api/token/blacklist/", shape))
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			assert.JSONEq(t, `{}`, w.Body.String())
			assert.Equal(t, cleared, w.Header().Values("Set-Cookie"))
			_, err := a.Verify(context.Background(), j[refreshCookie])
			assert.ErrorIs(t, err, ErrTokenBlacklisted)

			// Again, with the token already blacklisted: 401, still cleared.
			w = serve(a.BlacklistHandler(), refreshCookieRequest(j, "/api/token/blacklist/", shape))
			assert.Equal(t, http.StatusUnauthorized, w.Code)
			assert.JSONEq(t, `{"detail":"Token is blacklisted","code":"token_not_valid"}`, w.Body.String())
			assert.Equal(t, `Bearer realm="api", error="invalid_token", error_description="Token is blacklisted"`, w.Header().Get("WWW-Authenticate"))
			assert.Equal(t, cleared, w.Header().Values("Set-Cookie"))
		})
	}

	t.Run("invalid cookie token: 401, cleared, no CSRF token needed", func(t *testing.T) {
		a, _ := cookieAuth(t, CookieOptions{})
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.AddCookie(&http.Cookie{Name: refreshCookie, Value: "not.a.token"})
		w := serve(a.BlacklistHandler(), r)
		assert.Equal(t, http.StatusUnauthorized, w.Code)
		assert.JSONEq(t, `{"detail":"Token is invalid","code":"token_not_valid"}`, w.Body.String())
		assert.Equal(t, cleared, w.Header().Values("Set-Cookie"))
	})

	t.Run("expired cookie token: 401, cleared", func(t *testing.T) {
		a, clk := cookieAuth(t, CookieOptions{})
		j, _ := cookieLogin(t, a)
		clk.Advance(DefaultRefreshTTL + time.Second)
		w := serve(a.BlacklistHandler(), refreshCookieRequest(j, "/", "no body"))
		assert.Equal(t, http.StatusUnauthorized, w.Code)
		assert.JSONEq(t, `{"detail":"Token is expired","code":"token_not_valid"}`, w.Body.String())
		assert.Equal(t, cleared, w.Header().Values("Set-Cookie"))
	})

	t.Run("no token anywhere: 400, cleared", func(t *testing.T) {
		a, _ := cookieAuth(t, CookieOptions{})
		w := serve(a.BlacklistHandler(), httptest.NewRequest(http.MethodPost, "/", nil))
		assert.Equal(t, http.StatusBadRequest, w.Code)
		assert.JSONEq(t, `{"refresh":["This field is required."]}`, w.Body.String())
		assert.Equal(t, cleared, w.Header().Values("Set-Cookie"))
	})

	// Bodies the page should not have sent: the browser still logs out;
	// nothing is revoked (no token was read).
	for _, tt := range []struct {
		name, contentType, body, want string
		status                        int
	}{
		{"refresh not a string", "application/json", `{"refresh":true}`, `{"refresh":["Not a valid string."]}`, http.StatusBadRequest},
		{"malformed JSON", "application/json", `{"refresh":`, `{"detail":"JSON parse error - Expecting value: line 1 column 12 (char 11)"}`, http.StatusBadRequest},
		{"text/plain", "text/plain", "x", `{"detail":"Unsupported media type \"text/plain\" in request."}`, http.StatusUnsupportedMediaType},
		{"over 64 KiB", "application/json", `{"refresh":"` + strings.Repeat("a", 70<<10) + `"}`, `{"detail":"Request body too large."}`, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tt.name+": cleared", func(t *testing.T) {
			a, _ := cookieAuth(t, CookieOptions{})
			j, _ := cookieLogin(t, a)
			r := j.withCSRF(j.request(http.MethodPost, "/", strings.NewReader(tt.body)))
			r.Header.Set("Content-Type", tt.contentType)
			w := serve(a.BlacklistHandler(), r)
			assert.Equal(t, tt.status, w.Code, w.Body.String())
			assert.JSONEq(t, tt.want, w.Body.String())
			assert.Equal(t, cleared, w.Header().Values("Set-Cookie"))
			_, err := a.Verify(context.Background(), j[refreshCookie])
			assert.NoError(t, err, "not revoked")
		})
	}

	t.Run("GET: 405, nothing cleared", func(t *testing.T) {
		a, _ := cookieAuth(t, CookieOptions{})
		j, _ := cookieLogin(t, a)
		w := serve(a.BlacklistHandler(), j.request(http.MethodGet, "/", nil))
		assert.Equal(t, http.StatusMethodNotAllowed, w.Code)
		assert.Empty(t, w.Header().Values("Set-Cookie"), "a cross-site link cannot log anyone out")
	})

	t.Run("body token", func(t *testing.T) {
		a, _ := cookieAuth(t, CookieOptions{})
		p := login(t, a)
		w := postJSON(t, a.BlacklistHandler(), `{"refresh":"`+p.Refresh+`"}`)
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		assert.Equal(t, cleared, w.Header().Values("Set-Cookie"))
		_, err := a.Verify(context.Background(), p.Refresh)
		assert.ErrorIs(t, err, ErrTokenBlacklisted)
	})

	t.Run("CSRF failure: 403, not revoked, nothing cleared", func(t *testing.T) {
		a, _ := cookieAuth(t, CookieOptions{})
		j, _ := cookieLogin(t, a)
		w := serve(a.BlacklistHandler(), j.request(http.MethodPost, "/", nil))
		assert.Equal(t, http.StatusForbidden, w.Code)
		assert.JSONEq(t, `{"detail":"CSRF Failed: CSRF token missing.","code":"csrf_failed"}`, w.Body.String())
		assert.Empty(t, w.Header().Values("Set-Cookie"))
		_, err := a.Verify(context.Background(), j[refreshCookie])
		assert.NoError(t, err)
	})

	t.Run("cross-site: 403, nothing cleared", func(t *testing.T) {
		a, _ := cookieAuth(t, CookieOptions{})
		j, _ := cookieLogin(t, a)
		r := refreshCookieRequest(j, "/", "no body")
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		w := serve(a.BlacklistHandler(), r)
		assert.Equal(t, http.StatusForbidden, w.Code)
		assert.JSONEq(t, `{"detail":"CSRF Failed: Origin checking failed.","code":"csrf_failed"}`, w.Body.String())
		assert.Empty(t, w.Header().Values("Set-Cookie"))
	})

	t.Run("store down: 503, cookies kept for a retry", func(t *testing.T) {
		st := &switchStore{MemoryStore: NewMemoryStore()}
		a, _ := cookieAuth(t, CookieOptions{}, WithStore(st))
		j, _ := cookieLogin(t, a)
		st.down.Store(true)
		w := serve(a.BlacklistHandler(), refreshCookieRequest(j, "/", "no body"))
		assert.Equal(t, http.StatusServiceUnavailable, w.Code)
		assert.Empty(t, w.Header().Values("Set-Cookie"))
	})
}

func TestCookieMiddleware(t *testing.T) {
	a, clk := cookieAuth(t, CookieOptions{})
	j, _ := cookieLogin(t, a)
	_, bob := loginAs(t, a, "bob", "builder")
	h := a.Middleware(hello)

	t.Run("GET with the access cookie", func(t *testing.T) {
		w := serve(h, j.request(http.MethodGet, "/hello/", nil, accessCookie))
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		assert.Equal(t, "1", decodeBody(t, w)["user_id"])
		assert.Empty(t, w.Header().Values("Set-Cookie"))
	})

	t.Run("safe methods need no CSRF token", func(t *testing.T) {
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodOptions} {
			r := j.request(m, "/hello/", nil, accessCookie)
			r.Header.Set("Sec-Fetch-Site", "cross-site") // a link from elsewhere
			assert.Equal(t, http.StatusOK, serve(h, r).Code, m)
		}
	})

	t.Run("unsafe methods with the CSRF token", func(t *testing.T) {
		for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, "PROPFIND"} {
			r := j.withCSRF(j.request(m, "/hello/", nil))
			r.Header.Set("Sec-Fetch-Site", "same-origin")
			w := serve(h, r)
			assert.Equal(t, http.StatusOK, w.Code, "%s: %s", m, w.Body.String())
		}
	})

	t.Run("header wins over the cookie", func(t *testing.T) {
		r := j.request(http.MethodPost, "/hello/", nil) // alice's cookies, no CSRF token
		r.Header.Set("Authorization", "Bearer "+bob.Access)
		w := serve(h, r)
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		assert.Equal(t, "2", decodeBody(t, w)["user_id"])

		r = j.request(http.MethodGet, "/hello/", nil)
		r.Header.Set("Authorization", "Bearer not-a-token")
		w = serve(h, r)
		assert.Equal(t, http.StatusUnauthorized, w.Code)
		assert.JSONEq(t, bodyInvalid, w.Body.String())

		r = j.request(http.MethodGet, "/hello/", nil)
		r.Header.Set("Authorization", "Bearer")
		assert.JSONEq(t, bodyBadHeader, serve(h, r).Body.String())
	})

	t.Run("another scheme falls back to the cookie", func(t *testing.T) {
		r := j.request(http.MethodGet, "/hello/", nil)
		r.Header.Set("Authorization", "Basic YWxpY2U6d29uZGVybGFuZA==")
		w := serve(h, r)
		require.Equal(t, http.StatusOK, w.Code)
		assert.Equal(t, "1", decodeBody(t, w)["user_id"])
	})

	t.Run("header-authenticated requests need no CSRF token, even cross-site", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodDelete, "/hello/", nil)
		r.Header.Set("Authorization", "Bearer "+bob.Access)
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		r.Header.Set("Origin", "https://spa.example")
		assert.Equal(t, http.StatusOK, serve(h, r).Code)
	})

	t.Run("bad cookie tokens", func(t *testing.T) {
		for name, tc := range map[string]struct{ tok, body string }{
			"garbage":       {"not-a-token", bodyInvalid},
			"refresh token": {j[refreshCookie], bodyWrongType},
			"oversized":     {strings.Repeat("a", defaultMaxTokenBytes+1), bodyInvalid},
		} {
			r := httptest.NewRequest(http.MethodGet, "/hello/", nil)
			r.AddCookie(&http.Cookie{Name: accessCookie, Value: tc.tok})
			w := serve(h, r)
			assert.Equal(t, http.StatusUnauthorized, w.Code, name)
			assert.JSONEq(t, tc.body, w.Body.String(), name)
		}
	})

	t.Run("no cookie", func(t *testing.T) {
		w := serve(h, j.request(http.MethodGet, "/hello/", nil, csrfCookie))
		assert.Equal(t, http.StatusUnauthorized, w.Code)
		assert.JSONEq(t, bodyNotAuthenticated, w.Body.String())
		assert.Equal(t, http.StatusOK, serve(a.OptionalMiddleware(hello), j.request(http.MethodPost, "/", nil, csrfCookie)).Code, "anonymous, same-origin")
	})

	t.Run("expired access cookie", func(t *testing.T) {
		clk.Advance(DefaultAccessTTL)
		defer clk.Advance(-DefaultAccessTTL)
		w := serve(h, j.request(http.MethodGet, "/hello/", nil))
		assert.Equal(t, http.StatusUnauthorized, w.Code)
		assert.JSONEq(t, bodyExpired, w.Body.String())
	})
}

// TestCookieFlow: the whole life of a browser session over HTTP, through a
// mux mounted as the example mounts it.
func TestCookieFlow(t *testing.T) {
	a, clk := cookieAuth(t, CookieOptions{OmitBodyTokens: true})
	mux := http.NewServeMux()
	mux.Handle("/api/token/", a.ObtainHandler())
	mux.Handle("/api/token/refresh/", a.RefreshHandler())
	mux.Handle("/api/token/blacklist/", a.BlacklistHandler())
	mux.Handle("/hello/", a.Middleware(hello))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// A cookie jar that, like a browser on localhost, keeps Secure cookies
	// over plain HTTP.
	cl := srv.Client()
	mj := &memJar{}
	cl.Jar = mj
	u, _ := url.Parse(srv.URL)
	csrf := func() string { return cl.Jar.Cookies(u)[0].Value }
	do := func(method, path, body string, withCSRF bool) *http.Response {
		t.Helper()
		r, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		if withCSRF {
			r.Header.Set("X-CSRF-Token", csrf())
		}
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := cl.Do(r)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp
	}

	require.Equal(t, http.StatusOK, do("POST", "/api/token/", `{"username":"alice","password":"wonderland"}`, false).StatusCode)
	assert.Equal(t, http.StatusOK, do("GET", "/hello/", "", false).StatusCode)
	assert.Equal(t, http.StatusForbidden, do("POST", "/hello/", "", false).StatusCode)
	assert.Equal(t, http.StatusOK, do("POST", "/hello/", "", true).StatusCode)

	clk.Advance(DefaultAccessTTL) // the access token has expired (the fake jar ignores Max-Age)
	assert.Equal(t, http.StatusUnauthorized, do("GET", "/hello/", "", false).StatusCode)
	assert.Equal(t, http.StatusForbidden, do("POST", "/api/token/refresh/", "", false).StatusCode)
	require.Equal(t, http.StatusOK, do("POST", "/api/token/refresh/", "", true).StatusCode)
	assert.Equal(t, http.StatusOK, do("POST", "/hello/", "", true).StatusCode)

	require.Equal(t, http.StatusOK, do("POST", "/api/token/blacklist/", "", true).StatusCode)
	assert.Empty(t, mj.cookies)
	assert.Equal(t, http.StatusUnauthorized, do("GET", "/hello/", "", false).StatusCode)
}

// memJar is a minimal cookie jar honouring Path and deletion, that keeps
// Secure cookies over plain HTTP (as browsers do for localhost).
type memJar struct{ cookies []*http.Cookie }

func (j *memJar) SetCookies(_ *url.URL, cs []*http.Cookie) {
	for _, c := range cs {
		kept := j.cookies[:0]
		for _, old := range j.cookies {
			if old.Name != c.Name || old.Path != c.Path {
				kept = append(kept, old)
			}
		}
		j.cookies = kept
		if c.MaxAge >= 0 {
			j.cookies = append(j.cookies, c)
		}
	}
}

// Cookies returns the cookies for u, the CSRF cookie first.
func (j *memJar) Cookies(u *url.URL) []*http.Cookie {
	var out []*http.Cookie
	for _, c := range j.cookies {
		if strings.HasPrefix(u.Path, c.Path) || u.Path == "" && c.Path == "/" {
			if c.Name == csrfCookie {
				out = append([]*http.Cookie{{Name: c.Name, Value: c.Value}}, out...)
			} else {
				out = append(out, &http.Cookie{Name: c.Name, Value: c.Value})
			}
		}
	}
	return out
}

// BenchmarkMiddlewareCookie: a GET authenticated by the access cookie.
func BenchmarkMiddlewareCookie(b *testing.B) {
	a, err := New(WithHMACKey(testSecret), WithAuthenticator(newTestUsers()), WithLogger(quietLogger), WithCookies(CookieOptions{}))
	if err != nil {
		b.Fatal(err)
	}
	p, err := a.IssuePair(context.Background(), User{ID: "1"})
	if err != nil {
		b.Fatal(err)
	}
	h := a.Middleware(noop)
	r := httptest.NewRequest(http.MethodGet, "/hello/", nil)
	r.AddCookie(&http.Cookie{Name: accessCookie, Value: p.Access})
	r.AddCookie(&http.Cookie{Name: csrfCookie, Value: "x"})
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
	if w.Code != http.StatusOK {
		b.Fatalf("status %d", w.Code)
	}
}

// ExampleWithCookies serves a browser app from HttpOnly cookies: the login
// sets them, the page echoes the CSRF cookie in X-CSRF-Token on unsafe
// requests, and logout clears them.
func ExampleWithCookies() {
	users := AuthenticatorFunc(func(ctx context.Context, username, password string) (User, error) {
		if username == "alice" && password == "wonderland" {
			return User{ID: "1"}, nil
		}
		return User{}, ErrInvalidCredentials
	})
	auth, err := New(
		WithHMACKey([]byte("a secret of at least thirty-two bytes!")),
		WithAuthenticator(users),
		WithCookies(CookieOptions{OmitBodyTokens: true}),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.Handle("POST /api/token/", auth.ObtainHandler())
	mux.Handle("POST /api/token/refresh/", auth.RefreshHandler())
	mux.Handle("POST /api/token/blacklist/", auth.BlacklistHandler())
	mux.Handle("/hello/", auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := UserFrom(r.Context())
		fmt.Fprintf(w, "hello, user %s\n", u.ID)
	})))

	// What a browser does, by hand.
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/api/token/", strings.NewReader(`{"username":"alice","password":"wonderland"}`))
	r.Header.Set("Content-Type", "application/json")
	mux.ServeHTTP(w, r)
	cookies := w.Result().Cookies()
	for _, c := range cookies {
		fmt.Printf("login sets %s (HttpOnly %v)\n", c.Name, c.HttpOnly)
	}
	csrfName, csrfHeader := auth.CSRFNames()
	send := func(method, path, csrf string) int {
		r := httptest.NewRequest(method, path, nil)
		for _, c := range cookies {
			r.AddCookie(c)
		}
		if csrf != "" {
			r.Header.Set(csrfHeader, csrf)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		return w.Code
	}
	var token string
	for _, c := range cookies {
		if c.Name == csrfName {
			token = c.Value
		}
	}
	fmt.Println("GET  /hello/:", send("GET", "/hello/", ""))
	fmt.Println("POST /hello/ without the CSRF token:", send("POST", "/hello/", ""))
	fmt.Println("POST /hello/ with it:", send("POST", "/hello/", token))
	fmt.Println("logout:", send("POST", "/api/token/blacklist/", token))
	// Output:
	// login sets __Host-jwtpair-access (HttpOnly true)
	// login sets __Secure-jwtpair-refresh (HttpOnly true)
	// login sets __Host-jwtpair-csrf (HttpOnly false)
	// GET  /hello/: 200
	// POST /hello/ without the CSRF token: 403
	// POST /hello/ with it: 200
	// logout: 200
}

// browser is a cookie store that orders cookies as browsers do (RFC 6265
// §5.4: longer paths first, then older ones), and the victim's app, at
// https://app.example.com, behind the default cookie-mode endpoints.
type browser struct {
	t   *testing.T
	jar *cookiejar.Jar
}

const appOrigin = "https://app.example.com"

func newBrowser(t *testing.T) *browser {
	t.Helper()
	j, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &browser{t: t, jar: j}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// plant is what a host that can set cookies for the parent domain (here
// evil.example.com) does: a refresh cookie of the app's name, for
// Domain=example.com and the given Path, which the browser sends to the
// app beside (and, for a longer Path, before) the app's own.
func (b *browser) plant(value, path string) {
	b.jar.SetCookies(mustURL("https://evil.example.com/"), []*http.Cookie{{
		Name: refreshCookie, Value: value, Domain: "example.com", Path: path,
		Secure: true, HttpOnly: true, MaxAge: 86400,
	}})
}

// do sends a request as the app's page does: the browser's cookies for
// the URL, and, when csrf, the CSRF cookie's value in the header.
func (b *browser) do(h http.Handler, method, path, body string, csrf bool) *httptest.ResponseRecorder {
	b.t.Helper()
	u := mustURL(appOrigin + path)
	r := httptest.NewRequest(method, u.String(), strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for _, c := range b.jar.Cookies(u) {
		r.AddCookie(c)
		if c.Name == csrfCookie && csrf {
			r.Header.Set(defaultCSRFHeader, c.Value)
		}
	}
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	w := serve(h, r)
	b.jar.SetCookies(u, w.Result().Cookies())
	return w
}

// refreshCookies returns the refresh cookies the browser sends to path, in
// order.
func (b *browser) refreshCookies(path string) []string {
	var out []string
	for _, c := range b.jar.Cookies(mustURL(appOrigin + path)) {
		if c.Name == refreshCookie {
			out = append(out, c.Value)
		}
	}
	return out
}

// TestCookieTossing: refresh cookies planted by another host of the site
// (finding 3). The refresh cookie cannot be __Host- (its Path is the
// refresh path), so a host that can set cookies for the parent domain can
// give the browser more of its name, with a longer Path, which the browser
// sends first. Whatever is planted (the attacker's own valid session,
// another user's, another session of the victim, garbage, an expired
// token, an access token), the victim's refresh and logout work and touch
// only the victim's session, and the planted tokens are never refreshed or
// revoked on the victim's behalf.
func TestCookieTossing(t *testing.T) {
	a, clk := cookieAuth(t, CookieOptions{})
	expired := handTokenHS256(t, testSecret, simplejwtHeader, claimsJSON(t, map[string]any{
		"token_type": "refresh", "exp": clk.Now().Unix() - 1, "iat": clk.Now().Unix() - 86401,
		"jti": "0123456789abcdef0123456789abcdef", "user_id": "1",
	}))
	refreshH, logoutH := a.RefreshHandler(), a.BlacklistHandler()
	const refreshPath, logoutPath = "/api/token/refresh/", "/api/token/blacklist/"

	type plant struct{ value, path string }
	_, mallory := loginAs(t, a, "bob", "builder") // the attacker's own account
	_, aliceElsewhere := loginAs(t, a, "alice", "wonderland")
	cases := []struct {
		name string
		// planted before the victim's login (the same Path is then sent
		// first, being older), and after it
		before, after []plant
	}{
		{"the attacker's own valid session, longer path", nil, []plant{{mallory.Refresh, refreshPath}, {mallory.Refresh, logoutPath}}},
		{"another session of the victim", nil, []plant{{aliceElsewhere.Refresh, refreshPath}, {aliceElsewhere.Refresh, logoutPath}}},
		{"garbage", nil, []plant{{"not.a.token", refreshPath}, {"garbage", logoutPath}}},
		{"an expired token", nil, []plant{{expired, refreshPath}, {expired, logoutPath}}},
		{"an access token", nil, []plant{{mallory.Access, refreshPath}, {mallory.Access, logoutPath}}},
		{"same path, planted before the login", []plant{{mallory.Refresh, "/api/token/"}}, nil},
		{"shorter path (sent after)", nil, []plant{{mallory.Refresh, "/"}}},
		{"everything at once", []plant{{aliceElsewhere.Refresh, "/api/token/"}}, []plant{
			{"garbage", refreshPath}, {mallory.Refresh, "/api/token/refresh"},
			{expired, logoutPath}, {mallory.Refresh, "/api/token/blacklist"}, {mallory.Access, "/"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowser(t)
			for _, p := range tc.before {
				b.plant(p.value, p.path)
			}
			login := b.do(a.ObtainHandler(), http.MethodPost, "/api/token/", `{"username":"alice","password":"wonderland"}`, false)
			require.Equal(t, http.StatusOK, login.Code)
			for _, p := range tc.after {
				b.plant(p.value, p.path)
			}
			victim := func() string { // the victim's own refresh cookie: host-only, /api/token/
				for _, c := range setCookies(t, login) {
					if c.name == refreshCookie {
						return c.value
					}
				}
				t.Fatal("no refresh cookie")
				return ""
			}()
			sent := b.refreshCookies(refreshPath)
			require.Greater(t, len(sent), 1, "the browser sends the planted cookies too")
			if tc.name != "shorter path (sent after)" {
				require.NotEqual(t, victim, sent[0], "a planted cookie is sent first")
			}

			// Refresh: the victim's session is rotated, nothing planted is.
			w := b.do(refreshH, http.MethodPost, refreshPath, "", true)
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			_, err := a.Verify(t.Context(), victim)
			assert.ErrorIs(t, err, ErrTokenBlacklisted, "the victim's token was the one rotated")
			rotated := decodeBody(t, w)["refresh"].(string)
			rc, err := a.Verify(t.Context(), rotated)
			require.NoError(t, err)
			assert.Equal(t, "1", rc.UserID)
			// The new pair's access cookie works, unsafe requests too.
			assert.Equal(t, http.StatusOK, b.do(a.Middleware(hello), http.MethodPost, "/hello/", "", true).Code)

			// Logout ends the victim's session, and only it.
			w = b.do(logoutH, http.MethodPost, logoutPath, "", true)
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			assert.Equal(t, []string{clearAccess, clearRefresh, clearCSRF}, w.Header().Values("Set-Cookie"))
			_, err = a.Verify(t.Context(), rotated)
			assert.ErrorIs(t, err, ErrTokenBlacklisted, "the victim's session is over")

			// The planted sessions were neither refreshed nor revoked.
			for _, p := range []Pair{mallory, aliceElsewhere} {
				_, err := a.Verify(t.Context(), p.Refresh)
				assert.NoError(t, err)
			}
		})
	}
}

// TestCookieTossingWithoutCSRFProof: a request the page did not make (no
// CSRF header) with a planted token beside the victim's valid one logs
// nobody out: 403, nothing cleared, nothing revoked. (Before, a planted
// garbage value was read instead of the victim's token: its 401 cleared
// the browser's cookies while the victim's session stayed valid.)
func TestCookieTossingWithoutCSRFProof(t *testing.T) {
	for _, planted := range []string{"garbage", "not.a.token"} {
		for name, path := range map[string]string{"refresh": "/api/token/refresh/", "logout": "/api/token/blacklist/"} {
			t.Run(name+"/"+planted, func(t *testing.T) {
				a, _ := cookieAuth(t, CookieOptions{})
				h := a.RefreshHandler()
				if name == "logout" {
					h = a.BlacklistHandler()
				}
				b := newBrowser(t)
				login := b.do(a.ObtainHandler(), http.MethodPost, "/api/token/", `{"username":"alice","password":"wonderland"}`, false)
				require.Equal(t, http.StatusOK, login.Code)
				b.plant(planted, path)
				w := b.do(h, http.MethodPost, path, "", false)
				assert.Equal(t, http.StatusForbidden, w.Code, w.Body.String())
				assert.JSONEq(t, bodyCSRFMissing, w.Body.String())
				assert.Empty(t, w.Header().Values("Set-Cookie"))
				_, err := a.Verify(t.Context(), decodeBody(t, login)["refresh"].(string))
				assert.NoError(t, err, "the victim's session is untouched")
			})
		}
	}
}

// TestCookieTossingDeadSession: when the victim's own refresh token is
// dead (expired) and a valid one of the attacker's is planted ahead of it,
// refresh and logout answer the victim's verdict and clear the victim's
// cookies, so the page can log in again; the attacker's token is neither
// used nor revoked, and cannot make the logout fail.
func TestCookieTossingDeadSession(t *testing.T) {
	for _, logout := range []bool{false, true} {
		t.Run(fmt.Sprint("logout=", logout), func(t *testing.T) {
			a, clk := cookieAuth(t, CookieOptions{})
			b := newBrowser(t)
			require.Equal(t, http.StatusOK, b.do(a.ObtainHandler(), http.MethodPost, "/api/token/", `{"username":"alice","password":"wonderland"}`, false).Code)
			clk.Advance(DefaultRefreshTTL) // the victim's session has expired (the jar keeps its cookies)
			_, mallory := loginAs(t, a, "bob", "builder")
			h, path := a.RefreshHandler(), "/api/token/refresh/"
			if logout {
				h, path = a.BlacklistHandler(), "/api/token/blacklist/"
			}
			b.plant(mallory.Refresh, path)
			w := b.do(h, http.MethodPost, path, "", true)
			assert.Equal(t, http.StatusUnauthorized, w.Code)
			assert.JSONEq(t, `{"detail":"Token is expired","code":"token_not_valid"}`, w.Body.String())
			assert.Equal(t, []string{clearAccess, clearRefresh, clearCSRF}, w.Header().Values("Set-Cookie"))
			_, err := a.Verify(t.Context(), mallory.Refresh)
			assert.NoError(t, err, "the planted token was neither refreshed nor revoked")
		})
	}
}

// countSignatureChecks makes a's signing key count the signatures it
// checks.
func countSignatureChecks(a *Auth) *atomic.Int64 {
	n := new(atomic.Int64)
	k := a.ring.signer // shared by the ring's maps: changed in place
	*k = *jws.Observed(k, func() { n.Add(1) })
	return n
}

// TestCookieTossingBounded: the refresh cookies of one request cost at most
// maxCookieCandidates signature checks, however many are sent.
func TestCookieTossingBounded(t *testing.T) {
	a, _ := cookieAuth(t, CookieOptions{}, WithThrottle(Throttle{})) // logs in more often than the default throttle allows
	j, _ := cookieLogin(t, a)
	n := countSignatureChecks(a)
	r := j.withCSRF(j.request(http.MethodPost, "/api/token/refresh/", nil, csrfCookie))
	for range 3 * maxCookieCandidates {
		r.AddCookie(&http.Cookie{Name: refreshCookie, Value: login(t, a).Refresh}) // valid, another session
	}
	r.AddCookie(&http.Cookie{Name: refreshCookie, Value: j[refreshCookie]})
	n.Store(0)
	w := serve(a.RefreshHandler(), r)
	assert.Equal(t, http.StatusForbidden, w.Code)
	assert.JSONEq(t, bodyCSRFIncorrect, w.Body.String())
	assert.Equal(t, int64(maxCookieCandidates), n.Load())
}

// steppingClock reads one second later each time it is read.
type steppingClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *steppingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.t
	c.t = c.t.Add(time.Second)
	return t
}

func (c *steppingClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// TestCookieRefreshVerifiesOnce: the CSRF decision and the refresh or
// logout rest on one verification of the cookie's token (finding 4). A
// token from an instance whose clock runs ahead (its iat one second in
// this instance's future), sent without a CSRF token to an instance whose
// clock moves on between readings, is refused: at 77e3343 it failed the
// first check, which skipped the CSRF check, passed the second, and was
// refreshed (or revoked) with 200.
func TestCookieRefreshVerifiesOnce(t *testing.T) {
	store := NewMemoryStore()
	base := time.Unix(1_800_000_000, 0)
	opts := func(now func() time.Time) []Option {
		return []Option{WithHMACKey(testSecret), WithAuthenticator(newTestUsers()), WithStore(store),
			WithClock(now), WithLogger(quietLogger), WithCookies(CookieOptions{})}
	}
	ahead, err := New(opts(func() time.Time { return base.Add(time.Second) })...)
	require.NoError(t, err)
	clk := &steppingClock{}
	a, err := New(opts(clk.Now)...)
	require.NoError(t, err)
	for name, h := range map[string]http.Handler{"refresh": a.RefreshHandler(), "logout": a.BlacklistHandler()} {
		t.Run(name, func(t *testing.T) {
			p, err := ahead.IssuePair(t.Context(), User{ID: "1"}) // iat: base+1s
			require.NoError(t, err)
			r := httptest.NewRequest(http.MethodPost, "/api/token/refresh/", nil)
			r.AddCookie(&http.Cookie{Name: refreshCookie, Value: p.Refresh}) // and no CSRF token
			clk.Set(base)                                                    // read as base, base+1s, …
			w := serve(h, r)
			// Refused, by the token's verdict or for want of a CSRF token,
			// depending on which clock reading the one verification gets.
			assert.Contains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, w.Code, w.Body.String())
			_, err = ahead.Verify(t.Context(), p.Refresh)
			assert.NoError(t, err, "neither rotated nor revoked")
		})
	}
}

// TestCookieSignatureChecks: cookie mode checks the signature of each token
// it is given once, and of none it mints (finding 4). At 77e3343 obtain
// checked 2, a refresh 4 (3 without rotation), from the cookie or the
// body, and a logout from the cookie 2.
func TestCookieSignatureChecks(t *testing.T) {
	for _, rotate := range []bool{true, false} {
		t.Run(fmt.Sprint("rotate=", rotate), func(t *testing.T) {
			a, _ := cookieAuth(t, CookieOptions{}, WithRotation(rotate))
			n := countSignatureChecks(a)
			j, _ := cookieLogin(t, a)
			assert.Equal(t, int64(0), n.Swap(0), "obtain")
			w := serve(a.RefreshHandler(), refreshCookieRequest(j, "/api/token/refresh/", "no body"))
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			assert.Equal(t, int64(1), n.Swap(0), "refresh from the cookie")
			j.update(t, w)
			w = serve(a.RefreshHandler(), refreshCookieRequest(j, "/api/token/refresh/", "no body"))
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			assert.Equal(t, int64(1), n.Swap(0), "refresh from the cookie, again")
			j.update(t, w)
			w = serve(a.BlacklistHandler(), refreshCookieRequest(j, "/api/token/blacklist/", "no body"))
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			assert.Equal(t, int64(1), n.Swap(0), "logout from the cookie")
			p := login(t, a)
			n.Store(0)
			require.Equal(t, http.StatusOK, postJSON(t, a.RefreshHandler(), `{"refresh":"`+p.Refresh+`"}`).Code)
			assert.Equal(t, int64(1), n.Swap(0), "refresh from the body")
		})
	}
}

// BenchmarkCookieRefresh: a refresh from the cookie with rotation (the
// default), as a page's silent refresh makes it, with an HMAC key and with
// an ES256 one.
func BenchmarkCookieRefresh(b *testing.B) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	for name, key := range map[string]Option{"HS256": WithHMACKey(testSecret), "ES256": WithSigningKey(ec, "ES256")} {
		b.Run(name, func(b *testing.B) {
			a, err := New(key, WithAuthenticator(newTestUsers()), WithLogger(quietLogger),
				WithServerSecret(testSecret), WithCookies(CookieOptions{}))
			if err != nil {
				b.Fatal(err)
			}
			h := a.RefreshHandler()
			r := httptest.NewRequest(http.MethodPost, "/api/token/", strings.NewReader(`{"username":"alice","password":"wonderland"}`))
			r.Header.Set("Content-Type", "application/json")
			w := serve(a.ObtainHandler(), r)
			cookies := map[string]string{}
			keep := func(w *httptest.ResponseRecorder) {
				for _, c := range w.Result().Cookies() {
					cookies[c.Name] = c.Value
				}
			}
			keep(w)
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(http.MethodPost, "/api/token/refresh/", nil)
				r.AddCookie(&http.Cookie{Name: refreshCookie, Value: cookies[refreshCookie]})
				r.AddCookie(&http.Cookie{Name: csrfCookie, Value: cookies[csrfCookie]})
				r.Header.Set(defaultCSRFHeader, cookies[csrfCookie])
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body.String())
				}
				keep(w)
			}
		})
	}
}

// TestCookieExpiriesMatchTokens: the expiries cookie mode writes (cookie
// Expires and Max-Age, the body's access_expires and refresh_expires),
// which it knows from minting rather than from verifying what it minted,
// are the exp claims of the tokens, on a clock between two seconds.
func TestCookieExpiriesMatchTokens(t *testing.T) {
	clk := newFakeClock()
	clk.Advance(700 * time.Millisecond)
	a, _ := cookieAuth(t, CookieOptions{}, WithClock(clk.Now))
	check := func(w *httptest.ResponseRecorder) {
		t.Helper()
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		body := decodeBody(t, w)
		byName := map[string]*http.Cookie{}
		for _, c := range w.Result().Cookies() {
			byName[c.Name] = c
		}
		for _, tc := range []struct{ token, field, cookie string }{
			{"access", "access_expires", accessCookie},
			{"refresh", "refresh_expires", refreshCookie},
		} {
			c, err := a.verify(body[tc.token].(string), "")
			require.NoError(t, err)
			exp := c.ExpiresAt.Unix()
			assert.Equal(t, float64(exp), body[tc.field], tc.field)
			assert.Equal(t, exp, byName[tc.cookie].Expires.Unix(), tc.cookie)
			assert.Equal(t, int(exp-clk.Now().Unix()), byName[tc.cookie].MaxAge, tc.cookie)
		}
		assert.Equal(t, body["refresh_expires"], float64(byName[csrfCookie].Expires.Unix()), "the CSRF cookie lives as long as the refresh token")
	}
	j, w := cookieLogin(t, a)
	check(w)
	clk.Advance(90*time.Second + 600*time.Millisecond)
	check(serve(a.RefreshHandler(), refreshCookieRequest(j, "/api/token/refresh/", "no body")))
}

// TestCookieSessionEndsForTheUser: in cookie mode with a UserLoader, a
// refresh from the cookie whose user is gone, or whose stamp changed (a
// password change), is refused and clears the three cookies, so the
// browser stops sending a dead session; with WithUserCheck the access
// cookie stops working at once.
func TestCookieSessionEndsForTheUser(t *testing.T) {
	cleared := []string{clearAccess, clearRefresh, clearCSRF}
	refresh := func(a *Auth, j jar) *http.Response {
		w := serve(a.RefreshHandler(), j.withCSRF(j.request(http.MethodPost, "/api/token/refresh/", nil)))
		return w.Result()
	}

	t.Run("user deactivated", func(t *testing.T) {
		a, users := newLoaderAuth(t, WithCookies(CookieOptions{}), WithClock(newFakeClock().Now))
		j, _ := cookieLogin(t, a)
		users.set(func(u *testUsers) { u.inactive["1"] = true })
		w := serve(a.RefreshHandler(), j.withCSRF(j.request(http.MethodPost, "/api/token/refresh/", nil)))
		assert.Equal(t, http.StatusUnauthorized, w.Code)
		assert.JSONEq(t, bodyNoAccountToken, w.Body.String())
		assert.Equal(t, cleared, w.Header().Values("Set-Cookie"))
	})

	t.Run("stamp changed", func(t *testing.T) {
		a, users := newLoaderAuth(t, WithCookies(CookieOptions{}), WithClock(newFakeClock().Now), WithUserCheck())
		j, _ := cookieLogin(t, a)
		hello := a.Middleware(hello)
		require.Equal(t, http.StatusOK, serve(hello, j.withCSRF(j.request(http.MethodPost, "/hello/", nil))).Code)

		users.set(func(u *testUsers) { u.stamps["1"] = "pw-2026-11-30T00:00:00Z" })
		w := serve(hello, j.withCSRF(j.request(http.MethodPost, "/hello/", nil)))
		assert.Equal(t, http.StatusUnauthorized, w.Code, "WithUserCheck: the access cookie is dead at once")
		resp := refresh(a, j)
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		assert.Equal(t, cleared, resp.Header.Values("Set-Cookie"))
	})
}

// TestCookieRefreshBodyErrorsSetNothing: a refresh the endpoint refuses
// before reading a token (wrong method, media type, size) sets and clears
// no cookie.
func TestCookieRefreshBodyErrorsSetNothing(t *testing.T) {
	a, _ := cookieAuth(t, CookieOptions{})
	j, _ := cookieLogin(t, a)
	for _, tt := range []struct {
		name, method, contentType, body string
		status                          int
	}{
		{"GET", http.MethodGet, "", "", http.StatusMethodNotAllowed},
		{"text/plain", http.MethodPost, "text/plain", "x", http.StatusUnsupportedMediaType},
		{"over 64 KiB", http.MethodPost, "application/json", `{"refresh":"` + strings.Repeat("a", 70<<10) + `"}`, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := j.withCSRF(j.request(tt.method, "/api/token/refresh/", strings.NewReader(tt.body)))
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			w := serve(a.RefreshHandler(), r)
			assert.Equal(t, tt.status, w.Code, w.Body.String())
			assert.Empty(t, w.Header().Values("Set-Cookie"))
		})
	}
}

// TestCookieClearingMatchesSetting: the cookies logout clears have the
// name, Path and Domain of the cookies obtain set (a browser deletes only a
// cookie matching all three), with every other option combination.
func TestCookieClearingMatchesSetting(t *testing.T) {
	lifetime := regexp.MustCompile(`; Expires=[^;]+; Max-Age=\d+`)
	for name, o := range map[string]CookieOptions{
		"insecure":                 {Insecure: true},
		"strict, refresh path /":   {SameSite: http.SameSiteStrictMode, RefreshPath: "/"},
		"domain and SameSite=None": {Domain: "example.com", SameSite: http.SameSiteNoneMode, RefreshPath: "/auth/"},
		"own names and path":       {AccessName: "at", RefreshName: "__Secure-rt", CSRFName: "csrftoken", Path: "/app/"},
	} {
		t.Run(name, func(t *testing.T) {
			a, _ := cookieAuth(t, o)
			j, w := cookieLogin(t, a)
			set := setCookies(t, w)
			r := j.request(http.MethodPost, "/", nil)
			csrfName, header := a.CSRFNames()
			r.Header.Set(header, j[csrfName])
			out := serve(a.BlacklistHandler(), r)
			require.Equal(t, http.StatusOK, out.Code, out.Body.String())
			clear := setCookies(t, out)
			require.Len(t, clear, len(set))
			for i := range set {
				assert.Equal(t, set[i].name, clear[i].name)
				assert.Empty(t, clear[i].value)
				assert.Equal(t, lifetime.ReplaceAllString(set[i].attrs, "; Expires="+expiresEpoch+"; Max-Age=0"), clear[i].attrs)
			}
		})
	}
}

// Secure cookies set in answer to plain HTTP on a host that is not
// loopback are dropped by browsers: the first such answer logs a warning,
// once per Auth. HTTPS, loopback hosts and the Insecure development
// cookies are not warned about.
func TestCookiePlainHTTPWarning(t *testing.T) {
	obtain := func(a *Auth, target string) {
		t.Helper()
		r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(`{"username":"alice","password":"wonderland"}`))
		r.Header.Set("Content-Type", "application/json")
		w := serve(a.ObtainHandler(), r)
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		require.NotEmpty(t, w.Header().Values("Set-Cookie"))
	}
	const warning = "jwtpair: cookie mode set Secure cookies in answer to plain HTTP"
	for _, tc := range []struct {
		name     string
		insecure bool
		target   string
		warns    bool
	}{
		{"plain HTTP", false, "http://api.example.com/api/token/", true},
		{"plain HTTP by address", false, "http://192.0.2.1:8000/api/token/", true},
		{"HTTPS", false, "https://api.example.com/api/token/", false},
		{"localhost", false, "http://localhost:8000/api/token/", false},
		{"127.0.0.1", false, "http://127.0.0.1:8000/api/token/", false},
		{"::1", false, "http://[::1]:8000/api/token/", false},
		{"::1 without port", false, "http://[::1]/api/token/", false},
		{"Insecure cookies", true, "http://api.example.com/api/token/", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			a, _ := cookieAuth(t, CookieOptions{Insecure: tc.insecure}, WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
			obtain(a, tc.target)
			obtain(a, tc.target)
			if !tc.warns {
				assert.NotContains(t, buf.String(), warning)
				return
			}
			assert.Equal(t, 1, strings.Count(buf.String(), warning), "once per Auth: %s", buf.String())
			assert.Contains(t, buf.String(), "level=WARN")
			u, err := url.Parse(tc.target)
			require.NoError(t, err)
			assert.Contains(t, buf.String(), "host="+u.Host)
			other, _ := cookieAuth(t, CookieOptions{}, WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
			obtain(other, tc.target)
			assert.Equal(t, 2, strings.Count(buf.String(), warning), "another Auth warns on its own")
		})
	}
}
