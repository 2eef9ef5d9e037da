package jwtpair

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
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

func TestStampInTokensIsADigest(t *testing.T) {
	a, _ := newLoaderAuth(t)
	p := login(t, a)
	for _, tok := range []string{p.Access, p.Refresh} {
		raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
		require.NoError(t, err)
		assert.NotContains(t, string(raw), "2026-11-01", "the stamp itself is not readable")
		var m map[string]any
		require.NoError(t, json.Unmarshal(raw, &m))
		assert.Equal(t, stampClaim("pw-2026-11-01T10:00:00Z"), m["stamp"])
	}
	_, err := a.IssuePair(t.Context(), User{ID: "1", Claims: map[string]any{"stamp": "x"}})
	assert.Error(t, err, "stamp is a registered claim")
	_, err = a.IssuePair(t.Context(), User{ID: "1", Claims: map[string]any{"sid": "x"}})
	assert.Error(t, err, "sid is a registered claim")
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
	assert.ErrorIs(t, a.store.Check(t.Context(), mustJTI(t, a, laptop.Refresh)), ErrTokenBlacklisted)
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

func mustJTI(t *testing.T, a *Auth, tok string) string {
	t.Helper()
	c, err := a.verify(tok, "")
	require.NoError(t, err)
	return c.JTI
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
	assert.JSONEq(t, `{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is blacklisted"}]}`, w.Body.String())

	users.set(func(u *testUsers) { delete(u.stamps, "1"); u.inactive["1"] = true })
	w = serveWithHeader(mw, "Authorization", "Bearer "+p.Access)
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.JSONEq(t, bodyNoAccountToken, w.Body.String())

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
	sid, stamp := newID(), stampClaim("pw-1")
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
	require.NoError(t, a.store.Issue(t.Context(), Record{JTI: c["jti"].(string), UserID: "1", FamilyID: "f", ExpiresAt: clk.Now().Add(time.Hour)}))
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
