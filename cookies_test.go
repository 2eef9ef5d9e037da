package jwtpair

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	r.Header.Set(DefaultCSRFHeader, j[csrfCookie])
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
			`{"refresh":`:      `{"detail":"Malformed request body.","code":"parse_error"}`,
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
		assert.Equal(t, "POST", w.Header().Get("Allow"))
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
		st := &switchStore{Store: NewMemoryStore()}
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
		name, contentType, body, code, want string
		status                              int
	}{
		{"refresh not a string", "application/json", `{"refresh":true}`, "", `{"refresh":["Not a valid string."]}`, http.StatusBadRequest},
		{"malformed JSON", "application/json", `{"refresh":`, "parse_error", "", http.StatusBadRequest},
		{"text/plain", "text/plain", "x", "unsupported_media_type", "", http.StatusUnsupportedMediaType},
		{"over 64 KiB", "application/json", `{"refresh":"` + strings.Repeat("a", 70<<10) + `"}`, "request_too_large", "", http.StatusRequestEntityTooLarge},
	} {
		t.Run(tt.name+": cleared", func(t *testing.T) {
			a, _ := cookieAuth(t, CookieOptions{})
			j, _ := cookieLogin(t, a)
			r := j.withCSRF(j.request(http.MethodPost, "/", strings.NewReader(tt.body)))
			r.Header.Set("Content-Type", tt.contentType)
			w := serve(a.BlacklistHandler(), r)
			assert.Equal(t, tt.status, w.Code, w.Body.String())
			if tt.want != "" {
				assert.JSONEq(t, tt.want, w.Body.String())
			} else {
				assert.Equal(t, tt.code, decodeBody(t, w)["code"])
			}
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
		st := &switchStore{Store: NewMemoryStore()}
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
	bob := func() Pair {
		w := postJSON(t, a.ObtainHandler(), `{"username":"bob","password":"builder"}`)
		require.Equal(t, http.StatusOK, w.Code)
		var p Pair
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p))
		return p
	}()
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
			"oversized":     {strings.Repeat("a", DefaultMaxTokenBytes+1), bodyInvalid},
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
