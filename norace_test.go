//go:build !race

package jwtpair

// raceEnabled: see race_test.go.
const raceEnabled = false
