package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jwtpair/jwtpair"
)

// bulkPipeline is how many sessions one pipeline of BulkIssue writes.
const bulkPipeline = 1000

// BulkIssue records every rec as s.Issue(ctx, rec, opts) records the first
// session of a new user: the same keys with the same fields, values and
// expiries (TestBulkIssueIsIssue compares them), written by plain commands
// in pipelines rather than by the Issue script, a round trip each. It is
// the loader of the scale benchmark (scale_test.go) and checks nothing
// Issue checks: every rec must be the only session of a user the store
// does not know, with a jti and a session id never recorded.
func (s *Store) BulkIssue(ctx context.Context, recs []jwtpair.Record, opts jwtpair.IssueOptions) error {
	client := ""
	if len(opts.Client) > 0 {
		b, err := json.Marshal(opts.Client)
		if err != nil {
			return err
		}
		client = string(b)
	}
	for lo := 0; lo < len(recs); lo += bulkPipeline {
		// The scripts' clock: Redis's, in µs, written as ns.
		now, err := s.client.Time(ctx).Result()
		if err != nil {
			return err
		}
		us := now.UnixMicro()
		nowns := fmt.Sprintf("%016d000", us)
		pipe := s.client.Pipeline()
		for _, rec := range recs[lo:min(lo+bulkPipeline, len(recs))] {
			u := s.user(rec.UserID)
			exp, ms := nanos(rec.ExpiresAt), rec.ExpiresAt.UnixMilli()
			at := time.UnixMilli(ms)
			pipe.HSet(ctx, u.token(rec.JTI), "s", "a", "i", rec.SessionID, "e", exp)
			pipe.PExpireAt(ctx, u.token(rec.JTI), at)
			ses := []any{"u", rec.UserID, "c", nowns, "l", nowns, "x", exp, "j", rec.JTI}
			if !opts.AbsoluteExpiry.IsZero() {
				ses = append(ses, "a", nanos(opts.AbsoluteExpiry))
			}
			pipe.HSet(ctx, u.session(rec.SessionID), ses...)
			pipe.PExpireAt(ctx, u.session(rec.SessionID), at)
			if client != "" {
				pipe.Do(ctx, "SET", u.base+"m:"+rec.SessionID, client, "PXAT", ms) // SetArgs's ExpireAt is in seconds
			}
			pipe.ZAdd(ctx, u.index(), redis.Z{Score: float64(us), Member: rec.SessionID})
			pipe.PExpireAt(ctx, u.index(), at)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

// MigrateKeysBetween is MigrateKeys calling between after its first pass,
// where a straggling old instance would write.
func (s *Store) MigrateKeysBetween(ctx context.Context, oldPrefix string, maxSessionAge time.Duration, between func()) (MigrateReport, error) {
	return s.migrateKeys(ctx, oldPrefix, maxSessionAge, between)
}
