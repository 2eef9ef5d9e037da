package jwtpair_test

import (
	"testing"

	"github.com/jwtpair/jwtpair"
	"github.com/jwtpair/jwtpair/storetest"
)

// The conformance suite lives in package storetest, which imports jwtpair, so
// it runs from this external test package.
func TestMemoryStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) jwtpair.Store {
		s := jwtpair.NewMemoryStore()
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	})
}
