package sqlstore_test

import (
	"testing"

	"github.com/jwtpair/jwtpair/storetest"
)

// BenchmarkRotate measures refresh-token rotation per backend: one
// statement on PostgreSQL, one transaction on SQLite.
func BenchmarkRotate(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			if be.name == postgresBackend.name {
				postgresURL(b)
			}
			storetest.RotateBenchmark(b, newStore(b, be))
		})
	}
}
