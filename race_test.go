//go:build race

package jwtpair

// raceEnabled: the race detector's sync.Pool drops items at random, so
// pooled paths (the MAC states of HMAC keys) allocate under it.
const raceEnabled = true
