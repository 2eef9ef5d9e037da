package jwtpair

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/jwtpair/jwtpair/internal/strictjson"
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
const maxClaimDepth = strictjson.MaxDepth

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
	i := strictjson.SkipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return 0, errClaims
	}
	i = strictjson.SkipSpace(b, i+1)
	custom := false
	if i < len(b) && b[i] == '}' {
		i++
		goto end
	}
	for {
		var ks, ke int
		var kesc bool
		ks, ke, kesc, i, err = strictjson.Member(b, i)
		if err != nil {
			return 0, err
		}
		key := b[ks:ke]
		var name string
		if kesc {
			if name, err = strictjson.Unescape(b[ks-1 : ke+1]); err != nil {
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
			if i, err = strictjson.Skip(b, i); err != nil {
				return 0, err
			}
		}
		i = strictjson.SkipSpace(b, i)
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
		i = strictjson.SkipSpace(b, i+1)
	}
end:
	if strictjson.SkipSpace(b, i) != len(b) {
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
		next, err := strictjson.Number(b, i)
		if err != nil {
			return 0, err
		}
		t, err := numericDate(b[i:next])
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
			next, err := strictjson.Number(b, i)
			if err != nil {
				return 0, err
			}
			if bytes.ContainsAny(b[i:next], ".eE") {
				return 0, errClaims // integers only
			}
			c.UserID = string(b[i:next])
			return next, nil
		}
		v, next, err := strictjson.StringValue(b, i)
		if err != nil || v == "" {
			return 0, errClaims
		}
		c.UserID = v
		return next, nil
	case fieldAud:
		if i < len(b) && b[i] == '[' {
			i = strictjson.SkipSpace(b, i+1)
			if i < len(b) && b[i] == ']' {
				c.Audience = []string{}
				return i + 1, nil
			}
			for {
				v, next, err := strictjson.StringValue(b, i)
				if err != nil {
					return 0, err
				}
				c.Audience = append(c.Audience, v)
				i = strictjson.SkipSpace(b, next)
				if i >= len(b) {
					return 0, errClaims
				}
				if b[i] == ']' {
					return i + 1, nil
				}
				if b[i] != ',' {
					return 0, errClaims
				}
				i = strictjson.SkipSpace(b, i+1)
			}
		}
		v, next, err := strictjson.StringValue(b, i)
		if err != nil {
			return 0, err
		}
		c.Audience = []string{v}
		return next, nil
	}
	v, next, err := strictjson.StringValue(b, i)
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
