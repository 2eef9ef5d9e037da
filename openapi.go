package jwtpair

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// openapiJSON is the OpenAPI 3.1 description of the endpoints, as written
// in openapi.json. The openapitest module validates it, and validates the
// real handlers' answers against it.
//
//go:embed openapi.json
var openapiJSON []byte

// OpenAPI returns the OpenAPI 3.1 description (JSON) of the endpoints this
// package serves: the token endpoints (obtain, refresh, verify, blacklist),
// the sliding ones, the session endpoints behind [Auth.Middleware], and
// [Auth.JWKSHandler]; every status each answers with its JSON body, the
// headers that matter (WWW-Authenticate, Allow, Retry-After, Set-Cookie,
// Cache-Control), the OPTIONS metadata, the bearer and cookie security
// schemes. One document covers every configuration, saying where an
// option changes an answer (cookie mode, [WithExpiriesInBody], …).
//
// Its paths are where the README mounts the handlers (simplejwt's:
// /api/token/, /api/token/refresh/, …, /api/sessions/{sid}/,
// /.well-known/jwks.json). mount moves them to the application's: it maps
// a documented path to the path the application mounts that endpoint on,
// or to "" to leave out an endpoint it does not mount (the sliding ones
// without [WithSlidingTokens]). Paths it does not name stay as documented;
// nil returns the document as embedded. A path with a wildcard must keep
// it ("/api/sessions/{sid}/" → "/me/sessions/{sid}/"). It returns an error
// for a path that is not documented, one that does not start with "/" or
// drops or adds a wildcard, and two endpoints moved onto one path.
func OpenAPI(mount map[string]string) ([]byte, error) {
	if mount == nil {
		return bytes.Clone(openapiJSON), nil
	}
	top, err := jsonMembers(openapiJSON)
	if err != nil {
		return nil, err // cannot happen: openapitest validates the file
	}
	var out bytes.Buffer
	out.WriteByte('{')
	for i, m := range top {
		if i > 0 {
			out.WriteByte(',')
		}
		out.Write(m.key)
		out.WriteByte(':')
		if string(m.key) != `"paths"` {
			out.Write(m.value)
			continue
		}
		if err := movePaths(&out, m.value, mount); err != nil {
			return nil, err
		}
	}
	out.WriteByte('}')
	var doc bytes.Buffer
	if err := json.Indent(&doc, out.Bytes(), "", "  "); err != nil {
		return nil, err // cannot happen: the members are the file's own
	}
	doc.WriteByte('\n')
	return doc.Bytes(), nil
}

// movePaths writes the document's paths object (paths), each path moved
// as mount says, in the document's order.
func movePaths(out *bytes.Buffer, paths []byte, mount map[string]string) error {
	items, err := jsonMembers(paths)
	if err != nil {
		return err
	}
	documented := make(map[string]bool, len(items))
	for _, it := range items {
		documented[it.name] = true
	}
	for from, to := range mount {
		switch {
		case !documented[from]:
			return fmt.Errorf("jwtpair: OpenAPI: %q is not a documented path", from)
		case to == "":
		case !strings.HasPrefix(to, "/"):
			return fmt.Errorf("jwtpair: OpenAPI: %q must start with /", to)
		case !slices.Equal(wildcards(from), wildcards(to)):
			return fmt.Errorf("jwtpair: OpenAPI: %q must keep the wildcards of %q, %v", to, from, wildcards(from))
		}
	}
	seen := make(map[string]string, len(items))
	out.WriteByte('{')
	n := 0
	for _, it := range items {
		to, moved := mount[it.name]
		if !moved {
			to = it.name
		}
		if to == "" {
			continue
		}
		if other, dup := seen[to]; dup {
			return fmt.Errorf("jwtpair: OpenAPI: %q and %q both mounted on %q", other, it.name, to)
		}
		seen[to] = it.name
		if n > 0 {
			out.WriteByte(',')
		}
		n++
		key, _ := json.Marshal(to) // a string always marshals
		out.Write(key)
		out.WriteByte(':')
		out.Write(it.value)
	}
	out.WriteByte('}')
	return nil
}

// wildcards returns the path templates ("{sid}") of an OpenAPI path, sorted.
func wildcards(path string) []string {
	var w []string
	for {
		i := strings.IndexByte(path, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(path[i:], '}')
		if j < 0 {
			break
		}
		w = append(w, path[i:i+j+1])
		path = path[i+j+1:]
	}
	slices.Sort(w)
	return w
}

// jsonMember is one member of a JSON object, as written.
type jsonMember struct {
	key   json.RawMessage // the name, quoted
	name  string
	value json.RawMessage
}

// jsonMembers returns the members of the JSON object b, in order.
func jsonMembers(b []byte) ([]jsonMember, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("jwtpair: OpenAPI: not a JSON object")
	}
	var out []jsonMember
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := t.(string) // object keys are strings
		key, _ := json.Marshal(name)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, jsonMember{key: key, name: name, value: v})
	}
	return out, nil
}

// OpenAPIHandler serves the description [OpenAPI] returns for mount, for
// GET and HEAD, as application/json that anyone may cache for five
// minutes; other methods get 405 with Allow: GET, HEAD. Mount it where
// your tools look for it ("/openapi.json"); it needs no authentication,
// as the description holds nothing secret. It panics, when called to mount
// it, on a mount OpenAPI refuses: a mounting mistake found when the routes
// are built, never on a request.
func OpenAPIHandler(mount map[string]string) http.Handler {
	doc, err := OpenAPI(mount)
	if err != nil {
		panic(err.Error())
	}
	return publicHandler("application/json", doc, nil)
}

// publicHandler serves a public document, body of type contentType: GET
// and HEAD get it, cacheable by anyone for five minutes, or, when body is
// nil, the answer missing; other methods get 405 with Allow: GET, HEAD.
func publicHandler(contentType string, body []byte, missing *Response) http.Handler {
	ct := []string{contentType}
	length := []string{fmt.Sprint(len(body))}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			WriteError(w, r, methodNotAllowed(r.Method))
			return
		}
		if body == nil {
			writeBody(w, missing.Status, missing.Body)
			return
		}
		h := w.Header()
		h["Content-Type"] = ct
		h["Cache-Control"] = cachePublic
		h["Content-Length"] = length
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(body)
		}
	})
}

// cachePublic is the Cache-Control of public documents (the key set, the
// OpenAPI description).
var cachePublic = []string{"public, max-age=300"}
