package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
	"github.com/jwtpair/jwtpair/redisstore"
	"github.com/jwtpair/jwtpair/storetest"
)

func TestNewRefusesBracesInPrefix(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: storetest.ClosedAddr(t)})
	t.Cleanup(func() { _ = c.Close() })
	for _, p := range []string{"{app}:", "app:{", "app}:"} {
		assert.Panics(t, func() { redisstore.New(c, redisstore.WithKeyPrefix(p)) }, p)
	}
	assert.Equal(t, redisstore.DefaultKeyPrefix, redisstore.New(c).KeyPrefix())
	assert.Equal(t, redisstore.DefaultKeyPrefix, redisstore.New(c, redisstore.WithKeyPrefix("")).KeyPrefix())
	assert.Equal(t, "app:", redisstore.New(c, redisstore.WithKeyPrefix("app:")).KeyPrefix())
	assert.Panics(t, func() { redisstore.New(nil) })
}

// userKeys lists the keys a store holds under its prefix, the feed apart.
func userKeys(t *testing.T, s *redisstore.Store, c redis.UniversalClient) []string {
	t.Helper()
	var keys []string
	iter := c.Scan(t.Context(), 0, s.KeyPrefix()+"*", 1000).Iterator()
	for iter.Next(t.Context()) {
		if k := iter.Val(); k != s.KeyPrefix()+"{feed}" {
			keys = append(keys, k)
		}
	}
	require.NoError(t, iter.Err())
	return keys
}

// hashTag returns what Redis Cluster hashes of key: the text between the
// first "{" and the first "}" after it, when not empty, else the whole key.
func hashTag(key string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key[i+1 : i+1+j]
		}
	}
	return key
}

// TestKeyLayout checks the keys one user's sessions leave, their hash tag
// (the user's, so one Cluster slot) and their TTLs.
func TestKeyLayout(t *testing.T) {
	s, c := newStore(t)
	ctx := t.Context()
	exp1 := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	exp2 := exp1.Add(time.Hour)

	a := recordOf("42")
	a.ExpiresAt = exp1
	require.NoError(t, issueErr(s.Issue(ctx, a, jwtpair.IssueOptions{Client: map[string]string{"ip": "192.0.2.1"}})))
	b := storetest.NewSuccessor()
	b.ExpiresAt = exp2
	require.NoError(t, s.Rotate(ctx, storetest.TokenOf(a), b, jwtpair.RotateOptions{}))
	other := recordOf("42")
	other.ExpiresAt = exp1
	require.NoError(t, issueErr(s.Issue(ctx, other, jwtpair.IssueOptions{})))

	p := s.KeyPrefix() + "{u:42}:"
	assert.ElementsMatch(t, []string{
		p + "t:" + a.JTI, p + "t:" + b.JTI, p + "t:" + other.JTI,
		p + "s:" + a.SessionID, p + "m:" + a.SessionID, p + "s:" + other.SessionID, p + "i",
	}, userKeys(t, s, c))
	for _, k := range userKeys(t, s, c) {
		assert.Equal(t, "u:42", hashTag(k), "%s: every key of the user shares its tag", k)
	}

	expireAt := func(key string) time.Time {
		t.Helper()
		ms, err := c.Do(ctx, "PEXPIRETIME", key).Int64()
		require.NoError(t, err, key)
		require.Positive(t, ms, "%s must have a TTL", key)
		return time.UnixMilli(ms)
	}
	assert.Equal(t, exp1, expireAt(p+"t:"+a.JTI), "a token expires with its token")
	assert.Equal(t, exp2, expireAt(p+"t:"+b.JTI))
	assert.Equal(t, exp2, expireAt(p+"s:"+a.SessionID), "a session lives as long as its latest token")
	assert.Equal(t, exp2, expireAt(p+"m:"+a.SessionID), "and its client metadata")
	assert.Equal(t, exp1, expireAt(p+"s:"+other.SessionID))
	assert.Equal(t, exp2, expireAt(p+"i"), "the index lives as long as its longest session")

	// Ending keeps the session's TTL (its end is remembered as long as its
	// tokens live) and leaves no pending entry once the feed has it.
	require.NoError(t, s.EndSession(ctx, "42", a.SessionID))
	assert.Equal(t, exp2, expireAt(p+"s:"+a.SessionID))
	assert.NotContains(t, userKeys(t, s, c), p+"m:"+a.SessionID, "an ended session's metadata is dropped")
	assert.NotContains(t, userKeys(t, s, c), p+"p", "the feed entry is acknowledged")
	feed, err := c.XLen(ctx, s.KeyPrefix()+"{feed}").Result()
	require.NoError(t, err)
	assert.EqualValues(t, 1, feed)
	ttl, err := c.PTTL(ctx, s.KeyPrefix()+"{feed}").Result()
	require.NoError(t, err)
	assert.InDelta(t, time.Hour, ttl, float64(time.Minute), "the stream lives one retention past its last write")

	// Raw tokens are never stored: only these fields exist.
	fields, err := c.HKeys(ctx, p+"t:"+b.JTI).Result()
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"s", "i", "e", "p"}, fields)
	fields, err = c.HKeys(ctx, p+"s:"+a.SessionID).Result()
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"u", "c", "l", "x", "j", "r"}, fields)
	enc, err := c.ObjectEncoding(ctx, p+"s:"+a.SessionID).Result()
	require.NoError(t, err)
	assert.Equal(t, "listpack", enc, "a session hash keeps Redis's compact encoding, client metadata apart")
}

// TestUserTag: user ids that could change what Redis hashes (braces),
// that are long or not printable ASCII are hashed into the tag; no two
// users share keys, even when one's id spells another's key.
func TestUserTag(t *testing.T) {
	s, c := newStore(t)
	ctx := t.Context()
	for _, tc := range []struct{ id, tag string }{
		{"42", "u:42"},
		{"alice@example.com", "u:alice@example.com"},
		{"auth0|5f7c", "u:auth0|5f7c"},
		{"", "u:"},
		{strings.Repeat("x", 64), "u:" + strings.Repeat("x", 64)},
		{strings.Repeat("x", 65), "h:"},
		{"a}b", "h:"},
		{"{a}", "h:"},
		{"with space", "h:"},
		{"zoë", "h:"},
		{"tab\t", "h:"},
	} {
		t.Run(tc.id, func(t *testing.T) {
			rec := storetest.NewRecord()
			rec.UserID = tc.id
			require.NoError(t, issueErr(s.Issue(ctx, rec, jwtpair.IssueOptions{})))
			var mine []string
			for _, k := range userKeys(t, s, c) {
				if strings.Contains(k, rec.JTI) {
					mine = append(mine, k)
				}
			}
			require.Len(t, mine, 1)
			tag := hashTag(mine[0])
			if tc.tag == "h:" {
				assert.Regexp(t, `^h:[0-9a-f]{32}$`, tag)
			} else {
				assert.Equal(t, tc.tag, tag)
			}
			require.NoError(t, s.Check(ctx, storetest.TokenOf(rec)))
		})
	}

	// User "a}:s:b" with session "c" and user "a" with session "b}:s:c":
	// the first id is hashed, so the keys differ; and a user never ends
	// another's session through an id that spells its key.
	x := recordOf("a}:s:b")
	x.SessionID = "c"
	require.NoError(t, issueErr(s.Issue(ctx, x, jwtpair.IssueOptions{})))
	y := recordOf("a")
	y.SessionID = "b}:s:c"
	require.NoError(t, issueErr(s.Issue(ctx, y, jwtpair.IssueOptions{})))
	require.NoError(t, s.EndSession(ctx, "a", "b}:s:c"))
	require.NoError(t, s.Check(ctx, storetest.TokenOf(x)), "another user's session is untouched")
	require.ErrorIs(t, s.Check(ctx, storetest.TokenOf(y)), jwtpair.ErrTokenBlacklisted)
}

// setField overwrites one field of a hash, as time passing or an older
// record would leave it.
func setField(t *testing.T, c *redis.Client, key, field, value string) {
	t.Helper()
	require.NoError(t, c.HSet(t.Context(), key, field, value).Err())
}

func tokenKey(s *redisstore.Store, user, jti string) string {
	return s.KeyPrefix() + "{u:" + user + "}:t:" + jti
}

func sessionKey(s *redisstore.Store, user, sid string) string {
	return s.KeyPrefix() + "{u:" + user + "}:s:" + sid
}

// nanosText formats t as the scripts store times: 19-digit Unix nanoseconds.
func nanosText(t time.Time) string { return fmt.Sprintf("%019d", t.UnixNano()) }

// redisNow reads Redis's clock.
func redisNow(t *testing.T, c *redis.Client) time.Time {
	t.Helper()
	now, err := c.Time(t.Context()).Result()
	require.NoError(t, err)
	return now
}

// TestExpiryOnRedisClock: a record whose expiry has passed on Redis's clock
// is unknown, even while Redis still holds its key (its TTL is in
// milliseconds, the scripts compare to the microsecond); so is a session
// past its absolute expiry for every use of its tokens.
func TestExpiryOnRedisClock(t *testing.T) {
	s, c := newStore(t)
	ctx := t.Context()
	a := storetest.Login(t, s)
	require.NoError(t, s.Check(ctx, storetest.TokenOf(a)))

	setField(t, c, tokenKey(s, a.UserID, a.JTI), "e", nanosText(redisNow(t, c).Add(-time.Millisecond)))
	require.ErrorIs(t, s.Check(ctx, storetest.TokenOf(a)), jwtpair.ErrTokenNotFound)
	require.ErrorIs(t, s.Revoke(ctx, storetest.TokenOf(a)), jwtpair.ErrTokenNotFound)
	require.ErrorIs(t, s.Rotate(ctx, storetest.TokenOf(a), storetest.NewSuccessor(), jwtpair.RotateOptions{}), jwtpair.ErrTokenNotFound)

	// Absolute expiry, moved just past on Redis's clock.
	b := storetest.LoginAs(t, s, newUser(), jwtpair.IssueOptions{AbsoluteExpiry: time.Now().Add(time.Hour)})
	setField(t, c, sessionKey(s, b.UserID, b.SessionID), "a", nanosText(redisNow(t, c).Add(-time.Millisecond)))
	require.ErrorIs(t, s.Check(ctx, storetest.TokenOf(b)), jwtpair.ErrTokenBlacklisted)
	require.ErrorIs(t, s.Rotate(ctx, storetest.TokenOf(b), storetest.NewSuccessor(), jwtpair.RotateOptions{}), jwtpair.ErrTokenBlacklisted)
	sessions, err := s.Sessions(ctx, b.UserID)
	require.NoError(t, err)
	assert.Empty(t, sessions)
	// And just before: usable.
	setField(t, c, sessionKey(s, b.UserID, b.SessionID), "a", nanosText(redisNow(t, c).Add(time.Minute)))
	require.NoError(t, s.Rotate(ctx, storetest.TokenOf(b), storetest.NewSuccessor(), jwtpair.RotateOptions{}))
}

// TestGraceWindowOnRedisClock moves a token's consumption time, as stored,
// to either side of the window's edge on Redis's clock: 50 ms inside is a
// replay, 50 ms outside is reuse. No sleep: the window is 10 s.
func TestGraceWindowOnRedisClock(t *testing.T) {
	const grace = 10 * time.Second
	s, c := newStore(t)
	ctx := t.Context()
	opts := jwtpair.RotateOptions{Grace: grace}

	a := storetest.Login(t, s)
	require.NoError(t, s.Rotate(ctx, storetest.TokenOf(a), storetest.NewSuccessor(), opts))
	key := tokenKey(s, a.UserID, a.JTI)
	setField(t, c, key, "c", nanosText(redisNow(t, c).Add(-grace+50*time.Millisecond)))
	require.NoError(t, s.Rotate(ctx, storetest.TokenOf(a), storetest.NewSuccessor(), opts), "consumed 9.95 s ago")
	setField(t, c, key, "c", nanosText(redisNow(t, c).Add(-grace-50*time.Millisecond)))
	require.ErrorIs(t, s.Rotate(ctx, storetest.TokenOf(a), storetest.NewSuccessor(), opts), jwtpair.ErrTokenReused, "consumed 10.05 s ago")
}

// TestUnknownStateRefused: a token whose state the scripts do not know is
// never rotated (fail closed).
func TestUnknownStateRefused(t *testing.T) {
	s, c := newStore(t)
	ctx := t.Context()
	a := storetest.Login(t, s)
	setField(t, c, tokenKey(s, a.UserID, a.JTI), "s", "r")
	require.ErrorIs(t, s.Rotate(ctx, storetest.TokenOf(a), storetest.NewSuccessor(), jwtpair.RotateOptions{}), jwtpair.ErrTokenBlacklisted)
	require.ErrorIs(t, s.Check(ctx, storetest.TokenOf(a)), jwtpair.ErrTokenBlacklisted)
}

// TestTokenOfAnotherSession: a token is honoured only for the session and
// user it was recorded for.
func TestTokenOfAnotherSession(t *testing.T) {
	s, c := newStore(t)
	ctx := t.Context()
	a := storetest.Login(t, s)
	b := storetest.LoginAs(t, s, a.UserID, jwtpair.IssueOptions{})
	wrongSession := jwtpair.Token{JTI: a.JTI, UserID: a.UserID, SessionID: b.SessionID}
	wrongUser := jwtpair.Token{JTI: a.JTI, UserID: "someone-else", SessionID: a.SessionID}
	for name, tk := range map[string]jwtpair.Token{"session": wrongSession, "user": wrongUser} {
		require.ErrorIs(t, s.Check(ctx, tk), jwtpair.ErrTokenNotFound, name)
		require.ErrorIs(t, s.Rotate(ctx, tk, storetest.NewSuccessor(), jwtpair.RotateOptions{}), jwtpair.ErrTokenNotFound, name)
		require.ErrorIs(t, s.Revoke(ctx, tk), jwtpair.ErrTokenNotFound, name)
	}
	require.NoError(t, s.EndSession(ctx, "someone-else", a.SessionID))
	require.NoError(t, s.Check(ctx, storetest.TokenOf(a)), "nothing changed")
	// Keys under one user's tag that name another user's session (as two
	// ids hashed to one tag would) are refused: the session records its user.
	tk := tokenKey(s, "mallory", a.JTI)
	require.NoError(t, c.Copy(ctx, tokenKey(s, a.UserID, a.JTI), tk, 0, false).Err())
	require.NoError(t, c.Copy(ctx, sessionKey(s, a.UserID, a.SessionID), sessionKey(s, "mallory", a.SessionID), 0, false).Err())
	forged := jwtpair.Token{JTI: a.JTI, UserID: "mallory", SessionID: a.SessionID}
	require.ErrorIs(t, s.Check(ctx, forged), jwtpair.ErrTokenNotFound)
	require.ErrorIs(t, s.Rotate(ctx, forged, storetest.NewSuccessor(), jwtpair.RotateOptions{}), jwtpair.ErrTokenNotFound)
	require.ErrorIs(t, s.Revoke(ctx, forged), jwtpair.ErrTokenNotFound)
	require.NoError(t, s.EndSession(ctx, "mallory", a.SessionID))
	n, err := c.HExists(ctx, sessionKey(s, "mallory", a.SessionID), "r").Result()
	require.NoError(t, err)
	require.False(t, n, "EndSession leaves another user's session alone")

	// A token without sid (simplejwt's) finds its session from its record.
	require.NoError(t, s.Rotate(ctx, jwtpair.Token{JTI: a.JTI, UserID: a.UserID}, storetest.NewSuccessor(), jwtpair.RotateOptions{}))
}

func TestIssueRefusals(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	a := storetest.Login(t, s)

	dup := storetest.NewRecord()
	dup.JTI = a.JTI
	dup.UserID = a.UserID
	storetest.RequireUnavailable(t, issueErr(s.Issue(ctx, dup, jwtpair.IssueOptions{})), "duplicate jti")
	require.ErrorIs(t, s.Check(ctx, storetest.TokenOf(dup)), jwtpair.ErrTokenNotFound)

	again := recordOf(a.UserID)
	again.SessionID = a.SessionID
	storetest.RequireUnavailable(t, issueErr(s.Issue(ctx, again, jwtpair.IssueOptions{})), "session id already recorded")
	require.ErrorIs(t, s.Check(ctx, storetest.TokenOf(again)), jwtpair.ErrTokenNotFound)

	require.NoError(t, s.EndSession(ctx, a.UserID, a.SessionID))
	storetest.RequireUnavailable(t, issueErr(s.Issue(ctx, again, jwtpair.IssueOptions{})), "an ended session is still recorded")

	// A Rotate successor that is already recorded is refused and changes nothing.
	b := storetest.Login(t, s)
	taken := storetest.NewSuccessor()
	taken.JTI = b.JTI
	other := storetest.LoginAs(t, s, b.UserID, jwtpair.IssueOptions{})
	storetest.RequireUnavailable(t, s.Rotate(ctx, storetest.TokenOf(other), taken, jwtpair.RotateOptions{}))
	require.NoError(t, s.Check(ctx, storetest.TokenOf(other)), "the presented token stays active")
}

// TestIssueRetry: go-redis resends a command whose reply was lost; the
// same Issue arriving twice succeeds (the login did) and changes nothing.
func TestIssueRetry(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	a := storetest.Login(t, s)
	require.NoError(t, issueErr(s.Issue(ctx, a, jwtpair.IssueOptions{})), "the same Issue again")
	require.NoError(t, s.Check(ctx, storetest.TokenOf(a)))

	later := a
	later.ExpiresAt = a.ExpiresAt.Add(time.Second)
	storetest.RequireUnavailable(t, issueErr(s.Issue(ctx, later, jwtpair.IssueOptions{})), "another expiry")

	// A token no longer active is not made usable, nor reported issued.
	b := storetest.NewSuccessor()
	require.NoError(t, s.Rotate(ctx, storetest.TokenOf(a), b, jwtpair.RotateOptions{}))
	storetest.RequireUnavailable(t, issueErr(s.Issue(ctx, a, jwtpair.IssueOptions{})), "consumed since")
	require.ErrorIs(t, s.Check(ctx, storetest.TokenOf(a)), jwtpair.ErrTokenBlacklisted)
	d := storetest.Login(t, s)
	require.NoError(t, s.EndSession(ctx, d.UserID, d.SessionID))
	storetest.RequireUnavailable(t, issueErr(s.Issue(ctx, d, jwtpair.IssueOptions{})), "session ended since")
	require.ErrorIs(t, s.Check(ctx, storetest.TokenOf(d)), jwtpair.ErrTokenBlacklisted)
}

// TestRotateRetry: go-redis resends a command whose reply was lost; the
// same rotation arriving twice must not be taken for reuse.
func TestRotateRetry(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	a := storetest.Login(t, s)
	b := storetest.NewSuccessor()
	opts := jwtpair.RotateOptions{}
	require.NoError(t, s.Rotate(ctx, storetest.TokenOf(a), b, opts))
	require.NoError(t, s.Rotate(ctx, storetest.TokenOf(a), b, opts), "the same rotation again")
	require.NoError(t, s.Check(ctx, succ(a, b)), "no reuse was detected")

	// A different successor is a real second use.
	require.ErrorIs(t, s.Rotate(ctx, storetest.TokenOf(a), storetest.NewSuccessor(), opts), jwtpair.ErrTokenReused)
	require.ErrorIs(t, s.Check(ctx, succ(a, b)), jwtpair.ErrTokenBlacklisted)

	// The retry of a rotation whose session has ended since is refused.
	a = storetest.Login(t, s)
	b = storetest.NewSuccessor()
	require.NoError(t, s.Rotate(ctx, storetest.TokenOf(a), b, jwtpair.RotateOptions{Grace: time.Minute}))
	require.NoError(t, s.EndSession(ctx, a.UserID, a.SessionID))
	require.ErrorIs(t, s.Rotate(ctx, storetest.TokenOf(a), b, jwtpair.RotateOptions{Grace: time.Minute}), jwtpair.ErrTokenBlacklisted)
}

// TestSessionTimes: Created and LastRefreshed come from Redis's clock;
// a rotation moves LastRefreshed and ExpiresAt (later only).
func TestSessionTimes(t *testing.T) {
	s, c := newStore(t)
	ctx := t.Context()
	before := redisNow(t, c)
	a := storetest.LoginAs(t, s, newUser(), jwtpair.IssueOptions{
		AbsoluteExpiry: time.Now().Add(2 * time.Hour),
		Client:         map[string]string{"user_agent": "curl/8", "ip": "192.0.2.1"},
	})
	after := redisNow(t, c)
	list, err := s.Sessions(ctx, a.UserID)
	require.NoError(t, err)
	require.Len(t, list, 1)
	got := list[0]
	assert.Equal(t, a.SessionID, got.ID)
	assert.Equal(t, a.UserID, got.UserID)
	assert.False(t, got.Created.Before(before.Truncate(time.Microsecond)) || got.Created.After(after), "created %v on Redis's clock, in [%v, %v]", got.Created, before, after)
	assert.Equal(t, got.Created, got.LastRefreshed)
	assert.True(t, got.ExpiresAt.Equal(a.ExpiresAt), "%v != %v", got.ExpiresAt, a.ExpiresAt)
	assert.Equal(t, map[string]string{"user_agent": "curl/8", "ip": "192.0.2.1"}, got.Client)

	// Move the session's times back, then rotate.
	key := sessionKey(s, a.UserID, a.SessionID)
	setField(t, c, key, "l", nanosText(before.Add(-time.Hour)))
	earlier := storetest.NewSuccessor()
	earlier.ExpiresAt = a.ExpiresAt.Add(-time.Minute)
	require.NoError(t, s.Rotate(ctx, storetest.TokenOf(a), earlier, jwtpair.RotateOptions{}))
	list, err = s.Sessions(ctx, a.UserID)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.False(t, list[0].LastRefreshed.Before(after.Truncate(time.Microsecond)), "last refreshed moved to now")
	assert.True(t, list[0].ExpiresAt.Equal(a.ExpiresAt), "an earlier successor does not shorten the session")
}

// countingHook counts the commands a client sends.
type countingHook struct{ n atomic.Int64 }

func (h *countingHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}
func (h *countingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// TestRoundTrips counts the commands each method sends once Redis has the
// scripts cached: one per method on its usual path, Rotate included; an
// ending path adds two, the feed entry and its acknowledgement.
func TestRoundTrips(t *testing.T) {
	s, c := newStore(t)
	ctx := t.Context()
	for _, call := range storetest.Calls(s) { // loads every script
		_ = call(ctx)
	}
	_ = s.EndSession(ctx, newUser(), "warm")
	h := &countingHook{}
	c.AddHook(h)
	storetest.RequireRoundTrips(t, s, h.n.Load, map[string]int64{
		"Issue": 1, "Check": 1, "Rotate": 1, "Sessions": 1,
		"Revoke": 3, "EndSession": 3, "EndSessions": 3,
	})

	// The other paths.
	a := storetest.Login(t, s)
	b := storetest.NewSuccessor()
	require.NoError(t, s.Rotate(ctx, storetest.TokenOf(a), b, jwtpair.RotateOptions{}))
	kept := storetest.Login(t, s)
	for _, step := range []struct {
		name string
		want int64
		call func() error
	}{
		{"Rotate (grace replay)", 1, func() error {
			return s.Rotate(ctx, storetest.TokenOf(a), storetest.NewSuccessor(), jwtpair.RotateOptions{Grace: time.Minute})
		}},
		{"EndSession (unknown)", 1, func() error { return s.EndSession(ctx, a.UserID, "unknown") }},
		{"EndSessions (keep the only one)", 1, func() error { return s.EndSessions(ctx, kept.UserID, kept.SessionID) }},
		{"Issue (the cap evicts one)", 3, func() error {
			return issueErr(s.Issue(ctx, recordOf(kept.UserID), jwtpair.IssueOptions{MaxSessions: 1}))
		}},
		{"Rotate (reuse)", 3, func() error {
			err := s.Rotate(ctx, storetest.TokenOf(a), storetest.NewSuccessor(), jwtpair.RotateOptions{})
			if errors.Is(err, jwtpair.ErrTokenReused) {
				return nil
			}
			return fmt.Errorf("want reuse, got %w", err)
		}},
		{"Revoke (ended)", 1, func() error {
			err := s.Revoke(ctx, succ(a, b))
			if errors.Is(err, jwtpair.ErrTokenBlacklisted) {
				return nil
			}
			return fmt.Errorf("want blacklisted, got %w", err)
		}},
	} {
		before := h.n.Load()
		require.NoError(t, step.call(), step.name)
		assert.Equal(t, step.want, h.n.Load()-before, "%s: round trips", step.name)
	}
}

// TestConcurrentRotateAcrossClients: 64 rotations of one token, grace 0,
// split over two clients (two processes sharing Redis): exactly one wins,
// and the session ends for all once a loser detects reuse.
func TestConcurrentRotateAcrossClients(t *testing.T) {
	const n = 64
	s1, _ := newStore(t)
	s2 := redisstore.New(newClient(t), redisstore.WithKeyPrefix(s1.KeyPrefix()))
	for round := range 5 {
		a := storetest.Login(t, s1)
		race := storetest.RotateRace(t, a, n, s1, s2)
		require.Len(t, race.Won, 1, "round %d: %s", round, race)
		require.Equal(t, 1, race.Reused, "round %d: the first loser detects reuse, later ones see the ended session", round)
	}
}

// TestCapForgetsEvicted: the per-user cap deletes the sessions it evicts
// with every token of their chains (rotations included), so that one
// user's keys stay bounded by the cap however often they log in; the
// evicted tokens are unknown.
func TestCapForgetsEvicted(t *testing.T) {
	const limit = 3
	s, c := newStore(t)
	ctx := t.Context()
	user := "capped-" + storetest.NewID()[:8]
	opts := jwtpair.IssueOptions{MaxSessions: limit}
	first := storetest.LoginAs(t, s, user, opts)
	b := storetest.NewSuccessor()
	require.NoError(t, s.Rotate(ctx, storetest.TokenOf(first), b, jwtpair.RotateOptions{}))
	cur := b
	for range 5 { // a chain of rotations
		n := storetest.NewSuccessor()
		require.NoError(t, s.Rotate(ctx, succ(first, cur), n, jwtpair.RotateOptions{}))
		cur = n
	}
	var recs []jwtpair.Record
	for range 50 {
		recs = append(recs, storetest.LoginAs(t, s, user, opts))
	}
	keys := userKeys(t, s, c)
	// limit sessions of one token each, their index, their pending set
	// (gone once acknowledged).
	assert.Len(t, keys, 2*limit+1, "%v", keys)
	for _, tk := range []jwtpair.Token{storetest.TokenOf(first), succ(first, b), succ(first, cur), storetest.TokenOf(recs[0])} {
		require.ErrorIs(t, s.Check(ctx, tk), jwtpair.ErrTokenNotFound, "an evicted session is forgotten")
	}
	for _, r := range recs[len(recs)-limit:] {
		require.NoError(t, s.Check(ctx, storetest.TokenOf(r)))
	}
	got, _, err := s.Revocations(ctx, "", 0)
	require.NoError(t, err)
	assert.Len(t, got, 51-limit, "every eviction is in the feed")
}

// TestConcurrentCap: logins of one user racing on two clients never leave
// more than the cap live.
func TestConcurrentCap(t *testing.T) {
	const limit, n = 4, 64
	s1, _ := newStore(t)
	s2 := redisstore.New(newClient(t), redisstore.WithKeyPrefix(s1.KeyPrefix()))
	user := "racing-" + storetest.NewID()[:8]
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		s := []*redisstore.Store{s1, s2}[i%2]
		wg.Go(func() {
			<-start
			assert.NoError(t, issueErr(s.Issue(t.Context(), recordOf(user), jwtpair.IssueOptions{MaxSessions: limit})))
		})
	}
	close(start)
	wg.Wait()
	list, err := s1.Sessions(t.Context(), user)
	require.NoError(t, err)
	assert.Len(t, list, limit)
}

// TestIssuePrune: without a cap, an Issue drops from the user's index the
// oldest entries whose session Redis has expired, up to the first that
// exists; EndSessions still reaches every live session.
func TestIssuePrune(t *testing.T) {
	s, c := newStore(t)
	ctx := t.Context()
	user := "prune-" + storetest.NewID()[:8]
	index := s.KeyPrefix() + "{u:" + user + "}:i"
	var gone []redis.Z
	for i := range 40 { // older than any live session: pruned
		gone = append(gone, redis.Z{Score: float64(i + 1), Member: fmt.Sprintf("gone-%d", i)})
	}
	require.NoError(t, c.ZAdd(ctx, index, gone...).Err())
	a := storetest.LoginAs(t, s, user, jwtpair.IssueOptions{})
	created, err := c.ZScore(ctx, index, a.SessionID).Result()
	require.NoError(t, err)
	require.NoError(t, c.ZAdd(ctx, index, redis.Z{Score: created + 1, Member: "gone-later"}).Err())
	b := storetest.LoginAs(t, s, user, jwtpair.IssueOptions{})
	members, err := c.ZRange(ctx, index, 0, -1).Result()
	require.NoError(t, err)
	assert.Equal(t, []string{a.SessionID, "gone-later", b.SessionID}, members,
		"gone entries before the first live one are pruned, later ones wait")

	require.NoError(t, s.EndSessions(ctx, user, ""))
	require.ErrorIs(t, s.Check(ctx, storetest.TokenOf(a)), jwtpair.ErrTokenBlacklisted)
	require.ErrorIs(t, s.Check(ctx, storetest.TokenOf(b)), jwtpair.ErrTokenBlacklisted)
	n, err := c.Exists(ctx, index).Result()
	require.NoError(t, err)
	assert.Zero(t, n, "EndSessions empties the index")
}

// TestScriptReload: after SCRIPT FLUSH (as after a Redis restart) the store
// sends the scripts' source again instead of failing, the feed's included.
func TestScriptReload(t *testing.T) {
	s, c := newStore(t)
	testScriptReload(t, s, func(ctx context.Context) error { return c.ScriptFlush(ctx).Err() })
}

// testScriptReload checks the store's calls after each flush (of every
// node's scripts).
func testScriptReload(t *testing.T, s *redisstore.Store, flush func(context.Context) error) {
	ctx := t.Context()
	a := storetest.Login(t, s)
	require.NoError(t, flush(ctx))
	require.NoError(t, s.Rotate(ctx, storetest.TokenOf(a), storetest.NewSuccessor(), jwtpair.RotateOptions{}))
	require.NoError(t, flush(ctx))
	require.ErrorIs(t, s.Check(ctx, storetest.TokenOf(a)), jwtpair.ErrTokenBlacklisted)
	require.NoError(t, flush(ctx))
	require.NoError(t, s.EndSession(ctx, a.UserID, a.SessionID))
	got, _, err := s.Revocations(ctx, "", 0)
	require.NoError(t, err)
	assert.Equal(t, []revoked{{a.UserID, a.SessionID}}, names(got))
}
