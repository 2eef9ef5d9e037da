// Package forge signs compact JWS by hand with the standard library only,
// for tests that build hostile tokens and must not rely on jwtpair's own
// signer. The header and payload are taken as raw JSON text, so a test can
// write anything into them, and the signing primitive is chosen by the alg
// argument, whatever the header claims.
package forge

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// Sign returns base64url(header) "." base64url(payload) "." base64url(sig),
// where sig is made with alg ("HS256", "RS256", "ES256" or "EdDSA") and key
// ([]byte, *rsa.PrivateKey, *ecdsa.PrivateKey on P-256, ed25519.PrivateKey).
func Sign(alg string, key any, header, payload string) (string, error) {
	enc := base64.RawURLEncoding
	input := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	switch k := key.(type) {
	case []byte:
		if alg != "HS256" {
			break
		}
		m := hmac.New(sha256.New, k)
		m.Write([]byte(input))
		sig = m.Sum(nil)
	case *rsa.PrivateKey:
		if alg != "RS256" {
			break
		}
		var err error
		if sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, digest[:]); err != nil {
			return "", err
		}
	case *ecdsa.PrivateKey:
		if alg != "ES256" {
			break
		}
		r, s, err := ecdsa.Sign(rand.Reader, k, digest[:])
		if err != nil {
			return "", err
		}
		sig = append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	case ed25519.PrivateKey:
		if alg == "EdDSA" {
			sig = ed25519.Sign(k, []byte(input))
		}
	}
	if sig == nil {
		return "", fmt.Errorf("forge: cannot sign %s with a %T", alg, key)
	}
	return input + "." + enc.EncodeToString(sig), nil
}
