package jwtpair

import (
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
	"time"
)

// The server secret keys what tokens and cookies carry besides their
// signature: the CSRF tokens of cookie mode (csrf.go) and the stamp claim
// (stampClaim). Each use has its own key, HKDF-SHA256 of the secret with
// its own label, so no use can stand in for another.

// stampInfo separates stamp keys from every other use of the secret.
const stampInfo = "jwtpair stamp v1"

// buildSecret checks the server secret and derives the stamp keys: from
// it, else from the HMAC keys; none without either.
func (c *config) buildSecret() []derivedKey {
	if s := c.serverSecret; s != nil {
		if len(s) < MinHMACKeyBytes {
			c.bad("the server secret is %d bytes, want at least %d", len(s), MinHMACKeyBytes)
		} else {
			c.fail(refusePublicKey("server secret", s))
		}
	}
	keys, err := c.deriveKeys(stampInfo)
	c.fail(err)
	return keys
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
