package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair/bench/internal/propagation"
)

func TestMannWhitney(t *testing.T) {
	// Exact: every arrangement of the ranks counted (checked by brute
	// force over the 20 and 924 arrangements).
	assert.InDelta(t, 0.1, mannWhitney([]float64{1, 2, 3}, []float64{4, 5, 6}), 1e-12)
	assert.InDelta(t, 0.1, mannWhitney([]float64{4, 5, 6}, []float64{1, 2, 3}), 1e-12, "symmetric")
	assert.InDelta(t, 0.17965367965, mannWhitney([]float64{1.1, 2.3, 3.7, 4.2, 5.9, 6.0}, []float64{2.2, 3.1, 6.5, 7.7, 8.8, 9.9}), 1e-9)
	assert.InDelta(t, 1.0, mannWhitney([]float64{1, 3, 5, 7}, []float64{2, 4, 6, 8}), 0.5, "interleaved: far from significant")
	// Ties: the normal approximation, with the tie and continuity
	// corrections (U = 2.5, μ = 8, σ² = 16/12 × (9 − 30/56)).
	assert.InDelta(t, 0.13665824774, mannWhitney([]float64{1, 2, 2, 3}, []float64{2, 3, 4, 5}), 1e-9)
	assert.Equal(t, 1.0, mannWhitney([]float64{5, 5, 5}, []float64{5, 5, 5}), "all tied")

	assert.Equal(t, "~ (p=0.100 n=3)", compare([]float64{1, 2, 3}, []float64{4, 5, 6}))
	ten := []float64{10, 11, 12, 13, 14, 15, 16, 17, 18, 19}
	more := []float64{20, 21, 22, 23, 24, 25, 26, 27, 28, 29}
	assert.Equal(t, "+68.97% (p=0.000 n=10)", compare(ten, more))
	assert.Equal(t, "-40.82% (p=0.000 n=10)", compare(more, ten))
	assert.Equal(t, "~ (p=0.057 n=3+4)", compare([]float64{1, 2, 3}, []float64{4, 5, 6, 7}), "2 of the 35 arrangements as far out")
}

func TestHuman(t *testing.T) {
	for d, want := range map[string]string{"1s": "1 s", "250ms": "250 ms", "5m": "5 min", "7m30s": "7.5 min", "1ms": "1 ms"} {
		assert.Equal(t, want, human(mustDuration(t, d)), d)
	}
	assert.Equal(t, "45,000", thousands(45000))
	assert.Equal(t, "100", thousands(100))
	assert.Equal(t, "1,234,567", thousands(1234567))
}

// The root package's benchmark: two rounds of the three variants.
const revokedOutput = `goos: linux
pkg: github.com/jwtpair/jwtpair
BenchmarkMiddleware/revoked=0-2         	  177517	      2000 ns/op	     768 B/op	       4 allocs/op
BenchmarkMiddleware/revoked=100k-2      	  184051	      2030 ns/op	     768 B/op	       4 allocs/op
BenchmarkMiddleware/feed=off-2          	  121656	      1990 ns/op	     768 B/op	       4 allocs/op
PASS
pkg: github.com/jwtpair/jwtpair
BenchmarkMiddleware/revoked=0-2         	  177517	      2100 ns/op	     768 B/op	       4 allocs/op
BenchmarkMiddleware/revoked=100k-2      	  184051	      2110 ns/op	     768 B/op	       4 allocs/op
BenchmarkMiddleware/feed=off-2          	  121656	      2000 ns/op	     768 B/op	       4 allocs/op
PASS
`

// The stores' bytes per session; no PostgreSQL row (not run).
const bytesOutput = `pkg: github.com/jwtpair/jwtpair/redisstore
BenchmarkSessionMemory/fresh-2         	    5000	    217458 ns/op	      1040 B/session
BenchmarkSessionMemory/rotated10-2     	    5000	    161705 ns/op	      3840 B/session
pkg: github.com/jwtpair/jwtpair/sqlstore
BenchmarkSessionBytes/sqlite-2         	    5000	   2977707 ns/op	       978.9 bytes/session
`

// The root package's tests: the bytes per entry passed; the memory store's
// test failed, so its numbers are not shown.
const sessionTests = `{"Action":"output","Package":"github.com/jwtpair/jwtpair","Test":"TestRevokedSetBytesPerEntry","Output":"    revocations_test.go:422: revoked set: 31 bytes per ended session (its id kept as a 16-byte hash)\n"}
{"Action":"pass","Package":"github.com/jwtpair/jwtpair","Test":"TestRevokedSetBytesPerEntry"}
{"Action":"pass","Package":"github.com/jwtpair/jwtpair","Test":"TestRevokedLookupAllocatesNothing"}
{"Action":"pass","Package":"github.com/jwtpair/jwtpair","Test":"TestRevokedSetGenerations"}
{"Action":"output","Package":"github.com/jwtpair/jwtpair","Test":"TestMemoryStoreBytesPerSession","Output":"    memstore_test.go:333: memory store: 934 bytes per session (client metadata: true), ids and strings included\n"}
{"Action":"fail","Package":"github.com/jwtpair/jwtpair","Test":"TestMemoryStoreBytesPerSession"}
`

// sessionFiles writes the sessions inputs into dir and returns them.
func sessionFiles(t *testing.T, dir string, prop []propagation.Result) sessionInputs {
	t.Helper()
	var lines []string
	for _, p := range prop {
		b, err := json.Marshal(p)
		require.NoError(t, err)
		lines = append(lines, string(b))
	}
	files := map[string]string{
		"prop.jsonl": strings.Join(lines, "\n"), "revoked.txt": revokedOutput,
		"tests.json": sessionTests, "bytes.txt": bytesOutput,
	}
	for name, body := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	return sessionInputs{
		propagation: filepath.Join(dir, "prop.jsonl"), propcmd: "go run ./bench/cmd/propagation PROP",
		revoked: filepath.Join(dir, "revoked.txt"), revokedcmd: "go test REVOKED",
		tests: filepath.Join(dir, "tests.json"), testscmd: "go test -json TESTS",
		bytes: filepath.Join(dir, "bytes.txt"), bytescmd: "go test BYTES",
		load: "0.50 0.70",
	}
}

// delaysMs returns a passed result of one trial per delay, in ms.
func delaysMs(backend string, ms ...int64) propagation.Result {
	r := propagation.Result{Backend: backend, Trials: len(ms), Warmup: 5, Staleness: 1e9, Poll: 1e6, Spread: 250e6, Load: [2]string{"1.0", "1.1"}, Seconds: 12}
	for _, m := range ms {
		r.Delays = append(r.Delays, m*1e6)
		r.Ends = append(r.Ends, 2e6)
		r.Polls = append(r.Polls, 1)
	}
	return r
}

func TestSessionSections(t *testing.T) {
	dir := t.TempDir()
	slow := delaysMs("sqlite", 40, 90, 1200) // p99 over the bound
	failed := propagation.Result{Backend: "postgres", Trials: 200, Error: "trial 3: B still accepts | the token"}
	in := sessionFiles(t, dir, []propagation.Result{delaysMs("redis", 1, 2, 3, 4), failed, slow})
	sr, err := readSessions(in)
	require.NoError(t, err)
	sr.rev = "abc123"
	md := (&report{res: &results{}, versions: map[string]string{}, sessions: sr}).render()
	assert.Contains(t, md, "## "+hPropagation+"\n\nThe three sessions sections were measured together, ")
	assert.Contains(t, md, ", revision abc123 (`ONLY=sessions bash bench/run.sh` measures them alone and rewrites only them).")

	// Propagation: numbers for the runs that passed only.
	assert.Contains(t, md, "| Redis (`redisstore`) | a stream; B blocks on XREAD, woken by the new entry | 4 | 2.00 ms | 4.00 ms | 4.00 ms | 4 of 4 | 0 | 2.00 ms | **met** |")
	assert.Contains(t, md, "| PostgreSQL (`sqlstore`, pgx) | a table; B LISTENs, woken by the commit's NOTIFY | **failed** after 0 of 200: trial 3: B still accepts \\| the token |")
	assert.Contains(t, md, "| 3 | 90.0 ms | 1200 ms | 1200 ms | 3 of 3 | 0 | 2.00 ms | **missed** (by 200ms) |")
	assert.Contains(t, md, "every 1 ms, until it answers")
	assert.Contains(t, md, "a random pause below 250 ms")
	assert.Contains(t, md, "go run ./bench/cmd/propagation PROP\n```")

	// The revocation check.
	assert.Contains(t, md, "| `revoked=0` | 2.05 µs | 5% | 768 | 4 |  |")
	assert.Contains(t, md, "| `revoked=100k` | 2.07 µs | 4% | 768 | 4 | ~ (p=0.667 n=2) |")
	assert.Contains(t, md, "allocation, a slowdown counting when benchstat finds it significant (p < 0.05): **met**. The median changed\nby +1.0% (benchstat: ~ (p=0.667 n=2)); 4 allocs/op against 4.")
	assert.Contains(t, md, "`TestRevokedLookupAllocatesNothing` (root package) **PASS**")
	assert.Contains(t, md, "1-minute load average: 0.50 before, 0.70 after.")

	// Memory: what passed, and what did not.
	assert.Contains(t, md, "**31 bytes per ended session**")
	assert.Contains(t, md, "with the defaults (access TTL 5 min, no leeway) 7.5 min.")
	assert.Contains(t, md, "at most 45,000 entries, 1.4 MB; 100,000 entries take 3.1 MB.")
	assert.Contains(t, md, "| memory (`jwtpair.NewMemoryStore()`) | not measured | |", "its test failed")
	assert.Contains(t, md, "`TestMemoryStoreBytesPerSession` (root package) **FAIL**")
	assert.Contains(t, md, "| Redis (`redisstore`), fresh | 1040 |")
	assert.Contains(t, md, "| Redis, refreshed 10 times | 3840 |")
	assert.Contains(t, md, "| PostgreSQL (`sqlstore`) | not measured | |")
	assert.Contains(t, md, "| SQLite (`sqlstore`) | 979 | growth of the pages in use (page_count − freelist_count), over 5,000 logins, each refreshed once |")

	// Order: after the store sections' place, before the end to end one.
	prop := strings.Index(md, "## "+hPropagation)
	check := strings.Index(md, "## "+hCheck)
	mem := strings.Index(md, "## "+hMemory)
	e2e := strings.Index(md, "## End to end")
	require.True(t, strings.Index(md, "## Issuing and refreshing") < prop && prop < check && check < mem && mem < e2e, "section order")
	assert.Contains(t, md, "ONLY=sessions bash bench/run.sh")

	// A propagation run over no store at all: every row not measured.
	require.NoError(t, os.WriteFile(in.propagation, nil, 0o644))
	sr, err = readSessions(sessionInputs{propagation: in.propagation})
	require.NoError(t, err)
	md = (&report{res: &results{}, versions: map[string]string{}, sessions: sr}).render()
	assert.Contains(t, md, "| Redis (`redisstore`) | a stream; B blocks on XREAD, woken by the new entry | not measured |")
	assert.Contains(t, md, "## "+hCheck+"\n\nNot measured in this run.")

	none, err := readSessions(sessionInputs{})
	require.NoError(t, err)
	assert.Nil(t, none)
}

func TestUpdateSections(t *testing.T) {
	doc := "# Benchmarks\n\nintro\n\n## Machine\n\nold machine\n\n## " + hCheck + "\n\nold check\n\n## End to end (wrk)\n\nwrk\n\n## Reproduce\n\ncmds\n"
	fresh := "# Sessions\n## " + hPropagation + "\n\nnew prop\n\n## " + hCheck + "\n\nnew check\n\n"
	got := updateSections(doc, fresh, "End to end (wrk)", "Reproduce")
	assert.Equal(t, "# Benchmarks\n\nintro\n\n## Machine\n\nold machine\n\n## "+hCheck+"\n\nnew check\n\n## "+hPropagation+"\n\nnew prop\n\n## End to end (wrk)\n\nwrk\n\n## Reproduce\n\ncmds\n", got)
	// Again: the same document, the sections in place.
	assert.Equal(t, got, updateSections(got, fresh, "End to end (wrk)", "Reproduce"))
	// No anchor: at the end.
	assert.Equal(t, "# B\n## X\n\nx\n## "+hPropagation+"\n\nnew prop\n\n", updateSections("# B\n## X\n\nx\n", "# S\n## "+hPropagation+"\n\nnew prop\n\n", "Nope"))

	// The file: only the sessions sections change.
	dir := t.TempDir()
	path := filepath.Join(dir, "BENCHMARKS.md")
	require.NoError(t, os.WriteFile(path, []byte(doc), 0o644))
	sr, err := readSessions(sessionFiles(t, dir, []propagation.Result{delaysMs("redis", 1)}))
	require.NoError(t, err)
	require.NoError(t, updateFile(path, &report{sessions: sr}))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	out := string(b)
	assert.True(t, strings.HasPrefix(out, "# Benchmarks\n\nintro\n\n## Machine\n\nold machine\n\n## "+hCheck+"\n\nA GET with"), out[:200])
	assert.NotContains(t, out, "old check")
	assert.NotContains(t, out, "# Sessions")
	assert.Equal(t, 1, strings.Count(out, "## "+hPropagation))
	assert.Less(t, strings.Index(out, "## "+hMemory), strings.Index(out, "## End to end (wrk)"))
	assert.True(t, strings.HasSuffix(out, "## End to end (wrk)\n\nwrk\n\n## Reproduce\n\ncmds\n"))
}

func mustDuration(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	require.NoError(t, err)
	return d
}

// TestSlowerBy: a slowdown past the limit counts only when benchstat's
// test finds it significant.
func TestSlowerBy(t *testing.T) {
	base := []float64{100, 101, 102, 103, 104, 105, 106, 107, 108, 109}
	assert.True(t, slowerBy(base, []float64{110, 111, 112, 113, 114, 115, 116, 117, 118, 119}, 0.05), "+10%, no overlap")
	assert.False(t, slowerBy(base, []float64{103, 104, 105, 106, 107, 108, 109, 110, 111, 112}, 0.05), "+3%: within the limit")
	noisy := []float64{70, 80, 90, 100, 105, 110, 120, 130, 140, 150}
	assert.False(t, slowerBy(base, noisy, 0.05), "median +3.4% and the spread of the noise")
	noisier := []float64{60, 70, 80, 95, 111, 113, 125, 140, 150, 160}
	require.Greater(t, median(noisier)/median(base)-1, 0.05)
	assert.False(t, slowerBy(base, noisier, 0.05), "median +7%, not significant")
	assert.False(t, slowerBy(base, base, 0.05))
}
