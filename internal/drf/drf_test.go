package drf

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The expected texts below are Python 3.11's (json.load of a UTF-8
// codecs reader, as DRF's JSONParser calls it), copied from its output.
// compat's TestPythonParity compares thousands more against Python itself.

func TestJSONParseErrors(t *testing.T) {
	for body, want := range map[string]string{
		`{"refresh":`:                         "JSON parse error - Expecting value: line 1 column 12 (char 11)",
		`{"username":"admin",`:                "JSON parse error - Expecting property name enclosed in double quotes: line 1 column 21 (char 20)",
		`{'a':1}`:                             "JSON parse error - Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
		"  \n ":                               "JSON parse error - Expecting value: line 2 column 2 (char 4)",
		"\xef\xbb\xbf{}":                      "JSON parse error - Unexpected UTF-8 BOM (decode using utf-8-sig): line 1 column 1 (char 0)",
		`{"a":1} x`:                           "JSON parse error - Extra data: line 1 column 9 (char 8)",
		"{\"a\":\"x\ty\"}":                    "JSON parse error - Invalid control character at: line 1 column 8 (char 7)",
		`{"a":"\x"}`:                          `JSON parse error - Invalid \escape: line 1 column 7 (char 6)`,
		`{"a":"\u12"}`:                        `JSON parse error - Invalid \uXXXX escape: line 1 column 8 (char 7)`,
		`{"a":"\u12g4"}`:                      `JSON parse error - Invalid \uXXXX escape: line 1 column 8 (char 7)`,
		`{"a":"\ud800\u12g4"}`:                `JSON parse error - Invalid \uXXXX escape: line 1 column 14 (char 13)`,
		`{"a":"b`:                             "JSON parse error - Unterminated string starting at: line 1 column 6 (char 5)",
		`[1,]`:                                "JSON parse error - Expecting value: line 1 column 4 (char 3)",
		`{"a":1,}`:                            "JSON parse error - Expecting property name enclosed in double quotes: line 1 column 8 (char 7)",
		`{"a" 1}`:                             "JSON parse error - Expecting ':' delimiter: line 1 column 6 (char 5)",
		`{"a":1 "b":2}`:                       "JSON parse error - Expecting ',' delimiter: line 1 column 8 (char 7)",
		"{\"a\":\"\xff\"}":                    "JSON parse error - 'utf-8' codec can't decode byte 0xff in position 6: invalid start byte",
		"{\"a\":\"\xe2(\xa1\"}":               "JSON parse error - 'utf-8' codec can't decode byte 0xe2 in position 6: invalid continuation byte",
		"{\"a\":\"\xf0\x9f(\x80\"}":           "JSON parse error - 'utf-8' codec can't decode bytes in position 6-7: invalid continuation byte",
		"{\"a\":\"\xed\xa0\x80\"}":            "JSON parse error - 'utf-8' codec can't decode byte 0xed in position 6: invalid continuation byte",
		"\n\n  {\"a\":\n  }":                  "JSON parse error - Expecting value: line 4 column 3 (char 12)",
		"\"\xc3\xa4\xc3\xa4":                  "JSON parse error - Unterminated string starting at: line 1 column 1 (char 0)",
		"{\"\xc3\xa4\":tru}":                  "JSON parse error - Expecting value: line 1 column 6 (char 5)", // positions count code points
		`-`:                                   "JSON parse error - Expecting value: line 1 column 1 (char 0)",
		`01`:                                  "JSON parse error - Extra data: line 1 column 2 (char 1)",
		`[1e]`:                                "JSON parse error - Expecting ',' delimiter: line 1 column 3 (char 2)",
		`NaN`:                                 "JSON parse error - Out of range float values are not JSON compliant: 'NaN'",
		`{"a":-Infinity}`:                     "JSON parse error - Out of range float values are not JSON compliant: '-Infinity'",
		`[` + strings.Repeat("1", 4301) + `]`: "JSON parse error - Exceeds the limit (4300 digits) for integer string conversion: value has 4301 digits; use sys.set_int_max_str_digits() to increase the limit",
		strings.Repeat(`[`, maxDepth+1):       "JSON parse error - maximum recursion depth exceeded while decoding a JSON array from a unicode string",
		strings.Repeat(`{"a":`, maxDepth+1):   "JSON parse error - maximum recursion depth exceeded while decoding a JSON object from a unicode string",
	} {
		_, err := Parse("application/json", []byte(body))
		var pe *ParseError
		if assert.ErrorAs(t, err, &pe, "%q", body) {
			assert.Equal(t, want, pe.Detail, "%q", body)
		}
	}
	// Nesting up to the bound decodes.
	_, err := Parse("application/json", []byte(strings.Repeat("[", maxDepth)+strings.Repeat("]", maxDepth)))
	assert.Equal(t, &NotAnObjectError{Message: "Invalid data. Expected a dictionary, but got list."}, err)
}

func TestJSONBodies(t *testing.T) {
	// A truncated UTF-8 sequence at the end is dropped by the stream reader.
	d, err := Parse("application/json", []byte("{\"a\":1}\xc3"))
	require.NoError(t, err)
	assert.Equal(t, Value{Kind: Int, Text: "1"}, d.Get("a"))

	for body, want := range map[string]string{
		`[]`: "list", `"x"`: "str", `1`: "int", `1.5`: "float", `true`: "bool",
	} {
		_, err := Parse("application/json", []byte(body))
		assert.Equal(t, &NotAnObjectError{Message: "Invalid data. Expected a dictionary, but got " + want + "."}, err, body)
	}
	_, err = Parse("application/json", []byte(`null`))
	assert.Equal(t, &NotAnObjectError{Message: "No data provided"}, err)

	d, err = Parse("application/json", []byte(`{"s":"a\/\"\\\b\f\n\r\t\u00e4\ud83d\ude00","n":null,"t":true,"i":-0,"f":1e5,"l":[1,{"x":[]}],"o":{},"k":"first","k":"last","\ud800":"lone"}`))
	require.NoError(t, err)
	assert.Equal(t, Value{Kind: String, Text: "a/\"\\\b\f\n\r\tä😀"}, d.Get("s"))
	assert.Equal(t, Value{Kind: Null}, d.Get("n"))
	assert.Equal(t, Value{Kind: Bool, Text: "True"}, d.Get("t"))
	assert.Equal(t, Value{Kind: Int, Text: "0"}, d.Get("i"))
	assert.Equal(t, Value{Kind: Float, Text: "100000.0"}, d.Get("f"))
	assert.Equal(t, List, d.Get("l").Kind)
	assert.Equal(t, Dict, d.Get("o").Kind)
	assert.Nil(t, d.Get("o").Dict, "nested objects are not kept")
	assert.Equal(t, Value{Kind: String, Text: "last"}, d.Get("k"))
	assert.Equal(t, Value{}, d.Get("\uFFFD"), "a key with a lone surrogate is no key a caller asks for")
	assert.Equal(t, Value{}, d.Get("missing"))

	d, err = Parse("application/json", []byte(`{"s":"x\udc00y\ud800\ud800"}`))
	require.NoError(t, err)
	assert.Equal(t, Value{Kind: String, Text: "x\uFFFDy\uFFFD\uFFFD", Surrogate: 0xDC00}, d.Get("s"))
}

func TestPyFloatRepr(t *testing.T) {
	for in, want := range map[string]string{
		"1e5": "100000.0", "1.5": "1.5", "1E+16": "1e+16", "1e-5": "1e-05", "0.0001": "0.0001", "-0.0": "-0.0",
		"1e999": "inf", "-1e999": "-inf", "123456789012345678.0": "1.2345678901234568e+17", "5e-324": "5e-324",
		"1e-400": "0.0", "1.2345678901234567890": "1.2345678901234567", "100.0": "100.0", "1e22": "1e+22",
		"9999999999999998.0": "9999999999999998.0",
	} {
		assert.Equal(t, want, pyFloatRepr(in), in)
	}
}

func TestMediaTypes(t *testing.T) {
	body := []byte(`{"a":"b"}`)
	for _, ct := range []string{"application/json", "Application/JSON", "application/json; charset=utf-8", "application/json; charset",
		"application/json;", " application/json ", `application/json; x="a;b"`, "application/*", "*/*", "*/json"} {
		d, err := Parse(ct, body)
		if assert.NoError(t, err, ct) {
			assert.Equal(t, "b", d.Get("a").Text, ct)
		}
	}
	for _, ct := range []string{"", "*", "text/plain", "text/*", "application/", "json", "application/vnd.api+json", `"application/json"`, "application / json"} {
		_, err := Parse(ct, body)
		assert.Equal(t, &UnsupportedMediaTypeError{ContentType: ct}, err, ct)
	}
	assert.Equal(t, `Unsupported media type "text/plain" in request.`, (&UnsupportedMediaTypeError{ContentType: "text/plain"}).Error())

	// An empty body is no fields, whatever its type.
	d, err := Parse("text/plain", nil)
	require.NoError(t, err)
	assert.Equal(t, Value{}, d.Get("a"))

	// */form-data chooses the multipart parser, which wants "multipart/".
	_, err = Parse("*/form-data; boundary=x", []byte("--x--"))
	assert.Equal(t, &ParseError{Detail: "Multipart form parse error - Invalid Content-Type: */form-data; boundary=x"}, err)
}

func TestForms(t *testing.T) {
	d, err := Parse("application/x-www-form-urlencoded", []byte("a=1&a=2&b=+x+&c&%zz=%4&e=%C3%A4%E2%82%28&f=a;b&&g=\xe4"))
	require.NoError(t, err)
	assert.Equal(t, "2", d.Get("a").Text, "the last value, as QueryDict")
	assert.Equal(t, " x ", d.Get("b").Text)
	assert.Equal(t, Value{Kind: String}, d.Get("c"), "a key without '=' has a blank value")
	assert.Equal(t, "%4", d.Get("%zz").Text, "bad escapes stay")
	assert.Equal(t, "ä\uFFFD(", d.Get("e").Text, "one U+FFFD per maximal invalid subpart")
	assert.Equal(t, "a;b", d.Get("f").Text, "';' separates nothing")
	assert.Equal(t, "ä", d.Get("g").Text, "a body that is not UTF-8 is read as Latin-1")
}

func TestMultipart(t *testing.T) {
	const ct = "multipart/form-data; boundary=XyZ"
	part := func(disposition, value string) string {
		return "--XyZ\r\nContent-Disposition: " + disposition + "\r\n\r\n" + value + "\r\n"
	}
	d, err := Parse(ct, []byte(part(`form-data; name="a"`, "1")+part(`form-data; name="p"; filename="x.txt"`, "file")+
		part(`form-data; name="p"`, "field")+part(`form-data; name="a"`, "2")+part(`form-data; name="skip"; filename="dir/"`, "x")+
		part(`form-data`, "no name")+"--XyZ--\r\n"))
	require.NoError(t, err)
	assert.Equal(t, "2", d.Get("a").Text)
	assert.Equal(t, Value{Kind: File, Text: "x.txt"}, d.Get("p"), "files come after fields")
	assert.Equal(t, Value{}, d.Get("skip"), "a file whose name sanitises to nothing is skipped")

	// A last part without its closing boundary runs to the end.
	d, err = Parse(ct, []byte(part(`form-data; name="a"`, "1")+"--XyZ\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\nrest"))
	require.NoError(t, err)
	assert.Equal(t, "rest", d.Get("b").Text)

	for ct, want := range map[string]string{
		"multipart/form-data":                      "Multipart form parse error - Invalid boundary in multipart: None",
		`multipart/form-data; boundary="a b "`:     "Multipart form parse error - Invalid boundary in multipart: a b ",
		"Multipart/Form-Data; boundary=x":          "Multipart form parse error - Invalid Content-Type: Multipart/Form-Data; boundary=x",
		"multipart/form-data; boundary=" + "\xe4x": "Multipart form parse error - Invalid non-ASCII Content-Type in multipart: multipart/form-data; boundary=\xe4x",
	} {
		_, err := Parse(ct, []byte("x"))
		assert.Equal(t, &ParseError{Detail: want}, err, ct)
	}
}

func TestCharField(t *testing.T) {
	for _, tc := range []struct {
		v    Value
		want string
		errs []string
	}{
		{Value{}, "", []string{MsgRequired}},
		{Value{Kind: Null}, "", []string{MsgNull}},
		{Value{Kind: String, Text: " \t\n\u3000\x1c"}, "", []string{MsgBlank}},
		{Value{Kind: String, Text: "\x1c admin\x1f\u00a0"}, "admin", nil},
		{Value{Kind: String, Text: "\u200badmin\ufeff"}, "\u200badmin\ufeff", nil},
		{Value{Kind: Int, Text: "12"}, "12", nil},
		{Value{Kind: Float, Text: "1.5"}, "1.5", nil},
		{Value{Kind: Bool, Text: "True"}, "", []string{MsgInvalid}},
		{Value{Kind: List}, "", []string{MsgInvalid}},
		{Value{Kind: Dict}, "", []string{MsgInvalid}},
		{Value{Kind: File, Text: "x.txt"}, "", []string{MsgInvalid}},
		{Value{Kind: File, Text: " "}, "", []string{MsgBlank}},
		{Value{Kind: String, Text: "a\x00b"}, "a\x00b", []string{"Null characters are not allowed."}},
		{Value{Kind: String, Text: "\x00\uFFFD", Surrogate: 0xDBFF}, "\x00\uFFFD", []string{"Null characters are not allowed.", "Surrogate characters are not allowed: U+DBFF."}},
	} {
		got, errs := CharField(tc.v)
		assert.Equal(t, tc.errs, errs, "%+v", tc.v)
		if tc.errs == nil || strings.HasPrefix(tc.errs[0], "Null") {
			assert.Equal(t, tc.want, got, "%+v", tc.v)
		}
	}
}

func TestLabel(t *testing.T) {
	for in, want := range map[string]string{"username": "Username", "user_name": "User name", "eMail": "Email", "ädresse": "Ädresse"} {
		assert.Equal(t, want, Label(in))
	}
}

// FuzzParseJSON: Parse never panics, and for valid UTF-8 within the bounds
// Python has (nesting, integer digits) and without the constants DRF
// refuses, it accepts exactly the documents encoding/json accepts; what it
// reads of a top-level object equals encoding/json's reading.
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{`{"username":"admin","password":"x"}`, `{"a":[1,2,{"b":null}],"c":1.5e3}`, `[]`, `{"a":"\ud800"}`, `{`, `{"a":1}x`, " {} ", `{"a":"\u00e4\n"}`, `-0`, `{"a":01}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		d, err := Parse("application/json", []byte(body))
		if !utf8.ValidString(body) || strings.Contains(body, "\ufeff") || strings.ContainsAny(body, "NI") || len(body) == 0 || strings.Count(body, "[")+strings.Count(body, "{") >= maxDepth {
			return
		}
		valid := json.Valid([]byte(body))
		var v any
		dec := json.NewDecoder(strings.NewReader(body))
		dec.UseNumber()
		_ = dec.Decode(&v)
		var pe *ParseError
		switch {
		case err == nil:
			if !valid {
				t.Fatalf("Parse accepts %q, encoding/json does not", body)
			}
			m := v.(map[string]any)
			for k, gv := range m {
				got := d.Get(k)
				if s, ok := gv.(string); ok && got.Surrogate == 0 && (got.Kind != String || got.Text != s) {
					t.Fatalf("%q: %q is %+v, encoding/json reads %q", body, k, got, s)
				}
			}
		case asParseError(err, &pe) && strings.Contains(pe.Detail, "digits"):
		case asParseError(err, &pe):
			if valid {
				t.Fatalf("Parse refuses %q (%s), encoding/json accepts it", body, pe.Detail)
			}
		default: // not an object
			if !valid {
				t.Fatalf("Parse reads %q as a non-object, encoding/json refuses it", body)
			}
		}
	})
}

func asParseError(err error, pe **ParseError) bool {
	p, ok := err.(*ParseError)
	*pe = p
	return ok
}
