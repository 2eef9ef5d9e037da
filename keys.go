package jwtpair

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"hash"
	"sync"

	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"
)

// MinHMACKeyBytes is the shortest HMAC secret New accepts (RFC 7518 §3.2
// asks for a key at least as long as the hash output; 32 bytes for HS256).
const MinHMACKeyBytes = 32

// b64 is the only base64 variant compact JWS allows: URL alphabet, no
// padding, no stray bits.
var b64 = base64.RawURLEncoding.Strict()

// jwsKey is one key the Auth signs or verifies with, with everything a
// request needs precomputed at New.
type jwsKey struct {
	alg    string
	kid    string
	header string // base64url of the exact JOSE header this key emits
	// sign produces the signature of a signing input; nil for verify-only keys.
	sign func(input []byte) ([]byte, error)
	// verify reports whether sig is a valid signature of input.
	verify func(input, sig []byte) bool
}

// hmacHashes maps the HMAC algorithms to their hash functions.
var hmacHashes = map[string]func() hash.Hash{
	"HS256": sha256.New,
	"HS384": sha512.New384,
	"HS512": sha512.New,
}

// newHMACKey builds a signing and verifying key for an HS* algorithm.
func newHMACKey(alg string, secret []byte, kid string) (*jwsKey, error) {
	hf, ok := hmacHashes[alg]
	if !ok {
		return nil, fmt.Errorf("jwtpair: algorithm %q is not an HMAC algorithm (want HS256, HS384 or HS512)", alg)
	}
	if len(secret) < MinHMACKeyBytes {
		return nil, fmt.Errorf("jwtpair: HMAC key is %d bytes, want at least %d", len(secret), MinHMACKeyBytes)
	}
	secret = append([]byte(nil), secret...) // the caller may reuse its slice
	size := hf().Size()
	pool := &sync.Pool{New: func() any { return hmac.New(hf, secret) }}
	mac := func(input []byte, into []byte) []byte {
		h := pool.Get().(hash.Hash)
		h.Reset()
		h.Write(input)
		out := h.Sum(into)
		pool.Put(h)
		return out
	}
	return &jwsKey{
		alg:    alg,
		kid:    kid,
		header: encodeHeader(alg, kid),
		sign: func(input []byte) ([]byte, error) {
			return jwsbb.SignHMAC(secret, input, hf)
		},
		verify: func(input, sig []byte) bool {
			if len(sig) != size {
				return false
			}
			var buf [sha512.Size]byte
			return hmac.Equal(mac(input, buf[:0]), sig)
		},
	}, nil
}

// encodeHeader returns base64url of the JOSE header we emit: members in
// lexical order, as PyJWT (simplejwt) writes them, so that tokens of both
// take the verification fast path.
func encodeHeader(alg, kid string) string {
	h := `{"alg":"` + alg + `",`
	if kid != "" {
		h += `"kid":` + quoteJSON(kid) + `,`
	}
	h += `"typ":"JWT"}`
	return b64.EncodeToString([]byte(h))
}
