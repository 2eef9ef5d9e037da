package redisstore_test

import (
	"testing"

	"github.com/jwtpair/jwtpair/redisstore"
	"github.com/jwtpair/jwtpair/storetest"
)

// BenchmarkRotate measures refresh-token rotation, one script round trip
// each.
func BenchmarkRotate(b *testing.B) {
	c := newClient(b)
	storetest.RotateBenchmark(b, redisstore.New(c, redisstore.WithKeyPrefix(newPrefix(b, c))))
}
