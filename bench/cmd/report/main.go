// Command report turns the output of the bench module's benchmarks (and of
// the wrk runs, the store benchmarks, the round-trip tests and the sessions
// measurements of bench/run.sh) into BENCHMARKS.md: medians, ratios to the
// fastest peer and to the floor, and the targets of DESIGN.md §9 met or
// missed. Every number in the file comes from its inputs.
//
//	go run ./bench/cmd/report -bench bench.txt -wrk DIR -gomod bench/go.mod -cmd '…' -rev REV -load 'START END' \
//		-stores stores.txt -servers servers.txt -storecmd '…' -storeload 'START END' \
//		-roundtrips roundtrips.json -rtcmd '…' \
//		-propagation propagation.jsonl -propcmd '…' -revoked revoked.txt -revokedcmd '…' -sessionload 'START END' \
//		-sessiontests sessiontests.json -sessiontestscmd '…' -sessionbytes sessionbytes.txt -sessionbytescmd '…' \
//		-out BENCHMARKS.md
//
// With -update (and no -bench) it rewrites only the sessions sections of
// -out from the sessions inputs, keeping every other section as it is:
// what ONLY=sessions bash bench/run.sh does. With -scale DIR it rewrites
// only the "Stores at scale" section from the outputs bench/scale.sh wrote
// to DIR (scale.go), which a whole report keeps as it is.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	benchFile := flag.String("bench", "", "go test -bench output")
	wrkDir := flag.String("wrk", "", "directory of wrk outputs: protected-N.txt and open-N.txt")
	gomod := flag.String("gomod", "bench/go.mod", "the bench module's go.mod, for the peers' versions")
	cmd := flag.String("cmd", "", "the go test command that produced -bench")
	rev := flag.String("rev", "", "the revision measured (git describe)")
	load := flag.String("load", "", "1-minute load averages at the start and end of the benchmarks")
	out := flag.String("out", "BENCHMARKS.md", "file to write; - for standard output")
	var st storeInputs
	flag.StringVar(&st.bench, "stores", "", "go test -bench output of the stores' BenchmarkRotate (root, redisstore, sqlstore)")
	flag.StringVar(&st.servers, "servers", "", "key=value settings read from the servers the stores ran on")
	flag.StringVar(&st.cmd, "storecmd", "", "the go test command that produced -stores")
	flag.StringVar(&st.load, "storeload", "", "1-minute load averages at the start and end of the store benchmarks")
	flag.StringVar(&st.roundtrips, "roundtrips", "", "go test -json output of the round-trip tests")
	flag.StringVar(&st.rtcmd, "rtcmd", "", "the go test command that produced -roundtrips")
	var se sessionInputs
	flag.StringVar(&se.propagation, "propagation", "", "bench/cmd/propagation's results (JSON lines)")
	flag.StringVar(&se.propcmd, "propcmd", "", "the commands that produced -propagation")
	flag.StringVar(&se.revoked, "revoked", "", "go test -bench output of the root package's BenchmarkMiddleware (revoked=0, revoked=100k, feed=off), one invocation per round")
	flag.StringVar(&se.revokedcmd, "revokedcmd", "", "the command that produced -revoked")
	flag.StringVar(&se.load, "sessionload", "", "1-minute load averages at the start and end of -revoked's benchmark")
	flag.StringVar(&se.tests, "sessiontests", "", "go test -json output of the root package's revoked-set and memory-store tests")
	flag.StringVar(&se.testscmd, "sessiontestscmd", "", "the command that produced -sessiontests")
	flag.StringVar(&se.bytes, "sessionbytes", "", "go test -bench output of the stores' bytes-per-session benchmarks")
	flag.StringVar(&se.bytescmd, "sessionbytescmd", "", "the command that produced -sessionbytes")
	update := flag.Bool("update", false, "rewrite only the sessions sections of -out (no -bench), keeping the others")
	scaleDir := flag.String("scale", "", "rewrite only the \"Stores at scale\" section of -out from the directory bench/scale.sh wrote")
	flag.Parse()
	var err error
	switch {
	case *scaleDir != "":
		err = runScale(*scaleDir, *out)
	case *update:
		err = runUpdate(*out, *rev, se)
	default:
		err = run(*benchFile, *wrkDir, *gomod, *cmd, *rev, *load, *out, st, se)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

// runUpdate rewrites the sessions sections of the file at out.
func runUpdate(out, rev string, se sessionInputs) error {
	sr, err := readSessions(se)
	if err != nil {
		return err
	}
	if sr == nil {
		return fmt.Errorf("-update: no sessions inputs")
	}
	sr.rev = rev
	return updateFile(out, &report{sessions: sr})
}

func run(benchFile, wrkDir, gomod, cmd, rev, load, out string, st storeInputs, se sessionInputs) error {
	f, err := os.Open(benchFile)
	if err != nil {
		return err
	}
	defer f.Close()
	res, err := parseBench(f)
	if err != nil {
		return err
	}
	if len(res.samples) == 0 {
		return fmt.Errorf("%s: no benchmark results", benchFile)
	}
	var wrk []wrkRound
	if wrkDir != "" {
		if wrk, err = readWrk(wrkDir); err != nil {
			return err
		}
	}
	r := &report{res: res, wrk: wrk, versions: moduleVersions(gomod), cmd: cmd, rev: rev, load: strings.Fields(load)}
	if wrkDir != "" {
		if r.profile, err = readProfile(filepath.Join(wrkDir, "protected-profile.txt")); err != nil {
			return err
		}
	}
	if r.stores, err = readStores(st); err != nil {
		return err
	}
	if r.sessions, err = readSessions(se); err != nil {
		return err
	}
	if r.sessions != nil {
		r.sessions.rev = rev
	}
	text := r.render()
	if out == "-" {
		_, err = io.WriteString(os.Stdout, text)
		return err
	}
	return os.WriteFile(out, []byte(keepScale(out, text)), 0o644)
}

// sample is one benchmark result line: its iterations, its standard
// measures, and the others it reports (b.ReportMetric) by unit.
type sample struct {
	n                 int
	ns, bytes, allocs float64
	metrics           map[string]float64
}

// results are the samples of every benchmark, by name without the
// GOMAXPROCS suffix.
type results struct {
	samples map[string][]sample
	// byPkg holds the same samples by package (the pkg: line of go test)
	// and then name, for runs over several packages whose benchmarks share
	// names.
	byPkg map[string]map[string][]sample
	procs int
	cpu   string // the cpu: line of go test
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-(\d+))?\s+(\d+)\s+(.*)$`)

func parseBench(rd io.Reader) (*results, error) {
	res := &results{samples: map[string][]sample{}, byPkg: map[string]map[string][]sample{}, procs: 1}
	pkg := ""
	sc := bufio.NewScanner(rd)
	for sc.Scan() {
		line := sc.Text()
		if cpu, ok := strings.CutPrefix(line, "cpu: "); ok {
			res.cpu = strings.TrimSpace(cpu)
			continue
		}
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if m[2] != "" {
			res.procs, _ = strconv.Atoi(m[2])
		}
		var s sample
		s.n, _ = strconv.Atoi(m[3])
		fields := strings.Fields(m[4])
		for i := 0; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				return nil, fmt.Errorf("bad value in %q", line)
			}
			switch fields[i+1] {
			case "ns/op":
				s.ns = v
			case "B/op":
				s.bytes = v
			case "allocs/op":
				s.allocs = v
			default:
				if s.metrics == nil {
					s.metrics = map[string]float64{}
				}
				s.metrics[fields[i+1]] = v
			}
		}
		res.samples[m[1]] = append(res.samples[m[1]], s)
		if res.byPkg[pkg] == nil {
			res.byPkg[pkg] = map[string][]sample{}
		}
		res.byPkg[pkg][m[1]] = append(res.byPkg[pkg][m[1]], s)
	}
	return res, sc.Err()
}

// stat is the median of each measure over a benchmark's samples, and the
// spread of ns/op: (max − min) / median.
type stat struct {
	ns, bytes, allocs, spread float64
	n                         int
}

func (r *results) get(name string) (stat, bool) { return statOf(r.samples[name]) }

// getIn is get for the benchmark name of package pkg.
func (r *results) getIn(pkg, name string) (stat, bool) { return statOf(r.byPkg[pkg][name]) }

// metricIn returns the median of what benchmark name of package pkg
// reported in unit, over the samples that reported it.
func (r *results) metricIn(pkg, name, unit string) (float64, bool) {
	var v []float64
	for _, s := range r.byPkg[pkg][name] {
		if m, ok := s.metrics[unit]; ok {
			v = append(v, m)
		}
	}
	if len(v) == 0 {
		return 0, false
	}
	return median(v), true
}

func statOf(ss []sample) (stat, bool) {
	if len(ss) == 0 {
		return stat{}, false
	}
	pick := func(f func(sample) float64) []float64 {
		v := make([]float64, len(ss))
		for i, s := range ss {
			v[i] = f(s)
		}
		return v
	}
	ns := pick(func(s sample) float64 { return s.ns })
	st := stat{
		ns:     median(ns),
		bytes:  median(pick(func(s sample) float64 { return s.bytes })),
		allocs: median(pick(func(s sample) float64 { return s.allocs })),
		n:      len(ss),
	}
	st.spread = (slices.Max(ns) - slices.Min(ns)) / st.ns
	return st, true
}

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// wrkRound is one wrk run.
type wrkRound struct {
	route   string // "protected" or "open"
	round   int
	rps     float64
	latency string // wrk's average latency, as printed
}

var (
	wrkFile    = regexp.MustCompile(`^(protected|open)-(\d+)\.txt$`)
	wrkRPS     = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)`)
	wrkLatency = regexp.MustCompile(`(?m)^\s+Latency\s+(\S+)`)
)

// serverProfile is what the server's CPU profile during a protected
// round says: each share a percentage of the CPU samples.
type serverProfile struct {
	duration, samples string  // as pprof prints them
	middleware        float64 // jwtpair's middleware, the handler it calls left out
	check             float64 // of which Auth.check: reading and verifying the token
	handler           float64 // the /hello/ handler
	syscalls          float64 // system calls (the network)
}

var (
	profTotal = regexp.MustCompile(`(?m)^Duration: (\S+), Total samples = (\S+)`)
	profLine  = regexp.MustCompile(`(?m)^\s*\S+\s+\S+%\s+\S+%\s+\S+\s+([0-9.]+)%\s+(.+)$`)
	profFlat  = regexp.MustCompile(`(?m)^\s*\S+\s+([0-9.]+)%\s+\S+%\s+\S+\s+\S+%\s+(.+)$`)
)

// readProfile reads the cumulative top (go tool pprof -top -cum) of the
// server's CPU profile; nil, and no error, when there is none.
func readProfile(path string) (*serverProfile, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	m := profTotal.FindSubmatch(b)
	if m == nil {
		return nil, fmt.Errorf("%s: no Duration line", path)
	}
	p := &serverProfile{duration: string(m[1]), samples: string(m[2])}
	var guard float64
	for _, l := range profLine.FindAllSubmatch(b, -1) {
		cum, _ := strconv.ParseFloat(string(l[1]), 64)
		name := string(l[2])
		switch {
		case strings.HasSuffix(name, "(*Auth).guard.func1"):
			guard = max(guard, cum)
		case name == "github.com/jwtpair/jwtpair.(*Auth).check":
			p.check = cum
		case strings.HasSuffix(name, "/demo.hello"):
			p.handler = cum
		}
	}
	for _, l := range profFlat.FindAllSubmatch(b, -1) {
		if strings.HasSuffix(string(l[2]), "syscall/linux.Syscall6") || strings.HasSuffix(string(l[2]), "syscall.Syscall6") {
			flat, _ := strconv.ParseFloat(string(l[1]), 64)
			p.syscalls += flat
		}
	}
	if guard == 0 || p.check == 0 {
		return nil, fmt.Errorf("%s: jwtpair's middleware is not in the profile", path)
	}
	p.middleware = guard - p.handler
	return p, nil
}

func readWrk(dir string) ([]wrkRound, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var rounds []wrkRound
	for _, e := range entries {
		m := wrkFile.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		rm := wrkRPS.FindSubmatch(b)
		if rm == nil {
			return nil, fmt.Errorf("%s: no Requests/sec line", e.Name())
		}
		rps, _ := strconv.ParseFloat(string(rm[1]), 64)
		n, _ := strconv.Atoi(m[2])
		w := wrkRound{route: m[1], round: n, rps: rps}
		if lm := wrkLatency.FindSubmatch(b); lm != nil {
			w.latency = string(lm[1])
		}
		rounds = append(rounds, w)
	}
	return rounds, nil
}

// moduleVersions reads the required versions of a go.mod.
func moduleVersions(path string) map[string]string {
	v := map[string]string{}
	b, err := os.ReadFile(path)
	if err != nil {
		return v
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(f) >= 2 && strings.Contains(f[0], ".") && strings.HasPrefix(f[1], "v") {
			v[f[0]] = f[1]
		}
	}
	return v
}

// The rows of the tables, in order, and the algorithms.
var (
	libs  = []string{"jwtpair", "jwtpair-uncached", "jwtauth", "auth0", "golangjwt", "floor"}
	peers = []string{"jwtauth", "auth0", "golangjwt"}
	algs  = []string{"HS256", "RS256", "ES256", "EdDSA"}
	kinds = []string{"expired", "wrong-signature", "garbage"}
)

type report struct {
	res      *results
	wrk      []wrkRound
	profile  *serverProfile // nil: no profile of the protected route
	versions map[string]string
	cmd, rev string
	load     []string       // 1-minute load average at start and end
	stores   *storeReport   // nil: no store section
	sessions *sessionReport // nil: no sessions sections
	scale    *scaleReport   // the scale section, rendered alone (-scale)
	b        strings.Builder
}

func (r *report) p(format string, args ...any) { fmt.Fprintf(&r.b, format+"\n", args...) }

// section opens a section with its "## title" heading and reports whether
// it was measured; when it was not, it writes the line absent in its place.
func (r *report) section(title string, measured bool, absent string) bool {
	r.p("## %s", title)
	r.p("")
	if !measured {
		r.p("%s", absent)
		r.p("")
	}
	return measured
}

func (r *report) render() string {
	r.p("# Benchmarks")
	r.p("")
	r.p("Written by `bash bench/run.sh` (bench/cmd/report); do not edit by hand. Every number below is")
	if r.stores == nil {
		r.p("the median of %s runs of one `go test -bench` invocation; ratios are ratios of medians.", r.runs())
	} else {
		r.p("the median of %s runs of one `go test -bench` invocation (the store table: of a second one, against", r.runs())
		r.p("real servers); ratios are ratios of medians.")
	}
	r.p("")
	r.machine()
	r.targets()
	r.middleware()
	r.rejects()
	r.issuing()
	r.storeSection()
	r.sessionSections()
	r.endToEnd()
	r.configuration()
	r.reproduce()
	return r.b.String()
}

func (r *report) runs() string {
	n := 0
	for _, ss := range r.res.samples {
		n = max(n, len(ss))
	}
	return strconv.Itoa(n)
}

func (r *report) machine() {
	r.p("## Machine")
	r.p("")
	cpu := cpuModel()
	if r.res.cpu != "" && r.res.cpu != cpu {
		cpu += " (go test reports: " + r.res.cpu + ")"
	}
	r.p("- CPU: %s; %d logical cores; benchmarks ran with GOMAXPROCS=%d", cpu, runtime.NumCPU(), r.res.procs)
	r.p("- Go: %s %s/%s", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	r.p("- Date: %s", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	if r.rev != "" {
		r.p("- Revision: %s", r.rev)
	}
	if len(r.load) == 2 {
		r.p("- 1-minute load average: %s before the benchmarks, %s after (they keep about one core busy)", r.load[0], r.load[1])
	}
	var vs []string
	for _, m := range []string{"github.com/go-chi/jwtauth/v5", "github.com/lestrrat-go/jwx/v2", "github.com/auth0/go-jwt-middleware/v3", "github.com/lestrrat-go/jwx/v3", "github.com/golang-jwt/jwt/v5"} {
		if v, ok := r.versions[m]; ok {
			vs = append(vs, fmt.Sprintf("%s %s", m, v))
		}
	}
	if len(vs) > 0 {
		r.p("- Modules: %s", strings.Join(vs, ", "))
	}
	r.p("")
}

// cpuModel is the model name of /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return "unknown"
}

func (r *report) mw(alg, lib string) (stat, bool) {
	return r.res.get("BenchmarkMiddleware/" + alg + "/" + lib)
}

// fastestPeer returns the peer with the lowest median ns/op for alg.
func (r *report) fastestPeer(alg string) (string, stat, bool) {
	best, bestStat, found := "", stat{}, false
	for _, p := range peers {
		if s, ok := r.mw(alg, p); ok && (!found || s.ns < bestStat.ns) {
			best, bestStat, found = p, s, true
		}
	}
	return best, bestStat, found
}

type target struct {
	what    string
	measure string
	limit   float64
	value   float64
	ok      bool // measured
}

// targets compares jwtpair with the peers, the floor and the bare
// verify. Where the others verify every request, so does the row compared
// (jwtpair-uncached: the cache of verified tokens skips the very work the
// comparison is about); the HS256 row against the bare HMAC is given both
// ways: as jwtpair runs (the issue-16 target) and uncached.
func (r *report) targets() {
	var ts []target
	jp, jok := r.mw("HS256", "jwtpair")
	ju, juok := r.mw("HS256", "jwtpair-uncached")
	peer, ps, pok := r.fastestPeer("HS256")
	fl, fok := r.mw("HS256", "floor")
	ts = append(ts,
		target{"HS256 valid token ≤ 0.8× the fastest peer", "jwtpair-uncached ÷ " + peer, 0.8, ju.ns / ps.ns, juok && pok},
		target{"HS256 valid token ≤ 1.5× the floor", "jwtpair-uncached ÷ floor", 1.5, ju.ns / fl.ns, juok && fok},
	)
	hb, hbok := r.res.get("BenchmarkBareVerify/HS256")
	ts = append(ts,
		target{"HS256 valid token ≤ 2× the bare HMAC verify", "jwtpair ÷ bare verify", 2, jp.ns / hb.ns, jok && hbok},
		target{"the same, every request verified (a token's first requests)", "jwtpair-uncached ÷ bare verify", 2, ju.ns / hb.ns, juok && hbok},
	)
	for _, alg := range []string{"ES256", "EdDSA"} {
		j, jok := r.mw(alg, "jwtpair-uncached")
		bare, bok := r.res.get("BenchmarkBareVerify/" + alg)
		ts = append(ts, target{alg + " valid token ≤ 1.10× the bare crypto verify", "jwtpair-uncached ÷ bare verify", 1.10, j.ns / bare.ns, jok && bok})
	}
	g, gok := r.res.get("BenchmarkReject/garbage/jwtpair")
	ts = append(ts, target{"garbage (1 MiB of dots) rejected in < 1 µs", "jwtpair ns/op", 1000, g.ns, gok})

	r.p("## Targets (DESIGN.md §9)")
	r.p("")
	r.p("| target | measure | value | result |")
	r.p("|---|---|---:|---|")
	for _, t := range ts {
		switch {
		case !t.ok:
			r.p("| %s | %s | — | not measured |", t.what, t.measure)
		case t.limit == 1000:
			r.p("| %s | %s | %.0f ns | %s |", t.what, t.measure, t.value, verdict(t.value < t.limit, fmt.Sprintf("%.1f× the limit", t.value/t.limit)))
		default:
			r.p("| %s | %s | %.2f× | %s |", t.what, t.measure, t.value, verdict(t.value <= t.limit, fmt.Sprintf("by %.0f%%", (t.value/t.limit-1)*100)))
		}
	}
	r.p("")
	r.p("The bare verify (`BenchmarkBareVerify`) is each row's physical limit: base64 decoding of the")
	r.p("signature, then for HS256 the HMAC over the signing input with one reused MAC state and")
	r.p("`hmac.Equal` (no allocation, no claim read), for the asymmetric algorithms the public-key verify")
	r.p("over the precomputed digest of the signing input. The `floor` rows of the tables are a whole")
	r.p("standard-library middleware instead (digest, verify, base64, `encoding/json`, claim checks,")
	r.p("context), so that the floor answers 401 to bad tokens in every algorithm, as every row must.")
	r.p("")
	r.p("jwtpair's rows are its defaults, with the cache of verified tokens (`WithVerifiedTokenCache`,")
	r.p("4096 slots): the benchmark presents one token again and again, as a client does for the token's")
	r.p("lifetime, and from its third request on the middleware finds it there, skips the signature check")
	r.p("and the parse, and applies every other rule (time claims, token type, issuer, audience, revoked")
	r.p("set). The `jwtpair-uncached` rows turn the cache off: every request verifies its token, as a")
	r.p("token's first request does and as every other row does on every request.")
	var first []string
	for _, alg := range algs {
		u, uok := r.mw(alg, "jwtpair-uncached")
		bare, bok := r.res.get("BenchmarkBareVerify/" + alg)
		if uok && bok {
			first = append(first, fmt.Sprintf("%s %s (%.2f× the bare verify)", alg, ns(u.ns), u.ns/bare.ns))
		}
	}
	if len(first) > 0 {
		r.p("Uncached: %s.", strings.Join(first, ", "))
	}
	r.p("")
}

// libName is a row's name in the tables: jwtpair's in bold.
func libName(lib string) string {
	if strings.HasPrefix(lib, "jwtpair") {
		return "**" + lib + "**"
	}
	return lib
}

func verdict(met bool, miss string) string {
	if met {
		return "**met**"
	}
	return "**missed** (" + miss + ")"
}

func (r *report) middleware() {
	r.p("## A valid access token through the middleware (`BenchmarkMiddleware/<alg>/<lib>`)")
	r.p("")
	r.p("One GET with `Authorization: Bearer <token>` through the middleware to a handler that reads the")
	r.p("user id from the request context (each library's own accessor), on a reused ResponseWriter that")
	r.p("discards output. Same token for every library: simplejwt's claims (`token_type` access, `exp`,")
	r.p("`iat`, `jti`, `user_id`) plus `iss` and `aud`, which auth0's validator requires; every library")
	r.p("is configured to check them as jwtpair does, as far as it can (see below for what some cannot")
	r.p("be made to refuse). Spread is (max − min) ÷ median of ns/op.")
	r.p("")
	for _, alg := range algs {
		peer, ps, pok := r.fastestPeer(alg)
		fl, fok := r.mw(alg, "floor")
		bare, bok := r.res.get("BenchmarkBareVerify/" + alg)
		if !pok && !fok {
			continue
		}
		r.p("### %s", alg)
		r.p("")
		head := "| library | time/op | spread | B/op | allocs/op | × fastest peer (%s) | × floor |"
		sep := "|---|---:|---:|---:|---:|---:|---:|"
		if bok {
			head += " × bare verify |"
			sep += "---:|"
		}
		r.p(head, peer)
		r.p(sep)
		for _, lib := range libs {
			s, ok := r.mw(alg, lib)
			if !ok {
				if lib == "jwtpair" {
					r.p("| jwtpair | not measured | | | | | |")
				}
				continue
			}
			name := libName(lib)
			row := fmt.Sprintf("| %s | %s | %s | %.0f | %.0f | %s | %s |", name, ns(s.ns), pct(s.spread), s.bytes, s.allocs,
				ratio(s.ns, ps.ns, pok), ratio(s.ns, fl.ns, fok))
			if bok {
				row += " " + ratio(s.ns, bare.ns, true) + " |"
			}
			r.p("%s", row)
		}
		if bok {
			r.p("| *bare verify* | %s | %s | %.0f | %.0f | %s | %s | 1.00 |", ns(bare.ns), pct(bare.spread), bare.bytes, bare.allocs,
				ratio(bare.ns, ps.ns, pok), ratio(bare.ns, fl.ns, fok))
		}
		r.p("")
	}
}

func (r *report) rejects() {
	r.p("## Rejecting bad HS256 tokens (`BenchmarkReject/<kind>/<lib>`)")
	r.p("")
	r.p("Each middleware answers 401 (with its own error body) to: a correctly signed token that expired")
	r.p("a minute ago; the valid token's claims signed with another key; `Bearer ` followed by 1 MiB of dots.")
	r.p("")
	r.p("| library | expired | allocs | wrong signature | allocs | garbage (1 MiB) | B/op | allocs |")
	r.p("|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, lib := range libs {
		cells := []string{libName(lib)}
		for _, k := range kinds {
			s, ok := r.res.get("BenchmarkReject/" + k + "/" + lib)
			if !ok {
				cells = append(cells, "—", "—")
				if k == "garbage" {
					cells = append(cells, "—")
				}
				continue
			}
			cells = append(cells, ns(s.ns))
			if k == "garbage" {
				cells = append(cells, fmt.Sprintf("%.0f", s.bytes))
			}
			cells = append(cells, fmt.Sprintf("%.0f", s.allocs))
		}
		r.p("| %s |", strings.Join(cells, " | "))
	}
	r.p("")
}

func (r *report) issuing() {
	r.p("## Issuing and refreshing (`BenchmarkObtain/<alg>`, `BenchmarkRefresh/<alg>`)")
	r.p("")
	r.p("jwtpair only, through the real handlers on the memory store: obtain is a JSON login with an")
	r.p("Authenticator that does no password hashing (one store round trip: Issue); refresh presents the")
	r.p("refresh token the previous iteration got, with rotation on (one round trip: Rotate). Both mint")
	r.p("two tokens, so the asymmetric rows are dominated by signing. `TestRoundTrips` asserts the round")
	r.p("trips: obtain 1, refresh 1, verify of an access token 0, blacklist 1.")
	r.p("")
	r.p("| alg | obtain time/op | B/op | allocs/op | refresh time/op | B/op | allocs/op |")
	r.p("|---|---:|---:|---:|---:|---:|---:|")
	for _, alg := range algs {
		o, ook := r.res.get("BenchmarkObtain/" + alg)
		f, fok := r.res.get("BenchmarkRefresh/" + alg)
		if !ook && !fok {
			continue
		}
		r.p("| %s | %s | %s |", alg, triple(o, ook), triple(f, fok))
	}
	r.p("")
}

func triple(s stat, ok bool) string {
	if !ok {
		return "— | — | —"
	}
	return fmt.Sprintf("%s | %.0f | %.0f", ns(s.ns), s.bytes, s.allocs)
}

func (r *report) endToEnd() {
	if !r.section("End to end (wrk)", len(r.wrk) > 0, "Not measured in this run (wrk unavailable).") {
		return
	}
	r.p("bench/run.sh builds and starts the example server (`example -addr 127.0.0.1:0 -access-ttl 1h")
	r.p("-open-hello`: HS256, memory store), which serves its `/hello/` handler behind jwtpair's")
	r.p("middleware and, with `-open-hello`, the very same handler without it at `/open/hello/`. An access")
	r.p("token comes from `POST /api/token/` (admin:admin, curl); wrk sends the same `Authorization` header")
	r.p("to both routes, alternating routes round by round on the same machine (server and wrk share its")
	r.p("cores); the table gives the median requests/s over the rounds.")
	r.p("")
	r.p("| route | requests/s (median) | spread | rounds | average latency per round |")
	r.p("|---|---:|---:|---:|---|")
	med := map[string]float64{}
	var spread float64 // the largest of the routes
	for _, route := range []string{"open", "protected"} {
		var rps []float64
		var lat []string
		for _, w := range r.wrk {
			if w.route == route {
				rps = append(rps, w.rps)
				lat = append(lat, w.latency)
			}
		}
		if len(rps) == 0 {
			continue
		}
		med[route] = median(rps)
		sp := (slices.Max(rps) - slices.Min(rps)) / med[route]
		spread = max(spread, sp)
		label := "`/open/hello/` (no middleware)"
		if route == "protected" {
			label = "`/hello/` (jwtpair middleware)"
		}
		r.p("| %s | %.0f | %s | %d | %s |", label, med[route], pct(sp), len(rps), strings.Join(lat, ", "))
	}
	if med["open"] > 0 && med["protected"] > 0 {
		r.p("")
		r.p("Protected ÷ open: **%.2f** of the throughput (1/rps grows by %.1f µs per request, with %d cores",
			med["protected"]/med["open"], (1/med["protected"]-1/med["open"])*1e6, runtime.NumCPU())
		r.p("shared by the server and wrk, whose rounds of one route spread over up to %s here: the profile", pct(spread))
		r.p("below is the steadier measure of what the middleware costs).")
	}
	r.p("")
	if p := r.profile; p != nil {
		r.p("Where the protected route spends its time: the server's CPU profile over the last protected")
		r.p("round (`-debug-addr`'s `/debug/pprof/profile`, %s, %s of samples): jwtpair's middleware, the", p.duration, p.samples)
		r.p("handler it calls left out, **%.1f%%** of the server's CPU (of which `Auth.check`, reading and", p.middleware)
		r.p("verifying the token, %.1f%%); the `/hello/` handler (JSON) %.1f%%; system calls (the network)", p.check, p.handler)
		r.p("%.1f%%; the rest is net/http and the runtime.", p.syscalls)
		r.p("")
	}
}

func (r *report) configuration() {
	r.p("## What each row checks")
	r.p("")
	r.p("Every row is configured to check what jwtpair checks, as far as its library allows: algorithm")
	r.p("pinned and signature; `exp` required and not past; `nbf` and `iat`, when present, not in the")
	r.p("future (no leeway); `iss` and `aud` required and equal to the expected values; `token_type`")
	r.p("access; `jti` of 1 to 255 bytes; `user_id` a non-empty string.")
	r.p("")
	r.p("- **jwtpair**: `jwtpair.New(WithHMACKey | WithSigningKey+WithKeyID, WithIssuer, WithAudience)`, `auth.Middleware`;")
	r.p("  `jwtpair.UserFrom` in the handler. Besides the above it refuses header members other than `alg`,")
	r.p("  `typ` and `kid`, a registered claim given twice, and one of the wrong JSON type (`exp`, `iat`,")
	r.p("  `nbf` must be numbers). It also accepts an integer `user_id`, as simplejwt issues them.")
	r.p("- **jwtpair-uncached**: the same with `WithVerifiedTokenCache(0)`.")
	r.p("- **jwtauth**: `jwtauth.New(alg, nil, key, jwt.WithRequiredClaim(\"exp\"), jwt.WithIssuer, jwt.WithAudience,")
	r.p("  jwt.WithClaimValue(\"token_type\", \"access\"), jwt.WithValidator(jti, user_id))` after")
	r.p("  `jwt.Settings(jwt.WithNumericDateParsePedantic(true))` (no RFC 3339 dates); `jwt.Validate` checks")
	r.p("  `exp`, `iat`, `nbf` by default. `jwtauth.Verifier` + `jwtauth.Authenticator`; `jwtauth.FromContext`")
	r.p("  in the handler. Cannot be made to refuse: `exp`, `iat` or `nbf` given as a string of digits")
	r.p("  (jwx v2 reads it as the number), or a claim given twice (the last one wins).")
	r.p("- **auth0**: `validator.New(WithKeyFunc, WithAlgorithm, WithIssuer, WithAudience, WithCustomClaims)`,")
	r.p("  `jwtmiddleware.New(...).CheckJWT`; `jwtmiddleware.GetClaims` in the handler. jwx v3 checks `exp`,")
	r.p("  `iat`, `nbf`; the custom claims (decoded by `encoding/json`) check `token_type`, `user_id`, `jti`,")
	r.p("  and that `exp`, `iat`, `nbf` are JSON numbers. Not refused: a claim given twice, or again in")
	r.p("  other letter case (`TOKEN_TYPE`): `encoding/json`, which has no option against them, keeps the")
	r.p("  last member whose name matches case-insensitively.")
	r.p("- **golangjwt**: a short middleware: `jwt.NewParser(WithValidMethods, WithExpirationRequired,")
	r.p("  WithIssuedAt, WithIssuer, WithAudience).ParseWithClaims` into a claims struct whose `Validate`")
	r.p("  checks `token_type`, `user_id` and `jti`, and whose `exp`, `iat`, `nbf` refuse strings; claims in")
	r.p("  the context. Not refused: a claim given twice or again in other letter case (`encoding/json`,")
	r.p("  as for auth0).")
	r.p("- **floor**: the standard library written the obvious way: the header segment compared with the")
	r.p("  expected one, `hmac.New` per request (or digest + `rsa.VerifyPKCS1v15` / `ecdsa.Verify` /")
	r.p("  `ed25519.Verify`), `base64.RawURLEncoding.DecodeString`, `json.Unmarshal` into a fixed struct,")
	r.p("  every claim above checked, claims in the context. Accepts a claim given twice or again in other")
	r.p("  letter case (`encoding/json`); its struct types `exp`, `iat`, `nbf` as integers and `aud` as a")
	r.p("  string, so it refuses fractional dates and an `aud` array, which the others accept.")
	r.p("")
	r.p("Every row but jwtpair types `user_id` as a string and so refuses an integer one. `TestLibsVerify`")
	r.p("proves, in every algorithm, that every row answers 200 to the valid token and 401 to expired,")
	r.p("wrongly signed, refresh-typed and garbage tokens and to hand-made ones with a wrong or missing")
	r.p("`iss` or `aud`, no `exp`, a missing, empty or over-long `jti`, no or an empty `user_id`, no")
	r.p("`token_type`, `nbf` or `iat` in the future, or a string `exp`; and it asserts each exception above.")
	r.p("")
}

func (r *report) reproduce() {
	r.p("## Reproduce")
	r.p("")
	r.p("```")
	r.p("bash bench/run.sh            # everything above, rewrites BENCHMARKS.md")
	r.p("ONLY=sessions bash bench/run.sh   # the sessions sections alone, rewritten in place")
	r.p("bash bench/scale.sh          # the \"Stores at scale\" section alone (run.sh keeps it), rewritten in place")
	if r.cmd != "" {
		r.p("%s", r.cmd)
	}
	if r.stores != nil && r.stores.cmd+r.stores.rtcmd != "" {
		r.p("# the stores, with JWTPAIR_REDIS_URL and JWTPAIR_POSTGRES_URL set (run.sh sources .ci/services.sh):")
		for _, c := range []string{r.stores.cmd, r.stores.rtcmd} {
			if c != "" {
				r.p("%s", c)
			}
		}
	}
	r.p("```")
}

func ns(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2f s", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.2f ms", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1f µs", v/1e3)
	case v >= 1e3:
		return fmt.Sprintf("%.2f µs", v/1e3)
	}
	return fmt.Sprintf("%.0f ns", v)
}

func pct(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	return fmt.Sprintf("%.0f%%", v*100)
}

func ratio(a, b float64, ok bool) string {
	if !ok || b == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", a/b)
}

// iterations returns the largest iteration count benchmark name of
// package pkg ran with.
func (r *results) iterations(pkg, name string) int {
	n := 0
	for _, s := range r.byPkg[pkg][name] {
		n = max(n, s.n)
	}
	return n
}
