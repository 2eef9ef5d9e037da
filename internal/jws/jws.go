// Package jws is the JSON Web Signature (RFC 7515) of jwtpair's tokens:
// compact serialization only, a JOSE header of at most alg, typ and kid,
// and the keys that sign and verify, with everything a request needs
// precomputed when a key is built.
//
// A token's life here: Split cuts the compact form at its two dots (three
// non-empty segments) without reading anything else; a Ring finds the key
// for its header (the exact header one of its keys emits by one map
// lookup, any other decoded, parsed by ParseHeader and matched by kid, the
// key's algorithm pinned); Key.Open decodes the payload and the signature
// and checks the signature, before the caller parses the payload. Every
// segment is base64url, strictly (DecodeSegment), before any signature is
// checked: the header is one a key emits or was decoded, and Open decodes
// the other two first. Minting is Key.Sign.
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
	"strings"
	"unsafe"

	"github.com/jwtpair/jwtpair/internal/strictjson"
)

// b64 is the only base64 variant compact JWS allows: URL alphabet, no
// padding, no stray bits.
var b64 = base64.RawURLEncoding.Strict()

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

// Split cuts tok at its two dots into the three segments of the compact
// form and the signing input, refusing any other number of dots or an
// empty segment. It looks for dots only (strings.IndexByte), so that a
// flood of dots or bytes costs one fast scan at most; the segments'
// alphabet is checked where each is read (see the package doc: Ring.Lookup
// and Key.Open). The caller bounds tok's length first.
func Split(tok string) (Compact, bool) {
	d1 := strings.IndexByte(tok, '.')
	if d1 <= 0 {
		return Compact{}, false
	}
	d2 := d1 + 1 + strings.IndexByte(tok[d1+1:], '.')
	if d2 <= d1+1 || d2 == len(tok)-1 || strings.IndexByte(tok[d2+1:], '.') >= 0 {
		return Compact{}, false
	}
	return Compact{Header: tok[:d1], Payload: tok[d1+1 : d2], Signature: tok[d2+1:], SigningInput: tok[:d2]}, true
}

// DecodeSegment decodes one base64url segment strictly: the URL alphabet
// only (no padding, no white space), no stray bits, not empty. Line
// breaks, which encoding/base64 skips, are refused: a segment holding any
// has a length no base64 text has (4n+1), or decodes to fewer bytes than
// its length says. It decodes into buf when the result fits, into a fresh
// slice when not.
func DecodeSegment(s string, buf []byte) ([]byte, bool) {
	n := b64.DecodedLen(len(s))
	if n == 0 || len(s)%4 == 1 {
		return nil, false
	}
	if n > len(buf) {
		buf = make([]byte, n)
	}
	// Room beyond n, when buf has it, keeps encoding/base64 on its fast
	// path (8 characters at a time) to the end.
	m, err := b64.Decode(buf[:min(len(buf), n+8)], bytesOf(s))
	if err != nil || m != n {
		return nil, false
	}
	return buf[:n], true
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
