package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair/internal/testjson"
)

// storeOutput is go test -bench output over three packages, two of which
// have a benchmark named BenchmarkRotate.
const storeOutput = `goos: linux
goarch: amd64
pkg: github.com/jwtpair/jwtpair
cpu: Some CPU
BenchmarkRotate-2   	  200768	      1500 ns/op	     369 B/op	       3 allocs/op
BenchmarkRotate-2   	  476006	      2000 ns/op	     420 B/op	       3 allocs/op
BenchmarkRotate-2   	  476006	      1600 ns/op	     400 B/op	       3 allocs/op
PASS
ok  	github.com/jwtpair/jwtpair	1.417s
goos: linux
goarch: amd64
pkg: github.com/jwtpair/jwtpair/redisstore
cpu: Some CPU
BenchmarkRotate-2   	   10246	     40000 ns/op	     963 B/op	      26 allocs/op
BenchmarkRotate-2   	   12008	     30000 ns/op	     955 B/op	      26 allocs/op
PASS
ok  	github.com/jwtpair/jwtpair/redisstore	2.930s
goos: linux
goarch: amd64
pkg: github.com/jwtpair/jwtpair/sqlstore
cpu: Some CPU
BenchmarkRotate/sqlite-2         	     356	   1250000 ns/op	    3519 B/op	     108 allocs/op
PASS
ok  	github.com/jwtpair/jwtpair/sqlstore	7.937s
`

const servers = `origin=services.sh
redis.version=7.0.15
redis.save=
redis.appendonly=no
postgres.server_version=15.20
postgres.fsync=off
postgres.synchronous_commit=off
not a setting
`

// roundTrips is go test -json output: the bench tests passed, redisstore's
// failed, sqlstore's skipped.
const roundTrips = `{"Action":"start","Package":"github.com/jwtpair/jwtpair/bench"}
{"Action":"run","Package":"github.com/jwtpair/jwtpair/bench","Test":"TestRoundTrips"}
{"Action":"output","Package":"github.com/jwtpair/jwtpair/bench","Test":"TestRoundTrips","Output":"=== RUN   TestRoundTrips\n"}
{"Action":"pass","Package":"github.com/jwtpair/jwtpair/bench","Test":"TestRoundTrips/rotation","Elapsed":0}
{"Action":"pass","Package":"github.com/jwtpair/jwtpair/bench","Test":"TestRoundTrips/no-rotation","Elapsed":0}
{"Action":"pass","Package":"github.com/jwtpair/jwtpair/bench","Test":"TestRoundTrips","Elapsed":0.01}
{"Action":"pass","Package":"github.com/jwtpair/jwtpair/bench","Elapsed":0.037}
{"Action":"output","Package":"github.com/jwtpair/jwtpair/redisstore","Test":"TestRoundTrips","Output":"    store_test.go:460: Rotate: commands sent\n"}
{"Action":"fail","Package":"github.com/jwtpair/jwtpair/redisstore","Test":"TestRoundTrips","Elapsed":0}
{"Action":"output","Package":"github.com/jwtpair/jwtpair/sqlstore","Test":"TestOneRoundTripPostgres","Output":"=== RUN   TestOneRoundTripPostgres\n"}
{"Action":"output","Package":"github.com/jwtpair/jwtpair/sqlstore","Test":"TestOneRoundTripPostgres","Output":"    helpers_test.go:57: set JWTPAIR_POSTGRES_URL to run them\n"}
{"Action":"output","Package":"github.com/jwtpair/jwtpair/sqlstore","Test":"TestOneRoundTripPostgres","Output":"--- SKIP: TestOneRoundTripPostgres (0.00s)\n"}
{"Action":"skip","Package":"github.com/jwtpair/jwtpair/sqlstore","Test":"TestOneRoundTripPostgres","Elapsed":0}
`

func TestStores(t *testing.T) {
	res, err := parseBench(strings.NewReader(storeOutput))
	require.NoError(t, err)
	mem, ok := res.getIn(modPath, "BenchmarkRotate")
	require.True(t, ok)
	require.Equal(t, 1600.0, mem.ns, "the root package's samples only")
	require.Equal(t, 3, mem.n)
	red, ok := res.getIn(modPath+"/redisstore", "BenchmarkRotate")
	require.True(t, ok)
	require.Equal(t, 35000.0, red.ns)
	_, ok = res.getIn(modPath+"/sqlstore", "BenchmarkRotate/sqlite")
	require.True(t, ok)
	_, ok = res.getIn(modPath+"/sqlstore", "BenchmarkRotate/postgres")
	require.False(t, ok)

	tests, err := parseTestJSON(strings.NewReader(roundTrips))
	require.NoError(t, err)
	require.Equal(t, "pass", tests[rtRotation].action)
	require.Equal(t, "fail", tests[rtRedis].action)
	require.Equal(t, "skip", tests[rtPostgres].action)
	require.Equal(t, "set JWTPAIR_POSTGRES_URL to run them", testjson.SkipReason(tests[rtPostgres].output))

	dir := t.TempDir()
	files := map[string]string{"stores.txt": storeOutput, "servers.txt": servers, "rt.json": roundTrips}
	for name, body := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	sr, err := readStores(storeInputs{
		bench:      filepath.Join(dir, "stores.txt"),
		servers:    filepath.Join(dir, "servers.txt"),
		roundtrips: filepath.Join(dir, "rt.json"),
		cmd:        "go test -bench STORES",
		rtcmd:      "go test -json RT",
		load:       "0.10 1.20",
	})
	require.NoError(t, err)
	require.Equal(t, "", sr.servers["redis.save"])
	require.NotContains(t, sr.servers, "not a setting")

	main, err := parseBench(strings.NewReader(sampleOutput))
	require.NoError(t, err)
	md := (&report{res: main, versions: map[string]string{}, cmd: "go test -bench MAIN", stores: sr}).render()
	require.Contains(t, md, "| memory (`jwtpair.NewMemoryStore()`) | 1.60 µs | 625000 | 31% | 400 | 3 |")
	require.Contains(t, md, "| Redis (`redisstore`) | 35.0 µs | 28571 | 29% | 959 | 26 |")
	require.Contains(t, md, "| PostgreSQL (`sqlstore`, pgx) | not measured |")
	require.Contains(t, md, "| SQLite (`sqlstore`, modernc.org/sqlite) | 1.25 ms | 800 |")
	require.Contains(t, md, "0.10 before, 1.20 after")
	require.Contains(t, md, `Redis 7.0.15, a throwaway server started by`+" `.ci/services.sh` "+`(as in CI): save "", appendonly no: no persistence`)
	require.NotContains(t, md, "PostgreSQL 15.20", "no PostgreSQL row, no PostgreSQL note")

	require.Contains(t, md, "| obtain (`ObtainHandler`) | 1 (Issue) | not proven | not proven |")
	require.Contains(t, md, "| verify an access token (`VerifyHandler`, `Middleware`, `VerifyAccess`) | 0 | not proven | not proven |")
	require.Contains(t, md, "`TestRoundTrips` (redisstore) **FAIL**")
	require.Contains(t, md, "`TestOneRoundTripPostgres` (sqlstore) **SKIP: set JWTPAIR_POSTGRES_URL to run them**")
	require.Contains(t, md, "`TestRoundTrips/rotation` (bench) **PASS**")

	// The order of the sections, and the commands.
	iss := strings.Index(md, "## Issuing and refreshing")
	thr := strings.Index(md, "## Refresh (rotate) throughput per store")
	rt := strings.Index(md, "## Store round trips per operation")
	e2e := strings.Index(md, "## End to end")
	require.True(t, iss < thr && thr < rt && rt < e2e, "section order")
	require.Contains(t, md, "go test -bench MAIN\n# the stores, with JWTPAIR_REDIS_URL and JWTPAIR_POSTGRES_URL set (run.sh sources .ci/services.sh):\ngo test -bench STORES\ngo test -json RT\n```")

	// All passed: the counts are shown.
	sr.tests[rtRedis] = testResult{action: "pass"}
	sr.tests[rtPostgres] = testResult{action: "pass"}
	md = (&report{res: main, versions: map[string]string{}, stores: sr}).render()
	require.Contains(t, md, "| obtain (`ObtainHandler`) | 1 (Issue) | 1 | 1 |")
	require.Contains(t, md, "| refresh, rotation on (`RefreshHandler`) | 1 (Rotate) | 1 | 1 |")
	require.Contains(t, md, "| verify an access token (`VerifyHandler`, `Middleware`, `VerifyAccess`) | 0 | 0 | 0 |")
	require.Contains(t, md, "| blacklist (`BlacklistHandler`) | 1 (Revoke) | 3 | 1 |", "the logout ends a session: feed entry and acknowledgement")

	// Without the store inputs the report is as before.
	none, err := readStores(storeInputs{})
	require.NoError(t, err)
	require.Nil(t, none)
	md = (&report{res: main, versions: map[string]string{}}).render()
	require.NotContains(t, md, "per store")
	require.Contains(t, md, "runs of one `go test -bench` invocation; ratios are ratios of medians.")
}
