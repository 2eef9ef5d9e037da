package jws

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var enc = base64.RawURLEncoding

func TestSplit(t *testing.T) {
	h, p, s := enc.EncodeToString([]byte(`{"alg":"HS256"}`)), enc.EncodeToString([]byte(`{}`)), "c2ln"
	tok := h + "." + p + "." + s
	c, ok := Split(tok)
	require.True(t, ok)
	assert.Equal(t, Compact{Header: h, Payload: p, Signature: s, SigningInput: h + "." + p}, c)

	for name, bad := range map[string]string{
		"empty": "", "one dot": "a.b", "no dot": "abc", "four segments": tok + ".AAAA", "five segments (JWE)": "a.b.c.d.e",
		"empty header": "." + p + "." + s, "empty payload": h + ".." + s, "empty signature": h + "." + p + ".",
		"JSON serialization": `{"payload":"` + p + `"}`, "dots only": "..", "dot flood": strings.Repeat(".", 1<<16),
		"dot flood after three segments": tok + strings.Repeat(".", 1<<16),
	} {
		t.Run(name, func(t *testing.T) {
			c, ok := Split(bad)
			assert.False(t, ok)
			assert.Equal(t, Compact{}, c)
		})
	}
	big := strings.Repeat("A", 1<<16)
	allocs := testing.AllocsPerRun(10, func() { Split(big) })
	assert.Zero(t, allocs)
}

// TestAlphabet: a token of three segments with a byte outside the
// base64url alphabet in any of them is cut by Split, and refused where the
// segment is read: DecodeSegment, for the payload and signature (Key.Open)
// and for a header no key emits (Ring.Lookup).
func TestAlphabet(t *testing.T) {
	h, p, s := enc.EncodeToString([]byte(`{"alg":"HS256"}`)), enc.EncodeToString([]byte(`{"a":1}`)), "c2lnbg"
	for name, tok := range map[string]string{
		"padding": h + "." + p + "." + s + "==", "standard alphabet +": h + "+." + p + "." + s, "standard alphabet /": h + "." + p + "/." + s,
		"space": " " + h + "." + p + "." + s, "newline inside": h + ".\n" + p + "." + s, "carriage return": h + "\r." + p + "." + s,
		"CRLF in the payload": h + "." + p[:4] + "\r\n" + p[4:] + "." + s, "tab": h + "." + p + "." + s + "\t",
		"non-ASCII": h + "." + p + "é." + s, "NUL": h + "\x00." + p + "." + s,
	} {
		t.Run(name, func(t *testing.T) {
			c, ok := Split(tok)
			require.True(t, ok, "three segments")
			var buf [64]byte
			_, hok := DecodeSegment(c.Header, buf[:])
			_, pok := DecodeSegment(c.Payload, buf[:])
			_, sok := DecodeSegment(c.Signature, buf[:])
			assert.False(t, hok && pok && sok, "some segment is refused")
		})
	}
}

func TestDecodeSegment(t *testing.T) {
	var buf [8]byte
	got, ok := DecodeSegment("YWJj", buf[:])
	require.True(t, ok)
	assert.Equal(t, "abc", string(got))
	assert.Same(t, &buf[0], &got[0], "decoded into the buffer")

	long, ok := DecodeSegment(enc.EncodeToString(bytes.Repeat([]byte("x"), 100)), buf[:])
	require.True(t, ok)
	assert.Equal(t, strings.Repeat("x", 100), string(long), "too long for the buffer: a fresh slice")

	for name, bad := range map[string]string{
		"empty": "", "padding": "YWJj" + "=", "padded": "YWI=", "stray bits": "YWJk" + "Z", "non-canonical last char": "YWJ", "standard alphabet": "+/+/",
		"one char": "Y", "space": "YW Jj",
		// encoding/base64 skips CR and LF: the length refuses them.
		"newline, 4n+1 long":     "YW\nJj",
		"newline":                "YWJj\nYQ",
		"carriage return":        "YWJjYW\rJj",
		"CRLF":                   "YWJj\r\nYQ",
		"newlines, 4n long":      "YWJj\n\n\nY",
		"a newline only":         "\n",
		"newline after the text": "YWJjYQ\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, ok := DecodeSegment(bad, buf[:])
			assert.False(t, ok, "%q", bad)
		})
	}
	_, ok = DecodeSegment("YWI", buf[:])
	assert.True(t, ok, "control: canonical two bytes")
	_, ok = DecodeSegment("YWJjYQ", buf[:])
	assert.True(t, ok, "control: the newline cases without their newlines")
}

func TestParseHeader(t *testing.T) {
	for in, want := range map[string]Header{
		`{"alg":"HS256"}`:                              {Alg: "HS256"},
		`{"alg":"HS256","typ":"JWT"}`:                  {Alg: "HS256"},
		`{"typ":"jwt","alg":"ES256","kid":"k1"}`:       {Alg: "ES256", KID: "k1"},
		` { "kid" : "k\u00e9" , "alg" : "RS256" } `:    {Alg: "RS256", KID: "ké"},
		`{"alg":"none","typ":"JwT"}`:                   {Alg: "none"}, // refused later: no key has alg none
		`{"alg":"HS256","kid":"../../../../dev/null"}`: {Alg: "HS256", KID: "../../../../dev/null"},
	} {
		got, ok := ParseHeader([]byte(in))
		require.True(t, ok, in)
		assert.Equal(t, want, got, in)
	}
	for name, bad := range map[string]string{
		"not JSON": "alg=HS256", "array": `["alg"]`, "empty object": `{}`, "no alg": `{"typ":"JWT"}`, "alg twice": `{"alg":"none","alg":"HS256"}`,
		"typ twice": `{"alg":"HS256","typ":"JWT","typ":"JWT"}`, "kid twice": `{"alg":"HS256","kid":"a","kid":"a"}`,
		"alg not a string": `{"alg":["HS256"]}`, "alg null": `{"alg":null}`, "typ JWE": `{"alg":"HS256","typ":"JWE"}`, "typ empty": `{"alg":"HS256","typ":""}`,
		"typ JWTX": `{"alg":"HS256","typ":"JWTX"}`, "kid empty": `{"alg":"HS256","kid":""}`, "kid number": `{"alg":"HS256","kid":1}`,
		"jwk": `{"alg":"HS256","jwk":{"kty":"oct","k":"AAAA"}}`, "jku": `{"alg":"HS256","jku":"http://127.0.0.1:1/"}`,
		"x5u": `{"alg":"HS256","x5u":"http://x"}`, "x5c": `{"alg":"HS256","x5c":["MIIB"]}`, "crit": `{"alg":"HS256","crit":["exp"]}`,
		"b64": `{"alg":"HS256","b64":false,"crit":["b64"]}`, "zip": `{"alg":"HS256","zip":"DEF"}`, "cty": `{"alg":"HS256","cty":"JWT"}`,
		"escaped name": `{"\u0061lg":"HS256"}`, "trailing data": `{"alg":"HS256"}x`, "trailing object": `{"alg":"HS256"}{}`,
		"trailing comma": `{"alg":"HS256",}`, "unterminated": `{"alg":"HS256"`, "invalid UTF-8 kid": "{\"alg\":\"HS256\",\"kid\":\"\xff\"}",
		"lone surrogate kid": `{"alg":"HS256","kid":"\ud800"}`, "upper-case name": `{"ALG":"HS256"}`,
	} {
		t.Run(name, func(t *testing.T) {
			h, ok := ParseHeader([]byte(bad))
			assert.False(t, ok)
			assert.Equal(t, Header{}, h)
		})
	}
}

func TestEncodeHeader(t *testing.T) {
	for _, tc := range []struct{ alg, kid, want string }{
		{"HS256", "", `{"alg":"HS256","typ":"JWT"}`}, // PyJWT's bytes, simplejwt's header
		{"ES256", "k1", `{"alg":"ES256","kid":"k1","typ":"JWT"}`},
		{"HS256", `a"<b`, `{"alg":"HS256","kid":"a\"\u003cb","typ":"JWT"}`},
	} {
		raw, err := enc.DecodeString(encodeHeader(tc.alg, tc.kid))
		require.NoError(t, err)
		assert.Equal(t, tc.want, string(raw))
		h, ok := ParseHeader(raw)
		require.True(t, ok, "what a key emits, ParseHeader reads back")
		assert.Equal(t, Header{Alg: tc.alg, KID: tc.kid}, h)
	}
}

var b64urlRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// FuzzSplit checks Split and DecodeSegment against an oracle of the
// standard library: Split accepts exactly what strings.Split cuts into
// three non-empty parts, and DecodeSegment each part exactly when it is of
// the base64url alphabet (a regular expression) and
// base64.RawURLEncoding.Strict() decodes it to something.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{"a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30.c2ln", "..", "a.b.c.d", "a.b.", "a=.b.c", "a+.b.c", "YWJj.YWI.YW", "Y.YWJk.Z", "a.b\n.c",
		"YW\nJj.YWJj\nYQ.YWJj\r\nYQ", "YWJj\n\n\nY.a.b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		c, ok := Split(tok)
		parts := strings.Split(tok, ".")
		want := len(parts) == 3 && parts[0] != "" && parts[1] != "" && parts[2] != ""
		require.Equal(t, want, ok, "Split(%q)", tok)
		if !ok {
			require.Equal(t, Compact{}, c)
			return
		}
		require.Equal(t, Compact{Header: parts[0], Payload: parts[1], Signature: parts[2], SigningInput: parts[0] + "." + parts[1]}, c)
		for _, p := range parts {
			var buf [16]byte
			got, ok := DecodeSegment(p, buf[:])
			ref, err := base64.RawURLEncoding.Strict().DecodeString(p)
			require.Equal(t, b64urlRE.MatchString(p) && err == nil && len(ref) > 0, ok, "DecodeSegment(%q)", p)
			if ok {
				require.Equal(t, ref, got)
			}
		}
	})
}

// FuzzParseHeader checks ParseHeader against encoding/json: it accepts a
// header exactly when encoding/json reads one object whose member names,
// each written without escapes, are among alg, typ and kid, each once,
// each value a string, alg present, typ "JWT" in any case, kid not empty,
// and the strings pass strictjson's list (valid UTF-8, no lone surrogate
// escapes: checked here as encoding/json's decoding of the text with
// every escape made a plain letter, which is what a decoder that read no
// surrogate alone would give); then it returns the same alg and kid.
func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{`{"alg":"HS256","typ":"JWT"}`, `{"alg":"ES256","kid":"k","typ":"jwt"}`, `{"alg":"a","alg":"a"}`, `{"\u0061lg":"HS256"}`,
		`{"alg":"HS256","kid":""}`, `{"alg":"x","kid":"\ud800"}`, `{"alg":"x","jku":"u"}`, ` {"alg" : "x"} `, `{"alg":"x"}x`, `{"typ":"JWT"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := ParseHeader(b)
		want, wantOK := referenceHeader(t, b)
		require.Equal(t, wantOK, ok, "ParseHeader(%q)", b)
		require.Equal(t, want, got)
	})
}

// surrogateRE matches, left to right, each escape of JSON text: a high
// surrogate with the low one after it if any (groups 1, 3), a lone low
// surrogate (group 4), any other escape.
var surrogateRE = regexp.MustCompile(`(?i)\\u(d[89ab][0-9a-f]{2})(\\u(d[c-f][0-9a-f]{2}))?|\\u(d[c-f][0-9a-f]{2})|\\.`)

func referenceHeader(t *testing.T, b []byte) (Header, bool) {
	if !json.Valid(b) || !validText(b) {
		return Header{}, false
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		return Header{}, false
	}
	var h Header
	seen := map[string]bool{}
	for d.More() {
		tok, err := d.Token()
		require.NoError(t, err)
		name := tok.(string)
		// An escaped name is longer than its text: the raw name before the
		// decoder's position must be exactly "name".
		if !bytes.HasSuffix(b[:d.InputOffset()], []byte(`"`+name+`"`)) {
			return Header{}, false
		}
		var v any
		require.NoError(t, d.Decode(&v))
		s, isString := v.(string)
		if !isString || seen[name] {
			return Header{}, false
		}
		seen[name] = true
		switch name {
		case "alg":
			h.Alg = s
		case "kid":
			if s == "" {
				return Header{}, false
			}
			h.KID = s
		case "typ":
			if !strings.EqualFold(s, "JWT") {
				return Header{}, false
			}
		default:
			return Header{}, false
		}
	}
	_, err := d.Token()
	require.NoError(t, err)
	if _, err := d.Token(); err != io.EOF {
		return Header{}, false
	}
	if !seen["alg"] {
		return Header{}, false
	}
	return h, true
}

// validText reports whether JSON text (json.Valid) holds only valid UTF-8
// and no lone surrogate escape.
func validText(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, m := range surrogateRE.FindAllSubmatch(b, -1) {
		if len(m[4]) > 0 || len(m[1]) > 0 && len(m[3]) == 0 {
			return false
		}
	}
	return true
}
