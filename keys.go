package jwtpair

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"hash"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"
)

// MinHMACKeyBytes is the shortest HMAC secret New accepts, for HS256. RFC
// 7518 §3.2 asks for a key at least as long as the hash output: HS384 needs
// 48 bytes and HS512 64.
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

	// HMAC keys verify with pooled MAC states (no allocation per request);
	// other keys with verifyFn.
	hmacPool *sync.Pool // of *hmacState
	hmacSize int
	verifyFn func(input, sig []byte) bool

	// notAfter ends the validity of a previous (verify-only) key; zero for
	// the current key.
	notAfter time.Time
}

// hmacState is a reusable MAC and a buffer for its sum.
type hmacState struct {
	mac hash.Hash
	sum [sha512.Size]byte
}

// verify reports whether sig is a valid signature of input under k.
func (k *jwsKey) verify(input, sig []byte) bool {
	if k.hmacPool == nil {
		// The clone keeps the caller's stack buffer from escaping through
		// the indirect call.
		return k.verifyFn(input, bytes.Clone(sig))
	}
	if len(sig) != k.hmacSize {
		return false
	}
	st := k.hmacPool.Get().(*hmacState)
	st.mac.Reset()
	st.mac.Write(input)
	ok := hmac.Equal(st.mac.Sum(st.sum[:0]), sig)
	k.hmacPool.Put(st)
	return ok
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
	if min := max(MinHMACKeyBytes, hf().Size()); len(secret) < min {
		return nil, fmt.Errorf("jwtpair: HMAC key is %d bytes, want at least %d for %s (RFC 7518 §3.2)", len(secret), min, alg)
	}
	secret = bytes.Clone(secret) // the caller may reuse its slice
	return &jwsKey{
		alg:    alg,
		kid:    kid,
		header: encodeHeader(alg, kid),
		sign: func(input []byte) ([]byte, error) {
			return jwsbb.SignHMAC(secret, input, hf)
		},
		hmacPool: &sync.Pool{New: func() any { return &hmacState{mac: hmac.New(hf, secret)} }},
		hmacSize: hf().Size(),
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
