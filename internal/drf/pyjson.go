package drf

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Python's json module (Lib/json/decoder.py with the C scanner of
// Modules/_json.c, Python 3.11, the interpreter of Debian's simplejwt), as
// DRF's JSONParser calls it: json.load(stream, parse_constant=
// strict_constant). What it accepts, the values it makes, and the message
// of every error, with its position counted in code points.

// maxDepth bounds the nesting of arrays and objects. Python has no bound
// of its own but its recursion limit, which ends the request with a
// RecursionError (DRF does not catch it: a 500); the bound stands where
// Debian's Django/DRF stack hits that limit, so that every document
// Python decodes decodes here too.
const maxDepth = 960

// recursionMessage is Python's RecursionError, answered as a parse error
// where DRF crashes.
const recursionMessage = "maximum recursion depth exceeded while decoding a JSON %s from a unicode string"

// jsonError is an error json.load raises, with the text DRF puts after
// "JSON parse error - ".
type jsonError struct{ msg string }

func (e *jsonError) Error() string { return e.msg }

// scanner decodes one document: s is the decoded text.
type scanner struct {
	s     []rune
	depth int
}

// errAt is Python's JSONDecodeError(msg, doc, pos).
func (sc *scanner) errAt(msg string, pos int) error {
	line, lastNL := 1, -1
	for i, r := range sc.s[:pos] {
		if r == '\n' {
			line++
			lastNL = i
		}
	}
	return &jsonError{fmt.Sprintf("%s: line %d column %d (char %d)", msg, line, pos-lastNL, pos)}
}

// stop is the scanner's StopIteration(pos): no value starts at pos.
type stop struct{ pos int }

func (stop) Error() string { return "stop" }

func isJSONSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }

func (sc *scanner) skipSpace(i int) int {
	for i < len(sc.s) && isJSONSpace(sc.s[i]) {
		i++
	}
	return i
}

// parseJSON is json.loads(text, parse_constant=strict_constant).
func parseJSON(text []rune) (Value, error) {
	sc := &scanner{s: text}
	if len(text) > 0 && text[0] == '\uFEFF' {
		return Value{}, sc.errAt("Unexpected UTF-8 BOM (decode using utf-8-sig)", 0)
	}
	v, end, err := sc.value(sc.skipSpace(0))
	if st, ok := err.(stop); ok {
		return Value{}, sc.errAt("Expecting value", st.pos)
	}
	if err != nil {
		return Value{}, err
	}
	if end = sc.skipSpace(end); end != len(text) {
		return Value{}, sc.errAt("Extra data", end)
	}
	return v, nil
}

// matchAt reports whether word stands at s[i:].
func (sc *scanner) matchAt(i int, word string) bool {
	if i+len(word) > len(sc.s) {
		return false
	}
	for j, c := range []byte(word) {
		if sc.s[i+j] != rune(c) {
			return false
		}
	}
	return true
}

// value is scan_once_unicode: the value at idx and the index after it.
func (sc *scanner) value(idx int) (Value, int, error) {
	if idx >= len(sc.s) {
		return Value{}, 0, stop{idx}
	}
	switch sc.s[idx] {
	case '"':
		return sc.str(idx + 1)
	case '{':
		return sc.nested(idx, "object", sc.object)
	case '[':
		return sc.nested(idx, "array", sc.array)
	case 'n':
		if sc.matchAt(idx, "null") {
			return Value{Kind: Null}, idx + 4, nil
		}
	case 't':
		if sc.matchAt(idx, "true") {
			return Value{Kind: Bool, Text: "True"}, idx + 4, nil
		}
	case 'f':
		if sc.matchAt(idx, "false") {
			return Value{Kind: Bool, Text: "False"}, idx + 5, nil
		}
	case 'N', 'I', '-':
		for _, c := range []string{"NaN", "Infinity", "-Infinity"} {
			if sc.matchAt(idx, c) {
				// DRF's strict_constant.
				return Value{}, 0, &jsonError{"Out of range float values are not JSON compliant: '" + c + "'"}
			}
		}
	}
	return sc.number(idx)
}

func (sc *scanner) nested(idx int, what string, parse func(int) (Value, int, error)) (Value, int, error) {
	if sc.depth >= maxDepth {
		return Value{}, 0, &jsonError{fmt.Sprintf(recursionMessage, what)}
	}
	sc.depth++
	defer func() { sc.depth-- }()
	return parse(idx + 1)
}

// str is scanstring_unicode: end is the index after the opening quote.
func (sc *scanner) str(end int) (Value, int, error) {
	s, n := sc.s, len(sc.s)
	begin := end - 1
	var b strings.Builder
	var surrogate rune
	for {
		next := end
		var c rune
		for ; next < n; next++ {
			c = s[next]
			if c == '"' || c == '\\' {
				break
			}
			if c <= 0x1F {
				return Value{}, 0, sc.errAt("Invalid control character at", next)
			}
		}
		if next == n || (c != '"' && c != '\\') {
			return Value{}, 0, sc.errAt("Unterminated string starting at", begin)
		}
		b.WriteString(string(s[end:next]))
		next++
		if c == '"' {
			return Value{Kind: String, Text: b.String(), Surrogate: surrogate}, next, nil
		}
		if next == n {
			return Value{}, 0, sc.errAt("Unterminated string starting at", begin)
		}
		c = s[next]
		if c != 'u' {
			end = next + 1
			esc := unescape(c)
			if esc < 0 {
				return Value{}, 0, sc.errAt(`Invalid \escape`, end-2)
			}
			b.WriteRune(esc)
			continue
		}
		next++
		end = next + 4
		if end >= n {
			return Value{}, 0, sc.errAt(`Invalid \uXXXX escape`, next-1)
		}
		u, ok := hex4(s[next:end])
		if !ok {
			return Value{}, 0, sc.errAt(`Invalid \uXXXX escape`, end-5)
		}
		if u >= 0xD800 && u <= 0xDBFF && end+6 < n && s[end] == '\\' && s[end+1] == 'u' {
			u2, ok := hex4(s[end+2 : end+6])
			if !ok {
				return Value{}, 0, sc.errAt(`Invalid \uXXXX escape`, end+1)
			}
			if u2 >= 0xDC00 && u2 <= 0xDFFF {
				u = 0x10000 + ((u-0xD800)<<10 | (u2 - 0xDC00))
				end += 6
			}
		}
		if u >= 0xD800 && u <= 0xDFFF {
			// A lone surrogate: Python keeps it in the str; a Go string
			// cannot hold it, so it is noted (CharField refuses it).
			if surrogate == 0 {
				surrogate = u
			}
			u = '\uFFFD'
		}
		b.WriteRune(u)
	}
}

// unescape is the character of a one-letter escape, or -1.
func unescape(c rune) rune {
	switch c {
	case '"', '\\', '/':
		return c
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	}
	return -1
}

func hex4(rs []rune) (rune, bool) {
	var u rune
	for _, d := range rs {
		u <<= 4
		switch {
		case d >= '0' && d <= '9':
			u |= d - '0'
		case d >= 'a' && d <= 'f':
			u |= d - 'a' + 10
		case d >= 'A' && d <= 'F':
			u |= d - 'A' + 10
		default:
			return 0, false
		}
	}
	return u, true
}

// object is _parse_object_unicode: idx is the index after '{'. Only a
// top-level object's members are kept (Value.Dict); nested ones are
// checked and dropped.
func (sc *scanner) object(idx int) (Value, int, error) {
	s, endIdx := sc.s, len(sc.s)-1
	v := Value{Kind: Dict}
	if sc.depth == 1 {
		v.Dict = map[string]Value{}
	}
	idx = sc.skipSpace(idx)
	if idx > endIdx || s[idx] != '}' {
		for {
			if idx > endIdx || s[idx] != '"' {
				return Value{}, 0, sc.errAt("Expecting property name enclosed in double quotes", idx)
			}
			key, next, err := sc.str(idx + 1)
			if err != nil {
				return Value{}, 0, err
			}
			idx = sc.skipSpace(next)
			if idx > endIdx || s[idx] != ':' {
				return Value{}, 0, sc.errAt("Expecting ':' delimiter", idx)
			}
			idx = sc.skipSpace(idx + 1)
			val, next, err := sc.value(idx)
			if err != nil {
				return Value{}, 0, err
			}
			// Python's dict keeps the last value of a key. A key with a
			// lone surrogate equals no name a caller asks for.
			if v.Dict != nil && key.Surrogate == 0 {
				v.Dict[key.Text] = val
			}
			var closed bool
			if idx, closed, err = sc.afterMember(next, '}'); err != nil {
				return Value{}, 0, err
			}
			if closed {
				break
			}
		}
	}
	return v, idx + 1, nil
}

// afterMember reads what follows a member of an object or an array (next
// is the index after it): the closing character (closed, idx at it), or a
// comma and the white space after it (idx after them).
func (sc *scanner) afterMember(next int, closing rune) (idx int, closed bool, err error) {
	idx = sc.skipSpace(next)
	switch {
	case idx < len(sc.s) && sc.s[idx] == closing:
		return idx, true, nil
	case idx >= len(sc.s) || sc.s[idx] != ',':
		return 0, false, sc.errAt("Expecting ',' delimiter", idx)
	}
	return sc.skipSpace(idx + 1), false, nil
}

// array is _parse_array_unicode: idx is the index after '['.
func (sc *scanner) array(idx int) (Value, int, error) {
	s, endIdx := sc.s, len(sc.s)-1
	idx = sc.skipSpace(idx)
	if idx > endIdx || s[idx] != ']' {
		for {
			_, next, err := sc.value(idx)
			if err != nil {
				return Value{}, 0, err
			}
			var closed bool
			if idx, closed, err = sc.afterMember(next, ']'); err != nil {
				return Value{}, 0, err
			}
			if closed {
				break
			}
		}
	}
	return Value{Kind: List}, idx + 1, nil
}

// maxIntDigits is Python 3.11's int_max_str_digits default.
const maxIntDigits = 4300

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

// number is _match_number_unicode.
func (sc *scanner) number(start int) (Value, int, error) {
	s, endIdx := sc.s, len(sc.s)-1
	idx := start
	if s[idx] == '-' {
		idx++
		if idx > endIdx {
			return Value{}, 0, stop{start}
		}
	}
	switch {
	case s[idx] >= '1' && s[idx] <= '9':
		idx++
		for idx <= endIdx && isDigit(s[idx]) {
			idx++
		}
	case s[idx] == '0':
		idx++
	default:
		return Value{}, 0, stop{start}
	}
	isFloat := false
	if idx < endIdx && s[idx] == '.' && isDigit(s[idx+1]) {
		isFloat = true
		idx += 2
		for idx <= endIdx && isDigit(s[idx]) {
			idx++
		}
	}
	if idx < endIdx && (s[idx] == 'e' || s[idx] == 'E') {
		eStart := idx
		idx++
		if idx < endIdx && (s[idx] == '-' || s[idx] == '+') {
			idx++
		}
		for idx <= endIdx && isDigit(s[idx]) {
			idx++
		}
		if isDigit(s[idx-1]) {
			isFloat = true
		} else {
			idx = eStart
		}
	}
	text := string(s[start:idx])
	if isFloat {
		return Value{Kind: Float, Text: pyFloatRepr(text)}, idx, nil
	}
	digits := strings.TrimPrefix(text, "-")
	if len(digits) > maxIntDigits {
		return Value{}, 0, &jsonError{fmt.Sprintf("Exceeds the limit (%d digits) for integer string conversion: value has %d digits; use sys.set_int_max_str_digits() to increase the limit", maxIntDigits, len(digits))}
	}
	if strings.Trim(digits, "0") == "" {
		text = "0" // int("-0") is 0
	}
	return Value{Kind: Int, Text: text}, idx, nil
}

// pyFloatRepr is str(float(text)): the shortest repr, in exponent form
// when the decimal point would be more than 16 digits out, with ".0" on
// an integral value.
func pyFloatRepr(text string) string {
	f, _ := strconv.ParseFloat(text, 64) // out of range: ±Inf, as float() gives
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // d[.ddd]e±XX
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if decpt := exp + 1; f != 0 && (decpt <= -4 || decpt > 16) {
		return e
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}
