package jwtpair

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unsafe"

	"github.com/jwtpair/jwtpair/internal/claimset"
	"github.com/jwtpair/jwtpair/internal/strictjson"
)

// b64urlAlphabet marks the bytes allowed inside a compact JWS segment.
var b64urlAlphabet = func() (t [256]bool) {
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" {
		t[c] = true
	}
	return t
}()

// maxHeaderBytes bounds the encoded JOSE header we are willing to decode.
const maxHeaderBytes = 512

// verify checks a token's form, header, signature and time, audience and
// issuer claims, and that it is of type want ("" accepts either type). It
// does no I/O. Every failure wraps ErrTokenInvalid, ErrTokenExpired or
// ErrTokenWrongType.
func (a *Auth) verify(tok string, want string) (*Claims, error) {
	// Form first: bounded length, three non-empty segments of the base64url
	// alphabet. Oversized input and dot floods stop here, before any decoding.
	if len(tok) == 0 || len(tok) > a.maxTokenBytes {
		return nil, ErrTokenInvalid
	}
	d1, d2 := -1, -1
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c == '.' {
			if d1 < 0 {
				d1 = i
			} else if d2 < 0 {
				d2 = i
			} else {
				return nil, ErrTokenInvalid
			}
			continue
		}
		if !b64urlAlphabet[c] {
			return nil, ErrTokenInvalid
		}
	}
	if d2 < 0 || d1 == 0 || d2 == d1+1 || d2 == len(tok)-1 {
		return nil, ErrTokenInvalid
	}

	key := a.keyForHeader(tok[:d1])
	if key == nil {
		return nil, ErrTokenInvalid
	}

	var sigBuf [512]byte
	sig, ok := decodeSegment(tok[d2+1:], sigBuf[:])
	if !ok || !key.verify(bytesOf(tok[:d2]), sig) {
		return nil, ErrTokenInvalid
	}

	var payloadBuf [1024]byte
	payload, ok := decodeSegment(tok[d1+1:d2], payloadBuf[:])
	if !ok {
		return nil, ErrTokenInvalid
	}
	var s claimset.Set
	if claimset.Parse(payload, &a.names, &s) != nil {
		return nil, ErrTokenInvalid
	}
	if err := a.checkClaims(&s, want); err != nil {
		return nil, err
	}
	return newClaims(&s, payload, &a.names), nil
}

// keys returns the keyring in force.
func (a *Auth) keys() *keyring {
	if a.remote != nil {
		return a.remote.current()
	}
	return a.ring
}

// keyForHeader returns the key that verifies a token with this encoded
// header, or nil. Headers as our keys emit them (simplejwt's are the same
// bytes) are found by one map lookup; anything else is decoded and checked
// against the header allowlist. A token without kid is verified only when
// there is exactly one key; one with a kid only by the key of that kid
// (with a JWKS URL, an unknown kid may trigger one rate-limited refetch).
func (a *Auth) keyForHeader(h string) *jwsKey {
	ring := a.keys()
	if k, ok := ring.byHeader[h]; ok {
		return a.usable(k)
	}
	if len(h) > maxHeaderBytes {
		return nil
	}
	var buf [maxHeaderBytes]byte
	raw, ok := decodeSegment(h, buf[:])
	if !ok {
		return nil
	}
	alg, kid, ok := parseHeader(raw)
	if !ok {
		return nil
	}
	k := ring.only
	if kid != "" {
		k = ring.byKID[kid]
		if k == nil && a.remote != nil {
			k = a.remote.refetchFor(kid).byKID[kid]
		}
	}
	if k == nil || alg != k.alg {
		return nil
	}
	return a.usable(k)
}

// usable refuses a previous key past its end of validity.
func (a *Auth) usable(k *jwsKey) *jwsKey {
	if !k.notAfter.IsZero() && !a.now().Before(k.notAfter) {
		return nil
	}
	return k
}

// parseHeader accepts a JOSE header holding only the members alg (required),
// typ ("JWT", any case) and kid, each a string, each at most once.
func parseHeader(b []byte) (alg, kid string, ok bool) {
	i := strictjson.SkipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return "", "", false
	}
	var seen uint8
	i = strictjson.SkipSpace(b, i+1)
	for {
		ks, ke, esc, vi, err := strictjson.Member(b, i)
		if err != nil || esc {
			return "", "", false // our allowlisted names never need escapes
		}
		val, next, err := strictjson.StringValue(b, vi)
		if err != nil {
			return "", "", false
		}
		var bit uint8
		switch string(b[ks:ke]) {
		case "alg":
			bit, alg = 1, val
		case "typ":
			bit = 2
			if len(val) != 3 || (val[0]|0x20) != 'j' || (val[1]|0x20) != 'w' || (val[2]|0x20) != 't' {
				return "", "", false
			}
		case "kid":
			bit, kid = 4, val
			if kid == "" {
				return "", "", false
			}
		default:
			return "", "", false
		}
		if seen&bit != 0 {
			return "", "", false
		}
		seen |= bit
		i = strictjson.SkipSpace(b, next)
		if i < len(b) && b[i] == '}' {
			return alg, kid, seen&1 != 0 && strictjson.SkipSpace(b, i+1) == len(b)
		}
		if i >= len(b) || b[i] != ',' {
			return "", "", false
		}
		i = strictjson.SkipSpace(b, i+1)
	}
}

// decodeSegment decodes one base64url segment into buf when it fits, or a
// fresh slice when not.
func decodeSegment(s string, buf []byte) ([]byte, bool) {
	n := b64.DecodedLen(len(s))
	if n > len(buf) {
		buf = make([]byte, n)
	}
	m, err := b64.Decode(buf[:n], bytesOf(s))
	if err != nil || m == 0 {
		return nil, false
	}
	return buf[:m], true
}

// bytesOf views a string's bytes without copying. The result must only be
// read.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// newID returns 16 random bytes as 32 lower-case hex characters (simplejwt's
// uuid4().hex shape).
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}

// encodeCustomClaims renders custom claims for mint (claimset.EncodeCustom).
// It runs once per user per login or refresh, off the verification path.
func (a *Auth) encodeCustomClaims(claims map[string]any) ([]byte, error) {
	b, err := claimset.EncodeCustom(claims, &a.names)
	if err != nil {
		return nil, fmt.Errorf("jwtpair: %w", err)
	}
	return b, nil
}

// mint signs a token of type typ for sub, valid from now for ttl. It
// returns the token and its jti, or an error for a token verification would
// refuse: times outside the NumericDate range, or longer than
// WithMaxTokenBytes (what encodeCustomClaims let through is otherwise
// acceptable).
func (a *Auth) mint(typ string, sub subject, now time.Time, ttl time.Duration) (string, string, error) {
	if now.Unix() < 0 || now.Add(ttl).Unix() > claimset.MaxNumericDate {
		return "", "", fmt.Errorf("jwtpair: the clock says %v, outside the NumericDate range verification accepts", now)
	}
	jti := newID()
	set := claimset.Set{
		TokenType: typ,
		UserID:    sub.id,
		JTI:       jti,
		ExpiresAt: now.Add(ttl),
		IssuedAt:  now,
		// stamp and sid come from stampClaim and newID, or from a verified
		// token: Append quotes them as any string.
		Stamp:     sub.stamp,
		SessionID: sub.sid,
		Issuer:    a.issuer,
	}
	if len(a.audience) > 0 {
		set.Audience = a.audience[:1]
	}
	p := claimset.Append(make([]byte, 0, 192+len(sub.id)+len(sub.custom)), &a.names, &set, sub.custom)

	if a.ring == nil || a.ring.signer == nil {
		return "", "", ErrVerifyOnly
	}
	k := a.ring.signer
	input := make([]byte, 0, len(k.header)+1+b64.EncodedLen(len(p))+1+b64.EncodedLen(128))
	input = append(input, k.header...)
	input = append(input, '.')
	input = b64.AppendEncode(input, p)
	sig, err := k.sign(input)
	if err != nil {
		return "", "", fmt.Errorf("jwtpair: signing: %w", err)
	}
	input = append(input, '.')
	input = b64.AppendEncode(input, sig)
	if len(input) > a.maxTokenBytes {
		return "", "", fmt.Errorf("jwtpair: a %s token would be %d bytes, over the %d that verification accepts (WithMaxTokenBytes): make the user ID or custom claims smaller", typ, len(input), a.maxTokenBytes)
	}
	return string(input), jti, nil
}

// errNoStampKey: a user has a Stamp, but there is no server secret to key
// its digest with. Answered with 500 (a configuration error), and logged.
var errNoStampKey = errors.New("jwtpair: the user has a Stamp, but there is no server secret to key its digest with (WithServerSecret)")

// stampClaim is what tokens carry of a user stamp: 22 base64url characters
// of a keyed digest (stampDigest) under the current stamp key, so that the
// stamp itself (a timestamp, a counter) can be neither read from the token
// nor confirmed by guessing. "" for no stamp.
func (a *Auth) stampClaim(userID, stamp string) (string, error) {
	if stamp == "" {
		return "", nil
	}
	if len(a.stampKeys) == 0 {
		return "", errNoStampKey
	}
	return stampDigest(a.stampKeys[0].key, userID, stamp), nil
}

// stampMatches reports whether the stamp claim of c is the digest of the
// user's stamp under a stamp key in force: the current one, or a previous
// one before its end, so that a key rotation does not end every session.
func (a *Auth) stampMatches(c *Claims, stamp string) (bool, error) {
	if stamp == "" {
		return c.Stamp == "", nil
	}
	if len(a.stampKeys) == 0 {
		return false, errNoStampKey
	}
	now := a.now()
	for _, k := range a.stampKeys {
		if !k.notAfter.IsZero() && !now.Before(k.notAfter) {
			continue
		}
		if hmac.Equal([]byte(stampDigest(k.key, c.UserID, stamp)), []byte(c.Stamp)) {
			return true, nil
		}
	}
	return false, nil
}

// stampDigest is HMAC-SHA256(key, len ‖ user id ‖ len ‖ stamp), its first
// 16 bytes in base64url. The user id makes equal stamps of two users (the
// same password-changed-at second) look unrelated.
func stampDigest(key []byte, userID, stamp string) string {
	m := hmac.New(sha256.New, key)
	var n [binary.MaxVarintLen64]byte
	for _, s := range []string{userID, stamp} {
		m.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		m.Write([]byte(s))
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// quoteJSON returns s as a JSON string literal.
func quoteJSON(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}
