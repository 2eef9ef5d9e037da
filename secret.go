package jwtpair

import (
	"errors"
	"fmt"
)

// The server secret keys what tokens and cookies carry besides their
// signature: the CSRF tokens of cookie mode (csrf.go) and the stamp claim
// (stampClaim). Each use has its own key, HKDF-SHA256 of the secret with
// its own label, so no use can stand in for another.

// stampInfo separates stamp keys from every other use of the secret.
const stampInfo = "jwtpair stamp v1"

// WithServerSecret sets the secret that CSRF tokens (cookie mode) and the
// stamp claim ([User.Stamp]) are keyed with, through HKDF-SHA256 with a
// separate label for each. At least 32 random bytes, the same on every
// instance; bytes that parse as a public key are refused.
//
// Default: derived from the WithHMACKey secret, and from each HMAC
// [WithPreviousKey] until its end, so that a key rotation keeps CSRF tokens
// and stamps valid as long as it keeps the old key's tokens. With
// WithSigningKey or WithJWKSURL there is no shared secret to derive from:
// set this option on the issuer and on every resource server that checks
// stamps or CSRF tokens. New refuses cookie mode without a secret, and
// WithUserCheck on a resource server (WithJWKSURL) without one. An issuer
// without a secret refuses to issue tokens for a user with a Stamp (obtain
// answers 500 and logs it); it never falls back to an unkeyed digest.
//
// When set, it is the only source of those keys (the HMAC keys are not
// used). Changing it voids outstanding CSRF tokens and ends, at their next
// refresh, the sessions of users with a Stamp.
func WithServerSecret(secret []byte) Option {
	return func(c *config) error {
		if c.serverSecret != nil {
			return errors.New("jwtpair: WithServerSecret given twice")
		}
		if secret == nil {
			return errors.New("jwtpair: nil server secret")
		}
		c.serverSecret = append([]byte{}, secret...)
		return nil
	}
}

// validateSecret checks the server secret and what needs one. It is called
// by config.validate.
func (c *config) validateSecret() []error {
	var errs []error
	if s := c.serverSecret; s != nil {
		if len(s) < MinHMACKeyBytes {
			errs = append(errs, fmt.Errorf("jwtpair: the server secret is %d bytes, want at least %d", len(s), MinHMACKeyBytes))
		} else if err := refusePublicKey("server secret", s); err != nil {
			errs = append(errs, err)
		}
	}
	if c.userCheck && c.jwks != nil && c.serverSecret == nil {
		errs = append(errs, errors.New("jwtpair: WithUserCheck on a resource server (WithJWKSURL) needs WithServerSecret, the issuer's, to check user stamps"))
	}
	return errs
}
