// Package strictjson scans JSON text (RFC 8259) in place, strictly and
// without allocating, for parsers that read a few members of an object and
// skip the rest: the claims and the JOSE header of a JWT. Its functions
// take the text and an index, and return the index after what they
// scanned.
//
// It accepts a subset of what encoding/json accepts, and what it accepts,
// it reads as encoding/json does: strings decode (StringValue) to exactly
// encoding/json's string. Beyond malformed text, it refuses on purpose, and
// only:
//
//   - invalid UTF-8, anywhere (ErrUTF8). encoding/json accepts it in
//     strings and decodes it as U+FFFD, so that distinct texts ("a\xff",
//     "a\xfe") decode alike;
//   - a lone UTF-16 surrogate escape (ErrSurrogate): a \uD800–\uDBFF escape
//     not followed by a \uDC00–\uDFFF one, or a \uDC00–\uDFFF escape not
//     preceded by a high one. encoding/json decodes each as U+FFFD, so that
//     "a\ud800" and "a\udbff" are one string to it;
//   - arrays and objects nested more than MaxDepth deep (ErrDepth), the
//     value scanned counting as the first level. encoding/json allows
//     10000.
//
// FuzzScanner checks both directions against encoding/json: whatever the
// scanner accepts, encoding/json accepts and decodes alike, and whatever
// encoding/json accepts that is not on this list, the scanner accepts.
// Duplicate member names are not refused here (Skip accepts them, as
// encoding/json does): the parsers built on the scanner refuse duplicates
// of the members they read.
package strictjson

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth is how deep arrays and objects may nest in a value Skip accepts.
const MaxDepth = 32

// The errors of the scanner. Every refusal is one of them.
var (
	ErrSyntax    = errors.New("malformed JSON")
	ErrUTF8      = errors.New("invalid UTF-8")
	ErrSurrogate = errors.New("lone UTF-16 surrogate escape")
	ErrDepth     = fmt.Errorf("nested deeper than %d levels", MaxDepth)
	// ErrRewritten is CheckMarshaled's: the text holds the escape \ufffd,
	// which encoding/json writes for invalid UTF-8 in a Go string.
	ErrRewritten = errors.New(`escape \ufffd: encoding/json rewrote invalid UTF-8`)
)

// SkipSpace returns the index of the first byte at or after i that is not
// JSON white space (space, tab, line feed, carriage return).
func SkipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// String scans the string starting at b[i] (which must be '"') and returns
// the bounds of its contents, b[start:end], whether they hold escapes, and
// the index after the closing quote.
func String(b []byte, i int) (start, end int, escaped bool, next int, err error) {
	if i >= len(b) || b[i] != '"' {
		return 0, 0, false, 0, ErrSyntax
	}
	start = i + 1
	nonASCII := false
	for j := start; j < len(b); j++ {
		// Eight plain bytes at a time (printable ASCII but '"' and '\\'):
		// the ids, digests and names tokens carry.
		for j+8 <= len(b) && plain8(binary.LittleEndian.Uint64(b[j:])) {
			j += 8
		}
		if j >= len(b) {
			break
		}
		ch := b[j]
		switch {
		case ch == '"':
			if nonASCII && !utf8.Valid(b[start:j]) {
				return 0, 0, false, 0, ErrUTF8
			}
			return start, j, escaped, j + 1, nil
		case ch == '\\':
			escaped = true
			j++
			if j >= len(b) {
				return 0, 0, false, 0, ErrSyntax
			}
			switch b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				r, ok := hex4(b, j+1)
				if !ok {
					return 0, 0, false, 0, ErrSyntax
				}
				j += 4
				if utf16.IsSurrogate(r) {
					// A high surrogate must be followed by an escaped low
					// one: encoding/json decodes a lone one as U+FFFD, so
					// distinct strings ("a\ud800", "a\udbff") would decode
					// alike.
					lo, ok := hex4(b, j+3)
					if r >= 0xDC00 || j+2 >= len(b) || b[j+1] != '\\' || b[j+2] != 'u' || !ok || lo < 0xDC00 || lo > 0xDFFF {
						return 0, 0, false, 0, ErrSurrogate
					}
					j += 6
				}
			default:
				return 0, 0, false, 0, ErrSyntax
			}
		case ch < 0x20:
			return 0, 0, false, 0, ErrSyntax
		case ch >= 0x80:
			nonASCII = true
		}
	}
	return 0, 0, false, 0, ErrSyntax
}

// Plain returns the length of the longest prefix of b of plain string
// bytes, none a quote, a backslash, a control character or non-ASCII:
// the contents of a JSON string that String scans without escapes and
// that read as they are. A string's contents are plain when the byte
// after them, its closing quote, ends the prefix.
func Plain(b []byte) int {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		if m := special8(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			// The lowest bit of the word tests is exact (only the bytes
			// above a special one may be flagged wrongly).
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
			return i
		}
	}
	return i
}

// plain8 reports whether the eight bytes of w are all plain string
// bytes: none a quote, a backslash, a control character (< 0x20) or
// non-ASCII (≥ 0x80).
func plain8(w uint64) bool { return special8(w) == 0 }

// special8 returns a mask of the high bits of the bytes of w that may be
// special (not plain, see plain8): zero exactly when none is, and its
// lowest bit exact, on the byte the first special one. It computes the
// classic "has a zero byte" and "has a byte less than n" word tests.
func special8(w uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	zero := func(v uint64) uint64 { return (v - ones) &^ v & highs }
	return zero(w^(ones*'"')) | zero(w^(ones*'\\')) | (w-ones*0x20)&^w&highs | w&highs
}

// Member scans an object member's name at b[i] and the colon after it: it
// returns the name's bounds as String does, and the index of the value.
func Member(b []byte, i int) (start, end int, escaped bool, value int, err error) {
	start, end, escaped, next, err := String(b, i)
	if err != nil {
		return 0, 0, false, 0, err
	}
	i = SkipSpace(b, next)
	if i >= len(b) || b[i] != ':' {
		return 0, 0, false, 0, ErrSyntax
	}
	return start, end, escaped, SkipSpace(b, i+1), nil
}

// StringValue scans the string at b[i] and returns its decoded text and
// the index after it. Only a string holding escapes allocates more than
// its text.
func StringValue(b []byte, i int) (string, int, error) {
	s, e, esc, next, err := String(b, i)
	if err != nil {
		return "", 0, err
	}
	if !esc {
		return string(b[s:e]), next, nil
	}
	v, err := Unescape(b[s-1 : e+1])
	return v, next, err
}

// Unescape decodes a quoted string String has accepted (quotes included),
// as encoding/json does. It copies its input, so that a caller's stack
// buffer does not escape to the heap.
func Unescape(quoted []byte) (string, error) {
	var v string
	if err := json.Unmarshal(bytes.Clone(quoted), &v); err != nil {
		return "", ErrSyntax
	}
	return v, nil
}

// Number scans the number at b[i] and returns the index after it: the
// number's text is b[i:next].
func Number(b []byte, i int) (next int, err error) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return 0, ErrSyntax
	}
	if i < len(b) && b[i] == '.' {
		if i = digits(b, i+1); b[i-1] == '.' {
			return 0, ErrSyntax // no digit after the point
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		if i = digits(b, i); i == d {
			return 0, ErrSyntax
		}
	}
	return i, nil
}

// digits returns the index after the decimal digits from b[i].
func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// Skip scans any value at b[i] and returns the index after it.
func Skip(b []byte, i int) (next int, err error) { return skip(b, i, 0) }

func skip(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return 0, ErrSyntax
	}
	switch ch := b[i]; {
	case ch == '"':
		_, _, _, next, err := String(b, i)
		return next, err
	case ch == '{' || ch == '[':
		if depth >= MaxDepth {
			return 0, ErrDepth
		}
		closer := byte('}')
		if ch == '[' {
			closer = ']'
		}
		i = SkipSpace(b, i+1)
		if i < len(b) && b[i] == closer {
			return i + 1, nil
		}
		for {
			if ch == '{' {
				var err error
				if _, _, _, i, err = Member(b, i); err != nil {
					return 0, err
				}
			}
			next, err := skip(b, i, depth+1)
			if err != nil {
				return 0, err
			}
			i = SkipSpace(b, next)
			if i >= len(b) {
				return 0, ErrSyntax
			}
			if b[i] == closer {
				return i + 1, nil
			}
			if b[i] != ',' {
				return 0, ErrSyntax
			}
			i = SkipSpace(b, i+1)
		}
	case ch == '-' || ch >= '0' && ch <= '9':
		return Number(b, i)
	case hasLiteral(b, i, "true"):
		return i + 4, nil
	case hasLiteral(b, i, "false"):
		return i + 5, nil
	case hasLiteral(b, i, "null"):
		return i + 4, nil
	}
	return 0, ErrSyntax
}

// Validate checks that b is one value, with white space around it and
// nothing else.
func Validate(b []byte) error {
	end, err := Skip(b, SkipSpace(b, 0))
	if err != nil {
		return err
	}
	if SkipSpace(b, end) != len(b) {
		return ErrSyntax
	}
	return nil
}

func hasLiteral(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}

// hex4 decodes the four hex digits at b[i:i+4].
func hex4(b []byte, i int) (rune, bool) {
	if i < 0 || i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// CheckMarshaled checks JSON text json.Marshal wrote for a Go value: that
// Validate accepts it (ErrUTF8: a json.Marshaler or json.RawMessage wrote
// invalid UTF-8; ErrSurrogate: one wrote a lone surrogate escape; ErrDepth)
// and that it carries the value's strings unchanged (ErrRewritten:
// encoding/json writes invalid UTF-8 in a Go string as the escape \ufffd,
// and a valid U+FFFD as itself, so that escape means the text says another
// string than the value; a json.Marshaler writing it itself is refused
// too). Where the text has several faults, invalid UTF-8 is reported
// first, then the first of its escapes at fault.
func CheckMarshaled(v []byte) error {
	err := Validate(v)
	if err != nil && !utf8.Valid(v) {
		return ErrUTF8
	}
	if err == nil || errors.Is(err, ErrSurrogate) {
		if err := checkEscapes(v); err != nil {
			return err
		}
	}
	return err
}

// checkEscapes finds, in JSON text whose escapes are well formed up to the
// first lone surrogate, the first \ufffd escape or lone surrogate escape.
func checkEscapes(v []byte) error {
	for i := 0; i < len(v); i++ {
		if v[i] != '\\' {
			continue
		}
		i++ // the escaped character; only \u escapes can hide a rewrite
		if i >= len(v) || v[i] != 'u' {
			continue
		}
		r, _ := hex4(v, i+1)
		i += 4
		switch {
		case r == utf8.RuneError:
			return ErrRewritten
		case utf16.IsSurrogate(r):
			if r >= 0xDC00 || i+2 >= len(v) || v[i+1] != '\\' || v[i+2] != 'u' {
				return ErrSurrogate
			}
			if lo, ok := hex4(v, i+3); !ok || lo < 0xDC00 || lo > 0xDFFF {
				return ErrSurrogate
			}
			i += 6
		}
	}
	return nil
}
