package storetest

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtpair/jwtpair"
)

// RotateBenchmark measures refresh-token rotation on s under b.RunParallel,
// as the refresh endpoint calls Store.Rotate (no HTTP, no signing). It runs
// 4 workers per GOMAXPROCS (stores are I/O-bound), each rotating a chain of
// its own, so no two rotations contend for one token; ns/op is wall time
// over the rotations of all workers. Every store's BenchmarkRotate calls
// it, so bench/run.sh reports them alike:
//
//	func BenchmarkRotate(b *testing.B) { storetest.RotateBenchmark(b, mystore.New(…)) }
func RotateBenchmark(b *testing.B, s jwtpair.Store) {
	run := NewID()[:8] // a shared backend may hold an earlier run's records
	var workers atomic.Int64
	exp := time.Now().Add(time.Hour)
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := b.Context()
		w := run + "-" + strconv.FormatInt(workers.Add(1), 16)
		jti := func(i int) string { return w + "-" + strconv.Itoa(i) }
		cur := jwtpair.Record{JTI: jti(0), UserID: "user-" + w, SessionID: "session-" + w, ExpiresAt: exp}
		if _, err := s.Issue(ctx, cur, jwtpair.IssueOptions{}); err != nil {
			b.Error(err)
			return
		}
		for i := 1; pb.Next(); i++ {
			next := jwtpair.Record{JTI: jti(i), ExpiresAt: exp}
			if err := s.Rotate(ctx, TokenOf(cur), next, jwtpair.RotateOptions{}); err != nil {
				b.Error(err)
				return
			}
			cur.JTI = next.JTI
		}
	})
}
