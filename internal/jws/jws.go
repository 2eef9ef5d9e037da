// Package jws is the JSON Web Signature (RFC 7515) of jwtpair's tokens:
// compact serialization only, a JOSE header of at most alg, typ and kid,
// and the keys that sign and verify, with everything a request needs
// precomputed when a key is built.
//
// A token's life here: Split checks the compact form (three non-empty
// segments of the base64url alphabet) without decoding anything; a Ring
// finds the key for its header (the exact header one of its keys emits by
// one map lookup, any other parsed by ParseHeader and matched by kid, the
// key's algorithm pinned); Key.VerifyCompact checks the signature before
// the caller decodes the payload (DecodeSegment). Minting is Key.Sign.
//
// Keys are HMAC secrets (NewHMACKey: HS256, HS384, HS512) or asymmetric
// keys (NewAsymmetricKey: RS*, PS*, ES*, EdDSA). Verification does not
// allocate for HMAC keys (pooled MAC states). The cryptography itself is
// jwx's building blocks (jws/jwsbb) and the standard library's.
//
// Error messages carry no package prefix: jwtpair adds its own.
package jws

import (
	"encoding/base64"
	"unsafe"

	"github.com/jwtpair/jwtpair/internal/strictjson"
)

// b64 is the only base64 variant compact JWS allows: URL alphabet, no
// padding, no stray bits.
var b64 = base64.RawURLEncoding.Strict()

// b64urlAlphabet marks the bytes allowed inside a compact JWS segment.
var b64urlAlphabet = func() (t [256]bool) {
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" {
		t[c] = true
	}
	return t
}()

// MaxHeaderBytes bounds the encoded JOSE header Ring.Lookup decodes.
const MaxHeaderBytes = 512

// maxSignatureBytes is the signature VerifyCompact decodes on the stack:
// enough for RSA 4096 and every other algorithm here.
const maxSignatureBytes = 512

// Compact is a token in compact serialization, as Split cut it: the three
// base64url segments, and the signing input (header "." payload).
type Compact struct {
	Header, Payload, Signature string
	SigningInput               string
}

// Split checks the compact form of tok, three non-empty segments of the
// base64url alphabet (no padding, no white space), and cuts it. It looks
// at each byte once and decodes nothing, so that any flood of dots or
// bytes costs one pass. The caller bounds tok's length first.
func Split(tok string) (Compact, bool) {
	d1, d2 := -1, -1
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c == '.' {
			if d1 < 0 {
				d1 = i
			} else if d2 < 0 {
				d2 = i
			} else {
				return Compact{}, false
			}
			continue
		}
		if !b64urlAlphabet[c] {
			return Compact{}, false
		}
	}
	if d2 < 0 || d1 == 0 || d2 == d1+1 || d2 == len(tok)-1 {
		return Compact{}, false
	}
	return Compact{Header: tok[:d1], Payload: tok[d1+1 : d2], Signature: tok[d2+1:], SigningInput: tok[:d2]}, true
}

// DecodeSegment decodes one base64url segment of a token Split accepted
// (strictly: no padding, no stray bits; line breaks, which encoding/base64
// skips, Split has refused) into buf when it fits, or a fresh slice when
// not. An empty result is refused.
func DecodeSegment(s string, buf []byte) ([]byte, bool) {
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

// Header is what a JOSE header may say: its algorithm and key id.
type Header struct {
	Alg, KID string
}

// ParseHeader accepts a JOSE header holding only the members alg
// (required), typ ("JWT", any case, as RFC 7519 §5.1 allows) and kid (not
// empty), each a string, each at most once, their names unescaped: an
// allowlist. jku, x5u, jwk, crit and every other member are refused, as is
// anything strictjson refuses. It allocates only for the strings it keeps.
func ParseHeader(b []byte) (Header, bool) {
	i := strictjson.SkipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return Header{}, false
	}
	var h Header
	var seen uint8
	i = strictjson.SkipSpace(b, i+1)
	for {
		ks, ke, esc, vi, err := strictjson.Member(b, i)
		if err != nil || esc {
			return Header{}, false // the allowlisted names never need escapes
		}
		val, next, err := strictjson.StringValue(b, vi)
		if err != nil {
			return Header{}, false
		}
		var bit uint8
		switch string(b[ks:ke]) {
		case "alg":
			bit, h.Alg = 1, val
		case "typ":
			bit = 2
			if len(val) != 3 || (val[0]|0x20) != 'j' || (val[1]|0x20) != 'w' || (val[2]|0x20) != 't' {
				return Header{}, false
			}
		case "kid":
			bit, h.KID = 4, val
			if h.KID == "" {
				return Header{}, false
			}
		default:
			return Header{}, false
		}
		if seen&bit != 0 {
			return Header{}, false
		}
		seen |= bit
		i = strictjson.SkipSpace(b, next)
		if i < len(b) && b[i] == '}' {
			if seen&1 == 0 || strictjson.SkipSpace(b, i+1) != len(b) {
				return Header{}, false
			}
			return h, true
		}
		if i >= len(b) || b[i] != ',' {
			return Header{}, false
		}
		i = strictjson.SkipSpace(b, i+1)
	}
}

// encodeHeader returns base64url of the JOSE header a key emits: members
// in lexical order, as PyJWT (simplejwt) writes them, so that tokens of
// both take Ring.Lookup's fast path.
func encodeHeader(alg, kid string) string {
	h := `{"alg":"` + alg + `",`
	if kid != "" {
		h += `"kid":` + quote(kid) + `,`
	}
	h += `"typ":"JWT"}`
	return b64.EncodeToString([]byte(h))
}
