package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jwtpair/jwtpair"
	"github.com/redis/go-redis/v9"
)

// DefaultKeyPrefix is the key prefix used unless [WithKeyPrefix] sets another:
// keys look like "jwtpair:{u:42}:t:<jti>" (see the package documentation).
const DefaultKeyPrefix = "jwtpair:"

// DefaultRevocationRetention is how long the revocation feed keeps an entry
// unless [WithRevocationRetention] sets another duration.
const DefaultRevocationRetention = time.Hour

// Store is a [jwtpair.Store] and [jwtpair.RevocationFeed] backed by Redis.
// Create it with [New]; it is safe for concurrent use by many goroutines and
// many processes sharing the same Redis and key prefix. It starts no
// goroutine and needs no Close.
type Store struct {
	client    redis.UniversalClient
	prefix    string        // key prefix, without any hash tag
	feedKey   string        // the revocation stream
	retention time.Duration // how long the feed keeps an entry
	retMillis any           // retention in ms, as the scripts take it (boxed once)
}

var (
	_ jwtpair.Store          = (*Store)(nil)
	_ jwtpair.RevocationFeed = (*Store)(nil)
)

// Option configures a [Store].
type Option func(*Store)

// WithKeyPrefix sets the prefix of every key the store writes. Default:
// [DefaultKeyPrefix]; an empty prefix means the default. Stores with
// different prefixes on one Redis are fully independent.
//
// The prefix must not contain '{' or '}': the store puts a Redis Cluster
// hash tag of its own after it, one per user, and a brace in the prefix
// would change which part of the key Redis hashes. [New] panics on such a
// prefix.
func WithKeyPrefix(prefix string) Option {
	return func(s *Store) {
		if prefix == "" {
			prefix = DefaultKeyPrefix
		}
		s.prefix = prefix
	}
}

// WithRevocationRetention sets how long the revocation feed keeps an entry
// ([jwtpair.RevocationFeed.RevocationRetention]). Default:
// [DefaultRevocationRetention] (one hour); zero or less means the default.
// It must cover the longest access (or sliding) token a revocation must stop,
// leeway included: jwtpair.New refuses an Auth whose tokens outlive it. A
// longer retention keeps more entries in Redis and gives a starting instance
// more to read.
func WithRevocationRetention(d time.Duration) Option {
	return func(s *Store) {
		if d <= 0 {
			d = DefaultRevocationRetention
		}
		s.retention = d
	}
}

// New returns a Store using client, which may be a *redis.Client, a
// *redis.ClusterClient, a failover client or a *redis.Ring. The caller owns
// the client: the store never closes it. New does no I/O. It panics if
// client is nil or the key prefix contains a brace, programming errors.
//
// The revocation feed holds one connection of the client's pool for as long
// as a Revocations call waits: give the client one connection per Auth
// reading the feed beyond what requests need (see the package
// documentation).
func New(client redis.UniversalClient, opts ...Option) *Store {
	if client == nil {
		panic("redisstore: New called with a nil client")
	}
	s := &Store{client: client, prefix: DefaultKeyPrefix, retention: DefaultRevocationRetention}
	for _, opt := range opts {
		opt(s)
	}
	if strings.ContainsAny(s.prefix, "{}") {
		panic(fmt.Sprintf("redisstore: key prefix %q contains a brace; the store adds the hash tags itself", s.prefix))
	}
	s.feedKey = s.prefix + "{feed}"
	s.retMillis = any(strconv.FormatInt(max(s.retention.Milliseconds(), 1), 10))
	return s
}

// KeyPrefix returns the prefix of every key the store writes, for operators
// inspecting Redis.
func (s *Store) KeyPrefix() string { return s.prefix }

// maxPlainUserID bounds the user ids that appear in keys as they are; longer
// ones are hashed, so that no key grows with the id.
const maxPlainUserID = 64

// userKeys are the keys of one user, all in the slot of the user's tag.
type userKeys struct {
	base string // prefix, tag and ":": the scripts build session keys from it
}

// user returns the keys of a user. Their hash tag is "{u:<id>}" when the id
// is at most 64 printable ASCII characters without braces, and otherwise
// "{h:<32 hex digits of its SHA-256>}". Either way the tag holds no brace,
// so Redis Cluster hashes exactly it, and two ids never share a tag (short
// of a 128-bit hash collision, which the scripts still catch: every session
// records its user id, and a token is honoured only for its session's user).
func (s *Store) user(userID string) userKeys {
	if len(userID) <= maxPlainUserID && plain(userID) {
		return userKeys{base: s.prefix + "{u:" + userID + "}:"}
	}
	sum := sha256.Sum256([]byte(userID))
	return userKeys{base: s.prefix + "{h:" + hex.EncodeToString(sum[:16]) + "}:"}
}

// plain reports whether id has only printable ASCII characters other than
// braces.
func plain(id string) bool {
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c > '~' || c == '{' || c == '}' {
			return false
		}
	}
	return true
}

func (u userKeys) token(jti string) string   { return u.base + "t:" + jti }
func (u userKeys) session(sid string) string { return u.base + "s:" + sid }
func (u userKeys) index() string             { return u.base + "i" }
func (u userKeys) pending() string           { return u.base + "p" }

// Issue implements [jwtpair.Store.Issue] in one round trip, or three when
// the per-user cap evicts sessions (the script, then the feed entries, then
// their acknowledgement; see the package documentation). The same Issue
// again (go-redis resending it after a lost reply: same jti, session and
// expiry, the token still active and its session live) succeeds without
// change, and reports no evicted session (those of the first run, whose
// reply was lost, are not reported); any other Issue of a recorded jti or
// session id is refused, wrapping [jwtpair.ErrStoreUnavailable], and
// records nothing.
func (s *Store) Issue(ctx context.Context, first jwtpair.Record, opts jwtpair.IssueOptions) ([]string, error) {
	u := s.user(first.UserID)
	abs := ""
	if !opts.AbsoluteExpiry.IsZero() {
		abs = nanos(opts.AbsoluteExpiry)
	}
	client := ""
	if len(opts.Client) > 0 {
		b, err := json.Marshal(opts.Client)
		if err != nil { // a map[string]string always marshals
			return nil, fmt.Errorf("redisstore: issue: %w: %w", jwtpair.ErrStoreUnavailable, err)
		}
		client = string(b)
	}
	res, err := issueScript.Run(ctx, s.client,
		[]string{u.token(first.JTI), u.session(first.SessionID), u.index(), u.pending()},
		u.base, first.UserID, first.SessionID, nanos(first.ExpiresAt), millis(first.ExpiresAt),
		abs, client, max(opts.MaxSessions, 0), s.retMillis, first.JTI,
	).Result()
	var evicted []string
	if err == nil {
		res, evicted, err = splitIssueReply(res)
	}
	if err := s.finish(ctx, "issue", first.UserID, res, err); err != nil {
		return nil, err
	}
	return evicted, nil
}

// splitIssueReply splits issueScript's answer into the answer finish
// reads and the ids of the sessions the cap evicted (nil for none).
func splitIssueReply(res any) (any, []string, error) {
	pair, ok := res.([]any)
	if !ok || len(pair) != 2 {
		return nil, nil, fmt.Errorf("unexpected issue reply %v", res)
	}
	ids, ok := pair[1].([]any)
	if !ok {
		return nil, nil, fmt.Errorf("unexpected evicted sessions %v", pair[1])
	}
	var evicted []string
	for _, id := range ids {
		sid, ok := id.(string)
		if !ok {
			return nil, nil, fmt.Errorf("unexpected evicted session %v", id)
		}
		evicted = append(evicted, sid)
	}
	return pair[0], evicted, nil
}

// Rotate implements [jwtpair.Store.Rotate] in one round trip: a single
// script consumes the presented token, detects replay and reuse, and records
// the successor, atomically. The grace window is measured on Redis's clock
// (TIME), to the microsecond, and replays are counted on the consumed
// token's record. Detected reuse ends the session and costs two more round
// trips, to record it in the feed (see the package documentation).
//
// A rotation retried with the same successor jti after it succeeded (the
// client lost the reply and resent the command) succeeds again without
// change instead of being taken for reuse, as long as the session is live
// and the successor still active; otherwise the presented token is judged
// as usual. Another record already holding next.JTI is refused, wrapping
// [jwtpair.ErrStoreUnavailable], and nothing changes.
func (s *Store) Rotate(ctx context.Context, presented jwtpair.Token, next jwtpair.Record, opts jwtpair.RotateOptions) error {
	u := s.user(presented.UserID)
	keep := keepArg[0]
	if opts.KeepPresented {
		keep = keepArg[1]
	}
	res, err := rotateScript.Run(ctx, s.client,
		[]string{u.token(presented.JTI), u.token(next.JTI)},
		u.base, presented.JTI, presented.UserID, presented.SessionID,
		graceMicros(opts.Grace), maxReplays, keep,
		nanos(next.ExpiresAt), millis(next.ExpiresAt), s.retMillis, next.JTI,
	).Result()
	return s.finish(ctx, "rotate", presented.UserID, res, err)
}

// Check implements [jwtpair.Store.Check]. One round trip.
func (s *Store) Check(ctx context.Context, presented jwtpair.Token) error {
	u := s.user(presented.UserID)
	res, err := checkScript.Run(ctx, s.client, []string{u.token(presented.JTI)},
		u.base, presented.UserID, presented.SessionID).Result()
	return s.finish(ctx, "check", presented.UserID, res, err)
}

// Revoke implements [jwtpair.Store.Revoke]: it ends the token's session,
// with every rotation and grace sibling of it. Three round trips: the
// script, the feed entry, its acknowledgement (one when the token is unknown
// or its session had ended).
func (s *Store) Revoke(ctx context.Context, presented jwtpair.Token) error {
	u := s.user(presented.UserID)
	res, err := revokeScript.Run(ctx, s.client, []string{u.token(presented.JTI)},
		u.base, presented.UserID, presented.SessionID, s.retMillis).Result()
	return s.finish(ctx, "revoke", presented.UserID, res, err)
}

// EndSession implements [jwtpair.Store.EndSession]: one round trip when
// there is nothing to end, three when it ends the session.
func (s *Store) EndSession(ctx context.Context, userID, sessionID string) error {
	u := s.user(userID)
	res, err := endSessionScript.Run(ctx, s.client,
		[]string{u.session(sessionID), u.index(), u.pending()},
		u.base, userID, sessionID, s.retMillis).Result()
	return s.finish(ctx, "end session", userID, res, err)
}

// EndSessions implements [jwtpair.Store.EndSessions] from the user's index
// of sessions, without scanning the keyspace: its cost is proportional to
// the user's indexed sessions. One round trip when there is nothing to end,
// three otherwise. With keep "" it also records the user-wide revocation
// (SessionID "") the contract asks for.
func (s *Store) EndSessions(ctx context.Context, userID, keep string) error {
	u := s.user(userID)
	res, err := endSessionsScript.Run(ctx, s.client, []string{u.index(), u.pending()},
		u.base, userID, keep, s.retMillis).Result()
	return s.finish(ctx, "end sessions", userID, res, err)
}

// Sessions implements [jwtpair.Store.Sessions]. One round trip.
func (s *Store) Sessions(ctx context.Context, userID string) ([]jwtpair.Session, error) {
	u := s.user(userID)
	rows, err := sessionsScript.Run(ctx, s.client, []string{u.index()}, u.base, userID).StringSlice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, unavailable("sessions", err)
	}
	const width = 6 // sid, created, last refreshed, idle expiry, absolute expiry, client
	if len(rows)%width != 0 {
		return nil, unavailable("sessions", fmt.Errorf("unexpected reply of %d fields", len(rows)))
	}
	var out []jwtpair.Session
	for i := 0; i+width <= len(rows); i += width {
		r := rows[i : i+width]
		ses := jwtpair.Session{
			ID: r[0], UserID: userID,
			Created: fromNanos(r[1]), LastRefreshed: fromNanos(r[2]), ExpiresAt: fromNanos(r[3]),
		}
		if r[4] != "" {
			ses.AbsoluteExpiry = fromNanos(r[4])
		}
		if r[5] != "" {
			if err := json.Unmarshal([]byte(r[5]), &ses.Client); err != nil {
				return nil, unavailable("sessions", fmt.Errorf("session %q: client metadata: %w", r[0], err))
			}
		}
		out = append(out, ses)
	}
	return out, nil
}

// Result codes of the scripts. A script answers its code alone, or, when the
// user has revocations not yet in the feed, an array: the code, then pairs
// of a pending entry ("s:<sid>" or "u") and its time in µs.
const (
	codeOK          = 0
	codeNotFound    = 1
	codeBlacklisted = 2
	codeReused      = 3
	codeDuplicate   = 4
)

// finish reads a script's answer: it records the revocations the script
// reports in the feed, then maps the code to the store contract's errors.
// When the feed entries cannot be written the method fails, wrapping
// jwtpair.ErrStoreUnavailable, whatever the code: the sessions stay ended
// and their entries pending in the user's keys, and the next ending call for
// the user (a retry) writes them again.
func (s *Store) finish(ctx context.Context, op, userID string, res any, err error) error {
	if err != nil {
		return unavailable(op, err)
	}
	code, pending, err := parseReply(res)
	if err != nil {
		return unavailable(op, err)
	}
	if len(pending) > 0 {
		if err := s.record(ctx, userID, pending); err != nil {
			return unavailable(op+": recording the ended sessions in the revocation feed", err)
		}
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
		return fmt.Errorf("redisstore: %s: %w: jti or session already recorded", op, jwtpair.ErrStoreUnavailable)
	}
	return fmt.Errorf("redisstore: %s: %w: unexpected script result %d", op, jwtpair.ErrStoreUnavailable, code)
}

// parseReply splits a script's answer into its code and pending entries.
func parseReply(res any) (int64, []any, error) {
	switch r := res.(type) {
	case int64:
		return r, nil, nil
	case []any:
		if len(r)%2 == 1 {
			if code, ok := r[0].(int64); ok {
				return code, r[1:], nil
			}
		}
	}
	return 0, nil, fmt.Errorf("unexpected script reply %v", res)
}

func unavailable(op string, err error) error {
	return fmt.Errorf("redisstore: %s: %w: %w", op, jwtpair.ErrStoreUnavailable, err)
}

// Script arguments boxed once, not per call.
var (
	maxReplays any = strconv.Itoa(jwtpair.MaxGraceReplays)
	keepArg        = [2]any{"0", "1"}
	noGrace    any = "-1"
)

// graceMicros formats the grace window in whole microseconds, the precision
// of Redis's clock: a replay consumed c µs ago is inside a window of g ns
// exactly when c ≤ ⌊g/1000⌋. A window under 1 µs forgives only a replay in
// the same microsecond; "-1" stands for none (zero or less).
func graceMicros(g time.Duration) any {
	if g <= 0 {
		return noGrace
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

// fromNanos reads a time written by nanos (or by the scripts' clock).
func fromNanos(s string) time.Time {
	n, _ := strconv.ParseInt(s, 10, 64)
	return time.Unix(0, n)
}

// millis formats t as Unix milliseconds for PEXPIREAT; instants before 1970
// clamp to zero (an already expired key).
func millis(t time.Time) string {
	ms := t.UnixMilli()
	if ms < 0 {
		ms = 0
	}
	return strconv.FormatInt(ms, 10)
}
