package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/jwtpair/jwtpair/internal/scalebench"
)

// The "Stores at scale" section (issue 16 §3): bench/scale.sh runs each
// store's BenchmarkScale and the backends' own tools into a directory, and
// report -scale DIR rewrites this section of BENCHMARKS.md from it, keeping
// every other section. bench/run.sh, which rewrites the rest, keeps it.

// hScale is the section's heading, by which it is found.
const hScale = "Stores at scale (`BenchmarkScale`, `bench/scale.sh`)"

// scaleStores are the stores of the section, in order: the key names the
// files of bench/scale.sh and the loads' backend; native is the tool whose
// lines in native.txt measure the backend's limit.
var scaleStores = []struct {
	key, label, limit, native, nativeLabel string
}{
	{"memory", "memory (`jwtpair.NewMemoryStore()`)", "", "", ""},
	{"redis", "Redis (`redisstore`)", "EVALSHA of `return 1` through go-redis", "redis-benchmark", "`redis-benchmark`, EVALSHA of `return 1`"},
	{"postgres", "PostgreSQL (`sqlstore`, pgx)", "a single-row UPDATE through database/sql and pgx", "pgbench", "`pgbench`, the same UPDATE"},
	{"sqlite", "SQLite (`sqlstore`, modernc.org/sqlite)", "a single-row UPDATE through database/sql", "", ""},
}

// scaleStore is what the section shows of one store.
type scaleStore struct {
	rot, purge, limit, native bsTables
	loads                     []scalebench.LoadResult
	runs                      []rotationRun // the rotation runs, in the order they ran
}

// rotationRun is one line of a rotation leaf: its size, its clients, its
// rotations and what Redis counted of it (server-ns/op; 0 when not
// reported).
type rotationRun struct {
	size, clients string
	n             int
	serverNS      float64
}

var sizeOfRun = regexp.MustCompile(`/sessions=([^/\s]+)/clients=(\d+)`)

// rotationRuns reads the rotation lines, in order.
func rotationRuns(lines []string) ([]rotationRun, error) {
	var runs []rotationRun
	for _, l := range lines {
		res, err := parseBench(strings.NewReader(l))
		if err != nil {
			return nil, err
		}
		m := sizeOfRun.FindStringSubmatch(l)
		for _, ss := range res.samples {
			if m != nil && len(ss) == 1 {
				runs = append(runs, rotationRun{size: m[1], clients: m[2], n: ss[0].n, serverNS: ss[0].metrics["server-ns/op"]})
			}
		}
	}
	return runs, nil
}

// keyspaceDoubling finds the rotation run of size during which Redis's
// keyspace reached a power of two of keys, when one did: every rotation
// adds a key (its successor's; the consumed token's stays), so the keys
// after a run are those after the size's load plus the rotations run
// since. It returns that power, the client count of the run that crossed
// it and the server's time per rotation in the runs of that client count
// before and after it: runs of other client counts are left out, since
// the time per rotation depends on the clients too (go test runs each
// client count's runs in a row, so a crossing within one client count's
// runs would otherwise compare one count with the others).
func (s *scaleStore) keyspaceDoubling(size string) (power float64, clients string, before, after []float64, ok bool) {
	l, found := s.load(size)
	keys, known := l.After["keys"]
	if !found || !known {
		return 0, "", nil, nil, false
	}
	power = math.Exp2(math.Floor(math.Log2(keys)) + 1)
	crossed := -1
	for i, run := range s.runs {
		if run.size != size {
			continue
		}
		next := keys + float64(run.n)
		if keys < power && next >= power {
			crossed, clients = i, run.clients
		}
		keys = next
	}
	if crossed < 0 {
		return power, "", nil, nil, false
	}
	for i, run := range s.runs {
		switch {
		case run.size != size || run.clients != clients || i == crossed:
		case i < crossed:
			before = append(before, run.serverNS)
		default:
			after = append(after, run.serverNS)
		}
	}
	return power, clients, before, after, true
}

// scaleReport is what the section is rendered from.
type scaleReport struct {
	settings map[string]string
	stores   map[string]*scaleStore // by key; absent: not measured
}

var (
	rotLine   = regexp.MustCompile(`^BenchmarkScale/(?:[^/\s]+/)?sessions=[^/\s]+/clients=\d+(?:-\d+)?\s`)
	purgeLine = regexp.MustCompile(`^BenchmarkScale/(?:[^/\s]+/)?sessions=[^/\s]+/purge(?:-\d+)?\s`)
	limitLine = regexp.MustCompile(`^BenchmarkScale/(?:[^/\s]+/)?limit/clients=\d+(?:-\d+)?\s`)
)

// readScale reads the directory bench/scale.sh wrote and runs benchstat
// on its benchmark outputs.
func readScale(dir string) (*scaleReport, error) {
	sr := &scaleReport{stores: map[string]*scaleStore{}}
	err := readInput(filepath.Join(dir, "servers.txt"), func(r io.Reader) (err error) { sr.settings, err = parseSettings(r); return err })
	if err != nil {
		return nil, err
	}
	var loads []scalebench.LoadResult
	err = readInput(filepath.Join(dir, "loads.jsonl"), func(r io.Reader) error {
		dec := json.NewDecoder(r)
		for {
			var l scalebench.LoadResult
			if err := dec.Decode(&l); err == io.EOF {
				return nil
			} else if err != nil {
				return fmt.Errorf("loads.jsonl: %w", err)
			}
			loads = append(loads, l)
		}
	})
	if err != nil {
		return nil, err
	}
	native, err := benchLines(filepath.Join(dir, "native.txt"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, st := range scaleStores {
		lines, err := benchLines(filepath.Join(dir, st.key+".txt"))
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			return nil, err
		}
		s := &scaleStore{}
		for _, l := range loads {
			if l.Backend == st.key {
				s.loads = append(s.loads, l)
			}
		}
		if s.rot, err = benchstat(grep(lines, rotLine), "-col", "/sessions", "-row", "/clients"); err != nil {
			return nil, err
		}
		if s.runs, err = rotationRuns(grep(lines, rotLine)); err != nil {
			return nil, err
		}
		if s.purge, err = benchstat(grep(lines, purgeLine), "-col", "/sessions"); err != nil {
			return nil, err
		}
		if s.limit, err = benchstat(grep(lines, limitLine), "-row", "/clients"); err != nil {
			return nil, err
		}
		if st.native != "" {
			tool := regexp.MustCompile(`^BenchmarkNative/` + regexp.QuoteMeta(st.native) + `/`)
			if s.native, err = benchstat(grep(native, tool), "-row", "/clients"); err != nil {
				return nil, err
			}
		}
		sr.stores[st.key] = s
	}
	return sr, nil
}

// benchLines returns the benchmark result lines of a go test -bench output.
func benchLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "Benchmark") {
			out = append(out, sc.Text())
		}
	}
	return out, sc.Err()
}

func grep(lines []string, re *regexp.Regexp) []string {
	var out []string
	for _, l := range lines {
		if re.MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}

// runScale rewrites the scale section of the file at out from dir.
func runScale(dir, out string) error {
	sr, err := readScale(dir)
	if err != nil {
		return err
	}
	doc, err := os.ReadFile(out)
	if err != nil {
		return err
	}
	r := &report{scale: sr}
	r.p("# Scale") // what precedes the first section, dropped by updateSections
	r.scaleSection()
	return os.WriteFile(out, []byte(updateSections(string(doc), r.b.String(), "End to end (wrk)", "What each row checks", "Reproduce")), 0o644)
}

// keepScale carries the scale section of the file at out, when it has
// one, into text (a whole report run.sh rendered, which does not measure
// it).
func keepScale(out, text string) string {
	doc, err := os.ReadFile(out)
	if err != nil {
		return text
	}
	for _, sec := range splitSections(string(doc)) {
		if heading(sec) == hScale {
			return updateSections(text, "# Scale\n"+sec, "End to end (wrk)", "What each row checks", "Reproduce")
		}
	}
	return text
}

// measured returns the store of key and the sizes its rotations were
// measured at, smallest first; ok is false when there are none.
func (sr *scaleReport) measured(key string) (s *scaleStore, sizes []string, ok bool) {
	s, ok = sr.stores[key]
	if !ok {
		return nil, nil, false
	}
	sizes = s.sizes()
	return s, sizes, len(sizes) > 0
}

// largest is measured's store and the largest size measured.
func (sr *scaleReport) largest(key string) (s *scaleStore, top string, ok bool) {
	s, sizes, ok := sr.measured(key)
	if !ok {
		return nil, "", false
	}
	return s, sizes[len(sizes)-1], true
}

// sizes are the columns of a store's rotation tables: the sizes measured,
// smallest first.
func (s *scaleStore) sizes() []string {
	if t := s.rot["rotations/s"]; t != nil {
		return t.cols
	}
	return nil
}

func (s *scaleStore) clients() []string {
	if t := s.rot["rotations/s"]; t != nil {
		return t.rows
	}
	return nil
}

// load returns the load that brought the store to size (a label: 10k).
func (s *scaleStore) load(size string) (scalebench.LoadResult, bool) {
	for _, l := range s.loads {
		if scalebench.Label(l.Sessions) == size {
			return l, true
		}
	}
	return scalebench.LoadResult{}, false
}

func (r *report) scaleSection() {
	sr := r.scale
	if !r.section(hScale, len(sr.stores) > 0, "Not measured.") {
		return
	}
	set := sr.settings
	r.p("Written by `bash bench/scale.sh` (bench/cmd/report), which rewrites only this section; measured")
	r.p("%s, revision %s. **The machine was shared**: %s cores and %.0f GB of RAM, on which other", set["date"], set["rev"], set["nproc"], kb(set["memtotal.kb"])/1e9)
	r.p("work (builds and test runs of other sessions) ran at the same time; the 1-minute load average")
	r.p("during each store's run is below. Every rate here is lower, and every spread wider, than on an")
	r.p("idle machine. The benchmarks and the native tools ran under `nice -n %s`, the servers at normal", set["nice"])
	r.p("priority, on the same cores as the clients (loopback TCP).")
	r.p("")
	var took []string
	for _, st := range scaleStores {
		if sec := set["seconds."+st.key]; sec != "" {
			took = append(took, st.key+" "+sec+" s")
		}
	}
	if len(took) > 0 {
		r.p("Each store's `go test` run took (its loads, every run of its benchmarks, its cleanup): %s.", strings.Join(took, ", "))
		r.p("")
	}
	for _, st := range scaleStores {
		if set["failed."+st.key] != "" {
			r.p("**The run of %s failed**: its figures are those of the runs that completed before.", st.label)
			r.p("")
		}
	}
	r.p("Each store's `BenchmarkScale` (internal/scalebench) loads live sessions in bulk, one per user (user")
	r.p("ids are decimal numbers, session ids and jtis 32 hex digits), each with its client metadata (a")
	r.p("101-byte user agent and an IPv4 address) and its first refresh token,")
	r.p("recorded as `Issue` records them (each loader's `TestBulkIssueIsIssue` compares its keys or rows with")
	r.p("an issued session's), up to each size in turn; at each size it measures `Store.Rotate` by 1, 16 and")
	r.p("64 concurrent clients (goroutines, each rotating sessions of its own, one rotation after another:")
	r.p("the presented token consumed, its successor recorded, as the refresh endpoint does, without HTTP")
	r.p("or signing). Latencies are those of single rotations, by nearest rank. Every figure is benchstat's:")
	r.p("the median of the runs with its 95%% confidence interval (±), and changes with their p-value, `~`")
	r.p("when not significant (p ≥ 0.05). Rotations keep the tokens they consume (until they expire, for")
	r.p("reuse detection), so each size also holds the tokens of the rotations measured before it (records,")
	r.p("below).")
	r.p("")
	r.scaleRotations()
	r.scaleGrowth()
	r.scaleLimits()
	r.scaleMemory()
	r.scalePurge()
	r.scaleLoads()
	var cmds []string
	for _, st := range scaleStores {
		if c := set["cmd."+st.key]; c != "" {
			cmds = append(cmds, c)
		}
	}
	r.p("```")
	r.p("bash bench/scale.sh   # all of this section; SESSIONS=10000,100000 ONLY=redis,postgres … (see the script)")
	r.p("# each store alone, with JWTPAIR_SCALE_CLIENTS=%s (JWTPAIR_SCALE_OUT=FILE: the loads' figures):", set["clients"])
	for _, c := range cmds {
		r.p("%s", c)
	}
	r.p("```")
	r.p("")
}

func kb(s string) float64 { v, _ := strconv.ParseFloat(s, 64); return v * 1e3 }

// clientsText names a number of clients: "1 client", "16 clients".
func clientsText(c string) string {
	if c == "1" {
		return "1 client"
	}
	return c + " clients"
}

// fig formats a median with its confidence interval.
func fig(c bsCell, ok bool, format func(float64) string) string {
	if !ok {
		return "—"
	}
	if c.ci == "" || c.ci == "∞" {
		return format(c.center)
	}
	return format(c.center) + " ±" + c.ci
}

func secs(v float64) string { return ns(v * 1e9) }

func rate(v float64) string { return thousands(v) }

func (r *report) scaleRotations() {
	r.p("### Rotations at the largest size")
	r.p("")
	r.p("| store | live sessions | clients | rotations/s | p50 | p99 | 1-minute load during the store's run |")
	r.p("|---|---:|---:|---:|---:|---:|---|")
	for _, st := range scaleStores {
		s, top, ok := r.scale.largest(st.key)
		if !ok {
			r.p("| %s | not measured | | | | | |", st.label)
			continue
		}
		load := strings.ReplaceAll(r.scale.settings["load."+st.key], " ", " → ")
		for i, c := range s.clients() {
			rs, rok := s.rot["rotations/s"].cell(c, top)
			p50, pok := s.rot["p50-sec"].cell(c, top)
			p99, qok := s.rot["p99-sec"].cell(c, top)
			label, size, l := st.label, top, load
			if i > 0 {
				label, size, l = "", "", ""
			}
			r.p("| %s | %s | %s | %s | %s | %s | %s |", label, size, c, fig(rs, rok, rate), fig(p50, pok, secs), fig(p99, qok, secs), l)
		}
	}
	r.p("")
}

// change parses benchstat's "vs base" (+12.34%, ~) into a ratio; ok is
// false when the change is not significant.
func change(vs string) (float64, bool) {
	v, err := strconv.ParseFloat(strings.TrimSuffix(vs, "%"), 64)
	if err != nil {
		return 1, false
	}
	return 1 + v/100, true
}

// sessionsOf reads a size label back (10k → 10000).
func sessionsOf(label string) float64 {
	mult := 1.0
	switch {
	case strings.HasSuffix(label, "M"):
		mult, label = 1e6, strings.TrimSuffix(label, "M")
	case strings.HasSuffix(label, "k"):
		mult, label = 1e3, strings.TrimSuffix(label, "k")
	}
	v, _ := strconv.ParseFloat(label, 64)
	return v * mult
}

// growth classifies how a cost (time per rotation, bytes per session)
// changed from the smallest size to the largest: g is the ratio, sig
// whether benchstat found the change significant.
func growth(g float64, sig bool, from, to string) string {
	logRatio := math.Log(sessionsOf(to)) / math.Log(sessionsOf(from))
	switch {
	case !sig || math.Abs(g-1) < 0.10:
		return "**flat**"
	case g < 1:
		return fmt.Sprintf("**lower** at %s (×%.2f)", to, g)
	case g <= logRatio:
		return fmt.Sprintf("**within log n** (×%.2f; log n grows ×%.2f from %s to %s)", g, logRatio, from, to)
	case g < math.Sqrt(sessionsOf(to)/sessionsOf(from)):
		return fmt.Sprintf("**faster than log n**, far below linear (×%.2f; n grows ×%.0f)", g, sessionsOf(to)/sessionsOf(from))
	}
	return fmt.Sprintf("**about linear or worse** (×%.2f; n grows ×%.0f)", g, sessionsOf(to)/sessionsOf(from))
}

// The reason each store's costs grow as they do, from how it is built.
var scaleWhy = map[string]string{
	"memory": "A rotation is two map lookups by jti (the presented token; the successor's, to refuse " +
		"a duplicate), a map insert and a push onto the expiry heap (a binary min-heap of every " +
		"record: O(log n) at worst, and a successor that expires after every record stays at the " +
		"bottom), under the store's one mutex; nothing scans. What grows with n is cache misses (the " +
		"maps and the heap no longer fit the CPU's caches) and the garbage collector's work: every " +
		"rotation allocates, and each collection marks the whole heap, every record a pointer, on " +
		"the cores the rotations run on.",
	"redis": "The rotation script reads three hashes (the successor's, the presented token's, the " +
		"session's), writes them with their expiries, and moves the expiries of the session's client " +
		"metadata and of the user's index: every " +
		"key is found through Redis's keyspace hash table in O(1), whatever the number of keys; a " +
		"user's index holds their own sessions only. What can grow is cache misses, and the table's " +
		"rehashing when it doubles (spread over commands).",
	"postgres": "Each rotation finds the token and its session through their primary keys and adds " +
		"entries to B-tree indexes, O(log n) each (the tokens' primary key's levels are below); once the " +
		"tables and indexes outgrow shared_buffers, pages come from the OS's cache.",
	"sqlite": "B-trees as on PostgreSQL, O(log n) (levels below), with SQLite's page cache per " +
		"connection (cache_size below) far smaller than the file at the larger sizes, so pages are " +
		"read back from the OS's cache; each rotation's commit waits for the disk (synchronous, below).",
}

func (r *report) scaleGrowth() {
	r.p("### From the smallest size to the largest")
	r.p("")
	r.p("Rotations/s at each size, and benchstat's change of the largest against the smallest; the verdict")
	r.p("reads the time per rotation of one client (ns/op), the cost of one rotation without queueing:")
	r.p("flat when benchstat finds no significant change or it is under 10%%.")
	r.p("")
	for _, st := range scaleStores {
		s, sizes, ok := r.scale.measured(st.key)
		if !ok || len(sizes) < 2 {
			continue
		}
		from, to := sizes[0], sizes[len(sizes)-1]
		head := "| clients |"
		sep := "|---:|"
		for _, z := range sizes {
			head += " " + z + " |"
			sep += "---:|"
		}
		r.p("**%s**", st.label)
		r.p("")
		r.p("%s %s vs %s (rotations/s) | p99 at %s | p99 at %s |", head, to, from, from, to)
		r.p("%s---|---:|---:|", sep)
		rs, p99 := s.rot["rotations/s"], s.rot["p99-sec"]
		for _, c := range s.clients() {
			row := "| " + c + " |"
			for _, z := range sizes {
				row += " " + fig2(rs, c, z, rate) + " |"
			}
			last, _ := rs.cell(c, to)
			row += " " + vsText(last) + " | " + fig2(p99, c, from, secs) + " | " + fig2(p99, c, to, secs) + " |"
			r.p("%s", row)
		}
		r.p("")
		verdict := "not measured at one client"
		if t := s.rot["sec/op"]; t != nil && len(t.rows) > 0 {
			one := t.rows[0]
			c, ok := t.cell(one, to)
			if ok {
				g, sig := change(c.vs)
				verdict = growth(g, sig, from, to) + fmt.Sprintf(" (%s: %s vs %s)", clientsText(one), vsText(c), from)
			}
		}
		r.p("Time per rotation from %s to %s: %s. Why: %s%s", from, to, verdict, scaleWhy[st.key], r.scaleFacts(st.key, s))
		r.p("")
		for _, z := range sizes {
			power, clients, before, after, ok := s.keyspaceDoubling(z)
			if !ok || len(before) == 0 || len(after) == 0 {
				continue
			}
			r.p("At %s the keyspace reached 2^%.0f = %s keys during the runs: Redis then doubles its hash tables", z, math.Log2(power), thousands(power))
			r.p("of keys and of expiries and rehashes them a bucket at a time, in every command that follows and")
			r.p("in its cron, each lookup meanwhile probing both tables. Time in the script per rotation, median:")
			r.p("%s over the %d runs before, %s over the %d after (runs of %s clients, as the one that crossed it).", secs(median(before)/1e9), len(before), secs(median(after)/1e9), len(after), clients)
			r.p("")
		}
	}
}

// fig2 is fig of table t's cell.
func fig2(t *bsTable, row, col string, format func(float64) string) string {
	c, ok := t.cell(row, col)
	return fig(c, ok, format)
}

func vsText(c bsCell) string {
	if c.vs == "" {
		return "—"
	}
	p := strings.ReplaceAll(c.p, " ", ", ")
	return c.vs + " (" + p + ")"
}

// scaleFacts are the measured facts behind a store's reason: sizes, tree
// levels, settings.
func (r *report) scaleFacts(key string, s *scaleStore) string {
	var facts []string
	for _, l := range s.loads {
		size := scalebench.Label(l.Sessions)
		var f []string
		if v, ok := l.After["tokens_pk_levels"]; ok {
			f = append(f, fmt.Sprintf("tokens' primary key %.0f levels", v))
		}
		if v, ok := l.After["relation_bytes"]; ok {
			f = append(f, "tables and indexes "+megabytes(v))
		}
		if v, ok := l.After["keys"]; ok {
			f = append(f, thousands(v)+" keys")
		}
		if v, ok := l.After["records"]; ok {
			f = append(f, thousands(v)+" token records")
		}
		if len(f) > 0 {
			facts = append(facts, size+": "+strings.Join(f, ", "))
		}
	}
	set := r.scale.settings
	switch key {
	case "postgres":
		if sb := set["postgres.shared_buffers"]; sb != "" {
			facts = append(facts, "shared_buffers "+sb)
		}
	case "sqlite":
		if n := len(s.loads); n > 0 {
			last := s.loads[n-1].After
			if v, ok := last["cache_size"]; ok {
				facts = append(facts, fmt.Sprintf("cache_size %.0f (negative: KiB)", v))
			}
			if v, ok := last["synchronous"]; ok {
				facts = append(facts, fmt.Sprintf("synchronous %.0f (2: FULL, a sync at every commit)", v))
			}
		}
	}
	if len(facts) == 0 {
		return ""
	}
	return " Measured: " + strings.Join(facts, "; ") + "."
}

func (r *report) scaleLimits() {
	r.p("### Against each backend's own limit")
	r.p("")
	r.p("The limit of each backend measured on the same server, at the same client counts: through the same")
	r.p("client as the store (the leaf `limit` of `BenchmarkScale`), and by the backend's own tool. The")
	r.p("rotations are those of the largest size.")
	r.p("")
	r.p("| store | clients | rotations/s | limit through the same client | ops/s | by the backend's tool | ops/s | rotations ÷ tool |")
	r.p("|---|---:|---:|---|---:|---|---:|---:|")
	for _, st := range scaleStores {
		s, top, ok := r.scale.largest(st.key)
		if !ok || st.limit == "" {
			continue
		}
		for i, c := range s.clients() {
			rs, rok := s.rot["rotations/s"].cell(c, top)
			lim, lok := s.limitCell("ops/s", c)
			nat, nok := s.nativeCell("ops/s", c)
			label, limit, native := st.label, st.limit, st.nativeLabel
			if i > 0 {
				label, limit, native = "", "", ""
			}
			ratioText := "—"
			if rok && nok && nat.center > 0 {
				ratioText = fmt.Sprintf("%.2f", rs.center/nat.center)
			}
			r.p("| %s | %s | %s | %s | %s | %s | %s | %s |", label, c, fig(rs, rok, rate), limit, fig(lim, lok, rate), native, fig(nat, nok, rate), ratioText)
		}
	}
	r.p("")
	r.scaleLimitWhy()
}

// limitCell is a figure of the limit leaf at c clients.
func (s *scaleStore) limitCell(unit, c string) (bsCell, bool) { return single(s.limit, unit, c) }

func (s *scaleStore) nativeCell(unit, c string) (bsCell, bool) { return single(s.native, unit, c) }

// single reads a table of one column (benchstat's input file).
func single(ts bsTables, unit, row string) (bsCell, bool) {
	t := ts[unit]
	if t == nil || len(t.cols) == 0 {
		return bsCell{}, false
	}
	return t.cell(row, t.cols[0])
}

// scaleLimitWhy explains each gap with the backends' own counters.
func (r *report) scaleLimitWhy() {
	if s, top, ok := r.scale.largest("redis"); ok {
		var parts []string
		for _, c := range s.clients() {
			srv, sok := s.rot["server-sec/op"].cell(c, top)
			lsrv, lok := s.limitCell("server-sec/op", c)
			if !sok || !lok {
				continue
			}
			part := fmt.Sprintf("%s: %s in the script per rotation, %s per trivial script", clientsText(c), secs(srv.center), secs(lsrv.center))
			cpu, cok := s.rot["cpu-sec/op"].cell(c, top)
			lcpu, lcok := s.limitCell("cpu-sec/op", c)
			if cok && lcok {
				part += fmt.Sprintf(" (the server's CPU: %s and %s)", secs(cpu.center), secs(lcpu.center))
			}
			parts = append(parts, part)
		}
		if len(parts) > 0 {
			r.p("- **Redis** runs one script at a time, so the server's time per rotation bounds the rate. From its")
			r.p("  own counters (INFO commandstats: time in EVALSHA; INFO cpu: the server's CPU, reading commands")
			r.p("  and writing replies included): %s. A rotation reads three hashes and writes", strings.Join(parts, "; "))
			r.p("  three, with their expiries, where the trivial script does nothing: the gap to `redis-benchmark`")
			r.p("  is that work in the server, plus the Go client's (go-redis) cost on the cores the server shares.")
		}
	}
	if s, top, ok := r.scale.largest("postgres"); ok {
		var parts []string
		for _, c := range s.clients() {
			wal, wok := s.rot["WAL-B/op"].cell(c, top)
			lwal, lok := s.limitCell("WAL-B/op", c)
			if wok && lok {
				parts = append(parts, fmt.Sprintf("%s: %.0f B per rotation, %.0f B per UPDATE", clientsText(c), wal.center, lwal.center))
			}
		}
		if len(parts) > 0 {
			r.p("- **PostgreSQL**: a rotation is one statement, one commit, as the UPDATE is, but it writes three")
			r.p("  rows (the presented token consumed, its successor inserted, the session's `refreshed_at` and")
			r.p("  `expires_at` updated; `expires_at` is indexed, so that update cannot be heap-only) and their")
			r.p("  index entries, where the UPDATE of an unindexed column writes one row in place. The WAL written")
			r.p("  shows it (`pg_current_wal_insert_lsn` before and after): %s.", strings.Join(parts, "; "))
		}
	}
	if s, top, ok := r.scale.largest("sqlite"); ok {
		var parts []string
		for _, c := range s.clients() {
			rs, rok := s.rot["rotations/s"].cell(c, top)
			lim, lok := s.limitCell("ops/s", c)
			if rok && lok && lim.center > 0 {
				parts = append(parts, fmt.Sprintf("%s: %.2f", clientsText(c), rs.center/lim.center))
			}
		}
		if len(parts) > 0 {
			r.p("- **SQLite** admits one writer at a time and, with `synchronous` FULL, each commit waits for the")
			r.p("  disk: the single-row UPDATE through the same pool is the limit, and rotations ÷ that limit are")
			r.p("  %s. The UPDATEs of many clients poll for the write lock by the busy timeout;", strings.Join(parts, ", "))
			r.p("  a store queues its own writes instead, so its clients take the lock in turn")
			r.p("  (`TestSQLiteWritesQueue`).")
		}
	}
	r.p("")
}

// The byte counts of each store's loads, per session loaded.
// firstOnly marks the figures read at the first load only: the SQL stores',
// whose later loads reuse the space the previous size's purge runs freed.
var scaleBytes = []struct {
	store, key, what string
	firstOnly        bool
}{
	{"memory", "heap_bytes", "Go heap growth (`runtime.MemStats.HeapAlloc` after a collection)", false},
	{"redis", "used_memory_bytes", "growth of `used_memory` (INFO memory)", false},
	{"redis", "memory_usage_per_session", "`MEMORY USAGE` of the session's keys (hash, client metadata, its user's index, first token), over a sample of 1,000 just loaded", false},
	{"postgres", "relation_bytes", "growth of `pg_total_relation_size` of the tables with their indexes (first load only)", true},
	{"sqlite", "relation_bytes", "growth of the pages in use (page_count − freelist_count; first load only)", true},
}

func (r *report) scaleMemory() {
	r.p("### Memory and space per session")
	r.p("")
	r.p("Bytes per session of each load (the sessions it added, at rest, before that size's rotations);")
	r.p("each read once, not repeated.")
	r.p("")
	sizes := map[string]bool{}
	var order []string
	for _, s := range r.scale.stores {
		for _, l := range s.loads {
			if z := scalebench.Label(l.Sessions); !sizes[z] {
				sizes[z] = true
				order = append(order, z)
			}
		}
	}
	slices.SortFunc(order, func(a, b string) int { return int(sessionsOf(a) - sessionsOf(b)) })
	if len(order) == 0 {
		r.p("Not measured.")
		r.p("")
		return
	}
	head, sep := "| store | what is counted |", "|---|---|"
	for _, z := range order {
		head += " to " + z + " |"
		sep += "---:|"
	}
	r.p("%s growth |", head)
	r.p("%s---|", sep)
	for _, b := range scaleBytes {
		s, ok := r.scale.stores[b.store]
		if !ok {
			continue
		}
		label := ""
		for _, st := range scaleStores {
			if st.key == b.store {
				label = st.label
			}
		}
		row := "| " + label + " | " + b.what + " |"
		var vals []float64
		for i, z := range order {
			v, ok := s.bytesPerSession(z, b.key)
			if !ok || (b.firstOnly && i > 0) {
				row += " — |"
				continue
			}
			vals = append(vals, v)
			row += fmt.Sprintf(" %.0f |", v)
		}
		g := "—"
		if len(vals) >= 2 {
			g = growth(vals[len(vals)-1]/vals[0], true, order[0], order[len(order)-1])
		}
		r.p("%s %s |", row, g)
	}
	r.p("")
	r.p("The SQL stores' rows give the first load only, into empty tables: each size's purge runs delete")
	r.p("the expired sessions they load, and the next size's load reuses the space they freed (PostgreSQL")
	r.p("keeps it in the relation, SQLite in part-empty pages), so a later load would understate its own.")
	r.p("")
	r.p("Flat is what each store's layout predicts: a session is a fixed set of records (Redis: four keys;")
	r.p("SQL: a row in each table and its index entries; memory: a session, its user's map of sessions, a")
	r.p("record, map entries and a heap slot). What moves the per-session figure between sizes is the")
	r.p("growth of shared structures in steps: hash tables that double (Go maps, Redis's keyspace and")
	r.p("expiry tables) and B-tree pages that split.")
	r.p("")
}

// bytesPerSession is the growth of a byte count over the load to size,
// per session loaded; a key not ending in _bytes is read as it is.
func (s *scaleStore) bytesPerSession(size, key string) (float64, bool) {
	l, ok := s.load(size)
	if !ok || l.Loaded == 0 {
		return 0, false
	}
	after, ok := l.After[key]
	if !ok {
		return 0, false
	}
	if !strings.HasSuffix(key, "_bytes") {
		return after, true
	}
	return (after - l.Before[key]) / float64(l.Loaded), true
}

func (r *report) scalePurge() {
	var rows []string
	for _, st := range scaleStores {
		s, ok := r.scale.stores[st.key]
		if !ok {
			continue
		}
		t := s.purge["sec/op"]
		if t == nil || len(t.rows) == 0 {
			continue
		}
		row := t.rows[0]
		for i, z := range t.cols {
			c, ok := t.cell(row, z)
			label := st.label
			if i > 0 {
				label = ""
			}
			vs := "—"
			if i > 0 {
				vs = vsText(c)
			}
			rows = append(rows, fmt.Sprintf("| %s | %s | %s | %s |", label, z, fig(c, ok, func(v float64) string { return secs(v * 1e5) }), vs))
		}
	}
	if len(rows) == 0 {
		return
	}
	r.p("### PurgeExpired")
	r.p("")
	r.p("`Store.PurgeExpired` with a backlog of expired sessions, each a session row and its token's, loaded")
	r.p("(untimed) beside the live ones; one call must delete them all (the leaf `purge`, b.N expired")
	r.p("sessions per run, as many as the framework's one-second target asks). Time per 100,000 expired")
	r.p("sessions (200,000 rows), and the change against the smallest size.")
	r.p("")
	r.p("| store | live sessions | time per 100,000 expired | vs the smallest |")
	r.p("|---|---:|---:|---|")
	for _, row := range rows {
		r.p("%s", row)
	}
	r.p("")
	r.p("It deletes in batches of 1,000 rows, each found through the `expires_at` index and deleted by")
	r.p("ctid on PostgreSQL (a TID scan, whatever the planner estimates: `TestPurgeStaleStatistics`), by")
	r.p("primary key on SQLite: O(log n) per row in the live rows around them. Each batch is a commit.")
	r.p("")
}

func (r *report) scaleLoads() {
	r.p("### Loading")
	r.p("")
	r.p("| store | to | sessions loaded | time | sessions/s | how |")
	r.p("|---|---:|---:|---:|---:|---|")
	how := map[string]string{
		"memory":   "`Issue`, one after another",
		"redis":    "`BulkIssue`: the Issue script's keys, by plain commands in pipelines of 1,000 sessions",
		"postgres": "`BulkIssue`: COPY of each batch of 20,000 into both tables, one transaction",
		"sqlite":   "`BulkIssue`: multi-row INSERTs in key order, one transaction per batch of 20,000",
	}
	for _, st := range scaleStores {
		s, ok := r.scale.stores[st.key]
		if !ok {
			continue
		}
		for i, l := range s.loads {
			label, h := st.label, how[st.key]
			if i > 0 {
				label, h = "", ""
			}
			secs := float64(l.LoadNS) / 1e9
			r.p("| %s | %s | %s | %.1f s | %s | %s |", label, scalebench.Label(l.Sessions), thousands(float64(l.Loaded)), secs, thousands(float64(l.Loaded)/secs), h)
		}
	}
	r.p("")
}
