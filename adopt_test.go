package jwtpair

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// simplejwtRefresh is a refresh token as simplejwt mints it for alice (user
// 1, a number as 5.2 writes it), issued an hour before clk's time, with
// no sid; edit changes its claims. It returns the token and its jti.
func simplejwtRefresh(t *testing.T, clk *fakeClock, edit func(m map[string]any)) (string, string) {
	t.Helper()
	now := clk.Now().Unix()
	jti := newID()
	m := map[string]any{"token_type": "refresh", "exp": now + 23*3600, "iat": now - 3600, "jti": jti, "user_id": 1}
	if edit != nil {
		edit(m)
	}
	return handTokenHS256(t, testSecret, simplejwtHeader, claimsJSON(t, m)), jti
}

// newAdoptingAuth is a test Auth whose window adopts the tokens issued
// before its start, for 12 hours.
func newAdoptingAuth(t *testing.T, opts ...Option) (*Auth, *fakeClock) {
	t.Helper()
	start := newFakeClock().Now()
	return newTestAuth(t, append([]Option{WithSimplejwtAdoption(start, start.Add(12*time.Hour))}, opts...)...)
}

// refreshed posts tok to the refresh endpoint and returns the answer's
// status and body.
func refreshed(t *testing.T, a *Auth, tok string) (int, map[string]string) {
	t.Helper()
	w := postJSON(t, a.RefreshHandler(), refreshBody(tok))
	m := map[string]string{}
	_ = json.Unmarshal(w.Body.Bytes(), &m)
	return w.Code, m
}

// sessionIDs lists the ids of user 1's sessions.
func sessionIDs(t *testing.T, a *Auth) []string {
	t.Helper()
	list, err := a.Sessions(context.Background(), "1")
	require.NoError(t, err)
	ids := make([]string, len(list))
	for i, s := range list {
		ids[i] = s.ID
	}
	return ids
}

// TestAdoptionAdoptsSimplejwtToken: in the window, a simplejwt refresh
// token unknown to the store refreshes; its session is named by its jti
// and carried, as sid, by every token minted from it; a second use is
// reuse, which ends the session, successor included.
func TestAdoptionAdoptsSimplejwtToken(t *testing.T) {
	a, _ := newAdoptingAuth(t)
	tok, jti := simplejwtRefresh(t, newFakeClock(), nil)

	status, m := refreshed(t, a, tok)
	require.Equal(t, http.StatusOK, status, m)
	assert.Equal(t, jti, sidOf(t, a, m["refresh"]), "the successor carries the session: the simplejwt token's jti")
	assert.Equal(t, jti, sidOf(t, a, m["access"]))
	assert.Equal(t, []string{jti}, sessionIDs(t, a))
	status, next := refreshed(t, a, m["refresh"])
	require.Equal(t, http.StatusOK, status, "the successor refreshes as usual: %v", next)

	status, again := refreshed(t, a, tok)
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, "Token is blacklisted", again["detail"], "a second use is reuse")
	status, _ = refreshed(t, a, next["refresh"])
	assert.Equal(t, http.StatusUnauthorized, status, "reuse ended the session")
	assert.Empty(t, sessionIDs(t, a))
}

// TestAdoptionOffByDefault: without the option, the same token is refused
// as unknown and nothing is recorded.
func TestAdoptionOffByDefault(t *testing.T) {
	a, clk := newTestAuth(t)
	tok, _ := simplejwtRefresh(t, clk, nil)
	w := postJSON(t, a.RefreshHandler(), refreshBody(tok))
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.JSONEq(t, bodyTokenInvalid, w.Body.String())
	assert.Empty(t, sessionIDs(t, a))
}

// TestAdoptionRules: what the window never takes. Each token is validly
// signed, unexpired and unknown to the store; the control is adopted.
func TestAdoptionRules(t *testing.T) {
	clk := newFakeClock()
	cutover := clk.Now()
	for _, tc := range []struct {
		name  string
		edit  func(m map[string]any)
		later time.Duration // how far past the Auth's start the token is presented
		want  int
	}{
		{name: "control: issued before the cutover", want: http.StatusOK},
		{name: "a sid claim (a session this store never had, or forgot)", edit: func(m map[string]any) { m["sid"] = newID() }, want: http.StatusUnauthorized},
		{name: "issued at the cutover", edit: func(m map[string]any) { m["iat"] = cutover.Unix() }, later: time.Second, want: http.StatusUnauthorized},
		{name: "issued after the cutover", edit: func(m map[string]any) { m["iat"] = cutover.Unix() + 60 }, later: 2 * time.Minute, want: http.StatusUnauthorized},
		{name: "no iat", edit: func(m map[string]any) { delete(m, "iat") }, want: http.StatusUnauthorized},
		{name: "presented when the window has closed", later: 12 * time.Hour, want: http.StatusUnauthorized},
		{name: "presented just before it closes", later: 12*time.Hour - time.Second, want: http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, aclk := newAdoptingAuth(t)
			tok, _ := simplejwtRefresh(t, clk, tc.edit)
			aclk.Advance(tc.later)
			status, m := refreshed(t, a, tok)
			assert.Equal(t, tc.want, status, m)
			if tc.want != http.StatusOK {
				assert.Equal(t, "Token is invalid", m["detail"], "refused as unknown")
				assert.Empty(t, sessionIDs(t, a), "nothing recorded")
			}
		})
	}
}

// TestAdoptionNeverRevivesEvictedSession: a jwtpair token whose session the
// per-user cap evicted, and the memory store forgot, is unknown to the
// store; once no instance remembers the eviction either (past the feed's
// retention, an instance started then), it carries a sid all the same,
// and the window, open and covering its iat, never adopts it.
func TestAdoptionNeverRevivesEvictedSession(t *testing.T) {
	clk := newFakeClock()
	start := clk.Now()
	store := NewMemoryStore(WithMemoryClock(clk.Now))
	newAuth := func() *Auth {
		a, err := New(WithHMACKey(testSecret), WithAuthenticator(newTestUsers()), WithClock(clk.Now), WithLogger(quietLogger),
			WithStore(store), WithMaxSessionsPerUser(1), WithSimplejwtAdoption(start.Add(time.Hour), start.Add(12*time.Hour)))
		require.NoError(t, err)
		t.Cleanup(func() { _ = a.Close() })
		return a
	}
	a := newAuth()
	evicted := login(t, a)
	clk.Advance(time.Second)
	kept := login(t, a)
	require.Equal(t, []string{sidOf(t, a, kept.Refresh)}, sessionIDs(t, a))
	require.ErrorIs(t, store.Check(context.Background(), Token{JTI: jtiOf(t, a, evicted.Refresh), UserID: "1"}), ErrTokenNotFound,
		"the store forgot the evicted session")

	clk.Advance(DefaultRevocationRetention + time.Minute)
	b := newAuth()
	status, m := refreshed(t, b, evicted.Refresh)
	assert.Equal(t, http.StatusUnauthorized, status, m)
	assert.Equal(t, "Token is invalid", m["detail"])
	assert.Equal(t, []string{sidOf(t, b, kept.Refresh)}, sessionIDs(t, b), "the evicted session stays gone, the kept one stays")
}

// jtiOf is the jti of a token a verifies.
func jtiOf(t *testing.T, a *Auth, tok string) string {
	t.Helper()
	c, err := a.verify(tok, "")
	require.NoError(t, err)
	return c.JTI
}

// TestAdoptionRevokedSet: the window takes no token the revoked set covers:
// neither one of a user who logged out everywhere after its iat, nor one
// whose adopted session the cap ended (and the store forgot) within the
// set's cover.
func TestAdoptionRevokedSet(t *testing.T) {
	t.Run("logout everywhere", func(t *testing.T) {
		a, clk := newAdoptingAuth(t)
		tok, _ := simplejwtRefresh(t, clk, nil)
		p := login(t, a)
		require.NoError(t, a.EndAllSessions(context.Background(), "1"))
		awaitStatus(t, a, p.Access, http.StatusUnauthorized) // the set has the user's end
		status, m := refreshed(t, a, tok)
		assert.Equal(t, http.StatusUnauthorized, status, m)
		assert.Equal(t, "Token is blacklisted", m["detail"])
		assert.Empty(t, sessionIDs(t, a))
	})
	t.Run("adopted, then evicted by the cap", func(t *testing.T) {
		a, clk := newAdoptingAuth(t, WithMaxSessionsPerUser(1))
		tok, jti := simplejwtRefresh(t, clk, nil)
		status, m := refreshed(t, a, tok)
		require.Equal(t, http.StatusOK, status, m)
		clk.Advance(time.Second)
		login(t, a) // evicts the adopted session; the memory store forgets it
		awaitStatus(t, a, m["access"], http.StatusUnauthorized)
		require.ErrorIs(t, a.store.Check(context.Background(), Token{JTI: jti, UserID: "1"}), ErrTokenNotFound)

		status, again := refreshed(t, a, tok)
		assert.Equal(t, http.StatusUnauthorized, status, "not adopted a second time: %v", again)
		assert.NotContains(t, sessionIDs(t, a), jti)
	})
}

// TestAdoptionVerifyAndBlacklist: the verify endpoint answers 200 for a
// token the window would adopt, recording nothing, and 401 when the
// window is closed; the blacklist endpoint adopts it and ends it, so that
// it stays refused.
func TestAdoptionVerifyAndBlacklist(t *testing.T) {
	a, clk := newAdoptingAuth(t)
	tok, _ := simplejwtRefresh(t, clk, nil)
	verify := func() int {
		return postJSON(t, a.VerifyHandler(), `{"token":"`+tok+`"}`).Code
	}
	assert.Equal(t, http.StatusOK, verify())
	assert.Empty(t, sessionIDs(t, a), "verify records nothing")

	w := postJSON(t, a.BlacklistHandler(), refreshBody(tok))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.JSONEq(t, `{}`, w.Body.String())
	status, m := refreshed(t, a, tok)
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, "Token is blacklisted", m["detail"], "a logout with a simplejwt token holds")
	assert.Equal(t, http.StatusBadRequest, verify(), "verify: Token is blacklisted")

	other, _ := simplejwtRefresh(t, clk, nil)
	clk.Advance(12 * time.Hour)
	assert.Equal(t, http.StatusUnauthorized, postJSON(t, a.VerifyHandler(), `{"token":"`+other+`"}`).Code, "window closed")
}

// TestAdoptionWithoutRotation: with rotation off, an adopted token stays
// usable, as any token then is.
func TestAdoptionWithoutRotation(t *testing.T) {
	a, clk := newAdoptingAuth(t, WithRotation(false))
	tok, jti := simplejwtRefresh(t, clk, nil)
	for i := range 2 {
		status, m := refreshed(t, a, tok)
		require.Equal(t, http.StatusOK, status, "use %d: %v", i+1, m)
		assert.Equal(t, jti, sidOf(t, a, m["access"]))
	}
	assert.Equal(t, []string{jti}, sessionIDs(t, a))
}

// issueFailingStore is a memory store whose Issue fails.
type issueFailingStore struct{ *MemoryStore }

func (issueFailingStore) Issue(context.Context, Record, IssueOptions) ([]string, error) {
	return nil, fmt.Errorf("%w: %w", ErrStoreUnavailable, errors.New("connection reset"))
}

// TestAdoptionStoreFailure: when the adoption cannot be recorded, the
// answer is 503, never 200 and never a refusal of the token.
func TestAdoptionStoreFailure(t *testing.T) {
	a, clk := newAdoptingAuth(t, WithStore(issueFailingStore{NewMemoryStore()}))
	tok, _ := simplejwtRefresh(t, clk, nil)
	w := postJSON(t, a.RefreshHandler(), refreshBody(tok))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.JSONEq(t, bodyUnavailable, w.Body.String())
}

// TestSimplejwtAdoptionOption: what New refuses of the option, and its
// warning when the window has closed already.
func TestSimplejwtAdoptionOption(t *testing.T) {
	now := newFakeClock().Now()
	base := []Option{WithHMACKey(testSecret), WithAuthenticator(newTestUsers()), WithLogger(quietLogger)}
	for name, opts := range map[string][]Option{
		"no cutover":           {WithSimplejwtAdoption(time.Time{}, now)},
		"no end":               {WithSimplejwtAdoption(now, time.Time{})},
		"ends at its cutover":  {WithSimplejwtAdoption(now, now)},
		"ends before cutover":  {WithSimplejwtAdoption(now, now.Add(-time.Hour))},
		"given twice":          {WithSimplejwtAdoption(now, now.Add(time.Hour)), WithSimplejwtAdoption(now, now.Add(time.Hour))},
		"on a resource server": {WithSimplejwtAdoption(now, now.Add(time.Hour)), WithJWKSURL("https://issuer.example/jwks.json"), WithAlgorithm("RS256"), WithoutRevocationFeed()},
	} {
		t.Run(name, func(t *testing.T) {
			o := append(base, opts...)
			if name == "on a resource server" {
				o = opts
			}
			_, err := New(o...)
			require.Error(t, err)
			assert.Equal(t, 1, strings.Count(err.Error(), "jwtpair:"), "the one problem: %v", err)
			assert.ErrorContains(t, err, "WithSimplejwtAdoption")
		})
	}
	logger, logs := recordLogs()
	a, err := New(append(base, WithLogger(logger), WithClock(func() time.Time { return now }),
		WithSimplejwtAdoption(now.Add(-48*time.Hour), now.Add(-time.Hour)))...)
	require.NoError(t, err)
	defer a.Close()
	assert.Contains(t, logs.String(), "WithSimplejwtAdoption window has closed")
}

// TestAdoptionSlidingToken: in the window, a sliding token simplejwt
// minted (no sid), unknown to the store, renews as simplejwt renews it: a
// session named by its jti, recorded until its refresh_exp, carried as sid
// by the renewed token; its logout ends that session, and a renewal after
// it is refused.
func TestAdoptionSlidingToken(t *testing.T) {
	a, clk := newAdoptingAuth(t, withSliding)
	m := slidingClaims(clk)
	m["iat"] = clk.Now().Unix() - 60
	hand := handSliding(t, m)
	jti := jtiOf(t, a, hand)

	w := refreshSlidingReq(t, a, hand)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var b map[string]string
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &b))
	renewed := mustClaims(t, a, b["token"])
	assert.Equal(t, jti, renewed.JTI, "a sliding token keeps its jti")
	assert.Equal(t, jti, renewed.SessionID, "the session is named by the jti")
	list, err := a.Sessions(t.Context(), "1")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, jti, list[0].ID)
	assert.Equal(t, a.recordExpiry(time.Unix(m["refresh_exp"].(int64), 0)), list[0].ExpiresAt, "recorded until refresh_exp, not exp")

	w = refreshSlidingReq(t, a, b["token"])
	require.Equal(t, http.StatusOK, w.Code, "the renewed token renews: %s", w.Body.String())
	w = postJSON(t, a.SlidingBlacklistHandler(), `{"token":"`+hand+`"}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	w = refreshSlidingReq(t, a, b["token"])
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.JSONEq(t, tokenBody("Token is blacklisted"), w.Body.String())
}

// TestAdoptionSlidingNeedsWindow: without the window the same sliding
// token authenticates but does not renew (it is unknown), and nothing is
// recorded.
func TestAdoptionSlidingNeedsWindow(t *testing.T) {
	a, clk := slidingAuth(t)
	m := slidingClaims(clk)
	m["iat"] = clk.Now().Unix() - 60
	w := refreshSlidingReq(t, a, handSliding(t, m))
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.JSONEq(t, tokenBody("Token is invalid"), w.Body.String())
	assert.Empty(t, sessionIDs(t, a))
}
