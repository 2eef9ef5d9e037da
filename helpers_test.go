package jwtpair

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testSecret is the HMAC key of the test Auths (and of the hand-built
// simplejwt tokens).
var testSecret = []byte("0123456789abcdef0123456789abcdef-test-secret")

// longSecret is long enough for HS512 (64 bytes).
var longSecret = []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")

// quietLogger keeps expected 503 logs out of test output.
var quietLogger = slog.New(slog.DiscardHandler)

// logRecorder is a logger whose output a test can read.
type logRecorder struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *logRecorder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logRecorder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// recordLogs returns a logger for WithLogger and what it wrote.
func recordLogs() (*slog.Logger, *logRecorder) {
	l := &logRecorder{}
	return slog.New(slog.NewTextHandler(l, nil)), l
}

// fakeClock is a settable clock for WithClock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_800_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testUsers is an Authenticator and UserLoader over a fixed map.
type testUsers struct {
	mu       sync.Mutex
	password map[string]string // username → password
	ids      map[string]string // username → id
	inactive map[string]bool   // id → inactive
	claims   map[string]map[string]any
	stamps   map[string]string // id → stamp
	fail     error             // returned by LoadUser when set
}

func newTestUsers() *testUsers {
	return &testUsers{
		password: map[string]string{"alice": "wonderland", "bob": "builder"},
		ids:      map[string]string{"alice": "1", "bob": "2"},
		inactive: map[string]bool{},
		claims:   map[string]map[string]any{},
		stamps:   map[string]string{},
	}
}

func (u *testUsers) Authenticate(_ context.Context, name, password string) (User, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	want, ok := u.password[name]
	if !ok || want != password || u.inactive[u.ids[name]] {
		return User{}, ErrInvalidCredentials
	}
	id := u.ids[name]
	return User{ID: id, Claims: u.claims[id], Stamp: u.stamps[id]}, nil
}

// loaderUsers adds UserLoader to testUsers.
type loaderUsers struct{ *testUsers }

func (u loaderUsers) LoadUser(_ context.Context, id string) (User, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.fail != nil {
		return User{}, u.fail
	}
	for _, uid := range u.ids {
		if uid == id && !u.inactive[id] {
			return User{ID: id, Claims: u.claims[id], Stamp: u.stamps[id]}, nil
		}
	}
	return User{}, ErrUserInactive
}

// newTestAuth returns an Auth over testUsers with a fake clock.
func newTestAuth(t *testing.T, opts ...Option) (*Auth, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	base := []Option{WithHMACKey(testSecret), WithAuthenticator(newTestUsers()), WithClock(clk.Now), WithLogger(quietLogger)}
	a, err := New(append(base, opts...)...)
	require.NoError(t, err)
	return a, clk
}

// handTokenHS256 builds a compact HS256 JWS by hand from raw header and
// payload JSON text (internal/forge: nothing of the package under test).
func handTokenHS256(t *testing.T, key []byte, header, payload string) string {
	t.Helper()
	return handSign(t, "HS256", key, header, payload)
}

// claimsJSON marshals a claim map for handTokenHS256.
func claimsJSON(t *testing.T, c map[string]any) string {
	t.Helper()
	b, err := json.Marshal(c)
	require.NoError(t, err)
	return string(b)
}

// simplejwtHeader is the header PyJWT writes for simplejwt.
const simplejwtHeader = `{"alg":"HS256","typ":"JWT"}`

// accessClaims returns simplejwt's access claim set, valid at clk's time.
func accessClaims(clk *fakeClock) map[string]any {
	now := clk.Now().Unix()
	return map[string]any{
		"token_type": "access",
		"exp":        now + 300,
		"iat":        now,
		"jti":        "7f5997b7150d46579dc2b49167097e7b",
		"user_id":    1,
	}
}

// postJSON serves a JSON POST to h and returns the recorder.
func postJSON(t *testing.T, h http.Handler, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// postForm serves a urlencoded POST to h.
func postForm(t *testing.T, h http.Handler, v url.Values) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(v.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// decodeBody decodes a JSON response body into a generic map.
func decodeBody(t *testing.T, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &m), "body: %s", w.Body.String())
	return m
}

// login obtains a pair for alice through the handler.
func login(t *testing.T, a *Auth) Pair {
	t.Helper()
	w := postJSON(t, a.ObtainHandler(), `{"username":"alice","password":"wonderland"}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var p Pair
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p))
	require.NotEmpty(t, p.Access)
	require.NotEmpty(t, p.Refresh)
	return p
}

// set changes the users under their lock.
func (u *testUsers) set(f func(u *testUsers)) {
	u.mu.Lock()
	defer u.mu.Unlock()
	f(u)
}
