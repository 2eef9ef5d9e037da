//go:build !race

package jws

// raceEnabled: see race_test.go.
const raceEnabled = false
