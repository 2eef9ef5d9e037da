// Package storetest is the conformance suite for implementations of
// [jwtpair.Store]. Every store, in this module or outside it, runs it from its
// own tests:
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
// away behind a [Proxy] and brings it back.
//
// Run calls newStore once per subtest. Each call must return a store isolated
// from every other one the suite gets: a backend shared between calls can use
// a fresh random key prefix, schema or table per call, and register its
// cleanup with t.Cleanup. Identifiers (jtis, user and family ids) are random
// in every subtest too.
//
// The suite never uses a fake clock and never waits for a TTL: records meant
// to be expired are issued with an ExpiresAt one minute before [time.Now],
// live ones with one an hour after it. A backend may therefore judge expiry by
// its own time (a Redis TTL, `expires_at > now()` in SQL), provided its clock
// is within a minute of the test machine's. Issuing a record that has already
// expired must succeed (the Auth's clock and the backend's may disagree) and
// leave nothing usable.
//
// The reuse grace window is measured on the store's own clock, which the
// suite cannot set, so the few cases that must see a window close wait for it
// in real time: the window is 500 ms and no case waits more than about a
// second.
//
// Beyond the outcomes the [jwtpair.Store] documentation lists, the suite
// checks two safety properties it implies: Issue never makes a consumed or
// revoked jti usable again, and never adds a usable token to a revoked family.
// Either refusing the Issue with an error or recording the token as revoked
// passes.
//
// A store's own tests share the suite's helpers: [NewID], [NewRecord],
// [NewSuccessor] and [Login] make records; [BackendURL] reads a backend's
// address from the environment and skips the test when it is unset, unless
// [BackendsRequired]; [RotateRace] races rotations of one token across store
// values; [RequireRoundTrips] counts what each method sends to the backend;
// [ClosedAddr], [Calls], [RequireUnavailable] and [RequireAllUnavailable]
// check a backend that cannot be reached; [RotateBenchmark] is every store's
// rotation benchmark.
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
		{"IssueThenCheck", testIssueThenCheck},
		{"CheckUnknown", testCheckUnknown},
		{"RotateActive", testRotateActive},
		{"RotateKeepPresented", testRotateKeepPresented},
		{"RotateUnknown", testRotateUnknown},
		{"ReuseWithoutGrace", testReuseWithoutGrace},
		{"ReuseAfterGrace", testReuseAfterGrace},
		{"ReplayWithinGrace", testReplayWithinGrace},
		{"GraceAnchoredAtFirstConsumption", testGraceAnchored},
		{"SiblingsBounded", testSiblingsBounded},
		{"RevokeActive", testRevokeActive},
		{"RevokeConsumedRevokesFamily", testRevokeConsumed},
		{"RevokeUnknown", testRevokeUnknown},
		{"RevokeEndsFamily", testRevokeEndsFamily},
		{"LogoutEndsSiblings", testLogoutEndsSiblings},
		{"RevokeFamily", testRevokeFamily},
		{"RevokeUser", testRevokeUser},
		{"RotateRepeatedAfterRevocation", testRotateRepeatedAfterRevocation},
		{"RotateRepeatedAfterSuccessorRotated", testRotateRepeatedAfterSuccessorRotated},
		{"SuccessorInherits", testSuccessorInherits},
		{"Expired", testExpired},
		{"IssueCannotReviveToken", testIssueCannotRevive},
		{"IssueIntoRevokedFamily", testIssueIntoRevokedFamily},
		{"CancelledContext", testCancelledContext},
		{"ConcurrentRotateOneToken", testConcurrentRotateOne},
		{"ConcurrentRotateManyTokens", testConcurrentRotateMany},
		{"ConcurrentRotateAndRevoke", testConcurrentRotateAndRevoke},
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

// issue records a live token for user in family.
func issue(t *testing.T, s jwtpair.Store, user, family string) jwtpair.Record {
	t.Helper()
	rec := NewRecord()
	rec.UserID, rec.FamilyID = user, family
	require.NoError(t, s.Issue(t.Context(), rec), "Issue")
	return rec
}

// successor returns a live record to pass to Rotate. Its UserID and FamilyID
// are decoys: the store must ignore them.
func successor() jwtpair.Record {
	next := NewSuccessor()
	next.UserID, next.FamilyID = "decoy-user-"+NewID(), "decoy-family-"+NewID()
	return next
}

// noGrace rotates without a grace window; keep rotates leaving the
// presented token active (no blacklist after rotation).
var (
	noGrace = jwtpair.RotateOptions{}
	keep    = jwtpair.RotateOptions{KeepPresented: true}
)

// revokers end a token's session by revoking its family or its user.
var revokers = []struct {
	name   string
	revoke func(ctx context.Context, s jwtpair.Store, rec jwtpair.Record) error
}{
	{"RevokeFamily", func(ctx context.Context, s jwtpair.Store, rec jwtpair.Record) error {
		return s.RevokeFamily(ctx, rec.FamilyID)
	}},
	{"RevokeUser", func(ctx context.Context, s jwtpair.Store, rec jwtpair.Record) error {
		return s.RevokeUser(ctx, rec.UserID)
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

// rotate presents jti for rotation and returns the successor it offered.
func rotate(t *testing.T, s jwtpair.Store, jti string, opts jwtpair.RotateOptions) (jwtpair.Record, error) {
	t.Helper()
	next := successor()
	return next, s.Rotate(t.Context(), jti, next, opts)
}

// mustRotate rotates jti, which must succeed, and returns the successor.
func mustRotate(t *testing.T, s jwtpair.Store, jti string, opts jwtpair.RotateOptions) jwtpair.Record {
	t.Helper()
	next, err := rotate(t, s, jti, opts)
	require.NoError(t, err, "Rotate(%s)", jti)
	return next
}

// assertCheck asserts that Check(jti) answers want (nil: active).
func assertCheck(t *testing.T, s jwtpair.Store, jti string, want error) {
	t.Helper()
	err := s.Check(t.Context(), jti)
	if want == nil {
		assert.NoError(t, err, "Check(%s)", jti)
		return
	}
	assert.ErrorIs(t, err, want, "Check(%s)", jti)
}

// assertUnusable asserts that Check(jti) does not report the token active.
func assertUnusable(t *testing.T, s jwtpair.Store, jti string) {
	t.Helper()
	assert.Error(t, s.Check(t.Context(), jti), "Check(%s) must not report the token active", jti)
}

// assertRotateFails asserts that rotating jti answers want and records
// nothing usable.
func assertRotateFails(t *testing.T, s jwtpair.Store, jti string, opts jwtpair.RotateOptions, want error) {
	t.Helper()
	next, err := rotate(t, s, jti, opts)
	assert.ErrorIs(t, err, want, "Rotate(%s)", jti)
	assertUnusable(t, s, next.JTI)
}

// assertRevoked asserts that Check reports every jti revoked and Rotate with
// opts refuses it so.
func assertRevoked(t *testing.T, s jwtpair.Store, opts jwtpair.RotateOptions, jtis ...string) {
	t.Helper()
	for _, jti := range jtis {
		assertCheck(t, s, jti, jwtpair.ErrTokenBlacklisted)
		assertRotateFails(t, s, jti, opts, jwtpair.ErrTokenBlacklisted)
	}
}

func testIssueThenCheck(t *testing.T, s jwtpair.Store) {
	a := Login(t, s)
	b := issue(t, s, a.UserID, a.FamilyID) // a second token in the same family
	assertCheck(t, s, a.JTI, nil)
	assertCheck(t, s, b.JTI, nil)
}

func testCheckUnknown(t *testing.T, s jwtpair.Store) {
	Login(t, s)
	assertCheck(t, s, NewID(), jwtpair.ErrTokenNotFound)
}

func testRotateActive(t *testing.T, s jwtpair.Store) {
	a := Login(t, s)
	b := mustRotate(t, s, a.JTI, noGrace)
	assertCheck(t, s, a.JTI, jwtpair.ErrTokenBlacklisted)
	assertCheck(t, s, b.JTI, nil)

	c := mustRotate(t, s, b.JTI, noGrace)
	assertCheck(t, s, b.JTI, jwtpair.ErrTokenBlacklisted)
	assertCheck(t, s, c.JTI, nil)
}

func testRotateKeepPresented(t *testing.T, s jwtpair.Store) {
	a := Login(t, s)
	b := mustRotate(t, s, a.JTI, keep)
	assertCheck(t, s, a.JTI, nil)
	assertCheck(t, s, b.JTI, nil)

	// Still active, so presenting it again is no reuse, even without grace.
	c := mustRotate(t, s, a.JTI, noGrace)
	assertCheck(t, s, a.JTI, jwtpair.ErrTokenBlacklisted)
	assertCheck(t, s, b.JTI, nil)
	assertCheck(t, s, c.JTI, nil)
}

func testRotateUnknown(t *testing.T, s jwtpair.Store) {
	Login(t, s)
	next, err := rotate(t, s, NewID(), noGrace)
	assert.ErrorIs(t, err, jwtpair.ErrTokenNotFound)
	assertCheck(t, s, next.JTI, jwtpair.ErrTokenNotFound)
}

func testReuseWithoutGrace(t *testing.T, s jwtpair.Store) {
	a := Login(t, s)
	other := issue(t, s, a.UserID, "family-"+NewID()) // same user, another login
	b := mustRotate(t, s, a.JTI, noGrace)

	next, err := rotate(t, s, a.JTI, noGrace)
	require.ErrorIs(t, err, jwtpair.ErrTokenReused)
	assertUnusable(t, s, next.JTI)

	// The whole family is revoked: revocation now answers before reuse.
	assertRevoked(t, s, noGrace, a.JTI, b.JTI)
	assertCheck(t, s, other.JTI, nil)
}

// testReuseAfterGrace waits shortGrace out in real time (see shortGrace).
func testReuseAfterGrace(t *testing.T, s jwtpair.Store) {
	inTime(t, func() bool {
		a := Login(t, s)
		start := time.Now()
		b := mustRotate(t, s, a.JTI, grace(shortGrace))
		c, err := rotate(t, s, a.JTI, grace(shortGrace)) // a replay: sibling of b
		if stalled(start, shortGrace) {
			return false
		}
		require.NoError(t, err, "a replay inside the window")

		time.Sleep(pastShortGrace)
		next, err := rotate(t, s, a.JTI, grace(shortGrace))
		require.ErrorIs(t, err, jwtpair.ErrTokenReused, "a replay after the window, on the store's clock")
		assertUnusable(t, s, next.JTI)

		assertRevoked(t, s, grace(shortGrace), a.JTI, b.JTI, c.JTI)
		return true
	})
}

func testReplayWithinGrace(t *testing.T, s jwtpair.Store) {
	a := Login(t, s)
	b := mustRotate(t, s, a.JTI, grace(longGrace))

	c := mustRotate(t, s, a.JTI, grace(longGrace))
	assertCheck(t, s, a.JTI, jwtpair.ErrTokenBlacklisted)
	assertCheck(t, s, b.JTI, nil)
	assertCheck(t, s, c.JTI, nil)

	// Both successors live on independently, in the same family.
	d := mustRotate(t, s, c.JTI, grace(longGrace))
	assertCheck(t, s, b.JTI, nil)
	assertCheck(t, s, d.JTI, nil)
	require.NoError(t, s.RevokeFamily(t.Context(), a.FamilyID))
	for _, jti := range []string{b.JTI, c.JTI, d.JTI} {
		assertCheck(t, s, jti, jwtpair.ErrTokenBlacklisted)
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
		b := mustRotate(t, s, a.JTI, grace(shortGrace))
		time.Sleep(step)
		_, err := rotate(t, s, a.JTI, grace(shortGrace))
		if stalled(start, shortGrace) {
			return false
		}
		require.NoError(t, err, "a replay inside the window")

		time.Sleep(step)
		_, err = rotate(t, s, a.JTI, grace(shortGrace))
		require.ErrorIs(t, err, jwtpair.ErrTokenReused, "past the window of the consumption, inside that of the replay")
		assertCheck(t, s, b.JTI, jwtpair.ErrTokenBlacklisted)
		return true
	})
}

// testSiblingsBounded: inside its grace window one consumed token yields at
// most MaxGraceReplays sibling successors; one more presentation is reuse
// and revokes the family, every sibling included. The bound holds per
// consumed token: a sibling rotated in turn has replays of its own.
func testSiblingsBounded(t *testing.T, s jwtpair.Store) {
	a := Login(t, s)
	other := issue(t, s, a.UserID, "family-"+NewID()) // same user, another login
	b := mustRotate(t, s, a.JTI, grace(longGrace))
	family := []string{a.JTI, b.JTI}
	for i := range jwtpair.MaxGraceReplays {
		sib, err := rotate(t, s, a.JTI, grace(longGrace))
		require.NoError(t, err, "replay %d of %d", i+1, jwtpair.MaxGraceReplays)
		family = append(family, sib.JTI)
	}
	// b's own consumption has a budget of its own.
	c := mustRotate(t, s, b.JTI, grace(longGrace))
	family = append(family, c.JTI)
	for range jwtpair.MaxGraceReplays {
		family = append(family, mustRotate(t, s, b.JTI, grace(longGrace)).JTI)
	}
	for _, jti := range family[2:] {
		assertCheck(t, s, jti, nil)
	}

	next, err := rotate(t, s, a.JTI, grace(longGrace))
	require.ErrorIs(t, err, jwtpair.ErrTokenReused, "replay %d of one token, inside the window", jwtpair.MaxGraceReplays+1)
	assertUnusable(t, s, next.JTI)
	assertRevoked(t, s, grace(longGrace), family...)
	assertCheck(t, s, other.JTI, nil)
}

func testRevokeActive(t *testing.T, s jwtpair.Store) {
	a := Login(t, s)
	require.NoError(t, s.Revoke(t.Context(), a.JTI))
	assertCheck(t, s, a.JTI, jwtpair.ErrTokenBlacklisted)
	assert.ErrorIs(t, s.Revoke(t.Context(), a.JTI), jwtpair.ErrTokenBlacklisted, "second Revoke")
	assertRotateFails(t, s, a.JTI, noGrace, jwtpair.ErrTokenBlacklisted)
	// Still revoked, not reused, with a grace window too.
	assertRotateFails(t, s, a.JTI, grace(longGrace), jwtpair.ErrTokenBlacklisted)
}

// testRevokeConsumed: revoking a token a rotation consumed (a logout with a
// stale token, perhaps by a thief who rotated it first) revokes its whole
// family, successors included, and answers ErrTokenBlacklisted, inside the
// reuse grace window too: the window forgives a retried refresh, not a
// logout. Turning the consumed token into a revoked one alone would hide the
// reuse: the victim presenting it would be refused as "revoked" while the
// thief's successor lived on. Other families of the user are untouched.
func testRevokeConsumed(t *testing.T, s jwtpair.Store) {
	for _, tc := range []struct {
		name  string
		grace time.Duration
	}{{"NoGrace", 0}, {"WithinGrace", longGrace}} {
		t.Run(tc.name, func(t *testing.T) {
			a := Login(t, s)
			other := issue(t, s, a.UserID, "family-"+NewID()) // same user, another login
			family := []string{a.JTI, mustRotate(t, s, a.JTI, grace(tc.grace)).JTI}
			if tc.grace > 0 { // a replay within the window: a sibling successor
				family = append(family, mustRotate(t, s, a.JTI, grace(tc.grace)).JTI)
			}

			require.ErrorIs(t, s.Revoke(t.Context(), a.JTI), jwtpair.ErrTokenBlacklisted, "Revoke of a consumed token")
			assertRevoked(t, s, grace(tc.grace), family...)
			for _, jti := range family {
				assert.ErrorIs(t, s.Revoke(t.Context(), jti), jwtpair.ErrTokenBlacklisted, "Revoke(%s) after the family's revocation", jti)
			}
			assertCheck(t, s, other.JTI, nil)
		})
	}
}

func testRevokeUnknown(t *testing.T, s jwtpair.Store) {
	Login(t, s)
	assert.ErrorIs(t, s.Revoke(t.Context(), NewID()), jwtpair.ErrTokenNotFound)
}

// testRevokeEndsFamily: revoking an active token (a logout) ends its whole
// session: a successor's logout revokes its predecessor that KeepPresented
// left active, and the other way round. Other families of the user are
// untouched.
func testRevokeEndsFamily(t *testing.T, s jwtpair.Store) {
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
			other := issue(t, s, a.UserID, "family-"+NewID())
			b := mustRotate(t, s, a.JTI, keep) // a stays active
			require.NoError(t, s.Revoke(t.Context(), tc.logout(a, b).JTI), "Revoke of an active token")
			assertRevoked(t, s, noGrace, a.JTI, b.JTI)
			assertRotateFails(t, s, tc.outlive(a, b).JTI, keep, jwtpair.ErrTokenBlacklisted)
			assertCheck(t, s, other.JTI, nil)
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
		logout func(victim, thief jwtpair.Record) string
	}{
		{"ByVictim", func(victim, _ jwtpair.Record) string { return victim.JTI }},
		{"ByThief", func(_, thief jwtpair.Record) string { return thief.JTI }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := Login(t, s)
			other := issue(t, s, a.UserID, "family-"+NewID())
			b := mustRotate(t, s, a.JTI, grace(longGrace)) // the victim
			c := mustRotate(t, s, a.JTI, grace(longGrace)) // the thief's replay
			d := mustRotate(t, s, c.JTI, grace(longGrace)) // who rotates on

			require.NoError(t, s.Revoke(t.Context(), tc.logout(b, d)), "the logout")
			// Every token is refused, a and c replayed inside their
			// windows included.
			assertRevoked(t, s, grace(longGrace), a.JTI, b.JTI, c.JTI, d.JTI)
			assertCheck(t, s, other.JTI, nil)
		})
	}
}

func testRevokeFamily(t *testing.T, s jwtpair.Store) {
	a := Login(t, s)
	other := issue(t, s, a.UserID, "family-"+NewID())
	b := mustRotate(t, s, a.JTI, keep)
	c := mustRotate(t, s, b.JTI, noGrace) // b consumed, a and c active

	require.NoError(t, s.RevokeFamily(t.Context(), a.FamilyID))
	for _, jti := range []string{a.JTI, b.JTI, c.JTI} {
		assertCheck(t, s, jti, jwtpair.ErrTokenBlacklisted)
		assertRotateFails(t, s, jti, noGrace, jwtpair.ErrTokenBlacklisted)
		assertRotateFails(t, s, jti, keep, jwtpair.ErrTokenBlacklisted)
	}
	assertCheck(t, s, other.JTI, nil)

	assert.NoError(t, s.RevokeFamily(t.Context(), a.FamilyID), "second RevokeFamily")
	assert.NoError(t, s.RevokeFamily(t.Context(), "family-"+NewID()), "RevokeFamily of an unknown family")
}

func testRevokeUser(t *testing.T, s jwtpair.Store) {
	a := Login(t, s)
	a2 := mustRotate(t, s, a.JTI, noGrace)
	b := issue(t, s, a.UserID, "family-"+NewID()) // the same user's second login
	v := Login(t, s)                              // another user

	require.NoError(t, s.RevokeUser(t.Context(), a.UserID))
	for _, jti := range []string{a.JTI, a2.JTI, b.JTI} {
		assertCheck(t, s, jti, jwtpair.ErrTokenBlacklisted)
		assertRotateFails(t, s, jti, noGrace, jwtpair.ErrTokenBlacklisted)
	}
	assertCheck(t, s, v.JTI, nil)

	// A login after the revocation is unaffected.
	d := issue(t, s, a.UserID, "family-"+NewID())
	assertCheck(t, s, d.JTI, nil)
	e := mustRotate(t, s, d.JTI, noGrace)
	assertCheck(t, s, e.JTI, nil)

	assert.NoError(t, s.RevokeUser(t.Context(), "user-"+NewID()), "RevokeUser of an unknown user")
}

// testRotateRepeatedAfterRevocation: a rotation repeated with the same
// successor (as a backend client retrying after a lost reply sends it) is
// judged afresh: once the family or user is revoked, it fails.
func testRotateRepeatedAfterRevocation(t *testing.T, s jwtpair.Store) {
	for _, r := range revokers {
		for _, g := range []time.Duration{0, longGrace} {
			t.Run(fmt.Sprintf("%s/grace=%s", r.name, g), func(t *testing.T) {
				a := Login(t, s)
				b := successor()
				require.NoError(t, s.Rotate(t.Context(), a.JTI, b, grace(g)))
				require.NoError(t, r.revoke(t.Context(), s, a))

				err := s.Rotate(t.Context(), a.JTI, b, grace(g))
				assert.ErrorIs(t, err, jwtpair.ErrTokenBlacklisted, "the same Rotate after %s", r.name)
				assertCheck(t, s, b.JTI, jwtpair.ErrTokenBlacklisted)
			})
		}
	}
}

// testRotateRepeatedAfterSuccessorRotated: a rotation repeated with the same
// successor after that successor was itself rotated is a consumed token
// presented again: reuse, and the whole family is revoked.
func testRotateRepeatedAfterSuccessorRotated(t *testing.T, s jwtpair.Store) {
	a := Login(t, s)
	b := successor()
	require.NoError(t, s.Rotate(t.Context(), a.JTI, b, noGrace))
	c := mustRotate(t, s, b.JTI, noGrace)

	err := s.Rotate(t.Context(), a.JTI, b, noGrace)
	require.ErrorIs(t, err, jwtpair.ErrTokenReused, "the same Rotate after its successor was rotated")
	for _, jti := range []string{a.JTI, b.JTI, c.JTI} {
		assertCheck(t, s, jti, jwtpair.ErrTokenBlacklisted)
	}
}

// testSuccessorInherits: a successor belongs to the family and the user of
// the token it replaces, whatever family and user it names: revoking the
// ones it names leaves it active, revoking its own ends it.
func testSuccessorInherits(t *testing.T, s jwtpair.Store) {
	for _, r := range revokers {
		t.Run(r.name, func(t *testing.T) {
			a := Login(t, s)
			decoy := Login(t, s) // a real family and user the successor claims
			next := successor()
			next.UserID, next.FamilyID = decoy.UserID, decoy.FamilyID
			require.NoError(t, s.Rotate(t.Context(), a.JTI, next, noGrace))

			require.NoError(t, r.revoke(t.Context(), s, decoy))
			assertCheck(t, s, decoy.JTI, jwtpair.ErrTokenBlacklisted)
			assertCheck(t, s, next.JTI, nil)

			require.NoError(t, r.revoke(t.Context(), s, a))
			assertCheck(t, s, next.JTI, jwtpair.ErrTokenBlacklisted)
		})
	}
}

func testExpired(t *testing.T, s jwtpair.Store) {
	live := Login(t, s)
	old := jwtpair.Record{
		JTI:       NewID(),
		UserID:    live.UserID,
		FamilyID:  live.FamilyID,
		ExpiresAt: time.Now().Add(-pastBy),
	}
	require.NoError(t, s.Issue(t.Context(), old), "Issue of an expired record")

	assertCheck(t, s, old.JTI, jwtpair.ErrTokenNotFound)
	assertRotateFails(t, s, old.JTI, noGrace, jwtpair.ErrTokenNotFound)
	assertRotateFails(t, s, old.JTI, keep, jwtpair.ErrTokenNotFound)
	assert.ErrorIs(t, s.Revoke(t.Context(), old.JTI), jwtpair.ErrTokenNotFound, "Revoke")

	// The expired member takes nothing else of its family with it.
	assertCheck(t, s, live.JTI, nil)
	next := mustRotate(t, s, live.JTI, noGrace)
	assertCheck(t, s, next.JTI, nil)
}

func testIssueCannotRevive(t *testing.T, s jwtpair.Store) {
	revoked := Login(t, s)
	require.NoError(t, s.Revoke(t.Context(), revoked.JTI))
	consumed := Login(t, s)
	mustRotate(t, s, consumed.JTI, noGrace)

	for _, rec := range []jwtpair.Record{revoked, consumed} {
		again := rec
		again.ExpiresAt = time.Now().Add(2 * liveFor)
		_ = s.Issue(t.Context(), again) // refusing is allowed; reviving is not
		assertUnusable(t, s, rec.JTI)
	}
}

func testIssueIntoRevokedFamily(t *testing.T, s jwtpair.Store) {
	a := Login(t, s)
	require.NoError(t, s.RevokeFamily(t.Context(), a.FamilyID))
	late := jwtpair.Record{
		JTI:       NewID(),
		UserID:    a.UserID,
		FamilyID:  a.FamilyID,
		ExpiresAt: time.Now().Add(liveFor),
	}
	_ = s.Issue(t.Context(), late) // refusing is allowed; an active token is not
	assertUnusable(t, s, late.JTI)
}

func testCancelledContext(t *testing.T, s jwtpair.Store) {
	a := Login(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	fresh := jwtpair.Record{JTI: NewID(), UserID: a.UserID, FamilyID: a.FamilyID, ExpiresAt: time.Now().Add(liveFor)}
	next := successor()
	calls := []struct {
		name string
		call func() error
	}{
		{"Issue", func() error { return s.Issue(ctx, fresh) }},
		{"Rotate", func() error { return s.Rotate(ctx, a.JTI, next, noGrace) }},
		{"Check", func() error { return s.Check(ctx, a.JTI) }},
		{"Revoke", func() error { return s.Revoke(ctx, a.JTI) }},
		{"RevokeFamily", func() error { return s.RevokeFamily(ctx, a.FamilyID) }},
		{"RevokeUser", func() error { return s.RevokeUser(ctx, a.UserID) }},
	}
	for _, c := range calls {
		// A cancelled call is a store failure, never a token verdict.
		RequireUnavailable(t, c.call(), "%s with a cancelled context", c.name)
	}

	// None of them took effect.
	assertCheck(t, s, a.JTI, nil)
	assertCheck(t, s, fresh.JTI, jwtpair.ErrTokenNotFound)
	assertCheck(t, s, next.JTI, jwtpair.ErrTokenNotFound)
}

func testConcurrentRotateOne(t *testing.T, s jwtpair.Store) {
	a := Login(t, s)
	race := RotateRace(t, a.JTI, 64, s)
	require.Len(t, race.Won, 1, race.String())
	// The first call to find the token consumed sees reuse (and revokes the
	// family); any later one sees it revoked.
	require.GreaterOrEqual(t, race.Reused, 1, race.String())

	winner := race.Won[0]
	assertCheck(t, s, race.Successors[winner].JTI, jwtpair.ErrTokenBlacklisted)
	for i, next := range race.Successors {
		if i != winner {
			assertUnusable(t, s, next.JTI)
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
	firsts := make([]string, tokens)
	for i := range heads {
		firsts[i] = heads[i].JTI
	}

	errs := make([]error, tokens)
	together(tokens, func(i int) {
		for range rounds {
			next := successor()
			if err := s.Rotate(t.Context(), heads[i].JTI, next, noGrace); err != nil {
				errs[i] = err
				return
			}
			heads[i] = next
		}
	})

	for i := range tokens {
		require.NoError(t, errs[i], "chain %d", i)
		assertCheck(t, s, firsts[i], jwtpair.ErrTokenBlacklisted)
		assertCheck(t, s, heads[i].JTI, nil)
	}
}

// testConcurrentRotateAndRevoke: a refresh and a logout of one token racing.
// Whichever the store orders first, exactly one succeeds and no token of the
// family stays usable: the logout either revokes the token before the
// rotation (which then fails) or finds it consumed and revokes the family,
// the rotation's successor with it.
func testConcurrentRotateAndRevoke(t *testing.T, s jwtpair.Store) {
	for round := range 20 {
		a := Login(t, s)
		next := successor()
		var rotateErr, revokeErr error
		calls := []func(){
			func() { rotateErr = s.Rotate(t.Context(), a.JTI, next, noGrace) },
			func() { revokeErr = s.Revoke(t.Context(), a.JTI) },
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
		assertCheck(t, s, a.JTI, jwtpair.ErrTokenBlacklisted)
		assertUnusable(t, s, next.JTI)
	}
}
