package storetest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
)

// This file holds the helpers a store's own tests share with the suite:
// records, the backend's address from the environment, a race of
// rotations and a round-trip count.

// NewID returns a random id of 32 lower-case hex characters, the form of a
// jti; a prefix of it names a test's namespace (key prefix, table prefix).
// crypto/rand.Read cannot fail (it crashes the program instead).
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// NewRecord returns a record, live for an hour, of the first token of a new
// session of a new user.
func NewRecord() jwtpair.Record {
	return jwtpair.Record{
		JTI:       NewID(),
		UserID:    "user-" + NewID(),
		SessionID: "session-" + NewID(),
		ExpiresAt: time.Now().Add(liveFor),
	}
}

// NewSuccessor returns a successor to pass to [jwtpair.Store.Rotate], live
// for an hour: a new jti and an expiry, all Rotate reads of it.
func NewSuccessor() jwtpair.Record {
	return jwtpair.Record{JTI: NewID(), ExpiresAt: time.Now().Add(liveFor)}
}

// TokenOf is what a refresh token recorded as rec presents: its jti, user
// and session.
func TokenOf(rec jwtpair.Record) jwtpair.Token {
	return jwtpair.Token{JTI: rec.JTI, UserID: rec.UserID, SessionID: rec.SessionID}
}

// Login issues [NewRecord] on s, as a login does (no cap, no absolute
// expiry, no client metadata), and returns it; an error from Issue fails
// tb.
func Login(tb testing.TB, s jwtpair.Store) jwtpair.Record {
	tb.Helper()
	rec := NewRecord()
	require.NoError(tb, issueErr(s.Issue(tb.Context(), rec, jwtpair.IssueOptions{})), "Issue")
	return rec
}

// LoginAs is [Login] of user: a new session of an existing user.
func LoginAs(tb testing.TB, s jwtpair.Store, user string, opts jwtpair.IssueOptions) jwtpair.Record {
	tb.Helper()
	rec := NewRecord()
	rec.UserID = user
	require.NoError(tb, issueErr(s.Issue(tb.Context(), rec, opts)), "Issue")
	return rec
}

// requireBackendsEnv turns a backend test's skip into a failure when set
// to 1, as CI does.
const requireBackendsEnv = "JWTPAIR_REQUIRE_BACKENDS"

// BackendsRequired reports whether JWTPAIR_REQUIRE_BACKENDS=1 (as CI sets)
// forbids a backend test to skip.
func BackendsRequired() bool { return os.Getenv(requireBackendsEnv) == "1" }

// BackendURL returns the value of the environment variable env, the
// address of the backend a test runs on. When env is unset it skips the
// test with a message naming env and an example value, or fails it when
// [BackendsRequired].
func BackendURL(tb testing.TB, env, example string) string {
	tb.Helper()
	u := os.Getenv(env)
	if u == "" {
		msg := "set " + env + "=" + example + " to run this test"
		if BackendsRequired() {
			tb.Fatal(msg + " (" + requireBackendsEnv + "=1 forbids skipping)")
		}
		tb.Skip(msg)
	}
	return u
}

// issueErr is the error of an Issue whose evicted sessions a case does
// not look at.
func issueErr(_ []string, err error) error { return err }

// together runs fn(0) … fn(n-1), each in a goroutine of its own, released
// at once so that they race, and returns when all have.
func together(n int, fn func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

// Race is the outcome of [RotateRace].
type Race struct {
	Successors  []jwtpair.Record // the successor call i offered, with the presented token's user and session
	Won         []int            // the calls that succeeded, in order
	Reused      int              // the calls answered ErrTokenReused
	Blacklisted int              // the calls answered ErrTokenBlacklisted
}

// String summarises the race for assertion messages.
func (r Race) String() string {
	return fmt.Sprintf("%d succeeded, %d reused, %d blacklisted", len(r.Won), r.Reused, r.Blacklisted)
}

// RotateRace presents the token recorded as rec to Rotate n times at once
// without a grace window, call i on stores[i%len(stores)] (store values
// over one backend stand for processes sharing it), each call with a
// successor of its own whose UserID and SessionID are decoys the store
// must ignore. Any answer other than success, ErrTokenReused or
// ErrTokenBlacklisted fails tb. The caller asserts on the outcome; the
// contract allows exactly one success.
func RotateRace(tb testing.TB, rec jwtpair.Record, n int, stores ...jwtpair.Store) Race {
	tb.Helper()
	r := Race{Successors: make([]jwtpair.Record, n)}
	offered := make([]jwtpair.Record, n)
	for i := range offered {
		offered[i] = successor()
		r.Successors[i] = inSession(offered[i], rec)
	}
	errs := make([]error, n)
	together(n, func(i int) {
		errs[i] = stores[i%len(stores)].Rotate(tb.Context(), TokenOf(rec), offered[i], noGrace)
	})
	for i, err := range errs {
		switch {
		case err == nil:
			r.Won = append(r.Won, i)
		case errors.Is(err, jwtpair.ErrTokenReused):
			r.Reused++
		case errors.Is(err, jwtpair.ErrTokenBlacklisted):
			r.Blacklisted++
		default:
			tb.Errorf("Rotate #%d: unexpected error %v", i, err)
		}
	}
	return r
}

// RequireRoundTrips calls each method of s once on its usual path and
// requires every call to succeed and to cost what want says of it in
// round trips to the backend, as counted by sent: the count of a hook or
// tracer on the store's client, read before and after each call. want
// names every method: Issue (with a per-user cap), Check, Rotate, Revoke
// (of the successor), EndSession, EndSessions and Sessions. A store whose
// client caches server-side state (such as Redis scripts) warms it first.
func RequireRoundTrips(tb testing.TB, s jwtpair.Store, sent func() int64, want map[string]int64) {
	tb.Helper()
	ctx := tb.Context()
	a, b := NewRecord(), NewSuccessor()
	c := NewRecord()
	c.UserID = a.UserID
	for _, step := range []struct {
		name string
		call func() error
	}{
		{"Issue", func() error { return issueErr(s.Issue(ctx, a, jwtpair.IssueOptions{MaxSessions: 5})) }},
		{"Check", func() error { return s.Check(ctx, TokenOf(a)) }},
		{"Rotate", func() error { return s.Rotate(ctx, TokenOf(a), b, noGrace) }},
		{"Revoke", func() error { return s.Revoke(ctx, TokenOf(inSession(b, a))) }},
	} {
		before := sent()
		require.NoError(tb, step.call(), step.name)
		assertRoundTrips(tb, want, step.name, sent()-before)
	}
	require.NoError(tb, issueErr(s.Issue(ctx, c, jwtpair.IssueOptions{})), "Issue")
	d := LoginAs(tb, s, a.UserID, jwtpair.IssueOptions{})
	for _, step := range []struct {
		name string
		call func() error
	}{
		{"Sessions", func() error { _, err := s.Sessions(ctx, a.UserID); return err }},
		{"EndSession", func() error { return s.EndSession(ctx, c.UserID, c.SessionID) }},
		{"EndSessions", func() error { return s.EndSessions(ctx, d.UserID, "") }},
	} {
		before := sent()
		require.NoError(tb, step.call(), step.name)
		assertRoundTrips(tb, want, step.name, sent()-before)
	}
}

func assertRoundTrips(tb testing.TB, want map[string]int64, method string, got int64) {
	tb.Helper()
	w, ok := want[method]
	if !ok {
		tb.Errorf("RequireRoundTrips: want names no count for %s", method)
		return
	}
	assert.Equal(tb, w, got, "%s: round trips", method)
}
