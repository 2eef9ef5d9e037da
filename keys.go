package jwtpair

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"hash"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
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
	if err := refusePublicKey("HMAC key", secret); err != nil {
		return nil, err
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

// refusePublicKey refuses a secret whose bytes are public key material: a
// PEM block, DER or base64 DER of a public key or certificate, or a JWK (or
// JWK Set) of a public key. Verifying HMAC tokens with a public key as the
// secret is the classic algorithm-confusion setup: whoever has the public
// key (everyone) can sign tokens with it.
func refusePublicKey(what string, b []byte) error {
	if isPublicKeyMaterial(b) {
		return fmt.Errorf("jwtpair: the %s is a public key (PEM, DER or JWK): a public key is no secret, and anyone holding it could sign tokens with it (algorithm confusion); use random bytes, or WithSigningKey / WithPreviousKey with an asymmetric algorithm for a key pair", what)
	}
	return nil
}

// isPublicKeyMaterial reports whether b parses as a public key or a
// certificate in one of the forms it is published in.
func isPublicKeyMaterial(b []byte) bool {
	for rest := b; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if isPublicDER(block.Bytes) {
			return true
		}
	}
	if isPublicDER(b) {
		return true
	}
	if der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(b)), "")); err == nil && isPublicDER(der) {
		return true
	}
	if set, err := jwk.Parse(b); err == nil {
		for i := range set.Len() {
			if k, ok := set.Key(i); ok {
				if private, err := jwk.IsPrivateKey(k); err == nil && !private {
					return true
				}
			}
		}
	}
	return false
}

// isPublicDER reports whether der is a PKIX or PKCS #1 public key or an
// X.509 certificate.
func isPublicDER(der []byte) bool {
	if _, err := x509.ParsePKIXPublicKey(der); err == nil {
		return true
	}
	if _, err := x509.ParsePKCS1PublicKey(der); err == nil {
		return true
	}
	_, err := x509.ParseCertificate(der)
	return err == nil
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
