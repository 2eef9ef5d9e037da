package redisstore_test

import (
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
	"github.com/jwtpair/jwtpair/redisstore"
	"github.com/jwtpair/jwtpair/storetest"
)

// BenchmarkRotate measures refresh-token rotation, one script round trip
// each.
func BenchmarkRotate(b *testing.B) {
	c := newClient(b)
	storetest.RotateBenchmark(b, redisstore.New(c, redisstore.WithKeyPrefix(newPrefix(b, c))))
}

// BenchmarkSessionMemory logs in b.N users (ns/op is one Issue, client
// metadata included) and reports the bytes Redis holds per session, by
// MEMORY USAGE of every key of a sample of them: a fresh session (its
// session hash; its client metadata, a 101-byte user agent and an IPv4
// address; its first token; its user's index), and one refreshed ten times
// (each rotation leaves the consumed token, kept until it expires, so that
// its reuse is detected).
func BenchmarkSessionMemory(b *testing.B) {
	for _, rotations := range []int{0, 10} {
		name := "fresh"
		if rotations > 0 {
			name = "rotated10"
		}
		b.Run(name, func(b *testing.B) {
			s, c := newStore(b)
			ctx := b.Context()
			opts := jwtpair.IssueOptions{
				MaxSessions: 50,
				// The client metadata of sqlstore's BenchmarkSessionBytes and
				// the memory store's TestMemoryStoreBytesPerSession, so that
				// BENCHMARKS.md compares like with like.
				Client: map[string]string{
					"user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
					"ip":         "203.0.113.42",
				},
			}
			sample := make([]jwtpair.Record, 0, 1000)
			b.ResetTimer()
			for range b.N {
				rec := storetest.NewRecord()
				if _, err := s.Issue(ctx, rec, opts); err != nil {
					b.Fatal(err)
				}
				if len(sample) < cap(sample) {
					sample = append(sample, rec)
				}
			}
			b.StopTimer()
			var total int64
			for _, rec := range sample {
				base := s.KeyPrefix() + "{u:" + rec.UserID + "}:"
				keys := []string{base + "s:" + rec.SessionID, base + "m:" + rec.SessionID, base + "i", base + "t:" + rec.JTI}
				cur := rec
				for range rotations {
					n := storetest.NewSuccessor()
					require.NoError(b, s.Rotate(ctx, succ(rec, cur), n, jwtpair.RotateOptions{}))
					keys = append(keys, base+"t:"+n.JTI)
					cur = n
				}
				total += memoryUsage(b, c, keys...)
			}
			b.ReportMetric(float64(total)/float64(len(sample)), "B/session")
		})
	}
}

// memoryUsage sums MEMORY USAGE (every element counted) of keys, which
// must exist.
func memoryUsage(tb testing.TB, c *redis.Client, keys ...string) int64 {
	tb.Helper()
	var total int64
	for _, k := range keys {
		n, err := c.MemoryUsage(tb.Context(), k, 0).Result()
		require.NoError(tb, err, k)
		total += n
	}
	return total
}
