package jwtpair

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Require returns middleware that lets a request through only when the
// verified claims of its access token satisfy allow: roles, scopes, a
// plan, anything the token carries ([ClaimIncludes], [Claim]).
//
// It takes the claims that [Auth.Middleware] or [Auth.OptionalMiddleware]
// (or an adapter, with [ContextWithClaims]) put in the request context;
// when there are none, it authenticates the request itself, exactly as
// Middleware does, so a route behind Require alone is never left open:
//
//	mux.Handle("/admin/", auth.Require(jwtpair.ClaimIncludes("roles", "admin"))(admin))
//	mux.Handle("/reports/", auth.Middleware(auth.Require(canReport)(reports)))
//
// A request without valid credentials gets the middleware's 401 (also
// behind OptionalMiddleware: an anonymous request is refused, as DRF's
// permission classes refuse one with NotAuthenticated); one whose claims
// allow refuses gets 403 {"detail":"You do not have permission to perform
// this action."} ([ErrPermissionDenied]), both through the error handler.
// allow must not be nil; it gets claims it must treat as read-only.
func (a *Auth) Require(allow func(*Claims) bool) func(http.Handler) http.Handler {
	if allow == nil {
		// A programming error, found when the routes are built, never on
		// a request: a nil predicate could only refuse everything.
		panic("jwtpair: Require called with a nil predicate")
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, ok := ClaimsFrom(r.Context())
			if !ok {
				cc, err := a.check(r, a.bearerKind)
				if err != nil {
					a.fail(w, r, err)
					return
				}
				c, r = &cc.claims, cc.request(r)
			}
			if !allow(c) {
				a.fail(w, r, ErrPermissionDenied)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// ClaimIncludes returns a predicate for [Auth.Require]: the token's custom
// claim name is the string value, or a list holding it (roles, groups,
// "scp"). For a space-delimited OAuth "scope" string, use [Claim]:
//
//	func(c *jwtpair.Claims) bool {
//		s, _ := jwtpair.Claim[string](c, "scope")
//		return slices.Contains(strings.Fields(s), "reports:read")
//	}
func ClaimIncludes(name, value string) func(*Claims) bool {
	return func(c *Claims) bool {
		m, _ := c.custom() // verified and scanned already: cannot fail in practice
		switch v := m[name].(type) {
		case string:
			return v == value
		case []any:
			for _, e := range v {
				if s, ok := e.(string); ok && s == value {
					return true
				}
			}
		}
		return false
	}
}

// Claim returns the token's custom claim name decoded into a T, for typed
// access: Claim[[]string](c, "roles"), Claim[int64](c, "org_id"), or a
// struct of your own for an object.
//
// After a round trip through a token, a custom claim reads, untyped (in
// [User].Claims from [UserFrom] or [Claims.User], and as Claim[any]), as
// encoding/json decodes it with UseNumber: a string as string, a number as
// [json.Number] (exact: an int64 id never goes through float64), a
// boolean as bool, null as nil, a list as []any (a []string put in is a
// []any of strings), an object as map[string]any, nested alike. Claim
// decodes the claim's JSON into T: a []string, an int or float64, or a
// struct with json tags; a T the claim is already (string, json.Number,
// []any, map[string]any, bool) is returned as it is.
//
// Claim reads the verified token, also behind [WithUserCheck] (where
// [UserFrom] gives the user as the UserLoader loaded it, with its Go
// types). The registered claims (exp, jti, the user id, …) are the fields
// of Claims, not custom claims. A missing claim is an error wrapping
// [ErrClaimMissing]; a claim that does not decode into T is an error
// naming it. A null claim gives T's zero value.
func Claim[T any](c *Claims, name string) (T, error) {
	var t T
	m, err := c.custom()
	if err != nil {
		return t, err
	}
	v, ok := m[name]
	if !ok {
		return t, fmt.Errorf("%w: %q", ErrClaimMissing, name)
	}
	if tv, ok := v.(T); ok {
		return tv, nil
	}
	b, err := json.Marshal(v) // what the token holds, numbers as written
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	if err != nil {
		var zero T
		return zero, fmt.Errorf("jwtpair: claim %q: %w", name, err)
	}
	return t, nil
}
