package jwtpair

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRefreshWithinLeeway: a refresh token past its exp but within the
// leeway still verifies, so the store must still know it: refreshing it
// works, and presenting it again after that is reuse (the family is
// revoked), not an unknown token.
func TestRefreshWithinLeeway(t *testing.T) {
	a, clk := newTestAuth(t, WithLeeway(30*time.Second))
	first := login(t, a)
	clk.Advance(DefaultRefreshTTL + 10*time.Second)

	w := postJSON(t, a.RefreshHandler(), refreshBody(first.Refresh))
	require.Equal(t, http.StatusOK, w.Code, "within the leeway: %s", w.Body.String())
	var next Pair
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &next))

	w = postJSON(t, a.RefreshHandler(), refreshBody(first.Refresh))
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.JSONEq(t, bodyBlacklisted, w.Body.String(), "reuse, not an unknown token")
	w = postJSON(t, a.RefreshHandler(), refreshBody(next.Refresh))
	assert.Equal(t, http.StatusUnauthorized, w.Code, "the family is revoked")

	clk.Advance(21 * time.Second) // past exp + leeway
	w = postJSON(t, a.RefreshHandler(), refreshBody(first.Refresh))
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.Contains(t, w.Body.String(), "Token is expired")
}
