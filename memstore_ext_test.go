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

// The memory store is its own backend: every "open" returns the same value.
func TestMemoryStoreShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) storetest.Opener {
		s := jwtpair.NewMemoryStore()
		return func(*testing.T) jwtpair.Store { return s }
	})
}
