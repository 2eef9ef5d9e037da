package openapitest

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
)

// TestDocumentIsOpenAPI31: the embedded description is an OpenAPI 3.1
// document that kin-openapi loads and validates (its structure, its
// references, its schemas compiled as JSON Schema 2020-12, its examples
// against their schemas), and it documents every endpoint the package
// serves.
func TestDocumentIsOpenAPI31(t *testing.T) {
	s := defaultSpec(t)
	assert.Equal(t, "3.1.1", s.doc.OpenAPI)
	var paths []string
	for _, p := range s.doc.Paths.InMatchingOrder() {
		paths = append(paths, p)
	}
	assert.ElementsMatch(t, []string{
		"/api/token/", "/api/token/refresh/", "/api/token/verify/", "/api/token/blacklist/",
		"/api/token/sliding/", "/api/token/sliding/refresh/", "/api/token/sliding/blacklist/",
		"/api/sessions/", "/api/sessions/{sid}/", "/api/sessions/end-others/",
		"/.well-known/jwks.json",
	}, paths)
	for _, p := range paths {
		for method, op := range s.doc.Paths.Value(p).Operations() {
			assert.NotEmpty(t, op.OperationID, "%s %s: operationId", method, p)
			assert.NotNil(t, op.Security, "%s %s: security stated (none, or the middleware's)", method, p)
		}
	}
}

// TestMovedDocument: a description moved to an application's own paths
// (jwtpair.OpenAPI with a mount) is still a valid OpenAPI 3.1 document, and
// the handlers mounted there answer as it says.
func TestMovedDocument(t *testing.T) {
	b, err := jwtpair.OpenAPI(map[string]string{
		"/api/token/":                   "/auth/login/",
		"/api/token/refresh/":           "/auth/refresh/",
		"/api/sessions/{sid}/":          "/me/sessions/{sid}/",
		"/api/token/sliding/":           "",
		"/api/token/sliding/refresh/":   "",
		"/api/token/sliding/blacklist/": "",
		"/.well-known/jwks.json":        "",
		"/api/sessions/end-others/":     "/me/sessions/end-others/",
		"/api/sessions/":                "/me/sessions/",
		"/api/token/verify/":            "/auth/verify/",
		"/api/token/blacklist/":         "/auth/logout/",
	})
	require.NoError(t, err)
	s := loadSpec(t, b)
	var paths []string
	for _, p := range s.doc.Paths.InMatchingOrder() {
		paths = append(paths, p)
	}
	assert.ElementsMatch(t, []string{"/auth/login/", "/auth/refresh/", "/auth/verify/", "/auth/logout/",
		"/me/sessions/", "/me/sessions/{sid}/", "/me/sessions/end-others/"}, paths)

	auth, err := jwtpair.New(jwtpair.WithHMACKey(secret), jwtpair.WithAuthenticator(users{}))
	require.NoError(t, err)
	t.Cleanup(func() { auth.Close() })
	mux := http.NewServeMux()
	mux.Handle("/auth/login/{$}", auth.ObtainHandler())
	mux.Handle("/auth/refresh/{$}", auth.RefreshHandler())
	mux.Handle("/me/sessions/{$}", auth.Middleware(auth.SessionsHandler()))
	mux.Handle("/me/sessions/{sid}/{$}", auth.Middleware(auth.EndSessionHandler()))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	c := newChecker(s)
	h, body := jsonBody(t, map[string]string{"username": "alice", "password": "alice-pw"})
	pair := c.do(t, exchange{method: "POST", url: srv.URL + "/auth/login/", header: h, body: body, status: 200, conforming: true})
	h, body = jsonBody(t, map[string]string{"refresh": field(t, pair.body, "refresh")})
	c.do(t, exchange{method: "POST", url: srv.URL + "/auth/refresh/", header: h, body: body, status: 200, conforming: true})
	access := bearer(field(t, pair.body, "access"))
	c.do(t, exchange{method: "GET", url: srv.URL + "/me/sessions/", header: access, status: 200, conforming: true})
	c.do(t, exchange{method: "DELETE", url: srv.URL + "/me/sessions/unknown/", header: access, status: 404, conforming: true})
}
