package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jwtpair/jwtpair"
	"github.com/redis/go-redis/v9"
)

// The revocation feed is one Redis stream per key prefix, "<prefix>{feed}",
// in a slot of its own. See the package documentation for the design and
// its guarantees.

// feedPage is how many entries one XRANGE or XREAD asks for; a call reads
// pages until it has every entry recorded before it started.
const feedPage = 1000

// RevocationRetention implements [jwtpair.RevocationFeed]: see
// [WithRevocationRetention].
func (s *Store) RevocationRetention() time.Duration { return s.retention }

// Revocations implements [jwtpair.RevocationFeed.Revocations] on the
// revocation stream. The cursor is the id of the last stream entry returned
// ("<ms>-<seq>", milliseconds of Redis's clock), or "0-0" when the stream
// held nothing; it is only meaningful to this store's prefix on this Redis.
//
// With the empty cursor it reads the whole stream (XRANGE, in pages): every
// revocation retained. Otherwise it blocks on XREAD BLOCK for at most wait
// (rounded down to whole milliseconds; under a millisecond it does not
// block), and returns as soon as an entry arrives, with every entry after
// the cursor. The blocking read holds a connection of the client's pool
// while it waits, and go-redis gives it wait plus 10 s to answer. Unless the
// client sets ContextTimeoutEnabled, go-redis does not interrupt a read when
// ctx is cancelled, so a cancelled call returns once wait has passed, with
// an error.
//
// An unusable cursor, and any Redis failure, is an error wrapping
// [jwtpair.ErrStoreUnavailable]; the caller tries again with the same
// cursor and misses nothing the stream still holds.
func (s *Store) Revocations(ctx context.Context, cursor string, wait time.Duration) ([]jwtpair.Revocation, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", unavailable("revocations", err)
	}
	var out []jwtpair.Revocation
	if cursor == "" {
		last := ""
		for {
			from := "-"
			if last != "" {
				from = "(" + last
			}
			msgs, err := s.client.XRangeN(ctx, s.feedKey, from, "+", feedPage).Result()
			if err != nil {
				return nil, "", unavailable("revocations", err)
			}
			if len(msgs) > 0 {
				out = appendRevocations(out, msgs)
				last = msgs[len(msgs)-1].ID
			}
			if len(msgs) < feedPage {
				break
			}
		}
		if last != "" {
			return out, last, nil
		}
		cursor = "0-0" // the stream was empty: every later entry is new
	} else if !validCursor(cursor) {
		return nil, "", unavailable("revocations", fmt.Errorf("invalid cursor %q", cursor))
	}
	block := wait.Truncate(time.Millisecond)
	if block <= 0 {
		block = -1 // no BLOCK: BLOCK 0 would wait forever
	}
	for {
		streams, err := s.client.XRead(ctx, &redis.XReadArgs{
			Streams: []string{s.feedKey, cursor},
			Count:   feedPage,
			Block:   block,
		}).Result()
		if ctx.Err() != nil { // cancelled while blocked: the caller reads again
			return nil, "", unavailable("revocations", ctx.Err())
		}
		if errors.Is(err, redis.Nil) { // nothing before the block ended
			return out, cursor, nil
		}
		if err != nil {
			return nil, "", unavailable("revocations", err)
		}
		var msgs []redis.XMessage
		for _, st := range streams {
			msgs = append(msgs, st.Messages...)
		}
		if len(msgs) == 0 {
			return out, cursor, nil
		}
		out = appendRevocations(out, msgs)
		cursor = msgs[len(msgs)-1].ID
		if len(msgs) < feedPage {
			return out, cursor, nil
		}
		block = -1 // a full page: read on without waiting
	}
}

// appendRevocations decodes stream entries: u user id, s session id (absent
// for a user-wide revocation), a time in µs on Redis's clock. An entry
// without a user is skipped (nothing this store writes).
func appendRevocations(out []jwtpair.Revocation, msgs []redis.XMessage) []jwtpair.Revocation {
	for _, m := range msgs {
		user, ok := m.Values["u"].(string)
		if !ok {
			continue
		}
		sid, _ := m.Values["s"].(string)
		at, _ := m.Values["a"].(string)
		us, err := strconv.ParseInt(at, 10, 64)
		if err != nil { // fall back on the entry id, in ms
			ms, _, _ := strings.Cut(m.ID, "-")
			n, _ := strconv.ParseInt(ms, 10, 64)
			us = n * 1000
		}
		out = append(out, jwtpair.Revocation{UserID: user, SessionID: sid, At: time.UnixMicro(us)})
	}
	return out
}

// validCursor reports whether c is a stream id "<ms>-<seq>".
func validCursor(c string) bool {
	ms, seq, ok := strings.Cut(c, "-")
	return ok && digits(ms) && digits(seq)
}

func digits(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// record writes pending revocations of userID to the feed (one script on the
// stream's slot, which trims the stream by Redis's clock), then
// acknowledges them in the user's keys. Only a failed write is an error: an
// unacknowledged entry is written again by the user's next ending call, and
// the feed's readers apply entries idempotently.
func (s *Store) record(ctx context.Context, userID string, pending []any) error {
	args := make([]any, 0, 2+len(pending))
	args = append(args, s.retMillis, userID)
	args = append(args, pending...)
	if err := feedScript.Run(ctx, s.client, []string{s.feedKey}, args...).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	u := s.user(userID)
	_ = ackScript.Run(ctx, s.client, []string{u.pending()}, pending...).Err()
	return nil
}
