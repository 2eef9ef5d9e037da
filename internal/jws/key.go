package jws

import (
	"bytes"
	"crypto"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"hash"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"
)

// MinHMACKeyBytes is the shortest HMAC secret NewHMACKey accepts, for
// HS256. RFC 7518 §3.2 asks for a key at least as long as the hash
// output: HS384 needs 48 bytes and HS512 64.
const MinHMACKeyBytes = 32

// Key is one key a token is signed or verified with, with everything a
// request needs precomputed: its algorithm, kid, the encoded header it
// emits, and its signing and verifying functions. A Key is safe for
// concurrent use once built.
type Key struct {
	secret []byte // of an HMAC key; nil otherwise
	alg    string
	kid    string
	header string           // base64url of the exact JOSE header this key emits
	public crypto.PublicKey // the public key of an asymmetric key; nil for HMAC
	// sign produces the signature of a signing input; nil for verify-only keys.
	sign func(input []byte) ([]byte, error)

	// HMAC keys verify with pooled MAC states (no allocation per request);
	// other keys with verifyFn.
	hmacPool *sync.Pool // of *hmacState
	hmacSize int
	verifyFn func(input, sig []byte) bool

	// notAfter ends the validity of a retired (verify-only) key; zero for
	// a current one.
	notAfter time.Time
}

// Alg is the key's algorithm, as its tokens' headers name it.
func (k *Key) Alg() string { return k.alg }

// KID is the key's id; "" for a key whose tokens carry none.
func (k *Key) KID() string { return k.kid }

// Header is the encoded JOSE header the key's tokens carry.
func (k *Key) Header() string { return k.header }

// CanSign reports whether the key signs: it holds a secret or a private
// key and is not retired.
func (k *Key) CanSign() bool { return k.sign != nil }

// NotAfter is when a retired key stops verifying; zero for a current key.
func (k *Key) NotAfter() time.Time { return k.notAfter }

// Retire makes k a previous key: it no longer signs, and verifies until
// the given time (the caller checks NotAfter). Call it before sharing k.
func (k *Key) Retire(until time.Time) { k.sign, k.notAfter = nil, until }

// SameKey reports whether k and o are the same key material: one HMAC
// secret, or one public key (whatever their algorithms and kids).
func (k *Key) SameKey(o *Key) bool {
	if k.secret != nil || o.secret != nil {
		return bytes.Equal(k.secret, o.secret)
	}
	pub, ok := k.public.(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(o.public)
}

// hmacState is a reusable MAC and a buffer for its sum.
type hmacState struct {
	mac hash.Hash
	sum [sha512.Size]byte
}

// Open checks t's signature under k and returns t's payload, decoded
// into buf when it fits. It decodes the payload, then the signature, both
// strictly (DecodeSegment), and only then checks the signature: nothing
// but base64url text reaches the cryptography. It does not look at t's
// header: the caller chose k for it (Ring.Lookup).
func (k *Key) Open(t Compact, buf []byte) ([]byte, bool) {
	if b64.DecodedLen(len(t.Payload)) > len(buf) {
		// Too large for buf: decoded piece by piece into it first, so that
		// an unauthenticated payload costs no allocation, and for good
		// once the signature verified.
		if !checkSegment(t.Payload, buf) || !k.VerifyCompact(t) {
			return nil, false
		}
		return DecodeSegment(t.Payload, nil)
	}
	payload, ok := DecodeSegment(t.Payload, buf)
	if !ok || !k.VerifyCompact(t) {
		return nil, false
	}
	return payload, true
}

// checkSegment reports whether DecodeSegment accepts s, decoding it into
// buf (or a small buffer of its own, when buf is smaller) in pieces of
// whole base64 quanta, which decode alone as they do in s.
func checkSegment(s string, buf []byte) bool {
	var own [48]byte
	if len(buf) < len(own) {
		buf = own[:]
	}
	piece := len(buf) / 3 * 4
	for ; len(s) > piece; s = s[piece:] {
		if _, ok := DecodeSegment(s[:piece], buf); !ok {
			return false
		}
	}
	_, ok := DecodeSegment(s, buf)
	return ok
}

// VerifyCompact reports whether t's signature is valid under k, decoding
// it strictly (DecodeSegment). It does not look at t's header or payload:
// Open is the whole check.
func (k *Key) VerifyCompact(t Compact) bool {
	if k.hmacPool != nil {
		// An HMAC is of one size: anything else is refused undecoded, and
		// the right size decodes into a small buffer.
		if b64.DecodedLen(len(t.Signature)) != k.hmacSize {
			return false
		}
		var buf [sha512.Size]byte
		sig, ok := DecodeSegment(t.Signature, buf[:])
		return ok && k.verify(bytesOf(t.SigningInput), sig)
	}
	var buf [maxSignatureBytes]byte
	sig, ok := DecodeSegment(t.Signature, buf[:])
	return ok && k.verify(bytesOf(t.SigningInput), sig)
}

// verify reports whether sig is a valid signature of input under k.
func (k *Key) verify(input, sig []byte) bool {
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

// Sign returns the compact token of payload, signed with k, as
// header.payload.signature. A key that cannot sign returns an error.
func (k *Key) Sign(payload []byte) ([]byte, error) {
	if k.sign == nil {
		return nil, fmt.Errorf("the %s key %q does not sign", k.alg, k.kid)
	}
	input := make([]byte, 0, len(k.header)+1+b64.EncodedLen(len(payload))+1+b64.EncodedLen(128))
	input = append(input, k.header...)
	input = append(input, '.')
	input = b64.AppendEncode(input, payload)
	sig, err := k.sign(input)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	input = append(input, '.')
	return b64.AppendEncode(input, sig), nil
}

// Observed returns a copy of k that calls observe before each signature
// check, for tests that count the checks a request costs. It verifies as
// k does, through verifyFn rather than the pool.
func Observed(k *Key, observe func()) *Key {
	orig, o := *k, *k
	o.hmacPool, o.verifyFn = nil, func(input, sig []byte) bool {
		observe()
		return orig.verify(input, sig)
	}
	return &o
}

// hmacHashes maps the HMAC algorithms to their hash functions.
var hmacHashes = map[string]func() hash.Hash{
	"HS256": sha256.New,
	"HS384": sha512.New384,
	"HS512": sha512.New,
}

// SecretHint says how to make a secret long enough for every HMAC
// algorithm: 48 random bytes in base64 are 64 bytes of text, used as they
// are.
const SecretHint = "make a random one with: openssl rand -base64 48"

// IsHMAC reports whether alg is one of the HMAC algorithms.
func IsHMAC(alg string) bool { _, ok := hmacHashes[alg]; return ok }

// NewHMACKey builds a signing and verifying key for an HS* algorithm. The
// secret must be at least as long as the hash (MinHMACKeyBytes for HS256),
// and no public key (RefusePublicKey); it is copied.
func NewHMACKey(alg string, secret []byte, kid string) (*Key, error) {
	hf, ok := hmacHashes[alg]
	if !ok {
		return nil, fmt.Errorf("algorithm %q is not an HMAC algorithm (want HS256, HS384 or HS512)", alg)
	}
	if min := max(MinHMACKeyBytes, hf().Size()); len(secret) < min {
		unset := ""
		if len(secret) == 0 {
			unset = " (unset?)"
		}
		return nil, fmt.Errorf("HMAC key is %d bytes%s, want at least %d for %s (RFC 7518 §3.2); %s", len(secret), unset, min, alg, SecretHint)
	}
	if err := RefusePublicKey("HMAC key", secret); err != nil {
		return nil, err
	}
	secret = bytes.Clone(secret) // the caller may reuse its slice
	return &Key{
		secret: secret,
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

// RefusePublicKey refuses a secret whose bytes are public key material: a
// PEM block, DER or base64 DER of a public key or certificate, or a JWK (or
// JWK Set) of a public key. Verifying HMAC tokens with a public key as the
// secret is the classic algorithm-confusion setup: whoever has the public
// key (everyone) can sign tokens with it. what names the secret in the
// error.
func RefusePublicKey(what string, b []byte) error {
	if isPublicKeyMaterial(b) {
		return fmt.Errorf("the %s is a public key (PEM, DER or JWK): a public key is no secret, and anyone holding it could sign tokens with it (algorithm confusion); use random bytes, or WithSigningKey / WithPreviousKey with an asymmetric algorithm for a key pair", what)
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

// quote returns s as a JSON string literal.
func quote(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}
