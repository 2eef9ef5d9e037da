package compat

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair/internal/drf"
)

// TestPythonParity checks internal/drf, jwtpair's reading of request
// bodies, against DRF itself (simplejwt/drfprobe.py, Debian's DRF 3.14 on
// Python 3.11): thousands of bodies, hand-written and mutated, each
// parsed by both into a serializer of two CharFields; the status and the
// body of the answers must be equal. It needs what TestSimplejwtParity
// needs.
func TestPythonParity(t *testing.T) {
	requireReference(t)
	cases := drfCorpus()
	probe, err := filepath.Abs(filepath.Join("simplejwt", "drfprobe.py"))
	require.NoError(t, err)
	var in bytes.Buffer
	for _, c := range cases {
		q := map[string]any{"ct": nil, "body": base64.StdEncoding.EncodeToString(c.body)}
		if c.hasCT {
			q["ct"] = c.ct
		}
		b, _ := json.Marshal(q)
		in.Write(append(b, '\n'))
	}
	cmd := exec.Command(python, probe)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8", "PYTHONDONTWRITEBYTECODE=1"}
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	n, differ := 0, 0
	for sc.Scan() {
		require.Less(t, n, len(cases))
		c := cases[n]
		n++
		var want map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &want))
		got := drfAnswer(c)
		if !assert.Equal(t, want, got, "case %d %s: Content-Type %q (%v), body %q", n-1, c.name, c.ct, c.hasCT, snippet(string(c.body), 200)) {
			if differ++; differ > 20 {
				t.Fatal("too many differences")
			}
		}
	}
	require.Equal(t, len(cases), n, "answers from drfprobe.py")
	t.Logf("%d bodies, %d differ", n, differ)
}

// requireReference skips (or fails, under JWTPAIR_REQUIRE_BACKENDS=1) a
// test that needs Debian's simplejwt.
func requireReference(t *testing.T) {
	t.Helper()
	if why := referenceMissing(); why != "" {
		skipUnlessRequired(t, why+": apt-get install python3-djangorestframework-simplejwt")
	}
}

// skipUnlessRequired skips the test with msg, or fails it under
// JWTPAIR_REQUIRE_BACKENDS=1.
func skipUnlessRequired(t *testing.T, msg string) {
	t.Helper()
	if requireBackends() {
		t.Fatal(msg + " (JWTPAIR_REQUIRE_BACKENDS=1)")
	}
	t.Skip(msg)
}

// drfAnswer is jwtpair's reading of a body, in drfprobe.py's shape.
func drfAnswer(c drfCase) map[string]any {
	ct := c.ct
	if !c.hasCT {
		ct = ""
	}
	data, err := drf.Parse(ct, c.body)
	var ume *drf.UnsupportedMediaTypeError
	var pe *drf.ParseError
	var nae *drf.NotAnObjectError
	switch {
	case asErr(err, &ume):
		return map[string]any{"status": 415.0, "body": map[string]any{"detail": ume.Error()}}
	case asErr(err, &pe):
		return map[string]any{"status": 400.0, "body": map[string]any{"detail": pe.Detail}}
	case asErr(err, &nae):
		return map[string]any{"status": 400.0, "body": map[string]any{"non_field_errors": []any{nae.Message}}}
	case err != nil:
		return map[string]any{"status": 0.0, "body": map[string]any{"error": err.Error()}}
	}
	vals, errs := map[string]any{}, map[string]any{}
	for _, f := range []string{"username", "password"} {
		v, msgs := drf.CharField(data.Get(f))
		if len(msgs) > 0 {
			l := make([]any, len(msgs))
			for i, m := range msgs {
				l[i] = m
			}
			errs[f] = l
		}
		vals[f] = v
	}
	if len(errs) > 0 {
		return map[string]any{"status": 400.0, "body": errs}
	}
	// Through JSON, as the probe's answer came: what JSON cannot tell
	// apart (U+FFFD for a surrogate) compares equal.
	var body map[string]any
	b, _ := json.Marshal(vals)
	_ = json.Unmarshal(b, &body)
	return map[string]any{"status": 200.0, "body": body}
}

func asErr[T error](err error, target *T) bool {
	e, ok := err.(T)
	if ok {
		*target = e
	}
	return ok
}

type drfCase struct {
	name  string
	ct    string
	hasCT bool
	body  []byte
}

// drfCorpus is the bodies TestPythonParity sends: hand-written ones for
// each rule, then random mutations of them (seeded: the same every run).
func drfCorpus() []drfCase {
	var cs []drfCase
	add := func(name, ct string, body string) {
		cs = append(cs, drfCase{name: name, ct: ct, hasCT: true, body: []byte(body)})
	}
	js := func(name, body string) { add(name, "application/json", body) }
	form := func(name, body string) { add(name, "application/x-www-form-urlencoded", body) }

	// JSON documents: values, escapes, numbers, errors of every kind.
	for i, b := range []string{
		`{"username":"admin","password":"admin"}`,
		`{"username":" admin ","password":"\tadmin\n"}`,
		`{"username":"admin","password":"\u001cadmin\u001f"}`,
		`{"username":"admin","password":"\u00a0admin\u2028"}`,
		`{"username":"admin","password":"\u200badmin"}`,
		`{"username":"","password":"   "}`,
		`{"username":null,"password":null}`,
		`{"username":123,"password":-0}`,
		`{"username":1.5,"password":1e5}`,
		`{"username":1E+16,"password":1e-5}`,
		`{"username":0.0001,"password":-0.0}`,
		`{"username":1e999,"password":-1e999}`,
		`{"username":123456789012345678901234567890,"password":1.2345678901234567890}`,
		`{"username":5e-324,"password":1e-400}`,
		`{"username":true,"password":false}`,
		`{"username":[],"password":{}}`,
		`{"username":["a"],"password":{"a":1}}`,
		`{"username":"a\u0000b","password":"\ud800"}`,
		`{"username":"\ud83d\ude00","password":"\udc00\ud800x"}`,
		`{"username":"\ud800\u0041","password":"x\ud800\udbff"}`,
		`{"username":"a\/b\"c\\d\b\f\n\r\t","password":"x"}`,
		`{"username":"admin","username":"carol","password":"x"}`,
		`{"username":"\u0061dmin","password":"x","extra":[1,2,{"a":null}]}`,
		`{"username":"ädmin","password":"日本語"}`,
		`{}`, `[]`, `[{}]`, `"admin"`, `42`, `4.2`, `null`, `true`, `false`,
		`NaN`, `Infinity`, `-Infinity`, `{"username":NaN}`, `[1,-Infinity]`, `-Inf`, `-`, `-x`,
		`{"username":"admin",`, `{'username':'admin'}`, `{"username" "admin"}`, `{"username":}`,
		`{"username":"admin"} x`, `{"username":"admin"}}`, `{"a":1,}`, `[1,]`, `[1 2]`, `{"a":1 "b":2}`,
		"  \n ", "\ufeff{}", `{"a":"b`, `{"a":"b\`, `{"a":"\x"}`, `{"a":"\u12"}`, `{"a":"\u12g4"}`,
		`{"a":"\ud800\u12g4"}`, `{"a":"\ud800\u"}`, `{"a":"\u0041`, "{\"a\":\"x\ty\"}", "{\"a\":\"x\x7fy\"}",
		`{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":1e}`, `{"a":1e+}`, `{"a":-01}`, `{"a":+1}`, `{"a":0x10}`,
		`{"a":nul}`, `{"a":tru}`, `{"a":fals}`, `{"a":Nan}`, `{"a":[}`, `{"a":[]]`, `[[[]]]`, `{"a":{"b":{"c":[]}}}`,
		"{\n\"a\":\n1\n,\n\"b\"\n:\n}", "\r\n\r\n[1,\n2,,]", `{"`, `{`, `[`, `"`, `1 2`, `{"a" :  1 , "b":2 }  `,
		`{"a":"` + strings.Repeat("x", 300) + `"}`, `{"u":1` + strings.Repeat("0", 4300) + `}`, `{"u":1` + strings.Repeat("0", 4299) + `}`,
		`{"u":-1` + strings.Repeat("0", 4300) + `}`,
	} {
		js(fmt.Sprintf("json%d", i), b)
	}
	// Bytes that are not UTF-8, and UTF-8 cut short.
	for i, b := range []string{
		"{\"username\":\"adm\xffin\",\"password\":\"x\"}", "{\"username\":\"x\",\"password\":\"x\"}\xc3",
		"{\"username\":\"x\",\"password\":\"x\"}\xe2\x82", "{\"username\":\"x\",\"password\":\"x\"}\xed\xa0",
		"{\"username\":\"x\",\"password\":\"x\"}\xf0\x9f\x98", "{\"username\":\"x\",\"password\":\"x\"}\xf4\x90",
		"{\"a\":\"\xc0\xaf\"}", "{\"a\":\"\xe0\x80\xaf\"}", "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xf4\x90\x80\x80\"}",
		"{\"a\":\"\xe2\x28\xa1\"}", "{\"a\":\"\xf0\x9f\x28\x80\"}", "{\"a\":\"\xf0\x9f\x98\x28\"}", "\xef\xbb\xbf{}",
		"{\"a\":\"\x80\"}", "{\"a\":\"\xf8\x88\x80\x80\x80\"}", "{\"a\":1}\xe0\x9f",
	} {
		js(fmt.Sprintf("utf8-%d", i), b)
	}

	// Content types.
	adminJSON := `{"username":"admin","password":"admin"}`
	for i, ct := range []string{
		"application/json; charset=utf-8", "application/json; charset", "application/json;", "Application/JSON",
		" application/json ", "application/json ; x=\"a;b\"", "application/*", "*/*", "*/json", "*/*; q=0.1", "application/",
		"json", "text/plain", "text/*", "application/vnd.api+json", "application/json-patch+json", "", "\"application/json\"",
		"application/json\t", "application/json,text/plain", "application / json", "*/form-data", "*",
	} {
		add(fmt.Sprintf("ct%d", i), ct, adminJSON)
	}
	cs = append(cs, drfCase{name: "no-ct", body: []byte(adminJSON)}, drfCase{name: "no-ct-empty"})
	add("ct-text-empty", "text/plain", "")
	add("ct-json-empty", "application/json", "")

	// Forms.
	for i, b := range []string{
		"username=admin&password=admin", "username=admin&password=+admin+", "username=nobody&username=admin&password=x",
		"username=admin", "username=admin&password=", "username&password", "&&username=a&&password=b&",
		"username=a%20b&password=%E2%82%AC", "username=%e2%82&password=%zz%4", "username=%E2%82%28&password=%ED%A0%80",
		"username=\xe4dmin&password=x", "username=ädmin&password=%C3%A4", "username=a;b&password=x", "username=a=b=c&password=x",
		"user%6Eame=admin&password=x", "username=admin&password=a%00b", "username=%20&password=%09", "=x&username=y&password=z",
		"username=admin&password=admin&username=", "username=%%&password=%2", "username=admin&password=x%2Gy",
	} {
		form(fmt.Sprintf("form%d", i), b)
	}
	add("form-charset", "application/x-www-form-urlencoded; charset=UTF-8", "username=admin&password=admin")

	// Multipart.
	mp := func(name, ct, body string) { add(name, ct, strings.ReplaceAll(body, "\n", "\r\n")) }
	const mct = "multipart/form-data; boundary=XyZ"
	part := func(disposition, value string) string {
		return "--XyZ\nContent-Disposition: " + disposition + "\n\n" + value + "\n"
	}
	mp("mp-ok", mct, part(`form-data; name="username"`, "admin")+part(`form-data; name="password"`, " admin ")+"--XyZ--\n")
	mp("mp-missing", mct, part(`form-data; name="username"`, "admin")+"--XyZ--\n")
	mp("mp-repeated", mct, part(`form-data; name="username"`, "a")+part(`form-data; name="username"`, "b")+part(`form-data; name="password"`, "")+"--XyZ--\n")
	mp("mp-file", mct, part(`form-data; name="username"`, "a")+part(`form-data; name="password"; filename="p.txt"`, "secret")+"--XyZ--\n")
	mp("mp-file-then-field", mct, part(`form-data; name="password"; filename="p.txt"`, "secret")+part(`form-data; name="username"`, "a")+part(`form-data; name="password"`, "pw")+"--XyZ--\n")
	mp("mp-empty-filename", mct, part(`form-data; name="username"`, "a")+part(`form-data; name="password"; filename=""`, "pw")+"--XyZ--\n")
	mp("mp-dir-filename", mct, part(`form-data; name="username"`, "a")+part(`form-data; name="password"; filename="dir/"`, "pw")+"--XyZ--\n")
	mp("mp-no-name", mct, part(`form-data`, "a")+part(`form-data; name="username"`, "u")+part(`form-data; name="password"`, "p")+"--XyZ--\n")
	mp("mp-no-disposition", mct, "--XyZ\nX-Other: 1\n\nv\n"+part(`form-data; name="username"`, "u")+part(`form-data; name="password"`, "p")+"--XyZ--\n")
	mp("mp-utf8", mct, part(`form-data; name="username"`, "ädmin")+part(`form-data; name="password"`, "x\xffy")+"--XyZ--\n")
	mp("mp-name-spaces", mct, part(`form-data; name=" username "`, "u")+part(`form-data; name=password`, "p")+"--XyZ--\n")
	mp("mp-preamble", mct, "preamble\n"+part(`form-data; name="username"`, "u")+part(`form-data; name="password"`, "p")+"--XyZ--\nepilogue")
	mp("mp-no-boundary-in-body", mct, "username=admin&password=admin")
	mp("mp-no-close", mct, part(`form-data; name="username"`, "u")+part(`form-data; name="password"`, "p"))
	mp("mp-quoted-boundary", `multipart/form-data; boundary="XyZ"`, part(`form-data; name="username"`, "u")+part(`form-data; name="password"`, "p")+"--XyZ--\n")
	mp("mp-no-boundary", "multipart/form-data", part(`form-data; name="username"`, "u")+"--XyZ--\n")
	mp("mp-bad-boundary", "multipart/form-data; boundary=\"a b \"", "x")
	mp("mp-long-boundary", "multipart/form-data; boundary="+strings.Repeat("b", 202), "x")
	mp("mp-uppercase", "Multipart/Form-Data; boundary=XyZ", part(`form-data; name="username"`, "u")+"--XyZ--\n")
	mp("mp-wildcard", "*/form-data; boundary=XyZ", part(`form-data; name="username"`, "u")+"--XyZ--\n")
	mp("mp-mixed", "multipart/mixed; boundary=XyZ", part(`form-data; name="username"`, "u")+"--XyZ--\n")

	// Mutations: random edits of the JSON and form bodies above, for the
	// paths no one wrote down.
	rng := rand.New(rand.NewPCG(12, 2025))
	alphabet := []byte("{}[]\":,\\ \t\n\r0123456789-+.eEtrufalsnNI\xc3\xa4\xff\x00u")
	var seeds []drfCase
	for _, c := range cs {
		if c.ct == "application/json" || strings.HasPrefix(c.ct, "application/x-www") {
			seeds = append(seeds, c)
		}
	}
	for i := range 3000 {
		c := seeds[rng.IntN(len(seeds))]
		b := append([]byte(nil), c.body...)
		for range 1 + rng.IntN(3) {
			switch op := rng.IntN(3); {
			case op == 0 && len(b) > 0: // delete
				j := rng.IntN(len(b))
				b = append(b[:j], b[j+1:]...)
			case op == 1: // insert
				j := rng.IntN(len(b) + 1)
				b = append(b[:j], append([]byte{alphabet[rng.IntN(len(alphabet))]}, b[j:]...)...)
			case len(b) > 0: // truncate
				b = b[:rng.IntN(len(b))]
			}
		}
		cs = append(cs, drfCase{name: fmt.Sprintf("mut%d", i), ct: c.ct, hasCT: true, body: b})
	}
	return cs
}
