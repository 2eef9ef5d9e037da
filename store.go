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
//     reuse grace window; the store has revoked the whole family.
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
	//   - consumed, opts.Grace > 0 and opts.Now within Grace of the consumption:
	//     a replay (say, a client retrying after a lost response); next is recorded
	//     as a sibling successor, nil.
	//   - consumed otherwise: reuse of a stolen token; the whole family is
	//     revoked, ErrTokenReused.
	//   - revoked (token, family or user): ErrTokenBlacklisted.
	//   - unknown or expired: ErrTokenNotFound.
	Rotate(ctx context.Context, presentedJTI string, next Record, opts RotateOptions) error

	// Check reports whether the refresh token with this jti may be used:
	// nil when active, ErrTokenBlacklisted when revoked or consumed,
	// ErrTokenNotFound when unknown. It changes nothing.
	Check(ctx context.Context, jti string) error

	// Revoke blacklists one refresh token (logout). Outcomes, by the
	// token's state:
	//   - active, also one a rotation left active (RotateOptions.KeepPresented):
	//     revoked, nil.
	//   - consumed, within the reuse grace window or not: a logout with a
	//     rotated token, a stale client's or a thief's who rotated it first;
	//     the whole family is revoked, ErrTokenBlacklisted. (Revoking the
	//     token alone would turn the victim's next refresh with it from reuse
	//     into a mere "blacklisted" and leave the thief's successor usable.)
	//   - revoked (token, family or user): ErrTokenBlacklisted.
	//   - unknown or expired: ErrTokenNotFound.
	//
	// It is atomic with Rotate: a Revoke racing a rotation of the same token
	// either revokes it first (the rotation then fails) or finds it consumed
	// and revokes the family, the rotation's successor included.
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

// RotateOptions controls one Store.Rotate call.
type RotateOptions struct {
	// Now is the time of the rotation, from the Auth's clock; the grace
	// window is measured against it.
	Now time.Time
	// Grace is the reuse grace window: a consumed token presented again no
	// later than Grace after its consumption is a replay, not a theft.
	// Zero means any second use is reuse.
	Grace time.Duration
	// KeepPresented leaves the presented token active after recording its
	// successor (rotation without blacklist-after-rotation). No reuse
	// detection applies to it then.
	KeepPresented bool
}
