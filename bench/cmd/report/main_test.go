package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const sampleOutput = `goos: linux
cpu: Some CPU
BenchmarkMiddleware/HS256/jwtpair-2   	  902850	       400 ns/op	     640 B/op	       1 allocs/op
BenchmarkMiddleware/HS256/jwtpair-2   	  902850	       400 ns/op	     640 B/op	       1 allocs/op
BenchmarkMiddleware/HS256/jwtpair-uncached-2   	  202850	      1700 ns/op	     712 B/op	       9 allocs/op
BenchmarkMiddleware/HS256/jwtpair-uncached-2   	  202850	      1900 ns/op	     712 B/op	       9 allocs/op
BenchmarkMiddleware/HS256/jwtpair-uncached-2   	  202850	      1800 ns/op	     712 B/op	       9 allocs/op
BenchmarkMiddleware/HS256/golangjwt-2 	   41838	      7000 ns/op	    3536 B/op	      56 allocs/op
BenchmarkMiddleware/HS256/auth0-2     	   41838	      9000 ns/op	    3536 B/op	      56 allocs/op
BenchmarkMiddleware/HS256/floor-2     	   96103	      3600 ns/op	    1712 B/op	      21 allocs/op
BenchmarkBareVerify/HS256-2           	 1000000	       800 ns/op	       0 B/op	       0 allocs/op
BenchmarkReject/wrong-signature/floor-2	  316612	      1138 ns/op	     848 B/op	      11 allocs/op
BenchmarkReject/garbage/jwtpair-2     	  632077	       613.7 ns/op	     107 B/op	      10 allocs/op
PASS
`

func TestParseAndRender(t *testing.T) {
	res, err := parseBench(strings.NewReader(sampleOutput))
	require.NoError(t, err)
	require.Equal(t, 2, res.procs)
	require.Equal(t, "Some CPU", res.cpu)
	s, ok := res.get("BenchmarkMiddleware/HS256/jwtpair-uncached")
	require.True(t, ok)
	require.Equal(t, 1800.0, s.ns)
	require.Equal(t, 3, s.n)
	require.InDelta(t, 200.0/1800, s.spread, 1e-9)
	_, ok = res.get("BenchmarkReject/wrong-signature/floor")
	require.True(t, ok, "dashes inside names are kept")

	dir := t.TempDir()
	for name, rps := range map[string]string{"open-1.txt": "40000.00", "protected-1.txt": "36000.00"} {
		body := "    Latency   700.00us  1.0ms  8.74ms   89.06%\nRequests/sec:  " + rps + "\n"
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	wrk, err := readWrk(dir)
	require.NoError(t, err)
	prof, err := readProfile(filepath.Join(dir, "protected-profile.txt"))
	require.NoError(t, err)
	require.Nil(t, prof, "no profile taken")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "protected-profile.txt"), []byte(sampleProfile), 0o644))
	prof, err = readProfile(filepath.Join(dir, "protected-profile.txt"))
	require.NoError(t, err)
	r := &report{res: res, wrk: wrk, profile: prof, versions: map[string]string{}}
	md := r.render()
	require.Contains(t, md, "| HS256 valid token ≤ 0.8× the fastest peer | jwtpair-uncached ÷ golangjwt | 0.26× | **met** |")
	require.Contains(t, md, "| HS256 valid token ≤ 1.5× the floor | jwtpair-uncached ÷ floor | 0.50× | **met** |")
	require.Contains(t, md, "| ES256 valid token ≤ 1.10× the bare crypto verify | jwtpair-uncached ÷ bare verify | — | not measured |")
	require.Contains(t, md, "| HS256 valid token ≤ 2× the bare HMAC verify | jwtpair ÷ bare verify | 0.50× | **met** |")
	require.Contains(t, md, "| the same, every request verified (a token's first requests) | jwtpair-uncached ÷ bare verify | 2.25× | **missed** (by 12%) |")
	require.Contains(t, md, "| *bare verify* | 800 ns |")
	require.Contains(t, md, "614 ns | **met**")
	require.Contains(t, md, "Protected ÷ open: **0.90**")
	require.Contains(t, md, "| `/open/hello/` (no middleware) | 40000 | 0% | 1 |")
	require.Contains(t, md, "| `/hello/` (jwtpair middleware) | 36000 | 0% | 1 |")
	require.Contains(t, md, "rounds of one route spread over up to 0% here")
	require.Contains(t, md, "starts the example server")
	require.Contains(t, md, "handler it calls left out, **4.2%** of the server's CPU (of which `Auth.check`, reading and")
	require.Contains(t, md, "verifying the token, 3.9%); the `/hello/` handler (JSON) 8.4%; system calls (the network)")
	require.Contains(t, md, "(the network)\n44.8%; the rest")
	require.NotContains(t, md, "%!", "a format verb without its value, or a value without its verb")
	// The exceptions TestLibsVerify (bench/libs_test.go) asserts.
	require.Contains(t, md, "`exp`, `iat` or `nbf` given as a string of digits")
	require.Contains(t, md, "again in other letter case")
}

// sampleProfile is the head of `go tool pprof -top -cum` on the example
// server's CPU profile (bench/run.sh's e2e), with the lines readProfile
// reads.
const sampleProfile = `File: example
Type: cpu
Duration: 10s, Total samples = 10.15s (101.49%)
Showing nodes accounting for 7.54s, 74.29% of 10.15s total
      flat  flat%   sum%        cum   cum%
     4.55s 44.83% 44.83%      4.55s 44.83%  internal/runtime/syscall/linux.Syscall6
         0     0% 45.62%      1.55s 15.27%  net/http.serverHandler.ServeHTTP
     0.01s 0.099% 45.91%      1.28s 12.61%  github.com/jwtpair/jwtpair.(*Auth).Middleware-fm.(*Auth).Middleware.(*Auth).guard.func1
     0.01s 0.099% 46.70%      0.85s  8.37%  github.com/jwtpair/jwtpair/example/internal/demo.hello
         0     0% 56.16%      0.40s  3.94%  github.com/jwtpair/jwtpair.(*Auth).check
`

func TestMedian(t *testing.T) {
	require.Equal(t, 2.0, median([]float64{3, 1, 2}))
	require.Equal(t, 2.5, median([]float64{4, 1, 2, 3}))
}
