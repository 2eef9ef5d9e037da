package drf

import "fmt"

// CPython's UTF-8 decoder (Objects/unicodeobject.c, Objects/stringlib/
// codecs.h): what it accepts, where it stops, and how it words an error.
// DRF decodes JSON bodies with it, and Django form fields with its
// "replace" error handler; a Go decoder differs in both (it replaces each
// bad byte, CPython each maximal invalid subpart).

// The outcomes of one step of the decoder.
const (
	stepOK         = iota
	stepIncomplete // a valid prefix cut short by the end of the input
	stepBadStart   // "invalid start byte"
	stepBadCont1   // "invalid continuation byte", the 2nd byte
	stepBadCont2   // the 3rd
	stepBadCont3   // the 4th
)

func isCont(c byte) bool { return c&0xC0 == 0x80 }

// utf8Step decodes the sequence at b[0] (len(b) > 0) as CPython's
// stringlib utf8_decode does.
func utf8Step(b []byte) (r rune, size, outcome int) {
	c, n := b[0], len(b)
	switch {
	case c < 0x80:
		return rune(c), 1, stepOK
	case c < 0xC2:
		return 0, 0, stepBadStart
	case c < 0xE0:
		if n < 2 {
			return 0, 0, stepIncomplete
		}
		if !isCont(b[1]) {
			return 0, 0, stepBadCont1
		}
		return rune(c&0x1F)<<6 | rune(b[1]&0x3F), 2, stepOK
	case c < 0xF0:
		if n < 3 {
			if n < 2 {
				return 0, 0, stepIncomplete
			}
			if c2 := b[1]; !isCont(c2) || (c2 < 0xA0 && c == 0xE0) || (c2 >= 0xA0 && c == 0xED) {
				return 0, 0, stepBadCont1
			}
			return 0, 0, stepIncomplete
		}
		c2, c3 := b[1], b[2]
		if !isCont(c2) || (c == 0xE0 && c2 < 0xA0) || (c == 0xED && c2 >= 0xA0) {
			return 0, 0, stepBadCont1
		}
		if !isCont(c3) {
			return 0, 0, stepBadCont2
		}
		return rune(c&0x0F)<<12 | rune(c2&0x3F)<<6 | rune(c3&0x3F), 3, stepOK
	case c < 0xF5:
		if n < 4 {
			if n < 2 {
				return 0, 0, stepIncomplete
			}
			if c2 := b[1]; !isCont(c2) || (c2 < 0x90 && c == 0xF0) || (c2 >= 0x90 && c == 0xF4) {
				return 0, 0, stepBadCont1
			}
			if n < 3 {
				return 0, 0, stepIncomplete
			}
			if !isCont(b[2]) {
				return 0, 0, stepBadCont2
			}
			return 0, 0, stepIncomplete
		}
		c2, c3, c4 := b[1], b[2], b[3]
		if !isCont(c2) || (c == 0xF0 && c2 < 0x90) || (c == 0xF4 && c2 >= 0x90) {
			return 0, 0, stepBadCont1
		}
		if !isCont(c3) {
			return 0, 0, stepBadCont2
		}
		if !isCont(c4) {
			return 0, 0, stepBadCont3
		}
		return rune(c&0x07)<<18 | rune(c2&0x3F)<<12 | rune(c3&0x3F)<<6 | rune(c4&0x3F), 4, stepOK
	}
	return 0, 0, stepBadStart
}

// decodeError is CPython's UnicodeDecodeError from the utf-8 codec: the
// bytes [start, end) of the input cannot be decoded.
type decodeError struct {
	input      []byte
	start, end int
	reason     string
}

func (e *decodeError) Error() string {
	if e.end-e.start == 1 {
		return fmt.Sprintf("'utf-8' codec can't decode byte 0x%02x in position %d: %s", e.input[e.start], e.start, e.reason)
	}
	return fmt.Sprintf("'utf-8' codec can't decode bytes in position %d-%d: %s", e.start, e.end-1, e.reason)
}

// utf8Error classifies the failed step at b[i:]: where the bad bytes end
// and why, or ok=false when it is an incomplete sequence that a
// non-final decode leaves for later.
func utf8Error(b []byte, i, outcome int, final bool) (end int, reason string, ok bool) {
	switch outcome {
	case stepIncomplete:
		if !final {
			return 0, "", false
		}
		return len(b), "unexpected end of data", true
	case stepBadStart:
		return i + 1, "invalid start byte", true
	case stepBadCont1:
		// A truncated surrogate (ED A0..BF) at the very end waits for more
		// input in a non-final decode, to be refused then.
		if !final && b[i] == 0xED && len(b)-i == 2 && b[i+1] >= 0xA0 && b[i+1] <= 0xBF {
			return 0, "", false
		}
		return i + 1, "invalid continuation byte", true
	case stepBadCont2:
		return i + 2, "invalid continuation byte", true
	}
	return i + 3, "invalid continuation byte", true
}

// decodeUTF8 decodes b into code points, as CPython's decoder does.
// Strictly (replace false) it stops at the first error; with final false
// it is then what codecs' StreamReader.read() returns (json.load's read of
// DRF's stream): an incomplete sequence at the end is silently left out.
// With replace (always final) it is bytes.decode("utf-8", "replace"): each
// maximal invalid subpart becomes one U+FFFD.
func decodeUTF8(b []byte, final, replace bool) ([]rune, error) {
	out := make([]rune, 0, len(b))
	for i := 0; i < len(b); {
		r, size, outcome := utf8Step(b[i:])
		if outcome == stepOK {
			out = append(out, r)
			i += size
			continue
		}
		end, reason, isErr := utf8Error(b, i, outcome, final || replace)
		switch {
		case !isErr:
			return out, nil
		case replace:
			out = append(out, '\uFFFD')
			i = end
		default:
			return nil, &decodeError{input: b, start: i, end: end, reason: reason}
		}
	}
	return out, nil
}

// decodeUTF8Replace is bytes.decode("utf-8", "replace").
func decodeUTF8Replace(b []byte) string {
	rs, _ := decodeUTF8(b, true, true)
	return string(rs)
}
