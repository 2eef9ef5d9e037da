package jwtpair

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// WithSigningKey signs with an asymmetric private key: a crypto.Signer
// (*rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey, or an HSM/KMS
// signer) or PEM bytes (PKCS#8, PKCS#1, SEC 1). alg is one of RS256…RS512,
// PS256…PS512, ES256…ES512 (on the matching curve) or EdDSA (Ed25519). RSA
// keys under 2048 bits are refused. The key's id (kid) is its RFC 7638
// thumbprint unless [WithKeyID] says otherwise; tokens carry it, and
// [Auth.JWKSHandler] publishes the public key.
func WithSigningKey(key any, alg string) Option {
	return func(c *config) error {
		if key == nil {
			return errors.New("jwtpair: nil signing key")
		}
		if !isAsymmetric(alg) {
			return fmt.Errorf("jwtpair: WithSigningKey takes an asymmetric algorithm, not %q (use WithHMACKey for HS*)", alg)
		}
		if c.signingKey != nil {
			return errors.New("jwtpair: WithSigningKey given twice")
		}
		c.signingKey, c.signingAlg = key, alg
		return nil
	}
}

// WithKeyID sets the kid of the signing key. Default: the RFC 7638
// thumbprint for asymmetric keys, none for HMAC keys. An HMAC key needs one
// when [WithPreviousKey] is used, so that its tokens name their key.
func WithKeyID(kid string) Option {
	return func(c *config) error {
		if kid == "" {
			return errors.New("jwtpair: empty key ID")
		}
		c.keyID = kid
		return nil
	}
}

// WithPreviousKey keeps accepting tokens signed by an earlier key, found by
// their kid, until the given time (set it to the rotation time plus the
// refresh TTL). key is an HMAC secret ([]byte, with an HS* alg), or an
// asymmetric public or private key or PEM (kid "" means its thumbprint).
// The key never signs. Repeatable.
//
// An HMAC key with kid "" is the key of tokens without a kid: the one a
// default deployment (WithHMACKey without WithKeyID) signed with. To rotate
// from there, give the new key a kid and the old one none:
//
//	WithHMACKey(newSecret), WithKeyID("k2"),
//	WithPreviousKey(oldSecret, "HS256", "", rotatedAt.Add(refreshTTL))
//
// and tokens minted before the rotation keep verifying, and refreshing,
// until that time. At most one key may lack a kid (a token without one
// could not say which it is), and such a token still needs the key's alg.
// HMAC secrets that parse as a public key are refused, as for WithHMACKey.
func WithPreviousKey(key any, alg, kid string, until time.Time) Option {
	return func(c *config) error {
		if key == nil {
			return errors.New("jwtpair: nil previous key")
		}
		if until.IsZero() {
			return errors.New("jwtpair: a previous key needs an end of validity")
		}
		c.previous = append(c.previous, previousKey{material: key, alg: alg, kid: kid, until: until})
		return nil
	}
}

// JWKSHandler serves the public keys (the current signing key and the
// previous keys still accepted) as an RFC 7517 JWK Set, for resource
// servers that verify with [WithJWKSURL]. Only public members are
// published. With HMAC keys there is nothing public, and an Auth that
// only verifies (WithJWKSURL) has no keys of its own: it answers 404.
// Mount it at /.well-known/jwks.json.
func (a *Auth) JWKSHandler() http.Handler {
	var body []byte
	if a.ring != nil {
		body = a.ring.jwks
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeBody(w, respMethod.Status, respMethod.Body)
			return
		}
		if body == nil {
			writeJSON(w, http.StatusNotFound, Problem{Detail: "No public keys: this server signs no tokens with a key pair.", Code: "not_found"})
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/jwk-set+json")
		h.Set("Cache-Control", "public, max-age=300")
		h.Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(body)
		}
	})
}
