package compat

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The routes both servers serve. The sliding routes are this test's
// choice (simplejwt has views, not paths, for them): obtain and refresh at
// /api/token/sliding/ and /api/token/sliding/refresh/ (and jwtpair's
// sliding logout at /api/token/sliding/blacklist/), and /sliding/hello/,
// the protected view that accepts access and sliding tokens (simplejwt's
// AUTH_TOKEN_CLASSES = (AccessToken, SlidingToken)); /hello/ accepts access
// tokens only, as the seed tutorials configure it.
const (
	pObtain         = "/api/token/"
	pRefresh        = "/api/token/refresh/"
	pVerify         = "/api/token/verify/"
	pBlacklist      = "/api/token/blacklist/"
	pSlidingObtain  = "/api/token/sliding/"
	pSlidingRefresh = "/api/token/sliding/refresh/"
	pSlidingLogout  = "/api/token/sliding/blacklist/" // jwtpair's: simplejwt has no sliding logout view
	pHello          = "/hello/"
	pSlidingHello   = "/sliding/hello/"
)

// scenario is one case of the differential test: run sends its requests
// to one side and records the answers. Step labels name what the
// Documented entries refer to: "post" for the call to a token endpoint
// under test, "hello" for the call to a protected route.
type scenario struct {
	id, desc string
	run      func(c *client)
}

// otherKey signs the tokens of "another key".
var otherKey = []byte("another-secret-of-at-least-32-bytes!!")

var admin = jsonBody(obj{"username": "admin", "password": "admin"})

func refreshReq(tok string) request   { return post(pRefresh, jsonBody(obj{"refresh": tok})) }
func verifyReq(tok string) request    { return post(pVerify, jsonBody(obj{"token": tok})) }
func blacklistReq(tok string) request { return post(pBlacklist, jsonBody(obj{"refresh": tok})) }
func helloReq(tok string) request     { return get(pHello, bearer(tok)) }

// adminJSON is the obtain body with one field's JSON value replaced
// ("" leaves the field out).
func adminJSON(field, value string) body {
	parts := []string{}
	for _, f := range []string{"username", "password"} {
		v := `"admin"`
		if f == field {
			v = value
		}
		if v != "" {
			parts = append(parts, fmt.Sprintf("%q:%s", f, v))
		}
	}
	return rawJSON("{" + strings.Join(parts, ",") + "}")
}

// badValues are the wrong values of a string field, as JSON ("" leaves it out).
var badValues = []struct{ name, json string }{
	{"missing", ""},
	{"blank", `""`},
	{"whitespace", `"   "`},
	{"null", `null`},
	{"number", `123`},
	{"float", `1.5`},
	{"true", `true`},
	{"false", `false`},
	{"array", `["admin"]`},
	{"empty-array", `[]`},
	{"object", `{"value":"admin"}`},
	{"empty-object", `{}`},
}

func scenarios() []scenario {
	var all []scenario
	for _, group := range [][]scenario{
		flowScenarios(), obtainScenarios(), tokenFieldScenarios(), methodScenarios(), pathScenarios(),
		headerScenarios(), handmadeAccessScenarios(), handmadeEndpointScenarios(), slidingScenarios(), crossScenarios(),
	} {
		all = append(all, group...)
	}
	return all
}

// The seed tutorials' flows.
func flowScenarios() []scenario {
	return []scenario{
		{"flow/login", "log in as admin (seed: http post /api/token/ username=admin password=admin)", func(c *client) {
			c.do("post", post(pObtain, admin))
		}},
		{"flow/login-carol", "log in as another user", func(c *client) {
			c.do("post", post(pObtain, jsonBody(obj{"username": "carol", "password": "carol"})))
		}},
		{"flow/hello-get", "GET /hello/ with the login's access token (seed)", func(c *client) {
			a, _ := c.admin()
			c.do("hello", helloReq(a))
		}},
		{"flow/hello-post", "POST /hello/ with the access token, no body", func(c *client) {
			a, _ := c.admin()
			c.do("hello", post(pHello, body{}, bearer(a)))
		}},
		{"flow/hello-post-json", "POST /hello/ with the access token and a JSON body", func(c *client) {
			a, _ := c.admin()
			c.do("hello", post(pHello, rawJSON(`{"x":1}`), bearer(a)))
		}},
		{"flow/hello-carol", "another user's access token on /hello/", func(c *client) {
			a, _ := c.login("carol", "carol")
			c.do("hello", helloReq(a))
		}},
		{"flow/refresh", "refresh with the login's refresh token (seed)", func(c *client) {
			_, r := c.admin()
			c.do("post", refreshReq(r))
		}},
		{"flow/refresh-then-hello", "the access token a refresh returns works on /hello/", func(c *client) {
			_, r := c.admin()
			a, _ := c.rotate(r)
			c.do("hello", helloReq(a))
		}},
		{"flow/refresh-chain", "refresh with the refresh token of a refresh of a refresh", func(c *client) {
			_, r := c.admin()
			_, r2 := c.rotate(r)
			_, r3 := c.rotate(r2)
			c.do("post", refreshReq(r3))
		}},
		{"flow/rotated-reuse", "refresh again with a refresh token already rotated (blacklisted after rotation)", func(c *client) {
			_, r := c.admin()
			c.rotate(r)
			c.do("post", refreshReq(r))
		}},
		{"flow/reuse-revokes-successor", "after a rotated token is replayed, refresh with its successor", func(c *client) {
			_, r := c.admin()
			_, r2 := c.rotate(r)
			c.setup("replay", refreshReq(r))
			c.do("refresh successor", refreshReq(r2))
		}},
		{"flow/logout-rotated-revokes-successor", "after logging out with a rotated token, refresh with its successor", func(c *client) {
			_, r := c.admin()
			_, r2 := c.rotate(r)
			c.setup("logout rotated", blacklistReq(r))
			c.do("refresh successor", refreshReq(r2))
		}},
		{"flow/rotated-old-access", "the access token of a rotated pair still works (stateless access)", func(c *client) {
			a, r := c.admin()
			c.rotate(r)
			c.do("hello", helloReq(a))
		}},
		{"flow/verify-access", "verify the login's access token", func(c *client) {
			a, _ := c.admin()
			c.do("post", verifyReq(a))
		}},
		{"flow/verify-refresh", "verify the login's refresh token", func(c *client) {
			_, r := c.admin()
			c.do("post", verifyReq(r))
		}},
		{"flow/verify-rotated-refresh", "verify a refresh token already rotated", func(c *client) {
			_, r := c.admin()
			c.rotate(r)
			c.do("post", verifyReq(r))
		}},
		{"flow/blacklist", "log out: blacklist the refresh token", func(c *client) {
			_, r := c.admin()
			c.do("post", blacklistReq(r))
		}},
		{"flow/refresh-after-blacklist", "refresh with a blacklisted refresh token", func(c *client) {
			_, r := c.admin()
			c.setup("logout", blacklistReq(r))
			c.do("post", refreshReq(r))
		}},
		{"flow/verify-after-blacklist", "verify a blacklisted refresh token", func(c *client) {
			_, r := c.admin()
			c.setup("logout", blacklistReq(r))
			c.do("post", verifyReq(r))
		}},
		{"flow/blacklist-twice", "blacklist the same refresh token twice", func(c *client) {
			_, r := c.admin()
			c.setup("logout", blacklistReq(r))
			c.do("post", blacklistReq(r))
		}},
		{"flow/hello-after-blacklist", "the access token of a blacklisted refresh token on /hello/", func(c *client) {
			a, r := c.admin()
			c.setup("logout", blacklistReq(r))
			c.do("hello", helloReq(a))
		}},
		{"flow/blacklist-access-token", "blacklist with an access token", func(c *client) {
			a, _ := c.admin()
			c.do("post", blacklistReq(a))
		}},
		{"flow/refresh-with-access-token", "refresh with an access token", func(c *client) {
			a, _ := c.admin()
			c.do("post", refreshReq(a))
		}},
		{"flow/hello-with-refresh-token", "a refresh token on /hello/", func(c *client) {
			_, r := c.admin()
			c.do("hello", helloReq(r))
		}},
	}
}

// The obtain endpoint's inputs.
func obtainScenarios() []scenario {
	var s []scenario
	for _, field := range []string{"username", "password"} {
		for _, v := range badValues {
			s = append(s, scenario{"obtain/" + field + "-" + v.name, "obtain with " + field + " " + v.name, func(c *client) {
				c.do("post", post(pObtain, adminJSON(field, v.json)))
			}})
		}
	}
	add := func(id, desc string, b body) {
		s = append(s, scenario{"obtain/" + id, desc, func(c *client) { c.do("post", post(pObtain, b)) }})
	}
	add("empty-object", "obtain with {}", rawJSON(`{}`))
	add("blank-both", "obtain with both fields blank", rawJSON(`{"username":"","password":""}`))
	add("null-both", "obtain with both fields null", rawJSON(`{"username":null,"password":null}`))
	add("wrong-password", "obtain with a wrong password", jsonBody(obj{"username": "admin", "password": "nope"}))
	add("unknown-user", "obtain for a user that does not exist", jsonBody(obj{"username": "nobody", "password": "admin"}))
	add("inactive-user", "obtain for an inactive user with the right password", jsonBody(obj{"username": "inactive", "password": "inactive"}))
	add("password-spaces", `obtain with password " admin " (DRF trims CharFields)`, jsonBody(obj{"username": "admin", "password": " admin "}))
	add("username-spaces", `obtain with username " admin "`, jsonBody(obj{"username": " admin ", "password": "admin"}))
	add("password-tab-newline", `obtain with password "\tadmin\n"`, jsonBody(obj{"username": "admin", "password": "\tadmin\n"}))
	add("username-uppercase", "obtain with username ADMIN", jsonBody(obj{"username": "ADMIN", "password": "admin"}))
	add("username-unicode-escape", `obtain with username "\u0061dmin"`, rawJSON(`{"username":"\u0061dmin","password":"admin"}`))
	add("username-non-ascii", "obtain with a non-ASCII username", jsonBody(obj{"username": "ädmin", "password": "admin"}))
	add("username-long", "obtain with a 300-character username", jsonBody(obj{"username": strings.Repeat("a", 300), "password": "admin"}))
	add("extra-field", "obtain with an extra field", rawJSON(`{"username":"admin","password":"admin","remember":true}`))
	add("duplicate-keys", "obtain with username given twice in the JSON object (last wins in Python)", rawJSON(`{"username":"nobody","username":"admin","password":"admin"}`))
	add("oversize-body", "obtain with valid credentials in a 70 KiB JSON body", jsonBody(obj{"username": "admin", "password": "admin", "pad": strings.Repeat("x", 70<<10)}))

	// Content types.
	adminText := `{"username":"admin","password":"admin"}`
	add("ct-json-charset", "obtain as application/json; charset=utf-8", raw("application/json; charset=utf-8", adminText))
	add("ct-json-latin1", "obtain as application/json; charset=latin-1", raw("application/json; charset=latin-1", adminText))
	add("ct-json-uppercase", "obtain as Application/JSON", raw("Application/JSON", adminText))
	add("ct-form", "obtain as a urlencoded form", formBody("username", "admin", "password", "admin"))
	add("ct-form-charset", "obtain as application/x-www-form-urlencoded; charset=UTF-8", raw("application/x-www-form-urlencoded; charset=UTF-8", "username=admin&password=admin"))
	add("ct-multipart", "obtain as multipart/form-data (a browser FormData post)", multipartBody("username", "admin", "password", "admin"))
	add("ct-text-plain", "obtain with a JSON body sent as text/plain", raw("text/plain", adminText))
	add("ct-text-plain-charset", "obtain with a JSON body sent as text/plain; charset=utf-8", raw("text/plain; charset=utf-8", adminText))
	add("ct-none", "obtain with a JSON body and no Content-Type", raw("", adminText))
	add("ct-none-empty", "obtain with neither body nor Content-Type", body{})
	add("ct-json-empty", "obtain as application/json with an empty body", rawJSON(""))
	add("ct-param-without-value", "obtain as application/json; charset (malformed media type)", raw("application/json; charset", adminText))
	add("ct-trailing-semicolon", "obtain as application/json;", raw("application/json;", adminText))
	add("ct-no-subtype", "obtain as application/ (malformed media type)", raw("application/", adminText))
	add("ct-garbage", "obtain as json (malformed media type)", raw("json", adminText))
	add("ct-vnd-json", "obtain as application/vnd.api+json", raw("application/vnd.api+json", adminText))
	add("ct-wildcard", "obtain as */*", raw("*/*", adminText))
	add("ct-wildcard-subtype", "obtain as application/*", raw("application/*", adminText))
	add("ct-wildcard-text", "obtain with a JSON body sent as text/*", raw("text/*", adminText))
	add("ct-quoted-param", `obtain as application/json; x="a;b"`, raw(`application/json; x="a;b"`, adminText))
	add("ct-spaces", "obtain as ' application/json ' (surrounding spaces)", raw(" application/json ", adminText))
	add("ct-text-plain-empty", "obtain as text/plain with an empty body (no parser is chosen for an empty body)", raw("text/plain", ""))
	add("ct-xml", "obtain as application/xml", raw("application/xml", "<username>admin</username>"))
	add("form-repeated-username", "obtain with username twice in a form (last wins in Django)", formBody("username", "nobody", "username", "admin", "password", "admin"))
	add("form-missing-password", "obtain as a form without password", formBody("username", "admin"))
	add("form-blank-password", "obtain as a form with a blank password", formBody("username", "admin", "password", ""))
	add("form-password-spaces", `obtain as a form with password " admin "`, formBody("username", "admin", "password", " admin "))
	add("multipart-missing-password", "obtain as multipart without password", multipartBody("username", "admin"))
	add("multipart-wrong-password", "obtain as multipart with a wrong password", multipartBody("username", "admin", "password", "nope"))
	add("multipart-password-spaces", `obtain as multipart with password " admin "`, multipartBody("username", "admin", "password", " admin "))
	add("multipart-repeated-username", "obtain as multipart with username twice (the last wins)", multipartBody("username", "nobody", "username", "admin", "password", "admin"))
	add("multipart-file-password", "obtain as multipart with the password sent as a file (FormData with a Blob)", multipartFile("password", "pw.txt", "admin", "username", "admin"))
	add("multipart-no-boundary", "obtain as multipart/form-data without a boundary parameter", raw("multipart/form-data", "--x\r\n"))
	add("multipart-bad-boundary", "obtain as multipart/form-data with a boundary ending in a space", raw(`multipart/form-data; boundary="ab "`, "--ab \r\n"))
	add("multipart-unclosed", "obtain as multipart whose last part has no closing boundary", multipartUnclosed("username", "admin", "password", "admin"))
	add("multipart-uppercase-type", "obtain as Multipart/Form-Data (Django's parser wants it lower-case)", body{ct: strings.Replace(multipartBody("username", "admin", "password", "admin").ct, "multipart/form-data", "Multipart/Form-Data", 1), data: multipartBody("username", "admin", "password", "admin").data})
	add("form-latin1", "obtain as a form with a raw Latin-1 byte (not UTF-8: Django decodes the body as Latin-1)", raw("application/x-www-form-urlencoded", "username=admin&password=adm\xefn"))
	add("form-bad-percent", "obtain as a form with invalid percent escapes", raw("application/x-www-form-urlencoded", "username=admin&password=%zz%4"))
	add("form-percent-utf8", "obtain as a form with a percent-encoded UTF-8 password and a truncated sequence", raw("application/x-www-form-urlencoded", "username=admin&password=%C3%A4%E2%82"))
	add("form-semicolon", "obtain as a form separated by a semicolon (not a separator)", raw("application/x-www-form-urlencoded", "username=admin;password=admin"))
	add("form-no-equals", "obtain as a form whose keys have no '=' (blank values)", raw("application/x-www-form-urlencoded", "username&password"))

	// Body shapes.
	add("json-malformed", "obtain with truncated JSON", rawJSON(`{"username":"admin",`))
	add("json-single-quotes", "obtain with single-quoted pseudo-JSON", rawJSON(`{'username':'admin','password':'admin'}`))
	add("json-array", "obtain with a JSON array body", rawJSON(`[]`))
	add("json-array-of-object", "obtain with the credentials wrapped in an array", rawJSON(`[{"username":"admin","password":"admin"}]`))
	add("json-string", "obtain with a JSON string body", rawJSON(`"admin"`))
	add("json-number", "obtain with a JSON number body", rawJSON(`42`))
	add("json-null", "obtain with a JSON null body", rawJSON(`null`))
	add("json-true", "obtain with a JSON true body", rawJSON(`true`))
	add("json-whitespace", "obtain with a whitespace-only JSON body", rawJSON("  \n "))
	add("json-trailing-garbage", "obtain with garbage after the JSON object", rawJSON(adminText+` x`))
	add("json-bom", "obtain with a UTF-8 byte-order mark before the JSON", rawJSON("\ufeff"+adminText))
	add("json-invalid-utf8", "obtain with invalid UTF-8 in a JSON string", rawJSON("{\"username\":\"adm\xffin\",\"password\":\"admin\"}"))
	add("json-truncated-utf8", "obtain with a JSON body ending in the first byte of a UTF-8 sequence (Python's stream reader drops it)", rawJSON(adminText+"\xc3"))
	add("json-deep", "obtain with 5000 nested JSON arrays (past Python's recursion limit)", rawJSON(strings.Repeat("[", 5000)))
	add("json-deep-ok", "obtain with 900 nested JSON arrays (within Python's recursion limit)", rawJSON(strings.Repeat("[", 900)+strings.Repeat("]", 900)))
	add("json-nan", "obtain with NaN as the password (DRF's strict JSON)", rawJSON(`{"username":"admin","password":NaN}`))
	add("json-big-int", "obtain with a 4301-digit number as the password (Python's int digit limit)", rawJSON(`{"username":"admin","password":1`+strings.Repeat("0", 4300)+`}`))
	add("json-float-exponent", "obtain with the password 1e5 (str(float) is 100000.0)", rawJSON(`{"username":"admin","password":1e5}`))
	add("json-nul-char", `obtain with a NUL character in the password ("Null characters are not allowed.")`, rawJSON(`{"username":"admin","password":"ad\u0000min"}`))
	add("json-lone-surrogate", `obtain with a lone surrogate escape in the password ("Surrogate characters are not allowed")`, rawJSON(`{"username":"admin","password":"\ud800admin"}`))
	add("json-escaped-control", "obtain with a raw control character inside a JSON string", rawJSON("{\"username\":\"admin\",\"password\":\"ad\tmin\"}"))
	add("json-bad-escape", `obtain with an invalid \x escape in a JSON string`, rawJSON(`{"username":"admin","password":"\x41"}`))
	add("json-multiline-error", "obtain with a parse error on the third line (line and column counted as Python does)", rawJSON("{\n  \"username\": \"ädmin\",\n  \"password\": \n}"))
	add("username-info-separator", `obtain with username "\u001cadmin\u001f" (Python's str.strip removes U+001C..U+001F)`, rawJSON(`{"username":"\u001cadmin\u001f","password":"admin"}`))
	add("username-nbsp", `obtain with username "\u00a0admin\u3000" (Unicode white space, trimmed)`, rawJSON(`{"username":"\u00a0admin\u3000","password":"admin"}`))

	s = append(s, scenario{"obtain/credentials-in-query", "obtain with the credentials in the query string and no body", func(c *client) {
		c.do("post", request{method: http.MethodPost, path: pObtain + "?username=admin&password=admin"})
	}})
	return s
}

// Bad values of the token field of refresh, verify and blacklist, and the
// other content types for them.
func tokenFieldScenarios() []scenario {
	var s []scenario
	eps := []struct{ name, path, field string }{
		{"refresh", pRefresh, "refresh"}, {"verify", pVerify, "token"}, {"blacklist", pBlacklist, "refresh"},
	}
	for _, ep := range eps {
		for _, v := range badValues {
			b := rawJSON("{}")
			if v.json != "" {
				b = rawJSON(fmt.Sprintf(`{%q:%s}`, ep.field, v.json))
			}
			s = append(s, scenario{ep.name + "/" + ep.field + "-" + v.name, ep.name + " with " + ep.field + " " + v.name, func(c *client) {
				c.do("post", post(ep.path, b))
			}})
		}
		add := func(id, desc string, run func(c *client)) {
			s = append(s, scenario{ep.name + "/" + id, ep.name + " " + desc, run})
		}
		add("garbage", "with a token that is not a JWT", func(c *client) {
			c.do("post", post(ep.path, jsonBody(obj{ep.field: "not.a.token"})))
		})
		add("wrong-field", "with the token under another field name", func(c *client) {
			_, r := c.admin()
			other := map[string]string{"refresh": "token", "token": "refresh"}[ep.field]
			c.do("post", post(ep.path, jsonBody(obj{other: r})))
		})
		add("ct-form", "with the token in a urlencoded form", func(c *client) {
			_, r := c.admin()
			c.do("post", post(ep.path, formBody(ep.field, r)))
		})
		add("ct-multipart", "with the token in multipart/form-data", func(c *client) {
			_, r := c.admin()
			c.do("post", post(ep.path, multipartBody(ep.field, r)))
		})
		add("ct-text-plain", "with a JSON body sent as text/plain", func(c *client) {
			_, r := c.admin()
			c.do("post", post(ep.path, raw("text/plain", mustJSON(obj{ep.field: r}))))
		})
		add("json-malformed", "with truncated JSON", func(c *client) {
			c.do("post", post(ep.path, rawJSON(`{"`+ep.field+`":`)))
		})
		add("json-array", "with a JSON array body", func(c *client) {
			c.do("post", post(ep.path, rawJSON(`["x"]`)))
		})
		add("no-body", "with neither body nor Content-Type", func(c *client) {
			c.do("post", post(ep.path, body{}))
		})
		add("token-spaces", "with the token surrounded by spaces", func(c *client) {
			_, r := c.admin()
			c.do("post", post(ep.path, jsonBody(obj{ep.field: " " + r + " "})))
		})
	}
	return s
}

// Every method on every endpoint.
func methodScenarios() []scenario {
	var s []scenario
	eps := []struct{ id, path string }{
		{"obtain", pObtain}, {"refresh", pRefresh}, {"verify", pVerify}, {"blacklist", pBlacklist},
		{"sliding/obtain", pSlidingObtain}, {"sliding/refresh", pSlidingRefresh},
	}
	for _, ep := range eps {
		for _, m := range []string{"GET", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE", "PROPFIND"} {
			s = append(s, scenario{ep.id + "/method-" + strings.ToLower(m), m + " " + ep.path, func(c *client) {
				c.do("post", request{method: m, path: ep.path})
			}})
		}
	}
	for _, m := range []string{"PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"} {
		s = append(s, scenario{"hello/method-" + strings.ToLower(m), m + " /hello/ with a valid access token", func(c *client) {
			a, _ := c.admin()
			c.do("hello", request{method: m, path: pHello, header: [][2]string{bearer(a)}})
		}})
	}
	for _, m := range []string{"PUT", "OPTIONS", "HEAD"} {
		s = append(s, scenario{"hello/nocred-method-" + strings.ToLower(m), m + " /hello/ without credentials", func(c *client) {
			c.do("hello", request{method: m, path: pHello})
		}})
	}
	return s
}

// Paths beside the routes.
func pathScenarios() []scenario {
	withAdmin := func(path string) func(c *client) {
		return func(c *client) { c.do("post", post(path, admin)) }
	}
	return []scenario{
		{"path/obtain-subpath", "POST valid credentials to /api/token/anything/", withAdmin("/api/token/anything/")},
		{"path/obtain-no-slash", "POST valid credentials to /api/token (no trailing slash)", withAdmin("/api/token")},
		{"path/obtain-double-slash", "POST valid credentials to /api/token//", withAdmin("/api/token//")},
		{"path/obtain-uppercase", "POST valid credentials to /API/TOKEN/", withAdmin("/API/TOKEN/")},
		{"path/obtain-dot-segment", "POST valid credentials to /api/token/refresh/../", withAdmin("/api/token/refresh/../")},
		{"path/obtain-query", "POST valid credentials to /api/token/?next=/", withAdmin("/api/token/?next=/")},
		{"path/refresh-subpath", "POST a refresh token to /api/token/refresh/x/", func(c *client) {
			_, r := c.admin()
			c.do("post", post("/api/token/refresh/x/", jsonBody(obj{"refresh": r})))
		}},
		{"path/verify-subpath", "POST a token to /api/token/verify/x/", func(c *client) {
			a, _ := c.admin()
			c.do("post", post("/api/token/verify/x/", jsonBody(obj{"token": a})))
		}},
		{"path/blacklist-subpath", "POST a refresh token to /api/token/blacklist/x/", func(c *client) {
			_, r := c.admin()
			c.do("post", post("/api/token/blacklist/x/", jsonBody(obj{"refresh": r})))
		}},
		{"path/hello-subpath", "GET /hello/x/ with a valid access token", func(c *client) {
			a, _ := c.admin()
			c.do("hello", get("/hello/x/", bearer(a)))
		}},
		{"path/hello-no-slash", "GET /hello with a valid access token", func(c *client) {
			a, _ := c.admin()
			c.do("hello", get("/hello", bearer(a)))
		}},
		{"path/unknown", "GET /nothere/", func(c *client) { c.do("get", get("/nothere/")) }},
	}
}

// Every form of the Authorization header on /hello/.
func headerScenarios() []scenario {
	auth := func(id, desc string, value func(a string) []string) scenario {
		return scenario{"hello/" + id, desc, func(c *client) {
			a, _ := c.admin()
			r := get(pHello)
			for _, v := range value(a) {
				r.header = append(r.header, [2]string{"Authorization", v})
			}
			c.do("hello", r)
		}}
	}
	one := func(format string) func(string) []string {
		return func(a string) []string { return []string{strings.ReplaceAll(format, "TOKEN", a)} }
	}
	return []scenario{
		{"hello/nocred-no-header", "GET /hello/ without Authorization", func(c *client) { c.do("hello", get(pHello)) }},
		auth("nocred-empty-header", "Authorization: (empty)", one("")),
		auth("nocred-basic", "Authorization: Basic (another scheme)", one("Basic YWRtaW46YWRtaW4=")),
		auth("nocred-token-scheme", "Authorization: Token TOKEN (DRF's TokenAuthentication scheme)", one("Token TOKEN")),
		auth("nocred-jwt-scheme", "Authorization: JWT TOKEN (djangorestframework-jwt's scheme)", one("JWT TOKEN")),
		auth("nocred-other-then-bearer", "two headers: Basic first, then Bearer TOKEN", func(a string) []string {
			return []string{"Basic YWRtaW46YWRtaW4=", "Bearer " + a}
		}),
		auth("bearer-alone", "Authorization: Bearer", one("Bearer")),
		auth("two-spaces", "Authorization: Bearer  TOKEN (two spaces)", one("Bearer  TOKEN")),
		auth("tab", "Authorization: Bearer<TAB>TOKEN", one("Bearer\tTOKEN")),
		auth("scheme-lowercase", "Authorization: bearer TOKEN", one("bearer TOKEN")),
		auth("scheme-uppercase", "Authorization: BEARER TOKEN", one("BEARER TOKEN")),
		auth("three-parts", "Authorization: Bearer TOKEN extra", one("Bearer TOKEN extra")),
		auth("two-headers", "two Authorization: Bearer TOKEN headers", func(a string) []string {
			return []string{"Bearer " + a, "Bearer " + a}
		}),
		auth("bearer-null", "Authorization: Bearer null (a frontend without a token)", one("Bearer null")),
		auth("bearer-undefined", "Authorization: Bearer undefined", one("Bearer undefined")),
		auth("garbage", "Authorization: Bearer not.a.token", one("Bearer not.a.token")),
		auth("quoted-token", `Authorization: Bearer "TOKEN"`, one(`Bearer "TOKEN"`)),
		auth("non-ascii", "Authorization: Bearer with non-ASCII bytes", one("Bearer tökén")),
		auth("token-with-comma", "Authorization: Bearer TOKEN,", one("Bearer TOKEN,")),
	}
}

// Hand-made tokens on /hello/, signed with the shared secret unless said.
func handmadeAccessScenarios() []scenario {
	tok := func(id, desc string, make func(c *client) string) scenario {
		return scenario{"token/" + id, desc, func(c *client) {
			c.do("hello", helloReq(make(c)))
		}}
	}
	claims := func(id, desc string, edit func(m map[string]any) map[string]any) scenario {
		return tok(id, desc, func(c *client) string { return c.mint(edit(claimsOf("access"))) })
	}
	header := func(id, desc string, kv ...any) scenario {
		return tok(id, desc, func(c *client) string {
			h := with(hs256Header, kv...)
			return c.mintHeader(h, claimsOf("access"))
		})
	}
	rawTok := func(id, desc string, make func(c *client) string) scenario { return tok(id, desc, make) }
	accessPayload := func() string { return mustJSON(claimsOf("access")) }
	return []scenario{
		claims("valid", "simplejwt 5.2.2's access claims, user_id 1 (a number)", func(m map[string]any) map[string]any { return m }),
		claims("user-id-string", `user_id "1" (a string, as 5.5.1 mints)`, func(m map[string]any) map[string]any { return with(m, "user_id", "1") }),
		claims("user-id-carol", "user_id 2", func(m map[string]any) map[string]any { return with(m, "user_id", 2) }),
		claims("user-id-unknown", "user_id of no user (99)", func(m map[string]any) map[string]any { return with(m, "user_id", 99) }),
		claims("user-id-inactive", "user_id of the inactive user (3)", func(m map[string]any) map[string]any { return with(m, "user_id", 3) }),
		claims("user-id-null", "user_id null", func(m map[string]any) map[string]any { return with(m, "user_id", nil) }),
		claims("no-user-id", "no user_id claim", func(m map[string]any) map[string]any { return without(m, "user_id") }),
		claims("no-exp", "no exp claim", func(m map[string]any) map[string]any { return without(m, "exp") }),
		claims("no-jti", "no jti claim", func(m map[string]any) map[string]any { return without(m, "jti") }),
		claims("no-type", "no token_type claim", func(m map[string]any) map[string]any { return without(m, "token_type") }),
		claims("no-iat", "no iat claim", func(m map[string]any) map[string]any { return without(m, "iat") }),
		claims("type-refresh", "token_type refresh (a refresh token as access)", func(m map[string]any) map[string]any { return with(m, "token_type", "refresh") }),
		claims("type-sliding", "token_type sliding on /hello/", func(m map[string]any) map[string]any {
			return with(m, "token_type", "sliding", "refresh_exp", fromNow(24*time.Hour))
		}),
		claims("type-unknown", "token_type id_token", func(m map[string]any) map[string]any { return with(m, "token_type", "id_token") }),
		claims("expired", "exp a minute ago", func(m map[string]any) map[string]any {
			return with(m, "exp", ago(time.Minute), "iat", ago(6*time.Minute))
		}),
		claims("expired-long-ago", "exp in 2018 (the seed's token's exp)", func(m map[string]any) map[string]any {
			return with(m, "exp", 1543828431, "iat", 1543828131)
		}),
		claims("exp-float", "exp as a fractional number", func(m map[string]any) map[string]any { return with(m, "exp", float64(fromNow(5*time.Minute))+0.5) }),
		claims("nbf-future", "nbf an hour ahead", func(m map[string]any) map[string]any { return with(m, "nbf", fromNow(time.Hour)) }),
		claims("nbf-past", "nbf a minute ago", func(m map[string]any) map[string]any { return with(m, "nbf", ago(time.Minute)) }),
		claims("iat-future", "iat an hour ahead", func(m map[string]any) map[string]any { return with(m, "iat", fromNow(time.Hour)) }),
		claims("extra-claims", "custom claims beside simplejwt's", func(m map[string]any) map[string]any {
			return with(m, "role", "admin", "scope", []string{"a", "b"})
		}),
		claims("jti-short", `jti "abc"`, func(m map[string]any) map[string]any { return with(m, "jti", "abc") }),
		claims("jti-number", "jti 12345 (a number)", func(m map[string]any) map[string]any { return with(m, "jti", 12345) }),
		claims("aud", `aud "someone-else" (no audience configured)`, func(m map[string]any) map[string]any { return with(m, "aud", "someone-else") }),
		claims("iss", `iss "someone-else" (no issuer configured)`, func(m map[string]any) map[string]any { return with(m, "iss", "someone-else") }),
		claims("oversize", "a validly signed 9 KiB access token", func(m map[string]any) map[string]any { return with(m, "pad", strings.Repeat("x", 9<<10)) }),
		rawTok("other-key", "signed with another key", func(c *client) string {
			return signRaw(mustJSON(hs256Header), accessPayload(), otherKey, "HS256")
		}),
		rawTok("seed-tutorial", "the seed tutorial's token, verbatim (another key, expired)", func(*client) string {
			return "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIiwiZXhwIjoxNTQ1MjI0MjAwLCJqdGkiOiJlMGQxZDY2MjE5ODc0ZTY3OWY0NjM0ZWU2NTQ2YTIwMCIsInVzZXJfaWQiOjF9.9eHat3CvRQYnb5EdcgYFzUyMobXzxlAVh_IAgqyvzCE"
		}),
		rawTok("alg-none", `alg "none", no signature`, func(*client) string {
			return signRaw(`{"alg":"none","typ":"JWT"}`, accessPayload(), nil, "none")
		}),
		rawTok("alg-none-signed", `alg "none" with an HS256 signature`, func(c *client) string {
			return signRaw(`{"alg":"none","typ":"JWT"}`, accessPayload(), c.secret, "HS256")
		}),
		header("alg-hs512", "alg HS512, signed with the shared secret", "alg", "HS512"),
		header("alg-hs384", "alg HS384, signed with the shared secret", "alg", "HS384"),
		rawTok("alg-lowercase", `alg "hs256"`, func(c *client) string {
			return signRaw(`{"alg":"hs256","typ":"JWT"}`, accessPayload(), c.secret, "HS256")
		}),
		rawTok("alg-rs256-hmac", "alg RS256 with an HMAC signature (key confusion)", func(c *client) string {
			return signRaw(`{"alg":"RS256","typ":"JWT"}`, accessPayload(), c.secret, "HS256")
		}),
		rawTok("typ-missing", "no typ header", func(c *client) string {
			return signRaw(`{"alg":"HS256"}`, accessPayload(), c.secret, "HS256")
		}),
		header("typ-lowercase", `typ "jwt"`, "typ", "jwt"),
		header("typ-at-jwt", `typ "at+jwt" (RFC 9068)`, "typ", "at+jwt"),
		header("header-kid", `kid "k1" (the HMAC key has none)`, "kid", "k1"),
		header("header-jku", "jku header member", "jku", "https://attacker.example/jwks.json"),
		header("header-x5u", "x5u header member", "x5u", "https://attacker.example/cert.pem"),
		header("header-jwk", "jwk header member", "jwk", map[string]any{"kty": "oct", "k": "c2VjcmV0"}),
		header("header-x5c", "x5c header member", "x5c", []string{"MIIB"}),
		header("header-crit", `crit ["exp"] header member`, "crit", []string{"exp"}),
		header("header-b64", "b64 false header member", "b64", false),
		header("header-zip", `zip "DEF" header member`, "zip", "DEF"),
		header("header-custom", "an unknown header member", "foo", "bar"),
		rawTok("header-not-json", "a header that is not JSON", func(c *client) string {
			return signRaw(`not json`, accessPayload(), c.secret, "HS256")
		}),
		rawTok("payload-not-json", "a payload that is not JSON", func(c *client) string {
			return signRaw(mustJSON(hs256Header), `not json`, c.secret, "HS256")
		}),
		rawTok("payload-array", "a payload that is a JSON array", func(c *client) string {
			return signRaw(mustJSON(hs256Header), `[1,2]`, c.secret, "HS256")
		}),
		rawTok("duplicate-claims", "user_id twice in the payload (1, then 2)", func(c *client) string {
			m := claimsOf("access")
			p := fmt.Sprintf(`{"token_type":"access","exp":%v,"iat":%v,"jti":%q,"user_id":1,"user_id":2}`, m["exp"], m["iat"], m["jti"])
			return signRaw(mustJSON(hs256Header), p, c.secret, "HS256")
		}),
		rawTok("padded", "base64url segments with = padding", func(c *client) string {
			t := c.mint(claimsOf("access"))
			parts := strings.Split(t, ".")
			for i, p := range parts {
				parts[i] = p + strings.Repeat("=", (4-len(p)%4)%4)
			}
			return strings.Join(parts, ".")
		}),
		rawTok("two-segments", "a token of two segments", func(c *client) string {
			t := c.mint(claimsOf("access"))
			return t[:strings.LastIndex(t, ".")]
		}),
		rawTok("four-segments", "a token of four segments", func(c *client) string { return c.mint(claimsOf("access")) + ".x" }),
		rawTok("empty-signature", "a valid header and payload with an empty signature", func(c *client) string {
			t := c.mint(claimsOf("access"))
			return t[:strings.LastIndex(t, ".")+1]
		}),
		rawTok("bad-signature", "a signature with one character changed", func(c *client) string {
			t := []byte(c.mint(claimsOf("access")))
			i := len(t) - 5
			if t[i] == 'A' {
				t[i] = 'B'
			} else {
				t[i] = 'A'
			}
			return string(t)
		}),
	}
}

// Hand-made tokens on the token endpoints.
func handmadeEndpointScenarios() []scenario {
	ep := func(id, desc, path, field string, make func(c *client) string) scenario {
		return scenario{id, desc, func(c *client) {
			c.do("post", post(path, jsonBody(obj{field: make(c)})))
		}}
	}
	refresh := func(id, desc string, edit func(m map[string]any) map[string]any) scenario {
		return ep("refresh/handmade-"+id, "refresh with a hand-made refresh token: "+desc, pRefresh, "refresh", func(c *client) string {
			return c.mint(edit(claimsOf("refresh")))
		})
	}
	verify := func(id, desc, typ string, edit func(m map[string]any) map[string]any) scenario {
		return ep("verify/handmade-"+id, "verify a hand-made token: "+desc, pVerify, "token", func(c *client) string {
			return c.mint(edit(claimsOf(typ)))
		})
	}
	blacklist := func(id, desc string, edit func(m map[string]any) map[string]any) scenario {
		return ep("blacklist/handmade-"+id, "blacklist a hand-made refresh token: "+desc, pBlacklist, "refresh", func(c *client) string {
			return c.mint(edit(claimsOf("refresh")))
		})
	}
	same := func(m map[string]any) map[string]any { return m }
	return []scenario{
		refresh("never-issued", "validly signed, never issued by this server", same),
		refresh("user-id-string", `never issued, user_id "1"`, func(m map[string]any) map[string]any { return with(m, "user_id", "1") }),
		refresh("expired", "exp a minute ago", func(m map[string]any) map[string]any {
			return with(m, "exp", ago(time.Minute), "iat", ago(24*time.Hour))
		}),
		ep("refresh/handmade-other-key", "refresh with a hand-made refresh token: signed with another key", pRefresh, "refresh", func(c *client) string {
			return signRaw(mustJSON(hs256Header), mustJSON(claimsOf("refresh")), otherKey, "HS256")
		}),
		refresh("no-exp", "no exp", func(m map[string]any) map[string]any { return without(m, "exp") }),
		refresh("no-jti", "no jti", func(m map[string]any) map[string]any { return without(m, "jti") }),
		refresh("no-type", "no token_type", func(m map[string]any) map[string]any { return without(m, "token_type") }),
		refresh("no-user-id", "no user_id", func(m map[string]any) map[string]any { return without(m, "user_id") }),
		refresh("inactive-user", "for the inactive user (3)", func(m map[string]any) map[string]any { return with(m, "user_id", 3) }),
		refresh("deleted-user", "for a user that does not exist (99)", func(m map[string]any) map[string]any { return with(m, "user_id", 99) }),
		refresh("old-iat", "issued an hour ago", func(m map[string]any) map[string]any {
			return with(m, "iat", ago(time.Hour), "exp", fromNow(23*time.Hour))
		}),
		refresh("type-sliding", "a sliding token", func(map[string]any) map[string]any { return claimsOf("sliding") }),
		verify("access-expired", "an access token whose exp has passed", "access", func(m map[string]any) map[string]any {
			return with(m, "exp", ago(time.Minute), "iat", ago(6*time.Minute))
		}),
		verify("no-type", "an access token without token_type", "access", func(m map[string]any) map[string]any { return without(m, "token_type") }),
		verify("type-unknown", `token_type "id_token"`, "access", func(m map[string]any) map[string]any { return with(m, "token_type", "id_token") }),
		verify("no-jti", "an access token without jti", "access", func(m map[string]any) map[string]any { return without(m, "jti") }),
		verify("no-exp", "an access token without exp", "access", func(m map[string]any) map[string]any { return without(m, "exp") }),
		verify("no-user-id", "an access token without user_id", "access", func(m map[string]any) map[string]any { return without(m, "user_id") }),
		verify("never-issued-refresh", "a validly signed refresh token never issued", "refresh", same),
		ep("verify/handmade-alg-none", `verify an alg "none" token`, pVerify, "token", func(c *client) string {
			return signRaw(`{"alg":"none","typ":"JWT"}`, mustJSON(claimsOf("access")), nil, "none")
		}),
		ep("verify/handmade-other-key", "verify a token signed with another key", pVerify, "token", func(c *client) string {
			return signRaw(mustJSON(hs256Header), mustJSON(claimsOf("access")), otherKey, "HS256")
		}),
		blacklist("never-issued", "validly signed, never issued by this server", same),
		blacklist("expired", "exp a minute ago", func(m map[string]any) map[string]any {
			return with(m, "exp", ago(time.Minute), "iat", ago(24*time.Hour))
		}),
		blacklist("no-jti", "no jti", func(m map[string]any) map[string]any { return without(m, "jti") }),
		blacklist("type-sliding", "a sliding token", func(map[string]any) map[string]any { return claimsOf("sliding") }),
	}
}

// Sliding tokens (simplejwt's TokenObtainSlidingView, TokenRefreshSlidingView).
func slidingScenarios() []scenario {
	obtainSliding := func(c *client) string {
		r := c.setup("obtain sliding", post(pSlidingObtain, admin))
		return r.str("token")
	}
	slidingRefresh := func(id, desc string, edit func(m map[string]any) map[string]any) scenario {
		return scenario{"sliding/refresh-" + id, "sliding refresh with a hand-made sliding token: " + desc, func(c *client) {
			c.do("post", post(pSlidingRefresh, jsonBody(obj{"token": c.mint(edit(claimsOf("sliding")))})))
		}}
	}
	return []scenario{
		{"sliding/obtain", "obtain a sliding token", func(c *client) { c.do("post", post(pSlidingObtain, admin)) }},
		{"sliding/obtain-wrong-password", "obtain a sliding token with a wrong password", func(c *client) {
			c.do("post", post(pSlidingObtain, jsonBody(obj{"username": "admin", "password": "nope"})))
		}},
		{"sliding/obtain-missing-password", "obtain a sliding token without password", func(c *client) {
			c.do("post", post(pSlidingObtain, adminJSON("password", "")))
		}},
		{"sliding/obtain-inactive-user", "obtain a sliding token for the inactive user", func(c *client) {
			c.do("post", post(pSlidingObtain, jsonBody(obj{"username": "inactive", "password": "inactive"})))
		}},
		{"sliding/obtain-form", "obtain a sliding token with a form", func(c *client) {
			c.do("post", post(pSlidingObtain, formBody("username", "admin", "password", "admin")))
		}},
		{"sliding/hello", "the sliding token on /sliding/hello/", func(c *client) {
			t := obtainSliding(c)
			c.do("hello", get(pSlidingHello, bearer(t)))
		}},
		{"sliding/hello-access", "an access token on /sliding/hello/", func(c *client) {
			a, _ := c.admin()
			c.do("hello", get(pSlidingHello, bearer(a)))
		}},
		{"sliding/hello-garbage", "a garbage token on /sliding/hello/ (a message per token class)", func(c *client) {
			c.do("hello", get(pSlidingHello, bearer("not.a.token")))
		}},
		{"sliding/hello-refresh-token", "a refresh token on /sliding/hello/", func(c *client) {
			_, r := c.admin()
			c.do("hello", get(pSlidingHello, bearer(r)))
		}},
		{"sliding/hello-nocred", "/sliding/hello/ without credentials", func(c *client) { c.do("hello", get(pSlidingHello)) }},
		{"sliding/hello-handmade", "a hand-made sliding token on /sliding/hello/", func(c *client) {
			c.do("hello", get(pSlidingHello, bearer(c.mint(claimsOf("sliding")))))
		}},
		{"sliding/hello-expired", "a hand-made sliding token whose exp passed, on /sliding/hello/", func(c *client) {
			c.do("hello", get(pSlidingHello, bearer(c.mint(with(claimsOf("sliding"), "exp", ago(time.Minute))))))
		}},
		{"sliding/token-on-hello", "a sliding token on /hello/ (access tokens only)", func(c *client) {
			t := obtainSliding(c)
			c.do("hello", helloReq(t))
		}},
		{"sliding/refresh", "refresh a sliding token: same jti and refresh_exp, new exp", func(c *client) {
			t := obtainSliding(c)
			r := c.do("post", post(pSlidingRefresh, jsonBody(obj{"token": t})))
			before, after := payloadOf(t), payloadOf(r.str("token"))
			c.fact("jti kept", fmt.Sprint(before != nil && after != nil && before["jti"] == after["jti"]))
			c.fact("refresh_exp kept", fmt.Sprint(before != nil && after != nil && before["refresh_exp"] == after["refresh_exp"]))
		}},
		{"sliding/refresh-then-hello", "the refreshed sliding token on /sliding/hello/", func(c *client) {
			t := obtainSliding(c)
			r := c.setup("refresh sliding", post(pSlidingRefresh, jsonBody(obj{"token": t})))
			c.do("hello", get(pSlidingHello, bearer(r.str("token"))))
		}},
		{"sliding/refresh-access-token", "sliding refresh with an access token", func(c *client) {
			a, _ := c.admin()
			c.do("post", post(pSlidingRefresh, jsonBody(obj{"token": a})))
		}},
		{"sliding/refresh-refresh-token", "sliding refresh with a refresh token", func(c *client) {
			_, r := c.admin()
			c.do("post", post(pSlidingRefresh, jsonBody(obj{"token": r})))
		}},
		{"sliding/refresh-missing", "sliding refresh without the token field", func(c *client) {
			c.do("post", post(pSlidingRefresh, rawJSON(`{}`)))
		}},
		{"sliding/refresh-blank", "sliding refresh with a blank token", func(c *client) {
			c.do("post", post(pSlidingRefresh, rawJSON(`{"token":""}`)))
		}},
		slidingRefresh("handmade", "validly signed, never issued", func(m map[string]any) map[string]any { return m }),
		slidingRefresh("refresh-exp-past", "refresh_exp a minute ago, exp ahead", func(m map[string]any) map[string]any {
			return with(m, "refresh_exp", ago(time.Minute))
		}),
		slidingRefresh("no-refresh-exp", "no refresh_exp", func(m map[string]any) map[string]any { return without(m, "refresh_exp") }),
		slidingRefresh("expired", "exp a minute ago, refresh_exp ahead", func(m map[string]any) map[string]any {
			return with(m, "exp", ago(time.Minute))
		}),
		slidingRefresh("user-id-string", `user_id "1"`, func(m map[string]any) map[string]any { return with(m, "user_id", "1") }),
		{"sliding/verify", "verify a sliding token", func(c *client) {
			t := obtainSliding(c)
			c.do("post", verifyReq(t))
		}},
		{"sliding/blacklist-endpoint", "the blacklist endpoint with a sliding token", func(c *client) {
			t := obtainSliding(c)
			c.do("post", blacklistReq(t))
		}},
		{"sliding/refresh-endpoint", "the pair refresh endpoint with a sliding token", func(c *client) {
			t := obtainSliding(c)
			c.do("post", refreshReq(t))
		}},
		{"sliding/logout", "log out with a sliding token (jwtpair's endpoint; simplejwt has none), then refresh it", func(c *client) {
			t := obtainSliding(c)
			c.do("logout", post(pSlidingLogout, jsonBody(obj{"token": t})))
			c.do("refresh after logout", post(pSlidingRefresh, jsonBody(obj{"token": t})))
		}},
	}
}

// Tokens minted by one server presented to both.
func crossScenarios() []scenario {
	var s []scenario
	for _, minter := range []string{"simplejwt", "jwtpair"} {
		fx := func(name string) func(c *client) string {
			return func(c *client) string { return c.fixture(minter + "/" + name) }
		}
		add := func(id, desc string, run func(c *client)) {
			s = append(s, scenario{"xmint/" + minter + "-" + id, minter + "-minted " + desc, run})
		}
		add("access-hello", "access token on /hello/", func(c *client) { c.do("hello", get(pHello, bearer(fx("access")(c)))) })
		add("access-sliding-hello", "access token on /sliding/hello/", func(c *client) {
			c.do("hello", get(pSlidingHello, bearer(fx("access")(c))))
		})
		add("access-verify", "access token verified", func(c *client) {
			c.do("post", verifyReq(fx("access")(c)))
		})
		add("refresh", "refresh token refreshed", func(c *client) {
			c.do("post", refreshReq(fx("refresh")(c)))
		})
		add("refresh-verify", "refresh token verified", func(c *client) {
			c.do("post", verifyReq(fx("refresh-verify")(c)))
		})
		add("refresh-blacklist", "refresh token blacklisted", func(c *client) {
			c.do("post", blacklistReq(fx("refresh-logout")(c)))
		})
		add("sliding-hello", "sliding token on /sliding/hello/", func(c *client) {
			c.do("hello", get(pSlidingHello, bearer(fx("sliding")(c))))
		})
		add("sliding-refresh", "sliding token refreshed", func(c *client) {
			c.do("post", post(pSlidingRefresh, jsonBody(obj{"token": fx("sliding")(c)})))
		})
	}
	return s
}

// gatherFixtures logs in on one server for the cross-minting scenarios:
// tokens named "access", "refresh", "refresh-verify", "refresh-logout",
// "sliding", keyed "<side>/<name>", with "<side>/<name>#why" saying why
// one is missing.
func gatherFixtures(c *client, into map[string]string) {
	set := func(name string, r reply, field string) {
		key := c.side + "/" + name
		if v := r.str(field); v != "" {
			into[key] = v
			return
		}
		into[key+"#why"] = fmt.Sprintf("the login answered %d without %q", r.status, field)
	}
	a := c.setup("login", post(pObtain, admin))
	set("access", a, "access")
	set("refresh", a, "refresh")
	set("refresh-verify", c.setup("login", post(pObtain, admin)), "refresh")
	set("refresh-logout", c.setup("login", post(pObtain, admin)), "refresh")
	set("sliding", c.setup("login sliding", post(pSlidingObtain, admin)), "token")
}
