package strictjson

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nest returns the text of a value nested n arrays deep.
func nest(n int) string { return strings.Repeat("[", n) + "1" + strings.Repeat("]", n) }

// nestObjects returns the text of a value nested n objects deep.
func nestObjects(n int) string { return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) }

// TestValidate: each input, by hand, with the verdict; every accepted one
// is also json.Valid, and every refusal names its kind.
func TestValidate(t *testing.T) {
	accepted := []string{
		`0`, `-0`, `1.5e-3`, `1E+2`, `-12.0e7`, `123456789012345678901234567890`,
		`"a"`, `""`, `"\u00e9"`, `"\uD83D\uDE00"`, `"\ud83d\ude00"`, `"a\ud800\udc00b"`, `"\/\b\f\n\r\t\\\""`,
		`"é"`, `"\u0000"`, "\"\x7f\"", `"\ufffd"`, "\"\uFFFD\"",
		`true`, `false`, `null`, `[]`, `{}`, ` { "a" : [1, {"b":null}] } `, "\t\r\n[ ]\n",
		`{"a":1,"a":2}`, nest(MaxDepth), nestObjects(MaxDepth), `[` + nest(MaxDepth-1) + `,{}]`,
	}
	for _, in := range accepted {
		t.Run("accepts "+in[:min(len(in), 40)], func(t *testing.T) {
			require.NoError(t, Validate([]byte(in)))
			assert.True(t, json.Valid([]byte(in)))
		})
	}
	refused := map[string]error{
		``: ErrSyntax, ` `: ErrSyntax, `01`: ErrSyntax, `1.`: ErrSyntax, `.5`: ErrSyntax, `+1`: ErrSyntax, `1e`: ErrSyntax,
		`1e+`: ErrSyntax, `-`: ErrSyntax, `tru`: ErrSyntax, `nul`: ErrSyntax, `True`: ErrSyntax, `[1,]`: ErrSyntax,
		`{"a":1,}`: ErrSyntax, `{"a"}`: ErrSyntax, `{a:1}`: ErrSyntax, `'a'`: ErrSyntax, `"a`: ErrSyntax,
		`"\x"`: ErrSyntax, `"\u12"`: ErrSyntax, `"\u12g4"`: ErrSyntax, "\"a\nb\"": ErrSyntax, "\"\x00\"": ErrSyntax,
		`[1 2]`: ErrSyntax, `1 2`: ErrSyntax, `{"a":1}x`: ErrSyntax, `NaN`: ErrSyntax, `Infinity`: ErrSyntax,
		"\xef\xbb\xbf1": ErrSyntax, "\xff": ErrSyntax, `{"a":1`: ErrSyntax, `[`: ErrSyntax, `"\`: ErrSyntax, `"\u`: ErrSyntax,
		// Invalid UTF-8 in strings: encoding/json accepts it.
		"\"\xff\"": ErrUTF8, "\"a\xc3\"": ErrUTF8, "\"\xed\xa0\x80\"": ErrUTF8, "\"\xc0\xaf\"": ErrUTF8, "{\"\xfe\":1}": ErrUTF8,
		// Lone surrogate escapes: encoding/json reads each as U+FFFD.
		`"\ud800"`: ErrSurrogate, `"a\uDBFF"`: ErrSurrogate, `"\udc00"`: ErrSurrogate, `"\ud800b"`: ErrSurrogate,
		`"\ud800\u0041"`: ErrSurrogate, `"\ud800\ud800"`: ErrSurrogate, `"\udc00\ud800"`: ErrSurrogate,
		`"\ud800\n"`: ErrSurrogate, `{"\udfff":1}`: ErrSurrogate,
		// Malformed after a high surrogate: the surrogate is what is reported.
		`"\ud800\`: ErrSurrogate, `"\ud800\u"`: ErrSurrogate,
		`[1,["\ud800"]]`: ErrSurrogate,
		// Depth: encoding/json accepts 10000 levels.
		nest(MaxDepth + 1): ErrDepth, nestObjects(MaxDepth + 1): ErrDepth, `[` + nest(MaxDepth) + `]`: ErrDepth,
	}
	for in, want := range refused {
		t.Run("refuses "+strconv.Quote(in[:min(len(in), 40)]), func(t *testing.T) {
			assert.ErrorIs(t, Validate([]byte(in)), want)
			if want != ErrSyntax && !strings.HasSuffix(in, `\`) && !strings.HasSuffix(in, `\u"`) {
				assert.True(t, json.Valid([]byte(in)), "a deliberate refusal of what encoding/json accepts")
			}
		})
	}
}

func TestScanners(t *testing.T) {
	t.Run("String", func(t *testing.T) {
		b := []byte(`x "ab\ncd" y`)
		s, e, esc, next, err := String(b, 2)
		require.NoError(t, err)
		assert.Equal(t, `ab\ncd`, string(b[s:e]))
		assert.True(t, esc)
		assert.Equal(t, 10, next)
		s, e, esc, next, err = String([]byte(`"plain"`), 0)
		require.NoError(t, err)
		assert.Equal(t, []int{1, 6, 7}, []int{s, e, next})
		assert.False(t, esc)
		_, _, _, _, err = String(b, 0)
		assert.ErrorIs(t, err, ErrSyntax, "not at a quote")
		_, _, _, _, err = String(b, len(b))
		assert.ErrorIs(t, err, ErrSyntax, "at the end")
	})
	t.Run("Member", func(t *testing.T) {
		b := []byte(`{ "k\u0031" : 7 }`)
		s, e, esc, v, err := Member(b, 2)
		require.NoError(t, err)
		assert.Equal(t, `k\u0031`, string(b[s:e]))
		assert.True(t, esc)
		assert.Equal(t, byte('7'), b[v])
		for _, bad := range []string{`"k" 1`, `"k"`, `k:1`, `"k":`} {
			_, _, _, v, err := Member([]byte(bad), 0)
			if bad == `"k":` {
				require.NoError(t, err, "the value is the caller's to scan")
				assert.Equal(t, 4, v)
				continue
			}
			assert.ErrorIs(t, err, ErrSyntax, bad)
		}
	})
	t.Run("Number", func(t *testing.T) {
		for in, text := range map[string]string{"12,": "12", "-0.5e+3]": "-0.5e+3", "0x": "0", "7": "7", "1E9 ": "1E9"} {
			next, err := Number([]byte(in), 0)
			require.NoError(t, err, in)
			assert.Equal(t, text, in[:next])
		}
		for _, bad := range []string{"", "-", "a", "1.e3", "1e", "--1", ".1"} {
			_, err := Number([]byte(bad), 0)
			assert.ErrorIs(t, err, ErrSyntax, bad)
		}
	})
	t.Run("StringValue", func(t *testing.T) {
		for in, want := range map[string]string{
			`"plain"`: "plain", `"a\"b\\c\/d"`: `a"b\c/d`, `"\u00e9\n"`: "é\n", `"\ud83d\ude00"`: "\U0001F600", `"é"`: "é", `""`: "",
		} {
			got, next, err := StringValue([]byte(in+","), 0)
			require.NoError(t, err, in)
			assert.Equal(t, want, got, in)
			assert.Equal(t, len(in), next)
		}
	})
	t.Run("SkipSpace", func(t *testing.T) {
		assert.Equal(t, 4, SkipSpace([]byte(" \t\r\nx"), 0))
		assert.Equal(t, 0, SkipSpace([]byte("\vx"), 0), "only JSON white space")
		assert.Equal(t, 3, SkipSpace([]byte("   "), 1))
	})
	t.Run("Skip stops after the value", func(t *testing.T) {
		b := []byte(`[1,{"a":"]"}] tail`)
		next, err := Skip(b, 0)
		require.NoError(t, err)
		assert.Equal(t, " tail", string(b[next:]))
	})
}

// TestCheckMarshaled: json.Marshal output that would not come back as the
// value it was written from.
func TestCheckMarshaled(t *testing.T) {
	for name, tc := range map[string]struct {
		v    any
		want error
	}{
		"plain":                        {map[string]any{"a": []any{1, "é", nil}}, nil},
		"U+FFFD itself":                {"é\uFFFD", nil},
		"backslash text ufffd":         {`\ufffd`, nil},
		"surrogate pair":               {json.RawMessage(`"\ud83d\ude00"`), nil},
		"escaped letters":              {json.RawMessage(`"\u0041\\u"`), nil},
		"MaxDepth":                     {json.RawMessage(nest(MaxDepth)), nil},
		"invalid string":               {"x\xff", ErrRewritten},
		"invalid map key":              {map[string]int{"k\xfe": 1}, ErrRewritten},
		"raw \\ufffd":                  {json.RawMessage(`"\ufffd"`), ErrRewritten},
		"raw invalid bytes":            {json.RawMessage("\"a\xffb\""), ErrUTF8},
		"raw lone high":                {json.RawMessage(`"\ud800x"`), ErrSurrogate},
		"raw lone low":                 {json.RawMessage(`"\udc00"`), ErrSurrogate},
		"raw high at end":              {json.RawMessage(`["\ud800"]`), ErrSurrogate},
		"too deep":                     {json.RawMessage(nest(MaxDepth + 1)), ErrDepth},
		"rewritten, then lone":         {json.RawMessage(`"\ufffd\ud800"`), ErrRewritten},
		"lone, then rewritten":         {json.RawMessage(`"\ud800\ufffd"`), ErrSurrogate},
		"too deep and invalid UTF-8":   {json.RawMessage(nest(MaxDepth+1) + "\"\xff\""), ErrUTF8},
		"too deep, then lone":          {json.RawMessage(`[` + nest(MaxDepth) + `,"\ud800"]`), ErrDepth},
		"lone, then too deep":          {json.RawMessage(`["\ud800",` + nest(MaxDepth) + `]`), ErrSurrogate},
		"too deep, then \\ufffd":       {json.RawMessage(`[` + nest(MaxDepth) + `,"\ufffd"]`), ErrDepth},
		"surrogate pair, then \\ufffd": {json.RawMessage(`["\ud800\udc00","\ufffd"]`), ErrRewritten},
	} {
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(tc.v)
			if raw, ok := tc.v.(json.RawMessage); ok && err != nil {
				b = raw // json.Marshal compacts, and refuses nothing here but invalid JSON
			}
			got := CheckMarshaled(b)
			if tc.want == nil {
				assert.NoError(t, got)
				return
			}
			assert.ErrorIs(t, got, tc.want)
		})
	}
}

// escapeRE matches one escape of a JSON string: in text encoding/json
// accepts, every backslash starts one, so the matches are the escapes, in
// order.
var escapeRE = regexp.MustCompile(`(?s)\\(?:u([0-9a-fA-F]{4})|.)`)

// deliberate lists the refusals the package doc names that apply to b, text
// encoding/json accepts, each found without the scanner: invalid UTF-8
// (outside strings it is no JSON at all), a lone surrogate escape, nesting
// deeper than MaxDepth.
func deliberate(t *testing.T, b []byte) []error {
	var kinds []error
	if !utf8.Valid(b) {
		kinds = append(kinds, ErrUTF8)
	}
	escapes := escapeRE.FindAllSubmatchIndex(b, -1)
	surrogate := func(k int) (hi, lo bool) {
		if k >= len(escapes) || escapes[k][2] < 0 {
			return false, false
		}
		r, err := strconv.ParseUint(string(b[escapes[k][2]:escapes[k][3]]), 16, 32)
		require.NoError(t, err)
		return r >= 0xD800 && r < 0xDC00, r >= 0xDC00 && r <= 0xDFFF
	}
	for k := 0; k < len(escapes); k++ {
		hi, lo := surrogate(k)
		if lo {
			kinds = append(kinds, ErrSurrogate)
			break
		}
		if hi {
			if _, nextLo := surrogate(k + 1); !nextLo || escapes[k+1][0] != escapes[k][1] {
				kinds = append(kinds, ErrSurrogate)
				break
			}
			k++
		}
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber() // a number out of float64's range is still JSON
	depth, deepest := 0, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err, "json.Valid said yes")
		switch tok {
		case json.Delim('['), json.Delim('{'):
			depth++
			deepest = max(deepest, depth)
		case json.Delim(']'), json.Delim('}'):
			depth--
		}
	}
	if deepest > MaxDepth {
		kinds = append(kinds, ErrDepth)
	}
	return kinds
}

// members lists an object's member names and raw values as encoding/json
// reads them, duplicates included.
func members(t *testing.T, b []byte) (names []string, values []string) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	_, err := d.Token()
	require.NoError(t, err)
	for d.More() {
		k, err := d.Token()
		require.NoError(t, err)
		var v json.RawMessage
		require.NoError(t, d.Decode(&v))
		names, values = append(names, k.(string)), append(values, string(v))
	}
	return names, values
}

// FuzzScanner is differential against encoding/json, in both directions:
// Validate accepts b exactly when json.Valid does and the package doc's
// list of deliberate refusals (found by deliberate, without the scanner)
// names nothing in b, and a refusal of valid JSON is of a kind on that
// list. What it accepts reads as encoding/json reads it: a string decodes
// to json.Unmarshal's string, a number has json.Number's text, an
// object's members (Member, Skip) have encoding/json's names and raw
// values, in order.
func FuzzScanner(f *testing.F) {
	for _, s := range []string{
		`{"a":[1,true,null,"\u00e9"],"b":{"c":-0.5e3}}`, `"\ud83d\ude00"`, `"a\ud800"`, `"\udc00x"`, "\"\xff\"", nest(MaxDepth),
		nest(MaxDepth + 1), `{"a":1,"a":2}`, ` 12 `, `01`, `"\/\b"`, `[1,]`, `{"\u0061":1}`, `"\ud800\udc00"`, `""`, `-`, "\"\x7f\"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := Validate(b)
		if !json.Valid(b) {
			if err == nil {
				t.Fatalf("accepted %q, which encoding/json refuses", b)
			}
			return
		}
		kinds := deliberate(t, b)
		if len(kinds) == 0 {
			require.NoError(t, err, "refused %q, which encoding/json accepts and the list does not name", b)
		} else {
			require.Error(t, err, "accepted %q, which the list refuses (%v)", b, kinds)
			if !slicesContainsErr(kinds, err) {
				t.Fatalf("refused %q with %v; the list names %v", b, err, kinds)
			}
			return
		}

		i := SkipSpace(b, 0)
		switch c := b[i]; {
		case c == '"':
			got, next, err := StringValue(b, i)
			require.NoError(t, err)
			require.Equal(t, len(b), SkipSpace(b, next))
			var want string
			require.NoError(t, json.Unmarshal(b, &want))
			require.Equal(t, want, got, "decoded %q", b)
		case c == '-' || c >= '0' && c <= '9':
			next, err := Number(b, i)
			require.NoError(t, err)
			d := json.NewDecoder(bytes.NewReader(b))
			d.UseNumber()
			var n any
			require.NoError(t, d.Decode(&n))
			require.Equal(t, n.(json.Number).String(), string(b[i:next]))
		case c == '{':
			wantNames, wantValues := members(t, b)
			var names, values []string
			i = SkipSpace(b, i+1)
			for b[i] != '}' {
				s, e, _, v, err := Member(b, i)
				require.NoError(t, err)
				name, err := Unescape(b[s-1 : e+1])
				require.NoError(t, err)
				end, err := Skip(b, v)
				require.NoError(t, err)
				names, values = append(names, name), append(values, string(b[v:end]))
				if i = SkipSpace(b, end); b[i] == ',' {
					i = SkipSpace(b, i+1)
				}
			}
			require.Equal(t, wantNames, names)
			require.Equal(t, wantValues, values)
		}
	})
}

func slicesContainsErr(kinds []error, err error) bool {
	for _, k := range kinds {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}

// TestPlain8 checks String's eight-byte test against the byte-by-byte
// rule for every byte value at every position, and for every pair of
// byte values side by side (where a borrow could cross from one byte to
// the next); Plain's index of the first special byte alike; and that
// String finds each special byte wherever it stands.
func TestPlain8(t *testing.T) {
	plain := func(c byte) bool { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\' }
	word := func(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }
	for c := range 256 {
		for pos := range 8 {
			b := []byte("abcdefgh")
			b[pos] = byte(c)
			require.Equal(t, plain(byte(c)), plain8(word(b)), "byte %#x at %d", c, pos)
		}
		for d := range 256 {
			for _, pos := range []int{0, 3, 6} {
				b := []byte("abcdefgh")
				b[pos], b[pos+1] = byte(c), byte(d)
				require.Equal(t, plain(byte(c)) && plain(byte(d)), plain8(word(b)), "bytes %#x %#x at %d", c, d, pos)
			}
		}
	}
	// Plain: the index of the first special byte, wherever it stands and
	// whatever follows it (a borrow in the word tests runs upward only).
	for c := range 256 {
		for d := range 256 {
			for _, pos := range []int{0, 5, 7, 8, 14, 19, 22} {
				b := []byte(strings.Repeat("p", 24))
				b[pos] = byte(c)
				if pos+1 < len(b) {
					b[pos+1] = byte(d)
				}
				want := len(b)
				for i, x := range b {
					if !plain(x) {
						want = i
						break
					}
				}
				require.Equal(t, want, Plain(b), "bytes %#x %#x at %d", c, d, pos)
			}
		}
	}
	for pos := range 24 {
		for _, special := range []string{`\"`, `\\`, "\x1f", "\xff", `"`} {
			s := []byte(`"` + strings.Repeat("x", pos) + special + strings.Repeat("y", 20) + `"`)
			start, end, esc, _, err := String(s, 0)
			switch special {
			case `"`:
				require.NoError(t, err)
				require.Equal(t, pos+1, end, "the closing quote at %d", pos)
			case `\"`, `\\`:
				require.NoError(t, err)
				require.True(t, esc, "%q at %d", special, pos)
				require.Equal(t, len(s)-1, end)
			default:
				require.Error(t, err, "%q at %d", special, pos)
				continue
			}
			require.Equal(t, 1, start)
		}
	}
}
