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
	"strings"
)

// Sign returns base64url(header) "." base64url(payload) "." base64url(sig),
// where sig is made with alg ("HS256", "RS256", "ES256" or "EdDSA") and key
// ([]byte, *rsa.PrivateKey, *ecdsa.PrivateKey on P-256, ed25519.PrivateKey).
func Sign(alg string, key any, header, payload string) (string, error) {
	enc := base64.RawURLEncoding
	input := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	sig, err := SignInput(alg, key, input)
	if err != nil {
		return "", err
	}
	return input + "." + enc.EncodeToString(sig), nil
}

// SignInput signs a signing input as it is, whatever bytes it holds (white
// space, padding), with alg and key as Sign takes them.
func SignInput(alg string, key any, input string) ([]byte, error) {
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
			return nil, err
		}
	case *ecdsa.PrivateKey:
		if alg != "ES256" {
			break
		}
		r, s, err := ecdsa.Sign(rand.Reader, k, digest[:])
		if err != nil {
			return nil, err
		}
		sig = append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	case ed25519.PrivateKey:
		if alg == "EdDSA" {
			sig = ed25519.Sign(k, []byte(input))
		}
	}
	if sig == nil {
		return nil, fmt.Errorf("forge: cannot sign %s with a %T", alg, key)
	}
	return sig, nil
}

// SignAround returns two tokens signed as Sign signs them, whose payload is
// payload (a JSON object) with a "pad" string member added: under, the
// longest such token at most limit bytes long, and over, the shortest one
// longer than limit. Both are validly signed, so a verifier that accepts
// under and refuses over refuses over for its length alone.
func SignAround(alg string, key any, header, payload string, limit int) (under, over string, err error) {
	if !strings.HasPrefix(payload, "{") {
		return "", "", fmt.Errorf("forge: payload %q is not a JSON object", payload)
	}
	padded := func(n int) string {
		sep := ","
		if strings.TrimSpace(payload[1:]) == "}" {
			sep = ""
		}
		return `{"pad":"` + strings.Repeat("x", n) + `"` + sep + payload[1:]
	}
	// The signature's length does not depend on the payload: measure it once.
	base, err := Sign(alg, key, header, padded(0))
	if err != nil {
		return "", "", err
	}
	enc := base64.RawURLEncoding
	fixed := len(base) - enc.EncodedLen(len(padded(0)))
	length := func(n int) int { return fixed + enc.EncodedLen(len(padded(n))) }
	if length(0) > limit {
		return "", "", fmt.Errorf("forge: a token of %d bytes is already over %d", length(0), limit)
	}
	n := max(0, (limit-length(0))*3/4-4)
	for length(n+1) <= limit {
		n++
	}
	if under, err = Sign(alg, key, header, padded(n)); err != nil {
		return "", "", err
	}
	if over, err = Sign(alg, key, header, padded(n+1)); err != nil {
		return "", "", err
	}
	return under, over, nil
}
