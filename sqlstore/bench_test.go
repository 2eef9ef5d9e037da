package sqlstore_test

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtpair/jwtpair"
)

// BenchmarkRotate measures refresh-token rotation per backend: one
// statement on PostgreSQL, one transaction on SQLite. Every parallel worker
// rotates its own chain, so the rotations never conflict on a row.
func BenchmarkRotate(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			if be.name == postgresBackend.name {
				postgresURL(b)
			}
			s := newStore(b, be)
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
		})
	}
}
