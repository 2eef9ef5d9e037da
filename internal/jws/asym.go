package jws

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"
)

// MinRSABits is the smallest RSA modulus NewAsymmetricKey accepts (RFC
// 7518 §3.3).
const MinRSABits = 2048

type keyFamily uint8

const (
	familyRSA keyFamily = iota + 1
	familyEC
	familyEd
)

// asymAlg describes one asymmetric JWS algorithm.
type asymAlg struct {
	family keyFamily
	hash   crypto.Hash
	pss    bool
	curve  elliptic.Curve // EC only
}

var asymAlgs = map[string]asymAlg{
	"RS256": {family: familyRSA, hash: crypto.SHA256},
	"RS384": {family: familyRSA, hash: crypto.SHA384},
	"RS512": {family: familyRSA, hash: crypto.SHA512},
	"PS256": {family: familyRSA, hash: crypto.SHA256, pss: true},
	"PS384": {family: familyRSA, hash: crypto.SHA384, pss: true},
	"PS512": {family: familyRSA, hash: crypto.SHA512, pss: true},
	"ES256": {family: familyEC, hash: crypto.SHA256, curve: elliptic.P256()},
	"ES384": {family: familyEC, hash: crypto.SHA384, curve: elliptic.P384()},
	"ES512": {family: familyEC, hash: crypto.SHA512, curve: elliptic.P521()},
	"EdDSA": {family: familyEd},
}

// algorithms lists every algorithm a key can be built for.
var algorithms = []string{"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// IsAsymmetric reports whether alg is one of the public-key algorithms.
func IsAsymmetric(alg string) bool { _, ok := asymAlgs[alg]; return ok }

// NewAsymmetricKey builds a key for alg from key material: a private key
// (a crypto.Signer: the concrete key types, or an HSM or KMS signer) signs
// and verifies; a public key only verifies. PEM bytes are parsed first
// (one block: PKCS #8, PKCS #1 or SEC 1 private key, PKIX public key). The
// key must fit alg: its family, the curve of ES*, RSA of MinRSABits at
// least. kid "" means the RFC 7638 thumbprint of the public key.
func NewAsymmetricKey(alg string, material any, kid string) (*Key, error) {
	spec, ok := asymAlgs[alg]
	if !ok {
		return nil, fmt.Errorf("unknown algorithm %q (want one of %v)", alg, algorithms)
	}
	if str, isString := material.(string); isString {
		return nil, stringKeyError(alg, str)
	}
	if b, isBytes := material.([]byte); isBytes {
		parsed, err := parsePEM(b)
		if err != nil {
			return nil, err
		}
		material = parsed
	}
	var signer crypto.Signer
	pub := material
	if s, ok := material.(crypto.Signer); ok {
		signer, pub = s, s.Public()
	}
	if err := checkPublicKey(alg, spec, pub); err != nil {
		return nil, err
	}
	if kid == "" {
		var err error
		if kid, err = Thumbprint(pub); err != nil {
			return nil, err
		}
	}
	k := &Key{alg: alg, kid: kid, header: encodeHeader(alg, kid), public: pub, verifyFn: asymVerifier(spec, pub)}
	if signer != nil {
		k.sign = asymSigner(alg, spec, signer)
	}
	return k, nil
}

// checkPublicKey refuses key types that do not match alg, weak RSA keys and
// EC keys on the wrong curve, saying what alg needs and what the key fits.
func checkPublicKey(alg string, spec asymAlg, pub any) error {
	if !keyFits(spec, pub) {
		return fmt.Errorf("%s cannot be used with %s, which needs %s%s", describeKey(pub), alg, spec.needs(), fits(pub))
	}
	if p, ok := pub.(*rsa.PublicKey); ok && p.N.BitLen() < MinRSABits {
		return fmt.Errorf("RSA key is %d bits, want at least %d", p.N.BitLen(), MinRSABits)
	}
	return nil
}

// keyFits reports whether pub is of the kind spec needs: its family, and
// for EC its curve.
func keyFits(spec asymAlg, pub any) bool {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		return spec.family == familyRSA
	case *ecdsa.PublicKey:
		return spec.family == familyEC && p.Curve == spec.curve
	case ed25519.PublicKey:
		return spec.family == familyEd
	}
	return false
}

// needs names the key an algorithm of spec needs.
func (spec asymAlg) needs() string {
	switch spec.family {
	case familyRSA:
		return fmt.Sprintf("an RSA key of at least %d bits", MinRSABits)
	case familyEC:
		return "an EC key on " + spec.curve.Params().Name
	}
	return "an Ed25519 key"
}

// describeKey names the kind of a public key (or of what stands for one).
func describeKey(pub any) string {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		return "an RSA key"
	case *ecdsa.PublicKey:
		return "an EC " + p.Curve.Params().Name + " key"
	case ed25519.PublicKey:
		return "an Ed25519 key"
	}
	return fmt.Sprintf("a %T", pub)
}

// fits says which algorithms a public key fits, or what to pass instead of
// something that is no key.
func fits(pub any) string {
	var algs []string
	for _, alg := range algorithms {
		if spec, ok := asymAlgs[alg]; ok && keyFits(spec, pub) {
			algs = append(algs, alg)
		}
	}
	if len(algs) == 0 {
		return "; pass PEM bytes, " + otherKeys
	}
	return "; " + describeKey(pub) + " fits " + strings.Join(algs, ", ")
}

// otherKeys lists what key material is accepted besides PEM bytes.
const otherKeys = "a crypto.Signer (ed25519.PrivateKey, *ecdsa.PrivateKey, *rsa.PrivateKey, or an HSM/KMS signer) or, to verify only, a public key"

// stringKeyError explains why a string is no key: keys come as PEM bytes,
// never as a file name. The string is not repeated: it may be a key.
func stringKeyError(alg, s string) error {
	if strings.Contains(s, "-----BEGIN") {
		return fmt.Errorf("a string key cannot be used with %s: pass the PEM as bytes, []byte(pem)", alg)
	}
	return fmt.Errorf("a string key cannot be used with %s (a file name is not read): pass the key's PEM bytes, as os.ReadFile(name) returns them, %s", alg, otherKeys)
}

// asymSigner signs with jwx's building blocks: the concrete key types
// directly, any other crypto.Signer (an HSM, a KMS) through its Sign method.
func asymSigner(alg string, spec asymAlg, s crypto.Signer) func([]byte) ([]byte, error) {
	switch s.(type) {
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
		return func(input []byte) ([]byte, error) { return jwsbb.Sign(s, alg, input, nil) }
	}
	switch spec.family {
	case familyEC:
		return func(input []byte) ([]byte, error) { return jwsbb.SignECDSACryptoSigner(s, input, spec.hash, nil) }
	case familyRSA:
		var opts crypto.SignerOpts = spec.hash
		if spec.pss {
			opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: spec.hash}
		}
		return func(input []byte) ([]byte, error) { return jwsbb.SignCryptoSigner(s, input, spec.hash, opts, nil) }
	}
	return func(input []byte) ([]byte, error) {
		return jwsbb.SignCryptoSigner(s, input, crypto.Hash(0), crypto.Hash(0), nil)
	}
}

// asymVerifier verifies with jwx's building blocks. ECDSA signatures must be
// exactly r||s of the curve's size; r or s of zero never verifies.
func asymVerifier(spec asymAlg, pub any) func(input, sig []byte) bool {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		size := p.Size()
		return func(input, sig []byte) bool {
			return len(sig) == size && jwsbb.VerifyRSA(p, input, sig, spec.hash, spec.pss) == nil
		}
	case *ecdsa.PublicKey:
		size := 2 * ((p.Curve.Params().BitSize + 7) / 8)
		return func(input, sig []byte) bool {
			return len(sig) == size && jwsbb.VerifyECDSA(p, input, sig, spec.hash) == nil
		}
	case ed25519.PublicKey:
		return func(input, sig []byte) bool {
			return len(sig) == ed25519.SignatureSize && jwsbb.VerifyEdDSA(p, input, sig) == nil
		}
	}
	return func([]byte, []byte) bool { return false }
}

// Thumbprint returns the base64url RFC 7638 SHA-256 thumbprint of a public
// key.
func Thumbprint(pub any) (string, error) {
	k, err := jwk.Import(pub)
	if err != nil {
		return "", fmt.Errorf("importing key: %w", err)
	}
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("key thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// parsePEM parses one PEM block: a private key (PKCS#8 "PRIVATE KEY",
// PKCS#1 "RSA PRIVATE KEY" or SEC 1 "EC PRIVATE KEY") or a public key (PKIX
// "PUBLIC KEY"). Encrypted PEM and trailing blocks are refused.
func parsePEM(b []byte) (any, error) {
	block, rest := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block found in key")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("key has data after its PEM block")
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	default:
		return nil, fmt.Errorf("unsupported PEM block %q", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", block.Type, err)
	}
	if p, ok := key.(*ed25519.PrivateKey); ok { // some parsers hand out pointers
		key = *p
	}
	return key, nil
}
