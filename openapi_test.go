package jwtpair

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The document itself, and the handlers' answers against it, are tested
// in the openapitest module, with an OpenAPI validator kept out of this
// module's dependencies. These tests cover moving its paths and serving it.

// pathsOf returns the paths of an OpenAPI document, in order, and the
// document without them.
func pathsOf(t *testing.T, doc []byte) ([]string, map[string]json.RawMessage) {
	t.Helper()
	var top map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(doc, &top))
	ms, err := jsonMembers(top["paths"])
	require.NoError(t, err)
	var paths []string
	for _, m := range ms {
		paths = append(paths, m.name)
	}
	delete(top, "paths")
	return paths, top
}

func TestOpenAPIAsEmbedded(t *testing.T) {
	doc, err := OpenAPI(nil)
	require.NoError(t, err)
	assert.Equal(t, openapiJSON, doc)
	doc[0] = 'x'
	again, err := OpenAPI(nil)
	require.NoError(t, err)
	assert.Equal(t, byte('{'), again[0], "OpenAPI returns a copy")
	paths, _ := pathsOf(t, again)
	assert.Contains(t, paths, "/api/token/")
}

func TestOpenAPIMount(t *testing.T) {
	want, rest := pathsOf(t, openapiJSON)
	doc, err := OpenAPI(map[string]string{
		"/api/token/":          "/auth/login/",
		"/api/sessions/{sid}/": "/me/sessions/{sid}/",
		"/api/token/sliding/":  "",
	})
	require.NoError(t, err)
	got, gotRest := pathsOf(t, doc)
	for i, p := range want {
		switch p {
		case "/api/token/":
			want[i] = "/auth/login/"
		case "/api/sessions/{sid}/":
			want[i] = "/me/sessions/{sid}/"
		}
	}
	want = deleteString(want, "/api/token/sliding/")
	assert.Equal(t, want, got, "moved, dropped, and in the document's order")
	assert.Equal(t, rest, gotRest, "nothing else changes")

	// An endpoint's description goes with its path.
	var moved struct {
		Paths map[string]struct {
			Post struct{ OperationID string }
		}
	}
	require.NoError(t, json.Unmarshal(doc, &moved))
	assert.Equal(t, "obtainTokenPair", moved.Paths["/auth/login/"].Post.OperationID)

	same, err := OpenAPI(map[string]string{})
	require.NoError(t, err)
	paths, _ := pathsOf(t, same)
	all, _ := pathsOf(t, openapiJSON)
	assert.Equal(t, all, paths, "an empty mount moves nothing")
}

func deleteString(s []string, x string) []string {
	out := s[:0]
	for _, v := range s {
		if v != x {
			out = append(out, v)
		}
	}
	return out
}

func TestOpenAPIMountRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mount map[string]string
		err   string
	}{
		{"not documented", map[string]string{"/api/token": "/login/"}, `"/api/token" is not a documented path`},
		{"relative", map[string]string{"/api/token/": "login/"}, `"login/" must start with /`},
		{"wildcard dropped", map[string]string{"/api/sessions/{sid}/": "/me/sessions/current/"}, "must keep the wildcards"},
		{"wildcard renamed", map[string]string{"/api/sessions/{sid}/": "/me/sessions/{id}/"}, "must keep the wildcards"},
		{"wildcard added", map[string]string{"/api/sessions/": "/users/{user}/sessions/"}, "must keep the wildcards"},
		{"onto another's path", map[string]string{"/api/token/": "/api/token/refresh/"}, "both mounted on"},
		{"two onto one", map[string]string{"/api/token/": "/auth/", "/api/token/sliding/": "/auth/"}, "both mounted on"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := OpenAPI(tc.mount)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.err)
			assert.True(t, strings.HasPrefix(err.Error(), "jwtpair: "), err.Error())
			assert.Panics(t, func() { OpenAPIHandler(tc.mount) }, "a mounting mistake, found when the routes are built")
		})
	}
}

func TestOpenAPIHandler(t *testing.T) {
	mount := map[string]string{"/api/token/": "/auth/login/"}
	h := OpenAPIHandler(mount)
	want, err := OpenAPI(mount)
	require.NoError(t, err)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/openapi.json", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.Equal(t, "public, max-age=300", rec.Header().Get("Cache-Control"))
	assert.Equal(t, string(want), rec.Body.String())
	assert.True(t, json.Valid(rec.Body.Bytes()))

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("HEAD", "/openapi.json", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Empty(t, rec.Body.String())
	assert.Equal(t, strconv.Itoa(len(want)), rec.Header().Get("Content-Length"))

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/openapi.json", strings.NewReader("{}")))
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	assert.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))
	assert.Equal(t, `{"detail":"Method \"POST\" not allowed."}`+"\n", rec.Body.String())
}
