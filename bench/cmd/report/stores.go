package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/jwtpair/jwtpair/internal/testjson"
)

// storeInputs are the files and notes of the store section; all optional.
type storeInputs struct {
	bench      string // go test -bench output of the stores' BenchmarkRotate
	servers    string // key=value lines: settings read from the servers
	roundtrips string // go test -json output of the round-trip tests
	cmd, rtcmd string // the commands that produced bench and roundtrips
	load       string // load averages at the start and end of the store benchmarks
}

// storeReport is what the store section is rendered from.
type storeReport struct {
	res        *results          // nil: store benchmarks not run
	servers    map[string]string // e.g. "postgres.fsync" → "off"
	tests      map[testID]testResult
	cmd, rtcmd string
	load       []string
}

// readStores reads the store section's inputs; nil when none is given.
func readStores(in storeInputs) (*storeReport, error) {
	if in.bench == "" && in.roundtrips == "" {
		return nil, nil
	}
	sr := &storeReport{servers: map[string]string{}, cmd: in.cmd, rtcmd: in.rtcmd, load: strings.Fields(in.load)}
	err := errors.Join(
		readInput(in.bench, func(r io.Reader) (err error) { sr.res, err = parseBench(r); return err }),
		readInput(in.servers, func(r io.Reader) (err error) { sr.servers, err = parseSettings(r); return err }),
		readInput(in.roundtrips, func(r io.Reader) (err error) { sr.tests, err = parseTestJSON(r); return err }),
	)
	if err != nil {
		return nil, err
	}
	return sr, nil
}

// readInput parses the file at path with parse; an empty path is no input.
func readInput(path string, parse func(io.Reader) error) error {
	if path == "" {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return parse(f)
}

// parseSettings reads key=value lines; others are ignored.
func parseSettings(rd io.Reader) (map[string]string, error) {
	m := map[string]string{}
	sc := bufio.NewScanner(rd)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && k != "" && !strings.ContainsAny(k, " \t") {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m, sc.Err()
}

// testID names a test (or subtest) of a package.
type testID struct{ pkg, test string }

// testResult is a test's final action in go test -json: pass, fail or skip,
// and its output (what it logged, its skip message).
type testResult struct {
	action string
	output string
}

// parseTestJSON reads go test -json output (test2json events).
func parseTestJSON(rd io.Reader) (map[testID]testResult, error) {
	m := map[testID]testResult{}
	out := map[testID]*strings.Builder{}
	dec := json.NewDecoder(rd)
	for {
		var e testjson.Event
		if err := dec.Decode(&e); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go test -json output: %w", err)
		}
		if e.Test == "" {
			continue
		}
		id := testID{e.Package, e.Test}
		switch e.Action {
		case "output":
			if out[id] == nil {
				out[id] = &strings.Builder{}
			}
			out[id].WriteString(e.Output)
		case "pass", "fail", "skip":
			r := testResult{action: e.Action}
			if out[id] != nil {
				r.output = out[id].String()
			}
			m[id] = r
		}
	}
	return m, nil
}

// The store rows: each store's BenchmarkRotate, by package.
const modPath = "github.com/jwtpair/jwtpair"

var storeRows = []struct{ key, label, pkg, bench string }{
	{"memory", "memory (`jwtpair.NewMemoryStore()`)", modPath, "BenchmarkRotate"},
	{"redis", "Redis (`redisstore`)", modPath + "/redisstore", "BenchmarkRotate"},
	{"postgres", "PostgreSQL (`sqlstore`, pgx)", modPath + "/sqlstore", "BenchmarkRotate/postgres"},
	{"sqlite", "SQLite (`sqlstore`, modernc.org/sqlite)", modPath + "/sqlstore", "BenchmarkRotate/sqlite"},
}

// The tests that prove the round trips, and what each asserts.
var (
	rtRotation   = testID{modPath + "/bench", "TestRoundTrips/rotation"}
	rtNoRotation = testID{modPath + "/bench", "TestRoundTrips/no-rotation"}
	rtRedis      = testID{modPath + "/redisstore", "TestRoundTrips"}
	rtPostgres   = testID{modPath + "/sqlstore", "TestOneRoundTripPostgres"}
)

// The operations of the round-trip table. calls is the number of store
// calls TestRoundTrips asserts (method names the store method), proven by
// the subtests listed; redisstore's TestRoundTrips and
// TestOneRoundTripPostgres assert the commands / statements per store
// method (redisPerCall, perCall).
var rtOps = []struct {
	op     string
	calls  int
	method string
	by     []testID
}{
	{"obtain (`ObtainHandler`)", 1, "Issue", []testID{rtRotation, rtNoRotation}},
	{"refresh, rotation on (`RefreshHandler`)", 1, "Rotate", []testID{rtRotation}},
	{"refresh, rotation off (`WithRotation(false)`)", 1, "Check", []testID{rtNoRotation}},
	{"verify an access token (`VerifyHandler`, `Middleware`, `VerifyAccess`)", 0, "", []testID{rtRotation, rtNoRotation}},
	{"blacklist (`BlacklistHandler`)", 1, "Revoke", []testID{rtRotation, rtNoRotation}},
}

const perCall = 1 // round trips per store method: what rtPostgres asserts

// redisPerCall is what rtRedis asserts: one command per store method, but
// for a method that ends a session (the script, the feed entry, its
// acknowledgement).
var redisPerCall = map[string]int{"Revoke": 3}

func redisCommands(method string) int {
	if n, ok := redisPerCall[method]; ok {
		return n
	}
	return perCall
}

func (r *report) storeSection() {
	if r.stores == nil {
		return
	}
	r.storeThroughput()
	r.roundTrips()
}

func (r *report) storeThroughput() {
	sr := r.stores
	if !r.section("Refresh (rotate) throughput per store, b.RunParallel (`BenchmarkRotate`)", sr.res != nil, "Not measured in this run.") {
		return
	}
	r.p("`Store.Rotate` alone, as the refresh endpoint calls it (no HTTP, no signing): consume the")
	r.p("presented refresh token and record its successor. Each benchmark sets `b.SetParallelism(4)`:")
	r.p("4 goroutines per GOMAXPROCS (GOMAXPROCS=%d), each rotating a chain of its own, so no two", sr.res.procs)
	r.p("rotations contend for one token. ns/op is wall time ÷ the rotations of all goroutines, so rotations/s")
	r.p("(1e9 ÷ ns/op) is the aggregate throughput. B/op and allocs/op are the Go client's only. Median")
	r.p("of %s runs of `BenchmarkRotate` in the root package (memory), redisstore and sqlstore, in one", storeRuns(sr.res))
	if len(sr.load) == 2 {
		r.p("`go test -bench` invocation; spread as above. 1-minute load average: %s before, %s after.", sr.load[0], sr.load[1])
	} else {
		r.p("`go test -bench` invocation; spread as above.")
	}
	r.p("")
	r.p("| store | time/op | rotations/s | spread | B/op | allocs/op |")
	r.p("|---|---:|---:|---:|---:|---:|")
	for _, row := range storeRows {
		s, ok := sr.res.getIn(row.pkg, row.bench)
		if !ok {
			r.p("| %s | not measured | | | | |", row.label)
			continue
		}
		r.p("| %s | %s | %.0f | %s | %.0f | %.0f |", row.label, ns(s.ns), 1e9/s.ns, pct(s.spread), s.bytes, s.allocs)
	}
	r.p("")
	r.p("Where each store ran (Redis and PostgreSQL on this machine, over loopback TCP, sharing its")
	r.p("cores with the benchmark; their settings as read from the running servers):")
	r.p("")
	for _, row := range storeRows {
		if _, ok := sr.res.getIn(row.pkg, row.bench); ok {
			r.p("- %s", sr.serverNote(row.key))
		}
	}
	r.p("")
}

func storeRuns(res *results) string {
	n := 0
	for _, row := range storeRows {
		n = max(n, len(res.byPkg[row.pkg][row.bench]))
	}
	return fmt.Sprint(n)
}

// origin says who started a server.
func (sr *storeReport) origin(name string) string {
	if sr.servers["origin"] == "services.sh" {
		return ", a throwaway server started by `.ci/services.sh` (as in CI)"
	}
	return ", the server of " + name
}

func (sr *storeReport) serverNote(key string) string {
	v := sr.servers
	switch key {
	case "memory":
		return "memory: in process; one mutex per store, so the workers take turns."
	case "redis":
		s := "Redis"
		if ver := v["redis.version"]; ver != "" {
			s += " " + ver
		}
		s += sr.origin("JWTPAIR_REDIS_URL")
		save, sok := v["redis.save"]
		aof, aok := v["redis.appendonly"]
		if !sok || !aok {
			return s + "; persistence settings not read."
		}
		s += fmt.Sprintf(": save %q, appendonly %s", save, aof)
		if save == "" && aof == "no" {
			s += ": no persistence, nothing is written to disk (an AOF would add a write per rotation;" +
				" not measured)"
		}
		return s + "."
	case "postgres":
		s := "PostgreSQL"
		if ver := v["postgres.server_version"]; ver != "" {
			s += " " + ver
		}
		s += sr.origin("JWTPAIR_POSTGRES_URL")
		var set []string
		for _, k := range []string{"fsync", "synchronous_commit", "full_page_writes"} {
			if x, ok := v["postgres."+k]; ok {
				set = append(set, k+"="+x)
			}
		}
		if len(set) == 0 {
			return s + "; durability settings not read."
		}
		s += ": " + strings.Join(set, ", ")
		if v["postgres.fsync"] == "off" || v["postgres.synchronous_commit"] == "off" {
			s += ". **Commits do not wait for the disk**, so this row is an upper bound: on a durable server" +
				" (fsync and synchronous_commit on, the defaults) every rotation, one commit, also waits for a WAL" +
				" flush, which this run did not measure."
		} else {
			s += ": every rotation, one commit, waits for a WAL flush."
		}
		return s
	case "sqlite":
		s := "SQLite: a database file in the benchmark's temporary directory"
		if fs := v["tmpdir.fs"]; fs != "" {
			s += " (file system " + fs + ")"
		}
		return s + ", opened with the DSN the package documents (WAL journal, busy timeout), other pragmas" +
			" at their defaults (synchronous FULL: every commit waits for the disk); SQLite admits one writer" +
			" at a time."
	}
	return key
}

func (r *report) roundTrips() {
	sr := r.stores
	if !r.section("Store round trips per operation", sr.tests != nil, "Not counted in this run.") {
		return
	}
	r.p("Counted by tests run for this report (command below); a count is shown only when the test")
	r.p("asserting it passed in this run. Store calls go through the real handlers on a store wrapper")
	r.p("that counts them; the Redis and PostgreSQL columns are those calls times the round trips per")
	r.p("store method that the backends' tests count on the wire.")
	r.p("")
	r.p("| operation | store calls | Redis commands | PostgreSQL statements |")
	r.p("|---|---|---:|---:|")
	redisOK := sr.passed(rtRedis)
	pgOK := sr.passed(rtPostgres)
	for _, op := range rtOps {
		proven := true
		for _, id := range op.by {
			proven = proven && sr.passed(id)
		}
		if !proven {
			r.p("| %s | not proven | — | — |", op.op)
			continue
		}
		calls := fmt.Sprint(op.calls)
		if op.method != "" {
			calls += " (" + op.method + ")"
		}
		backend := func(ok bool, per int) string {
			if !ok {
				return "not proven"
			}
			return fmt.Sprint(op.calls * per)
		}
		r.p("| %s | %s | %s | %s |", op.op, calls, backend(redisOK, redisCommands(op.method)), backend(pgOK, perCall))
	}
	r.p("")
	r.p("Proven by:")
	r.p("")
	r.p("- %s: every store call the handlers make, with rotation on and off (an access token is", sr.proof(rtRotation, rtNoRotation))
	r.p("  verified through the verify endpoint, the middleware and `VerifyAccess`).")
	r.p("- %s: one command per store method (EVALSHA of a Lua script), counted by a go-redis", sr.proof(rtRedis))
	r.p("  hook, once the server has the scripts cached; three for a method that ends a session (the")
	r.p("  script, the revocation feed entry, its acknowledgement); after a cache loss (a restart) the")
	r.p("  first call of each script also gets NOSCRIPT and resends it with EVAL.")
	r.p("- %s: one statement per store method, BEGIN and COMMIT included, counted by a pgx", sr.proof(rtPostgres))
	r.p("  tracer: no transaction around any of them.")
	r.p("")
	r.p("The memory store and SQLite run in the process: they make no round trips to count.")
	r.p("")
}

func (sr *storeReport) passed(id testID) bool { return sr.tests[id].action == "pass" }

// proof names tests with their package and this run's result.
func (sr *storeReport) proof(ids ...testID) string {
	var parts []string
	for _, id := range ids {
		res := "not run"
		switch t := sr.tests[id]; t.action {
		case "pass":
			res = "PASS"
		case "fail":
			res = "FAIL"
		case "skip":
			res = "SKIP"
			if msg := testjson.SkipReason(t.output); msg != "" {
				res += ": " + msg
			}
		}
		pkg := strings.TrimPrefix(id.pkg, modPath+"/")
		if id.pkg == modPath {
			pkg = "root package"
		}
		parts = append(parts, fmt.Sprintf("`%s` (%s) **%s**", id.test, pkg, res))
	}
	return strings.Join(parts, ", ")
}
