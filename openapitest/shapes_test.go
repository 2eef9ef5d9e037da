package openapitest

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestValidationCatchesShapeChanges proves that TestHandlersMatchDocument
// can fail: real answers, each valid as the handlers give it, are changed
// the way a code change would change them (a field renamed, dropped,
// added or retyped, a header lost or rewritten, a body where none is due,
// an undocumented status), and each change must be refused by the same
// validation. It also changes the document instead of the answer (a
// property renamed there), which must be refused too.
func TestValidationCatchesShapeChanges(t *testing.T) {
	c := newChecker(defaultSpec(t))
	pairs := newServer(t, false)
	keys := keyServer(t)
	throttled := newServer(t, false, throttleOne())

	pair := login(t, c, pairs, "alice")
	access := field(t, pair.body, "access")
	h, b := jsonBody(t, map[string]string{"refresh": "x.y.z"})
	refused := exchange{method: "POST", url: pairs.url + "/api/token/refresh/", header: h, body: b, status: 401, conforming: true}
	h, b = jsonBody(t, map[string]string{"username": "alice", "password": "wrong"})
	wrong := exchange{method: "POST", url: throttled.url + "/api/token/", header: h, body: b, status: 401, conforming: true}
	c.do(t, wrong)
	wrong.status = 429
	h, b = jsonBody(t, map[string]string{"username": "alice", "password": "alice-pw"})

	type mutation struct {
		name   string
		body   func(any) any // nil: the body as answered
		header func(http.Header)
		status int // 0: as answered
	}
	cases := []struct {
		ex        exchange
		mutations []mutation
	}{
		{exchange{method: "POST", url: pairs.url + "/api/token/", header: h, body: b, status: 200, conforming: true}, []mutation{
			{name: "access renamed", body: rename("access", "access_token")},
			{name: "refresh dropped", body: drop("refresh")},
			{name: "a field added", body: set("expires_in", 300.0)},
			{name: "access a number", body: set("access", 123.0)},
			{name: "access not a JWS", body: set("access", "opaque")},
			{name: "Cache-Control lost", header: del("Cache-Control")},
			{name: "Allow rewritten", header: put("Allow", "POST")},
			{name: "another media type", header: put("Content-Type", "text/plain")},
			{name: "an undocumented status", status: http.StatusTeapot},
		}},
		{refused, []mutation{
			{name: "code dropped", body: drop("code")},
			{name: "code renamed", body: rename("code", "error")},
			{name: "another code", body: set("code", "invalid_token")},
			{name: "detail a list", body: set("detail", []any{"Token is invalid"})},
			{name: "WWW-Authenticate lost", header: del("WWW-Authenticate")},
			{name: "WWW-Authenticate of another scheme", header: put("WWW-Authenticate", `Basic realm="api"`)},
		}},
		{exchange{method: "GET", url: pairs.url + "/api/sessions/", header: bearer(access), status: 200, conforming: true}, []mutation{
			{name: "current a string", body: each(set("current", "yes"))},
			{name: "absolute_expiry dropped", body: each(drop("absolute_expiry"))},
			{name: "last_refreshed renamed", body: each(rename("last_refreshed", "lastRefreshed"))},
			{name: "client a list", body: each(set("client", []any{}))},
			{name: "an object, not a list", body: func(v any) any { return map[string]any{"sessions": v} }},
		}},
		{exchange{method: "GET", url: pairs.url + "/api/sessions/", status: 401}, []mutation{
			{name: "messages not a list", body: set("messages", "Token is invalid")},
			{name: "a message without its class", body: set("messages", []any{map[string]any{"token_type": "access", "message": "x"}})},
		}},
		{wrong, []mutation{
			{name: "Retry-After not seconds", header: put("Retry-After", "soon")},
			{name: "a wait field added", body: set("wait", 60.0)},
		}},
		{exchange{method: "OPTIONS", url: pairs.url + "/api/token/", status: 200, conforming: true}, []mutation{
			{name: "actions dropped", body: drop("actions")},
			{name: "a field's label dropped", body: func(v any) any {
				v.(map[string]any)["actions"].(map[string]any)["POST"].(map[string]any)["username"] = map[string]any{"type": "string", "required": true, "read_only": false}
				return v
			}},
		}},
		{exchange{method: "GET", url: pairs.url + "/api/token/", status: 405, conforming: true}, []mutation{
			{name: "Allow lost", header: del("Allow")},
		}},
		{exchange{method: "GET", url: keys.url + "/.well-known/jwks.json", status: 200, conforming: true}, []mutation{
			{name: "a private member published", body: func(v any) any {
				v.(map[string]any)["keys"].([]any)[0].(map[string]any)["d"] = "c2VjcmV0"
				return v
			}},
			{name: "cacheable privately only", header: put("Cache-Control", "private")},
		}},
	}
	for _, tc := range cases {
		a, in, op := c.send(t, tc.ex)
		require.NoError(t, c.validateAnswer(in, op, a), "%s %s: the answer as given must be valid", tc.ex.method, tc.ex.url)
		for _, m := range tc.mutations {
			t.Run(m.name, func(t *testing.T) {
				changed := answer{Response: &http.Response{StatusCode: a.StatusCode, Header: a.Header.Clone()}, body: a.body}
				if m.body != nil {
					var v any
					require.NoError(t, json.Unmarshal(a.body, &v))
					b, err := json.Marshal(m.body(v))
					require.NoError(t, err)
					changed.body = b
				}
				if m.header != nil {
					m.header(changed.Header)
				}
				if m.status != 0 {
					changed.StatusCode = m.status
				}
				require.Error(t, c.validateAnswer(in, op, changed), "%s %s: %s must be refused", tc.ex.method, tc.ex.url, m.name)
			})
		}
	}

	// A body where the document has none.
	a, in, op := c.send(t, exchange{method: "DELETE", url: pairs.url + "/api/sessions/unknown/", header: bearer(access), status: 404})
	require.NoError(t, c.validateAnswer(in, op, a))
	in204 := *in
	a.StatusCode = http.StatusNoContent
	require.Error(t, c.validateAnswer(&in204, op, answer{Response: a.Response, body: []byte("{}")}), "a body in a 204")

	// The document changed rather than the code: the real answer no
	// longer matches.
	t.Run("document renames a property", func(t *testing.T) {
		s := defaultSpec(t)
		pair := s.doc.Components.Schemas["TokenPair"].Value
		pair.Properties["access_token"] = pair.Properties["access"]
		delete(pair.Properties, "access")
		pair.Required = []string{"refresh", "access_token"}
		c2 := newChecker(s)
		a, in, op := c2.send(t, exchange{method: "POST", url: pairs.url + "/api/token/", header: h, body: b, status: 200})
		require.Error(t, c2.validateAnswer(in, op, a))
	})
}

func rename(from, to string) func(any) any {
	return func(v any) any {
		m := v.(map[string]any)
		m[to] = m[from]
		delete(m, from)
		return m
	}
}

func drop(name string) func(any) any {
	return func(v any) any { delete(v.(map[string]any), name); return v }
}

func set(name string, x any) func(any) any {
	return func(v any) any { v.(map[string]any)[name] = x; return v }
}

// each applies f to every element of a list body.
func each(f func(any) any) func(any) any {
	return func(v any) any {
		l := v.([]any)
		for i := range l {
			l[i] = f(l[i])
		}
		return l
	}
}

func del(name string) func(http.Header) { return func(h http.Header) { h.Del(name) } }

func put(name, value string) func(http.Header) {
	return func(h http.Header) { h.Set(name, value) }
}
