package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
	"github.com/jwtpair/jwtpair/internal/forge"
	"github.com/jwtpair/jwtpair/redisstore"
	"github.com/jwtpair/jwtpair/storetest"
)

// TestMigrateKeys moves a single-slot layout, written by that version's own
// scripts, on a single Redis, and through a Ring (TestCluster runs it on a
// Cluster).
func TestMigrateKeys(t *testing.T) {
	c := newClient(t)
	t.Run("Client", func(t *testing.T) { testMigrate(t, c) })
	t.Run("Ring", func(t *testing.T) {
		r := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"one": c.Options().Addr}, DB: c.Options().DB})
		t.Cleanup(func() { _ = r.Close() })
		testMigrate(t, r)
	})
}

// TestMigrateKeysRefusesOwnKeys: an old prefix whose keys would include
// this store's (the old layout's deletion would take them) is refused, and
// nothing is touched.
func TestMigrateKeysRefusesOwnKeys(t *testing.T) {
	s, c := newStore(t)
	a := storetest.LoginAs(t, s, "42", jwtpair.IssueOptions{})
	for _, old := range []string{s.KeyPrefix() + "{u:42}", s.KeyPrefix() + "{u:42}:", s.KeyPrefix() + "{feed}"} {
		rep, err := s.MigrateKeys(t.Context(), old, 0)
		assert.ErrorContains(t, err, "would name this store's own keys", old)
		assert.Zero(t, rep)
	}
	require.NoError(t, s.Check(t.Context(), storetest.TokenOf(a)))
	assert.NotEmpty(t, keysOf(t, c, s.KeyPrefix()+"{u:42}*"))
}

// newV1 returns a writer of the single-slot layout on a prefix of its own,
// whose keys are deleted at cleanup, and that prefix.
func newV1(t *testing.T, c redis.UniversalClient) (*redisstore.V1Layout, string) {
	t.Helper()
	prefix := "jwtpairold:" + storetest.NewID()[:12] + ":"
	v1 := redisstore.NewV1Layout(c, prefix)
	t.Cleanup(func() { deleteKeys(c, v1.Prefix()+"*") })
	return v1, prefix
}

// v1Token is a token of the old layout: the jti, and the family its
// tokens carried as their sid.
type v1Token struct{ jti, family, user string }

func (o v1Token) token() jwtpair.Token {
	return jwtpair.Token{JTI: o.jti, UserID: o.user, SessionID: o.family}
}

// sidless is the token as one minted before refresh tokens carried a sid
// presents it.
func (o v1Token) sidless() jwtpair.Token { return jwtpair.Token{JTI: o.jti, UserID: o.user} }

// testMigrate writes every state the old layout knows, migrates, and
// checks each token's verdict, the sessions, the TTLs, that nothing of the
// old layout is left, and that a second run changes nothing.
func testMigrate(t *testing.T, c redis.UniversalClient) {
	ctx := t.Context()
	v1, oldPrefix := newV1(t, c)
	s := redisstore.New(c, redisstore.WithKeyPrefix(newPrefix(t, c)))
	exp := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	later := exp.Add(time.Minute)
	user := newUser()
	long := "long-" + strings.Repeat("é", 40) // hashed into its tag
	issue := func(user string, e time.Time) v1Token {
		o := v1Token{storetest.NewID(), storetest.NewID(), user}
		require.NoError(t, v1.Issue(ctx, o.jti, o.family, user, e))
		return o
	}
	rotate := func(o v1Token, grace time.Duration) v1Token {
		n := v1Token{storetest.NewID(), o.family, o.user}
		require.NoError(t, v1.Rotate(ctx, o.jti, n.jti, later, grace))
		return n
	}

	live := issue(user, exp)
	sidless := issue(user, exp)
	rotated := issue(user, exp)
	rotatedNext := rotate(rotated, 0)
	consumed := issue(user, exp) // consumed just now: a replay inside the window is forgiven
	rotate(consumed, 0)
	replayed := issue(user, exp) // consumed and replayed as often as forgiven
	rotate(replayed, time.Minute)
	for range jwtpair.MaxGraceReplays {
		rotate(replayed, time.Minute)
	}
	loggedOut := issue(user, exp)
	require.NoError(t, v1.Revoke(ctx, loggedOut.jti))
	everywhere1, everywhere2 := issue(long, exp), issue(long, exp)
	everywhere2 = rotate(everywhere2, 0)
	require.NoError(t, v1.RevokeUser(ctx, long))
	expired := issue(user, time.Now().Add(-time.Minute)) // Redis drops its keys at once
	// A token of the first version's layout, revoked alone (state r) in a
	// live family; a token whose family record is gone; and one an
	// interrupted run had already renamed.
	revokedAlone := issue(user, exp)
	require.NoError(t, c.HSet(ctx, v1.Prefix()+"t:"+revokedAlone.jti, "s", "r").Err())
	orphan := issue(user, exp)
	require.NoError(t, c.Del(ctx, v1.Prefix()+"f:"+orphan.family).Err())
	interrupted := issue(user, exp)
	require.NoError(t, c.Rename(ctx, v1.Prefix()+"t:"+interrupted.jti, v1.Prefix()+"mv:t:"+interrupted.jti).Err())

	// A revoked family an interrupted run had moved, which an old instance
	// then wrote again (a token issued with its id): still revoked.
	rewritten := issue(user, exp)
	require.NoError(t, v1.Revoke(ctx, rewritten.jti))
	for _, k := range []string{"t:" + rewritten.jti, "f:" + rewritten.family} {
		require.NoError(t, c.Rename(ctx, v1.Prefix()+k, v1.Prefix()+"mv:"+k).Err())
	}
	straggler := v1Token{storetest.NewID(), rewritten.family, user}
	require.NoError(t, v1.Issue(ctx, straggler.jti, straggler.family, user, exp))

	const age = 30 * 24 * time.Hour
	start := time.Now()
	rep, err := s.MigrateKeys(ctx, oldPrefix, age)
	require.NoError(t, err)
	assert.Equal(t, redisstore.MigrateReport{
		Tokens:   19, // the 12 live first tokens, straggler, the 6 successors and siblings of rotations
		Sessions: 7,  // live, sidless, rotated, consumed, replayed, revokedAlone, interrupted
		Ended:    5,  // loggedOut, both of long's, orphan, rewritten
		Deleted:  12, // the families left (not expired's, not orphan's), user's index (RevokeUser dropped long's)
	}, rep)
	assert.Empty(t, keysOf(t, c, v1.Prefix()+"*"), "nothing of the old layout is left")

	verdicts := func(t *testing.T) {
		for _, tc := range []struct {
			name string
			tok  jwtpair.Token
			want error
		}{
			{"live", live.token(), nil},
			{"live, presented without a sid", sidless.sidless(), nil},
			{"the successor of a rotation", rotatedNext.token(), nil},
			{"consumed", rotated.token(), jwtpair.ErrTokenBlacklisted},
			{"logged out", loggedOut.token(), jwtpair.ErrTokenBlacklisted},
			{"logged out, presented without a sid", loggedOut.sidless(), jwtpair.ErrTokenBlacklisted},
			{"logged out everywhere", everywhere1.token(), jwtpair.ErrTokenBlacklisted},
			{"logged out everywhere, rotated", everywhere2.token(), jwtpair.ErrTokenBlacklisted},
			{"revoked alone", revokedAlone.token(), jwtpair.ErrTokenBlacklisted},
			{"its family lost", orphan.token(), jwtpair.ErrTokenBlacklisted},
			{"moved by an interrupted run", interrupted.token(), nil},
			{"revoked, moved by an interrupted run", rewritten.token(), jwtpair.ErrTokenBlacklisted},
			{"of a revoked family written again", straggler.token(), jwtpair.ErrTokenBlacklisted},
			{"expired", expired.token(), jwtpair.ErrTokenNotFound},
		} {
			err := s.Check(ctx, tc.tok)
			if tc.want == nil {
				assert.NoError(t, err, tc.name)
			} else {
				assert.ErrorIs(t, err, tc.want, tc.name)
			}
		}
	}
	verdicts(t)

	// The records keep their expiry; a session lives as long as its latest
	// token, with the migration as its start and the absolute expiry from
	// it.
	u := s.KeyPrefix() + "{u:" + user + "}:"
	assert.Equal(t, exp, expireAt(t, c, u+"t:"+live.jti))
	assert.Equal(t, later, expireAt(t, c, u+"t:"+rotatedNext.jti))
	assert.Equal(t, later, expireAt(t, c, u+"s:"+rotated.family))
	assert.Equal(t, exp, expireAt(t, c, u+"s:"+loggedOut.family), "an ended session is remembered as long as its tokens")
	list, err := s.Sessions(ctx, user)
	require.NoError(t, err)
	byID := map[string]jwtpair.Session{}
	for _, ses := range list {
		byID[ses.ID] = ses
	}
	assert.Len(t, byID, 7, "the live families, and no ended one")
	for _, o := range []v1Token{live, sidless, rotated, consumed, replayed, revokedAlone, interrupted} {
		ses, ok := byID[o.family]
		if assert.True(t, ok, "session %s listed", o.family) {
			assert.WithinRange(t, ses.Created, start.Add(-time.Minute), time.Now().Add(time.Minute))
			assert.WithinDuration(t, ses.Created.Add(age), ses.AbsoluteExpiry, time.Millisecond)
		}
	}
	assert.True(t, byID[rotated.family].ExpiresAt.Equal(later), "idle expiry: the latest token's")
	list, err = s.Sessions(ctx, long)
	require.NoError(t, err)
	assert.Empty(t, list)

	// Again: nothing to move, nothing changes.
	rep, err = s.MigrateKeys(ctx, oldPrefix, age)
	require.NoError(t, err)
	assert.Zero(t, rep)
	verdicts(t)

	// A run interrupted after writing a token but before deleting its old
	// record is resumed without reverting what this layout did since.
	require.NoError(t, s.Rotate(ctx, rotatedNext.token(), storetest.NewSuccessor(), jwtpair.RotateOptions{}))
	require.NoError(t, c.HSet(ctx, v1.Prefix()+"mv:t:"+rotatedNext.jti, "s", "a", "f", rotatedNext.family, "u", user,
		"e", fmt.Sprintf("%019d", later.UnixNano()), "m", later.UnixMilli()).Err())
	rep, err = s.MigrateKeys(ctx, oldPrefix, age)
	require.NoError(t, err)
	assert.Equal(t, redisstore.MigrateReport{}, rep, "nothing written")
	assert.ErrorIs(t, s.Check(ctx, rotatedNext.token()), jwtpair.ErrTokenBlacklisted, "consumed here, not made active again")
	assert.Empty(t, keysOf(t, c, v1.Prefix()+"*"))

	// The tokens behave as they did: a consumed token is reuse (outside
	// the window) or a replay (inside it, as often as it was not yet
	// replayed); a logout and "log out everywhere" reach the moved
	// sessions and the feed.
	assert.ErrorIs(t, s.Rotate(ctx, rotated.token(), storetest.NewSuccessor(), jwtpair.RotateOptions{}), jwtpair.ErrTokenReused)
	assert.ErrorIs(t, s.Check(ctx, rotatedNext.token()), jwtpair.ErrTokenBlacklisted, "reuse ended the session")
	grace := jwtpair.RotateOptions{Grace: time.Minute}
	assert.NoError(t, s.Rotate(ctx, consumed.token(), storetest.NewSuccessor(), grace), "consumed moments ago: a replay")
	assert.ErrorIs(t, s.Rotate(ctx, replayed.token(), storetest.NewSuccessor(), grace), jwtpair.ErrTokenReused, "replayed as often as forgiven")
	assert.ErrorIs(t, s.Rotate(ctx, loggedOut.token(), storetest.NewSuccessor(), jwtpair.RotateOptions{}), jwtpair.ErrTokenBlacklisted)
	assert.NoError(t, s.Rotate(ctx, sidless.sidless(), storetest.NewSuccessor(), jwtpair.RotateOptions{}))
	require.NoError(t, s.Revoke(ctx, live.token()))
	require.NoError(t, s.EndSessions(ctx, user, ""))
	assert.ErrorIs(t, s.Check(ctx, interrupted.token()), jwtpair.ErrTokenBlacklisted)
	got, _, err := s.Revocations(ctx, "", 0)
	require.NoError(t, err)
	assert.Contains(t, names(got), revoked{user, live.family})
	assert.Contains(t, names(got), revoked{user, interrupted.family})
	assert.Contains(t, names(got), revoked{user, ""})

	// Without a max session age, no absolute expiry.
	v1b, oldB := newV1(t, c)
	o := v1Token{storetest.NewID(), storetest.NewID(), newUser()}
	require.NoError(t, v1b.Issue(ctx, o.jti, o.family, o.user, exp))
	_, err = s.MigrateKeys(ctx, oldB, 0)
	require.NoError(t, err)
	list, err = s.Sessions(ctx, o.user)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Zero(t, list[0].AbsoluteExpiry)
}

// TestMigrateKeysStragglers: families a straggling old instance adds
// between the passes are moved live, however many other keys of the old
// layout the final pass deletes. (It deleted them 100 at a time while
// scanning, a new family's record among them, before it moved the tokens
// it had found: they then looked lost, their sessions recorded ended.)
func TestMigrateKeysStragglers(t *testing.T) {
	c := newClient(t)
	ctx := t.Context()
	v1, oldPrefix := newV1(t, c)
	s := redisstore.New(c, redisstore.WithKeyPrefix(newPrefix(t, c)))
	exp := time.Now().Add(time.Hour)
	issue := func() v1Token {
		o := v1Token{storetest.NewID(), storetest.NewID(), newUser()}
		require.NoError(t, v1.Issue(ctx, o.jti, o.family, o.user, exp))
		return o
	}
	// Enough families for the first pass that the final one meets hundreds
	// of other keys (their moved records, the users' indexes) around the
	// new tokens, fewer than a batch.
	const before, added = 300, 20
	var toks []v1Token
	for range before {
		toks = append(toks, issue())
	}
	rep, err := s.MigrateKeysBetween(ctx, oldPrefix, 0, func() {
		for range added {
			toks = append(toks, issue())
		}
	})
	require.NoError(t, err)
	assert.Equal(t, redisstore.MigrateReport{
		Tokens:   before + added,
		Sessions: before + added,
		Deleted:  2 * (before + added), // a family and a user index each
	}, rep)
	assert.Empty(t, keysOf(t, c, v1.Prefix()+"*"), "nothing of the old layout is left")
	refused := 0
	for _, o := range toks {
		if s.Check(ctx, o.token()) != nil {
			refused++
		}
	}
	assert.Zero(t, refused, "tokens refused, of %d", len(toks))
}

// TestMigrateKeysRevokedSince: a family the old layout revoked after its
// session was moved live (a straggling old instance issued a token of it
// and logged out with that token) ends the session when the migration
// meets the revocation, in its final pass or in a later run: every token
// of the session is refused, its metadata and index entry go, and the feed
// carries the end to its access tokens.
func TestMigrateKeysRevokedSince(t *testing.T) {
	c := newClient(t)
	for name, rerun := range map[string]bool{"final pass": false, "next run": true} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			v1, oldPrefix := newV1(t, c)
			s := redisstore.New(c, redisstore.WithKeyPrefix(newPrefix(t, c)))
			exp := time.Now().Add(time.Hour)
			user := newUser()
			moved := v1Token{storetest.NewID(), storetest.NewID(), user}
			require.NoError(t, v1.Issue(ctx, moved.jti, moved.family, user, exp))
			other := v1Token{storetest.NewID(), moved.family, user}
			straggle := func() {
				require.NoError(t, s.Check(ctx, moved.token()), "moved live")
				require.NoError(t, v1.Issue(ctx, other.jti, other.family, user, exp))
				require.NoError(t, v1.Revoke(ctx, other.jti))
			}
			var rep redisstore.MigrateReport
			if rerun {
				first, err := s.MigrateKeys(ctx, oldPrefix, 0)
				require.NoError(t, err)
				require.Equal(t, redisstore.MigrateReport{Tokens: 1, Sessions: 1, Deleted: 2}, first)
				straggle()
				rep, err = s.MigrateKeys(ctx, oldPrefix, 0)
				require.NoError(t, err)
			} else {
				var err error
				rep, err = s.MigrateKeysBetween(ctx, oldPrefix, 0, straggle)
				require.NoError(t, err)
				rep.Tokens, rep.Sessions = rep.Tokens-1, rep.Sessions-1 // the first pass's
			}
			assert.Equal(t, redisstore.MigrateReport{Tokens: 1, Ended: 1, Deleted: 2}, rep)
			assert.Empty(t, keysOf(t, c, v1.Prefix()+"*"))
			assert.ErrorIs(t, s.Check(ctx, moved.token()), jwtpair.ErrTokenBlacklisted, "logged out by the old instance")
			assert.ErrorIs(t, s.Check(ctx, other.token()), jwtpair.ErrTokenBlacklisted)
			list, err := s.Sessions(ctx, user)
			require.NoError(t, err)
			assert.Empty(t, list)
			assert.Empty(t, keysOf(t, c, s.KeyPrefix()+"{u:"+user+"}:[ip]"), "no index entry, nothing pending")
			got, _, err := s.Revocations(ctx, "", 0)
			require.NoError(t, err)
			assert.Equal(t, []revoked{{user, moved.family}}, names(got))

			// A later run changes nothing.
			rep, err = s.MigrateKeys(ctx, oldPrefix, 0)
			require.NoError(t, err)
			assert.Zero(t, rep)
		})
	}
}

// expireAt is key's expiry time.
func expireAt(t *testing.T, c redis.UniversalClient, key string) time.Time {
	t.Helper()
	ms, err := c.Do(t.Context(), "PEXPIRETIME", key).Int64()
	require.NoError(t, err, key)
	require.Positive(t, ms, "%s must have a TTL", key)
	return time.UnixMilli(ms)
}

// TestMigrateKeysThroughAuth: refresh tokens minted by the earlier version
// (sid: the family; or none, from before the claim) refresh after the
// migration through a real Auth, and those the old layout had ended stay
// refused, also with the simplejwt adoption window open, which would take
// in a sid-less token the store did not know.
func TestMigrateKeysThroughAuth(t *testing.T) {
	c := newClient(t)
	ctx := t.Context()
	v1, oldPrefix := newV1(t, c)
	secret := []byte("migrate-test-secret-0123456789abcdef")
	now := time.Now()
	exp := now.Add(time.Hour)
	mint := func(o v1Token, sid bool) string {
		t.Helper()
		claims := fmt.Sprintf(`"token_type":"refresh","exp":%d,"iat":%d,"jti":%q,"user_id":%q`, exp.Unix(), now.Unix()-60, o.jti, o.user)
		if sid {
			claims += fmt.Sprintf(`,"sid":%q`, o.family)
		}
		tok, err := forge.Sign("HS256", secret, `{"alg":"HS256","typ":"JWT"}`, "{"+claims+"}")
		require.NoError(t, err)
		return tok
	}
	issue := func() v1Token {
		o := v1Token{storetest.NewID(), storetest.NewID(), newUser()}
		require.NoError(t, v1.Issue(ctx, o.jti, o.family, o.user, exp))
		return o
	}
	live, liveOld, loggedOut, rotated := issue(), issue(), issue(), issue()
	require.NoError(t, v1.Revoke(ctx, loggedOut.jti))
	require.NoError(t, v1.Rotate(ctx, rotated.jti, storetest.NewID(), exp, 0))

	newAuth := func(s jwtpair.Store) *jwtpair.Auth {
		a, err := jwtpair.New(
			jwtpair.WithHMACKey(secret),
			jwtpair.WithAuthenticator(jwtpair.AuthenticatorFunc(func(context.Context, string, string) (jwtpair.User, error) {
				return jwtpair.User{}, jwtpair.ErrInvalidCredentials
			})),
			jwtpair.WithStore(s),
			jwtpair.WithSimplejwtAdoption(now.Add(time.Minute), now.Add(time.Hour)),
			jwtpair.WithLogger(slog.New(slog.DiscardHandler)),
		)
		require.NoError(t, err)
		t.Cleanup(func() { _ = a.Close() })
		return a
	}
	// What the migration prevents: a store that does not know the
	// logged-out token adopts it.
	unaware := newAuth(redisstore.New(c, redisstore.WithKeyPrefix(newPrefix(t, c))))
	_, err := unaware.Refresh(ctx, mint(loggedOut, false))
	require.NoError(t, err, "an unknown sid-less token is adopted")

	s := redisstore.New(c, redisstore.WithKeyPrefix(newPrefix(t, c)))
	_, err = s.MigrateKeys(ctx, oldPrefix, 0)
	require.NoError(t, err)
	a := newAuth(s)
	_, err = a.Refresh(ctx, mint(live, true))
	assert.NoError(t, err, "a live token refreshes")
	_, err = a.Refresh(ctx, mint(liveOld, false))
	assert.NoError(t, err, "a live token without sid refreshes")
	for name, tok := range map[string]string{
		"logged out":               mint(loggedOut, true),
		"logged out, without sid":  mint(loggedOut, false),
		"consumed, without sid":    mint(rotated, false),
		"consumed (reuse), ending": mint(rotated, true),
	} {
		_, err = a.Refresh(ctx, tok)
		assert.True(t, errors.Is(err, jwtpair.ErrTokenBlacklisted) || errors.Is(err, jwtpair.ErrTokenReused), "%s: %v", name, err)
	}
}
