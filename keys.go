package jwtpair

import (
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/jwtpair/jwtpair/internal/jws"
)

// MinHMACKeyBytes is the shortest HMAC secret New accepts, for HS256. RFC
// 7518 §3.2 asks for a key at least as long as the hash output: HS384
// needs 48 bytes and HS512 64.
const MinHMACKeyBytes = 32 // jws.MinHMACKeyBytes, which enforces it (TestKeyLimits)

// keyring is the keys of an Auth: those it verifies with (jws.Ring), the
// one it signs with, and the JWK Set publishing their public keys. It is
// built once by New (buildKeyring) or, for a JWKS URL, each time the set
// changes (remoteKeys.install).
type keyring struct {
	jws.Ring
	signer *jws.Key // nil when the Auth only verifies
	jwks   []byte   // public keys as an RFC 7517 JWK Set; nil for HMAC-only rings
}

// previousKey is a key kept for verification after a rotation.
type previousKey struct {
	material any
	alg, kid string
	until    time.Time
}

// buildKeyring turns the key options into a keyring.
func (c *config) buildKeyring() (*keyring, error) {
	var signer *jws.Key
	var err error
	switch {
	case c.hmacKey != nil:
		signer, err = jws.NewHMACKey(c.alg, c.hmacKey, c.keyID)
	case c.signingKey != nil:
		signer, err = jws.NewAsymmetricKey(c.signingAlg, c.signingKey, c.keyID)
		if err == nil && !signer.CanSign() {
			err = errors.New("WithSigningKey needs a private key, got a public one")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("jwtpair: %w", err)
	}
	if len(c.previous) > 0 && signer != nil && signer.KID() == "" {
		return nil, errors.New("jwtpair: with previous keys, the signing key needs a kid (WithKeyID)")
	}
	ring := &keyring{signer: signer}
	var keys []*jws.Key
	if signer != nil {
		keys = append(keys, signer)
		if err := ring.Add(signer); err != nil {
			return nil, fmt.Errorf("jwtpair: %w", err)
		}
	}
	for _, p := range c.previous {
		k, err := previousKeyOf(p)
		if err == nil && signer != nil && k.SameKey(signer) {
			err = errors.New("it is the signing key itself: give the key tokens were signed with before the rotation")
		}
		if err != nil {
			return nil, fmt.Errorf("jwtpair: previous key: %w", err)
		}
		if !p.until.After(c.now()) {
			c.warnings = append(c.warnings, fmt.Sprintf("jwtpair: previous key %q ended at %s and verifies nothing; remove its WithPreviousKey", p.kid, p.until.Format(time.RFC3339)))
		}
		k.Retire(p.until)
		keys = append(keys, k)
		if err := ring.Add(k); err != nil {
			return nil, fmt.Errorf("jwtpair: %w", err)
		}
	}
	ring.Finish()
	if ring.jwks, err = jws.MarshalJWKS(keys); err != nil {
		return nil, fmt.Errorf("jwtpair: %w", err)
	}
	return ring, nil
}

// previousKeyOf builds the key of a WithPreviousKey: an HMAC secret for
// an HS* algorithm, asymmetric key material otherwise.
func previousKeyOf(p previousKey) (*jws.Key, error) {
	secret, isBytes := p.material.([]byte)
	switch {
	case isBytes && !isAsymmetric(p.alg):
		return jws.NewHMACKey(p.alg, secret, p.kid)
	case jws.IsHMAC(p.alg):
		return nil, fmt.Errorf("an %s key is the secret's bytes ([]byte), not a %T", p.alg, p.material)
	}
	return jws.NewAsymmetricKey(p.alg, p.material, p.kid)
}

// isAsymmetric reports whether alg is one of the public-key algorithms.
func isAsymmetric(alg string) bool { return jws.IsAsymmetric(alg) }

// refusePublicKey refuses a secret (what names it) whose bytes are public
// key material (jws.RefusePublicKey): anyone could sign with it.
func refusePublicKey(what string, b []byte) error {
	if err := jws.RefusePublicKey(what, b); err != nil {
		return fmt.Errorf("jwtpair: %w", err)
	}
	return nil
}

// The server secret keys what tokens and cookies carry besides their
// signature: the CSRF tokens of cookie mode (csrf.go) and the stamp claim
// (stamp.go). Each use has its own key, HKDF-SHA256 of the secret with its
// own label, so no use can stand in for another.

// checkSecret checks the secret of WithServerSecret, if any.
func (c *config) checkSecret() {
	if s := c.serverSecret; s != nil {
		if len(s) < MinHMACKeyBytes {
			c.bad("the server secret is %d bytes, want at least %d; %s", len(s), MinHMACKeyBytes, jws.SecretHint)
		} else {
			c.fail(refusePublicKey("server secret", s))
		}
	}
}

// derivedKey is a key derived from a server secret for one use. The first
// of a list is the current one; the others verify until notAfter.
type derivedKey struct {
	key      []byte
	notAfter time.Time // zero: no end (the current key)
}

// deriveKeys derives the keys of one use (info) of the server secret: from
// WithServerSecret, else from the HMAC signing key and the HMAC previous
// keys (each until its end). nil when there is no secret.
func (c *config) deriveKeys(info string) ([]derivedKey, error) {
	type source struct {
		secret []byte
		until  time.Time
	}
	var sources []source
	switch {
	case c.serverSecret != nil:
		sources = []source{{secret: c.serverSecret}}
	case c.hmacKey != nil:
		sources = []source{{secret: c.hmacKey}}
		for _, p := range c.previous {
			if secret, ok := p.material.([]byte); ok && !isAsymmetric(p.alg) {
				sources = append(sources, source{secret, p.until})
			}
		}
	}
	var keys []derivedKey
	for _, s := range sources {
		k, err := hkdf.Key(sha256.New, s.secret, nil, info, 32)
		if err != nil {
			return nil, fmt.Errorf("jwtpair: deriving the %s key: %w", info, err)
		}
		keys = append(keys, derivedKey{key: k, notAfter: s.until})
	}
	return keys, nil
}
