package jwtpair

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
