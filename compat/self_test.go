package compat

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The harness's own tests: they need no server and run in every make test.

var testNow = time.Unix(1_800_000_000, 0)

// jsonAnswer normalises a JSON answer received at testNow.
func jsonAnswer(status int, body string, header ...string) *obs {
	h := http.Header{"Content-Type": {"application/json"}}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	return normalise(status, h, []byte(body), testNow)
}

func testToken(claims map[string]any) string {
	return signRaw(mustJSON(hs256Header), mustJSON(claims), secret, "HS256")
}

func TestNormaliseToken(t *testing.T) {
	now := testNow.Unix()
	tok := testToken(map[string]any{"token_type": "access", "exp": now + 300, "iat": now - 2, "jti": "0123456789abcdef0123456789abcdef", "user_id": 1, "sid": "abc_-DEF"})
	o := jsonAnswer(200, `{"access":"`+tok+`","n":1.50,"s":"<a&b>","list":[true,null]}`)
	for k, want := range map[string]string{
		"status":                        "200",
		"header Content-Type":           "application/json",
		"header Allow":                  absent,
		"body":                          "object",
		"body.access":                   "jwt",
		"body.access.header.alg":        `"HS256"`,
		"body.access.header.typ":        `"JWT"`,
		"body.access.claims.exp":        "time(now+5m)",
		"body.access.claims.iat":        "time(now)",
		"body.access.claims.jti":        "hex(32)",
		"body.access.claims.sid":        "string(8)",
		"body.access.claims.user_id":    "1",
		"body.access.claims.token_type": `"access"`,
		"body.n":                        "1.50",
		"body.s":                        `"<a&b>"`,
		"body.list":                     "array(2)",
		"body.list[0]":                  "true",
		"body.list[1]":                  "null",
	} {
		assert.Equal(t, want, o.get(k), k)
	}
	assert.NotContains(t, strings.Join(o.keys, " "), "eyJ", "no token text survives")

	// A claim only one side's token has, and a claim of another type, show.
	other := testToken(map[string]any{"token_type": "access", "exp": now + 300, "iat": now, "jti": "ffffffffffffffffffffffffffffffff", "user_id": "1", "username": "admin"})
	d := diffObs(o, jsonAnswer(200, `{"access":"`+other+`","n":1.50,"s":"<a&b>","list":[true,null]}`), false)
	assert.ElementsMatch(t, []aspectDiff{
		{Aspect: "body.access.claims.user_id", Simplejwt: "1", Jwtpair: `"1"`},
		{Aspect: "body.access.claims.sid", Simplejwt: "string(8)", Jwtpair: absent},
		{Aspect: "body.access.claims.username", Simplejwt: absent, Jwtpair: `"admin"`},
	}, d)
}

func TestNormaliseNotJSON(t *testing.T) {
	for body, want := range map[string]string{
		"":                               "(empty)",
		" \n":                            "(empty)",
		"404 page not found\n":           "text: 404 page not found",
		`{"a":1} x`:                      `text: {"a":1} x`,
		"<h1>Not Found</h1>\n<p>x</p>\n": "text: <h1>Not Found</h1> <p>x</p>",
	} {
		assert.Equal(t, want, normalise(404, http.Header{}, []byte(body), testNow).get("body"), "%q", body)
	}
	// A JWT-shaped string whose parts are not JSON objects stays a string.
	assert.Equal(t, `"eyJhbGciOiJIUzI1NiJ9.W10.x"`, jsonAnswer(200, `{"t":"eyJhbGciOiJIUzI1NiJ9.W10.x"}`).get("body.t"))
}

func TestRelTime(t *testing.T) {
	now := float64(testNow.Unix())
	for d, want := range map[float64]string{
		0: "time(now)", 5: "time(now)", -4: "time(now)", 15: "time(now)", -12: "time(now)", 16: "time(now+20s)", 299: "time(now+5m)", 301: "time(now+5m)",
		288: "time(now+5m)", 86400: "time(now+24h)", 86398: "time(now+24h)", 86380: "time(now+24h)", -3600: "time(now-1h)", -60: "time(now-1m)", 45: "time(now+50s)",
		-130: "time(now-2m)", 3540: "time(now+59m)", 86400 - 45: "time(now+24h)", 86400 - 140: "time(now+24h)", 7200 + 200: "time(now+125m)",
	} {
		assert.Equal(t, want, relTime(now+d, testNow), "%v", d)
	}
}

func TestDiffCollapsesOneSidedSubtree(t *testing.T) {
	tok := testToken(claimsOf("access"))
	ok := jsonAnswer(200, `{"access":"`+tok+`"}`)
	refused := jsonAnswer(401, `{"detail":"Token is invalid","code":"token_not_valid"}`)
	d := diffObs(ok, refused, false)
	var aspects []string
	for _, x := range d {
		aspects = append(aspects, x.Aspect)
	}
	assert.Equal(t, []string{"status", "body.access", "body.code", "body.detail"}, aspects, "the token's claims are one difference, at body.access")

	// Two objects with different members: each member is its own difference.
	d = diffObs(jsonAnswer(400, `{"password":["This field may not be blank."]}`), jsonAnswer(400, `{"password":["This field is required."]}`), false)
	require.Len(t, d, 1)
	assert.Equal(t, "body.password[0]", d[0].Aspect)

	// A setup step compares the status only.
	assert.Empty(t, diffObs(ok, jsonAnswer(200, `{}`), true))
	assert.Len(t, diffObs(ok, refused, true), 1)
}

// run is a one-step side run answering o.
func run(label string, o *obs) sideRun {
	return sideRun{steps: []step{{label: label, req: "POST /x/", o: o, at: testNow}}}
}

func TestCompareVerdicts(t *testing.T) {
	docs, err := compileDocumented([]Difference{
		{ID: "cc", Kind: Deliberate, Aspect: `^header Cache-Control$`, Simplejwt: `^\(absent\)$`, Jwtpair: `^no-store$`, What: "w", Why: "y"},
		{ID: "uid", Kind: Version, Aspect: `^body\.user_id$`, Simplejwt: `^[0-9]+$`, Jwtpair: `^"$S"$`, What: "w", Why: "y", Upstream: "u"},
		{ID: "only-b", Kind: Deliberate, Scenarios: `^b/`, NotScenarios: `^b/not`, Aspect: `^body\.x$`, What: "w", Why: "y"},
		{ID: "want", Kind: Version, Scenarios: `^w/`, Step: "post", Want: &Answer{Status: 401, Body: `{"detail":"No"}`, Header: map[string]string{"WWW-Authenticate": `Bearer realm="api"`}}, What: "w", Why: "y", Upstream: "u"},
	})
	require.NoError(t, err)
	ref := jsonAnswer(200, `{"user_id":1,"x":1}`)

	r := compare("a/same", "", run("post", ref), run("post", jsonAnswer(200, `{"user_id":1,"x":1}`)), docs)
	assert.Equal(t, verdictSame, r.Verdict)

	r = compare("a/doc", "", run("post", ref), run("post", jsonAnswer(200, `{"user_id":"1","x":1}`, "Cache-Control", "no-store")), docs)
	assert.Equal(t, verdictDocumented, r.Verdict)
	assert.Equal(t, []string{"cc", "uid"}, r.Docs)

	// $S is the reference's own value: "2" for 1 is a difference.
	r = compare("a/other-id", "", run("post", ref), run("post", jsonAnswer(200, `{"user_id":"2","x":1}`)), docs)
	assert.Equal(t, verdictDiffer, r.Verdict)

	// Scenarios and NotScenarios bound an entry.
	got := jsonAnswer(200, `{"user_id":1,"x":2}`)
	assert.Equal(t, verdictDocumented, compare("b/yes", "", run("post", ref), run("post", got), docs).Verdict)
	assert.Equal(t, verdictDiffer, compare("b/not-this", "", run("post", ref), run("post", got), docs).Verdict)
	assert.Equal(t, verdictDiffer, compare("c/no", "", run("post", ref), run("post", got), docs).Verdict)

	// Want replaces the reference's answer of its step: jwtpair must give
	// it exactly (aspect entries still apply), and then nothing else.
	refused := jsonAnswer(401, `{"detail":"No"}`, "WWW-Authenticate", `Bearer realm="api"`, "Cache-Control", "no-store")
	r = compare("w/x", "", run("post", ref), run("post", refused), docs)
	assert.Equal(t, verdictDocumented, r.Verdict)
	assert.Equal(t, []string{"cc", "want"}, r.Docs)
	assert.Equal(t, "200", r.Steps[0].Replaced.get("status"))
	r = compare("w/x", "", run("post", ref), run("post", jsonAnswer(401, `{"detail":"No","code":"x"}`, "WWW-Authenticate", `Bearer realm="api"`)), docs)
	assert.Equal(t, verdictDiffer, r.Verdict)
	assert.Equal(t, verdictDiffer, compare("w/x", "", run("hello", ref), run("hello", refused), docs).Verdict, "another step keeps the reference's answer")

	// A missing step, a mislabelled step or a problem is a difference.
	assert.Equal(t, verdictDiffer, compare("a/steps", "", sideRun{steps: []step{run("post", ref).steps[0], run("post", ref).steps[0]}}, run("post", ref), docs).Verdict)
	assert.Equal(t, verdictDiffer, compare("a/label", "", run("post", ref), run("hello", ref), docs).Verdict)
	assert.Equal(t, verdictDiffer, compare("a/fx", "", run("post", ref), sideRun{steps: run("post", ref).steps, problems: []string{"fixture x"}}, docs).Verdict)
}

// TestDocumentedEntries checks the list itself: every entry complete,
// its regexps valid, and each bounded entry reaching at least one scenario.
func TestDocumentedEntries(t *testing.T) {
	_, err := compileDocumented(Documented)
	require.NoError(t, err)
	ids := map[string]bool{}
	var scenarioIDs []string
	for _, s := range scenarios() {
		scenarioIDs = append(scenarioIDs, s.id)
	}
	for _, d := range Documented {
		assert.False(t, ids[d.ID], "%s: id used twice", d.ID)
		ids[d.ID] = true
		assert.Regexp(t, `^[a-z0-9-]+$`, d.ID)
		assert.Contains(t, []Kind{Deliberate, Version, ReferenceBug}, d.Kind, d.ID)
		assert.NotEmpty(t, d.What, d.ID)
		assert.NotEmpty(t, d.Why, d.ID)
		if d.Kind == Version {
			assert.NotEmpty(t, d.Upstream, "%s: a version difference names the upstream change", d.ID)
		}
		if d.Want != nil {
			assert.NotEmpty(t, d.Step, "%s: Want replaces the answer of a named step", d.ID)
			assert.Empty(t, d.Aspect+d.Simplejwt+d.Jwtpair, "%s: Want or an aspect, not both", d.ID)
			_, ok := decodeJSON([]byte(d.Want.Body))
			assert.True(t, ok, "%s: Want.Body is JSON", d.ID)
			assert.NotEmpty(t, d.Scenarios, "%s: a Want is bounded to scenarios", d.ID)
		} else {
			assert.NotEmpty(t, d.Aspect, "%s: an aspect entry names its aspect", d.ID)
		}
		if d.Scenarios != "" {
			re := regexp.MustCompile(d.Scenarios)
			n := 0
			for _, id := range scenarioIDs {
				if re.MatchString(id) {
					n++
				}
			}
			assert.Positive(t, n, "%s: Scenarios %q matches no scenario", d.ID, d.Scenarios)
		}
	}
}

func TestScenarioTable(t *testing.T) {
	list := scenarios()
	require.NoError(t, checkScenarioIDs(list))
	assert.GreaterOrEqual(t, len(list), 100)
	assert.Error(t, checkScenarioIDs(append(list, list[0])), "a duplicate id is refused")
}

func TestSignRaw(t *testing.T) {
	// RFC 7515 appendix A.1's example: header, payload and HMAC key.
	key := []byte{3, 35, 53, 75, 43, 15, 165, 188, 131, 126, 6, 101, 119, 123, 166, 143, 90, 179, 40, 230, 240, 84, 201, 40, 169, 15, 132, 178, 210, 80, 46, 191, 211, 251, 90, 146, 210, 6, 71, 239, 150, 138, 180, 195, 119, 98, 61, 34, 61, 46, 33, 114, 5, 46, 79, 8, 192, 205, 154, 245, 103, 208, 128, 163}
	got := signRaw("{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}", "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}", key, "HS256")
	assert.Equal(t, "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", got)
	assert.True(t, strings.HasSuffix(signRaw(`{"alg":"none"}`, `{}`, nil, "none"), "."))
}
