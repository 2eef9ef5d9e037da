package demo

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair/example/internal/demotest"
)

// get sends a request without a body and returns the response and its body.
var get = demotest.Get

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
		s := newTestServer(t, nil, "-cookies", "-addr", addr)
		assert.True(t, slices.ContainsFunc(s.warnings, func(w string) bool { return strings.Contains(w, want) }), "%s: %q", addr, s.warnings)
		require.NoError(t, s.Close())
	}
}
