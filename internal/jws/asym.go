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
// EC keys on the wrong curve.
func checkPublicKey(alg string, spec asymAlg, pub any) error {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		if spec.family != familyRSA {
			break
		}
		if p.N.BitLen() < MinRSABits {
			return fmt.Errorf("RSA key is %d bits, want at least %d", p.N.BitLen(), MinRSABits)
		}
		return nil
	case *ecdsa.PublicKey:
		if spec.family != familyEC {
			break
		}
		if p.Curve != spec.curve {
			return fmt.Errorf("%s needs an EC key on %s, got %s", alg, spec.curve.Params().Name, p.Curve.Params().Name)
		}
		return nil
	case ed25519.PublicKey:
		if spec.family == familyEd {
			return nil
		}
	}
	return fmt.Errorf("a %T key cannot be used with %s", pub, alg)
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
