package jwtpair

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwtpair/jwtpair/internal/jws"
	"github.com/stretchr/testify/require"

	forgepkg "github.com/jwtpair/jwtpair/internal/forge"
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

// issueErr is the error of a Store.Issue whose evicted sessions a test
// does not look at.
func issueErr(_ []string, err error) error { return err }

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
		switch {
		case uid != id:
		case u.inactive[id]:
			return User{}, ErrUserInactive
		default:
			return User{ID: id, Claims: u.claims[id], Stamp: u.stamps[id]}, nil
		}
	}
	return User{}, ErrUserNotFound
}

// newTestAuth returns an Auth over testUsers with a fake clock.
func newTestAuth(t *testing.T, opts ...Option) (*Auth, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	base := []Option{WithHMACKey(testSecret), WithAuthenticator(newTestUsers()), WithClock(clk.Now), WithLogger(quietLogger)}
	a, err := New(append(base, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })
	return a, clk
}

// allocsPerRun is testing.AllocsPerRun with the noise of goroutines that
// allocate meanwhile (the revocation feed followers of this package's
// Auths) taken out: it counts the process's allocations, so it keeps the
// fewest of several trials.
func allocsPerRun(runs int, f func()) float64 {
	least := testing.AllocsPerRun(runs, f)
	for range 4 {
		least = min(least, testing.AllocsPerRun(runs, f))
	}
	return least
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

// Test keys, generated once per test binary.
var (
	keysOnce                  sync.Once
	rsaKey, rsaKey2           *rsa.PrivateKey
	ecKey, ecKey2, attackerEC *ecdsa.PrivateKey
	edKey, edKey2             ed25519.PrivateKey
	weakRSA                   *rsa.PrivateKey
	ec384Key                  *ecdsa.PrivateKey
)

func testKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		must := func(e error) {
			if e != nil {
				panic(e)
			}
		}
		rsaKey, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		rsaKey2, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		weakRSA, err = rsa.GenerateKey(rand.Reader, 1024)
		must(err)
		ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		ecKey2, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		attackerEC, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		ec384Key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		must(err)
		_, edKey, err = ed25519.GenerateKey(rand.Reader)
		must(err)
		_, edKey2, err = ed25519.GenerateKey(rand.Reader)
		must(err)
	})
}

// handSign builds a compact JWS by hand (internal/forge: the standard
// library only): header and payload are raw JSON text, alg picks the
// primitive (independent of the header's alg, so that lies can be told).
func handSign(t testing.TB, alg string, key any, header, payload string) string {
	t.Helper()
	tok, err := forgepkg.Sign(alg, key, header, payload)
	require.NoError(t, err)
	return tok
}

// mode is one signing configuration the hostile tokens are tried against.
type mode struct {
	alg    string
	key    any    // what handSign signs with to forge a *valid* token
	public any    // the public key (nil for HMAC)
	kid    string // the kid our tokens carry ("" for HMAC)
	opts   []Option
	// lies are header algs a token signed with key (by the configured
	// algorithm's primitive) may claim: a verifier that does not pin the
	// algorithm accepts them, as the kid (or the only key) picks the key.
	lies []string
}

func modes(t *testing.T) []mode {
	testKeys(t)
	kidOf := func(pub any) string {
		kid, err := jws.Thumbprint(pub)
		require.NoError(t, err)
		return kid
	}
	return []mode{
		{alg: "HS256", key: testSecret, opts: []Option{WithHMACKey(testSecret)}, lies: []string{"HS512", "hs256"}},
		{alg: "RS256", key: rsaKey, public: &rsaKey.PublicKey, kid: kidOf(&rsaKey.PublicKey), opts: []Option{WithSigningKey(rsaKey, "RS256")}, lies: []string{"RS512", "PS256"}},
		{alg: "ES256", key: ecKey, public: &ecKey.PublicKey, kid: kidOf(&ecKey.PublicKey), opts: []Option{WithSigningKey(ecKey, "ES256")}, lies: []string{"ES384", "es256"}},
		{alg: "EdDSA", key: edKey, public: edKey.Public(), kid: kidOf(edKey.Public()), opts: []Option{WithSigningKey(edKey, "EdDSA")}, lies: []string{"Ed25519", "EdDSA "}},
	}
}

func (m mode) header(extra string) string { return m.headerAlg(m.alg, extra) }

// headerAlg is our header (with our kid) claiming alg.
func (m mode) headerAlg(alg, extra string) string {
	h := `{"alg":"` + alg + `"`
	if m.kid != "" {
		h += `,"kid":"` + m.kid + `"`
	}
	return h + `,"typ":"JWT"` + extra + `}`
}

func (m mode) newAuth(t *testing.T, extra ...Option) (*Auth, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	opts := append([]Option{WithAuthenticator(newTestUsers()), WithClock(clk.Now), WithLogger(quietLogger)}, m.opts...)
	a, err := New(append(opts, extra...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })
	return a, clk
}

// fuzzAuth is an Auth with a fixed clock, so a valid seed token stays valid.
func fuzzAuth(f *testing.F) (*Auth, Pair) {
	f.Helper()
	clk := newFakeClock()
	// No throttling: the clock never moves, so after a few hundred inputs
	// every login and refresh would be a 429 and the bodies would go
	// unread (TestThrottle* cover the throttles).
	a, err := New(WithHMACKey(testSecret), WithAuthenticator(newTestUsers()), WithClock(clk.Now), WithLogger(quietLogger), WithThrottle(Throttle{}))
	if err != nil {
		f.Fatal(err)
	}
	p, err := a.IssuePair(context.Background(), User{ID: "1", Claims: map[string]any{"n": []any{1, "é"}}})
	if err != nil {
		f.Fatal(err)
	}
	return a, p
}
