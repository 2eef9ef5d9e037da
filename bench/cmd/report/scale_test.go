package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair/internal/scalebench"
)

// growthCSV is benchstat -format csv -col /sessions -row /clients of six
// runs per size and client count, time per rotation and rate.
const growthCSV = `goos: linux
pkg: github.com/jwtpair/jwtpair/redisstore
,10k,,1M,,,
,sec/op,CI,sec/op,CI,vs base,P
1,5.1250000000000006e-05,2%,8.200000000000001e-05,2%,+60.00%,p=0.002 n=6
64,1.2812500000000001e-05,2%,2.0500000000000004e-05,4%,~,p=0.240 n=6
geomean,2.5625000000000013e-05,,4.099999999999999e-05,,+60.00%,

,10k,,1M,,,
,rotations/s,CI,rotations/s,CI,vs base,P
1,19512,2%,12195,2%,-37.50%,p=0.002 n=6
64,78048,2%,48780,4%,~,p=0.240 n=6
geomean,39024,,24390,,-37.50%,

,10k,,1M,,,
,p99-sec,CI,p99-sec,CI,vs base,P
1,0.0001025,2%,0.000164,2%,+60.00%,p=0.002 n=6
64,0.00002,2%,0.003,2%,+100.00%,p=0.002 n=6
geomean,0.00002,,0.003,,+60.00%,

,10k,,1M,,,
,server-sec/op,CI,server-sec/op,CI,vs base,P
1,0.00003,2%,0.00004,2%,+33.33%,p=0.002 n=6
64,0.00003,2%,0.00004,2%,+33.33%,p=0.002 n=6
geomean,0.00003,,0.00004,,+33.33%,
`

// oneColumnCSV is benchstat -format csv -row /clients of one input file.
const oneColumnCSV = `,limit.txt,
,ops/s,CI
1,25000,3%
64,90000,5%
geomean,47434,

,limit.txt,
,server-sec/op,CI
1,0.000002,3%
64,0.000001,5%
geomean,0.0000014,
`

func TestParseBenchstatCSV(t *testing.T) {
	ts, err := parseBenchstatCSV([]byte(growthCSV))
	require.NoError(t, err)
	require.Len(t, ts, 4)
	rot := ts["rotations/s"]
	require.NotNil(t, rot)
	assert.Equal(t, []string{"10k", "1M"}, rot.cols)
	assert.Equal(t, []string{"1", "64"}, rot.rows, "the geomean row is left out")
	c, ok := rot.cell("1", "1M")
	require.True(t, ok)
	assert.Equal(t, bsCell{has: true, center: 12195, ci: "2%", vs: "-37.50%", p: "p=0.002 n=6"}, c)
	c, ok = rot.cell("64", "10k")
	require.True(t, ok)
	assert.Equal(t, bsCell{has: true, center: 78048, ci: "2%"}, c)
	_, ok = rot.cell("16", "10k")
	assert.False(t, ok)
	assert.InDelta(t, 8.2e-5, ts["sec/op"].cells[[2]string{"1", "1M"}].center, 1e-12)
}

// scaleFixture is a scale report of one store, Redis, measured at 10k and
// 1M sessions, with its limits and loads.
func scaleFixture(t *testing.T) *scaleReport {
	t.Helper()
	rot, err := parseBenchstatCSV([]byte(growthCSV))
	require.NoError(t, err)
	limit, err := parseBenchstatCSV([]byte(oneColumnCSV))
	require.NoError(t, err)
	native, err := parseBenchstatCSV([]byte(strings.ReplaceAll(oneColumnCSV, "25000", "50000")))
	require.NoError(t, err)
	return &scaleReport{
		settings: map[string]string{"date": "2026-12-01 10:00 UTC", "rev": "abc1234", "nproc": "2", "memtotal.kb": "24000000",
			"nice": "10", "sessions": "10000,1000000", "clients": "1,64", "load.redis": "3.10 4.20",
			"cmd.redis": "go test -run '^$' -bench '^BenchmarkScale$' ./redisstore"},
		stores: map[string]*scaleStore{"redis": {
			rot: rot, limit: limit, native: native,
			loads: []scalebench.LoadResult{
				{Backend: "redis", Sessions: 10_000, Loaded: 10_000, LoadNS: 1e9,
					Before: map[string]float64{"used_memory_bytes": 1_000_000},
					After:  map[string]float64{"used_memory_bytes": 11_000_000, "memory_usage_per_session": 832, "keys": 40_000}},
				{Backend: "redis", Sessions: 1_000_000, Loaded: 990_000, LoadNS: 40e9,
					Before: map[string]float64{"used_memory_bytes": 20_000_000},
					After:  map[string]float64{"used_memory_bytes": 1_010_000_000, "memory_usage_per_session": 832, "keys": 4_000_000}},
			},
		}},
	}
}

func TestScaleSection(t *testing.T) {
	r := &report{scale: scaleFixture(t)}
	r.scaleSection()
	md := r.b.String()
	assert.True(t, strings.HasPrefix(md, "## "+hScale+"\n"))
	assert.Contains(t, md, "measured\n2026-12-01 10:00 UTC, revision abc1234. **The machine was shared**: 2 cores and 24 GB of RAM")
	// The largest size, its rates, latencies and the load of the run.
	assert.Contains(t, md, "| Redis (`redisstore`) | 1M | 1 | 12,195 ±2% | — | 164.0 µs ±2% | 3.10 → 4.20 |")
	assert.Contains(t, md, "| memory (`jwtpair.NewMemoryStore()`) | not measured |")
	// Growth: the 1-client time per rotation grew 60% (significant): more
	// than log n (×1.50 from 10k to 1M).
	assert.Contains(t, md, "| 1 | 19,512 ±2% | 12,195 ±2% | -37.50% (p=0.002, n=6) | 102.5 µs ±2% | 164.0 µs ±2% |")
	assert.Contains(t, md, "| 64 | 78,048 ±2% | 48,780 ±4% | ~ (p=0.240, n=6) |")
	assert.Contains(t, md, "Time per rotation from 10k to 1M: **faster than log n**, far below linear (×1.60; n grows ×100) (1 client: +60.00% (p=0.002, n=6) vs 10k).")
	assert.Contains(t, md, "Measured: 10k: 40,000 keys; 1M: 4,000,000 keys.")
	// The limits: through go-redis and redis-benchmark, and the ratio.
	assert.Contains(t, md, "| Redis (`redisstore`) | 1 | 12,195 ±2% | EVALSHA of `return 1` through go-redis | 25,000 ±3% | `redis-benchmark`, EVALSHA of `return 1` | 50,000 ±3% | 0.24 |")
	assert.Contains(t, md, "1 client: 40.0 µs in the script per rotation, 2.00 µs per trivial script")
	// Bytes per session of each load: (11,000,000 − 1,000,000) / 10,000 and
	// (1,010,000,000 − 20,000,000) / 990,000.
	assert.Contains(t, md, "| Redis (`redisstore`) | growth of `used_memory` (INFO memory) | 1000 | 1000 | **flat** |")
	assert.Contains(t, md, "| 832 | 832 | **flat** |")
	assert.Contains(t, md, "| Redis (`redisstore`) | 10k | 10,000 | 1.0 s | 10,000 |")
	assert.Contains(t, md, "|  | 1M | 990,000 | 40.0 s | 24,750 |  |")
	assert.NotContains(t, md, "### PurgeExpired", "no purge measured")
	assert.Contains(t, md, "go test -run '^$' -bench '^BenchmarkScale$' ./redisstore")
}

func TestGrowth(t *testing.T) {
	for _, tc := range []struct {
		g    float64
		sig  bool
		want string
	}{
		{1.5, false, "**flat**"},
		{1.05, true, "**flat**"},
		{0.7, true, "**lower** at 1M (×0.70)"},
		{1.4, true, "**within log n** (×1.40; log n grows ×1.50 from 10k to 1M)"},
		{3, true, "**faster than log n**, far below linear (×3.00; n grows ×100)"},
		{40, true, "**about linear or worse** (×40.00; n grows ×100)"},
	} {
		assert.Equal(t, tc.want, growth(tc.g, tc.sig, "10k", "1M"), "%v %v", tc.g, tc.sig)
	}
}

// TestScaleSectionKept proves the section survives a whole report (run.sh
// does not measure it) and that -scale rewrites it alone, in place.
func TestScaleSectionKept(t *testing.T) {
	out := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	r := &report{scale: scaleFixture(t)}
	r.scaleSection()
	scale := r.b.String()
	doc := "# Benchmarks\n\n## Machine\n\nold\n\n" + scale + "## End to end (wrk)\n\nold wrk\n"
	require.NoError(t, os.WriteFile(out, []byte(doc), 0o644))

	fresh := "# Benchmarks\n\n## Machine\n\nnew\n\n## End to end (wrk)\n\nnew wrk\n\n## Reproduce\n\nx\n"
	kept := keepScale(out, fresh)
	assert.Equal(t, "# Benchmarks\n\n## Machine\n\nnew\n\n"+scale+"## End to end (wrk)\n\nnew wrk\n\n## Reproduce\n\nx\n", kept)
	assert.Equal(t, fresh, keepScale(filepath.Join(t.TempDir(), "none.md"), fresh), "no file: nothing to keep")
}

// TestRunScale runs the report on outputs shaped as bench/scale.sh writes
// them, benchstat included.
func TestRunScale(t *testing.T) {
	if _, err := exec.LookPath("benchstat"); err != nil {
		const hint = "benchstat not on PATH (go install golang.org/x/perf/cmd/benchstat@latest)"
		if os.Getenv("JWTPAIR_REQUIRE_BACKENDS") == "1" { // CI installs it (.ci/run): never a silent skip there
			t.Fatal(hint)
		}
		t.Skip(hint)
	}
	dir := t.TempDir()
	var redis, native strings.Builder
	for _, size := range []string{"10k", "100k"} {
		for i := range 6 {
			ns := 50000 + 1000*i
			if size == "100k" {
				ns += 100
			}
			for _, c := range []string{"1", "16"} {
				redis.WriteString("BenchmarkScale/sessions=" + size + "/clients=" + c + "-2 \t 5000\t " + itoa(ns) + " ns/op\t " + itoa(ns/2) + " p50-ns\t " + itoa(ns*3) + " p99-ns\t " + itoa(1e9/ns) + " rotations/s\t 900 B/op\n")
			}
		}
	}
	for i := range 6 {
		for _, c := range []string{"1", "16"} {
			redis.WriteString("BenchmarkScale/limit/clients=" + c + "-2 \t 5000\t " + itoa(20000+i) + " ns/op\t " + itoa(50000-i) + " ops/s\n")
			native.WriteString("BenchmarkNative/redis-benchmark/clients=" + c + " 20000 " + itoa(10000+i) + " ns/op " + itoa(100000-i) + " ops/s\n")
		}
	}
	files := map[string]string{
		"redis.txt":   "goos: linux\npkg: github.com/jwtpair/jwtpair/redisstore\n" + redis.String() + "PASS\n",
		"native.txt":  native.String(),
		"servers.txt": "date=2026-12-01 10:00 UTC\nrev=abc\nnproc=2\nmemtotal.kb=24000000\nnice=10\nload.redis=1 2\n",
		"loads.jsonl": `{"backend":"redis","sessions":10000,"loaded":10000,"load_ns":1000000000,"before":{"used_memory_bytes":0},"after":{"used_memory_bytes":10000000}}` + "\n",
	}
	for name, body := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	out := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	require.NoError(t, os.WriteFile(out, []byte("# Benchmarks\n\n## Machine\n\nm\n\n## End to end (wrk)\n\nw\n"), 0o644))
	require.NoError(t, runScale(dir, out))
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	md := string(b)
	before, after, ok := strings.Cut(md, "## "+hScale+"\n")
	require.True(t, ok)
	assert.Equal(t, "# Benchmarks\n\n## Machine\n\nm\n\n", before)
	assert.True(t, strings.HasSuffix(after, "\n## End to end (wrk)\n\nw\n"), "the section goes before End to end")
	assert.Contains(t, md, "| Redis (`redisstore`) | 100k | 1 | 19,") // 1e9 / 52,600 ns
	assert.Contains(t, md, "Time per rotation from 10k to 100k: **flat**")
	assert.Contains(t, md, "| 49,998 ±0% | `redis-benchmark`, EVALSHA of `return 1` | 99,998 ±0% |")
	assert.Contains(t, md, "| Redis (`redisstore`) | growth of `used_memory` (INFO memory) | 1000 |")

	// Again: the section is replaced, not added.
	require.NoError(t, runScale(dir, out))
	b, err = os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, md, string(b))
}

func itoa(v int) string { return strconv.Itoa(v) }

// TestKeyspaceDoubling: every rotation adds a key, so from the 4,180,036
// keys after the load, runs of 5,000 rotations reach 2^22 during the
// third: the two before and the three after of the same client count are
// told apart; runs of another client count or size are left out.
func TestKeyspaceDoubling(t *testing.T) {
	s := &scaleStore{loads: []scalebench.LoadResult{{Backend: "redis", Sessions: 1_000_000, Loaded: 1_000_000,
		After: map[string]float64{"keys": 4_180_036}}}}
	for i, ns := range []float64{40, 41, 42, 90, 91, 92} {
		s.runs = append(s.runs, rotationRun{size: "1M", clients: "1", n: 5000, serverNS: ns})
		if i == 0 {
			s.runs = append(s.runs, rotationRun{size: "10k", clients: "1", n: 5000, serverNS: 1}) // another size: not counted
		}
	}
	s.runs = append(s.runs, rotationRun{size: "1M", clients: "16", n: 5000, serverNS: 500}) // another client count: not counted
	power, clients, before, after, ok := s.keyspaceDoubling("1M")
	require.True(t, ok)
	assert.Equal(t, float64(1<<22), power)
	assert.Equal(t, "1", clients)
	assert.Equal(t, []float64{40, 41}, before)
	assert.Equal(t, []float64{90, 91, 92}, after)
	_, _, _, _, ok = s.keyspaceDoubling("10k")
	assert.False(t, ok, "no load of that size: no keys to count from")
}
