package bench

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The claims of every benchmark token besides the times and the jti:
// simplejwt's access-token claims (token_type, exp, iat, jti, user_id) plus
// iss and aud, which auth0/go-jwt-middleware requires. Every middleware is
// configured to check them as jwtpair does, as far as its library allows
// (see [Lib]).
const (
	Issuer   = "https://auth.example.com"
	Audience = "api"
	UserID   = "42"
	// KeyID is the kid of asymmetric keys (jwtpair's tokens name their key
	// when it is asymmetric; HMAC tokens carry no kid, as simplejwt's).
	KeyID = "bench"
)

// Alg is one signing algorithm of the benchmarks: a row of [Algs].
type Alg struct {
	Name   string               // the JWS alg
	newKey func() (*Key, error) // a fresh key, standard library only
}

// Algs are the algorithms benchmarked. Adding one is one row here.
var Algs = []Alg{
	{"HS256", hmacKey("HS256", crypto.SHA256, sha256.New)},
	{"RS256", rsaKey("RS256", crypto.SHA256, 2048)},
	{"ES256", ecKey("ES256", crypto.SHA256, elliptic.P256())},
	{"EdDSA", edKey},
}

// AlgByName returns the row of Algs named name.
func AlgByName(name string) (Alg, bool) {
	for _, a := range Algs {
		if a.Name == name {
			return a, true
		}
	}
	return Alg{}, false
}

// Key is key material of one algorithm with standard-library sign and
// verify functions. Exactly one of Secret and Private is set.
type Key struct {
	Alg     string
	Secret  []byte           // HMAC secret
	Private crypto.Signer    // asymmetric private key
	Public  crypto.PublicKey // its public key
	Hash    crypto.Hash      // digest of the signing input; 0 for EdDSA

	newMAC func() hash.Hash // HMAC's hash (sha256.New for HS256)

	// sign signs a JWS signing input.
	sign func(input []byte) ([]byte, error)
	// verifyDigest is the bare crypto verify of sig over a signing input
	// whose digest under Hash is given (EdDSA signs the input itself). Nil
	// for HMAC.
	verifyDigest func(input, digest, sig []byte) bool
}

// VerifyKey is what a peer library is given to verify with: the secret or
// the public key.
func (k *Key) VerifyKey() any {
	if k.Secret != nil {
		return k.Secret
	}
	return k.Public
}

// Verify checks sig over a signing input with the standard library: the
// HMAC, or the digest and the public-key verify.
func (k *Key) Verify(input, sig []byte) bool {
	if k.Secret != nil {
		m := hmac.New(k.newMAC, k.Secret)
		m.Write(input)
		return hmac.Equal(m.Sum(nil), sig)
	}
	var digest []byte
	if k.Hash != 0 {
		h := k.Hash.New()
		h.Write(input)
		digest = h.Sum(nil)
	}
	return k.verifyDigest(input, digest, sig)
}

// Digest returns the digest of a signing input under k.Hash (nil for
// EdDSA), for the bare verify.
func (k *Key) Digest(input []byte) []byte {
	if k.Hash == 0 {
		return nil
	}
	h := k.Hash.New()
	h.Write(input)
	return h.Sum(nil)
}

// VerifyDigest is the bare crypto verify (see [Key]); it reports false for
// HMAC keys, which have none.
func (k *Key) VerifyDigest(input, digest, sig []byte) bool {
	return k.verifyDigest != nil && k.verifyDigest(input, digest, sig)
}

// HasBareVerify reports whether k has a bare public-key verify.
func (k *Key) HasBareVerify() bool { return k.verifyDigest != nil }

// Header returns the base64url JOSE header of k's tokens, laid out as
// jwtpair and PyJWT (simplejwt) emit it: members in lexical order, kid only
// for asymmetric keys.
func (k *Key) Header() string {
	h := `{"alg":"` + k.Alg + `",`
	if k.Secret == nil {
		h += `"kid":"` + KeyID + `",`
	}
	h += `"typ":"JWT"}`
	return b64.EncodeToString([]byte(h))
}

var b64 = base64.RawURLEncoding

// Mint signs a token of type typ ("access", "refresh") with the
// benchmark claims, issued at iat and expiring at exp.
func (k *Key) Mint(typ string, iat, exp time.Time) (string, error) {
	var jti [16]byte
	_, _ = rand.Read(jti[:])
	payload := `{"token_type":"` + typ + `","exp":` + strconv.FormatInt(exp.Unix(), 10) +
		`,"iat":` + strconv.FormatInt(iat.Unix(), 10) + `,"jti":"` + hex.EncodeToString(jti[:]) +
		`","user_id":"` + UserID + `","aud":"` + Audience + `","iss":"` + Issuer + `"}`
	return k.Sign(payload)
}

// Sign returns a token of k's header and the given JSON payload, taken as
// it is (the tests hand-make malformed claims with it).
func (k *Key) Sign(payload string) (string, error) {
	input := k.Header() + "." + b64.EncodeToString([]byte(payload))
	sig, err := k.sign([]byte(input))
	if err != nil {
		return "", err
	}
	return input + "." + b64.EncodeToString(sig), nil
}

// Tokens are the tokens of one algorithm the benchmarks present.
type Tokens struct {
	Valid     string // a valid access token (an hour left)
	Expired   string // expired a minute ago, correctly signed
	WrongSig  string // the claims of Valid signed by another key of the same algorithm
	WrongType string // a valid refresh token, where an access token is wanted
	Garbage   string // 1 MiB of dots
}

// KeySet is the key of one algorithm, another key for wrong signatures, and
// the tokens.
type KeySet struct {
	Key, Other *Key
	Tokens     Tokens
}

var keySets sync.Map // alg name → func() (*KeySet, error)

// KeysFor returns the KeySet of an algorithm, made once per process (RSA
// key generation is slow) with tokens valid for an hour from then.
func KeysFor(a Alg) (*KeySet, error) {
	f, _ := keySets.LoadOrStore(a.Name, sync.OnceValues(func() (*KeySet, error) { return newKeySet(a) }))
	return f.(func() (*KeySet, error))()
}

func newKeySet(a Alg) (*KeySet, error) {
	k, err := a.newKey()
	if err != nil {
		return nil, err
	}
	other, err := a.newKey()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	ks := &KeySet{Key: k, Other: other}
	t := &ks.Tokens
	if t.Valid, err = k.Mint("access", now, now.Add(time.Hour)); err != nil {
		return nil, err
	}
	if t.Expired, err = k.Mint("access", now.Add(-6*time.Minute), now.Add(-time.Minute)); err != nil {
		return nil, err
	}
	if t.WrongType, err = k.Mint("refresh", now, now.Add(time.Hour)); err != nil {
		return nil, err
	}
	input := t.Valid[:strings.LastIndexByte(t.Valid, '.')]
	sig, err := other.sign([]byte(input))
	if err != nil {
		return nil, err
	}
	t.WrongSig = input + "." + b64.EncodeToString(sig)
	t.Garbage = strings.Repeat(".", 1<<20)
	return ks, nil
}

func hmacKey(alg string, h crypto.Hash, newMAC func() hash.Hash) func() (*Key, error) {
	return func() (*Key, error) {
		secret := make([]byte, 32)
		_, _ = rand.Read(secret)
		k := &Key{Alg: alg, Secret: secret, Hash: h, newMAC: newMAC}
		k.sign = func(input []byte) ([]byte, error) {
			m := hmac.New(newMAC, secret)
			m.Write(input)
			return m.Sum(nil), nil
		}
		return k, nil
	}
}

func rsaKey(alg string, h crypto.Hash, bits int) func() (*Key, error) {
	return func() (*Key, error) {
		priv, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			return nil, err
		}
		k := &Key{Alg: alg, Private: priv, Public: &priv.PublicKey, Hash: h}
		k.sign = func(input []byte) ([]byte, error) {
			return rsa.SignPKCS1v15(nil, priv, h, k.Digest(input))
		}
		k.verifyDigest = func(_, digest, sig []byte) bool {
			return rsa.VerifyPKCS1v15(&priv.PublicKey, h, digest, sig) == nil
		}
		return k, nil
	}
}

func ecKey(alg string, h crypto.Hash, curve elliptic.Curve) func() (*Key, error) {
	return func() (*Key, error) {
		priv, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			return nil, err
		}
		size := (curve.Params().BitSize + 7) / 8
		k := &Key{Alg: alg, Private: priv, Public: &priv.PublicKey, Hash: h}
		k.sign = func(input []byte) ([]byte, error) {
			r, s, err := ecdsa.Sign(rand.Reader, priv, k.Digest(input))
			if err != nil {
				return nil, err
			}
			sig := make([]byte, 2*size) // JWS: r || s, fixed width (RFC 7518 §3.4)
			r.FillBytes(sig[:size])
			s.FillBytes(sig[size:])
			return sig, nil
		}
		k.verifyDigest = func(_, digest, sig []byte) bool {
			if len(sig) != 2*size {
				return false
			}
			r := new(big.Int).SetBytes(sig[:size])
			s := new(big.Int).SetBytes(sig[size:])
			return ecdsa.Verify(&priv.PublicKey, digest, r, s)
		}
		return k, nil
	}
}

func edKey() (*Key, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	k := &Key{Alg: "EdDSA", Private: priv, Public: pub}
	k.sign = func(input []byte) ([]byte, error) { return ed25519.Sign(priv, input), nil }
	k.verifyDigest = func(input, _, sig []byte) bool { return ed25519.Verify(pub, input, sig) }
	return k, nil
}
