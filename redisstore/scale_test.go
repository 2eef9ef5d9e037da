package redisstore_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
	"github.com/jwtpair/jwtpair/internal/scalebench"
	"github.com/jwtpair/jwtpair/redisstore"
	"github.com/jwtpair/jwtpair/storetest"
)

// BenchmarkScale measures the store holding many live sessions, loaded
// in pipelines by BulkIssue (internal/scalebench documents the
// sub-benchmarks and the environment; bench/scale.sh runs it with 10k to
// 1M sessions). Besides the driver's figures, each rotation run reports
// what Redis spent on it, from its own counters: server-ns/op, the time in
// the rotation script (INFO commandstats, EVALSHA), and cpu-ns/op, the
// server's CPU time (INFO cpu: the script, reading the command and writing
// the reply). The limit is EVALSHA of a script that returns 1, through
// the same client.
func BenchmarkScale(b *testing.B) {
	c := newClient(b)
	prefix := "jwtpairscale:" + storetest.NewID()[:12] + ":"
	b.Cleanup(func() { unlinkKeys(c, prefix+"*") })
	s := redisstore.New(c, redisstore.WithKeyPrefix(prefix))
	trivial := redis.NewScript("return 1")
	scalebench.Run(b, scalebench.Backend{
		Name:  "redis",
		Store: s,
		Load: func(ctx context.Context, recs []jwtpair.Record) error {
			return s.BulkIssue(ctx, recs, scalebench.IssueOptions())
		},
		Stats: func(ctx context.Context, sample []jwtpair.Record) (map[string]float64, error) {
			return redisStats(ctx, c, s.KeyPrefix(), sample)
		},
		Measure: func(ctx context.Context) (func(context.Context, int) (map[string]float64, error), error) {
			before, err := serverCounters(ctx, c)
			if err != nil {
				return nil, err
			}
			return func(ctx context.Context, ops int) (map[string]float64, error) {
				after, err := serverCounters(ctx, c)
				if err != nil {
					return nil, err
				}
				return map[string]float64{
					"server-ns/op": (after.scriptUsec - before.scriptUsec) * 1e3 / float64(ops),
					"cpu-ns/op":    (after.cpuSec - before.cpuSec) * 1e9 / float64(ops),
				}, nil
			}, nil
		},
		Limit: func(ctx context.Context) error { return trivial.Run(ctx, c, nil).Err() },
	})
}

// TestBulkIssueIsIssue proves the scale benchmark's loader records exactly
// what Issue records: the same keys, fields and values (times aside), the
// same expiries; and the session it loads rotates, lists and logs out as
// an issued one.
func TestBulkIssueIsIssue(t *testing.T) {
	s, c := newStore(t)
	ctx := t.Context()
	opts := scalebench.IssueOptions()
	issued, bulk := recordOf(newUser()), recordOf(newUser())
	bulk.ExpiresAt = issued.ExpiresAt
	_, err := s.Issue(ctx, issued, opts)
	require.NoError(t, err)
	require.NoError(t, s.BulkIssue(ctx, []jwtpair.Record{bulk}, opts))

	keys := func(rec jwtpair.Record) []string {
		base := s.KeyPrefix() + "{u:" + rec.UserID + "}:"
		return []string{base + "s:" + rec.SessionID, base + "m:" + rec.SessionID, base + "i", base + "t:" + rec.JTI}
	}
	// Each key's type, TTL and value, with the ids and times of rec
	// replaced by placeholders.
	dump := func(rec jwtpair.Record) []string {
		ids := strings.NewReplacer(rec.UserID, "USER", rec.SessionID, "SID", rec.JTI, "JTI")
		var out []string
		for _, k := range keys(rec) {
			typ, err := c.Type(ctx, k).Result()
			require.NoError(t, err)
			exp, err := c.PExpireTime(ctx, k).Result()
			require.NoError(t, err)
			v := ""
			switch typ {
			case "hash":
				h, err := c.HGetAll(ctx, k).Result()
				require.NoError(t, err)
				for _, f := range []string{"c", "l"} { // a session's created, last refreshed: the script's clock
					if _, ok := h[f]; ok {
						require.Len(t, h[f], 19, f)
						h[f] = "TIME"
					}
				}
				v = fmt.Sprint(h)
			case "string":
				v, err = c.Get(ctx, k).Result()
				require.NoError(t, err)
			case "zset":
				z, err := c.ZRangeWithScores(ctx, k, 0, -1).Result()
				require.NoError(t, err)
				require.Len(t, z, 1)
				v = fmt.Sprint(z[0].Member) // its score is the login's time
			}
			out = append(out, ids.Replace(k+" "+typ+" "+v), strconv.FormatInt(int64(exp), 10))
		}
		return out
	}
	require.Equal(t, dump(issued), dump(bulk))

	got, err := s.Sessions(ctx, bulk.UserID)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, bulk.SessionID, got[0].ID)
	require.Equal(t, opts.Client, got[0].Client)
	n := recordOf(bulk.UserID)
	require.NoError(t, s.Rotate(ctx, succ(bulk, bulk), n, jwtpair.RotateOptions{}))
	require.ErrorIs(t, s.Rotate(ctx, succ(bulk, bulk), recordOf(bulk.UserID), jwtpair.RotateOptions{}), jwtpair.ErrTokenReused)

}

// redisStats reads used_memory, the number of keys, and, over sample,
// the MEMORY USAGE of every key of a session (its hash, its client
// metadata, its user's index, its first token), per session.
func redisStats(ctx context.Context, c *redis.Client, prefix string, sample []jwtpair.Record) (map[string]float64, error) {
	info, err := c.Info(ctx, "memory").Result()
	if err != nil {
		return nil, err
	}
	used, err := strconv.ParseFloat(infoField(info, "used_memory"), 64)
	if err != nil {
		return nil, fmt.Errorf("INFO memory used_memory: %w", err)
	}
	keys, err := c.DBSize(ctx).Result()
	if err != nil {
		return nil, err
	}
	out := map[string]float64{"used_memory_bytes": used, "keys": float64(keys)}
	if len(sample) == 0 {
		return out, nil
	}
	pipe := c.Pipeline()
	var cmds []*redis.IntCmd
	for _, rec := range sample {
		base := prefix + "{u:" + rec.UserID + "}:"
		for _, k := range []string{base + "s:" + rec.SessionID, base + "m:" + rec.SessionID, base + "i", base + "t:" + rec.JTI} {
			cmds = append(cmds, pipe.MemoryUsage(ctx, k, 0))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("MEMORY USAGE: %w", err)
	}
	var total int64
	for _, cmd := range cmds {
		total += cmd.Val()
	}
	out["memory_usage_per_session"] = float64(total) / float64(len(sample))
	return out, nil
}

// counters are Redis's cumulative counters a rotation run reads.
type counters struct {
	scriptUsec float64 // µs spent in EVALSHA and EVAL
	cpuSec     float64 // used_cpu_user + used_cpu_sys of the server
}

func serverCounters(ctx context.Context, c *redis.Client) (counters, error) {
	info, err := c.Info(ctx, "commandstats", "cpu").Result()
	if err != nil {
		return counters{}, err
	}
	var k counters
	for _, cmd := range []string{"cmdstat_evalsha", "cmdstat_eval"} {
		for _, kv := range strings.Split(infoField(info, cmd), ",") {
			if v, ok := strings.CutPrefix(kv, "usec="); ok {
				n, _ := strconv.ParseFloat(v, 64)
				k.scriptUsec += n
			}
		}
	}
	for _, f := range []string{"used_cpu_user", "used_cpu_sys"} {
		v, err := strconv.ParseFloat(infoField(info, f), 64)
		if err != nil {
			return counters{}, fmt.Errorf("INFO cpu %s: %w", f, err)
		}
		k.cpuSec += v
	}
	return k, nil
}

// infoField returns the value of field in INFO output, "" when absent.
func infoField(info, field string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v
		}
	}
	return ""
}

// unlinkKeys removes the keys matching pattern, in pipelines: the scale
// benchmark leaves millions.
func unlinkKeys(c *redis.Client, pattern string) {
	ctx := context.Background()
	iter := c.Scan(ctx, 0, pattern, 10000).Iterator()
	batch := make([]string, 0, 10000)
	flush := func() {
		if len(batch) > 0 {
			c.Unlink(ctx, batch...)
			batch = batch[:0]
		}
	}
	for iter.Next(ctx) {
		if batch = append(batch, iter.Val()); len(batch) == cap(batch) {
			flush()
		}
	}
	flush()
}
