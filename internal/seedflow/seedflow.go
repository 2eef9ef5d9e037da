// Package seedflow runs the README's seed flow over HTTP through a handler
// tree built by a router recipe (examples/…), so that every recipe is
// tested through its real router: log in, call the protected route with
// the access token, verify it, refresh, call again with the new access
// token, log out, and see the refresh refused; a request without a token
// and one with a bad token get the library's own 401, a token endpoint
// asked with GET its own JSON 405, and a path under an endpoint, or under
// /hello/, is not it; with WithErrorHandler, the protected route's
// refusals are that handler's. It also checks that the README shows each
// recipe as the tested code has it. Test code for the recipes' modules
// only.
package seedflow

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
)

// Routes builds a recipe's handler tree around auth.
type Routes func(auth *jwtpair.Auth) http.Handler

// userID is the id of the flow's user, admin:admin.
const userID = "1"

// NewAuth returns the Auth the flow runs against: an HMAC key and one user,
// admin:admin with id "1", and opts.
func NewAuth(t testing.TB, opts ...jwtpair.Option) *jwtpair.Auth {
	t.Helper()
	auth, err := jwtpair.New(append([]jwtpair.Option{
		jwtpair.WithHMACKey([]byte("seedflow-test-secret-of-32-bytes-or-more")),
		jwtpair.WithAuthenticator(jwtpair.AuthenticatorFunc(func(_ context.Context, username, password string) (jwtpair.User, error) {
			if username == "admin" && password == "admin" {
				return jwtpair.User{ID: userID}, nil
			}
			return jwtpair.User{}, jwtpair.ErrInvalidCredentials
		})),
	}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = auth.Close() })
	return auth
}

// answer is what a request got.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// client sends requests to a server.
type client struct {
	t   *testing.T
	url string
}

func (c client) do(method, path, token, body string) answer {
	c.t.Helper()
	req, err := http.NewRequest(method, c.url+path, strings.NewReader(body))
	require.NoError(c.t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return answer{resp.StatusCode, resp.Header, b}
}

// fields decodes a JSON object of strings, requiring the status.
func (a answer) fields(t *testing.T, status int) map[string]string {
	t.Helper()
	require.Equal(t, status, a.status, "body: %s", a.body)
	media, _, err := mime.ParseMediaType(a.header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "application/json", media, "body: %s", a.body)
	var m map[string]string
	require.NoError(t, json.Unmarshal(a.body, &m), "body: %s", a.body)
	return m
}

// Run runs the seed flow through the handler tree routes builds.
func Run(t *testing.T, routes Routes) {
	auth := NewAuth(t)
	srv := httptest.NewServer(routes(auth))
	t.Cleanup(srv.Close)
	c := client{t, srv.URL}
	hello := map[string]string{"message": "Hello, World!", "user_id": userID}

	// Login.
	pair := c.do("POST", "/api/token/", "", `{"username":"admin","password":"admin"}`).fields(t, 200)
	require.NotEmpty(t, pair["access"])
	require.NotEmpty(t, pair["refresh"])

	// The protected route, with the access token (GET and POST).
	for _, method := range []string{"GET", "POST"} {
		assert.Equal(t, hello, c.do(method, "/hello/", pair["access"], "").fields(t, 200), method)
	}
	assert.Equal(t, 404, c.do("GET", "/hello/x/", pair["access"], "").status, "/hello/ is an exact path")
	assert.Equal(t, map[string]string{}, c.do("POST", "/api/token/verify/", "", `{"token":"`+pair["access"]+`"}`).fields(t, 200))

	// Without a token, and with a bad one: the middleware's own answers,
	// through the router unchanged.
	noToken := c.do("GET", "/hello/", "", "")
	assert.Contains(t, noToken.fields(t, 401)["detail"], "Authentication credentials were not provided.")
	requireSame(t, written(jwtpair.ErrNoCredentials), noToken)
	requireSame(t, direct(auth.Middleware(nil), "/hello/", "not.a.token"), c.do("GET", "/hello/", "not.a.token", ""))

	// Refresh (rotating): a new pair, whose access token works.
	next := c.do("POST", "/api/token/refresh/", "", `{"refresh":"`+pair["refresh"]+`"}`).fields(t, 200)
	require.NotEmpty(t, next["access"])
	require.NotEmpty(t, next["refresh"])
	assert.Equal(t, hello, c.do("GET", "/hello/", next["access"], "").fields(t, 200))

	// Logout, then the refresh token is refused.
	assert.Equal(t, map[string]string{}, c.do("POST", "/api/token/blacklist/", "", `{"refresh":"`+next["refresh"]+`"}`).fields(t, 200))
	refused := c.do("POST", "/api/token/refresh/", "", `{"refresh":"`+next["refresh"]+`"}`)
	assert.Equal(t, "Token is blacklisted", refused.fields(t, 401)["detail"])
	blacklisted := written(jwtpair.ErrTokenBlacklisted)
	blacklisted.header.Set("Allow", "POST, OPTIONS") // the token endpoints' Allow, on every answer
	requireSame(t, blacklisted, refused)

	// Every method reaches the token endpoints, which answer their own
	// JSON 405 (not the router's); a path under an endpoint is not it.
	for path, h := range map[string]http.Handler{
		"/api/token/":           auth.ObtainHandler(),
		"/api/token/refresh/":   auth.RefreshHandler(),
		"/api/token/verify/":    auth.VerifyHandler(),
		"/api/token/blacklist/": auth.BlacklistHandler(),
	} {
		got := c.do("GET", path, "", "")
		assert.Equal(t, 405, got.status, path)
		requireSame(t, direct(h, path, ""), got)
		assert.Equal(t, 404, c.do("POST", path+"x/", "", `{"refresh":"`+pair["refresh"]+`"}`).status, path+"x/")
	}

	// With WithErrorHandler, the protected route's refusals are that
	// handler's (an adapter answers with auth.WriteError, not the
	// package's WriteError, which knows nothing of the Auth).
	custom := httptest.NewServer(routes(NewAuth(t, jwtpair.WithErrorHandler(markedErrors))))
	t.Cleanup(custom.Close)
	for _, token := range []string{"", "not.a.token"} {
		got := client{t, custom.URL}.do("GET", "/hello/", token, "")
		assert.Equal(t, 401, got.status, "token %q", token)
		assert.Equal(t, "WithErrorHandler", got.header.Get(handledBy), "token %q: the Auth's error handler answered", token)
	}
}

// handledBy is the header markedErrors sets.
const handledBy = "X-Handled-By"

// markedErrors is an error handler for WithErrorHandler: the default
// answer, marked with a header.
func markedErrors(w http.ResponseWriter, r *http.Request, err error) {
	w.Header().Set(handledBy, "WithErrorHandler")
	jwtpair.WriteError(w, r, err)
}

// direct is what handler h answers a GET of path, with token if any,
// without any router.
func direct(h http.Handler, path, token string) answer {
	req := httptest.NewRequest("GET", path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return answer{w.Code, w.Header(), w.Body.Bytes()}
}

// written is how the library answers err (its default error handler).
func written(err error) answer {
	return direct(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { jwtpair.WriteError(w, r, err) }), "/", "")
}

// requireSame requires the router's answer to be the library's own: the
// status, the JSON body, and the headers the wire contract names.
func requireSame(t *testing.T, want, got answer) {
	t.Helper()
	require.Equal(t, want.status, got.status, "body: %s", got.body)
	require.JSONEq(t, string(want.body), string(got.body))
	for _, h := range []string{"Content-Type", "Cache-Control", "WWW-Authenticate", "Allow"} {
		require.Equal(t, want.header.Values(h), got.header.Values(h), h)
	}
}

// recipe matches a region of a source file between the lines
// "// recipe:begin" and "// recipe:end".
var recipe = regexp.MustCompile(`(?s)\n// recipe:begin\n(.*?)\n// recipe:end\n`)

// InREADME requires the README at the root of the repository (two
// directories up from the test's) to show the recipe region of file,
// verbatim, in a Go code block.
func InREADME(t *testing.T, file string) {
	src, err := os.ReadFile(file)
	require.NoError(t, err)
	m := recipe.FindSubmatch(src)
	require.NotNil(t, m, "%s has no // recipe:begin … // recipe:end region", file)
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	want := "```go\n" + string(bytes.TrimSpace(m[1])) + "\n```\n"
	if !strings.Contains(string(readme), want) {
		t.Fatalf("README.md does not show %s's recipe (its recipe:begin … recipe:end region) as it is; it should hold:\n%s", file, want)
	}
}
