// Package testjson reads what go test -json writes (test2json events):
// the events and the reason a skipped test gave. The skip summary of make
// test (internal/skipsummary) and the benchmark report (bench/cmd/report)
// read it.
package testjson

import "strings"

// Event is one event of go test -json (cmd/test2json documents them).
// Test is empty for a package's own events.
type Event struct {
	Action  string // start, run, pause, cont, pass, bench, fail, output, skip, build-output, build-fail
	Package string
	Test    string
	Output  string
}

// SkipReason returns the message of a t.Skip in a test's output (the
// output events of the test, joined), without its file:line prefix; ""
// when the test logged nothing.
func SkipReason(out string) string {
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "=== ") || strings.HasPrefix(line, "--- ") {
			continue
		}
		if _, msg, ok := strings.Cut(line, ": "); ok && strings.Contains(line[:len(line)-len(msg)], ".go:") {
			return msg
		}
		return line
	}
	return ""
}
