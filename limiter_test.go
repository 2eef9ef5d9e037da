package jwtpair_test

import (
	"testing"

	"github.com/jwtpair/jwtpair"
	"github.com/jwtpair/jwtpair/storetest"
)

// The memory limiter is its own backend: every "open" returns the same value.
func TestMemoryLimiterConformance(t *testing.T) {
	l := jwtpair.NewMemoryLimiter()
	storetest.RunLimiter(t, func(*testing.T) jwtpair.Limiter { return l })
}

// BenchmarkThrottledRefusal measures a refusal of the memory limiter (see
// storetest.LimiterBenchmark); BenchmarkThrottledLogin in throttle_test.go
// measures one through the obtain endpoint.
func BenchmarkThrottledRefusal(b *testing.B) {
	storetest.LimiterBenchmark(b, jwtpair.NewMemoryLimiter())
}
