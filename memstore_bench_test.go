package jwtpair_test

import (
	"testing"

	"github.com/jwtpair/jwtpair"
	"github.com/jwtpair/jwtpair/storetest"
)

// BenchmarkRotate measures refresh-token rotation on the memory store, as
// redisstore's and sqlstore's BenchmarkRotate do on theirs. The workers
// share the store's one lock.
func BenchmarkRotate(b *testing.B) {
	s := jwtpair.NewMemoryStore()
	b.Cleanup(func() { _ = s.Close() })
	storetest.RotateBenchmark(b, s)
}
