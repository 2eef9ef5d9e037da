package openapitest

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
)

// The servers of TestHandlersMatchDocument: one Auth per configuration
// that changes an answer's shape.
type servers struct {
	pairs     *server // header mode, rotation, WithUserCheck
	norotate  *server // WithRotation(false)
	expiries  *server // WithExpiriesInBody
	cookies   *server // cookie mode (and sliding tokens)
	omit      *server // cookie mode with OmitBodyTokens
	sliding   *server // WithSlidingTokens
	throttled *server // tight throttles (and sliding tokens)
	broken    *server // a store that fails (and sliding tokens)
	stale     *server // a revocation feed that fails
	keys      *server // Ed25519 keys: a key set to publish
}

func startServers(t *testing.T) *servers {
	slidingOpt := jwtpair.WithSlidingTokens(jwtpair.DefaultSlidingTTL, jwtpair.DefaultSlidingRefreshTTL)
	s := &servers{}
	var wg sync.WaitGroup
	wg.Go(func() { // New waits up to 2 s for a feed that never answers
		s.stale = newServer(t, false, jwtpair.WithStore(staleStore{jwtpair.NewMemoryStore()}))
	})
	s.pairs = newServer(t, false, jwtpair.WithUserCheck())
	s.norotate = newServer(t, false, jwtpair.WithRotation(false))
	s.expiries = newServer(t, false, jwtpair.WithExpiriesInBody())
	s.cookies = newServer(t, true, jwtpair.WithCookies(jwtpair.CookieOptions{}), slidingOpt)
	s.omit = newServer(t, false, jwtpair.WithCookies(jwtpair.CookieOptions{OmitBodyTokens: true}))
	s.sliding = newServer(t, true, slidingOpt)
	s.throttled = newServer(t, true, slidingOpt, throttleOne())
	s.broken = newServer(t, true, slidingOpt, jwtpair.WithStore(brokenStore{jwtpair.NewMemoryStore()}))
	s.keys = keyServer(t)
	wg.Wait()
	return s
}

// TestHandlersMatchDocument drives the real handlers, over HTTP, through
// every answer the OpenAPI document describes, and validates each request
// and answer against it; then it checks that every documented answer
// (path, method, status) was seen. A change to an answer's shape (a field
// renamed, added or dropped, a type, a header) that the document does not
// make too fails here, and so does a documented answer no code gives.
func TestHandlersMatchDocument(t *testing.T) {
	c := newChecker(defaultSpec(t))
	s := startServers(t)
	parts := []struct {
		name string
		test func(*testing.T, *checker, *servers)
	}{
		{"obtain", testObtain},
		{"refresh", testRefresh},
		{"verify", testVerify},
		{"blacklist", testBlacklist},
		{"cookie mode", testCookieMode},
		{"sliding", testSliding},
		{"throttled", testThrottled},
		{"store down", testStoreDown},
		{"sessions", testSessions},
		{"revocations stale", testStale},
		{"key set", testKeySet},
		{"body errors", testBodyErrors},
	}
	ran := 0
	for _, p := range parts {
		t.Run(p.name, func(t *testing.T) { ran++; p.test(t, c, s) })
	}
	if ran < len(parts) || t.Failed() {
		t.Skip("coverage is checked when every part runs and passes")
	}
	c.requireCovered(t)
}

// login logs user in at srv (the pair's login) and returns the answer.
func login(t *testing.T, c *checker, srv *server, user string) answer {
	t.Helper()
	h, b := jsonBody(t, map[string]string{"username": user, "password": user + "-pw"})
	return c.do(t, exchange{method: "POST", url: srv.url + "/api/token/", header: h, body: b, status: 200, conforming: true})
}

// post sends a JSON body to path at srv.
func post(t *testing.T, c *checker, srv *server, path string, v any, header http.Header, status int) answer {
	t.Helper()
	h, b := jsonBody(t, v)
	return c.do(t, exchange{method: "POST", url: srv.url + path, header: with(h, flatten(header)...), body: b, status: status, conforming: true})
}

func flatten(h http.Header) []string {
	var kv []string
	for k, vs := range h {
		for _, v := range vs {
			kv = append(kv, k, v)
		}
	}
	return kv
}

func testObtain(t *testing.T, c *checker, s *servers) {
	a := login(t, c, s.pairs, "alice")
	assert.ElementsMatch(t, []string{"refresh", "access"}, keys(t, a.body))

	h, b := formBody(map[string]string{"username": "alice", "password": "alice-pw"})
	c.do(t, exchange{method: "POST", url: s.pairs.url + "/api/token/", header: h, body: b, status: 200, conforming: true})
	h, b = multipartBody(t, map[string]string{"username": "alice", "password": "alice-pw"})
	c.do(t, exchange{method: "POST", url: s.pairs.url + "/api/token/", header: h, body: b, status: 200, conforming: true})

	a = login(t, c, s.expiries, "alice")
	assert.ElementsMatch(t, []string{"refresh", "access", "access_expires", "refresh_expires"}, keys(t, a.body))

	for _, creds := range []map[string]string{
		{"username": "alice", "password": "wrong"},
		{"username": "nobody", "password": "alice-pw"},
	} {
		a := post(t, c, s.pairs, "/api/token/", creds, nil, 401)
		assert.Equal(t, `{"detail":"No active account found with the given credentials"}`+"\n", string(a.body))
		assert.Equal(t, `Bearer realm="api"`, a.Header.Get("WWW-Authenticate"))
	}
}

func testRefresh(t *testing.T, c *checker, s *servers) {
	pair := login(t, c, s.pairs, "alice")
	first := field(t, pair.body, "refresh")
	a := post(t, c, s.pairs, "/api/token/refresh/", map[string]string{"refresh": first}, nil, 200)
	assert.ElementsMatch(t, []string{"access", "refresh"}, keys(t, a.body))

	// Reuse of the rotated token, an access token, garbage: token_not_valid.
	for _, tok := range []string{first, field(t, a.body, "access"), "x.y.z"} {
		a := post(t, c, s.pairs, "/api/token/refresh/", map[string]string{"refresh": tok}, nil, 401)
		assert.Equal(t, "token_not_valid", field(t, a.body, "code"))
		assert.Contains(t, a.Header.Get("WWW-Authenticate"), `error="invalid_token"`)
	}
	// A deactivated user: DRF's AuthenticationFailed, without a code.
	bob := login(t, c, s.pairs, "bob")
	a = post(t, c, s.pairs, "/api/token/refresh/", map[string]string{"refresh": field(t, bob.body, "refresh")}, nil, 401)
	assert.Equal(t, `{"detail":"No active account found for the given token."}`+"\n", string(a.body))

	pair = login(t, c, s.norotate, "alice")
	a = post(t, c, s.norotate, "/api/token/refresh/", map[string]string{"refresh": field(t, pair.body, "refresh")}, nil, 200)
	assert.Equal(t, []string{"access"}, keys(t, a.body))

	pair = login(t, c, s.expiries, "alice")
	a = post(t, c, s.expiries, "/api/token/refresh/", map[string]string{"refresh": field(t, pair.body, "refresh")}, nil, 200)
	assert.ElementsMatch(t, []string{"access", "refresh", "access_expires", "refresh_expires"}, keys(t, a.body))
}

func testVerify(t *testing.T, c *checker, s *servers) {
	pair := login(t, c, s.pairs, "alice")
	for _, name := range []string{"access", "refresh"} {
		a := post(t, c, s.pairs, "/api/token/verify/", map[string]string{"token": field(t, pair.body, name)}, nil, 200)
		assert.Equal(t, "{}\n", string(a.body))
	}
	a := post(t, c, s.pairs, "/api/token/verify/", map[string]string{"token": "x.y.z"}, nil, 401)
	assert.Equal(t, "Token is invalid", field(t, a.body, "detail"))

	refresh := field(t, pair.body, "refresh")
	post(t, c, s.pairs, "/api/token/blacklist/", map[string]string{"refresh": refresh}, nil, 200)
	a = post(t, c, s.pairs, "/api/token/verify/", map[string]string{"token": refresh}, nil, 400)
	assert.Equal(t, `{"non_field_errors":["Token is blacklisted"]}`+"\n", string(a.body))
}

func testBlacklist(t *testing.T, c *checker, s *servers) {
	pair := login(t, c, s.pairs, "alice")
	refresh := field(t, pair.body, "refresh")
	a := post(t, c, s.pairs, "/api/token/blacklist/", map[string]string{"refresh": refresh}, nil, 200)
	assert.Equal(t, "{}\n", string(a.body))
	a = post(t, c, s.pairs, "/api/token/blacklist/", map[string]string{"refresh": refresh}, nil, 401)
	assert.Equal(t, "Token is blacklisted", field(t, a.body, "detail"))
}

func testCookieMode(t *testing.T, c *checker, s *servers) {
	srv := s.cookies
	pair := login(t, c, srv, "alice")
	ck := cookies(pair)
	access, refresh, csrf := ck["__Host-jwtpair-access"], ck["__Secure-jwtpair-refresh"], ck["__Host-jwtpair-csrf"]
	require.NotNil(t, access, "the access cookie, as documented")
	require.NotNil(t, refresh, "the refresh cookie, as documented")
	require.NotNil(t, csrf, "the CSRF cookie, as documented")
	assert.ElementsMatch(t, []string{"refresh", "access", "access_expires", "refresh_expires"}, keys(t, pair.body))

	// A cross-site login.
	post(t, c, srv, "/api/token/", map[string]string{"username": "alice", "password": "alice-pw"},
		http.Header{"Sec-Fetch-Site": {"cross-site"}}, 403)
	post(t, c, srv, "/api/token/sliding/", map[string]string{"username": "alice", "password": "alice-pw"},
		http.Header{"Sec-Fetch-Site": {"cross-site"}}, 403)

	// Refresh by cookie: with the CSRF header, without it, with a dead cookie.
	withCSRF := with(cookieHeader(refresh, csrf), "X-CSRF-Token", csrf.Value)
	a := c.do(t, exchange{method: "POST", url: srv.url + "/api/token/refresh/", header: withCSRF, status: 200, conforming: true})
	assert.NotEmpty(t, cookies(a)["__Host-jwtpair-access"], "refresh sets the cookies")
	refresh, csrf = cookies(a)["__Secure-jwtpair-refresh"], cookies(a)["__Host-jwtpair-csrf"]
	c.do(t, exchange{method: "POST", url: srv.url + "/api/token/refresh/", header: cookieHeader(refresh, csrf), status: 403, conforming: true})
	dead := &http.Cookie{Name: refresh.Name, Value: "x.y.z"}
	a = c.do(t, exchange{method: "POST", url: srv.url + "/api/token/refresh/",
		header: with(cookieHeader(dead, csrf), "X-CSRF-Token", csrf.Value), status: 401, conforming: true})
	requireCleared(t, a)

	// Sessions by cookie: the listing (safe), then unsafe requests without
	// the CSRF proof, then the current session ended with it.
	a = c.do(t, exchange{method: "GET", url: srv.url + "/api/sessions/", header: cookieHeader(access), status: 200, conforming: true})
	var list []struct {
		ID      string `json:"id"`
		Current bool   `json:"current"`
	}
	require.NoError(t, json.Unmarshal(a.body, &list))
	require.NotEmpty(t, list)
	require.True(t, list[0].Current)
	sid := list[0].ID
	c.do(t, exchange{method: "POST", url: srv.url + "/api/sessions/", header: cookieHeader(access), status: 403, conforming: true})
	c.do(t, exchange{method: "DELETE", url: srv.url + "/api/sessions/" + sid + "/", header: cookieHeader(access), status: 403, conforming: true})
	c.do(t, exchange{method: "POST", url: srv.url + "/api/sessions/end-others/", header: cookieHeader(access), status: 403, conforming: true})
	a = c.do(t, exchange{method: "DELETE", url: srv.url + "/api/sessions/" + sid + "/",
		header: with(cookieHeader(access, csrf), "X-CSRF-Token", csrf.Value), status: 204, conforming: true})
	requireCleared(t, a)

	// Logout by cookie, without and with the CSRF header; a body it cannot
	// read (the cookies are cleared all the same).
	pair = login(t, c, srv, "alice")
	refresh, csrf = cookies(pair)["__Secure-jwtpair-refresh"], cookies(pair)["__Host-jwtpair-csrf"]
	c.do(t, exchange{method: "POST", url: srv.url + "/api/token/blacklist/", header: cookieHeader(refresh, csrf), status: 403, conforming: true})
	a = c.do(t, exchange{method: "POST", url: srv.url + "/api/token/blacklist/",
		header: with(cookieHeader(refresh, csrf), "X-CSRF-Token", csrf.Value), status: 200, conforming: true})
	requireCleared(t, a)
	h, b := rawBody("application/json", "[]")
	a = c.do(t, exchange{method: "POST", url: srv.url + "/api/token/blacklist/", header: h, body: b, status: 400, conforming: false})
	requireCleared(t, a)

	// OmitBodyTokens: the expiries alone.
	pair = login(t, c, s.omit, "alice")
	assert.ElementsMatch(t, []string{"access_expires", "refresh_expires"}, keys(t, pair.body))
	refresh, csrf = cookies(pair)["__Secure-jwtpair-refresh"], cookies(pair)["__Host-jwtpair-csrf"]
	a = c.do(t, exchange{method: "POST", url: s.omit.url + "/api/token/refresh/",
		header: with(cookieHeader(refresh, csrf), "X-CSRF-Token", csrf.Value), status: 200, conforming: true})
	assert.ElementsMatch(t, []string{"access_expires", "refresh_expires"}, keys(t, a.body))
}

func testSliding(t *testing.T, c *checker, s *servers) {
	srv := s.sliding
	a := post(t, c, srv, "/api/token/sliding/", map[string]string{"username": "alice", "password": "alice-pw"}, nil, 200)
	tok := field(t, a.body, "token")
	post(t, c, srv, "/api/token/sliding/", map[string]string{"username": "alice", "password": "nope"}, nil, 401)

	a = post(t, c, srv, "/api/token/sliding/refresh/", map[string]string{"token": tok}, nil, 200)
	tok = field(t, a.body, "token")
	pair := login(t, c, srv, "alice")
	a = post(t, c, srv, "/api/token/sliding/refresh/", map[string]string{"token": field(t, pair.body, "access")}, nil, 401)
	assert.Equal(t, "Token has wrong type", field(t, a.body, "detail"))
	bob := post(t, c, srv, "/api/token/sliding/", map[string]string{"username": "bob", "password": "bob-pw"}, nil, 200)
	a = post(t, c, srv, "/api/token/sliding/refresh/", map[string]string{"token": field(t, bob.body, "token")}, nil, 401)
	assert.Equal(t, `{"detail":"No active account found for the given token."}`+"\n", string(a.body))

	// A sliding token on a protected route, and a refusal naming both
	// token classes.
	c.do(t, exchange{method: "GET", url: srv.url + "/api/sessions/", header: bearer(tok), status: 200, conforming: true})
	a = c.do(t, exchange{method: "GET", url: srv.url + "/api/sessions/", header: bearer("x.y.z"), status: 401, conforming: true})
	assert.Contains(t, string(a.body), `"token_class":"SlidingToken"`)

	post(t, c, srv, "/api/token/sliding/blacklist/", map[string]string{"token": tok}, nil, 200)
	a = post(t, c, srv, "/api/token/sliding/blacklist/", map[string]string{"token": field(t, pair.body, "refresh")}, nil, 401)
	assert.Equal(t, "Token has wrong type", field(t, a.body, "detail"))
	a = post(t, c, srv, "/api/token/sliding/refresh/", map[string]string{"token": tok}, nil, 401)
	assert.Equal(t, "Token is blacklisted", field(t, a.body, "detail"))
}

func testThrottled(t *testing.T, c *checker, s *servers) {
	srv := s.throttled
	wrong := map[string]string{"username": "alice", "password": "nope"}
	post(t, c, srv, "/api/token/", wrong, nil, 401)
	for _, path := range []string{"/api/token/", "/api/token/sliding/"} {
		a := post(t, c, srv, path, wrong, nil, 429)
		assert.Regexp(t, `^[1-9][0-9]*$`, a.Header.Get("Retry-After"))
		assert.Contains(t, field(t, a.body, "detail"), "Request was throttled. Expected available in ")
	}
	post(t, c, srv, "/api/token/refresh/", map[string]string{"refresh": "x.y.z"}, nil, 401)
	post(t, c, srv, "/api/token/refresh/", map[string]string{"refresh": "x.y.z"}, nil, 429)
	post(t, c, srv, "/api/token/sliding/refresh/", map[string]string{"token": "x.y.z"}, nil, 429)
}

// testStoreDown: every endpoint that needs the store answers 503 when it
// fails. The tokens come from other servers with the same key.
func testStoreDown(t *testing.T, c *checker, s *servers) {
	srv := s.broken
	creds := map[string]string{"username": "alice", "password": "alice-pw"}
	post(t, c, srv, "/api/token/", creds, nil, 503)
	post(t, c, srv, "/api/token/sliding/", creds, nil, 503)
	pair := login(t, c, s.pairs, "alice")
	refresh, access := field(t, pair.body, "refresh"), field(t, pair.body, "access")
	a := post(t, c, srv, "/api/token/refresh/", map[string]string{"refresh": refresh}, nil, 503)
	assert.Equal(t, "service_unavailable", field(t, a.body, "code"))
	post(t, c, srv, "/api/token/verify/", map[string]string{"token": refresh}, nil, 503)
	post(t, c, srv, "/api/token/blacklist/", map[string]string{"refresh": refresh}, nil, 503)
	sl := post(t, c, s.sliding, "/api/token/sliding/", creds, nil, 200)
	post(t, c, srv, "/api/token/sliding/refresh/", map[string]string{"token": field(t, sl.body, "token")}, nil, 503)
	post(t, c, srv, "/api/token/sliding/blacklist/", map[string]string{"token": field(t, sl.body, "token")}, nil, 503)

	c.do(t, exchange{method: "GET", url: srv.url + "/api/sessions/", header: bearer(access), status: 503, conforming: true})
	c.do(t, exchange{method: "DELETE", url: srv.url + "/api/sessions/some-sid/", header: bearer(access), status: 503, conforming: true})
	c.do(t, exchange{method: "POST", url: srv.url + "/api/sessions/end-others/", header: bearer(access), status: 503, conforming: true})
}

func testSessions(t *testing.T, c *checker, s *servers) {
	srv := s.pairs
	login(t, c, srv, "alice") // another session
	access := field(t, login(t, c, srv, "alice").body, "access")
	a := c.do(t, exchange{method: "GET", url: srv.url + "/api/sessions/", header: bearer(access), status: 200, conforming: true})
	var list []struct {
		ID      string `json:"id"`
		Current bool   `json:"current"`
	}
	require.NoError(t, json.Unmarshal(a.body, &list))
	require.GreaterOrEqual(t, len(list), 2)
	require.True(t, list[0].Current)
	require.False(t, list[1].Current)

	c.do(t, exchange{method: "DELETE", url: srv.url + "/api/sessions/" + list[1].ID + "/", header: bearer(access), status: 204, conforming: true})
	a = c.do(t, exchange{method: "DELETE", url: srv.url + "/api/sessions/" + list[1].ID + "/", header: bearer(access), status: 404, conforming: true})
	assert.Equal(t, `{"detail":"Not found."}`+"\n", string(a.body))
	a = c.do(t, exchange{method: "POST", url: srv.url + "/api/sessions/end-others/", header: bearer(access), status: 200, conforming: true})
	assert.Equal(t, "{}\n", string(a.body))
	a = c.do(t, exchange{method: "POST", url: srv.url + "/api/sessions/end-others/", header: bearer(simplejwtAccess(t, "1")), status: 403, conforming: true})
	assert.Equal(t, "no_session", field(t, a.body, "code"))

	// Other methods: 405 with Allow.
	for _, m := range []struct{ method, path, allow string }{
		{"POST", "/api/sessions/", "GET"},
		{"GET", "/api/sessions/" + list[0].ID + "/", "DELETE"},
		{"GET", "/api/sessions/end-others/", "POST"},
	} {
		a := c.do(t, exchange{method: m.method, url: srv.url + m.path, header: bearer(access), status: 405, conforming: true})
		assert.Equal(t, m.allow, a.Header.Get("Allow"))
	}

	// The middleware's refusals, on every operation.
	bob := field(t, login(t, c, srv, "bob").body, "access")
	for _, op := range []struct{ method, path string }{
		{"GET", "/api/sessions/"}, {"POST", "/api/sessions/"},
		{"DELETE", "/api/sessions/" + list[0].ID + "/"}, {"GET", "/api/sessions/" + list[0].ID + "/"},
		{"POST", "/api/sessions/end-others/"}, {"GET", "/api/sessions/end-others/"},
	} {
		a := c.do(t, exchange{method: op.method, url: srv.url + op.path, status: 401, conforming: false})
		assert.Equal(t, `{"detail":"Authentication credentials were not provided."}`+"\n", string(a.body))
		assert.Equal(t, `Bearer realm="api"`, a.Header.Get("WWW-Authenticate"))
		a = c.do(t, exchange{method: op.method, url: srv.url + op.path, header: http.Header{"Authorization": {"Bearer"}}, status: 401, conforming: false})
		assert.Equal(t, "bad_authorization_header", field(t, a.body, "code"))
		a = c.do(t, exchange{method: op.method, url: srv.url + op.path, header: bearer("x.y.z"), status: 401, conforming: true})
		assert.Contains(t, string(a.body), `"messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is invalid"}]`)
		a = c.do(t, exchange{method: op.method, url: srv.url + op.path, header: bearer(bob), status: 401, conforming: true})
		assert.Equal(t, "user_inactive", field(t, a.body, "code"))
	}
}

// testStale: while the revoked set is stale, protected routes, and the
// verify endpoint for an access token, answer 503.
func testStale(t *testing.T, c *checker, s *servers) {
	access := field(t, login(t, c, s.pairs, "alice").body, "access")
	for _, op := range []struct{ method, path string }{
		{"GET", "/api/sessions/"}, {"POST", "/api/sessions/"},
		{"GET", "/api/sessions/some-sid/"}, {"GET", "/api/sessions/end-others/"},
	} {
		a := c.do(t, exchange{method: op.method, url: s.stale.url + op.path, header: bearer(access), status: 503, conforming: true})
		assert.Equal(t, "service_unavailable", field(t, a.body, "code"))
	}
	post(t, c, s.stale, "/api/token/verify/", map[string]string{"token": access}, nil, 503)
}

func testKeySet(t *testing.T, c *checker, s *servers) {
	a := c.do(t, exchange{method: "GET", url: s.keys.url + "/.well-known/jwks.json", status: 200, conforming: true})
	var set struct {
		Keys []struct {
			Kty string `json:"kty"`
		} `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(a.body, &set))
	var kty []string
	for _, k := range set.Keys {
		kty = append(kty, k.Kty)
	}
	assert.ElementsMatch(t, []string{"OKP", "EC", "RSA"}, kty, "the current key and both previous ones")
	c.do(t, exchange{method: "HEAD", url: s.keys.url + "/.well-known/jwks.json", status: 200, conforming: true})

	c.do(t, exchange{method: "GET", url: s.pairs.url + "/.well-known/jwks.json", status: 404, conforming: true})
	c.do(t, exchange{method: "HEAD", url: s.pairs.url + "/.well-known/jwks.json", status: 404, conforming: true})
	a = c.do(t, exchange{method: "POST", url: s.keys.url + "/.well-known/jwks.json", status: 405, conforming: true})
	assert.Equal(t, "GET, HEAD", a.Header.Get("Allow"))
}

// tokenEndpoints are the token endpoints, the fields they take, and
// whether the document requires those fields (refresh and blacklist take
// the refresh cookie in their stead in cookie mode).
var tokenEndpoints = []struct {
	path     string
	fields   []string
	required bool
}{
	{"/api/token/", []string{"username", "password"}, true},
	{"/api/token/refresh/", []string{"refresh"}, false},
	{"/api/token/verify/", []string{"token"}, true},
	{"/api/token/blacklist/", []string{"refresh"}, false},
	{"/api/token/sliding/", []string{"username", "password"}, true},
	{"/api/token/sliding/refresh/", []string{"token"}, true},
	{"/api/token/sliding/blacklist/", []string{"token"}, true},
}

// testBodyErrors: what every token endpoint answers to bodies it cannot
// take, to OPTIONS and to GET.
func testBodyErrors(t *testing.T, c *checker, s *servers) {
	srv := s.sliding
	long := strings.Repeat("a", 70<<10) + ".b.c" // over 64 KiB, shaped as a token
	for _, ep := range tokenEndpoints {
		t.Run(strings.Trim(ep.path, "/"), func(t *testing.T) {
			u := srv.url + ep.path
			a := c.do(t, exchange{method: "OPTIONS", url: u, status: 200, conforming: true})
			assert.Equal(t, "POST, OPTIONS", a.Header.Get("Allow"))
			a = c.do(t, exchange{method: "GET", url: u, status: 405, conforming: true})
			assert.Equal(t, `{"detail":"Method \"GET\" not allowed."}`+"\n", string(a.body))

			h, b := rawBody("text/plain", "hello")
			c.do(t, exchange{method: "POST", url: u, header: h, body: b, status: 415, conforming: false})
			all, blank := map[string]string{}, map[string]string{}
			for _, f := range ep.fields {
				all[f], blank[f] = long, ""
			}
			h, b = jsonBody(t, all)
			c.do(t, exchange{method: "POST", url: u, header: h, body: b, status: 413, conforming: true})
			h, b = rawBody("application/json", `{"token":`)
			a = c.do(t, exchange{method: "POST", url: u, header: h, body: b, status: 400, conforming: false})
			assert.Contains(t, field(t, a.body, "detail"), "JSON parse error - ")
			h, b = rawBody("application/json", `[]`)
			a = c.do(t, exchange{method: "POST", url: u, header: h, body: b, status: 400, conforming: false})
			assert.Contains(t, string(a.body), `"non_field_errors"`)
			h, b = rawBody("application/json", `{}`)
			a = c.do(t, exchange{method: "POST", url: u, header: h, body: b, status: 400, conforming: !ep.required})
			assert.ElementsMatch(t, ep.fields, keys(t, a.body))
			h, b = formBody(blank)
			a = c.do(t, exchange{method: "POST", url: u, header: h, body: b, status: 400, conforming: false})
			assert.Contains(t, string(a.body), "This field may not be blank.")
		})
	}
}

// requireCleared checks that an answer clears the three cookies.
func requireCleared(t *testing.T, a answer) {
	t.Helper()
	ck := cookies(a)
	for _, name := range []string{"__Host-jwtpair-access", "__Secure-jwtpair-refresh", "__Host-jwtpair-csrf"} {
		require.Contains(t, ck, name, "the answer clears the cookies")
		require.Negative(t, ck[name].MaxAge, "%s cleared (Max-Age=0)", name)
	}
}

// keys returns the names of a JSON object body.
func keys(t testing.TB, body []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(body, &m), "%s", body)
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
