package jwtpair

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	bodyPermissionDenied = `{"detail":"You do not have permission to perform this action."}`
	bodyNoCredentials    = `{"detail":"Authentication credentials were not provided."}`
)

// authzAuth returns an Auth and access tokens of an admin and of a user
// with no admin role.
func authzAuth(t *testing.T, opts ...Option) (a *Auth, admin, staff string) {
	t.Helper()
	a, _ = newTestAuth(t, opts...)
	p, err := a.IssuePair(t.Context(), User{ID: "1", Claims: map[string]any{"roles": []string{"staff", "admin"}}})
	require.NoError(t, err)
	q, err := a.IssuePair(t.Context(), User{ID: "2", Claims: map[string]any{"roles": []string{"staff"}}})
	require.NoError(t, err)
	return a, p.Access, q.Access
}

// TestRequire: Require lets through only the claims its predicate allows
// (403 in DRF's shape otherwise), and never an unauthenticated request,
// whether it stands behind Middleware, OptionalMiddleware, or alone (a
// forgotten Middleware fails closed with the middleware's 401).
func TestRequire(t *testing.T) {
	a, admin, staff := authzAuth(t)
	var reached string
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := UserFrom(r.Context())
		require.True(t, ok, "no user in the context behind Require")
		reached = u.ID
	})
	isAdmin := a.Require(ClaimIncludes("roles", "admin"))
	for _, tc := range []struct {
		name   string
		h      http.Handler
		token  string
		status int
		body   string
		user   string
	}{
		{"behind Middleware, allowed", a.Middleware(isAdmin(next)), admin, 200, "", "1"},
		{"behind Middleware, refused", a.Middleware(isAdmin(next)), staff, 403, bodyPermissionDenied, ""},
		{"behind Middleware, no token", a.Middleware(isAdmin(next)), "", 401, bodyNoCredentials, ""},
		{"alone, allowed", isAdmin(next), admin, 200, "", "1"},
		{"alone, refused", isAdmin(next), staff, 403, bodyPermissionDenied, ""},
		{"alone, no token (Middleware forgotten)", isAdmin(next), "", 401, bodyNoCredentials, ""},
		{"alone, bad token", isAdmin(next), "garbage", 401, "", ""},
		{"alone, refresh token", isAdmin(next), "refresh", 401, "", ""},
		{"behind OptionalMiddleware, anonymous", a.OptionalMiddleware(isAdmin(next)), "", 401, bodyNoCredentials, ""},
		{"behind OptionalMiddleware, allowed", a.OptionalMiddleware(isAdmin(next)), admin, 200, "", "1"},
		{"behind OptionalMiddleware, refused", a.OptionalMiddleware(isAdmin(next)), staff, 403, bodyPermissionDenied, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reached = ""
			if tc.token == "refresh" {
				p, err := a.IssuePair(t.Context(), User{ID: "1", Claims: map[string]any{"roles": []string{"admin"}}})
				require.NoError(t, err)
				tc.token = p.Refresh
			}
			r := httptest.NewRequest(http.MethodGet, "/admin/", nil)
			if tc.token != "" {
				r.Header.Set("Authorization", "Bearer "+tc.token)
			}
			w := httptest.NewRecorder()
			tc.h.ServeHTTP(w, r)
			assert.Equal(t, tc.status, w.Code, w.Body.String())
			assert.Equal(t, tc.user, reached, "the handler behind Require")
			if tc.body != "" {
				assert.JSONEq(t, tc.body, w.Body.String())
			}
			switch tc.status {
			case 401:
				assert.Contains(t, w.Header().Get("WWW-Authenticate"), `Bearer realm="api"`)
			case 403:
				assert.Empty(t, w.Header().Get("WWW-Authenticate"))
				assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
			}
		})
	}
}

// TestRequireUsesTheContextClaims: behind Middleware, Require verifies
// nothing again; it decides on the claims in the context, also ones an
// adapter put there.
func TestRequireUsesTheContextClaims(t *testing.T) {
	a, admin, _ := authzAuth(t)
	n := countSignatureChecks(a)
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+admin)
	w := httptest.NewRecorder()
	a.Middleware(a.Require(ClaimIncludes("roles", "admin"))(ok)).ServeHTTP(w, r)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, int64(1), n.Load(), "signature checks")

	c, err := a.VerifyAccess(t.Context(), admin)
	require.NoError(t, err)
	r = httptest.NewRequest(http.MethodGet, "/", nil) // no header: the adapter authenticated
	w = httptest.NewRecorder()
	a.Require(ClaimIncludes("roles", "admin"))(ok).ServeHTTP(w, r.WithContext(ContextWithClaims(r.Context(), c)))
	assert.Equal(t, http.StatusOK, w.Code)
}

// TestRequireThroughTheErrorHandler: the 403 goes through the error
// handler as ErrPermissionDenied.
func TestRequireThroughTheErrorHandler(t *testing.T) {
	var got error
	a, _, staff := authzAuth(t, WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		got = err
		w.WriteHeader(http.StatusTeapot)
	}))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+staff)
	w := httptest.NewRecorder()
	a.Require(func(*Claims) bool { return false })(http.NotFoundHandler()).ServeHTTP(w, r)
	assert.Equal(t, http.StatusTeapot, w.Code)
	assert.True(t, errors.Is(got, ErrPermissionDenied), "%v", got)
	assert.Panics(t, func() { a.Require(nil) })
}

// TestClaimIncludes: a string claim equal to the value, or a list holding
// it; nothing else.
func TestClaimIncludes(t *testing.T) {
	a, _ := newTestAuth(t)
	p, err := a.IssuePair(t.Context(), User{ID: "1", Claims: map[string]any{
		"role":  "admin",
		"roles": []any{"staff", 7, "admin"},
		"scope": "reports:read users:write",
		"org":   map[string]any{"admin": true},
	}})
	require.NoError(t, err)
	c, err := a.VerifyAccess(t.Context(), p.Access)
	require.NoError(t, err)
	for _, tc := range []struct {
		name, value string
		want        bool
	}{
		{"role", "admin", true},
		{"role", "adm", false},
		{"roles", "admin", true},
		{"roles", "staff", true},
		{"roles", "7", false},
		{"roles", "guest", false},
		{"scope", "reports:read", false}, // a string is matched whole
		{"scope", "reports:read users:write", true},
		{"org", "admin", false},
		{"missing", "admin", false},
		{"user_id", "1", false}, // registered claims are not custom claims
	} {
		assert.Equal(t, tc.want, ClaimIncludes(tc.name, tc.value)(c), "%s includes %q", tc.name, tc.value)
	}
	noCustom, err := a.IssuePair(t.Context(), User{ID: "2"})
	require.NoError(t, err)
	c, err = a.VerifyAccess(t.Context(), noCustom.Access)
	require.NoError(t, err)
	assert.False(t, ClaimIncludes("roles", "admin")(c))
}

// roundTripClaims are custom claims of every JSON type, nested.
var roundTripClaims = map[string]any{
	"name":  "Ann",
	"n":     42,
	"big":   int64(9007199254740993), // 2^53 + 1: float64 cannot hold it
	"pi":    3.25,
	"ok":    true,
	"none":  nil,
	"roles": []string{"staff", "admin"},
	"org":   map[string]any{"id": 7, "tags": []string{"x", "y"}, "meta": map[string]any{"plan": "pro"}},
}

// roundTripWant is what roundTripClaims read back as, untyped.
var roundTripWant = map[string]any{
	"name":  "Ann",
	"n":     json.Number("42"),
	"big":   json.Number("9007199254740993"),
	"pi":    json.Number("3.25"),
	"ok":    true,
	"none":  nil,
	"roles": []any{"staff", "admin"},
	"org":   map[string]any{"id": json.Number("7"), "tags": []any{"x", "y"}, "meta": map[string]any{"plan": "pro"}},
}

// TestCustomClaimTypesAfterRoundTrip: what a custom claim reads as after
// login, and after a refresh that re-mints it from the token (no
// UserLoader): strings as string, numbers as json.Number (exact), lists as
// []any, objects as map[string]any, as Claim documents.
func TestCustomClaimTypesAfterRoundTrip(t *testing.T) {
	users := newTestUsers()
	users.claims["1"] = roundTripClaims
	a, _ := newTestAuth(t, WithAuthenticator(users))
	p := login(t, a)

	var got map[string]any
	h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := UserFrom(r.Context())
		got = u.Claims
	}))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+p.Access)
	h.ServeHTTP(httptest.NewRecorder(), r)
	assert.Equal(t, roundTripWant, got, "after login")

	q, err := a.Refresh(t.Context(), p.Refresh)
	require.NoError(t, err)
	c, err := a.VerifyAccess(t.Context(), q.Access)
	require.NoError(t, err)
	assert.Equal(t, roundTripWant, c.User().Claims, "after a refresh")
}

// TestClaim: typed access to custom claims.
func TestClaim(t *testing.T) {
	a, _ := newTestAuth(t)
	p, err := a.IssuePair(t.Context(), User{ID: "1", Claims: roundTripClaims})
	require.NoError(t, err)
	c, err := a.VerifyAccess(t.Context(), p.Access)
	require.NoError(t, err)

	name, err := Claim[string](c, "name")
	assert.NoError(t, err)
	assert.Equal(t, "Ann", name)
	n, err := Claim[int](c, "n")
	assert.NoError(t, err)
	assert.Equal(t, 42, n)
	big, err := Claim[int64](c, "big")
	assert.NoError(t, err)
	assert.Equal(t, int64(9007199254740993), big, "exact, not through float64")
	num, err := Claim[json.Number](c, "big")
	assert.NoError(t, err)
	assert.Equal(t, json.Number("9007199254740993"), num)
	pi, err := Claim[float64](c, "pi")
	assert.NoError(t, err)
	assert.Equal(t, 3.25, pi)
	ok, err := Claim[bool](c, "ok")
	assert.NoError(t, err)
	assert.True(t, ok)
	roles, err := Claim[[]string](c, "roles")
	assert.NoError(t, err)
	assert.Equal(t, []string{"staff", "admin"}, roles)
	type org struct {
		ID   int      `json:"id"`
		Tags []string `json:"tags"`
		Meta struct {
			Plan string `json:"plan"`
		} `json:"meta"`
	}
	o, err := Claim[org](c, "org")
	assert.NoError(t, err)
	assert.Equal(t, 7, o.ID)
	assert.Equal(t, []string{"x", "y"}, o.Tags)
	assert.Equal(t, "pro", o.Meta.Plan)
	raw, err := Claim[map[string]any](c, "org")
	assert.NoError(t, err)
	assert.Equal(t, roundTripWant["org"], raw)
	anyRoles, err := Claim[any](c, "roles")
	assert.NoError(t, err)
	assert.Equal(t, []any{"staff", "admin"}, anyRoles)
	none, err := Claim[*string](c, "none")
	assert.NoError(t, err)
	assert.Nil(t, none)

	_, err = Claim[string](c, "missing")
	assert.ErrorIs(t, err, ErrClaimMissing)
	_, err = Claim[int64](c, "exp")
	assert.ErrorIs(t, err, ErrClaimMissing, "registered claims are fields of Claims")
	bad, err := Claim[int](c, "name")
	assert.ErrorContains(t, err, `jwtpair: claim "name"`)
	assert.Zero(t, bad)
	_, err = Claim[[]int](c, "roles")
	assert.ErrorContains(t, err, `jwtpair: claim "roles"`)

	plain, err := a.IssuePair(t.Context(), User{ID: "2"})
	require.NoError(t, err)
	c, err = a.VerifyAccess(t.Context(), plain.Access)
	require.NoError(t, err)
	_, err = Claim[string](c, "name")
	assert.ErrorIs(t, err, ErrClaimMissing)
}
