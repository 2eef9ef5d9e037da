package jwtpair

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"time"
)

// CSRF protection of cookie mode.
//
// A CSRF token is base64url(exp ‖ nonce ‖ tag): exp the Unix second it
// expires (8 bytes, big-endian; the expiry of the refresh token in force
// when it was issued), a random 16-byte nonce, and tag =
// HMAC-SHA256(key, "jwtpair csrf v1" ‖ len ‖ user id ‖ len ‖ user stamp ‖
// [len ‖ session id] ‖ exp ‖ nonce), the session id (the sid claim, the
// token family) when the tokens carry one. It is bound to the login session
// (and the stamp of the user's credentials, so a password change voids it)
// and signed, so a token for one session is worthless for another and
// nobody without the key can make one; it is set in a JS-readable cookie
// and must come back in a header (the double submit), compared in constant
// time.
//
// The key is HKDF-SHA256 of the server secret (keys.go), so every instance
// with the same configuration accepts every other's tokens.

// csrfInfo separates CSRF keys and tags from every other use of the secret.
const csrfInfo = "jwtpair csrf v1"

const (
	csrfNonceBytes = 16
	csrfTagBytes   = sha256.Size
	csrfRawBytes   = 8 + csrfNonceBytes + csrfTagBytes
)

var csrfEncoding = base64.RawURLEncoding.Strict() // one text per token: no stray bits

// csrfTag computes the tag of a CSRF token's exp and nonce (head) for the
// session sess: its user, user stamp and session id (the token family), so
// that a CSRF token is good for one login session only.
func csrfTag(key []byte, sess subject, head []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(csrfInfo))
	var n [binary.MaxVarintLen64]byte
	field := func(s string) {
		m.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		m.Write([]byte(s))
	}
	field(sess.id)
	field(sess.stamp)
	if sess.sid != "" {
		// Absent for tokens minted before there were session ids, whose
		// CSRF tokens keep their tag; unambiguous, as the length of what
		// follows the stamp tells whether a session id is there.
		field(sess.sid)
	}
	m.Write(head)
	return m.Sum(nil)
}

// sessionOf is the session a verified token's claims name, as CSRF tokens
// are bound to it.
func sessionOf(c *Claims) subject {
	return subject{id: c.UserID, stamp: c.Stamp, sid: c.SessionID}
}

// newCSRFToken issues a CSRF token for session s, valid until exp.
func (m *cookieMode) newCSRFToken(s subject, exp time.Time) string {
	raw := make([]byte, 8+csrfNonceBytes, csrfRawBytes)
	binary.BigEndian.PutUint64(raw, uint64(exp.Unix()))
	_, _ = rand.Read(raw[8:]) // never fails (crypto/rand, Go ≥ 1.24)
	raw = append(raw, csrfTag(m.csrfKeys[0].key, s, raw)...)
	return csrfEncoding.EncodeToString(raw)
}

// validCSRFToken reports whether tok is a CSRF token for session s that
// has not expired at now.
func (m *cookieMode) validCSRFToken(tok string, s subject, now time.Time) bool {
	if len(tok) != csrfEncoding.EncodedLen(csrfRawBytes) {
		return false
	}
	var buf [csrfRawBytes]byte
	n, err := csrfEncoding.Decode(buf[:], []byte(tok))
	if err != nil || n != csrfRawBytes {
		return false
	}
	head, tag := buf[:8+csrfNonceBytes], buf[8+csrfNonceBytes:]
	if exp := binary.BigEndian.Uint64(head); exp > 1<<62 || now.Unix() >= int64(exp) {
		return false
	}
	for _, k := range m.csrfKeys {
		if !k.notAfter.IsZero() && !now.Before(k.notAfter) {
			continue
		}
		if hmac.Equal(tag, csrfTag(k.key, s, head)) {
			return true
		}
	}
	return false
}

// maxCookieCandidates bounds how many cookies of one name a request may
// offer for one role (the CSRF cookie, the refresh cookie) and have tried;
// the rest are ignored. Browsers send every cookie whose domain and path
// match, longest path first (RFC 6265 §5.4), so a host that can set cookies
// for a parent domain can put some ahead of ours (see
// Auth.refreshFromCookies); 16 is more than the domains and paths of any
// sane layout give it.
const maxCookieCandidates = 16

// csrfProof is the double submit of a request: the CSRF token the header
// carries, once, which must equal the value of a CSRF cookie (one of them,
// if a sibling host planted more; none of them is trusted for more than
// equality). It does not check the token itself.
func (m *cookieMode) csrfProof(r *http.Request) (string, error) {
	cookies := r.CookiesNamed(m.csrf.Name)
	cookies = cookies[:min(len(cookies), maxCookieCandidates)]
	present := false
	for _, ck := range cookies {
		present = present || ck.Value != ""
	}
	if !present {
		return "", errCSRFNoCookie
	}
	sent := r.Header[m.csrfHeader]
	if len(sent) == 0 || sent[0] == "" {
		return "", errCSRFMissing
	}
	if len(sent) == 1 {
		for _, ck := range cookies {
			if ck.Value != "" && subtle.ConstantTimeCompare([]byte(sent[0]), []byte(ck.Value)) == 1 {
				return sent[0], nil
			}
		}
	}
	return "", errCSRFIncorrect
}

// checkCSRFToken is the CSRF check of a request authenticated by a cookie
// whose token has claims c: the double submit (csrfProof) of a live CSRF
// token for c's session.
func (m *cookieMode) checkCSRFToken(r *http.Request, c *Claims, now time.Time) error {
	tok, err := m.csrfProof(r)
	if err != nil {
		return err
	}
	if !m.validCSRFToken(tok, sessionOf(c), now) {
		return errCSRFIncorrect
	}
	return nil
}

// CSRFNames returns the name of the CSRF cookie a page reads and of the
// header it echoes the value in, for pages the server renders (the names
// depend on CookieOptions, the cookie's prefix on Insecure). Both are ""
// without cookie mode.
func (a *Auth) CSRFNames() (cookie, header string) {
	if a.cookies == nil {
		return "", ""
	}
	return a.cookies.csrf.Name, a.cookies.csrfHeaderName
}

// checkOrigin refuses, in cookie mode, an unsafe request the browser
// reports as cross-origin (Sec-Fetch-Site, or Origin against Host) unless
// its origin is trusted. Requests without either header (same-origin
// requests of old browsers, non-browser clients) pass. Without cookie mode
// it does nothing.
func (a *Auth) checkOrigin(r *http.Request) error {
	if a.cookies == nil {
		return nil
	}
	if a.cookies.origins.Check(r) != nil {
		return errCSRFOrigin
	}
	return nil
}

// isSafeMethod reports the methods that must not change state, which need
// no CSRF proof (RFC 9110 §9.2.1; those CrossOriginProtection lets through).
func isSafeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// checkCookieCSRF is the middleware's CSRF check of a request authenticated
// by the access cookie (claims c). Safe methods need none; the origin was
// checked when the cookie was read.
func (a *Auth) checkCookieCSRF(r *http.Request, c *Claims) error {
	if isSafeMethod(r.Method) {
		return nil
	}
	return a.cookies.checkCSRFToken(r, c, a.now())
}
