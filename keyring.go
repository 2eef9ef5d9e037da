package jwtpair

import (
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// keyring is the set of keys an Auth verifies with, and the one it signs
// with, built once (or, for a JWKS URL, each time the set changes).
type keyring struct {
	signer   *jwsKey            // nil when the Auth only verifies
	byHeader map[string]*jwsKey // encoded header as each key emits it → key
	byKID    map[string]*jwsKey
	only     *jwsKey // the key for tokens without kid: the key without one (at most one), else the only key
	jwks     []byte  // public keys as an RFC 7517 JWK Set; nil for HMAC-only rings
}

// previousKey is a key kept for verification after a rotation.
type previousKey struct {
	material any
	alg, kid string
	until    time.Time
}

// buildKeyring turns the key options into a keyring.
func (c *config) buildKeyring() (*keyring, error) {
	ring := &keyring{byHeader: map[string]*jwsKey{}, byKID: map[string]*jwsKey{}}
	var publics []jwk.Key
	add := func(k *jwsKey, pub crypto.PublicKey) error {
		if k.kid != "" {
			if _, dup := ring.byKID[k.kid]; dup {
				return fmt.Errorf("jwtpair: two keys share the kid %q", k.kid)
			}
			ring.byKID[k.kid] = k
		} else {
			if ring.only != nil {
				return errors.New("jwtpair: two keys without a kid: a token without one could not say which is its key; give all but one a kid")
			}
			ring.only = k
		}
		ring.byHeader[k.header] = k
		if pub != nil {
			jk, err := publicJWK(pub, k.alg, k.kid)
			if err != nil {
				return err
			}
			publics = append(publics, jk)
		}
		return nil
	}

	var signer *jwsKey
	var pub crypto.PublicKey
	var err error
	switch {
	case c.hmacKey != nil:
		signer, err = newHMACKey(c.alg, c.hmacKey, c.keyID)
	case c.signingKey != nil:
		signer, pub, err = newAsymmetricKey(c.signingAlg, c.signingKey, c.keyID)
		if err == nil && signer.sign == nil {
			err = errors.New("jwtpair: WithSigningKey needs a private key, got a public one")
		}
	}
	if err != nil {
		return nil, err
	}
	if len(c.previous) > 0 && signer != nil && signer.kid == "" {
		return nil, errors.New("jwtpair: with previous keys, the signing key needs a kid (WithKeyID)")
	}
	if signer != nil {
		if err := add(signer, pub); err != nil {
			return nil, err
		}
		ring.signer = signer
	}
	for _, p := range c.previous {
		var k *jwsKey
		var pub crypto.PublicKey
		if secret, ok := p.material.([]byte); ok && !isAsymmetric(p.alg) {
			k, err = newHMACKey(p.alg, secret, p.kid)
		} else {
			k, pub, err = newAsymmetricKey(p.alg, p.material, p.kid)
		}
		if err != nil {
			return nil, fmt.Errorf("previous key: %w", err)
		}
		k.sign, k.notAfter = nil, p.until
		if err := add(k, pub); err != nil {
			return nil, err
		}
	}
	if len(ring.byHeader) == 1 {
		for _, k := range ring.byHeader {
			ring.only = k
		}
	}
	if len(publics) > 0 {
		if ring.jwks, err = marshalJWKS(publics); err != nil {
			return nil, err
		}
	}
	return ring, nil
}

// publicJWK renders a public key as a JWK with kid, alg and use.
func publicJWK(pub crypto.PublicKey, alg, kid string) (jwk.Key, error) {
	k, err := jwk.Import(pub)
	if err != nil {
		return nil, fmt.Errorf("jwtpair: importing public key: %w", err)
	}
	for name, v := range map[string]string{jwk.KeyIDKey: kid, jwk.AlgorithmKey: alg, jwk.KeyUsageKey: "sig"} {
		if err := k.Set(name, v); err != nil {
			return nil, fmt.Errorf("jwtpair: setting %s: %w", name, err)
		}
	}
	return k, nil
}

func marshalJWKS(keys []jwk.Key) ([]byte, error) {
	set := jwk.NewSet()
	for _, k := range keys {
		if err := set.AddKey(k); err != nil {
			return nil, fmt.Errorf("jwtpair: building JWKS: %w", err)
		}
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("jwtpair: marshalling JWKS: %w", err)
	}
	return append(b, '\n'), nil
}
