package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jwtpair/jwtpair"
	"github.com/jwtpair/jwtpair/bench/internal/propagation"
)

// The sessions sections (issue 13, "Measured"): how soon an ended session's
// access token is refused on another instance, what the revocation check
// costs the request path, and the memory a revoked-set entry and a session
// in each store take. bash bench/run.sh measures them with everything else;
// ONLY=sessions bash bench/run.sh measures them alone and rewrites only
// these sections of BENCHMARKS.md (-update).

// The sections' headings, by which -update finds them.
const (
	hPropagation = "Logout propagation across two instances (`bench/cmd/propagation`)"
	hCheck       = "The revocation check on the request path (`BenchmarkMiddleware`, root package)"
	hMemory      = "Memory: the revoked set, and a session in each store"
)

// sessionInputs are the files and notes of the sessions sections; all
// optional.
type sessionInputs struct {
	propagation, propcmd string // bench/cmd/propagation's results (JSON lines) and its command
	revoked, revokedcmd  string // go test -bench output of the root package's BenchmarkMiddleware, one invocation per round
	tests, testscmd      string // go test -json output of the root package's session tests
	bytes, bytescmd      string // go test -bench output of the stores' session-size benchmarks
	load                 string // 1-minute load averages at the start and end of the root package's benchmark
}

// sessionReport is what the sessions sections are rendered from.
type sessionReport struct {
	prop    []propagation.Result // nil: not measured
	revoked *results             // nil: not measured
	tests   map[testID]testResult
	bytes   *results // nil: not measured
	load    []string
	rev     string // the revision measured (git describe); "" when unknown

	propcmd, revokedcmd, testscmd, bytescmd string
}

// readSessions reads the sessions sections' inputs; nil when none is given.
func readSessions(in sessionInputs) (*sessionReport, error) {
	if in.propagation == "" && in.revoked == "" && in.tests == "" && in.bytes == "" {
		return nil, nil
	}
	sr := &sessionReport{propcmd: in.propcmd, revokedcmd: in.revokedcmd, testscmd: in.testscmd, bytescmd: in.bytescmd, load: strings.Fields(in.load)}
	err := errors.Join(
		readInput(in.propagation, func(r io.Reader) (err error) {
			sr.prop, err = propagation.Read(r)
			if err == nil && sr.prop == nil {
				sr.prop = []propagation.Result{} // run, with no store: every row not measured
			}
			return err
		}),
		readInput(in.revoked, func(r io.Reader) (err error) { sr.revoked, err = parseBench(r); return err }),
		readInput(in.tests, func(r io.Reader) (err error) { sr.tests, err = parseTestJSON(r); return err }),
		readInput(in.bytes, func(r io.Reader) (err error) { sr.bytes, err = parseBench(r); return err }),
	)
	if err != nil {
		return nil, err
	}
	return sr, nil
}

// sessionSections renders the three sections.
func (r *report) sessionSections() {
	if r.sessions == nil {
		return
	}
	r.propagationSection()
	r.checkSection()
	r.memorySection()
}

// The stores of the propagation table, in order, with their feeds.
var propRows = []struct{ backend, label, feed string }{
	{"redis", "Redis (`redisstore`)", "a stream; B blocks on XREAD, woken by the new entry"},
	{"postgres", "PostgreSQL (`sqlstore`, pgx)", "a table; B LISTENs, woken by the commit's NOTIFY"},
	{"sqlite", "SQLite (`sqlstore`): two processes, one file", "a table; B reads it every 100 ms"},
}

func (r *report) propagationSection() {
	sr := r.sessions
	measured := r.section(hPropagation, sr.prop != nil, "Not measured in this run.")
	stamp := "The three sessions sections were measured together, " + time.Now().UTC().Format("2006-01-02 15:04 MST")
	if sr.rev != "" {
		stamp += ", revision " + sr.rev
	}
	r.p("%s (`ONLY=sessions bash bench/run.sh` measures them alone and rewrites only them).", stamp)
	r.p("")
	if !measured {
		return
	}
	byBackend := map[string]propagation.Result{}
	for _, res := range sr.prop {
		byBackend[res.Backend] = res
	}
	var one propagation.Result // the settings, the same for every store
	for _, res := range sr.prop {
		one = res
		break
	}
	staleness := time.Duration(one.Staleness)
	if staleness == 0 {
		staleness = jwtpair.DefaultRevocationStaleness
	}
	r.p("Two example servers, A and B, on one store, with one secret and the default settings (revocation")
	r.p("staleness %s), plus `-sessions` and `-throttle=false` (so that hundreds of logins from one address", human(staleness))
	r.p("pass). A trial logs in on A; checks that B accepts the access token; ends the session on A")
	r.p("(`DELETE /api/sessions/{sid}/`, 204); asks B with the access token, every %s, until it answers", human(time.Duration(one.Poll)))
	r.p("401 `Token is blacklisted`; then checks that B refuses the session's refresh token too (401). Its")
	r.p("delay is the time from A's 204 (received) to B's first 401 (received), so it includes B's round")
	r.p("trip: an upper bound. Trials run one after another, each after a random pause below %s (so that", human(time.Duration(one.Spread)))
	r.p("they do not fall into step with a feed that polls), after %d warm-up trials not counted;", one.Warmup)
	r.p("percentiles by nearest rank. A run counts only if every trial completed so (`bench/cmd/propagation`")
	r.p("exits 1 otherwise, and its row says why). Target (issue 13): p99 ≤ %s with the defaults.", human(staleness))
	r.p("")
	r.p("| store | feed | trials | p50 | p99 | max | refused at B's first request | 503s from B | end on A (p50) | p99 ≤ %s |", human(staleness))
	r.p("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
	var notes []string
	for _, row := range propRows {
		res, ok := byBackend[row.backend]
		switch {
		case !ok:
			r.p("| %s | %s | not measured | | | | | | | |", row.label, row.feed)
			continue
		case !res.Passed():
			r.p("| %s | %s | **failed** after %d of %d: %s | | | | | | | |", row.label, row.feed, len(res.Delays), res.Trials, mdCell(res.Error))
			continue
		}
		first := 0
		for _, n := range res.Polls {
			if n == 1 {
				first++
			}
		}
		p99 := res.Percentile(99)
		r.p("| %s | %s | %d | %s | %s | %s | %d of %d | %d | %s | %s |", row.label, row.feed, len(res.Delays),
			ms(res.Percentile(50)), ms(p99), ms(res.Percentile(100)), first, len(res.Delays), res.Unavailable,
			ms(medianDuration(res.Ends)), verdict(p99 <= staleness, fmt.Sprintf("by %v", (p99-staleness).Round(time.Millisecond))))
		notes = append(notes, fmt.Sprintf("%s %.0f s (load %s → %s)", row.backend, res.Seconds, res.Load[0], res.Load[1]))
	}
	r.p("")
	if len(notes) > 0 {
		r.p("Each store's run took (instances' start included), with the 1-minute load average before and")
		r.p("after: %s. A, B, the store and the measuring client share the machine's cores.", strings.Join(notes, "; "))
		r.p("")
	}
	r.command(`$tmp: a scratch directory; Redis and PostgreSQL from JWTPAIR_REDIS_URL and JWTPAIR_POSTGRES_URL`, sr.propcmd)
}

// checkVariants are the sub-benchmarks of the root package's
// BenchmarkMiddleware, the first the base of the comparison.
var checkVariants = []struct{ name string }{{"revoked=0"}, {"revoked=100k"}, {"feed=off"}, {"cache=off"}}

func (r *report) checkSection() {
	sr := r.sessions
	const bench = "BenchmarkMiddleware/"
	var base stat
	ok := sr.revoked != nil
	if ok {
		base, ok = sr.revoked.getIn(modPath, bench+checkVariants[0].name)
	}
	if !r.section(hCheck, ok, "Not measured in this run.") {
		return
	}
	r.p("A GET with a valid HS256 access token through `auth.Middleware` to a handler that does nothing:")
	r.p("with an empty revoked set (`revoked=0`), with 100,000 ended sessions in it (`revoked=100k`), and")
	r.p("with no set at all (`feed=off`, `WithoutRevocationFeed`). The set of 100,000 is applied as the feed")
	r.p("follower applies it (batches of 1,000 fresh ids) and follows no feed while measured. The same")
	r.p("token every time, which the cache of verified tokens holds from its third request on;")
	r.p("`cache=off` (`WithVerifiedTokenCache(0)`, an empty set) verifies it on every request, as a")
	r.p("token's first request is.")
	r.p("%d rounds, each one `go test -count 1` of the four in turn, so that the machine's load falls on", base.n)
	r.p("all alike. Medians, spread as above; the comparison is benchstat's: the change of the median")
	r.p("against `revoked=0` and the p-value of a two-sided Mann-Whitney U test, `~` when p ≥ 0.05 (no")
	r.p("significant difference).")
	if len(sr.load) == 2 {
		r.p("1-minute load average: %s before, %s after.", sr.load[0], sr.load[1])
	}
	r.p("")
	r.p("| variant | time/op | spread | B/op | allocs/op | vs revoked=0 |")
	r.p("|---|---:|---:|---:|---:|---|")
	baseSamples := nsOf(sr.revoked.byPkg[modPath][bench+checkVariants[0].name])
	for i, v := range checkVariants {
		s, ok := sr.revoked.getIn(modPath, bench+v.name)
		if !ok {
			r.p("| `%s` | not measured | | | | |", v.name)
			continue
		}
		vs := ""
		if i > 0 {
			vs = compare(baseSamples, nsOf(sr.revoked.byPkg[modPath][bench+v.name]))
		}
		r.p("| `%s` | %s | %s | %.0f | %.0f | %s |", v.name, ns(s.ns), pct(s.spread), s.bytes, s.allocs, vs)
	}
	r.p("")
	if full, ok := sr.revoked.getIn(modPath, bench+"revoked=100k"); ok {
		change := full.ns/base.ns - 1
		fullSamples := nsOf(sr.revoked.byPkg[modPath][bench+"revoked=100k"])
		slower := slowerBy(baseSamples, fullSamples, 0.05)
		r.p("Target (DESIGN.md §9, issue 13): with 100k ended sessions, ≤ 5%% on the middleware and no extra")
		r.p("allocation, a slowdown counting when benchstat finds it significant (p < 0.05): %s. The median changed",
			verdict(!slower && full.allocs <= base.allocs, fmt.Sprintf("%+.1f%%, %.0f allocs/op", change*100, full.allocs)))
		r.p("by %+.1f%% (benchstat: %s); %.0f allocs/op against %.0f.", change*100, compare(baseSamples, fullSamples), full.allocs, base.allocs)
		r.p("")
	}
	r.p("- %s: the lookup alone, on a set of 100,000, allocates nothing, for a", sr.proof(rtLookup))
	r.p("  token of an ended session, of a live one, and one without a `sid`.")
	r.p("")
	r.command("", sr.revokedcmd)
}

// The root package's tests the sessions sections quote.
var (
	rtLookup      = testID{modPath, "TestRevokedLookupAllocatesNothing"}
	rtEntryBytes  = testID{modPath, "TestRevokedSetBytesPerEntry"}
	rtGenerations = testID{modPath, "TestRevokedSetGenerations"}
	rtMemSession  = testID{modPath, "TestMemoryStoreBytesPerSession"}
)

var (
	entryBytesLine = regexp.MustCompile(`revoked set: (\d+) bytes per ended session`)
	memSessionLine = regexp.MustCompile(`memory store: (\d+) bytes per session \(client metadata: (true|false)\)`)
)

// The rows of the bytes-per-session table, after the memory store's.
var bytesRows = []struct{ label, pkg, bench, unit, counted string }{
	{"Redis (`redisstore`), fresh", modPath + "/redisstore", "BenchmarkSessionMemory/fresh", "B/session",
		"`MEMORY USAGE` of each key of the session (its hash, its client metadata, its first token, its share of the user's index), over a sample of 1,000"},
	{"Redis, refreshed 10 times", modPath + "/redisstore", "BenchmarkSessionMemory/rotated10", "B/session",
		"the same after 10 rotations: each consumed token is kept until it expires, for reuse detection"},
	{"PostgreSQL (`sqlstore`)", modPath + "/sqlstore", "BenchmarkSessionBytes/postgres", "bytes/session",
		"growth of `pg_total_relation_size` of the store's tables with their indexes, over %s logins, each refreshed once"},
	{"SQLite (`sqlstore`)", modPath + "/sqlstore", "BenchmarkSessionBytes/sqlite", "bytes/session",
		"growth of the pages in use (page_count − freelist_count), over %s logins, each refreshed once"},
}

func (r *report) memorySection() {
	sr := r.sessions
	if !r.section(hMemory, sr.tests != nil || sr.bytes != nil, "Not measured in this run.") {
		return
	}
	r.p("### The revoked set")
	r.p("")
	perEntry, ok := sr.logged(rtEntryBytes, entryBytesLine)
	if ok {
		r.p("**%s bytes per ended session**: the heap a set of 100,000 entries takes (applied as from the", perEntry[1])
		r.p("feed, then at rest in one generation), over 100,000; each id is kept as a 16-byte keyed hash.")
	} else {
		r.p("Bytes per entry: not measured.")
	}
	r.p("%s.", sr.proof(rtEntryBytes))
	r.p("")
	cover := jwtpair.DefaultAccessTTL + time.Minute
	r.p("Its size is bounded by time, not by count: an entry is kept the access TTL + the leeway + 1 minute")
	r.p("after its session ended, as the store dates the end (clocks that disagree can lengthen that, never")
	r.p("shorten it): every access token of the session has expired by then (the minute is for clocks, and")
	r.p("for a refresh in flight at the end). Expired entries are dropped every quarter of that")
	r.p("(revocations.go), so the set holds about the sessions ended in the last 1.25 × (access TTL +")
	r.p("leeway + 1 min) at most: with the defaults (access TTL %s, no leeway) %s.", human(jwtpair.DefaultAccessTTL), human(cover*5/4))
	if ok {
		b, _ := strconv.ParseFloat(perEntry[1], 64)
		window := (cover * 5 / 4).Seconds()
		r.p("At 100 sessions ended per second, that is at most %s entries, %s; 100,000 entries take %s.",
			thousands(100*window), megabytes(100*window*b), megabytes(100_000*b))
	}
	r.p("%s: entries survive the merges of the set's generations and are", sr.proof(rtGenerations))
	r.p("dropped once their cover has passed, on the Auth's clock.")
	r.p("")

	r.p("### A session in each store")
	r.p("")
	r.p("One live session: its record, its first refresh token, its client metadata (a 101-byte browser")
	r.p("user agent and an IPv4 address, the default `WithSessionInfo` records) and its index entries.")
	r.p("")
	r.p("| store | bytes per session | what is counted |")
	r.p("|---|---:|---|")
	mem := map[string]string{}
	for _, m := range sr.loggedAll(rtMemSession, memSessionLine) {
		mem[m[2]] = m[1]
	}
	if with, ok := mem["true"]; ok {
		r.p("| memory (`jwtpair.NewMemoryStore()`) | %s | Go heap growth over 100,000 logins of 2,000 users (no user past the cap), ids and strings included; %s without client metadata |", with, mem["false"])
	} else {
		r.p("| memory (`jwtpair.NewMemoryStore()`) | not measured | |")
	}
	for _, row := range bytesRows {
		v, ok := 0.0, false
		if sr.bytes != nil {
			v, ok = sr.bytes.metricIn(row.pkg, row.bench, row.unit)
		}
		if !ok {
			r.p("| %s | not measured | |", row.label)
			continue
		}
		counted := row.counted
		if strings.Contains(counted, "%s") {
			counted = fmt.Sprintf(counted, thousands(float64(sr.bytes.iterations(row.pkg, row.bench))))
		}
		r.p("| %s | %.0f | %s |", row.label, v, counted)
	}
	r.p("")
	r.p("The memory store's row: %s.", sr.proof(rtMemSession))
	r.p("The other rows: the benchmarks named in the command below, a row shown when its benchmark completed.")
	r.p("")
	r.command("", sr.testscmd, sr.bytescmd)
}

// command writes the commands that reproduce a section, after a comment.
func (r *report) command(comment string, cmds ...string) {
	var lines []string
	for _, c := range cmds {
		if c != "" {
			lines = append(lines, c)
		}
	}
	if len(lines) == 0 {
		return
	}
	r.p("```")
	if comment != "" {
		r.p("# %s", comment)
	}
	for _, l := range lines {
		r.p("%s", l)
	}
	r.p("```")
	r.p("")
}

// proof names a test with its package and this run's result.
func (sr *sessionReport) proof(id testID) string {
	return (&storeReport{tests: sr.tests}).proof(id)
}

// logged returns the first match of re in what test id logged, when it
// passed.
func (sr *sessionReport) logged(id testID, re *regexp.Regexp) ([]string, bool) {
	all := sr.loggedAll(id, re)
	if len(all) == 0 {
		return nil, false
	}
	return all[0], true
}

// loggedAll returns every match of re in what test id logged, when it
// passed.
func (sr *sessionReport) loggedAll(id testID, re *regexp.Regexp) [][]string {
	t, ok := sr.tests[id]
	if !ok || t.action != "pass" {
		return nil
	}
	return re.FindAllStringSubmatch(t.output, -1)
}

// nsOf returns the ns/op of samples.
func nsOf(ss []sample) []float64 {
	v := make([]float64, len(ss))
	for i, s := range ss {
		v[i] = s.ns
	}
	return v
}

// slowerBy reports whether other is slower than base by more than limit
// (0.05: 5%): its median so much higher, and the difference significant by
// benchstat's test (p < 0.05). A change of the median inside the noise is
// none.
func slowerBy(base, other []float64, limit float64) bool {
	return median(other)/median(base)-1 > limit && mannWhitney(base, other) < 0.05
}

// compare is benchstat's comparison of two samples: the change of the
// median, or ~ when the difference is not significant (p ≥ 0.05), and the
// p-value of a two-sided Mann-Whitney U test with the sample sizes.
func compare(base, other []float64) string {
	if len(base) == 0 || len(other) == 0 {
		return "—"
	}
	p := mannWhitney(base, other)
	n := fmt.Sprintf("n=%d", len(base))
	if len(other) != len(base) {
		n = fmt.Sprintf("n=%d+%d", len(base), len(other))
	}
	if p >= 0.05 {
		return fmt.Sprintf("~ (p=%.3f %s)", p, n)
	}
	return fmt.Sprintf("%+.2f%% (p=%.3f %s)", (median(other)/median(base)-1)*100, p, n)
}

// mannWhitney returns the two-sided p-value of the Mann-Whitney U test of
// samples a and b: exact when neither has more than 50 values and no value
// is tied, otherwise by the normal approximation with the tie correction
// and a continuity correction.
func mannWhitney(a, b []float64) float64 {
	m, n := len(a), len(b)
	type obs struct {
		v    float64
		isA  bool
		rank float64
	}
	all := make([]obs, 0, m+n)
	for _, v := range a {
		all = append(all, obs{v: v, isA: true})
	}
	for _, v := range b {
		all = append(all, obs{v: v})
	}
	slices.SortFunc(all, func(x, y obs) int {
		switch {
		case x.v < y.v:
			return -1
		case x.v > y.v:
			return 1
		}
		return 0
	})
	ties := 0.0 // Σ (t³ − t) over groups of tied values
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		for k := i; k < j; k++ {
			all[k].rank = float64(i+j+1) / 2 // the mean of ranks i+1 … j
		}
		t := float64(j - i)
		ties += t*t*t - t
		i = j
	}
	rankA := 0.0
	for _, o := range all {
		if o.isA {
			rankA += o.rank
		}
	}
	u := rankA - float64(m*(m+1))/2
	if ties == 0 && m <= 50 && n <= 50 {
		return exactU(m, n, u)
	}
	N := float64(m + n)
	mu := float64(m*n) / 2
	sigma := math.Sqrt(float64(m*n) / 12 * ((N + 1) - ties/(N*(N-1))))
	if sigma == 0 {
		return 1
	}
	z := (math.Abs(u-mu) - 0.5) / sigma
	return min(1, math.Erfc(max(z, 0)/math.Sqrt2))
}

// exactU returns the two-sided p-value of U = u for samples of m and n
// values without ties: the share of the arrangements of the m+n ranks with
// a U at least as far from its mean, twice the smaller tail.
func exactU(m, n int, u float64) float64 {
	// f[i][j][k]: arrangements of i values of a and j of b with U = k.
	f := make([][][]float64, m+1)
	for i := range f {
		f[i] = make([][]float64, n+1)
		for j := range f[i] {
			f[i][j] = make([]float64, i*j+1)
			switch {
			case i == 0 || j == 0:
				f[i][j][0] = 1
			default:
				// The largest value is a's (it beats all j of b) or b's.
				for k := range f[i][j] {
					if k >= j {
						f[i][j][k] += f[i-1][j][k-j]
					}
					if k < len(f[i][j-1]) {
						f[i][j][k] += f[i][j-1][k]
					}
				}
			}
		}
	}
	dist := f[m][n]
	total, low, high := 0.0, 0.0, 0.0
	for k, c := range dist {
		total += c
		if float64(k) <= u {
			low += c
		}
		if float64(k) >= u {
			high += c
		}
	}
	return min(1, 2*min(low, high)/total)
}

// human writes a duration as a reader would: 1 s, 250 ms, 5 min, 7.5 min.
func human(d time.Duration) string {
	switch {
	case d >= time.Minute:
		return strconv.FormatFloat(d.Minutes(), 'f', -1, 64) + " min"
	case d >= time.Second:
		return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + " s"
	}
	return strconv.FormatFloat(float64(d)/1e6, 'f', -1, 64) + " ms"
}

// ms writes a duration in milliseconds.
func ms(d time.Duration) string {
	v := float64(d) / 1e6
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.2f ms", v)
}

func medianDuration(v []int64) time.Duration {
	if len(v) == 0 {
		return 0
	}
	f := make([]float64, len(v))
	for i, x := range v {
		f[i] = float64(x)
	}
	return time.Duration(median(f))
}

// thousands writes a count with thousands separators.
func thousands(v float64) string {
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// megabytes writes a byte count in MB (10⁶ bytes).
func megabytes(v float64) string { return fmt.Sprintf("%.1f MB", v/1e6) }

// mdCell makes text safe in a table cell: one line, no column breaks.
func mdCell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

// updateSections rewrites in doc (a BENCHMARKS.md) the sections of fresh
// (rendered by the same report), keeping every other section as it is. A
// section doc lacks goes before the first of before present in doc, or at
// the end.
func updateSections(doc, fresh string, before ...string) string {
	docSecs := splitSections(doc)
	for _, sec := range splitSections(fresh)[1:] { // [0]: what precedes the first heading
		i := slices.IndexFunc(docSecs, func(s string) bool { return heading(s) == heading(sec) })
		if i >= 0 {
			docSecs[i] = sec
			continue
		}
		at := len(docSecs)
		for _, h := range before {
			if j := slices.IndexFunc(docSecs, func(s string) bool { return heading(s) == h }); j >= 0 {
				at = j
				break
			}
		}
		docSecs = slices.Insert(docSecs, at, sec)
	}
	return strings.Join(docSecs, "")
}

// splitSections cuts a document before each "## " heading.
func splitSections(doc string) []string {
	var out []string
	start := 0
	for i := 0; i < len(doc); {
		nl := strings.IndexByte(doc[i:], '\n')
		end := len(doc)
		if nl >= 0 {
			end = i + nl + 1
		}
		if strings.HasPrefix(doc[i:], "## ") && i > start {
			out = append(out, doc[start:i])
			start = i
		}
		i = end
	}
	return append(out, doc[start:])
}

// heading returns the title of a section's "## " heading, or "".
func heading(section string) string {
	line, _, _ := strings.Cut(section, "\n")
	title, ok := strings.CutPrefix(line, "## ")
	if !ok {
		return ""
	}
	return title
}

// updateFile rewrites the sessions sections of the file at path.
func updateFile(path string, r *report) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	r.b.Reset()
	r.p("# Sessions") // what precedes the first section, dropped by updateSections
	r.sessionSections()
	out := updateSections(string(doc), r.b.String(), "End to end (wrk)", "What each row checks", "Reproduce")
	return os.WriteFile(path, []byte(out), 0o644)
}
