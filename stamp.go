package jwtpair

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
)

// The stamp claim carries a keyed digest of User.Stamp, so that a change
// of the user's credentials ends the sessions that began before it (see
// User.Stamp, loadUser). Its keys come from the server secret (keys.go).

// stampInfo separates stamp keys from every other use of the secret.
const stampInfo = "jwtpair stamp v1"

// buildStampKeys derives the keys of the stamp claim: from the server
// secret, else from the HMAC keys; none without either.
func (c *config) buildStampKeys() []derivedKey {
	keys, err := c.deriveKeys(stampInfo)
	c.fail(err)
	return keys
}

// errNoStampKey: a user has a Stamp, but there is no server secret to key
// its digest with. Answered with 500 (a configuration error), and logged.
var errNoStampKey = errors.New("jwtpair: the user has a Stamp, but there is no server secret to key its digest with (WithServerSecret)")

// stampClaim is what tokens carry of a user stamp: 22 base64url characters
// of a keyed digest (stampDigest) under the current stamp key, so that the
// stamp itself (a timestamp, a counter) can be neither read from the token
// nor confirmed by guessing. "" for no stamp.
func (a *Auth) stampClaim(userID, stamp string) (string, error) {
	if stamp == "" {
		return "", nil
	}
	if len(a.stampKeys) == 0 {
		return "", errNoStampKey
	}
	return stampDigest(a.stampKeys[0].key, userID, stamp), nil
}

// stampMatches reports whether the stamp claim of c is the digest of the
// user's stamp under a stamp key in force: the current one, or a previous
// one before its end, so that a key rotation does not end every session.
func (a *Auth) stampMatches(c *Claims, stamp string) (bool, error) {
	if stamp == "" {
		return c.Stamp == "", nil
	}
	if len(a.stampKeys) == 0 {
		return false, errNoStampKey
	}
	now := a.now()
	for _, k := range a.stampKeys {
		if !k.notAfter.IsZero() && !now.Before(k.notAfter) {
			continue
		}
		if hmac.Equal([]byte(stampDigest(k.key, c.UserID, stamp)), []byte(c.Stamp)) {
			return true, nil
		}
	}
	return false, nil
}

// stampDigest is HMAC-SHA256(key, len ‖ user id ‖ len ‖ stamp), its first
// 16 bytes in base64url. The user id makes equal stamps of two users (the
// same password-changed-at second) look unrelated.
func stampDigest(key []byte, userID, stamp string) string {
	m := hmac.New(sha256.New, key)
	var n [binary.MaxVarintLen64]byte
	for _, s := range []string{userID, stamp} {
		m.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		m.Write([]byte(s))
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}
