package demo

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// get fetches a path and returns the response and its body.
func get(t *testing.T, client *http.Client, method, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

func TestCookiePage(t *testing.T) {
	// The test server listens on 127.0.0.1, but the -addr default is
	// loopback too: Insecure cookies, names without prefixes.
	srv := startServer(t, "-cookies")

	resp, body := get(t, srv.Client(), http.MethodGet, srv.URL+"/")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "script-src 'self'")
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	assert.Contains(t, body, `data-csrf-cookie="jwtpair-csrf"`)
	assert.Contains(t, body, `data-csrf-header="X-CSRF-Token"`)
	for _, id := range []string{"login", "get-hello", "post-hello", "logout", "state", "user", "hello-status", "refreshes", "recoveries"} {
		assert.Contains(t, body, `id="`+id+`"`)
	}

	for path, ct := range map[string]string{"/app.js": "text/javascript; charset=utf-8", "/app.css": "text/css; charset=utf-8"} {
		resp, body := get(t, srv.Client(), http.MethodGet, srv.URL+path)
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		assert.Equal(t, ct, resp.Header.Get("Content-Type"), path)
		assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), path)
		assert.NotEmpty(t, strings.TrimSpace(body), path)
	}

	resp, _ = get(t, srv.Client(), http.MethodPost, srv.URL+"/")
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	resp, _ = get(t, srv.Client(), http.MethodGet, srv.URL+"/nope")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)

	// In cookie mode the example keeps tokens out of bodies: the login
	// answers expiries, the tokens travel as cookies.
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/api/token/", strings.NewReader(`{"username":"admin","password":"admin"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err = srv.Client().Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	assert.NotContains(t, string(b), `"access"`)
	assert.Contains(t, string(b), `"access_expires"`)
	names := map[string]bool{}
	for _, c := range resp.Cookies() {
		names[c.Name] = c.HttpOnly
	}
	assert.Equal(t, map[string]bool{"jwtpair-access": true, "jwtpair-refresh": true, "jwtpair-csrf": false}, names)
}

// TestCookiePageSessions: with -sessions the page has its sessions panel
// and tells its script the endpoints are there; without, it says how to
// get them and has no panel (browsertest drives the panel).
func TestCookiePageSessions(t *testing.T) {
	panel := []string{`id="sessions-panel"`, `id="sessions"`, `id="list-sessions"`, `id="end-others"`, `id="sessions-count"`, `id="sessions-status"`}
	srv := startServer(t, "-cookies", "-sessions")
	_, body := get(t, srv.Client(), http.MethodGet, srv.URL+"/")
	assert.Contains(t, body, `data-sessions="on"`)
	for _, id := range panel {
		assert.Contains(t, body, id)
	}
	assert.NotContains(t, body, `id="sessions-off"`)

	srv = startServer(t, "-cookies")
	_, body = get(t, srv.Client(), http.MethodGet, srv.URL+"/")
	assert.Contains(t, body, `data-sessions="off"`)
	assert.Contains(t, body, `id="sessions-off"`)
	for _, id := range panel {
		assert.NotContains(t, body, id)
	}
}

func TestNoPageWithoutCookies(t *testing.T) {
	srv := startServer(t)
	resp, _ := get(t, srv.Client(), http.MethodGet, srv.URL+"/")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// TestCookieModeWarnings: the example says which cookies it sets: not
// Secure only on a loopback address (plain HTTP), Secure elsewhere.
func TestCookieModeWarnings(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:0": "cookies are not Secure (development only)",
		"[::1]:0":     "cookies are not Secure (development only)",
		"0.0.0.0:0":   "browsers keep them only through an HTTPS proxy",
		":8000":       "browsers keep them only through an HTTPS proxy",
	} {
		cfg, err := parseConfig([]string{"-cookies", "-addr", addr}, env(map[string]string{"JWTPAIR_SECRET": testSecret}), io.Discard)
		require.NoError(t, err)
		s, err := newServer(t.Context(), cfg, discard, discard)
		require.NoError(t, err)
		assert.True(t, slices.ContainsFunc(s.warnings, func(w string) bool { return strings.Contains(w, want) }), "%s: %q", addr, s.warnings)
		require.NoError(t, s.Close())
	}
}

// TestCookieModeTwoInstances: two instances sharing -key (and a store)
// accept each other's cookies and CSRF tokens, as two sharing
// JWTPAIR_SECRET do.
func TestCookieModeTwoInstances(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	keyPath := filepath.Join(t.TempDir(), "key.pem")
	require.NoError(t, os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
	store := "sqlite:" + filepath.Join(t.TempDir(), "tokens.db")

	for name, args := range map[string][]string{
		"EdDSA -key": {"-cookies", "-alg", "EdDSA", "-key", keyPath, "-store", store},
		"HS256":      {"-cookies", "-store", store},
	} {
		t.Run(name, func(t *testing.T) {
			one, two := startServer(t, args...), startServer(t, args...)

			req, err := http.NewRequest(http.MethodPost, one.URL+"/api/token/", strings.NewReader(`{"username":"admin","password":"admin"}`))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			resp, err := one.Client().Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			cookies := resp.Cookies()

			// The second instance takes the first one's cookies and CSRF token,
			// for the API and for a refresh from the cookie.
			for _, path := range []string{"/hello/", "/api/token/refresh/"} {
				req, err := http.NewRequest(http.MethodPost, two.URL+path, nil)
				require.NoError(t, err)
				for _, c := range cookies {
					req.AddCookie(c)
					if c.Name == "jwtpair-csrf" {
						req.Header.Set("X-CSRF-Token", c.Value)
					}
				}
				resp, err := two.Client().Do(req)
				require.NoError(t, err)
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				assert.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, b)
			}
		})
	}
}
