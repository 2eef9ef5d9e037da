package jwtpair

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// Token types, the values of the token-type claim.
const (
	TokenTypeAccess  = "access"
	TokenTypeRefresh = "refresh"
)

// Claims are the verified claims of a token. The middleware puts them in the
// request context (see [ClaimsFrom]); [Auth.VerifyAccess] returns them.
type Claims struct {
	TokenType string    // "access" or "refresh"
	UserID    string    // the user-id claim; numbers are given in their decimal text
	JTI       string    // the token's unique id
	ExpiresAt time.Time // exp
	IssuedAt  time.Time // iat; zero when absent
	NotBefore time.Time // nbf; zero when absent
	Issuer    string    // iss; empty when absent
	Audience  []string  // aud; nil when absent
	Stamp     string    // the user stamp claim (a keyed digest of User.Stamp); empty when absent
	SessionID string    // sid: the login session (token family); refresh tokens carry it, access tokens in cookie mode

	// raw is the decoded payload, kept only when it holds custom claims, so
	// that they can be decoded on demand off the hot path.
	raw      []byte
	reserved *claimNames

	user *User // the loaded user, with WithUserCheck

	once   sync.Once
	custom map[string]any
	err    error
}

// Custom returns the token's custom claims: every claim except the
// registered ones (token type, user id, jti, exp, iat, nbf, iss, aud,
// stamp, sid).
// They are decoded on first use and cached; the map is shared, so treat it
// as read-only. A token without custom claims yields a nil map.
func (c *Claims) Custom() (map[string]any, error) {
	if c.raw == nil {
		return nil, nil
	}
	c.once.Do(func() {
		var all map[string]any
		d := json.NewDecoder(bytes.NewReader(c.raw))
		d.UseNumber()
		if err := d.Decode(&all); err != nil {
			c.err = errors.Join(ErrTokenInvalid, err)
			return
		}
		for k := range all {
			if c.reserved.isReserved(k) {
				delete(all, k)
			}
		}
		if len(all) > 0 {
			c.custom = all
		}
	})
	return c.custom, c.err
}

// claimNames are the configurable claim names, fixed at New.
type claimNames struct {
	userID    string
	tokenType string
}

func (n *claimNames) isReserved(k string) bool {
	switch k {
	case "exp", "iat", "nbf", "jti", "iss", "aud", "stamp", "sid":
		return true
	}
	return k == n.userID || k == n.tokenType
}

// maxClaimDepth bounds nesting inside custom claim values.
const maxClaimDepth = 32

// which claims a scan has seen, to refuse duplicates.
const (
	seenType = 1 << iota
	seenUser
	seenJTI
	seenExp
	seenIat
	seenNbf
	seenIss
	seenAud
	seenStamp
	seenSID
)

var errClaims = errors.New("jwtpair: malformed claims")

// parseClaims scans a decoded JWT payload into c. It accepts exactly one
// JSON object (RFC 8259, UTF-8, no trailing data), refuses duplicate
// registered claims and wrongly typed ones, and records whether custom
// claims are present. It allocates only for the strings it keeps.
func parseClaims(b []byte, names *claimNames, c *Claims) (seen uint, err error) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return 0, errClaims
	}
	i = skipWS(b, i+1)
	custom := false
	if i < len(b) && b[i] == '}' {
		i++
		goto end
	}
	for {
		var ks, ke int
		var kesc bool
		ks, ke, kesc, i, err = scanKey(b, i)
		if err != nil {
			return 0, err
		}
		key := b[ks:ke]
		var name string
		if kesc {
			if name, err = unescape(b[ks-1 : ke+1]); err != nil {
				return 0, err
			}
		}
		bit, field := classify(key, name, kesc, names)
		if bit != 0 {
			if seen&bit != 0 {
				return 0, errClaims
			}
			seen |= bit
			if i, err = parseField(b, i, field, c); err != nil {
				return 0, err
			}
		} else {
			custom = true
			if i, err = skipValue(b, i, 0); err != nil {
				return 0, err
			}
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return 0, errClaims
		}
		if b[i] == '}' {
			i++
			break
		}
		if b[i] != ',' {
			return 0, errClaims
		}
		i = skipWS(b, i+1)
	}
end:
	if skipWS(b, i) != len(b) {
		return 0, errClaims
	}
	if custom {
		c.raw = append([]byte(nil), b...)
		c.reserved = names
	}
	return seen, nil
}

type claimField uint8

const (
	fieldNone claimField = iota
	fieldType
	fieldUser
	fieldJTI
	fieldExp
	fieldIat
	fieldNbf
	fieldIss
	fieldAud
	fieldStamp
	fieldSID
)

// classify names the registered claim a key is, if any. key is the raw key
// bytes; when escaped, name holds its decoded text.
func classify(key []byte, name string, escaped bool, names *claimNames) (uint, claimField) {
	if escaped {
		key = []byte(name)
	}
	switch string(key) {
	case names.tokenType:
		return seenType, fieldType
	case names.userID:
		return seenUser, fieldUser
	case "jti":
		return seenJTI, fieldJTI
	case "exp":
		return seenExp, fieldExp
	case "iat":
		return seenIat, fieldIat
	case "nbf":
		return seenNbf, fieldNbf
	case "iss":
		return seenIss, fieldIss
	case "aud":
		return seenAud, fieldAud
	case "stamp":
		return seenStamp, fieldStamp
	case "sid":
		return seenSID, fieldSID
	}
	return 0, fieldNone
}

func parseField(b []byte, i int, f claimField, c *Claims) (int, error) {
	switch f {
	case fieldExp, fieldIat, fieldNbf:
		s, e, next, err := scanNumber(b, i)
		if err != nil {
			return 0, err
		}
		t, err := numericDate(b[s:e])
		if err != nil {
			return 0, err
		}
		switch f {
		case fieldExp:
			c.ExpiresAt = t
		case fieldIat:
			c.IssuedAt = t
		default:
			c.NotBefore = t
		}
		return next, nil
	case fieldUser:
		if i < len(b) && b[i] != '"' {
			// simplejwt puts integer primary keys here as JSON numbers.
			s, e, next, err := scanNumber(b, i)
			if err != nil {
				return 0, err
			}
			if bytes.ContainsAny(b[s:e], ".eE") {
				return 0, errClaims // integers only
			}
			c.UserID = string(b[s:e])
			return next, nil
		}
		v, next, err := stringValue(b, i)
		if err != nil || v == "" {
			return 0, errClaims
		}
		c.UserID = v
		return next, nil
	case fieldAud:
		if i < len(b) && b[i] == '[' {
			i = skipWS(b, i+1)
			if i < len(b) && b[i] == ']' {
				c.Audience = []string{}
				return i + 1, nil
			}
			for {
				v, next, err := stringValue(b, i)
				if err != nil {
					return 0, err
				}
				c.Audience = append(c.Audience, v)
				i = skipWS(b, next)
				if i >= len(b) {
					return 0, errClaims
				}
				if b[i] == ']' {
					return i + 1, nil
				}
				if b[i] != ',' {
					return 0, errClaims
				}
				i = skipWS(b, i+1)
			}
		}
		v, next, err := stringValue(b, i)
		if err != nil {
			return 0, err
		}
		c.Audience = []string{v}
		return next, nil
	}
	v, next, err := stringValue(b, i)
	if err != nil {
		return 0, err
	}
	switch f {
	case fieldType:
		c.TokenType = internType(v)
	case fieldJTI:
		c.JTI = v
	case fieldIss:
		c.Issuer = v
	case fieldStamp:
		c.Stamp = v
	case fieldSID:
		c.SessionID = v // any string: other issuers use sid too (OIDC)
	}
	return next, nil
}

// internType avoids keeping a fresh string for the two common token types.
func internType(v string) string {
	switch v {
	case TokenTypeAccess:
		return TokenTypeAccess
	case TokenTypeRefresh:
		return TokenTypeRefresh
	}
	return v
}

// maxNumericDate bounds exp/iat/nbf to year ~36800 so that conversions stay exact.
const maxNumericDate = 1 << 40

// numericDate converts a JSON number (RFC 7519 NumericDate, seconds since
// the epoch, fractions allowed) to a time. Negative values and values past
// maxNumericDate are refused.
func numericDate(n []byte) (time.Time, error) {
	if len(n) > 0 && len(n) <= 12 {
		var v int64
		ok := true
		for _, ch := range n {
			if ch < '0' || ch > '9' {
				ok = false
				break
			}
			v = v*10 + int64(ch-'0')
		}
		if ok {
			if v > maxNumericDate {
				return time.Time{}, errClaims
			}
			return time.Unix(v, 0), nil
		}
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || f < 0 || f > maxNumericDate {
		return time.Time{}, errClaims
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), nil
}

func skipWS(b []byte, i int) int {
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

// scanString validates the JSON string starting at b[i] (which must be '"')
// and returns the bounds of its contents, whether it holds escapes, and the
// index after the closing quote.
func scanString(b []byte, i int) (start, end int, escaped bool, next int, err error) {
	if i >= len(b) || b[i] != '"' {
		return 0, 0, false, 0, errClaims
	}
	start = i + 1
	nonASCII := false
	for j := start; j < len(b); j++ {
		ch := b[j]
		switch {
		case ch == '"':
			if nonASCII && !utf8.Valid(b[start:j]) {
				return 0, 0, false, 0, errClaims
			}
			return start, j, escaped, j + 1, nil
		case ch == '\\':
			escaped = true
			j++
			if j >= len(b) {
				return 0, 0, false, 0, errClaims
			}
			switch b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				r, ok := hex4(b, j+1)
				if !ok {
					return 0, 0, false, 0, errClaims
				}
				j += 4
				if utf16.IsSurrogate(r) {
					// A high surrogate must be followed by an escaped low
					// one: encoding/json decodes a lone one as U+FFFD, so
					// distinct strings ("a\ud800", "a\udbff") would decode
					// alike.
					lo, ok := hex4(b, j+3)
					if r >= 0xDC00 || j+2 >= len(b) || b[j+1] != '\\' || b[j+2] != 'u' || !ok || lo < 0xDC00 || lo > 0xDFFF {
						return 0, 0, false, 0, errClaims
					}
					j += 6
				}
			default:
				return 0, 0, false, 0, errClaims
			}
		case ch < 0x20:
			return 0, 0, false, 0, errClaims
		case ch >= 0x80:
			nonASCII = true
		}
	}
	return 0, 0, false, 0, errClaims
}

// scanKey scans an object member's name and the colon after it: it returns
// the name's bounds as scanString does, and the index of the value.
func scanKey(b []byte, i int) (start, end int, escaped bool, value int, err error) {
	start, end, escaped, next, err := scanString(b, i)
	if err != nil {
		return 0, 0, false, 0, err
	}
	i = skipWS(b, next)
	if i >= len(b) || b[i] != ':' {
		return 0, 0, false, 0, errClaims
	}
	return start, end, escaped, skipWS(b, i+1), nil
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

// stringValue scans a JSON string value and returns its decoded text.
func stringValue(b []byte, i int) (string, int, error) {
	s, e, esc, next, err := scanString(b, i)
	if err != nil {
		return "", 0, err
	}
	if !esc {
		return string(b[s:e]), next, nil
	}
	v, err := unescape(b[s-1 : e+1])
	return v, next, err
}

// unescape decodes a quoted JSON string already validated by scanString.
// It is off the fast path (only strings with escapes get here) and copies its
// input, so that callers' stack buffers do not escape to the heap.
func unescape(quoted []byte) (string, error) {
	var v string
	if err := json.Unmarshal(bytes.Clone(quoted), &v); err != nil {
		return "", errClaims
	}
	return v, nil
}

// scanNumber validates a JSON number at b[i].
func scanNumber(b []byte, i int) (start, end, next int, err error) {
	start = i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return 0, 0, 0, errClaims
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return 0, 0, 0, errClaims
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return 0, 0, 0, errClaims
		}
	}
	return start, i, i, nil
}

// skipValue validates and skips any JSON value at b[i].
func skipValue(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return 0, errClaims
	}
	switch ch := b[i]; {
	case ch == '"':
		_, _, _, next, err := scanString(b, i)
		return next, err
	case ch == '{' || ch == '[':
		if depth >= maxClaimDepth {
			return 0, errClaims
		}
		closer := byte('}')
		if ch == '[' {
			closer = ']'
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == closer {
			return i + 1, nil
		}
		for {
			if ch == '{' {
				var err error
				if _, _, _, i, err = scanKey(b, i); err != nil {
					return 0, err
				}
			}
			next, err := skipValue(b, i, depth+1)
			if err != nil {
				return 0, err
			}
			i = skipWS(b, next)
			if i >= len(b) {
				return 0, errClaims
			}
			if b[i] == closer {
				return i + 1, nil
			}
			if b[i] != ',' {
				return 0, errClaims
			}
			i = skipWS(b, i+1)
		}
	case ch == '-' || ch >= '0' && ch <= '9':
		_, _, next, err := scanNumber(b, i)
		return next, err
	case hasLiteral(b, i, "true"):
		return i + 4, nil
	case hasLiteral(b, i, "false"):
		return i + 5, nil
	case hasLiteral(b, i, "null"):
		return i + 4, nil
	}
	return 0, errClaims
}

func hasLiteral(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}
