package redisstore

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jwtpair/jwtpair"
	"github.com/redis/go-redis/v9"
)

// DefaultKeyPrefix is the key prefix used unless [WithKeyPrefix] sets another.
// Wrapped in a hash tag it gives keys such as "{jwtpair:}t:<jti>".
const DefaultKeyPrefix = "jwtpair:"

// Store is a [jwtpair.Store] backed by Redis. Create it with [New]; it is
// safe for concurrent use by many goroutines and many processes sharing the
// same Redis and key prefix.
type Store struct {
	client redis.UniversalClient
	prefix string // key prefix, hash tag included
}

var _ jwtpair.Store = (*Store)(nil)

// Option configures a [Store].
type Option func(*Store)

// WithKeyPrefix sets the prefix of every key the store writes. Default:
// [DefaultKeyPrefix]. Stores with different prefixes on one Redis are fully
// independent.
//
// All keys of a store share one Redis Cluster hash tag, so that every script
// touches one slot (see the package documentation). When prefix contains a
// hash tag ("{...}" with something between the braces) it is used as is;
// otherwise it is wrapped in one: "app:" gives keys "{app:}t:<jti>", ….
// An empty prefix means the default.
func WithKeyPrefix(prefix string) Option {
	return func(s *Store) {
		if prefix == "" {
			prefix = DefaultKeyPrefix
		}
		s.prefix = withHashTag(prefix)
	}
}

// New returns a Store using client, which may be a *redis.Client, a
// *redis.ClusterClient, a failover client or a *redis.Ring (each ring shard
// then holds all keys of one prefix). The caller owns the client: the store
// never closes it. New does no I/O. It panics if client is nil, a
// programming error.
func New(client redis.UniversalClient, opts ...Option) *Store {
	if client == nil {
		panic("redisstore: New called with a nil client")
	}
	s := &Store{
		client: client,
		prefix: withHashTag(DefaultKeyPrefix),
	}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// KeyPrefix returns the prefix of every key the store writes, hash tag
// included, for operators inspecting Redis.
func (s *Store) KeyPrefix() string { return s.prefix }

// withHashTag returns prefix unchanged when Redis Cluster would find a hash
// tag in it, and wrapped in braces otherwise.
func withHashTag(prefix string) string {
	if i := strings.IndexByte(prefix, '{'); i >= 0 {
		if j := strings.IndexByte(prefix[i+1:], '}'); j > 0 {
			return prefix
		}
	}
	return "{" + prefix + "}"
}

func (s *Store) tokenKey(jti string) string   { return s.prefix + "t:" + jti }
func (s *Store) familyKey(fam string) string  { return s.prefix + "f:" + fam }
func (s *Store) userKey(userID string) string { return s.prefix + "u:" + userID }

// Issue implements [jwtpair.Store.Issue]. It refuses, wrapping
// [jwtpair.ErrStoreUnavailable], a jti that is already recorded and a
// FamilyID that names another user's family, and answers
// [jwtpair.ErrTokenBlacklisted] for a FamilyID that names a revoked family;
// it records nothing in those cases. The same Issue again (go-redis resending
// it after a lost reply: same jti, family, user and expiry, the token still
// active) succeeds without change. One round trip.
func (s *Store) Issue(ctx context.Context, rec jwtpair.Record) error {
	res, err := issueScript.Run(ctx, s.client,
		[]string{s.tokenKey(rec.JTI), s.familyKey(rec.FamilyID), s.userKey(rec.UserID)},
		rec.FamilyID, rec.UserID, nanos(rec.ExpiresAt), millis(rec.ExpiresAt), s.prefix,
	).Int()
	return result("issue", res, err)
}

// Rotate implements [jwtpair.Store.Rotate] in one round trip: a single
// script consumes the presented token, detects replay and reuse (revoking
// the family) and records the successor, atomically. The grace window is
// measured on Redis's clock (TIME), to the microsecond, and replays are
// counted on the consumed token's record.
//
// A rotation retried with the same successor jti after it succeeded (the
// client lost the reply and resent the command) succeeds again without
// change instead of being taken for reuse, as long as neither the presented
// token nor its family has been revoked and the successor is still active;
// otherwise the presented token is judged as usual (revoked, reuse). Another
// record already holding next.JTI is refused, wrapping
// [jwtpair.ErrStoreUnavailable], and nothing changes.
func (s *Store) Rotate(ctx context.Context, presentedJTI string, next jwtpair.Record, opts jwtpair.RotateOptions) error {
	keep := "0"
	if opts.KeepPresented {
		keep = "1"
	}
	res, err := rotateScript.Run(ctx, s.client,
		[]string{s.tokenKey(presentedJTI), s.tokenKey(next.JTI)},
		s.prefix, presentedJTI, graceMicros(opts.Grace), maxReplays, keep,
		nanos(next.ExpiresAt), millis(next.ExpiresAt),
	).Int()
	return result("rotate", res, err)
}

// Check implements [jwtpair.Store.Check]. One round trip.
func (s *Store) Check(ctx context.Context, jti string) error {
	res, err := checkScript.Run(ctx, s.client, []string{s.tokenKey(jti)}, s.prefix).Int()
	return result("check", res, err)
}

// Revoke implements [jwtpair.Store.Revoke]: it revokes the token's family,
// ending the session with every rotation and grace sibling of it. A token
// whose family or user was revoked counts as already revoked. One round
// trip.
func (s *Store) Revoke(ctx context.Context, jti string) error {
	res, err := revokeScript.Run(ctx, s.client, []string{s.tokenKey(jti)}, s.prefix).Int()
	return result("revoke", res, err)
}

// RevokeFamily implements [jwtpair.Store.RevokeFamily]. The revocation is
// kept as long as the family's latest token would live. An unknown family
// is not remembered: a later Issue naming it starts a fresh family. One
// round trip.
func (s *Store) RevokeFamily(ctx context.Context, familyID string) error {
	res, err := revokeFamilyScript.Run(ctx, s.client, []string{s.familyKey(familyID)}).Int()
	return result("revoke family", res, err)
}

// RevokeUser implements [jwtpair.Store.RevokeUser] from a per-user index of
// families, without scanning the keyspace: its cost is proportional to the
// user's indexed families. Every indexed family whose key Redis still holds
// is revoked, whatever the scores say. One round trip.
func (s *Store) RevokeUser(ctx context.Context, userID string) error {
	res, err := revokeUserScript.Run(ctx, s.client, []string{s.userKey(userID)}, s.prefix).Int()
	return result("revoke user", res, err)
}

// result maps a script's answer to the store contract's errors.
func result(op string, code int, err error) error {
	if err != nil {
		return fmt.Errorf("redisstore: %s: %w: %w", op, jwtpair.ErrStoreUnavailable, err)
	}
	switch code {
	case codeOK:
		return nil
	case codeNotFound:
		return jwtpair.ErrTokenNotFound
	case codeBlacklisted:
		return jwtpair.ErrTokenBlacklisted
	case codeReused:
		return jwtpair.ErrTokenReused
	case codeDuplicate:
		return fmt.Errorf("redisstore: %s: %w: jti already recorded", op, jwtpair.ErrStoreUnavailable)
	case codeFamilyUser:
		return fmt.Errorf("redisstore: %s: %w: family belongs to another user", op, jwtpair.ErrStoreUnavailable)
	}
	return fmt.Errorf("redisstore: %s: %w: unexpected script result %d", op, jwtpair.ErrStoreUnavailable, code)
}

// maxReplays is jwtpair.MaxGraceReplays as a script argument.
var maxReplays = strconv.Itoa(jwtpair.MaxGraceReplays)

// graceMicros formats the grace window in whole microseconds, the precision
// of Redis's clock: a replay consumed c µs ago is inside a window of g ns
// exactly when c ≤ ⌊g/1000⌋. A window under 1 µs forgives only a replay in
// the same microsecond; "-1" stands for none (zero or less).
func graceMicros(g time.Duration) string {
	if g <= 0 {
		return "-1"
	}
	return strconv.FormatInt(int64(g/time.Microsecond), 10)
}

// maxNanos is the last instant whose Unix nanoseconds fit in an int64.
var maxNanos = time.Unix(0, math.MaxInt64)

// nanos formats t as Unix nanoseconds in 19 zero-padded digits, so that
// string order is time order; instants before 1970 clamp to zero and those
// after 2262 to the largest int64.
func nanos(t time.Time) string {
	var n int64
	switch {
	case t.Before(time.Unix(0, 0)):
		n = 0
	case t.After(maxNanos):
		n = math.MaxInt64
	default:
		n = t.UnixNano()
	}
	var buf [19]byte
	for i := len(buf) - 1; i >= 0; i-- {
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	return string(buf[:])
}

// millis formats t as Unix milliseconds for PEXPIREAT and scores; instants
// before 1970 clamp to zero (an already expired key).
func millis(t time.Time) string {
	ms := t.UnixMilli()
	if ms < 0 {
		ms = 0
	}
	return strconv.FormatInt(ms, 10)
}
