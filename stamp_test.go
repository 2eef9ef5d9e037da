package jwtpair

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newLoaderAuth(t *testing.T, opts ...Option) (*Auth, *testUsers) {
	t.Helper()
	users := newTestUsers()
	users.stamps["1"] = "pw-2026-11-01T10:00:00Z"
	a, err := New(append([]Option{WithHMACKey(testSecret), WithAuthenticator(loaderUsers{users}), WithLogger(quietLogger)}, opts...)...)
	require.NoError(t, err)
	return a, users
}

// refStamp is the stamp claim as SECURITY.md specifies it, computed here
// from the standard library alone: HMAC-SHA256 under the HKDF-SHA256 key
// of secret labelled "jwtpair stamp v1", over the length-prefixed user id
// and stamp, its first 16 bytes in base64url.
func refStamp(secret []byte, userID, stamp string) string {
	key, err := hkdf.Key(sha256.New, secret, nil, "jwtpair stamp v1", 32)
	if err != nil {
		panic(err)
	}
	m := hmac.New(sha256.New, key)
	for _, s := range []string{userID, stamp} {
		m.Write(binary.AppendUvarint(nil, uint64(len(s))))
		m.Write([]byte(s))
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// payloadOf decodes a token's claims without verifying it, as anyone
// holding the token can.
func payloadOf(t *testing.T, tok string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m), "%s", raw)
	return m
}

// TestStampIsKeyed (issue 10, finding 9): the stamp claim is a keyed
// digest. Whoever reads a token cannot confirm a guess at the stamp (the
// unkeyed SHA-256 of the true stamp, which the token used to carry, is not
// it, nor is that of any nearby timestamp); it is the HMAC under the key
// derived from the server secret, so another secret gives another claim.
func TestStampIsKeyed(t *testing.T) {
	const stamp = "1793613600" // a password-changed-at Unix time, the guessable kind
	users := newTestUsers()
	users.stamps["1"] = stamp
	a, err := New(WithHMACKey(testSecret), WithAuthenticator(loaderUsers{users}), WithLogger(quietLogger))
	require.NoError(t, err)
	p := login(t, a)
	for _, tok := range []string{p.Access, p.Refresh} {
		got := payloadOf(t, tok)["stamp"]
		assert.Equal(t, refStamp(testSecret, "1", stamp), got, "HMAC under the key derived from the HMAC signing key")
		for guess := int64(1793613600 - 1000); guess <= 1793613600+1000; guess++ {
			sum := sha256.Sum256([]byte(strconv.FormatInt(guess, 10)))
			if !assert.NotEqual(t, base64.RawURLEncoding.EncodeToString(sum[:16]), got, "an unkeyed digest confirms the guess %d", guess) {
				break
			}
		}
	}
	other, err := New(WithHMACKey(longSecret), WithAuthenticator(loaderUsers{users}), WithLogger(quietLogger))
	require.NoError(t, err)
	assert.NotEqual(t, payloadOf(t, p.Access)["stamp"], payloadOf(t, login(t, other).Access)["stamp"], "another secret, another digest")
	explicit, err := New(WithHMACKey(testSecret), WithServerSecret(longSecret), WithAuthenticator(loaderUsers{users}), WithLogger(quietLogger))
	require.NoError(t, err)
	assert.Equal(t, refStamp(longSecret, "1", stamp), payloadOf(t, login(t, explicit).Access)["stamp"], "WithServerSecret keys it instead")

	_, err = a.IssuePair(t.Context(), User{ID: "1", Claims: map[string]any{"stamp": "x"}})
	assert.Error(t, err, "stamp is a registered claim")
	_, err = a.IssuePair(t.Context(), User{ID: "1", Claims: map[string]any{"sid": "x"}})
	assert.Error(t, err, "sid is a registered claim")
}

// TestStampKeysFollowKeyRotation: stamps keyed with a previous HMAC key's
// secret stay valid until that key's end, so a key rotation does not end
// every stamped session at its next refresh; after the end they do not. The
// token below is signed with the current key but carries a stamp keyed with
// the previous one (as the tokens a refresh without UserLoader re-mints
// from a pre-rotation token do), so only the stamp key's end is at stake.
func TestStampKeysFollowKeyRotation(t *testing.T) {
	oldSecret, newSecret := testSecret, []byte(strings.Repeat("n", 32))
	users := newTestUsers()
	users.stamps["1"] = "pw-1"
	clk := newFakeClock()
	until := clk.Now().Add(time.Hour)
	a, err := New(WithHMACKey(newSecret), WithKeyID("k2"), WithPreviousKey(oldSecret, "HS256", "k1", until),
		WithAuthenticator(loaderUsers{users}), WithUserCheck(), WithClock(clk.Now), WithLogger(quietLogger),
		WithAccessTTL(2*time.Hour), WithRefreshTTL(4*time.Hour))
	require.NoError(t, err)
	mw := a.Middleware(hello)
	token := func(stamp string) string {
		c := accessClaims(clk)
		c["user_id"], c["exp"], c["stamp"] = "1", clk.Now().Unix()+7200, stamp
		return handTokenHS256(t, newSecret, `{"alg":"HS256","kid":"k2","typ":"JWT"}`, claimsJSON(t, c))
	}
	oldStamp, newStamp := token(refStamp(oldSecret, "1", "pw-1")), token(refStamp(newSecret, "1", "pw-1"))
	unkeyed := func() string {
		sum := sha256.Sum256([]byte("pw-1"))
		return base64.RawURLEncoding.EncodeToString(sum[:16])
	}()

	assert.Equal(t, http.StatusOK, serveWithHeader(mw, "Authorization", "Bearer "+newStamp).Code, "current stamp key")
	assert.Equal(t, http.StatusOK, serveWithHeader(mw, "Authorization", "Bearer "+oldStamp).Code, "previous stamp key, before its end")
	w := serveWithHeader(mw, "Authorization", "Bearer "+token(unkeyed))
	assert.Equal(t, http.StatusUnauthorized, w.Code, "the old unkeyed digest is no stamp")
	assert.JSONEq(t, bodyPasswordChanged, w.Body.String())

	clk.Advance(time.Hour)
	w = serveWithHeader(mw, "Authorization", "Bearer "+oldStamp)
	assert.Equal(t, http.StatusUnauthorized, w.Code, "previous stamp key past its end")
	assert.JSONEq(t, bodyPasswordChanged, w.Body.String())
	assert.Equal(t, http.StatusOK, serveWithHeader(mw, "Authorization", "Bearer "+newStamp).Code)
}

// TestStampNeedsASecret: with asymmetric keys there is no secret to key
// stamps with unless WithServerSecret gives one. Without it, users without
// a Stamp are served as ever, but a user with one gets a logged 500, never
// a token with an unkeyed digest (nor a 200 from the stamp check); New
// refuses what it can know, WithUserCheck on a resource server. With the
// secret, issuer and resource server key and check stamps alike.
func TestStampNeedsASecret(t *testing.T) {
	testKeys(t)
	users := newTestUsers()
	logger, logs := recordLogs()
	issuer, err := New(WithSigningKey(ecKey, "ES256"), WithAuthenticator(loaderUsers{users}), WithUserCheck(), WithLogger(logger))
	require.NoError(t, err)
	p := login(t, issuer)
	assert.NotContains(t, payloadOf(t, p.Access), "stamp")

	users.set(func(u *testUsers) { u.stamps["1"] = "pw-1" })
	w := postJSON(t, issuer.ObtainHandler(), `{"username":"alice","password":"wonderland"}`)
	assert.Equal(t, http.StatusInternalServerError, w.Code)
	assert.JSONEq(t, bodyServerError, w.Body.String())
	assert.Contains(t, logs.String(), "WithServerSecret")
	w = serveWithHeader(issuer.Middleware(hello), "Authorization", "Bearer "+p.Access)
	assert.Equal(t, http.StatusInternalServerError, w.Code, "a stamped user, no key to check the stamp with")
	w = postJSON(t, issuer.RefreshHandler(), refreshBody(p.Refresh))
	assert.Equal(t, http.StatusInternalServerError, w.Code)
	assert.JSONEq(t, bodyServerError, w.Body.String())

	srv := newJWKSServer(t, issuer)
	jwks := []Option{WithoutRevocationFeed(), WithJWKSURL(srv.URL), WithAlgorithm("ES256"), WithAuthenticator(loaderUsers{users}), WithUserCheck(), WithLogger(quietLogger)}
	_, err = New(jwks...)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "WithUserCheck on a resource server (WithJWKSURL) needs WithServerSecret")

	secret := WithServerSecret([]byte("the secret issuer and resource servers share"))
	issuer, err = New(WithSigningKey(ecKey, "ES256"), secret, WithAuthenticator(loaderUsers{users}), WithLogger(quietLogger))
	require.NoError(t, err)
	rs, err := New(append(jwks, secret)...)
	require.NoError(t, err)
	t.Cleanup(func() { rs.Close() })
	p = login(t, issuer)
	assert.Equal(t, refStamp([]byte("the secret issuer and resource servers share"), "1", "pw-1"), payloadOf(t, p.Access)["stamp"])
	assert.Equal(t, http.StatusOK, serveWithHeader(rs.Middleware(hello), "Authorization", "Bearer "+p.Access).Code)
	users.set(func(u *testUsers) { u.stamps["1"] = "pw-2" })
	w = serveWithHeader(rs.Middleware(hello), "Authorization", "Bearer "+p.Access)
	assert.Equal(t, http.StatusUnauthorized, w.Code, "the resource server sees the password change")
	assert.JSONEq(t, bodyPasswordChanged, w.Body.String())
	w = postJSON(t, issuer.RefreshHandler(), refreshBody(p.Refresh))
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.JSONEq(t, bodyBlacklisted, w.Body.String())
}

// TestPasswordChangeEndsSessions: a changed stamp refuses and revokes the
// refresh token at its next use; other users and new logins are unaffected.
func TestPasswordChangeEndsSessions(t *testing.T) {
	a, users := newLoaderAuth(t)
	laptop, phone := login(t, a), login(t, a)
	bob := postJSON(t, a.ObtainHandler(), `{"username":"bob","password":"builder"}`)
	var bobPair Pair
	require.NoError(t, json.Unmarshal(bob.Body.Bytes(), &bobPair))

	users.set(func(u *testUsers) { u.stamps["1"] = "pw-2026-11-22T09:00:00Z" })
	for _, p := range []Pair{laptop, phone} {
		w := postJSON(t, a.RefreshHandler(), refreshBody(p.Refresh))
		assert.Equal(t, http.StatusUnauthorized, w.Code)
		assert.JSONEq(t, bodyBlacklisted, w.Body.String())
	}
	assert.Equal(t, http.StatusOK, postJSON(t, a.RefreshHandler(), refreshBody(bobPair.Refresh)).Code)

	fresh := login(t, a)
	assert.Equal(t, http.StatusOK, postJSON(t, a.RefreshHandler(), refreshBody(fresh.Refresh)).Code)

	// Changing the stamp back does not revive the revoked session.
	users.set(func(u *testUsers) { u.stamps["1"] = "pw-2026-11-01T10:00:00Z" })
	assert.ErrorIs(t, a.store.Check(t.Context(), mustToken(t, a, laptop.Refresh)), ErrTokenBlacklisted)
}

// TestPasswordChangeRevokesTheFamily: the stamp mismatch ends the whole
// session, not only the token presented. With blacklist-after-rotation
// off, a rotated token stays usable beside its successor; after the
// mismatch on the old one, the successor is dead too, even once the stamp
// is back.
func TestPasswordChangeRevokesTheFamily(t *testing.T) {
	a, users := newLoaderAuth(t, WithBlacklistAfterRotation(false))
	first := login(t, a)
	w := postJSON(t, a.RefreshHandler(), refreshBody(first.Refresh))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var next Pair
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &next))
	require.NotEmpty(t, next.Refresh)

	users.set(func(u *testUsers) { u.stamps["1"] = "pw-2026-11-22T09:00:00Z" })
	w = postJSON(t, a.RefreshHandler(), refreshBody(first.Refresh))
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.JSONEq(t, bodyBlacklisted, w.Body.String())

	users.set(func(u *testUsers) { u.stamps["1"] = "pw-2026-11-01T10:00:00Z" })
	w = postJSON(t, a.RefreshHandler(), refreshBody(next.Refresh))
	assert.Equal(t, http.StatusUnauthorized, w.Code, "the successor belongs to the ended session")
	assert.JSONEq(t, bodyBlacklisted, w.Body.String())
}

func mustToken(t *testing.T, a *Auth, tok string) Token {
	t.Helper()
	c, err := a.verify(tok, "")
	require.NoError(t, err)
	return tokenOf(c)
}

func TestUserCheck(t *testing.T) {
	users := newTestUsers()
	users.claims["1"] = map[string]any{"role": "reader"}
	a, err := New(WithHMACKey(testSecret), WithAuthenticator(loaderUsers{users}), WithUserCheck(), WithLogger(quietLogger))
	require.NoError(t, err)
	p := login(t, a)
	mw := a.Middleware(hello)

	users.set(func(u *testUsers) { u.claims["1"] = map[string]any{"role": "admin"} })
	w := serveWithHeader(mw, "Authorization", "Bearer "+p.Access)
	require.Equal(t, http.StatusOK, w.Code)
	assert.JSONEq(t, `{"user_id":"1","claims":{"role":"admin"}}`, w.Body.String(), "UserFrom returns the user as loaded")

	users.set(func(u *testUsers) { u.stamps["1"] = "logged-out-everywhere-1" })
	w = serveWithHeader(mw, "Authorization", "Bearer "+p.Access)
	assert.Equal(t, http.StatusUnauthorized, w.Code, "a changed stamp revokes access tokens at once")
	assert.JSONEq(t, bodyPasswordChanged, w.Body.String(), "simplejwt's CHECK_REVOKE_TOKEN answer")
	r := httptest.NewRequest(http.MethodGet, "/hello/", nil)
	r.Header.Set("Authorization", "Bearer "+p.Access)
	_, err = a.Check(r)
	assert.ErrorIs(t, err, ErrTokenBlacklisted, "Check's callers still see a revoked token")

	// simplejwt's JWTAuthentication.get_user answers, and refresh's.
	users.set(func(u *testUsers) { delete(u.stamps, "1"); u.inactive["1"] = true })
	w = serveWithHeader(mw, "Authorization", "Bearer "+p.Access)
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.JSONEq(t, `{"detail":"User is inactive","code":"user_inactive"}`, w.Body.String())
	assert.Equal(t, `Bearer realm="api", error="invalid_token", error_description="User is inactive"`, w.Header().Get("WWW-Authenticate"))
	w = postJSON(t, a.RefreshHandler(), refreshBody(p.Refresh))
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.JSONEq(t, bodyNoAccountToken, w.Body.String())

	users.set(func(u *testUsers) { u.inactive["1"] = false; delete(u.ids, "alice") })
	w = serveWithHeader(mw, "Authorization", "Bearer "+p.Access)
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.JSONEq(t, `{"detail":"User not found","code":"user_not_found"}`, w.Body.String())
	w = postJSON(t, a.RefreshHandler(), refreshBody(p.Refresh))
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.JSONEq(t, bodyNoAccountToken, w.Body.String())
	users.set(func(u *testUsers) { u.ids["alice"] = "1" })

	users.set(func(u *testUsers) { u.inactive["1"] = false; u.fail = errors.New("db down") })
	w = serveWithHeader(mw, "Authorization", "Bearer "+p.Access)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.NotContains(t, w.Body.String(), "db down")

	_, err = New(WithHMACKey(testSecret), WithAuthenticator(newTestUsers()), WithUserCheck())
	assert.ErrorContains(t, err, "UserLoader")
}

// TestStampAndSessionClaimsAccepted is the positive control of the stamp
// and sid rules of TestVerificationRules: well-formed, each once, they
// verify and reach the claims.
func TestStampAndSessionClaimsAccepted(t *testing.T) {
	a, clk := newTestAuth(t)
	c := accessClaims(clk)
	sid, stamp := newID(), refStamp(testSecret, "1", "pw-1")
	c["sid"], c["stamp"] = sid, stamp
	got, err := a.verify(handTokenHS256(t, testSecret, simplejwtHeader, claimsJSON(t, c)), TokenTypeAccess)
	require.NoError(t, err)
	assert.Equal(t, sid, got.SessionID)
	assert.Equal(t, stamp, got.Stamp)
}

// TestReMintedClaimsAreQuoted: without a UserLoader, refresh copies the
// stamp and sid of the presented token into the tokens it mints. Whatever
// those strings hold, they stay strings: a signed token cannot smuggle
// claims into the tokens minted from it.
func TestReMintedClaimsAreQuoted(t *testing.T) {
	a, clk := newTestAuth(t)
	inject := `x","is_admin":true,"z":"`
	c := accessClaims(clk)
	c["token_type"], c["exp"], c["stamp"], c["sid"] = "refresh", clk.Now().Unix()+3600, inject, inject
	require.NoError(t, issueErr(a.store.Issue(t.Context(), Record{JTI: c["jti"].(string), UserID: "1", SessionID: inject, ExpiresAt: clk.Now().Add(time.Hour)}, IssueOptions{})))
	p, err := a.Refresh(t.Context(), handTokenHS256(t, testSecret, simplejwtHeader, claimsJSON(t, c)))
	require.NoError(t, err)
	for _, tok := range []string{p.Access, p.Refresh} {
		raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(raw, &m), "%s", raw)
		assert.NotContains(t, m, "is_admin")
		assert.Equal(t, inject, m["stamp"])
	}
	rc, err := a.verify(p.Refresh, TokenTypeRefresh)
	require.NoError(t, err)
	assert.Equal(t, inject, rc.SessionID, "the session goes on, as a string")
}
