// Package storetest is the conformance suite for implementations of
// [jwtpair.Store] and [jwtpair.RevocationFeed]. Every store, in this module
// or outside it, runs it from its own tests:
//
//	func TestMyStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) jwtpair.Store {
//			return mystore.New(...)
//		})
//	}
//
// A store meant to be shared by several processes also runs [RunShared],
// which puts several [jwtpair.Auth] instances, served over HTTP, on one
// backend; a networked store also runs [RunOutage], which takes the backend
// away behind a [Proxy] (a [Link], for a backend of several servers) and
// brings it back, and [RunStall], which makes it stop answering
// (Proxy.Stall, or a lock held on the database) and checks that requests
// get their 503 at the Auth's store timeout.
//
// Run calls newStore once per subtest. Each call must return a store isolated
// from every other one the suite gets, its revocation feed included: a
// backend shared between calls can use a fresh random key prefix, schema or
// table per call, and register its cleanup with t.Cleanup. Identifiers
// (jtis, user and session ids) are random in every subtest too.
//
// The suite never uses a fake clock and never waits for a TTL: records meant
// to be expired are issued with an ExpiresAt one minute before [time.Now],
// live ones with one an hour after it. A backend may therefore judge expiry by
// its own time (a Redis TTL, `expires_at > now()` in SQL), provided its clock
// is within a minute of the test machine's. Issuing a record that has already
// expired must succeed (the Auth's clock and the backend's may disagree) and
// leave nothing usable. The times a store reports (a session's Created,
// LastRefreshed, ExpiresAt, AbsoluteExpiry; a revocation's At) must keep at
// least millisecond precision: a session's expiries come back within a
// millisecond of what was recorded, and the cases that need one instant
// after another sleep a few milliseconds between them.
//
// The reuse grace window is measured on the store's own clock, which the
// suite cannot set, so the few cases that must see a window close wait for it
// in real time: the window is 500 ms and no case waits more than about a
// second. The revocation feed's cases wait in real time too, for a
// Revocations call to return: a few seconds at most.
//
// Beyond the outcomes the [jwtpair.Store] documentation lists, the suite
// checks safety properties it implies: Issue never makes a consumed or ended
// jti usable again, never starts a session twice, and a token is only ever
// usable as the user and session it was recorded for.
//
// The feed's cases run when the store implements [jwtpair.RevocationFeed]
// (every store of this module and of redisstore and sqlstore does) and are
// skipped, with a message, when it does not.
//
// A store's own tests share the suite's helpers: [NewID], [NewRecord],
// [NewSuccessor], [TokenOf], [Login] and [LoginAs] make records;
// [BackendURL] reads a backend's address from the environment and skips the
// test when it is unset, unless [BackendsRequired]; [RotateRace] races
// rotations of one token across store values; [RequireRoundTrips] counts
// what each method sends to the backend; [ClosedAddr], [Calls],
// [RequireUnavailable] and [RequireAllUnavailable] check a backend that
// cannot be reached; [RotateBenchmark] is every store's rotation benchmark.
package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
)

// Run runs the conformance suite against the stores newStore returns, one
// subtest per behaviour, each with a store of its own.
func Run(t *testing.T, newStore func(t *testing.T) jwtpair.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s jwtpair.Store)
	}{
		// Tokens.
		{"IssueThenCheck", testIssueThenCheck},
		{"CheckUnknown", testCheckUnknown},
		{"TokenOfAnotherUserOrSession", testTokenMismatch},
		{"RotateActive", testRotateActive},
		{"RotateKeepPresented", testRotateKeepPresented},
		{"RotateUnknown", testRotateUnknown},
		{"ReuseWithoutGrace", testReuseWithoutGrace},
		{"ReuseAfterGrace", testReuseAfterGrace},
		{"ReplayWithinGrace", testReplayWithinGrace},
		{"GraceAnchoredAtFirstConsumption", testGraceAnchored},
		{"SiblingsBounded", testSiblingsBounded},
		{"RevokeActive", testRevokeActive},
		{"RevokeConsumedEndsSession", testRevokeConsumed},
		{"RevokeUnknown", testRevokeUnknown},
		{"RevokeEndsSession", testRevokeEndsSession},
		{"LogoutEndsSiblings", testLogoutEndsSiblings},
		{"RotateRepeatedAfterEnd", testRotateRepeatedAfterEnd},
		{"RotateRepeatedAfterSuccessorRotated", testRotateRepeatedAfterSuccessorRotated},
		{"SuccessorInherits", testSuccessorInherits},
		{"Expired", testExpired},
		{"IssueCannotReviveToken", testIssueCannotRevive},
		{"IssueCannotRestartSession", testIssueCannotRestartSession},
		{"CancelledContext", testCancelledContext},
		{"ConcurrentRotateOneToken", testConcurrentRotateOne},
		{"ConcurrentRotateManyTokens", testConcurrentRotateMany},
		{"ConcurrentRotateAndRevoke", testConcurrentRotateAndRevoke},
		// Sessions (sessions.go).
		{"SessionsListed", testSessionsListed},
		{"SessionsOmitEndedAndExpired", testSessionsOmitEnded},
		{"RotateRefreshesSession", testRotateRefreshesSession},
		{"AbsoluteExpiry", testAbsoluteExpiry},
		{"EndSession", testEndSession},
		{"EndSessionOfAnotherUser", testEndSessionOfAnotherUser},
		{"EndSessionsKeepingOne", testEndSessionsKeep},
		{"EndSessionsAll", testEndSessionsAll},
		{"CapEndsOldest", testCapEndsOldest},
		{"CapCountsLiveSessionsOnly", testCapCountsLive},
		{"CapReportsEvicted", testCapReportsEvicted},
		{"CapAtomicUnderConcurrentLogins", testCapConcurrent},
		// The revocation feed (feed.go).
		{"FeedCarriesEveryEnd", withFeed(testFeedEveryEnd)},
		{"FeedCatchUp", withFeed(testFeedCatchUp)},
		{"FeedWaitReturnsOnNews", withFeed(testFeedWaitReturnsOnNews)},
		{"FeedWaitTimesOut", withFeed(testFeedWaitTimesOut)},
		{"FeedMissesNothing", withFeed(testFeedMissesNothing)},
		{"FeedIgnoresOtherUsersEnds", withFeed(testFeedIgnoresOtherUsers)},
		{"FeedRetention", withFeed(testFeedRetention)},
		{"FeedCancelledContext", withFeed(testFeedCancelled)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

const (
	liveFor = time.Hour
	pastBy  = time.Minute

	// longGrace is the window of the cases that never wait it out.
	longGrace = time.Minute

	// precision is how far a time a store reports may be from the one
	// recorded (see the package doc).
	precision = time.Millisecond
	// tick is how long a case sleeps for the store's clock to have moved
	// on by more than precision.
	tick = 5 * time.Millisecond
)

// shortGrace is the reuse grace window of the cases that wait for one to
// close, in real time: the store measures it on its own clock (Redis TIME,
// the database's statement time), which a test cannot move. It is short
// enough to keep each such case under a second, and long enough that a
// replay sent at once lands inside it on a loaded machine.
const shortGrace = 500 * time.Millisecond

// pastShortGrace is how long a case sleeps, after the presentation whose
// consumption it waits out, for the shortGrace window to have closed on the
// store's clock whatever the network delay (it only adds).
const pastShortGrace = shortGrace + 150*time.Millisecond

// successor returns a live record to pass to Rotate. Its UserID and
// SessionID are decoys: the store must ignore them.
func successor() jwtpair.Record {
	next := NewSuccessor()
	next.UserID, next.SessionID = "decoy-user-"+NewID(), "decoy-session-"+NewID()
	return next
}

// inSession returns next as a token of presented's session carries it: with
// presented's user and session.
func inSession(next, presented jwtpair.Record) jwtpair.Record {
	next.UserID, next.SessionID = presented.UserID, presented.SessionID
	return next
}

// noGrace rotates without a grace window; keep rotates leaving the
// presented token active (no blacklist after rotation).
var (
	noGrace = jwtpair.RotateOptions{}
	keep    = jwtpair.RotateOptions{KeepPresented: true}
)

// enders end a token's session by EndSession or by EndSessions.
var enders = []struct {
	name string
	end  func(ctx context.Context, s jwtpair.Store, rec jwtpair.Record) error
}{
	{"EndSession", func(ctx context.Context, s jwtpair.Store, rec jwtpair.Record) error {
		return s.EndSession(ctx, rec.UserID, rec.SessionID)
	}},
	{"EndSessions", func(ctx context.Context, s jwtpair.Store, rec jwtpair.Record) error {
		return s.EndSessions(ctx, rec.UserID, "")
	}},
}

// grace returns rotation options with the grace window d.
func grace(d time.Duration) jwtpair.RotateOptions {
	return jwtpair.RotateOptions{Grace: d}
}

// inTime runs a case that needs a presentation to land inside shortGrace,
// in real time. The case returns false, before judging anything, when more
// than the window passed where it needed less (stalled reports that): a
// loaded machine can stall a goroutine for that long, and the store's clock
// cannot be held. Such a run proves nothing either way, so the case runs
// again on fresh tokens, up to three times.
func inTime(t *testing.T, run func() bool) {
	t.Helper()
	for range 3 {
		if run() {
			return
		}
		t.Log("the machine stalled past the grace window; running the case again")
	}
	t.Fatal("the machine stalled past the grace window three times: the case could not be judged")
}

// stalled reports whether d or more has passed since start.
func stalled(start time.Time, d time.Duration) bool { return time.Since(start) >= d }

// rotate presents the token recorded as rec for rotation and returns the
// successor it offered, as a token of rec's session carries it.
func rotate(t *testing.T, s jwtpair.Store, rec jwtpair.Record, opts jwtpair.RotateOptions) (jwtpair.Record, error) {
	t.Helper()
	next := successor()
	err := s.Rotate(t.Context(), TokenOf(rec), next, opts)
	return inSession(next, rec), err
}

// mustRotate rotates rec, which must succeed, and returns the successor.
func mustRotate(t *testing.T, s jwtpair.Store, rec jwtpair.Record, opts jwtpair.RotateOptions) jwtpair.Record {
	t.Helper()
	next, err := rotate(t, s, rec, opts)
	require.NoError(t, err, "Rotate(%s)", rec.JTI)
	return next
}

// assertCheck asserts that Check of rec answers want (nil: active).
func assertCheck(t *testing.T, s jwtpair.Store, rec jwtpair.Record, want error) {
	t.Helper()
	err := s.Check(t.Context(), TokenOf(rec))
	if want == nil {
		assert.NoError(t, err, "Check(%s)", rec.JTI)
		return
	}
	assert.ErrorIs(t, err, want, "Check(%s)", rec.JTI)
}

// assertUnusable asserts that Check of rec does not report the token
// active, and reports no store failure either.
func assertUnusable(t *testing.T, s jwtpair.Store, rec jwtpair.Record) {
	t.Helper()
	err := s.Check(t.Context(), TokenOf(rec))
	assert.Error(t, err, "Check(%s) must not report the token active", rec.JTI)
	assert.NotErrorIs(t, err, jwtpair.ErrStoreUnavailable, "Check(%s)", rec.JTI)
}

// assertRotateFails asserts that rotating rec answers want and records
// nothing usable.
func assertRotateFails(t *testing.T, s jwtpair.Store, rec jwtpair.Record, opts jwtpair.RotateOptions, want error) {
	t.Helper()
	next, err := rotate(t, s, rec, opts)
	assert.ErrorIs(t, err, want, "Rotate(%s)", rec.JTI)
	assertUnusable(t, s, next)
}

// assertEnded asserts that Check reports every record's session ended and
// Rotate with opts refuses it so.
func assertEnded(t *testing.T, s jwtpair.Store, opts jwtpair.RotateOptions, recs ...jwtpair.Record) {
	t.Helper()
	for _, rec := range recs {
		assertCheck(t, s, rec, jwtpair.ErrTokenBlacklisted)
		assertRotateFails(t, s, rec, opts, jwtpair.ErrTokenBlacklisted)
	}
}

func testIssueThenCheck(t *testing.T, s jwtpair.Store) {
	a := Login(t, s)
	b := LoginAs(t, s, a.UserID, jwtpair.IssueOptions{}) // the same user's second login
	assertCheck(t, s, a, nil)
	assertCheck(t, s, b, nil)
	// A token minted without a sid (by simplejwt) names no session: the
	// store finds it from the record.
	noSID := TokenOf(a)
	noSID.SessionID = ""
	assert.NoError(t, s.Check(t.Context(), noSID), "Check without a session id")
}

func testCheckUnknown(t *testing.T, s jwtpair.Store) {
	a := Login(t, s)
	a.JTI = NewID()
	assertCheck(t, s, a, jwtpair.ErrTokenNotFound)
}

// testTokenMismatch: a token is only ever the user's and session's it was
// recorded for. Presented as another user's, or as another session's (of
// the same user or not), it is unknown, to every method, and nothing
// changes.
func testTokenMismatch(t *testing.T, s jwtpair.Store) {
	a := Login(t, s)
	sibling := LoginAs(t, s, a.UserID, jwtpair.IssueOptions{}) // a real session of the same user
	other := Login(t, s)                                       // a real session of another user
	for name, tok := range map[string]jwtpair.Token{
		"another user":                 {JTI: a.JTI, UserID: other.UserID, SessionID: a.SessionID},
		"another user's session":       {JTI: a.JTI, UserID: other.UserID, SessionID: other.SessionID},
		"another session of its user":  {JTI: a.JTI, UserID: a.UserID, SessionID: sibling.SessionID},
		"an unknown session":           {JTI: a.JTI, UserID: a.UserID, SessionID: "session-" + NewID()},
		"an unknown user, no session":  {JTI: a.JTI, UserID: "user-" + NewID()},
		"another user, no session":     {JTI: a.JTI, UserID: other.UserID},
		"another user, its session id": {JTI: sibling.JTI, UserID: other.UserID, SessionID: sibling.SessionID},
	} {
		ctx := t.Context()
		assert.ErrorIs(t, s.Check(ctx, tok), jwtpair.ErrTokenNotFound, "Check as %s", name)
		next := successor()
		assert.ErrorIs(t, s.Rotate(ctx, tok, next, noGrace), jwtpair.ErrTokenNotFound, "Rotate as %s", name)
		assertUnusable(t, s, inSession(next, a))
		assertUnusable(t, s, inSession(next, other))
		assert.ErrorIs(t, s.Revoke(ctx, tok), jwtpair.ErrTokenNotFound, "Revoke as %s", name)
	}
	for _, rec := range []jwtpair.Record{a, sibling, other} {
		assertCheck(t, s, rec, nil)
	}
}

func testRotateActive(t *testing.T, s jwtpair.Store) {
	a := Login(t, s)
	b := mustRotate(t, s, a, noGrace)
	assertCheck(t, s, a, jwtpair.ErrTokenBlacklisted)
	assertCheck(t, s, b, nil)

	c := mustRotate(t, s, b, noGrace)
	assertCheck(t, s, b, jwtpair.ErrTokenBlacklisted)
	assertCheck(t, s, c, nil)

	// A token minted without a sid rotates as well, in its session.
	noSID := c
	noSID.SessionID = ""
	d := mustRotate(t, s, noSID, noGrace)
	assertCheck(t, s, c, jwtpair.ErrTokenBlacklisted)
	assertCheck(t, s, inSession(d, c), nil)
}

func testRotateKeepPresented(t *testing.T, s jwtpair.Store) {
	a := Login(t, s)
	b := mustRotate(t, s, a, keep)
	assertCheck(t, s, a, nil)
	assertCheck(t, s, b, nil)

	// Still active, so presenting it again is no reuse, even without grace.
	c := mustRotate(t, s, a, noGrace)
	assertCheck(t, s, a, jwtpair.ErrTokenBlacklisted)
	assertCheck(t, s, b, nil)
	assertCheck(t, s, c, nil)
}

func testRotateUnknown(t *testing.T, s jwtpair.Store) {
	a := Login(t, s)
	a.JTI = NewID()
	next, err := rotate(t, s, a, noGrace)
	assert.ErrorIs(t, err, jwtpair.ErrTokenNotFound)
	assertCheck(t, s, next, jwtpair.ErrTokenNotFound)
}

func testReuseWithoutGrace(t *testing.T, s jwtpair.Store) {
	a := Login(t, s)
	other := LoginAs(t, s, a.UserID, jwtpair.IssueOptions{}) // same user, another login
	b := mustRotate(t, s, a, noGrace)

	next, err := rotate(t, s, a, noGrace)
	require.ErrorIs(t, err, jwtpair.ErrTokenReused)
	assertUnusable(t, s, next)

	// The whole session has ended: its end now answers before reuse.
	assertEnded(t, s, noGrace, a, b)
	assertCheck(t, s, other, nil)
}

// testReuseAfterGrace waits shortGrace out in real time (see shortGrace).
func testReuseAfterGrace(t *testing.T, s jwtpair.Store) {
	inTime(t, func() bool {
		a := Login(t, s)
		start := time.Now()
		b := mustRotate(t, s, a, grace(shortGrace))
		c, err := rotate(t, s, a, grace(shortGrace)) // a replay: sibling of b
		if stalled(start, shortGrace) {
			return false
		}
		require.NoError(t, err, "a replay inside the window")

		time.Sleep(pastShortGrace)
		next, err := rotate(t, s, a, grace(shortGrace))
		require.ErrorIs(t, err, jwtpair.ErrTokenReused, "a replay after the window, on the store's clock")
		assertUnusable(t, s, next)

		assertEnded(t, s, grace(shortGrace), a, b, c)
		return true
	})
}

func testReplayWithinGrace(t *testing.T, s jwtpair.Store) {
	a := Login(t, s)
	b := mustRotate(t, s, a, grace(longGrace))

	c := mustRotate(t, s, a, grace(longGrace))
	assertCheck(t, s, a, jwtpair.ErrTokenBlacklisted)
	assertCheck(t, s, b, nil)
	assertCheck(t, s, c, nil)

	// Both successors live on independently, in the same session.
	d := mustRotate(t, s, c, grace(longGrace))
	assertCheck(t, s, b, nil)
	assertCheck(t, s, d, nil)
	require.NoError(t, s.EndSession(t.Context(), a.UserID, a.SessionID))
	for _, rec := range []jwtpair.Record{b, c, d} {
		assertCheck(t, s, rec, jwtpair.ErrTokenBlacklisted)
	}
}

// testGraceAnchored: a replay does not restart the window. With shortGrace
// (500 ms): a replay 300 ms after the consumption, then a presentation
// 600 ms after it, only 300 ms after the replay, which is reuse. It waits in
// real time (see shortGrace).
func testGraceAnchored(t *testing.T, s jwtpair.Store) {
	const step = shortGrace * 3 / 5
	inTime(t, func() bool {
		a := Login(t, s)
		start := time.Now()
		b := mustRotate(t, s, a, grace(shortGrace))
		time.Sleep(step)
		_, err := rotate(t, s, a, grace(shortGrace))
		if stalled(start, shortGrace) {
			return false
		}
		require.NoError(t, err, "a replay inside the window")

		time.Sleep(step)
		_, err = rotate(t, s, a, grace(shortGrace))
		require.ErrorIs(t, err, jwtpair.ErrTokenReused, "past the window of the consumption, inside that of the replay")
		assertCheck(t, s, b, jwtpair.ErrTokenBlacklisted)
		return true
	})
}

// testSiblingsBounded: inside its grace window one consumed token yields at
// most MaxGraceReplays sibling successors; one more presentation is reuse
// and ends the session, every sibling included. The bound holds per
// consumed token: a sibling rotated in turn has replays of its own.
func testSiblingsBounded(t *testing.T, s jwtpair.Store) {
	a := Login(t, s)
	other := LoginAs(t, s, a.UserID, jwtpair.IssueOptions{}) // same user, another login
	b := mustRotate(t, s, a, grace(longGrace))
	session := []jwtpair.Record{a, b}
	for i := range jwtpair.MaxGraceReplays {
		sib, err := rotate(t, s, a, grace(longGrace))
		require.NoError(t, err, "replay %d of %d", i+1, jwtpair.MaxGraceReplays)
		session = append(session, sib)
	}
	// b's own consumption has a budget of its own.
	c := mustRotate(t, s, b, grace(longGrace))
	session = append(session, c)
	for range jwtpair.MaxGraceReplays {
		session = append(session, mustRotate(t, s, b, grace(longGrace)))
	}
	for _, rec := range session[2:] {
		assertCheck(t, s, rec, nil)
	}

	next, err := rotate(t, s, a, grace(longGrace))
	require.ErrorIs(t, err, jwtpair.ErrTokenReused, "replay %d of one token, inside the window", jwtpair.MaxGraceReplays+1)
	assertUnusable(t, s, next)
	assertEnded(t, s, grace(longGrace), session...)
	assertCheck(t, s, other, nil)
}

func testRevokeActive(t *testing.T, s jwtpair.Store) {
	a := Login(t, s)
	require.NoError(t, s.Revoke(t.Context(), TokenOf(a)))
	assertCheck(t, s, a, jwtpair.ErrTokenBlacklisted)
	assert.ErrorIs(t, s.Revoke(t.Context(), TokenOf(a)), jwtpair.ErrTokenBlacklisted, "second Revoke")
	assertRotateFails(t, s, a, noGrace, jwtpair.ErrTokenBlacklisted)
	// Still ended, not reused, with a grace window too.
	assertRotateFails(t, s, a, grace(longGrace), jwtpair.ErrTokenBlacklisted)
}

// testRevokeConsumed: revoking a token a rotation consumed (a logout with a
// stale token, perhaps by a thief who rotated it first) ends its whole
// session, successors included, and answers ErrTokenBlacklisted, inside the
// reuse grace window too: the window forgives a retried refresh, not a
// logout. Turning the consumed token into a revoked one alone would hide the
// reuse: the victim presenting it would be refused as "revoked" while the
// thief's successor lived on. Other sessions of the user are untouched.
func testRevokeConsumed(t *testing.T, s jwtpair.Store) {
	for _, tc := range []struct {
		name  string
		grace time.Duration
	}{{"NoGrace", 0}, {"WithinGrace", longGrace}} {
		t.Run(tc.name, func(t *testing.T) {
			a := Login(t, s)
			other := LoginAs(t, s, a.UserID, jwtpair.IssueOptions{})
			session := []jwtpair.Record{a, mustRotate(t, s, a, grace(tc.grace))}
			if tc.grace > 0 { // a replay within the window: a sibling successor
				session = append(session, mustRotate(t, s, a, grace(tc.grace)))
			}

			require.ErrorIs(t, s.Revoke(t.Context(), TokenOf(a)), jwtpair.ErrTokenBlacklisted, "Revoke of a consumed token")
			assertEnded(t, s, grace(tc.grace), session...)
			for _, rec := range session {
				assert.ErrorIs(t, s.Revoke(t.Context(), TokenOf(rec)), jwtpair.ErrTokenBlacklisted, "Revoke(%s) after the session's end", rec.JTI)
			}
			assertCheck(t, s, other, nil)
		})
	}
}

func testRevokeUnknown(t *testing.T, s jwtpair.Store) {
	a := Login(t, s)
	a.JTI = NewID()
	assert.ErrorIs(t, s.Revoke(t.Context(), TokenOf(a)), jwtpair.ErrTokenNotFound)
}

// testRevokeEndsSession: revoking an active token (a logout) ends its whole
// session: a successor's logout ends its predecessor that KeepPresented
// left active, and the other way round. Other sessions of the user are
// untouched.
func testRevokeEndsSession(t *testing.T, s jwtpair.Store) {
	for _, tc := range []struct {
		name    string
		logout  func(a, b jwtpair.Record) jwtpair.Record
		outlive func(a, b jwtpair.Record) jwtpair.Record
	}{
		{"WithSuccessor", func(_, b jwtpair.Record) jwtpair.Record { return b }, func(a, _ jwtpair.Record) jwtpair.Record { return a }},
		{"WithPredecessor", func(a, _ jwtpair.Record) jwtpair.Record { return a }, func(_, b jwtpair.Record) jwtpair.Record { return b }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := Login(t, s)
			other := LoginAs(t, s, a.UserID, jwtpair.IssueOptions{})
			b := mustRotate(t, s, a, keep) // a stays active
			require.NoError(t, s.Revoke(t.Context(), TokenOf(tc.logout(a, b))), "Revoke of an active token")
			assertEnded(t, s, noGrace, a, b)
			assertRotateFails(t, s, tc.outlive(a, b), keep, jwtpair.ErrTokenBlacklisted)
			assertCheck(t, s, other, nil)
		})
	}
}

// testLogoutEndsSiblings is the attack a grace window invites: the victim
// rotates a → b, a thief replays the stolen a inside the window and gets
// the sibling c, which they rotate to d, and the victim logs out with b. The
// logout succeeds and must end the thief's d too; so must the thief's
// logout with d end the victim's b.
func testLogoutEndsSiblings(t *testing.T, s jwtpair.Store) {
	for _, tc := range []struct {
		name   string
		logout func(victim, thief jwtpair.Record) jwtpair.Record
	}{
		{"ByVictim", func(victim, _ jwtpair.Record) jwtpair.Record { return victim }},
		{"ByThief", func(_, thief jwtpair.Record) jwtpair.Record { return thief }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := Login(t, s)
			other := LoginAs(t, s, a.UserID, jwtpair.IssueOptions{})
			b := mustRotate(t, s, a, grace(longGrace)) // the victim
			c := mustRotate(t, s, a, grace(longGrace)) // the thief's replay
			d := mustRotate(t, s, c, grace(longGrace)) // who rotates on

			require.NoError(t, s.Revoke(t.Context(), TokenOf(tc.logout(b, d))), "the logout")
			// Every token is refused, a and c replayed inside their
			// windows included.
			assertEnded(t, s, grace(longGrace), a, b, c, d)
			assertCheck(t, s, other, nil)
		})
	}
}

// testRotateRepeatedAfterEnd: a rotation repeated with the same successor
// (as a backend client retrying after a lost reply sends it) is judged
// afresh: once the session has ended, it fails.
func testRotateRepeatedAfterEnd(t *testing.T, s jwtpair.Store) {
	for _, e := range enders {
		for _, g := range []time.Duration{0, longGrace} {
			t.Run(fmt.Sprintf("%s/grace=%s", e.name, g), func(t *testing.T) {
				a := Login(t, s)
				b := successor()
				require.NoError(t, s.Rotate(t.Context(), TokenOf(a), b, grace(g)))
				require.NoError(t, e.end(t.Context(), s, a))

				err := s.Rotate(t.Context(), TokenOf(a), b, grace(g))
				assert.ErrorIs(t, err, jwtpair.ErrTokenBlacklisted, "the same Rotate after %s", e.name)
				assertCheck(t, s, inSession(b, a), jwtpair.ErrTokenBlacklisted)
			})
		}
	}
}

// testRotateRepeatedAfterSuccessorRotated: a rotation repeated with the same
// successor after that successor was itself rotated is a consumed token
// presented again: reuse, and the whole session ends.
func testRotateRepeatedAfterSuccessorRotated(t *testing.T, s jwtpair.Store) {
	a := Login(t, s)
	b := successor()
	require.NoError(t, s.Rotate(t.Context(), TokenOf(a), b, noGrace))
	c := mustRotate(t, s, inSession(b, a), noGrace)

	err := s.Rotate(t.Context(), TokenOf(a), b, noGrace)
	require.ErrorIs(t, err, jwtpair.ErrTokenReused, "the same Rotate after its successor was rotated")
	for _, rec := range []jwtpair.Record{a, inSession(b, a), c} {
		assertCheck(t, s, rec, jwtpair.ErrTokenBlacklisted)
	}
}

// testSuccessorInherits: a successor belongs to the session and the user of
// the token it replaces, whatever session and user it names: presented as
// the ones it names it is unknown, ending them leaves it active, ending its
// own ends it.
func testSuccessorInherits(t *testing.T, s jwtpair.Store) {
	for _, e := range enders {
		t.Run(e.name, func(t *testing.T) {
			a := Login(t, s)
			decoy := Login(t, s) // a real session and user the successor claims
			next := successor()
			next.UserID, next.SessionID = decoy.UserID, decoy.SessionID
			require.NoError(t, s.Rotate(t.Context(), TokenOf(a), next, noGrace))
			assertCheck(t, s, next, jwtpair.ErrTokenNotFound)

			require.NoError(t, e.end(t.Context(), s, decoy))
			assertCheck(t, s, decoy, jwtpair.ErrTokenBlacklisted)
			assertCheck(t, s, inSession(next, a), nil)

			require.NoError(t, e.end(t.Context(), s, a))
			assertCheck(t, s, inSession(next, a), jwtpair.ErrTokenBlacklisted)
		})
	}
}

func testExpired(t *testing.T, s jwtpair.Store) {
	live := Login(t, s)
	old := NewRecord()
	old.UserID, old.ExpiresAt = live.UserID, time.Now().Add(-pastBy)
	require.NoError(t, issueErr(s.Issue(t.Context(), old, jwtpair.IssueOptions{})), "Issue of an expired record")

	assertCheck(t, s, old, jwtpair.ErrTokenNotFound)
	assertRotateFails(t, s, old, noGrace, jwtpair.ErrTokenNotFound)
	assertRotateFails(t, s, old, keep, jwtpair.ErrTokenNotFound)
	assert.ErrorIs(t, s.Revoke(t.Context(), TokenOf(old)), jwtpair.ErrTokenNotFound, "Revoke")

	// The expired session takes nothing else of its user with it.
	assertCheck(t, s, live, nil)
	next := mustRotate(t, s, live, noGrace)
	assertCheck(t, s, next, nil)
}

func testIssueCannotRevive(t *testing.T, s jwtpair.Store) {
	ended := Login(t, s)
	require.NoError(t, s.Revoke(t.Context(), TokenOf(ended)))
	consumed := Login(t, s)
	mustRotate(t, s, consumed, noGrace)

	for _, rec := range []jwtpair.Record{ended, consumed} {
		// The same jti in a new session: refusing is allowed; reviving is not.
		again := NewRecord()
		again.JTI, again.UserID = rec.JTI, rec.UserID
		again.ExpiresAt = time.Now().Add(2 * liveFor)
		_, _ = s.Issue(t.Context(), again, jwtpair.IssueOptions{})
		assertUnusable(t, s, rec)
		assertUnusable(t, s, again)
	}
}

// testIssueCannotRestartSession: Issue starts a session once. An Issue
// naming a session its user already has, live or ended, is refused with an
// error wrapping ErrStoreUnavailable and records nothing; the session is as
// it was. The same session id for another user is refused or recorded
// apart: never joined to the first user's session, which stays as it was,
// and ends apart from it.
func testIssueCannotRestartSession(t *testing.T, s jwtpair.Store) {
	live := Login(t, s)
	ended := Login(t, s)
	require.NoError(t, s.EndSession(t.Context(), ended.UserID, ended.SessionID))
	for name, rec := range map[string]jwtpair.Record{"live": live, "ended": ended} {
		again := NewRecord()
		again.UserID, again.SessionID = rec.UserID, rec.SessionID
		RequireUnavailable(t, issueErr(s.Issue(t.Context(), again, jwtpair.IssueOptions{})), "Issue into the %s session %s", name, rec.SessionID)
		assertCheck(t, s, again, jwtpair.ErrTokenNotFound)

		other := NewRecord()
		other.SessionID = rec.SessionID // another user's session of the same id
		if _, err := s.Issue(t.Context(), other, jwtpair.IssueOptions{}); err != nil {
			RequireUnavailable(t, err, "Issue of the %s session's id for another user", name)
			assertCheck(t, s, other, jwtpair.ErrTokenNotFound)
		} else {
			assertCheck(t, s, other, nil)
			require.NoError(t, s.EndSession(t.Context(), other.UserID, other.SessionID))
			assertCheck(t, s, other, jwtpair.ErrTokenBlacklisted)
		}
		assertCheck(t, s, inSession(other, rec), jwtpair.ErrTokenNotFound)
	}
	assertCheck(t, s, live, nil)
	assertCheck(t, s, ended, jwtpair.ErrTokenBlacklisted)
	list, err := s.Sessions(t.Context(), live.UserID)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, live.SessionID, list[0].ID)
}

func testCancelledContext(t *testing.T, s jwtpair.Store) {
	a := Login(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	fresh := NewRecord()
	fresh.UserID = a.UserID
	next := successor()
	calls := []struct {
		name string
		call func() error
	}{
		{"Issue", func() error { return issueErr(s.Issue(ctx, fresh, jwtpair.IssueOptions{MaxSessions: 1})) }},
		{"Rotate", func() error { return s.Rotate(ctx, TokenOf(a), next, noGrace) }},
		{"Check", func() error { return s.Check(ctx, TokenOf(a)) }},
		{"Revoke", func() error { return s.Revoke(ctx, TokenOf(a)) }},
		{"EndSession", func() error { return s.EndSession(ctx, a.UserID, a.SessionID) }},
		{"EndSessions", func() error { return s.EndSessions(ctx, a.UserID, "") }},
		{"Sessions", func() error { _, err := s.Sessions(ctx, a.UserID); return err }},
	}
	for _, c := range calls {
		// A cancelled call is a store failure, never a token verdict.
		RequireUnavailable(t, c.call(), "%s with a cancelled context", c.name)
	}

	// None of them took effect.
	assertCheck(t, s, a, nil)
	assertCheck(t, s, fresh, jwtpair.ErrTokenNotFound)
	assertCheck(t, s, inSession(next, a), jwtpair.ErrTokenNotFound)
}

func testConcurrentRotateOne(t *testing.T, s jwtpair.Store) {
	a := Login(t, s)
	race := RotateRace(t, a, 64, s)
	require.Len(t, race.Won, 1, race.String())
	// The first call to find the token consumed sees reuse (and ends the
	// session); any later one sees it ended.
	require.GreaterOrEqual(t, race.Reused, 1, race.String())

	winner := race.Won[0]
	assertCheck(t, s, race.Successors[winner], jwtpair.ErrTokenBlacklisted)
	for i, next := range race.Successors {
		if i != winner {
			assertUnusable(t, s, next)
		}
	}
}

func testConcurrentRotateMany(t *testing.T, s jwtpair.Store) {
	const (
		tokens = 32
		rounds = 8
	)
	heads := make([]jwtpair.Record, tokens)
	for i := range heads {
		heads[i] = Login(t, s)
	}
	firsts := append([]jwtpair.Record(nil), heads...)

	errs := make([]error, tokens)
	together(tokens, func(i int) {
		for range rounds {
			next := successor()
			if err := s.Rotate(t.Context(), TokenOf(heads[i]), next, noGrace); err != nil {
				errs[i] = err
				return
			}
			heads[i] = inSession(next, heads[i])
		}
	})

	for i := range tokens {
		require.NoError(t, errs[i], "chain %d", i)
		assertCheck(t, s, firsts[i], jwtpair.ErrTokenBlacklisted)
		assertCheck(t, s, heads[i], nil)
	}
}

// testConcurrentRotateAndRevoke: a refresh and a logout of one token racing.
// Whichever the store orders first, exactly one succeeds and no token of the
// session stays usable: the logout either ends the session before the
// rotation (which then fails) or finds the token consumed and ends the
// session, the rotation's successor with it.
func testConcurrentRotateAndRevoke(t *testing.T, s jwtpair.Store) {
	for round := range 20 {
		a := Login(t, s)
		next := successor()
		var rotateErr, revokeErr error
		calls := []func(){
			func() { rotateErr = s.Rotate(t.Context(), TokenOf(a), next, noGrace) },
			func() { revokeErr = s.Revoke(t.Context(), TokenOf(a)) },
		}
		if round%2 == 1 { // vary which goroutine starts first
			calls[0], calls[1] = calls[1], calls[0]
		}
		together(len(calls), func(i int) { calls[i]() })

		if rotateErr == nil {
			require.ErrorIs(t, revokeErr, jwtpair.ErrTokenBlacklisted, "round %d: Revoke after the rotation", round)
		} else {
			require.NoError(t, revokeErr, "round %d: Revoke before the rotation", round)
			require.ErrorIs(t, rotateErr, jwtpair.ErrTokenBlacklisted, "round %d: Rotate after the Revoke", round)
		}
		assertCheck(t, s, a, jwtpair.ErrTokenBlacklisted)
		assertUnusable(t, s, inSession(next, a))
	}
}
