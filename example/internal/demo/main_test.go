package demo

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair/example/internal/demotest"
)

const testSecret = demotest.Secret

// discard is a logger that writes nothing.
var discard = slog.New(slog.DiscardHandler)

var env = demotest.Env

// newTestServer builds the example for args (with testSecret unless
// -key is given; b opens the shared stores, nil for none) without serving
// it. The caller closes it.
func newTestServer(t *testing.T, b Backends, args ...string) *server {
	t.Helper()
	vars := map[string]string{"JWTPAIR_SECRET": testSecret}
	if slices.Contains(args, "-key") {
		vars = nil // asymmetric: the key signs, there is no secret
	}
	cfg, err := parseConfig(args, env(vars), io.Discard, b)
	require.NoError(t, err)
	s, err := newServer(t.Context(), cfg, discard, discard)
	require.NoError(t, err)
	return s
}

// startServer builds the example for args and serves it with httptest.
func startServer(t *testing.T, args ...string) *httptest.Server {
	t.Helper()
	s := newTestServer(t, nil, args...)
	srv := httptest.NewServer(s.handler)
	t.Cleanup(func() { srv.Close(); s.Close() })
	return srv
}

// call sends a request to srv and decodes the JSON answer.
func call(t *testing.T, srv *httptest.Server, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	return demotest.Call(t, srv.Client(), method, srv.URL+path, token, body)
}

func obtain(t *testing.T, srv *httptest.Server) (access, refresh string) {
	t.Helper()
	return demotest.Obtain(t, srv.Client(), srv.URL)
}

// TestSeedFlow: obtain → /hello/ → refresh → reuse refused → blacklist.
func TestSeedFlow(t *testing.T) {
	srv := startServer(t, "-user", "admin:admin", "-user", "bob:secret")
	access, refresh := obtain(t, srv)

	for _, method := range []string{"GET", "POST"} {
		status, m := call(t, srv, method, "/hello/", access, "")
		require.Equal(t, http.StatusOK, status)
		assert.Equal(t, map[string]any{"message": "Hello, World!", "user_id": "1"}, m)
	}
	status, _ := call(t, srv, "DELETE", "/hello/", access, "")
	assert.Equal(t, http.StatusMethodNotAllowed, status)

	status, m := call(t, srv, "POST", "/api/token/refresh/", "", `{"refresh":"`+refresh+`"}`)
	require.Equal(t, http.StatusOK, status)
	next := m["refresh"].(string)

	status, m = call(t, srv, "POST", "/api/token/verify/", "", `{"token":"`+m["access"].(string)+`"}`)
	assert.Equal(t, http.StatusOK, status)
	assert.Empty(t, m)

	status, m = call(t, srv, "POST", "/api/token/blacklist/", "", `{"refresh":"`+next+`"}`)
	require.Equal(t, http.StatusOK, status, m)
	status, m = call(t, srv, "POST", "/api/token/refresh/", "", `{"refresh":"`+next+`"}`)
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, "Token is blacklisted", m["detail"])
	status, m = call(t, srv, "POST", "/api/token/refresh/", "", `{"refresh":"`+refresh+`"}`)
	assert.Equal(t, http.StatusUnauthorized, status, "reuse of the first refresh token")

	status, m = call(t, srv, "POST", "/api/token/", "", `{"username":"bob","password":"secret"}`)
	require.Equal(t, http.StatusOK, status)
	status, m = call(t, srv, "GET", "/hello/", m["access"].(string), "")
	assert.Equal(t, "2", m["user_id"], "ids follow flag order")

	status, m = call(t, srv, "GET", "/.well-known/jwks.json", "", "")
	assert.Equal(t, http.StatusNotFound, status, "nothing public with an HMAC secret")
}

// TestDjangoView: /hello/ and the routes answer as the tutorials' Django
// project does (compat's TestSimplejwtParity compares them with it): exact
// paths, Allow on every answer of /hello/ (401s included), HEAD and
// OPTIONS, DRF's 405; with -user-check, simplejwt's answers for a removed
// or inactive user.
func TestDjangoView(t *testing.T) {
	srv := startServer(t, "-user", "admin:admin", "-inactive-user", "idle:idle", "-user-check")
	status, m := call(t, srv, "POST", "/api/token/", "", `{"username":"admin","password":"admin"}`)
	require.Equal(t, http.StatusOK, status)
	access := m["access"].(string)
	assert.NotContains(t, string(mustDecodePayload(t, access)), "username", "simplejwt's claims only")

	noRedirect := &http.Client{Transport: srv.Client().Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	send := func(method, path, token string) *http.Response {
		req, err := http.NewRequest(method, srv.URL+path, nil)
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := noRedirect.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	for _, tc := range []struct {
		method, token string
		status        int
	}{{"GET", "", 401}, {"GET", access, 200}, {"HEAD", access, 200}, {"OPTIONS", access, 200}, {"PUT", access, 405}, {"OPTIONS", "", 401}} {
		resp := send(tc.method, "/hello/", tc.token)
		assert.Equal(t, tc.status, resp.StatusCode, "%s /hello/", tc.method)
		assert.Equal(t, "GET, POST, HEAD, OPTIONS", resp.Header.Get("Allow"), "%s /hello/", tc.method)
	}
	status, m = call(t, srv, "PUT", "/hello/", access, "")
	assert.Equal(t, map[string]any{"detail": `Method "PUT" not allowed.`}, m)
	status, m = call(t, srv, "OPTIONS", "/hello/", access, "")
	assert.Equal(t, "Hello", m["name"])

	// Exact paths.
	assert.Equal(t, http.StatusNotFound, send("POST", "/api/token/anything/", "").StatusCode)
	assert.Equal(t, http.StatusNotFound, send("GET", "/hello/x/", access).StatusCode)
	resp := send("POST", "/api/token", "")
	assert.Equal(t, http.StatusTemporaryRedirect, resp.StatusCode, "the route's path with its slash; 307 keeps the POST")
	assert.Equal(t, "/api/token/", resp.Header.Get("Location"))

	// The inactive user (id 2) cannot log in; its tokens (forged here) are
	// refused as simplejwt refuses them; so are a removed user's (id 9).
	status, m = call(t, srv, "POST", "/api/token/", "", `{"username":"idle","password":"idle"}`)
	assert.Equal(t, http.StatusUnauthorized, status)
	now := time.Now().Unix()
	token := func(typ, id string) string {
		return forge(t, "HS256", []byte(testSecret), `{"alg":"HS256","typ":"JWT"}`,
			`{"token_type":"`+typ+`","exp":`+itoa(now+300)+`,"iat":`+itoa(now)+`,"jti":"0123456789abcdef0123456789abcdef","user_id":"`+id+`"}`)
	}
	status, m = call(t, srv, "GET", "/hello/", token("access", "2"), "")
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, map[string]any{"detail": "User is inactive", "code": "user_inactive"}, m)
	status, m = call(t, srv, "GET", "/hello/", token("access", "9"), "")
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, map[string]any{"detail": "User not found", "code": "user_not_found"}, m)
}

func mustDecodePayload(t *testing.T, tok string) []byte {
	t.Helper()
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	return b
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestParseConfigUsers(t *testing.T) {
	cfg, err := parseConfig([]string{"-user", "a:a", "-inactive-user", "b:b", "-user", "c:c"}, env(nil), io.Discard, nil)
	require.NoError(t, err)
	assert.Equal(t, []demoUser{{id: "1", name: "a", password: "a"}, {id: "2", name: "b", password: "b", inactive: true}, {id: "3", name: "c", password: "c"}}, cfg.users)
	cfg, err = parseConfig([]string{"-inactive-user", "b:b"}, env(nil), io.Discard, nil)
	require.NoError(t, err)
	assert.Equal(t, []demoUser{{id: "1", name: "admin", password: "admin"}, {id: "2", name: "b", password: "b", inactive: true}}, cfg.users, "admin:admin unless a -user is given")
	_, err = parseConfig([]string{"-user", "a:a", "-inactive-user", "a:b"}, env(nil), io.Discard, nil)
	assert.ErrorContains(t, err, "twice")
}

// TestSessions: with -sessions the signed-in user lists their sessions (the
// current one marked) and ends them; -max-session-age is each session's
// absolute expiry. Without -sessions the routes do not exist.
func TestSessions(t *testing.T) {
	srv := startServer(t, "-sessions", "-max-session-age", "1h")
	first, _ := obtain(t, srv)
	second, _ := obtain(t, srv)

	req, err := http.NewRequest("GET", srv.URL+"/api/sessions/", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+second)
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	var list []map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&list))
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Len(t, list, 2)
	assert.Equal(t, true, list[0]["current"], "newest first: the caller's")
	assert.NotNil(t, list[0]["absolute_expiry"], "-max-session-age")

	status, _ := call(t, srv, "DELETE", "/api/sessions/"+list[1]["id"].(string)+"/", second, "")
	require.Equal(t, http.StatusNoContent, status)
	require.Eventually(t, func() bool {
		status, _ := call(t, srv, "GET", "/hello/", first, "")
		return status == http.StatusUnauthorized
	}, 3*time.Second, 10*time.Millisecond, "the ended session's access token is refused")
	status, m := call(t, srv, "POST", "/api/sessions/end-others/", second, "")
	assert.Equal(t, http.StatusOK, status)
	assert.Empty(t, m)
	status, _ = call(t, srv, "GET", "/hello/", second, "")
	assert.Equal(t, http.StatusOK, status, "the current session lives on")

	plain := startServer(t)
	access, _ := obtain(t, plain)
	status, _ = call(t, plain, "GET", "/api/sessions/", access, "")
	assert.Equal(t, http.StatusNotFound, status, "no session endpoints without -sessions")
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a
// logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestAuditLog: the example logs every audit event as one JSON line, at
// the level its kind calls for, with no token or password in it.
func TestAuditLog(t *testing.T) {
	var out syncBuffer
	cfg, err := parseConfig([]string{"-user", "alice:wonderland", "-sessions", "-max-sessions", "1"}, env(map[string]string{"JWTPAIR_SECRET": testSecret}), io.Discard, nil)
	require.NoError(t, err)
	s, err := newServer(t.Context(), cfg, discard, slog.New(slog.NewJSONHandler(&out, nil)))
	require.NoError(t, err)
	srv := httptest.NewServer(s.handler)
	t.Cleanup(func() { srv.Close(); s.Close() })

	login := func() (access, refresh string) {
		status, m := call(t, srv, "POST", "/api/token/", "", `{"username":"alice","password":"wonderland"}`)
		require.Equal(t, http.StatusOK, status, m)
		return m["access"].(string), m["refresh"].(string)
	}
	status, _ := call(t, srv, "POST", "/api/token/", "", `{"username":"alice","password":"not-the-password"}`)
	require.Equal(t, http.StatusUnauthorized, status)
	access, refresh := login()
	status, m := call(t, srv, "POST", "/api/token/refresh/", "", `{"refresh":"`+refresh+`"}`)
	require.Equal(t, http.StatusOK, status)
	next := m["refresh"].(string)
	status, _ = call(t, srv, "POST", "/api/token/refresh/", "", `{"refresh":"`+refresh+`"}`)
	require.Equal(t, http.StatusUnauthorized, status, "reuse")
	second, secondRefresh := login() // the reuse ended the first session: nothing for the cap to end
	third, _ := login()              // the cap of 1 ends the second session
	status, _ = call(t, srv, "POST", "/api/sessions/end-others/", third, "")
	require.Equal(t, http.StatusOK, status)

	type line struct {
		Level string
		Msg   string
		Event map[string]string
	}
	var lines []line
	for _, text := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var l line
		require.NoError(t, json.Unmarshal([]byte(text), &l), "one JSON object per line: %s", text)
		assert.Equal(t, "audit", l.Msg)
		assert.Equal(t, "127.0.0.1", l.Event["client_ip"], text)
		lines = append(lines, l)
		for _, secret := range []string{"not-the-password", "wonderland", access, refresh, next, second, secondRefresh, third, testSecret} {
			assert.NotContains(t, text, secret)
		}
	}
	var got []string
	for _, l := range lines {
		got = append(got, l.Level+" "+l.Event["kind"]+" "+l.Event["reason"])
	}
	assert.Equal(t, []string{
		"INFO login_failed ",
		"INFO login_succeeded ",
		"INFO refreshed ",
		"WARN reuse_detected ",
		"INFO login_succeeded ",
		"INFO login_succeeded ",
		"INFO session_ended session_cap",
		"INFO session_ended user_ended_others",
	}, got)
	assert.Equal(t, "alice", lines[0].Event["username"], "a failed login names the username tried")
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"bad user", []string{"-user", "admin"}, nil, "name:password"},
		{"empty password", []string{"-user", "admin:"}, nil, "name:password"},
		{"duplicate user", []string{"-user", "a:b", "-user", "a:c"}, nil, "twice"},
		{"short secret", nil, map[string]string{"JWTPAIR_SECRET": "short"}, "at least 32"},
		{"unknown alg", []string{"-alg", "HS1"}, nil, "-alg"},
		{"key with HS256", []string{"-key", "k.pem"}, nil, "-key is for asymmetric"},
		{"secret with EdDSA", []string{"-alg", "EdDSA"}, map[string]string{"JWTPAIR_SECRET": testSecret}, "JWTPAIR_SECRET is for HS*"},
		{"stray argument", []string{"serve"}, nil, "unexpected"},
		{"bad duration", []string{"-access-ttl", "soon"}, nil, "invalid value"},
		{"unknown store", []string{"-store", "mongodb://x"}, nil, "want memory, redis://"},
		{"sqlite without path", []string{"-store", "sqlite:"}, nil, "want memory, redis://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig(tc.args, env(tc.env), io.Discard, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	t.Run("bad values reach New", func(t *testing.T) {
		for flag, want := range map[string][]string{
			"access TTL must be positive":                    {"-access-ttl", "0s"},
			"max session age must be a positive whole":       {"-max-session-age", "-1h"},
			"max session age (1m0s) shorter than the access": {"-max-session-age", "1m"},
		} {
			cfg, err := parseConfig(want, env(nil), io.Discard, nil)
			require.NoError(t, err)
			_, err = newServer(t.Context(), cfg, discard, discard)
			assert.ErrorContains(t, err, flag)
		}
	})
}

// TestEveryAlgorithm: each -alg the example offers (its own list, see
// algorithms) makes a server that issues tokens its middleware accepts.
func TestEveryAlgorithm(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(alg, func(t *testing.T) {
			var vars map[string]string
			if strings.HasPrefix(alg, "HS") {
				vars = map[string]string{"JWTPAIR_SECRET": testSecret + strings.Repeat("x", 32)} // HS512 wants 64 bytes
			}
			cfg, err := parseConfig([]string{"-alg", alg}, env(vars), io.Discard, nil)
			require.NoError(t, err)
			s, err := newServer(t.Context(), cfg, discard, discard)
			require.NoError(t, err)
			srv := httptest.NewServer(s.handler)
			t.Cleanup(func() { srv.Close(); s.Close() })
			access, _ := obtain(t, srv)
			status, m := call(t, srv, "GET", "/hello/", access, "")
			assert.Equal(t, http.StatusOK, status, m)
		})
	}
}

// TestOpenHello: -open-hello also serves the /hello/ handler without the
// middleware at GET /open/hello/ (bench/run.sh measures the middleware
// against it), with a startup warning; without the flag there is no such
// route.
func TestOpenHello(t *testing.T) {
	srv := startServer(t, "-open-hello")
	status, m := call(t, srv, "GET", "/open/hello/", "", "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, map[string]any{"message": "Hello, World!", "user_id": ""}, m, "no user")
	access, _ := obtain(t, srv)
	_, m = call(t, srv, "GET", "/open/hello/", access, "")
	assert.Equal(t, "", m["user_id"], "the token is not read")
	status, _ = call(t, srv, "POST", "/open/hello/", "", "")
	assert.Equal(t, http.StatusMethodNotAllowed, status, "GET only")
	// Only the middleware differs from /hello/: the answer's headers are
	// the same, Allow included.
	headers := func(path, token string) http.Header {
		req, err := http.NewRequest("GET", srv.URL+path, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		h := resp.Header.Clone()
		h.Del("Date")
		h.Del("Content-Length") // user_id "" and the token's
		return h
	}
	assert.Equal(t, headers("/hello/", access), headers("/open/hello/", access))
	assert.Equal(t, "GET, POST, HEAD, OPTIONS", headers("/open/hello/", access).Get("Allow"))
	status, _ = call(t, srv, "GET", "/hello/", "", "")
	assert.Equal(t, http.StatusUnauthorized, status, "/hello/ still wants a token")

	status, _ = call(t, startServer(t), "GET", "/open/hello/", "", "")
	assert.Equal(t, http.StatusNotFound, status, "off by default")

	s := newTestServer(t, nil, "-open-hello")
	defer s.Close()
	assert.True(t, slices.ContainsFunc(s.warnings, func(w string) bool { return strings.Contains(w, "for benchmarks") }), s.warnings)
}

func TestHelpAndUsageErrors(t *testing.T) {
	var stderr bytes.Buffer
	err := Run(t.Context(), nil, []string{"-h"}, env(nil), io.Discard, &stderr)
	assert.ErrorIs(t, err, flag.ErrHelp, "-h exits 0")
	assert.Contains(t, stderr.String(), "-store")
	assert.Contains(t, stderr.String(), "are in go run ./example/backends", "-h says where the shared stores are")

	err = Run(t.Context(), nil, []string{"-user", "nocolon"}, env(nil), io.Discard, io.Discard)
	assert.ErrorAs(t, err, new(usageError), "bad flags exit 2")
	err = Run(t.Context(), nil, []string{"-store", "mongodb://x"}, env(nil), io.Discard, io.Discard)
	assert.ErrorAs(t, err, new(usageError), "an unknown -store scheme exits 2")
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"memory":                                     "memory",
		"sqlite:/tmp/auth.db":                        "sqlite:/tmp/auth.db",
		"redis://:hunter2@127.0.0.1:6379/0":          "redis://:xxxxx@127.0.0.1:6379/0",
		"postgres://app:hunter2@db/auth":             "postgres://app:xxxxx@db/auth",
		"postgres://db/auth?password=hunter2&x=1":    "postgres://db/auth?password=xxxxx&x=1",
		"postgres://app@db/auth?sslmode=verify-full": "postgres://app@db/auth?sslmode=verify-full",
	} {
		assert.Equal(t, want, Redact(in))
		assert.NotContains(t, Redact(in), "hunter2")
	}
}

// TestRunServesAndStops runs the real main loop: it prints the address,
// serves, and returns nil when its context ends (as on SIGTERM).
func TestRunServesAndStops(t *testing.T) {
	url, stop := startRun(t, "-addr", "127.0.0.1:0")
	require.True(t, strings.HasPrefix(url, "http://127.0.0.1:"), url)
	resp, err := http.Post(url+"/api/token/", "application/json", strings.NewReader(`{"username":"admin","password":"admin"}`))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	stop()
}

// startRun runs the main loop with args (and testSecret) until stop is
// called, and returns the URL it prints. stop checks that run returned
// nil, as on SIGTERM.
func startRun(t *testing.T, args ...string) (url string, stop func()) {
	t.Helper()
	_, url, stop = runPrinting(t, args...)
	return url, stop
}

// runPrinting is startRun returning also what run printed up to and
// including its "listening on" line.
func runPrinting(t *testing.T, args ...string) (out, url string, stop func()) {
	t.Helper()
	return demotest.Start(t, func(ctx context.Context, stdout io.Writer) error {
		return Run(ctx, nil, args, env(map[string]string{"JWTPAIR_SECRET": testSecret}), stdout, io.Discard)
	})
}

// TestThrottleFlag: the example throttles logins by default (the library's
// DefaultThrottle: 20 logins from one address at once), and -throttle=false,
// for load and differential tests, turns that off, with a warning.
func TestThrottleFlag(t *testing.T) {
	statuses := func(srv *httptest.Server, n int) map[int]int {
		got := map[int]int{}
		for range n {
			status, _ := call(t, srv, "POST", "/api/token/", "", `{"username":"admin","password":"wrong"}`)
			got[status]++
		}
		return got
	}
	got := statuses(startServer(t), 25)
	assert.Positive(t, got[http.StatusTooManyRequests], "throttled by default: %v", got)

	got = statuses(startServer(t, "-throttle=false"), 25)
	assert.Equal(t, map[int]int{http.StatusUnauthorized: 25}, got, "-throttle=false")

	s := newTestServer(t, nil, "-throttle=false")
	defer s.Close()
	assert.True(t, slices.ContainsFunc(s.warnings, func(w string) bool { return strings.Contains(w, "never for a deployment") }), s.warnings)
}

// TestMaxSessionsFlag: -max-sessions caps a user's live sessions; a login
// past it ends the oldest, whose access token is then refused.
func TestMaxSessionsFlag(t *testing.T) {
	srv := startServer(t, "-max-sessions", "2")
	first, _ := obtain(t, srv)
	obtain(t, srv)
	status, _ := call(t, srv, "GET", "/hello/", first, "")
	require.Equal(t, http.StatusOK, status, "two sessions: both live")
	obtain(t, srv)
	require.Eventually(t, func() bool {
		status, _ := call(t, srv, "GET", "/hello/", first, "")
		return status == http.StatusUnauthorized
	}, 3*time.Second, 10*time.Millisecond, "the third login ends the first session")
}

// TestSlidingFlag: with -sliding the example serves simplejwt's sliding
// views and its own sliding logout; /sliding/hello/ takes sliding and
// access tokens, /hello/ access tokens only. Without -sliding the routes
// do not exist.
func TestSlidingFlag(t *testing.T) {
	srv := startServer(t, "-sliding")
	status, m := call(t, srv, "POST", "/api/token/sliding/", "", `{"username":"admin","password":"admin"}`)
	require.Equal(t, http.StatusOK, status, m)
	tok := m["token"].(string)
	access, _ := obtain(t, srv)

	status, m = call(t, srv, "GET", "/sliding/hello/", tok, "")
	assert.Equal(t, http.StatusOK, status, m)
	assert.Equal(t, "1", m["user_id"])
	status, _ = call(t, srv, "GET", "/sliding/hello/", access, "")
	assert.Equal(t, http.StatusOK, status)
	status, m = call(t, srv, "GET", "/hello/", tok, "")
	assert.Equal(t, http.StatusUnauthorized, status, "/hello/ takes access tokens only")
	assert.Equal(t, "Given token not valid for any token type", m["detail"])
	status, _ = call(t, srv, "GET", "/hello/", access, "")
	assert.Equal(t, http.StatusOK, status)

	status, m = call(t, srv, "POST", "/api/token/sliding/refresh/", "", `{"token":"`+tok+`"}`)
	require.Equal(t, http.StatusOK, status, m)
	refreshed := m["token"].(string)
	status, m = call(t, srv, "POST", "/api/token/sliding/blacklist/", "", `{"token":"`+refreshed+`"}`)
	require.Equal(t, http.StatusOK, status, m)
	status, m = call(t, srv, "POST", "/api/token/sliding/refresh/", "", `{"token":"`+tok+`"}`)
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, "Token is blacklisted", m["detail"], "the logout ended the session of both")
	require.Eventually(t, func() bool {
		status, _ := call(t, srv, "GET", "/sliding/hello/", tok, "")
		return status == http.StatusUnauthorized
	}, 5*time.Second, 10*time.Millisecond)
	status, _ = call(t, srv, "GET", "/api/token/sliding/x/", "", "")
	assert.Equal(t, http.StatusNotFound, status, "exact paths")

	plain := startServer(t)
	for _, path := range []string{"/api/token/sliding/", "/api/token/sliding/refresh/", "/api/token/sliding/blacklist/", "/sliding/hello/"} {
		status, _ := call(t, plain, "POST", path, "", `{}`)
		assert.Equal(t, http.StatusNotFound, status, "no %s without -sliding", path)
	}
}
