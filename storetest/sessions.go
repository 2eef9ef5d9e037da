package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
)

// The cases of sessions: listing, ending, the per-user cap.

// sessions lists user's sessions, which must succeed.
func sessions(t *testing.T, s jwtpair.Store, user string) []jwtpair.Session {
	t.Helper()
	list, err := s.Sessions(t.Context(), user)
	require.NoError(t, err, "Sessions(%s)", user)
	return list
}

// sessionIDs lists the ids of user's sessions, in the store's order.
func sessionIDs(t *testing.T, s jwtpair.Store, user string) []string {
	t.Helper()
	var ids []string
	for _, ss := range sessions(t, s, user) {
		ids = append(ids, ss.ID)
	}
	return ids
}

// ids returns the session ids of recs, in order.
func ids(recs ...jwtpair.Record) []string {
	out := make([]string, len(recs))
	for i, rec := range recs {
		out[i] = rec.SessionID
	}
	return out
}

// assertRefused asserts that the token recorded as rec is neither active
// nor rotated, answered as ended or as unknown: a session the per-user cap
// ended may be forgotten.
func assertRefused(t *testing.T, s jwtpair.Store, rec jwtpair.Record) {
	t.Helper()
	assertUnusable(t, s, rec)
	next, err := rotate(t, s, rec, noGrace)
	assert.True(t, errors.Is(err, jwtpair.ErrTokenBlacklisted) || errors.Is(err, jwtpair.ErrTokenNotFound),
		"Rotate(%s): want ErrTokenBlacklisted or ErrTokenNotFound, got %v", rec.JTI, err)
	assertUnusable(t, s, next)
}

// assertTime asserts that got is want to the store's precision.
func assertTime(t *testing.T, want, got time.Time, what string) {
	t.Helper()
	assert.WithinDuration(t, want, got, precision, what)
}

// testSessionsListed: a user's live sessions come back newest first, with
// what Issue recorded (user, expiry, absolute expiry, client metadata, the
// store's times); other users' sessions never do, and an unknown user has
// none.
func testSessionsListed(t *testing.T, s jwtpair.Store) {
	user := "user-" + NewID()
	absolute := time.Now().Add(2 * liveFor).Truncate(time.Second)
	client := map[string]string{"user_agent": "Mozilla/5.0 (X11; Linux x86_64) é€𝄞", "ip": "2001:db8::1", "empty": ""}
	before := time.Now()
	first := LoginAs(t, s, user, jwtpair.IssueOptions{})
	time.Sleep(tick)
	second := LoginAs(t, s, user, jwtpair.IssueOptions{Client: client})
	time.Sleep(tick)
	third := LoginAs(t, s, user, jwtpair.IssueOptions{AbsoluteExpiry: absolute, Client: map[string]string{"ip": "203.0.113.7"}})
	Login(t, s) // another user's

	list := sessions(t, s, user)
	require.Equal(t, ids(third, second, first), sessionIDs(t, s, user), "newest first")
	for i, rec := range []jwtpair.Record{third, second, first} {
		got := list[i]
		assert.Equal(t, user, got.UserID)
		assert.WithinDuration(t, before, got.Created, pastBy, "Created is the store's now, within a minute of the test's")
		assertTime(t, got.Created, got.LastRefreshed, "LastRefreshed is Created before the first refresh")
		assertTime(t, rec.ExpiresAt, got.ExpiresAt, "ExpiresAt is the first token's")
	}
	assert.True(t, list[0].Created.After(list[1].Created), "Created follows the logins")
	assert.True(t, list[1].Created.After(list[2].Created), "Created follows the logins")
	assertTime(t, absolute, list[0].AbsoluteExpiry, "AbsoluteExpiry")
	assert.True(t, list[1].AbsoluteExpiry.IsZero(), "no AbsoluteExpiry: zero")
	assert.Equal(t, map[string]string{"ip": "203.0.113.7"}, list[0].Client)
	assert.Equal(t, client, list[1].Client, "client metadata round trip")
	assert.Empty(t, list[2].Client, "no client metadata")

	assert.Empty(t, sessions(t, s, "user-"+NewID()), "an unknown user has none")
}

// testSessionsOmitEnded: sessions ended in any way, and sessions past their
// idle or absolute expiry, are not listed.
func testSessionsOmitEnded(t *testing.T, s jwtpair.Store) {
	user := "user-" + NewID()
	login := func(opts jwtpair.IssueOptions) jwtpair.Record { return LoginAs(t, s, user, opts) }
	live := login(jwtpair.IssueOptions{})
	loggedOut := login(jwtpair.IssueOptions{})
	require.NoError(t, s.Revoke(t.Context(), TokenOf(loggedOut)))
	ended := login(jwtpair.IssueOptions{})
	require.NoError(t, s.EndSession(t.Context(), user, ended.SessionID))
	reused := login(jwtpair.IssueOptions{})
	mustRotate(t, s, reused, noGrace)
	_, err := rotate(t, s, reused, noGrace)
	require.ErrorIs(t, err, jwtpair.ErrTokenReused)
	idle := NewRecord()
	idle.UserID, idle.ExpiresAt = user, time.Now().Add(-pastBy)
	require.NoError(t, issueErr(s.Issue(t.Context(), idle, jwtpair.IssueOptions{})))
	login(jwtpair.IssueOptions{AbsoluteExpiry: time.Now().Add(-pastBy)})

	assert.Equal(t, ids(live), sessionIDs(t, s, user))
}

// testRotateRefreshesSession: a rotation marks the session refreshed, on
// the store's clock, and moves its expiry to the successor's when that is
// later; the login time stays.
func testRotateRefreshesSession(t *testing.T, s jwtpair.Store) {
	a := Login(t, s)
	before := sessions(t, s, a.UserID)[0]
	time.Sleep(tick)

	later := successor()
	later.ExpiresAt = time.Now().Add(2 * liveFor)
	require.NoError(t, s.Rotate(t.Context(), TokenOf(a), later, noGrace))
	after := sessions(t, s, a.UserID)[0]
	assertTime(t, before.Created, after.Created, "Created stays")
	assert.True(t, after.LastRefreshed.After(before.LastRefreshed), "LastRefreshed moves on: %v, then %v", before.LastRefreshed, after.LastRefreshed)
	assertTime(t, later.ExpiresAt, after.ExpiresAt, "ExpiresAt is the successor's")

	time.Sleep(tick)
	earlier := successor()
	earlier.ExpiresAt = time.Now().Add(liveFor)
	require.NoError(t, s.Rotate(t.Context(), TokenOf(inSession(later, a)), earlier, noGrace))
	last := sessions(t, s, a.UserID)[0]
	assert.True(t, last.LastRefreshed.After(after.LastRefreshed), "LastRefreshed moves on")
	assertTime(t, later.ExpiresAt, last.ExpiresAt, "ExpiresAt never moves back")
}

// testAbsoluteExpiry: past its absolute expiry a session can no longer be
// refreshed (ErrTokenBlacklisted) nor checked, whatever its tokens'
// expiry; before it, it works as any other.
func testAbsoluteExpiry(t *testing.T, s jwtpair.Store) {
	user := "user-" + NewID()
	future := time.Now().Add(liveFor / 2).Truncate(time.Second)
	ok := LoginAs(t, s, user, jwtpair.IssueOptions{AbsoluteExpiry: future})
	next := mustRotate(t, s, ok, noGrace)
	assertCheck(t, s, next, nil)
	list := sessions(t, s, user)
	require.Len(t, list, 1)
	assertTime(t, future, list[0].AbsoluteExpiry, "a rotation keeps the absolute expiry")

	past := LoginAs(t, s, user, jwtpair.IssueOptions{AbsoluteExpiry: time.Now().Add(-pastBy)})
	assertCheck(t, s, past, jwtpair.ErrTokenBlacklisted)
	assertRotateFails(t, s, past, noGrace, jwtpair.ErrTokenBlacklisted)
	assertRotateFails(t, s, past, grace(longGrace), jwtpair.ErrTokenBlacklisted)
	assert.Equal(t, ids(ok), sessionIDs(t, s, user))
}

// testEndSession: EndSession ends every token of the session, active,
// consumed and sibling alike, present and future; it is idempotent; an
// unknown session is no error.
func testEndSession(t *testing.T, s jwtpair.Store) {
	a := Login(t, s)
	other := LoginAs(t, s, a.UserID, jwtpair.IssueOptions{})
	b := mustRotate(t, s, a, keep)
	c := mustRotate(t, s, b, noGrace) // b consumed, a and c active

	require.NoError(t, s.EndSession(t.Context(), a.UserID, a.SessionID))
	for _, rec := range []jwtpair.Record{a, b, c} {
		assertCheck(t, s, rec, jwtpair.ErrTokenBlacklisted)
		assertRotateFails(t, s, rec, noGrace, jwtpair.ErrTokenBlacklisted)
		assertRotateFails(t, s, rec, keep, jwtpair.ErrTokenBlacklisted)
		assert.ErrorIs(t, s.Revoke(t.Context(), TokenOf(rec)), jwtpair.ErrTokenBlacklisted, "Revoke after EndSession")
	}
	assertCheck(t, s, other, nil)
	assert.Equal(t, ids(other), sessionIDs(t, s, a.UserID))

	assert.NoError(t, s.EndSession(t.Context(), a.UserID, a.SessionID), "second EndSession")
	assert.NoError(t, s.EndSession(t.Context(), a.UserID, "session-"+NewID()), "EndSession of an unknown session")
	assert.NoError(t, s.EndSession(t.Context(), "user-"+NewID(), "session-"+NewID()), "EndSession of an unknown user")
}

// testEndSessionOfAnotherUser: a session named with another user than its
// own is not ended, whoever's sessions that user has.
func testEndSessionOfAnotherUser(t *testing.T, s jwtpair.Store) {
	victim := Login(t, s)
	attacker := Login(t, s)
	for _, user := range []string{attacker.UserID, "user-" + NewID(), ""} {
		require.NoError(t, s.EndSession(t.Context(), user, victim.SessionID), "EndSession(%q, the victim's session)", user)
	}
	require.NoError(t, s.EndSessions(t.Context(), attacker.UserID, victim.SessionID), "EndSessions keeping the victim's session")
	assertCheck(t, s, victim, nil)
	assert.Equal(t, ids(victim), sessionIDs(t, s, victim.UserID))
	next := mustRotate(t, s, victim, noGrace)
	assertCheck(t, s, next, nil)
	assertCheck(t, s, attacker, jwtpair.ErrTokenBlacklisted)
}

// testEndSessionsKeep: EndSessions with keep ends every session of the
// user but that one ("log out my other devices"); other users, and later
// logins, are untouched.
func testEndSessionsKeep(t *testing.T, s jwtpair.Store) {
	a := Login(t, s)
	a2 := mustRotate(t, s, a, noGrace)
	b := LoginAs(t, s, a.UserID, jwtpair.IssueOptions{})
	kept := LoginAs(t, s, a.UserID, jwtpair.IssueOptions{})
	v := Login(t, s) // another user

	require.NoError(t, s.EndSessions(t.Context(), a.UserID, kept.SessionID))
	assertEnded(t, s, noGrace, a, a2, b)
	assertCheck(t, s, kept, nil)
	assertCheck(t, s, v, nil)
	assert.Equal(t, ids(kept), sessionIDs(t, s, a.UserID))

	later := LoginAs(t, s, a.UserID, jwtpair.IssueOptions{})
	assertCheck(t, s, later, nil)
	require.NoError(t, s.EndSessions(t.Context(), a.UserID, kept.SessionID), "again")
	assertCheck(t, s, later, jwtpair.ErrTokenBlacklisted)
	assertCheck(t, s, kept, nil)
}

// testEndSessionsAll: EndSessions with keep "" ends every session of the
// user ("log out everywhere"); sessions started afterwards are unaffected;
// an unknown user is no error.
func testEndSessionsAll(t *testing.T, s jwtpair.Store) {
	a := Login(t, s)
	a2 := mustRotate(t, s, a, noGrace)
	b := LoginAs(t, s, a.UserID, jwtpair.IssueOptions{}) // the same user's second login
	v := Login(t, s)                                     // another user

	require.NoError(t, s.EndSessions(t.Context(), a.UserID, ""))
	assertEnded(t, s, noGrace, a, a2, b)
	assertCheck(t, s, v, nil)
	assert.Empty(t, sessionIDs(t, s, a.UserID))

	// A login after the end is unaffected.
	d := LoginAs(t, s, a.UserID, jwtpair.IssueOptions{})
	assertCheck(t, s, d, nil)
	e := mustRotate(t, s, d, noGrace)
	assertCheck(t, s, e, nil)
	assert.Equal(t, ids(d), sessionIDs(t, s, a.UserID))

	assert.NoError(t, s.EndSessions(t.Context(), "user-"+NewID(), ""), "EndSessions of an unknown user")
}

// testCapEndsOldest: with MaxSessions, a login past the cap ends the
// user's oldest sessions (by login) until the cap is left; their tokens
// are refused from then on (as ended or as unknown: the store may forget
// them), the newest work. Without MaxSessions there is no cap.
func testCapEndsOldest(t *testing.T, s jwtpair.Store) {
	user := "user-" + NewID()
	capped := jwtpair.IssueOptions{MaxSessions: 3}
	var logins []jwtpair.Record
	for range 5 {
		logins = append(logins, LoginAs(t, s, user, capped))
		time.Sleep(tick)
	}
	assert.Equal(t, ids(logins[4], logins[3], logins[2]), sessionIDs(t, s, user))
	for _, old := range logins[:2] {
		assertRefused(t, s, old)
	}
	for _, rec := range logins[2:] {
		assertCheck(t, s, rec, nil)
	}
	// A rotated session is no younger: the login decides.
	mustRotate(t, s, logins[2], noGrace)
	sixth := LoginAs(t, s, user, capped)
	assert.Equal(t, ids(sixth, logins[4], logins[3]), sessionIDs(t, s, user))

	// Another user's cap is theirs.
	other := "user-" + NewID()
	for range 10 {
		LoginAs(t, s, other, jwtpair.IssueOptions{})
	}
	assert.Len(t, sessionIDs(t, s, other), 10, "no cap without MaxSessions")
	assert.Len(t, sessionIDs(t, s, user), 3)
}

// testCapCountsLive: sessions that ended or expired do not count against
// the cap.
func testCapCountsLive(t *testing.T, s jwtpair.Store) {
	user := "user-" + NewID()
	capped := jwtpair.IssueOptions{MaxSessions: 2}
	a := LoginAs(t, s, user, capped)
	time.Sleep(tick)
	b := LoginAs(t, s, user, capped)
	require.NoError(t, s.Revoke(t.Context(), TokenOf(a)))
	expired := NewRecord()
	expired.UserID, expired.ExpiresAt = user, time.Now().Add(-pastBy)
	require.NoError(t, issueErr(s.Issue(t.Context(), expired, capped)))
	pastAbsolute := LoginAs(t, s, user, jwtpair.IssueOptions{MaxSessions: 2, AbsoluteExpiry: time.Now().Add(-pastBy)})
	time.Sleep(tick)

	c := LoginAs(t, s, user, capped)
	assert.Equal(t, ids(c, b), sessionIDs(t, s, user), "b is not evicted for sessions that no longer count")
	assertCheck(t, s, b, nil)
	assertRefused(t, s, pastAbsolute)
}

// testCapReportsEvicted: Issue returns the ids of exactly the sessions its
// cap ended: none without a cap or below it, several at once when a login
// with a lower cap meets more sessions, and never a session that had
// already ended or expired, or one that stays live.
func testCapReportsEvicted(t *testing.T, s jwtpair.Store) {
	user := "user-" + NewID()
	issue := func(opts jwtpair.IssueOptions) (jwtpair.Record, []string) {
		t.Helper()
		rec := NewRecord()
		rec.UserID = user
		ended, err := s.Issue(t.Context(), rec, opts)
		require.NoError(t, err, "Issue")
		time.Sleep(tick)
		return rec, ended
	}
	var logins []jwtpair.Record
	for range 4 {
		rec, ended := issue(jwtpair.IssueOptions{})
		assert.Empty(t, ended, "no cap")
		logins = append(logins, rec)
	}
	_, ended := issue(jwtpair.IssueOptions{MaxSessions: 10})
	assert.Empty(t, ended, "under the cap")

	// An ended session and an expired one count for nothing, and are not
	// reported.
	require.NoError(t, s.EndSession(t.Context(), user, logins[1].SessionID))
	expired := NewRecord()
	expired.UserID, expired.ExpiresAt = user, time.Now().Add(-pastBy)
	require.NoError(t, issueErr(s.Issue(t.Context(), expired, jwtpair.IssueOptions{})))
	time.Sleep(tick)

	// Live now: logins 0, 2, 3 and the fifth; a login capped at 2 ends the
	// three oldest of them.
	newest, ended := issue(jwtpair.IssueOptions{MaxSessions: 2})
	assert.ElementsMatch(t, ids(logins[0], logins[2], logins[3]), ended, "the sessions the cap ended")
	live := sessionIDs(t, s, user)
	assert.Len(t, live, 2)
	assert.Contains(t, live, newest.SessionID)
	for _, id := range ended {
		assert.NotContains(t, live, id, "a reported session is not live")
	}

	// Another user's sessions are neither counted nor reported.
	other := NewRecord()
	ended, err := s.Issue(t.Context(), other, jwtpair.IssueOptions{MaxSessions: 1})
	require.NoError(t, err)
	assert.Empty(t, ended, "another user's first login")
}

// testCapConcurrent: however many logins of one user run at once, no more
// than the cap of their sessions are live afterwards, and exactly the cap;
// every session ended is reported by exactly one of the Issues, and no
// live one by any.
func testCapConcurrent(t *testing.T, s jwtpair.Store) {
	const (
		logins = 32
		limit  = 4
	)
	user := "user-" + NewID()
	recs := make([]jwtpair.Record, logins)
	errs := make([]error, logins)
	ended := make([][]string, logins)
	together(logins, func(i int) {
		recs[i] = NewRecord()
		recs[i].UserID = user
		ended[i], errs[i] = s.Issue(t.Context(), recs[i], jwtpair.IssueOptions{MaxSessions: limit})
	})
	usable := 0
	var dead, reported []string
	for i, rec := range recs {
		require.NoError(t, errs[i], "Issue #%d", i)
		if s.Check(t.Context(), TokenOf(rec)) == nil {
			usable++
		} else {
			dead = append(dead, rec.SessionID)
		}
		reported = append(reported, ended[i]...)
	}
	assert.Equal(t, limit, usable, "usable tokens after %d concurrent logins capped at %d", logins, limit)
	assert.Len(t, sessionIDs(t, s, user), limit)
	assert.ElementsMatch(t, dead, reported, "the sessions the Issues reported ended, each once")
}
