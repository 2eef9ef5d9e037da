package jwtpair

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
