// Package claimset reads and writes the claims set (the payload) of
// jwtpair's tokens: RFC 7519's JSON object, with simplejwt's claims.
//
// Parse reads a payload into a Set: the registered claims, typed, which of
// them are present, and whether there are others (custom claims, which it
// validates and skips, for the caller to decode with encoding/json when it
// wants them). Append writes a Set back, and EncodeCustom prepares custom
// claims for it. The rules of what a token must carry (required claims,
// expiry, audience) are not here: they are jwtpair's.
//
// The registered claims are exp, iat, nbf, auth_time, refresh_exp
// (NumericDate), jti, iss, aud, stamp, sid, and two whose names are
// configurable (Names): the user id (simplejwt's user_id) and the token
// type (token_type). refresh_exp is simplejwt's sliding tokens' limit of
// refresh. Parse reads them as encoding/json would, with these typing
// rules:
//
//   - exp, iat, nbf, auth_time, refresh_exp: a JSON number from 0 to
//     MaxNumericDate, fractions allowed (RFC 7519 NumericDate);
//   - the user id: a non-empty string, or an integer (simplejwt writes
//     integer primary keys as numbers), kept as its decimal text;
//   - aud: a string, or an array of strings (empty included);
//   - every other registered claim: a string.
//
// Beyond those and what internal/strictjson refuses (invalid UTF-8, lone
// surrogate escapes, custom claims nested deeper than strictjson.MaxDepth,
// the claims object itself not counted), Parse refuses a registered claim
// that appears twice, whatever the spelling ("exp" and "\u0065xp"): where
// encoding/json keeps the last, another parser may keep the first.
// FuzzParse checks all of this against encoding/json, both ways.
//
// Payloads laid out as Append writes them (PyJWT writes simplejwt's alike)
// are read on a fast path, which stops at the first member laid out
// otherwise and hands it, and the rest, to the general scanner; it reads
// what it reads as the scanner would (FuzzParseMinted).
//
// Error messages carry no package prefix: jwtpair adds its own.
package claimset

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/jwtpair/jwtpair/internal/strictjson"
)

// MaxNumericDate bounds exp, iat and nbf (to year ~36800), so that
// conversions stay exact.
const MaxNumericDate = 1 << 40

// ErrClaims is Parse's refusal of a payload that is JSON but not a claims
// set it accepts: not an object, a registered claim repeated or of the
// wrong type.
var ErrClaims = errors.New("malformed claims")

// The token types jwtpair mints (jwtpair.TokenTypeAccess,
// TokenTypeRefresh and TokenTypeSliding); Parse returns these strings
// rather than copies.
const (
	typeAccess  = "access"
	typeRefresh = "refresh"
	typeSliding = "sliding"
)

// Claim is one registered claim, as a bit of Set.Present.
type Claim uint16

// The registered claims.
const (
	TokenType Claim = 1 << iota
	UserID
	JTI
	Exp
	Iat
	Nbf
	Iss
	Aud
	Stamp
	SID
	AuthTime
	RefreshExp
)

// Set is a claims set: the registered claims, which of them are present,
// and whether there are custom claims.
type Set struct {
	TokenType string
	UserID    string // the user id; an integer is kept as its decimal text
	JTI       string
	ExpiresAt time.Time
	IssuedAt  time.Time
	NotBefore time.Time
	Issuer    string
	Audience  []string
	Stamp     string
	SessionID string    // sid
	AuthTime  time.Time // auth_time: when the session began (OpenID Connect's name)
	// RefreshExp is refresh_exp: until when a sliding token may be
	// refreshed (simplejwt's SLIDING_TOKEN_REFRESH_EXP_CLAIM).
	RefreshExp time.Time

	Present Claim // the registered claims present (Parse); Append ignores it
	Custom  bool  // custom claims are present (Parse); Append ignores it
}

// Has reports whether the claims in c are all present.
func (s *Set) Has(c Claim) bool { return s.Present&c == c }

// Names are the names of the user-id and token-type claims, and their
// encoded forms for Append, fixed when an Auth is built; and the issuer
// and audiences it expects (Expect).
type Names struct {
	userID, tokenType       string
	userIDKey, tokenTypeKey []byte // `"user_id":`, `"token_type":`
	minted                  []mintedMember

	issuer    string   // the expected iss; "" for none
	audiences []string // the expected aud values
}

// Expect records the issuer and the audiences the tokens are to carry,
// so that Parse returns these strings rather than copies when a token's
// claim is written as one of them, without escapes; for an aud of one
// such string, Set.Audience is then a slice of audiences, of capacity
// one, which the caller must not write. It changes nothing else: any
// other value is read as before.
func (n *Names) Expect(issuer string, audiences []string) {
	n.issuer, n.audiences = issuer, audiences
}

// NewNames returns the Names of a user-id and a token-type claim. The
// caller checks them: valid UTF-8, not empty, distinct, neither
// IsRegistered.
func NewNames(userID, tokenType string) Names {
	n := Names{
		userID: userID, tokenType: tokenType,
		userIDKey:    append(appendString(nil, userID), ':'),
		tokenTypeKey: append(appendString(nil, tokenType), ':'),
	}
	key := func(name string) []byte { return []byte(`"` + name + `":`) }
	n.minted = []mintedMember{
		{n.tokenTypeKey, TokenType}, {key("exp"), Exp}, {key("iat"), Iat}, {key("nbf"), Nbf}, {key("refresh_exp"), RefreshExp},
		{key("jti"), JTI}, {n.userIDKey, UserID}, {key("stamp"), Stamp}, {key("sid"), SID}, {key("auth_time"), AuthTime},
		{key("aud"), Aud}, {key("iss"), Iss},
	}
	return n
}

// mintedMember is a registered claim as Append writes it (PyJWT writes
// simplejwt's alike, in the same order): its name as `"name":`.
type mintedMember struct {
	key []byte
	c   Claim
}

// IsRegistered reports whether name is a registered claim whose name is
// fixed: exp, iat, nbf, auth_time, refresh_exp, jti, iss, aud, stamp or sid.
func IsRegistered(name string) bool {
	switch name {
	case "exp", "iat", "nbf", "auth_time", "refresh_exp", "jti", "iss", "aud", "stamp", "sid":
		return true
	}
	return false
}

// IsReserved reports whether name is a registered claim's: fixed, or one
// of n's. Custom claims may not use these names.
func (n *Names) IsReserved(name string) bool {
	return IsRegistered(name) || name == n.userID || name == n.tokenType
}

// Parse reads a payload into s, which must be zero. It accepts exactly
// one JSON object (RFC 8259, UTF-8, no trailing data), refuses duplicate
// registered claims and wrongly typed ones, and records whether custom
// claims are present. It allocates only for the strings it keeps: once
// for all of those written without escapes (the common token types, and
// the issuer and audience n expects, not even that), once more for each
// that has escapes, and for aud unless it is one string n expects. Errors
// are ErrClaims or one of strictjson's.
func Parse(b []byte, n *Names, s *Set) error { return ParseIn(b, n, s, nil) }

// ParseIn is Parse keeping the strings written without escapes in mem
// when they all fit, rather than in an allocation of their own: they are
// then views of mem, which the caller must never write again while they
// are in use (the request path parses into memory it allocates for the
// claims anyway).
func ParseIn(b []byte, n *Names, s *Set, mem []byte) error {
	var kept spans
	if err := parseObject(b, n, s, &kept, true); err != nil {
		return err
	}
	kept.fill(b, s, mem)
	return nil
}

// parseObject is Parse, leaving to kept the strings that need no
// unescaping. With minted, it reads the members written as Append writes
// them on parseMinted's fast path first.
func parseObject(b []byte, n *Names, s *Set, kept *spans, minted bool) error {
	i := strictjson.SkipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return ErrClaims
	}
	i = strictjson.SkipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return end(b, i+1)
	}
	if minted {
		var done bool
		if i, done = s.parseMinted(b, i, n, kept); done {
			return end(b, i)
		}
	}
	for {
		ks, ke, kesc, vi, err := strictjson.Member(b, i)
		if err != nil {
			return err
		}
		key := b[ks:ke]
		if kesc {
			name, err := strictjson.Unescape(b[ks-1 : ke+1])
			if err != nil {
				return err
			}
			key = []byte(name)
		}
		if c := n.classify(key); c != 0 {
			if s.Present&c != 0 {
				return ErrClaims
			}
			s.Present |= c
			i, err = s.parseClaim(b, vi, c, n, kept)
		} else {
			s.Custom = true
			i, err = strictjson.Skip(b, vi)
		}
		if err != nil {
			return err
		}
		i = strictjson.SkipSpace(b, i)
		if i >= len(b) {
			return ErrClaims
		}
		if b[i] == '}' {
			return end(b, i+1)
		}
		if b[i] != ',' {
			return ErrClaims
		}
		i = strictjson.SkipSpace(b, i+1)
	}
}

// parseMinted reads, from b[i], the members written as Append writes them
// (jwtpair's tokens, and simplejwt's): registered claims in Append's order, without
// white space or escapes, dates as integers, strings of plain bytes
// (strictjson.Plain), the user id a string, aud one string the Names
// expect. It stops before the first member that is not so, or that ends
// otherwise than with ',' or '}', and returns its index, for parseObject's
// loop to read it and the rest; or the index after the object's '}', and
// done. It reads what it reads as that loop would, and sets nothing of a
// member it does not read whole.
func (s *Set) parseMinted(b []byte, i int, n *Names, kept *spans) (next int, done bool) {
	for _, m := range n.minted {
		if !bytes.HasPrefix(b[i:], m.key) {
			continue // absent, or out of order: the loop reads it
		}
		j := i + len(m.key)
		var v int64    // a date's value
		var vs, ve int // a string's bounds
		var ok bool
		switch m.c {
		case Exp, Iat, Nbf, AuthTime, RefreshExp:
			v, j, ok = mintedDate(b, j)
		default:
			vs, ve, j, ok = mintedString(b, j)
			ok = ok && (m.c != UserID || ve > vs) && (m.c != Aud || audienceOf(n, b[vs:ve]) != nil)
		}
		if !ok || j >= len(b) || b[j] != ',' && b[j] != '}' {
			return i, false
		}
		s.Present |= m.c
		switch m.c {
		case Exp, Iat, Nbf, AuthTime, RefreshExp:
			s.setTime(m.c, time.Unix(v, 0))
		case Aud:
			s.Audience = audienceOf(n, b[vs:ve])
		default:
			s.keepString(b, vs, ve, m.c, n, kept)
		}
		if b[j] == '}' {
			return j + 1, true
		}
		i = strictjson.SkipSpace(b, j+1) // where the next member starts, for the general loop too
	}
	return i, false
}

// mintedDate reads the integer at b[i] as Append writes a date (no sign,
// no leading zero, no fraction or exponent, at most MaxNumericDate), and
// returns it and the index after it.
func mintedDate(b []byte, i int) (v int64, next int, ok bool) {
	j := i
	for j < len(b) && j-i < 13 && b[j] >= '0' && b[j] <= '9' {
		v = v*10 + int64(b[j]-'0')
		j++
	}
	if j == i || j-i > 12 || b[i] == '0' && j-i > 1 || v > MaxNumericDate {
		return 0, 0, false
	}
	return v, j, true
}

// mintedString reads the string at b[i] when its contents are plain bytes,
// and returns their bounds and the index after the closing quote.
func mintedString(b []byte, i int) (start, end, next int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, 0, 0, false
	}
	end = i + 1 + strictjson.Plain(b[i+1:])
	if end >= len(b) || b[end] != '"' {
		return 0, 0, 0, false
	}
	return i + 1, end, end + 1, true
}

// audienceOf returns the slice of n's expected audiences that is v, or nil.
func audienceOf(n *Names, v []byte) []string {
	for k, want := range n.audiences {
		if string(v) == want {
			return n.audiences[k : k+1 : k+1]
		}
	}
	return nil
}

// end accepts only white space after the object.
func end(b []byte, i int) error {
	if strictjson.SkipSpace(b, i) != len(b) {
		return ErrClaims
	}
	return nil
}

// classify names the registered claim a (decoded) member name is, or 0.
func (n *Names) classify(key []byte) Claim {
	switch string(key) {
	case n.tokenType:
		return TokenType
	case n.userID:
		return UserID
	case "jti":
		return JTI
	case "exp":
		return Exp
	case "iat":
		return Iat
	case "nbf":
		return Nbf
	case "iss":
		return Iss
	case "aud":
		return Aud
	case "stamp":
		return Stamp
	case "sid":
		return SID
	case "auth_time":
		return AuthTime
	case "refresh_exp":
		return RefreshExp
	}
	return 0
}

// spans are the string claims Parse keeps that need no unescaping, as
// ranges of the payload: fill makes them strings with one allocation for
// all, rather than one each (the request path verifies a token per
// request, and these are most of what it allocates).
type spans struct {
	n    int
	list [6]span // at most one per string claim: user id, token type, jti, iss, stamp, sid
}

type span struct {
	c    Claim
	s, e int
}

func (p *spans) add(c Claim, s, e int) {
	p.list[p.n] = span{c, s, e}
	p.n++
}

// fill sets the claims of the spans of b in s: views of mem when they
// all fit in it, else copies in one allocation.
func (p *spans) fill(b []byte, s *Set, mem []byte) {
	if p.n == 0 {
		return
	}
	size := 0
	for _, sp := range p.list[:p.n] {
		size += sp.e - sp.s
	}
	var all string
	if size > 0 && size <= len(mem) {
		k := 0
		for _, sp := range p.list[:p.n] {
			k += copy(mem[k:], b[sp.s:sp.e])
		}
		all = unsafe.String(&mem[0], size)
	} else {
		var stack [256]byte
		buf := stack[:0]
		for _, sp := range p.list[:p.n] {
			buf = append(buf, b[sp.s:sp.e]...)
		}
		all = string(buf) // the one allocation
	}
	for _, sp := range p.list[:p.n] {
		v := all[:sp.e-sp.s]
		all = all[len(v):]
		s.setString(sp.c, v)
	}
}

// setString sets the string claim c of s to v.
func (s *Set) setString(c Claim, v string) {
	switch c {
	case UserID:
		s.UserID = v
	case TokenType:
		s.TokenType = v
	case JTI:
		s.JTI = v
	case Iss:
		s.Issuer = v
	case Stamp:
		s.Stamp = v
	case SID:
		s.SessionID = v
	}
}

// parseClaim reads the value at b[i] of the registered claim c into s, or
// into kept when it is a string to copy, and returns the index after it.
func (s *Set) parseClaim(b []byte, i int, c Claim, n *Names, kept *spans) (int, error) {
	switch c {
	case Exp, Iat, Nbf, AuthTime, RefreshExp:
		next, err := strictjson.Number(b, i)
		if err != nil {
			return 0, err
		}
		t, err := numericDate(b[i:next])
		if err != nil {
			return 0, err
		}
		s.setTime(c, t)
		return next, nil
	case UserID:
		if i < len(b) && b[i] != '"' {
			// simplejwt puts integer primary keys here as JSON numbers.
			next, err := strictjson.Number(b, i)
			if err != nil {
				return 0, err
			}
			if bytes.ContainsAny(b[i:next], ".eE") {
				return 0, ErrClaims // integers only
			}
			kept.add(UserID, i, next)
			return next, nil
		}
	case Aud:
		return s.parseAudience(b, i, n)
	}
	start, end, esc, next, err := strictjson.String(b, i)
	if err != nil {
		return 0, errFor(c, err)
	}
	if !esc {
		if c == UserID && start == end {
			return 0, ErrClaims // not empty
		}
		s.keepString(b, start, end, c, n, kept)
		return next, nil
	}
	v, err := strictjson.Unescape(b[start-1 : end+1])
	if err != nil {
		return 0, errFor(c, err)
	}
	switch c {
	case UserID:
		if v == "" {
			return 0, ErrClaims
		}
	case TokenType:
		v = cmp.Or(internType([]byte(v)), v)
	}
	s.setString(c, v)
	return next, nil
}

// setTime sets the date claim c of s to t.
func (s *Set) setTime(c Claim, t time.Time) {
	switch c {
	case Exp:
		s.ExpiresAt = t
	case Iat:
		s.IssuedAt = t
	case Nbf:
		s.NotBefore = t
	case RefreshExp:
		s.RefreshExp = t
	default:
		s.AuthTime = t
	}
}

// keepString sets the string claim c of s to b[start:end], written
// without escapes: a constant for the token types jwtpair mints and the
// issuer n expects, else a string kept for spans.fill (sid: any string;
// other issuers use it too, as OpenID Connect does).
func (s *Set) keepString(b []byte, start, end int, c Claim, n *Names, kept *spans) {
	switch {
	case c == TokenType && internType(b[start:end]) != "":
		s.TokenType = internType(b[start:end])
	case c == Iss && n.issuer != "" && string(b[start:end]) == n.issuer:
		s.Issuer = n.issuer
	default:
		kept.add(c, start, end)
	}
}

// errFor is the error of a malformed string value of claim c: ErrClaims
// for the user id (which may also be a number), strictjson's otherwise.
func errFor(c Claim, err error) error {
	if c == UserID {
		return ErrClaims
	}
	return err
}

// parseAudience reads aud: a string, or an array of strings.
func (s *Set) parseAudience(b []byte, i int, n *Names) (int, error) {
	if i >= len(b) || b[i] != '[' {
		if start, end, esc, next, err := strictjson.String(b, i); err == nil && !esc {
			if aud := audienceOf(n, b[start:end]); aud != nil {
				s.Audience = aud
				return next, nil
			}
		}
		v, next, err := strictjson.StringValue(b, i)
		if err != nil {
			return 0, err
		}
		s.Audience = []string{v}
		return next, nil
	}
	i = strictjson.SkipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		s.Audience = []string{}
		return i + 1, nil
	}
	for {
		v, next, err := strictjson.StringValue(b, i)
		if err != nil {
			return 0, err
		}
		s.Audience = append(s.Audience, v)
		i = strictjson.SkipSpace(b, next)
		if i >= len(b) {
			return 0, ErrClaims
		}
		if b[i] == ']' {
			return i + 1, nil
		}
		if b[i] != ',' {
			return 0, ErrClaims
		}
		i = strictjson.SkipSpace(b, i+1)
	}
}

// internType returns the constant for the token types jwtpair mints, so
// that no string is kept for them, and "" for any other.
func internType(v []byte) string {
	switch string(v) {
	case typeAccess:
		return typeAccess
	case typeRefresh:
		return typeRefresh
	case typeSliding:
		return typeSliding
	}
	return ""
}

// numericDate converts a JSON number (RFC 7519 NumericDate, seconds since
// the epoch, fractions allowed) to a time. Negative values and values past
// MaxNumericDate are refused.
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
			if v > MaxNumericDate {
				return time.Time{}, ErrClaims
			}
			return time.Unix(v, 0), nil
		}
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || f < 0 || f > MaxNumericDate {
		return time.Time{}, ErrClaims
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), nil
}

// Append appends s to dst as a JSON object, followed by custom, a
// fragment of members from EncodeCustom: the token type, exp, iat, then
// nbf and refresh_exp when set, jti, the user id, and stamp, sid,
// auth_time, aud (a string when it holds one audience, else an array) and
// iss when set. Times are written
// in whole seconds (Unix), strings as json.Marshal writes them; they must
// be valid UTF-8 (json.Marshal would write another string), and the times
// from 0 to MaxNumericDate: the caller checks.
func Append(dst []byte, n *Names, s *Set, custom []byte) []byte {
	dst = append(dst, '{')
	dst = append(dst, n.tokenTypeKey...)
	dst = appendString(dst, s.TokenType)
	dst = append(dst, `,"exp":`...)
	dst = strconv.AppendInt(dst, s.ExpiresAt.Unix(), 10)
	dst = append(dst, `,"iat":`...)
	dst = strconv.AppendInt(dst, s.IssuedAt.Unix(), 10)
	if !s.NotBefore.IsZero() {
		dst = append(dst, `,"nbf":`...)
		dst = strconv.AppendInt(dst, s.NotBefore.Unix(), 10)
	}
	if !s.RefreshExp.IsZero() {
		dst = append(dst, `,"refresh_exp":`...)
		dst = strconv.AppendInt(dst, s.RefreshExp.Unix(), 10)
	}
	dst = append(dst, `,"jti":`...)
	dst = appendString(dst, s.JTI)
	dst = append(dst, ',')
	dst = append(dst, n.userIDKey...)
	dst = appendString(dst, s.UserID)
	if s.Stamp != "" {
		dst = append(dst, `,"stamp":`...)
		dst = appendString(dst, s.Stamp)
	}
	if s.SessionID != "" {
		dst = append(dst, `,"sid":`...)
		dst = appendString(dst, s.SessionID)
	}
	if !s.AuthTime.IsZero() {
		dst = append(dst, `,"auth_time":`...)
		dst = strconv.AppendInt(dst, s.AuthTime.Unix(), 10)
	}
	switch len(s.Audience) {
	case 0:
	case 1:
		dst = append(dst, `,"aud":`...)
		dst = appendString(dst, s.Audience[0])
	default:
		dst = append(dst, `,"aud":[`...)
		for k, a := range s.Audience {
			if k > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, a)
		}
		dst = append(dst, ']')
	}
	if s.Issuer != "" {
		dst = append(dst, `,"iss":`...)
		dst = appendString(dst, s.Issuer)
	}
	dst = append(dst, custom...)
	return append(dst, '}')
}

// appendString appends s as json.Marshal writes it: printable ASCII
// without '"', '\\' and the HTML characters '<', '>', '&' as it is (the
// ids, digests and names tokens usually carry), anything else through
// json.Marshal.
func appendString(dst []byte, s string) []byte {
	for k := 0; k < len(s); k++ {
		if c := s[k]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always marshals
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// EncodeCustom renders custom claims as the fragment Append takes:
// `,"name":value` members in name order. It refuses registered names and
// anything a token could not carry unchanged or that Parse would refuse
// (see strictjson.CheckMarshaled). Its errors wrap strictjson's
// (ErrUTF8, ErrRewritten, ErrSurrogate, ErrDepth) where they apply.
func EncodeCustom(claims map[string]any, n *Names) ([]byte, error) {
	if len(claims) == 0 {
		return nil, nil
	}
	names := make([]string, 0, len(claims))
	for k := range claims {
		if k == "" || n.IsReserved(k) {
			return nil, fmt.Errorf("custom claim %q uses a registered claim name", k)
		}
		if !utf8.ValidString(k) {
			return nil, fmt.Errorf("custom claim name %q is not valid UTF-8", k)
		}
		names = append(names, k)
	}
	slices.Sort(names)
	var out []byte
	for _, k := range names {
		v, err := json.Marshal(claims[k])
		if err == nil {
			err = checkValue(v)
		}
		if err != nil {
			return nil, fmt.Errorf("custom claim %q: %w", k, err)
		}
		out = append(out, ',')
		out = appendString(out, k)
		out = append(out, ':')
		out = append(out, v...)
	}
	return out, nil
}

// checkValue says, for the app's log, why a custom claim's JSON cannot go
// into a token.
func checkValue(v []byte) error {
	err := strictjson.CheckMarshaled(v)
	var why string
	switch {
	case err == nil:
		return nil
	case errors.Is(err, strictjson.ErrUTF8):
		why = "holds a string that is not valid UTF-8"
	case errors.Is(err, strictjson.ErrRewritten):
		why = "holds a string that is not valid UTF-8 (encoding/json rewrote it to U+FFFD)"
	case errors.Is(err, strictjson.ErrSurrogate):
		why = "holds a lone UTF-16 surrogate"
	case errors.Is(err, strictjson.ErrDepth):
		why = fmt.Sprintf("nested deeper than %d levels, which verification refuses", strictjson.MaxDepth)
	default:
		return err
	}
	return &valueError{why: why, err: err}
}

// valueError is checkValue's: a message for people, and the scanner's
// error for errors.Is.
type valueError struct {
	why string
	err error
}

func (e *valueError) Error() string { return e.why }
func (e *valueError) Unwrap() error { return e.err }
