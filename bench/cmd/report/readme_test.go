package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestREADMEQuotesBenchmarks keeps the numbers the README's Benchmarks
// section quotes equal to those of the committed BENCHMARKS.md: after
// bench/run.sh rewrites the file, this test fails until the README is
// brought up to date.
func TestREADMEQuotesBenchmarks(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	require.NoError(t, err)
	bench, err := os.ReadFile("../../../BENCHMARKS.md")
	require.NoError(t, err)

	_, section, ok := strings.Cut(string(readme), "\n## Benchmarks\n")
	require.True(t, ok, "README has a Benchmarks section")
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	quoted := regexp.MustCompile(`\d+(?:\.\d+)?(?:×| ns| µs| ms)|go\d+\.\d+(?:\.\d+)?`).FindAllString(section, -1)
	require.GreaterOrEqual(t, len(quoted), 5, "the section quotes the measured numbers")
	for _, q := range quoted {
		require.True(t, strings.Contains(string(bench), q), "README quotes %q, which BENCHMARKS.md does not contain", q)
	}
}
