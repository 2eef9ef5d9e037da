package simplejwtimport

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
	"github.com/jwtpair/jwtpair/internal/forge"
)

// The rules of one row, on a memory store and an Auth over it. Import's
// reading of real databases (PostgreSQL and SQLite as Django creates
// them, pages, resuming) is tested in example/backends, which has the
// drivers, and end to end with the real Django in compat.

var secret = []byte("simplejwtimport-test-secret-0123456789abcdef")

// clock is the tests' time: the importer's, the store's and the Auth's.
var clock = time.Unix(1_800_000_000, 0)

func now() time.Time { return clock }

// mint signs a token as simplejwt does, with claims (a JSON object's
// members) and a new jti unless claims has one.
func mint(t *testing.T, claims string) (tok, jti string) {
	t.Helper()
	var b [16]byte
	_, _ = rand.Read(b[:])
	jti = hex.EncodeToString(b[:])
	if !strings.Contains(claims, `"jti"`) {
		claims += fmt.Sprintf(`,"jti":%q`, jti)
	}
	tok, err := forge.Sign("HS256", secret, `{"alg":"HS256","typ":"JWT"}`, "{"+claims+"}")
	require.NoError(t, err)
	return tok, jti
}

// refreshClaims are simplejwt 5.2's claims of a refresh token for user 1,
// issued an hour ago.
func refreshClaims() string {
	return fmt.Sprintf(`"token_type":"refresh","exp":%d,"iat":%d,"user_id":1`, clock.Unix()+23*3600, clock.Unix()-3600)
}

// outstanding is a row of a live refresh token.
func outstanding(t *testing.T, id int64) row {
	t.Helper()
	tok, jti := mint(t, refreshClaims())
	return row{id: id, jti: jti, token: tok}
}

// env is a memory store, an importer into it, and Auths over it.
type env struct {
	store *jwtpair.MemoryStore
	im    *importer
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	opts.Now = now
	s := jwtpair.NewMemoryStore(jwtpair.WithMemoryClock(now))
	t.Cleanup(func() { _ = s.Close() })
	return &env{store: s, im: newImporter(s, opts)}
}

// auth is an Auth over the store with simplejwt's secret, with opts.
func (e *env) auth(t *testing.T, opts ...jwtpair.Option) *jwtpair.Auth {
	t.Helper()
	users := jwtpair.AuthenticatorFunc(func(context.Context, string, string) (jwtpair.User, error) {
		return jwtpair.User{}, jwtpair.ErrInvalidCredentials
	})
	a, err := jwtpair.New(append([]jwtpair.Option{jwtpair.WithHMACKey(secret), jwtpair.WithAuthenticator(users),
		jwtpair.WithStore(e.store), jwtpair.WithClock(now)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })
	return a
}

// adopting is an open adoption window covering the tests' tokens.
func adopting() jwtpair.Option {
	return jwtpair.WithSimplejwtAdoption(clock, clock.Add(time.Hour))
}

func (e *env) do(t *testing.T, r row) {
	t.Helper()
	require.NoError(t, e.im.row(context.Background(), r))
}

func (e *env) sessions(t *testing.T, user string) []string {
	t.Helper()
	list, err := e.store.Sessions(context.Background(), user)
	require.NoError(t, err)
	var ids []string
	for _, s := range list {
		ids = append(ids, s.ID)
	}
	return ids
}

// revocations is how many revocations the store's feed holds.
func (e *env) revocations(t *testing.T) int {
	t.Helper()
	revs, _, err := e.store.Revocations(context.Background(), "", 0)
	require.NoError(t, err)
	return len(revs)
}

// TestImportedTokenRefreshes: a live outstanding token becomes a session
// of its own, named by its jti, and refreshes on an Auth without any
// adoption window; the tokens it gets carry that session.
func TestImportedTokenRefreshes(t *testing.T) {
	e := newEnv(t, Options{})
	r := outstanding(t, 1)
	e.do(t, r)
	assert.Equal(t, Report{Rows: 1, Imported: 1}, e.im.report)
	assert.Equal(t, []string{r.jti}, e.sessions(t, "1"), "user_id 1, a number, is the user \"1\"")

	a := e.auth(t)
	p, err := a.Refresh(context.Background(), r.token)
	require.NoError(t, err)
	c, err := a.VerifyAccess(context.Background(), p.Access)
	require.NoError(t, err)
	assert.Equal(t, r.jti, c.SessionID)
	_, err = a.Refresh(context.Background(), p.Refresh)
	require.NoError(t, err, "the successor refreshes")
	_, err = a.Refresh(context.Background(), r.token)
	assert.ErrorIs(t, err, jwtpair.ErrTokenReused, "rotated: a second use is reuse")
}

// TestBlacklistedStaysRefused: a token blacklisted there is recorded
// ended: refused, even by an open adoption window, and listed nowhere;
// recording it writes nothing in the revocation feed.
func TestBlacklistedStaysRefused(t *testing.T) {
	e := newEnv(t, Options{})
	r := outstanding(t, 1)
	r.blacklisted = true
	e.do(t, r)
	assert.Equal(t, Report{Rows: 1, Blacklisted: 1}, e.im.report)
	_, err := e.auth(t, adopting()).Refresh(context.Background(), r.token)
	assert.ErrorIs(t, err, jwtpair.ErrTokenBlacklisted)
	assert.Empty(t, e.sessions(t, "1"))
	assert.Zero(t, e.revocations(t))

	e.im.report = Report{}
	e.do(t, r)
	assert.Equal(t, Report{Rows: 1, Blacklisted: 1}, e.im.report, "a second run")
	assert.Zero(t, e.revocations(t), "nor on a second run")
}

// TestBlacklistedAfterImport: a token imported live, refreshed here, and
// blacklisted there before a later run: that run ends its session, the
// successor included (and its access token, through the feed).
func TestBlacklistedAfterImport(t *testing.T) {
	e := newEnv(t, Options{})
	r := outstanding(t, 1)
	e.do(t, r)
	a := e.auth(t)
	p, err := a.Refresh(context.Background(), r.token)
	require.NoError(t, err)

	r.blacklisted = true
	e.im.report = Report{}
	e.do(t, r)
	assert.Equal(t, Report{Rows: 1, Blacklisted: 1}, e.im.report)
	_, err = a.Refresh(context.Background(), p.Refresh)
	assert.ErrorIs(t, err, jwtpair.ErrTokenBlacklisted)
	assert.Equal(t, 1, e.revocations(t), "the end is in the feed")

	e.im.report = Report{}
	e.do(t, r)
	assert.Equal(t, 1, e.revocations(t), "a run after that records no end again")
}

// TestDeletedUserRefused: a token whose user was deleted (user_id NULL) is
// recorded ended, so that no adoption window takes it.
func TestDeletedUserRefused(t *testing.T) {
	e := newEnv(t, Options{})
	r := outstanding(t, 1)
	r.noUser = true
	e.do(t, r)
	assert.Equal(t, Report{Rows: 1, DeletedUser: 1}, e.im.report)
	_, err := e.auth(t, adopting()).Refresh(context.Background(), r.token)
	assert.ErrorIs(t, err, jwtpair.ErrTokenBlacklisted)
}

// TestEndedSlidingStaysRefused: a sliding token blacklisted there
// (SlidingToken.blacklist()), or whose user was deleted there, is recorded
// ended until its refresh_exp, so that no adoption window renews it, nor a
// renewal simplejwt minted from it before (the same jti, a later exp).
// A live one is left for the window (NotRefresh).
func TestEndedSlidingStaysRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(r *row)
		want Report
	}{
		{"blacklisted", func(r *row) { r.blacklisted = true }, Report{Rows: 1, Blacklisted: 1}},
		{"deleted user", func(r *row) { r.noUser = true }, Report{Rows: 1, DeletedUser: 1}},
		{"control: live", func(*row) {}, Report{Rows: 1, NotRefresh: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			claims := fmt.Sprintf(`"token_type":"sliding","exp":%d,"iat":%d,"refresh_exp":%d,"user_id":1`, clock.Unix()-60, clock.Unix()-360, clock.Unix()+23*3600)
			tok, jti := mint(t, claims)
			renewed, _ := mint(t, fmt.Sprintf(`"token_type":"sliding","exp":%d,"iat":%d,"refresh_exp":%d,"user_id":1,"jti":%q`, clock.Unix()+240, clock.Unix()-60, clock.Unix()+23*3600, jti))
			e := newEnv(t, Options{})
			r := row{id: 1, jti: jti, token: tok}
			tc.edit(&r)
			e.do(t, r)
			assert.Equal(t, tc.want, e.im.report)
			a := e.auth(t, adopting(), jwtpair.WithSlidingTokens(5*time.Minute, 24*time.Hour))
			_, err := a.RefreshSliding(context.Background(), renewed)
			if tc.want.NotRefresh == 1 {
				assert.NoError(t, err, "adopted")
				return
			}
			assert.ErrorIs(t, err, jwtpair.ErrTokenBlacklisted)
			assert.Empty(t, e.sessions(t, "1"))
			assert.Zero(t, e.revocations(t))
		})
	}
}

// TestSkipped: expired, sliding and unreadable tokens are counted and
// left out of the store.
func TestSkipped(t *testing.T) {
	claims := func(c string) func(t *testing.T) (string, string) {
		return func(t *testing.T) (string, string) { return mint(t, c) }
	}
	fixed := func(tok, jti string) func(t *testing.T) (string, string) {
		return func(*testing.T) (string, string) { return tok, jti }
	}
	for _, tc := range []struct {
		name string
		row  func(t *testing.T) (token, jti string)
		want Report
	}{
		{"expired", claims(fmt.Sprintf(`"token_type":"refresh","exp":%d,"user_id":1`, clock.Unix())), Report{Rows: 1, Expired: 1}},
		{"sliding", claims(fmt.Sprintf(`"token_type":"sliding","exp":%d,"refresh_exp":%d,"user_id":1`, clock.Unix()+300, clock.Unix()+86400)), Report{Rows: 1, NotRefresh: 1}},
		{"not a JWT", fixed("not-a-token", "0123"), Report{Rows: 1, Unreadable: 1}},
		{"payload not base64url", fixed("e30.@@@.sig", "0123"), Report{Rows: 1, Unreadable: 1}},
		{"another jti than the row's", func(t *testing.T) (string, string) { return outstanding(t, 1).token, "0123" }, Report{Rows: 1, Unreadable: 1}},
		{"no user id", claims(`"token_type":"refresh","exp":1900000000`), Report{Rows: 1, Unreadable: 1}},
		{"a user id that is not an integer", claims(`"token_type":"refresh","exp":1900000000,"user_id":1.5`), Report{Rows: 1, Unreadable: 1}},
		{"an empty user id", claims(`"token_type":"refresh","exp":1900000000,"user_id":""`), Report{Rows: 1, Unreadable: 1}},
		{"a null user id", claims(`"token_type":"refresh","exp":1900000000,"user_id":null`), Report{Rows: 1, Unreadable: 1}},
		{"no exp", claims(`"token_type":"refresh","user_id":1`), Report{Rows: 1, Unreadable: 1}},
		{"no token type", claims(`"exp":1900000000,"user_id":1`), Report{Rows: 1, Unreadable: 1}},
		{"control: readable", claims(`"token_type":"refresh","exp":1900000000,"user_id":1`), Report{Rows: 1, Imported: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			tok, jti := tc.row(t)
			e.do(t, row{id: 1, jti: jti, token: tok})
			assert.Equal(t, tc.want, e.im.report)
			if tc.want.Imported == 0 {
				assert.Empty(t, e.sessions(t, "1"))
			}
		})
	}
}

// TestLeeway: a token is expired only Leeway after its exp, and its
// record lives that long.
func TestLeeway(t *testing.T) {
	tok, jti := mint(t, fmt.Sprintf(`"token_type":"refresh","exp":%d,"user_id":"7"`, clock.Unix()))
	e := newEnv(t, Options{Leeway: time.Minute})
	e.do(t, row{id: 1, jti: jti, token: tok})
	assert.Equal(t, Report{Rows: 1, Imported: 1}, e.im.report)
	assert.Equal(t, []string{jti}, e.sessions(t, "7"))
}

// TestClaimNames: the claim names of Options, as the Auth's.
func TestClaimNames(t *testing.T) {
	tok, jti := mint(t, fmt.Sprintf(`"kind":"refresh","exp":%d,"uid":"u-1"`, clock.Unix()+60))
	e := newEnv(t, Options{UserIDClaim: "uid", TokenTypeClaim: "kind"})
	e.do(t, row{id: 1, jti: jti, token: tok})
	assert.Equal(t, Report{Rows: 1, Imported: 1}, e.im.report)
	assert.Equal(t, []string{jti}, e.sessions(t, "u-1"))
}

// TestPresentLeftAsItIs: a second run finds what the first recorded, and a
// token the adoption window adopted first, consumed since: both are left
// as they are.
func TestPresentLeftAsItIs(t *testing.T) {
	e := newEnv(t, Options{})
	imported := outstanding(t, 1)
	e.do(t, imported)
	adopted := outstanding(t, 2)
	_, err := e.auth(t, adopting()).Refresh(context.Background(), adopted.token)
	require.NoError(t, err)

	e.im.report = Report{}
	e.do(t, imported)
	e.do(t, adopted)
	assert.Equal(t, Report{Rows: 2, Present: 2}, e.im.report)
	_, err = e.auth(t).Refresh(context.Background(), adopted.token)
	assert.ErrorIs(t, err, jwtpair.ErrTokenReused, "still consumed: nothing revived")
}

// adoptedMeanwhile is a store where an Auth adopts each token between
// the importer's Check and its Issue: Issue records it, then answers as a
// store does for a jti recorded already.
type adoptedMeanwhile struct{ *jwtpair.MemoryStore }

func (s adoptedMeanwhile) Issue(ctx context.Context, first jwtpair.Record, opts jwtpair.IssueOptions) ([]string, error) {
	if _, err := s.MemoryStore.Issue(ctx, first, opts); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("%w: jti already recorded", jwtpair.ErrStoreUnavailable)
}

// TestAdoptedMeanwhile: a token recorded between the importer's look and
// its Issue is present, not an error.
func TestAdoptedMeanwhile(t *testing.T) {
	e := newEnv(t, Options{})
	e.im.store = adoptedMeanwhile{e.store}
	e.do(t, outstanding(t, 1))
	assert.Equal(t, Report{Rows: 1, Present: 1}, e.im.report)
}

// down is a store that cannot be reached.
type down struct{ *jwtpair.MemoryStore }

var errDown = fmt.Errorf("%w: connection refused", jwtpair.ErrStoreUnavailable)

func (down) Check(context.Context, jwtpair.Token) error { return errDown }

// TestStoreDown: a store failure is Import's error, never a count.
func TestStoreDown(t *testing.T) {
	e := newEnv(t, Options{})
	e.im.store = down{e.store}
	err := e.im.row(context.Background(), outstanding(t, 1))
	assert.True(t, errors.Is(err, errDown), "%v", err)
	assert.Equal(t, Report{Rows: 1}, e.im.report)
}
