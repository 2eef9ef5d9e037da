package redisstore_test

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtpair/jwtpair"
	"github.com/jwtpair/jwtpair/redisstore"
)

// BenchmarkRotate measures refresh-token rotation, one script round trip
// each. Every parallel worker rotates its own chain, so the rotations never
// conflict.
func BenchmarkRotate(b *testing.B) {
	c := newClient(b)
	s := redisstore.New(c, redisstore.WithKeyPrefix(newPrefix(b, c)))
	run := newID()[:8]
	var workers atomic.Int64
	exp := time.Now().Add(time.Hour)
	b.SetParallelism(4) // I/O-bound: 4 workers per GOMAXPROCS keep the backend busy
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := b.Context()
		w := strconv.FormatInt(workers.Add(1), 16)
		jti := func(i int) string { return run + "-" + w + "-" + strconv.Itoa(i) }
		cur := jwtpair.Record{JTI: jti(0), UserID: "user-" + w, FamilyID: run + "-" + w, ExpiresAt: exp}
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
