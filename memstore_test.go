package jwtpair

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// memClock is a settable store clock. These tests use it from one goroutine.
type memClock struct{ t time.Time }

func (c *memClock) now() time.Time          { return c.t }
func (c *memClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newClockedMemoryStore() (*MemoryStore, *memClock) {
	clk := &memClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	return NewMemoryStore(WithMemoryClock(clk.now)), clk
}

func memIssue(t *testing.T, s *MemoryStore, jti, user, family string, exp time.Time) {
	t.Helper()
	require.NoError(t, s.Issue(t.Context(), Record{JTI: jti, UserID: user, FamilyID: family, ExpiresAt: exp}), "Issue(%s)", jti)
}

// memIndex returns the families held and, per user, the families indexed.
func memIndex(s *MemoryStore) (families []string, users map[string][]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	users = make(map[string][]string)
	for id := range s.families {
		families = append(families, id)
	}
	for u, fams := range s.users {
		for id := range fams {
			users[u] = append(users[u], id)
		}
	}
	return families, users
}

func TestMemoryStoreEviction(t *testing.T) {
	ctx := t.Context()
	s, clk := newClockedMemoryStore()
	t0 := clk.now()

	memIssue(t, s, "a", "u", "f1", t0.Add(time.Minute))
	require.NoError(t, s.Rotate(ctx, "a", Record{JTI: "b", ExpiresAt: t0.Add(10 * time.Minute)}, RotateOptions{}))
	memIssue(t, s, "c", "u", "f2", t0.Add(time.Minute))
	memIssue(t, s, "d", "v", "f3", t0.Add(time.Hour))
	require.NoError(t, s.RevokeFamily(ctx, "f1"))
	require.Equal(t, 4, s.Len())

	// An expiry instant counts as expired, as a JWT's exp does.
	clk.advance(time.Minute)
	memIssue(t, s, "e", "v", "f3", t0.Add(2*time.Hour))
	assert.Equal(t, 3, s.Len(), "a and c evicted")
	fams, users := memIndex(s)
	assert.ElementsMatch(t, []string{"f1", "f3"}, fams)
	assert.ElementsMatch(t, []string{"f1"}, users["u"])
	assert.ElementsMatch(t, []string{"f3"}, users["v"])
	// f1's revocation outlives a, since b is still held.
	assert.ErrorIs(t, s.Check(ctx, "b"), ErrTokenBlacklisted)
	assert.ErrorIs(t, s.Check(ctx, "a"), ErrTokenNotFound)

	clk.advance(9 * time.Minute)
	require.NoError(t, s.RevokeUser(ctx, "nobody"))
	assert.Equal(t, 2, s.Len(), "b evicted")
	fams, users = memIndex(s)
	assert.ElementsMatch(t, []string{"f3"}, fams)
	assert.NotContains(t, users, "u")

	// A family id whose family was forgotten starts afresh.
	memIssue(t, s, "g", "u", "f1", t0.Add(3*time.Hour))
	assert.NoError(t, s.Check(ctx, "g"))

	clk.advance(3 * time.Hour)
	assert.ErrorIs(t, s.Check(ctx, "g"), ErrTokenNotFound)
	assert.Equal(t, 0, s.Len())
	fams, users = memIndex(s)
	assert.Empty(t, fams)
	assert.Empty(t, users)
	assert.Empty(t, s.expiries)
}

func TestMemoryStoreSweepIsBounded(t *testing.T) {
	ctx := t.Context()
	s, clk := newClockedMemoryStore()
	t0 := clk.now()
	const n = 2*sweepBatch + 10
	for i := range n {
		memIssue(t, s, fmt.Sprintf("old%d", i), "u", fmt.Sprintf("f%d", i), t0.Add(30*time.Second))
	}
	memIssue(t, s, "x", "u", "fx", t0.Add(time.Minute))

	clk.advance(time.Minute)
	// One sweep evicts a batch of the earlier expiries; x's own heap entry is
	// not reached, but the lookup drops x, so its jti may be issued again.
	memIssue(t, s, "x", "u", "fx", t0.Add(time.Hour))
	assert.Equal(t, n-sweepBatch+1, s.Len())

	for s.Len() > 1 {
		require.ErrorIs(t, s.Check(ctx, "missing"), ErrTokenNotFound)
	}
	// x's stale heap entry is gone too and did not take the new x with it.
	assert.Len(t, s.expiries, 1)
	assert.NoError(t, s.Check(ctx, "x"))
}

// TestMemoryStoreGraceOnStoreClock: the window is measured on the store's
// clock, to the nanosecond, and is inclusive: "no later than Grace after"
// the consumption.
func TestMemoryStoreGraceOnStoreClock(t *testing.T) {
	ctx := t.Context()
	s, clk := newClockedMemoryStore()
	t0 := clk.now()
	const grace = 30 * time.Second
	exp := t0.Add(24 * time.Hour)
	opts := RotateOptions{Grace: grace}

	memIssue(t, s, "a", "u", "f", exp)
	memIssue(t, s, "x", "u", "g", exp)
	require.NoError(t, s.Rotate(ctx, "a", Record{JTI: "b", ExpiresAt: exp}, opts))
	clk.advance(grace)
	assert.NoError(t, s.Rotate(ctx, "a", Record{JTI: "c", ExpiresAt: exp}, opts), "exactly Grace after the consumption")
	clk.advance(time.Nanosecond)
	assert.ErrorIs(t, s.Rotate(ctx, "a", Record{JTI: "d", ExpiresAt: exp}, opts), ErrTokenReused, "one nanosecond later")
	assert.ErrorIs(t, s.Check(ctx, "b"), ErrTokenBlacklisted)
	assert.ErrorIs(t, s.Check(ctx, "c"), ErrTokenBlacklisted)
	assert.NoError(t, s.Check(ctx, "x"), "another family is untouched")
}

func TestMemoryStoreRefusals(t *testing.T) {
	ctx := t.Context()
	s := NewMemoryStore()
	exp := time.Now().Add(time.Hour)
	memIssue(t, s, "a", "u", "f", exp)

	err := s.Issue(ctx, Record{JTI: "a", UserID: "u", FamilyID: "f2", ExpiresAt: exp})
	assert.ErrorIs(t, err, ErrStoreUnavailable, "duplicate jti")

	err = s.Issue(ctx, Record{JTI: "b", UserID: "v", FamilyID: "f", ExpiresAt: exp})
	assert.ErrorIs(t, err, ErrStoreUnavailable, "another user's family")
	assert.ErrorIs(t, s.Check(ctx, "b"), ErrTokenNotFound)

	memIssue(t, s, "c", "u", "f", exp)
	err = s.Rotate(ctx, "a", Record{JTI: "c", ExpiresAt: exp}, RotateOptions{})
	assert.ErrorIs(t, err, ErrStoreUnavailable, "successor jti taken")
	assert.NoError(t, s.Check(ctx, "a"), "a refused rotation consumes nothing")

	require.NoError(t, s.RevokeFamily(ctx, "f"))
	err = s.Issue(ctx, Record{JTI: "d", UserID: "u", FamilyID: "f", ExpiresAt: exp})
	assert.ErrorIs(t, err, ErrTokenBlacklisted, "revoked family")
	assert.ErrorIs(t, s.Check(ctx, "d"), ErrTokenNotFound)
	assert.Equal(t, 2, s.Len())
}

func TestMemoryStoreCancelledContext(t *testing.T) {
	s := NewMemoryStore()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := s.Check(ctx, "a")
	assert.ErrorIs(t, err, ErrStoreUnavailable)
	assert.ErrorIs(t, err, context.Canceled)
}

// MemoryStore starts no goroutines (see its doc), so Close has nothing to
// stop; it must still be safe to call repeatedly and leave the store usable.
func TestMemoryStoreClose(t *testing.T) {
	s := NewMemoryStore()
	memIssue(t, s, "a", "u", "f", time.Now().Add(time.Hour))
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	assert.NoError(t, s.Check(t.Context(), "a"))
}
