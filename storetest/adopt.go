package storetest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
	"github.com/jwtpair/jwtpair/internal/forge"
)

// The adoption window (jwtpair.WithSimplejwtAdoption) over a shared
// backend: it adopts through Store.Issue, so its atomicity across
// instances is the store's.

// adopting is the adoption window of these cases: tokens issued until a
// minute from now, adopted for an hour.
func adopting() jwtpair.Option {
	now := time.Now()
	return jwtpair.WithSimplejwtAdoption(now.Add(time.Minute), now.Add(time.Hour))
}

// simplejwtToken is a refresh token for user as simplejwt mints it with
// the shared secret: no sid, issued a minute ago.
func simplejwtToken(t *testing.T, user string) string {
	t.Helper()
	now := time.Now().Unix()
	payload := fmt.Sprintf(`{"token_type":"refresh","exp":%d,"iat":%d,"jti":%q,"user_id":%q}`, now+86400, now-60, NewID(), user)
	tok, err := forge.Sign("HS256", sharedSecret, `{"alg":"HS256","typ":"JWT"}`, payload)
	require.NoError(t, err)
	return tok
}

// slowIssue delays Issue by a backend's latency, so that every first use
// of a token finds it unknown before any adopts it, and the adoptions race
// in the store.
type slowIssue struct {
	jwtpair.Store
	jwtpair.RevocationFeed
}

func (s slowIssue) Issue(ctx context.Context, first jwtpair.Record, opts jwtpair.IssueOptions) ([]string, error) {
	time.Sleep(50 * time.Millisecond)
	return s.Store.Issue(ctx, first, opts)
}

// slowed is s with a slow Issue, and its revocation feed if it has one.
func slowed(s jwtpair.Store) jwtpair.Store {
	feed, ok := s.(jwtpair.RevocationFeed)
	if !ok {
		return struct{ jwtpair.Store }{slowIssue{Store: s}}
	}
	return slowIssue{s, feed}
}

// testSharedAdoption: 64 first uses at once of one simplejwt token,
// split across two instances, whose adoptions race in the store (each
// finds the token unknown): exactly one refresh succeeds, the others are
// refused as reuse (or, once reuse ended the session, as blacklisted),
// and the winner's successor is refused too: the token was adopted once,
// and then used twice.
func testSharedAdoption(t *testing.T, open Opener) {
	// The case is the store's atomicity, not the feed's freshness: 64
	// refreshes at once, whose adoptions then write in a burst, can keep
	// a single-writer backend (SQLite: one write at a time, the feed's
	// poll waiting for a connection among them) from serving the poll
	// within the default second, and a stale set answers 503, as it must.
	// A minute's bound keeps that out of this case.
	fresh := jwtpair.WithRevocationStaleness(time.Minute)
	a, b := newInstance(t, slowed(open(t)), adopting(), fresh), newInstance(t, slowed(open(t)), adopting(), fresh)
	user := "u-" + NewID()
	tok := simplejwtToken(t, user)
	const n = 64
	var ok, reused, blacklisted atomic.Int32
	var won atomic.Pointer[jwtpair.Pair]
	together(n, func(i int) {
		in := []*instance{a, b}[i%2]
		p, err := in.auth.Refresh(t.Context(), tok)
		switch {
		case err == nil:
			ok.Add(1)
			won.Store(&p)
		case errors.Is(err, jwtpair.ErrTokenReused):
			reused.Add(1)
		case errors.Is(err, jwtpair.ErrTokenBlacklisted):
			blacklisted.Add(1)
		default:
			t.Errorf("refresh #%d: %v", i, err)
		}
	})
	require.Equal(t, int32(1), ok.Load(), "exactly one first use succeeds (%d reused, %d blacklisted)", reused.Load(), blacklisted.Load())
	assert.Positive(t, reused.Load(), "the others are reuse")
	assert.Equal(t, int32(n-1), reused.Load()+blacklisted.Load())
	status, m := b.refresh(t, won.Load().Refresh)
	assert.Equal(t, http.StatusUnauthorized, status, "reuse ended the adopted session: %v", m)
	list, err := a.auth.Sessions(t.Context(), user)
	require.NoError(t, err)
	assert.Empty(t, list)
}

// testSharedAdoptionEvicted: a jwtpair token whose session the per-user
// cap evicted (a store may forget it at once) is never adopted back, on
// either instance, with the window open and covering its iat; the session
// the cap kept stays the user's only one.
func testSharedAdoptionEvicted(t *testing.T, open Opener) {
	capped := jwtpair.WithMaxSessionsPerUser(1)
	a, b := newInstance(t, open(t), capped, adopting()), newInstance(t, open(t), capped, adopting())
	user := "u-" + NewID()
	evicted := a.login(t, user)
	time.Sleep(tick)
	kept := b.login(t, user)
	for _, in := range []*instance{b, a} {
		status, m := in.refresh(t, evicted.Refresh)
		assert.Equal(t, http.StatusUnauthorized, status, m)
	}
	list, err := a.auth.Sessions(t.Context(), user)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, b.sid(t, kept.Access), list[0].ID)
}
