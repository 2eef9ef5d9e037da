package jwtpair_test

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtpair/jwtpair"
)

// BenchmarkRotate measures refresh-token rotation on the memory store, the
// counterpart of redisstore's and sqlstore's BenchmarkRotate (same shape, so
// bench/run.sh reports all stores alike). Every parallel worker rotates its
// own chain, so the rotations never conflict on a token; they still share
// the store's one lock.
func BenchmarkRotate(b *testing.B) {
	s := jwtpair.NewMemoryStore()
	b.Cleanup(func() { _ = s.Close() })
	var workers atomic.Int64
	exp := time.Now().Add(time.Hour)
	b.SetParallelism(4) // as the other stores' benchmarks: 4 workers per GOMAXPROCS
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := b.Context()
		w := strconv.FormatInt(workers.Add(1), 16)
		jti := func(i int) string { return w + "-" + strconv.Itoa(i) }
		cur := jwtpair.Record{JTI: jti(0), UserID: "user-" + w, FamilyID: "family-" + w, ExpiresAt: exp}
		if err := s.Issue(ctx, cur); err != nil {
			b.Error(err)
			return
		}
		for i := 1; pb.Next(); i++ {
			next := jwtpair.Record{JTI: jti(i), ExpiresAt: exp}
			if err := s.Rotate(ctx, cur.JTI, next, jwtpair.RotateOptions{Now: time.Now()}); err != nil {
				b.Error(err)
				return
			}
			cur = next
		}
	})
}
