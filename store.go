package jwtpair

import (
	"context"
	"time"
)

// Store keeps the server-side state of sessions and their refresh tokens:
// which sessions are live, which refresh tokens are active, which were
// consumed by a rotation, which sessions have ended. Access tokens are
// stateless and never touch the store on the request path; how an ended
// session reaches them is the revocation feed ([RevocationFeed]).
//
// A session is one login: the refresh token it issued and all the tokens its
// rotations issued after it share its id, the sid claim every token of the
// session carries. Records are keyed by the token's jti; a Store never sees
// raw token text. Every method names the user (and, where it concerns one,
// the session) it acts on, so that a backend can keep one user's state
// together: a Redis Cluster shards by user, one rotation stays in one slot.
//
// Every method takes the request's context first and must honour its
// cancellation and its deadline: an Auth gives each call one
// ([WithStoreTimeout], 5 s by default), and a backend that does not answer
// by then must cost the call an error wrapping ErrStoreUnavailable, not a
// wait (storetest.RunStall checks it). A Store must be safe for concurrent
// use, including by several processes sharing one backend.
//
// # Errors
//
// A method reports token states with these sentinels (wrapped or bare; callers
// test with errors.Is):
//
//   - [ErrTokenNotFound]: no record for the jti (never issued, expired and
//     removed, forgotten with its session's eviction by the per-user cap, or
//     recorded for another user or session than the one named).
//   - [ErrTokenBlacklisted]: the token's session has ended (logout, reuse,
//     EndSession, EndSessions, eviction by the per-user cap unless the
//     store forgot the session, see Issue) or is past its absolute expiry,
//     or (Check and Revoke only) the token was consumed by a rotation.
//   - [ErrTokenReused]: (Rotate only) a consumed token was presented after the
//     reuse grace window, or more often than it forgives; the store has
//     ended the session.
//
// Any other failure (network, database, timeout) must be returned wrapping
// [ErrStoreUnavailable]; the handlers answer it with 503 and never treat it as
// success (fail closed).
//
// # Expiry
//
// Every record carries ExpiresAt, when its token stops verifying. After that
// instant a store may forget the record (lazily, by backend TTL or by a
// janitor) and must then answer ErrTokenNotFound. A session lives as long as
// its latest token (its idle expiry), and no longer than its absolute expiry
// when it has one; the end of a session is remembered at least as long as
// any token it covers.
//
// # Clocks
//
// A store decides record expiry, session times and the reuse grace window on
// one clock of its own, never on the calling instance's: the backend's where
// it has one (Redis TIME inside the script, the database's statement time),
// else the clock of the process it lives in ([WithMemoryClock] for
// [MemoryStore]). Instances whose clocks disagree with each other or with the
// backend cannot widen or narrow the window: a replay is judged by how long
// ago, on the backend, the token was consumed. What stays on each instance's
// clock is the check of the token itself (exp, nbf and iat, with
// [WithLeeway]).
//
// # Ending sessions
//
// Every session a method ends — Revoke, EndSession, EndSessions, reuse
// detected by Rotate, and the eviction of Issue's per-user cap — is recorded
// in the store's revocation feed (when it has one, see [RevocationFeed])
// before the method returns; a method that could not record it returns an
// error wrapping ErrStoreUnavailable (ending is idempotent: the caller's
// retry records it again).
//
// The package storetest holds the conformance suite every implementation runs.
type Store interface {
	// Issue starts a session (a login): it records the session first.SessionID
	// of first.UserID, with opts' absolute expiry and client metadata, and its
	// first refresh token, active. A session is named by its user and its id:
	// a session id already recorded for first.UserID is refused with an error
	// wrapping ErrStoreUnavailable, as is a jti already recorded; nothing is
	// recorded then. The same id recorded for another user (never minted by
	// an Auth: ids are 128 random bits) may be refused, or recorded as a
	// session of first.UserID apart from the other user's, which it must
	// leave as it is (a store sharded by user cannot see it).
	//
	// When opts.MaxSessions > 0 and the user then has more live sessions than
	// that, Issue ends the oldest of them (by Created) until MaxSessions are
	// left, atomically with recording the new one: however many logins of
	// one user run concurrently, no more than MaxSessions of their sessions
	// are ever live at once. A store may forget an evicted session at once,
	// every record of it, rather than remember it ended until its tokens
	// expire: its tokens are then unknown (ErrTokenNotFound), refused all
	// the same, and a user's state in the store stays bounded by
	// MaxSessions however fast they log in. Either way the eviction is a
	// revocation in the feed.
	//
	// Issue returns the ids of the sessions its cap ended, in no
	// particular order: every one this call ended and no other (none ended
	// before, by another call, or still live), nil when it ended none or
	// failed. The Auth reports them as audit events ([EventSessionEnded]).
	Issue(ctx context.Context, first Record, opts IssueOptions) (ended []string, err error)

	// Rotate atomically consumes the refresh token presented and records next
	// as its successor, active, in the same session and for the same user
	// (next.SessionID and next.UserID are taken from the presented token's
	// record; the values passed are ignored), and marks the session refreshed:
	// its LastRefreshed is now (store clock) and its ExpiresAt next.ExpiresAt
	// when that is later. It is one round trip to the backend and no
	// check-then-act: of many concurrent Rotate calls on one active token with
	// no grace window, exactly one succeeds.
	//
	// Outcomes, by the presented token's state:
	//   - active: consumed (or left active when opts.KeepPresented), next recorded, nil.
	//   - consumed, opts.Grace > 0, no more than opts.Grace ago on the store's
	//     clock, and replayed fewer than [MaxGraceReplays] times so far: a
	//     replay (say, a client retrying after a lost response); next is
	//     recorded as a sibling successor and the replay counted, nil. The
	//     window stays anchored at the consumption.
	//   - consumed otherwise (no window, past it, or past the bound): reuse
	//     of a stolen token; the session ends, ErrTokenReused.
	//   - its session ended, or past its absolute expiry: ErrTokenBlacklisted.
	//   - unknown, expired, or recorded for another user or session:
	//     ErrTokenNotFound.
	Rotate(ctx context.Context, presented Token, next Record, opts RotateOptions) error

	// Check reports whether the refresh token presented may be used: nil when
	// active, ErrTokenBlacklisted when its session ended or is past its
	// absolute expiry, or the token was consumed, ErrTokenNotFound as
	// Rotate. It changes nothing.
	Check(ctx context.Context, presented Token) error

	// Revoke logs out: it ends the session of the refresh token presented,
	// the token's predecessors, successors and grace siblings included,
	// present and future. Outcomes, by the token's state:
	//   - active, also one a rotation left active (RotateOptions.KeepPresented):
	//     the session ended, nil.
	//   - consumed, within the reuse grace window or not: a logout with a
	//     rotated token, a stale client's or a thief's who rotated it first;
	//     the session ended, ErrTokenBlacklisted (the logout counts as reuse).
	//   - its session already ended: ErrTokenBlacklisted.
	//   - unknown, expired, or recorded for another user or session:
	//     ErrTokenNotFound.
	//
	// It is atomic with Rotate: a Revoke racing a rotation of the same token
	// either ends the session first (the rotation then fails with
	// ErrTokenBlacklisted) or finds the token consumed (and answers
	// ErrTokenBlacklisted); either way the session ends, the rotation's
	// successor included.
	Revoke(ctx context.Context, presented Token) error

	// EndSession ends the session sessionID of userID, every token of it
	// included, present and future. An unknown session, one that has ended
	// already, and a session of another user are not an error and change
	// nothing (so the caller cannot tell them apart).
	EndSession(ctx context.Context, userID, sessionID string) error

	// EndSessions ends every live session of userID except keep ("" ends
	// them all): "log out everywhere" and "log out my other devices".
	// Sessions started afterwards are unaffected. An unknown user is not an
	// error.
	EndSessions(ctx context.Context, userID, keep string) error

	// Sessions lists the live sessions of userID (not ended, not expired),
	// the most recently created first. An unknown user has none.
	Sessions(ctx context.Context, userID string) ([]Session, error)
}

// Token is what a presented refresh token names, read from its verified
// claims: its jti, its user_id, and its sid. SessionID is "" for a token
// minted without one (by simplejwt, or adopted from it): the store then finds
// the session from the token's record.
type Token struct {
	JTI       string
	UserID    string
	SessionID string
}

// Record is what a Store keeps about one refresh token. It never holds the
// token itself.
type Record struct {
	JTI       string    // the token's jti claim: 32 lower-case hex characters
	UserID    string    // the user_id claim
	SessionID string    // the sid claim: shared by a login's tokens and all their rotations
	ExpiresAt time.Time // when the token stops verifying (its exp plus the leeway)
}

// IssueOptions is what Issue records about a new session besides its first
// token.
type IssueOptions struct {
	// AbsoluteExpiry ends the session whatever its rotations
	// ([WithMaxSessionAge]); zero for none.
	AbsoluteExpiry time.Time
	// Client is the metadata the Auth captured at login (see
	// [WithSessionInfo]), already bounded in size; nil for none.
	Client map[string]string
	// MaxSessions, when positive, caps the user's live sessions: see
	// Store.Issue.
	MaxSessions int
}

// Session is what a store keeps about one login.
type Session struct {
	ID             string            // the sid claim of its tokens
	UserID         string            // whose session it is
	Created        time.Time         // the login, on the store's clock
	LastRefreshed  time.Time         // the latest rotation, on the store's clock; Created before the first
	ExpiresAt      time.Time         // idle expiry: when its latest refresh token stops verifying
	AbsoluteExpiry time.Time         // zero: none
	Client         map[string]string // what IssueOptions.Client recorded; nil for none
}

// MaxGraceReplays is how many replays of one consumed refresh token the
// reuse grace window ([WithReuseGrace]) forgives: with the rotation that
// consumed it, one token yields at most MaxGraceReplays+1 successors. The
// next presentation, even inside the window, is reuse: the store ends the
// session and answers [ErrTokenReused]. Two replays cover a client that
// retries a refresh whose response it lost, twice; a token presented more
// often than that within seconds is being used by more than one party.
const MaxGraceReplays = 2

// RotateOptions controls one Store.Rotate call. It carries no time: the
// store measures the grace window on its own clock (see [Store], Clocks).
type RotateOptions struct {
	// Grace is the reuse grace window: a consumed token presented again no
	// later than Grace after its consumption, on the store's clock, is a
	// replay, not a theft, up to [MaxGraceReplays] times. Zero means any
	// second use is reuse.
	Grace time.Duration
	// KeepPresented leaves the presented token active after recording its
	// successor (rotation without blacklist-after-rotation). No reuse
	// detection applies to it then.
	KeepPresented bool
}

// RevocationFeed is the optional interface through which a Store tells every
// Auth sharing it which sessions have ended, so that their access tokens stop
// working within a bound (see [WithRevocationStaleness]) with no I/O on the
// request path. Every store of this module and of redisstore and sqlstore
// implements it.
type RevocationFeed interface {
	// Revocations returns the revocations recorded after cursor, oldest
	// first, and the cursor to pass next time. It returns as soon as there is
	// at least one, or once wait has passed with none (a backend that can
	// push blocks on it; others poll); with wait ≤ 0 it does not wait. The
	// empty cursor asks for every revocation still retained: the catch-up
	// of a starting instance; so does a cursor older than everything
	// retained. Entries may come more than once (callers apply them
	// idempotently); none recorded before the call started may be missed,
	// neither by this call nor by the next one given the returned cursor.
	// A failure, a cancelled ctx included, wraps ErrStoreUnavailable.
	Revocations(ctx context.Context, cursor string, wait time.Duration) ([]Revocation, string, error)

	// RevocationRetention is how long the feed keeps a revocation after it
	// was recorded. New refuses an Auth whose tokens a revocation must cover
	// (access tokens, sliding tokens) live longer than that, leeway included.
	RevocationRetention() time.Duration
}

// A Revocation is one ended session, or, with SessionID "", every session of
// a user that began at or before At (EndSessions with no session kept
// records one beside the entries of the sessions it ended, so that tokens
// without a sid issued until then are covered too).
type Revocation struct {
	UserID    string
	SessionID string
	At        time.Time // when it was recorded, on the store's clock
}

// timedStore is the Store as an Auth calls it: each call with a deadline
// WithStoreTimeout after it starts, so that a backend that does not answer
// costs a request a 503 rather than a hang. (It is no RevocationFeed: the
// feed's follower is given the store itself, and bounds its own calls.)
type timedStore struct {
	s Store
	d time.Duration
}

var _ Store = timedStore{}

// boundStoreCalls puts the store and the limiter behind their deadlines.
// New runs it last: the checks before it look at what the store is
// (a RevocationFeed, a Limiter, a MemoryStore).
func (c *config) boundStoreCalls() {
	c.store = timedStore{c.store, c.storeTimeout}
	c.throttle.limiter = timedLimiter{c.throttle.limiter, c.storeTimeout}
}

func (t timedStore) Issue(ctx context.Context, first Record, opts IssueOptions) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.Issue(ctx, first, opts)
}

func (t timedStore) Rotate(ctx context.Context, presented Token, next Record, opts RotateOptions) error {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.Rotate(ctx, presented, next, opts)
}

func (t timedStore) Check(ctx context.Context, presented Token) error {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.Check(ctx, presented)
}

func (t timedStore) Revoke(ctx context.Context, presented Token) error {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.Revoke(ctx, presented)
}

func (t timedStore) EndSession(ctx context.Context, userID, sessionID string) error {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.EndSession(ctx, userID, sessionID)
}

func (t timedStore) EndSessions(ctx context.Context, userID, keep string) error {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.EndSessions(ctx, userID, keep)
}

func (t timedStore) Sessions(ctx context.Context, userID string) ([]Session, error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.s.Sessions(ctx, userID)
}
