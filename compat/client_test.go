package compat

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"maps"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Requests.

// request is one HTTP request of a scenario.
type request struct {
	method, path string
	header       [][2]string // in order; a name may repeat
	body         body
}

// body is a request body with its Content-Type ("" sends none).
type body struct {
	ct   string
	data []byte
}

// String renders r on one line, tokens hidden: header values and the
// Content-Type quoted (their spaces and tabs matter), the body shortened.
func (r request) String() string {
	s := r.method + " " + r.path
	for _, h := range r.header {
		s += fmt.Sprintf(" [%s: %q]", h[0], h[1])
	}
	if r.body.ct != "" {
		s += fmt.Sprintf(" [Content-Type: %q]", r.body.ct)
	}
	if len(r.body.data) > 0 {
		s += " " + snippet(string(r.body.data), 100)
	}
	return jwtRE.ReplaceAllString(s, "<jwt>")
}

func post(path string, b body, header ...[2]string) request {
	return request{method: http.MethodPost, path: path, body: b, header: header}
}

func get(path string, header ...[2]string) request {
	return request{method: http.MethodGet, path: path, header: header}
}

func bearer(tok string) [2]string { return [2]string{"Authorization", "Bearer " + tok} }

// obj is a JSON object body; its keys are sent sorted.
type obj map[string]any

func jsonBody(v any) body {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return body{ct: "application/json", data: b}
}

// rawJSON is a body sent as application/json exactly as written.
func rawJSON(s string) body { return body{ct: "application/json", data: []byte(s)} }

func raw(ct, s string) body { return body{ct: ct, data: []byte(s)} }

func formBody(kv ...string) body {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return body{ct: "application/x-www-form-urlencoded", data: []byte(v.Encode())}
}

func multipartBody(kv ...string) body {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	_ = w.SetBoundary("compatboundary0123456789")
	for i := 0; i+1 < len(kv); i += 2 {
		_ = w.WriteField(kv[i], kv[i+1])
	}
	_ = w.Close()
	return body{ct: w.FormDataContentType(), data: b.Bytes()}
}

// multipartFile is a multipart body with one file part (field, file name,
// content) and then the given fields.
func multipartFile(field, filename, content string, kv ...string) body {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	_ = w.SetBoundary("compatboundary0123456789")
	fw, _ := w.CreateFormFile(field, filename)
	_, _ = fw.Write([]byte(content))
	for i := 0; i+1 < len(kv); i += 2 {
		_ = w.WriteField(kv[i], kv[i+1])
	}
	_ = w.Close()
	return body{ct: w.FormDataContentType(), data: b.Bytes()}
}

// multipartUnclosed is multipartBody without its closing boundary.
func multipartUnclosed(kv ...string) body {
	b := multipartBody(kv...)
	b.data = bytes.TrimSuffix(b.data, []byte("--compatboundary0123456789--\r\n"))
	return b
}

// The client: one side's run of a scenario.

// client sends a scenario's requests to one server and records the answers.
type client struct {
	side   string // "simplejwt" or "jwtpair"
	base   string
	hc     *http.Client
	secret []byte
	fx     map[string]string // fixtures of both sides: "simplejwt/access", "jwtpair/sliding" …
	run    sideRun
}

func newHTTPClient() *http.Client {
	return &http.Client{
		Timeout:       15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{DisableKeepAlives: true, DisableCompression: true},
	}
}

// reply is what a scenario sees of an answer.
type reply struct {
	status int
	json   map[string]any
}

// str returns the string field k of a JSON object answer ("" otherwise).
func (r reply) str(k string) string {
	s, _ := r.json[k].(string)
	return s
}

func (c *client) send(r request) (int, http.Header, []byte, time.Time, error) {
	var rd io.Reader
	if r.body.data != nil {
		rd = bytes.NewReader(r.body.data)
	}
	req, err := http.NewRequest(r.method, c.base+r.path, rd)
	if err != nil {
		return 0, nil, nil, time.Time{}, err
	}
	if r.body.ct != "" {
		req.Header["Content-Type"] = []string{r.body.ct}
	}
	for _, h := range r.header {
		req.Header[h[0]] = append(req.Header[h[0]], h[1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, nil, time.Time{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, time.Now(), err
}

// record sends r and records its answer as step label.
func (c *client) record(label string, r request, setup bool) reply {
	status, h, b, at, err := c.send(r)
	var o *obs
	if err != nil {
		at = time.Now()
		o = newObs()
		o.set("status", "transport error: "+err.Error())
	} else {
		o = normalise(status, h, b, at)
	}
	c.run.steps = append(c.run.steps, step{label: label, req: r.String(), setup: setup, o: o, at: at})
	rep := reply{status: status}
	_ = json.Unmarshal(b, &rep.json)
	return rep
}

// do sends r and compares the whole answer.
func (c *client) do(label string, r request) reply { return c.record(label, r, false) }

// setup sends r and compares only the status of the answer.
func (c *client) setup(label string, r request) reply { return c.record(label, r, true) }

// fact records an observation the scenario derives from several answers.
func (c *client) fact(label, value string) {
	o := newObs()
	o.set("fact", value)
	c.run.steps = append(c.run.steps, step{label: label, req: "(derived)", o: o, at: time.Now()})
}

// fixture returns a token one of the sides issued before the scenarios ran.
func (c *client) fixture(name string) string {
	v := c.fx[name]
	if v == "" {
		c.run.problems = append(c.run.problems, "fixture "+name+" is not available: "+c.fx[name+"#why"])
	}
	return v
}

// login logs in (a setup step) and returns the pair.
func (c *client) login(user, password string) (access, refresh string) {
	r := c.setup("login "+user, post("/api/token/", jsonBody(obj{"username": user, "password": password})))
	return r.str("access"), r.str("refresh")
}

// admin logs in as admin (a setup step) and returns the pair.
func (c *client) admin() (access, refresh string) { return c.login("admin", "admin") }

// rotate refreshes (a setup step) and returns the new pair.
func (c *client) rotate(refresh string) (access, next string) {
	r := c.setup("rotate", refreshReq(refresh))
	return r.str("access"), r.str("refresh")
}

// Hand-made tokens, signed with the shared secret (or another key).

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// signRaw signs the given header and payload texts as they are: alg
// "HS256", "HS384", "HS512", or "none" (empty signature).
func signRaw(headerJSON, payloadJSON string, key []byte, alg string) string {
	in := b64([]byte(headerJSON)) + "." + b64([]byte(payloadJSON))
	var h func() hash.Hash
	switch alg {
	case "none":
		return in + "."
	case "HS384":
		h = sha512.New384
	case "HS512":
		h = sha512.New
	default:
		h = sha256.New
	}
	m := hmac.New(h, key)
	m.Write([]byte(in))
	return in + "." + b64(m.Sum(nil))
}

// hs256Header is simplejwt's (PyJWT's) JOSE header.
var hs256Header = map[string]any{"alg": "HS256", "typ": "JWT"}

// mint signs claims under simplejwt's header with the shared secret.
func (c *client) mint(claims map[string]any) string {
	return signRaw(mustJSON(hs256Header), mustJSON(claims), c.secret, "HS256")
}

// mintHeader signs claims under the given header with the shared secret.
func (c *client) mintHeader(hdr, claims map[string]any) string {
	alg, _ := hdr["alg"].(string)
	return signRaw(mustJSON(hdr), mustJSON(claims), c.secret, alg)
}

func newJTI() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// claimsOf returns simplejwt 5.2.2's claims for a token of type typ for
// user 1, issued now: exp after simplejwt's lifetime of that type.
func claimsOf(typ string) map[string]any {
	now := time.Now().Unix()
	life := map[string]int64{"access": 300, "refresh": 86400, "sliding": 300}[typ]
	m := map[string]any{"token_type": typ, "exp": now + life, "iat": now, "jti": newJTI(), "user_id": 1}
	if typ == "sliding" {
		m["refresh_exp"] = now + 86400
	}
	return m
}

// with returns a copy of m with k set to v.
func with(m map[string]any, kv ...any) map[string]any {
	c := maps.Clone(m)
	for i := 0; i+1 < len(kv); i += 2 {
		c[kv[i].(string)] = kv[i+1]
	}
	return c
}

// without returns a copy of m without the keys ks.
func without(m map[string]any, ks ...string) map[string]any {
	c := maps.Clone(m)
	for _, k := range ks {
		delete(c, k)
	}
	return c
}

func ago(d time.Duration) int64     { return time.Now().Add(-d).Unix() }
func fromNow(d time.Duration) int64 { return time.Now().Add(d).Unix() }

// payloadOf returns the payload segment of a compact token, decoded.
func payloadOf(tok string) map[string]any {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}
