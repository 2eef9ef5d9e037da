package jwtpair

import (
	"context"
	"time"
)

// Store keeps the server-side state of refresh tokens: which are active, which
// were consumed by a rotation, which are revoked. Access tokens are stateless
// and never touch the store on the request path.
//
// Records are keyed by the token's jti; a Store never sees raw token text.
// Every method takes the request's context first and must honour its
// cancellation. A Store must be safe for concurrent use, including by several
// processes sharing one backend.
//
// # Errors
//
// A method reports token states with these sentinels (wrapped or bare; callers
// test with errors.Is):
//
//   - [ErrTokenNotFound]: no record for the jti (never issued, or expired and removed).
//   - [ErrTokenBlacklisted]: the token, its family or its user was revoked,
//     or (Check and Revoke only) it was consumed by a rotation.
//   - [ErrTokenReused]: (Rotate only) a consumed token was presented after the
//     reuse grace window, or more often than it forgives; the store has
//     revoked the whole family.
//
// Any other failure (network, database, timeout) must be returned wrapping
// [ErrStoreUnavailable]; the handlers answer it with 503 and never treat it as
// success (fail closed).
//
// # Expiry
//
// Every record carries ExpiresAt, the expiry of its token. After that instant
// a store may forget the record (lazily, by backend TTL or by a janitor) and
// must then answer ErrTokenNotFound. Family and user revocations must be
// remembered at least as long as any token they cover.
//
// # Clocks
//
// A store decides record expiry and the reuse grace window on one clock of
// its own, never on the calling instance's: the backend's where it has one
// (Redis TIME inside the script, the database's statement time), else the
// clock of the process it lives in ([WithMemoryClock] for [MemoryStore]).
// Rotate is therefore not told the time. Instances whose clocks disagree
// with each other or with the backend cannot widen or narrow the window: a
// replay is judged by how long ago, on the backend, the token was consumed.
// What stays on each instance's clock is the check of the token itself
// (exp, nbf and iat, with [WithLeeway]); a skewed instance refuses tokens
// early or accepts them late by its skew, as any JWT verifier does, but it
// cannot turn a replay into reuse or reuse into a replay.
//
// The package storetest holds the conformance suite every implementation runs.
type Store interface {
	// Issue records a new, active refresh token. The record's FamilyID starts a
	// new family (a login) unless it names an existing one.
	Issue(ctx context.Context, rec Record) error

	// Rotate atomically consumes the refresh token presented and records next
	// as its successor, active, in the same family and for the same user
	// (next.FamilyID and next.UserID are taken from the presented record; the
	// values passed are ignored). It is one round trip to the backend and no
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
	//     of a stolen token; the whole family is revoked, ErrTokenReused.
	//   - revoked (token, family or user): ErrTokenBlacklisted.
	//   - unknown or expired: ErrTokenNotFound.
	Rotate(ctx context.Context, presentedJTI string, next Record, opts RotateOptions) error

	// Check reports whether the refresh token with this jti may be used:
	// nil when active, ErrTokenBlacklisted when revoked or consumed,
	// ErrTokenNotFound when unknown. It changes nothing.
	Check(ctx context.Context, jti string) error

	// Revoke logs out: it ends the session of the refresh token with this
	// jti by revoking the token's whole family, the token's predecessors,
	// successors and grace siblings included, present and future. Outcomes,
	// by the token's state:
	//   - active, also one a rotation left active (RotateOptions.KeepPresented):
	//     the family revoked, nil.
	//   - consumed, within the reuse grace window or not: a logout with a
	//     rotated token, a stale client's or a thief's who rotated it first;
	//     the family revoked, ErrTokenBlacklisted (the logout counts as reuse).
	//   - revoked (token, family or user): ErrTokenBlacklisted.
	//   - unknown or expired: ErrTokenNotFound.
	//
	// It is atomic with Rotate: a Revoke racing a rotation of the same token
	// either revokes it first (the rotation then fails with
	// ErrTokenBlacklisted) or finds it consumed (and answers
	// ErrTokenBlacklisted); either way the family is revoked, the rotation's
	// successor included.
	Revoke(ctx context.Context, jti string) error

	// RevokeFamily revokes every token of a family, present and future
	// rotations included. Unknown families are not an error.
	RevokeFamily(ctx context.Context, familyID string) error

	// RevokeUser revokes every family of a user that exists now (logout
	// everywhere). Families issued afterwards are unaffected. Unknown users
	// are not an error.
	RevokeUser(ctx context.Context, userID string) error
}

// Record is what a Store keeps about one refresh token. It never holds the
// token itself.
type Record struct {
	JTI       string    // the token's jti claim: 32 lower-case hex characters
	UserID    string    // the user_id claim
	FamilyID  string    // shared by a login's token and all its rotations
	ExpiresAt time.Time // the token's exp
}

// MaxGraceReplays is how many replays of one consumed refresh token the
// reuse grace window ([WithReuseGrace]) forgives: with the rotation that
// consumed it, one token yields at most MaxGraceReplays+1 successors. The
// next presentation, even inside the window, is reuse: the store revokes the
// family and answers [ErrTokenReused]. Two replays cover a client that
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
