package jwtpair_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/jwtpair/jwtpair"
	"github.com/jwtpair/jwtpair/internal/scalebench"
)

// BenchmarkScale measures the memory store holding many live sessions
// (internal/scalebench documents the sub-benchmarks and the environment;
// bench/scale.sh runs it with 10k to 1M sessions). Sessions are loaded
// through Issue; heap_bytes, the live heap after a collection, gives the
// bytes each loaded session takes.
func BenchmarkScale(b *testing.B) {
	s := jwtpair.NewMemoryStore()
	b.Cleanup(func() { _ = s.Close() })
	scalebench.Run(b, scalebench.Backend{
		Name:  "memory",
		Store: s,
		Stats: func(context.Context, []jwtpair.Record) (map[string]float64, error) {
			runtime.GC()
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			runtime.KeepAlive(s)
			return map[string]float64{"heap_bytes": float64(m.HeapAlloc), "records": float64(s.Len())}, nil
		},
	})
}
