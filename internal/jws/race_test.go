//go:build race

package jws

// raceEnabled: the race detector's sync.Pool drops items at random, so
// pooled paths allocate under it.
const raceEnabled = true
