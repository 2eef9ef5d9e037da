package jwtpair_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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

// TestLogoutWithRotatedToken runs an attack through the handlers, on the
// default memory store: a thief rotates a stolen refresh token (R1 → R2),
// then logs out with R1, so that the victim presenting R1 would be told
// "blacklisted" instead of triggering reuse detection. The logout must count
// as reuse and revoke the family, inside the grace window too: the thief's
// R2 is refused. Without blacklist-after-rotation R1 stays active after the
// rotation and there is no reuse to detect: the logout succeeds and, as every
// logout, ends the whole session, R2 included.
func TestLogoutWithRotatedToken(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     []jwtpair.Option
		r1Active bool
	}{
		{"default", nil, false},
		{"within the reuse grace window", []jwtpair.Option{jwtpair.WithReuseGrace(time.Minute)}, false},
		{"without blacklist after rotation", []jwtpair.Option{jwtpair.WithBlacklistAfterRotation(false)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			auth, err := jwtpair.New(append([]jwtpair.Option{jwtpair.WithHMACKey(secret), jwtpair.WithAuthenticator(users)}, tc.opts...)...)
			require.NoError(t, err)
			refresh, logout := auth.RefreshHandler(), auth.BlacklistHandler()
			status, m := post(auth.ObtainHandler(), `{"username":"admin","password":"s3cret"}`)
			require.Equal(t, http.StatusOK, status, m)
			r1 := m["refresh"]
			status, m = post(refresh, `{"refresh":"`+r1+`"}`) // the thief
			require.Equal(t, http.StatusOK, status, m)
			r2 := m["refresh"]
			require.NotEmpty(t, r2)

			status, m = post(logout, `{"refresh":"`+r1+`"}`)
			if tc.r1Active {
				assert.Equal(t, http.StatusOK, status, "logout with the still active R1: %v", m)
			} else {
				assert.Equal(t, http.StatusUnauthorized, status, "logout with the rotated R1")
				assert.Equal(t, "Token is blacklisted", m["detail"])
			}
			status, m = post(refresh, `{"refresh":"`+r1+`"}`) // the victim
			assert.Equal(t, http.StatusUnauthorized, status, "the victim's R1")
			assert.Equal(t, "Token is blacklisted", m["detail"])
			status, m = post(refresh, `{"refresh":"`+r2+`"}`) // the thief again
			assert.Equal(t, http.StatusUnauthorized, status, "the thief's R2 after the logout with R1")
			assert.Equal(t, "Token is blacklisted", m["detail"])
		})
	}
}

// BenchmarkRotate measures refresh-token rotation on the memory store, as
// redisstore's and sqlstore's BenchmarkRotate do on theirs. The workers
// share the store's one lock.
func BenchmarkRotate(b *testing.B) {
	s := jwtpair.NewMemoryStore()
	b.Cleanup(func() { _ = s.Close() })
	storetest.RotateBenchmark(b, s)
}
