package compat

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSimplejwtParity is the differential test: every scenario against the
// real simplejwt and against the jwtpair example, answers compared. It
// passes when every scenario answers the same, or differs only as
// Documented says, or waits for a part of issue 12 that PendingWork names
// (reported, loudly).
//
// It needs /usr/bin/python3 with Debian's
// python3-djangorestframework-simplejwt and skips without them, unless
// JWTPAIR_REQUIRE_BACKENDS=1. COMPAT_REPORT=FILE writes the whole
// comparison to FILE as Markdown.
func TestSimplejwtParity(t *testing.T) {
	requireReference(t)
	docs, err := compileDocumented(Documented)
	require.NoError(t, err)
	pending, err := compilePending(PendingWork)
	require.NoError(t, err)
	list := scenarios()
	require.NoError(t, checkScenarioIDs(list))

	ref, got := startBoth(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	fx := map[string]string{}
	for _, s := range []struct {
		side string
		p    *process
	}{{"simplejwt", ref}, {"jwtpair", got}} {
		gatherFixtures(&client{side: s.side, base: s.p.base, hc: newHTTPClient(), secret: secret}, fx)
	}

	var refRuns, gotRuns []sideRun
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); refRuns = runSide(ctx, "simplejwt", ref, fx, list) }()
	go func() { defer wg.Done(); gotRuns = runSide(ctx, "jwtpair", got, fx, list) }()
	wg.Wait()

	results := make([]scenarioResult, len(list))
	for i, sc := range list {
		results[i] = compare(sc.id, sc.desc, refRuns[i], gotRuns[i], docs)
		markPending(&results[i], pending)
	}
	sum := summarise(results)
	t.Log(sum.line())
	if sum.pending > 0 {
		t.Log(pendingReport(results, pending))
	}
	if sum.differ == 0 {
		// The README quotes the figure of the last run.
		require.NoError(t, syncReadme(figureStart, figureEnd, sum.figure()))
	}
	for _, p := range pending {
		if sum.waiting[p.Section] == 0 {
			t.Errorf("PENDING %s matches no differing scenario: that part is done, remove its entry from PendingWork (%s)", p.Section, p.What)
		}
	}
	if path := os.Getenv("COMPAT_REPORT"); path != "" {
		require.NoError(t, os.WriteFile(path, []byte(report(results, sum, docs, pending)), 0o644))
		t.Logf("report written to %s", path)
	}
	if unused := sum.unusedDocs(docs); len(unused) > 0 {
		t.Logf("documented differences no scenario showed (stale, or jwtpair does not yet answer as they say): %s", strings.Join(unused, ", "))
	}
	if sum.differ > 0 {
		t.Log("undocumented differences, grouped:\n" + groupedDiffs(results, 8))
		var b strings.Builder
		for _, r := range results {
			if r.Verdict == verdictDiffer {
				b.WriteString(formatResult(r, false))
			}
		}
		t.Log("undocumented differences, per scenario:\n" + b.String())
		if ref.stderr.String() != "" || got.stderr.String() != "" {
			t.Logf("simplejwt stderr:\n%s\njwtpair stderr:\n%s", tail(ref.stderr.String(), 40), tail(got.stderr.String(), 40))
		}
		t.Errorf("%s: %d scenarios differ from simplejwt in ways compat/differences.go does not document", sum.line(), sum.differ)
	}
}

// checkScenarioIDs reports a duplicate or unstable scenario id.
func checkScenarioIDs(list []scenario) error {
	seen := map[string]bool{}
	idRE := regexp.MustCompile(`^[a-z0-9]+(/[a-z0-9-]+)+$`)
	for _, s := range list {
		if seen[s.id] {
			return fmt.Errorf("scenario id %s is used twice", s.id)
		}
		if !idRE.MatchString(s.id) {
			return fmt.Errorf("scenario id %q is not of the form group/name", s.id)
		}
		if s.desc == "" {
			return fmt.Errorf("scenario %s has no description", s.id)
		}
		seen[s.id] = true
	}
	return nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// summary counts the verdicts.
type summary struct {
	n, same, documented, pending, differ int
	used                                 map[string]int // Documented entry → scenarios it explained
	waiting                              map[string]int // PendingWork section → scenarios waiting for it
}

func summarise(results []scenarioResult) summary {
	s := summary{n: len(results), used: map[string]int{}, waiting: map[string]int{}}
	for _, r := range results {
		switch r.Verdict {
		case verdictSame:
			s.same++
		case verdictDocumented:
			s.documented++
		case verdictPending:
			s.pending++
			s.waiting[r.Pending]++
		default:
			s.differ++
		}
		for _, d := range r.Docs {
			s.used[d]++
		}
	}
	return s
}

// figure is the line without the count of undocumented differences,
// as the README quotes it.
func (s summary) figure() string {
	return fmt.Sprintf("%d scenarios, %d same, %d documented, %d pending", s.n, s.same, s.documented, s.pending)
}

func (s summary) line() string {
	return fmt.Sprintf("%d scenarios, %d same, %d documented, %d pending, %d differ", s.n, s.same, s.documented, s.pending, s.differ)
}

// pendingReport lists the pending scenarios by the part they wait for.
func pendingReport(results []scenarioResult, pending []compiledPending) string {
	var b strings.Builder
	b.WriteString("PENDING: scenarios that still differ from simplejwt because their part of issue 12 is not built yet\n")
	for _, p := range pending {
		var ids []string
		for _, r := range results {
			if r.Verdict == verdictPending && r.Pending == p.Section {
				ids = append(ids, r.ID)
			}
		}
		fmt.Fprintf(&b, "  PENDING %s — %d scenarios: %s\n    %s\n", p.Section, len(ids), p.What, strings.Join(ids, " "))
	}
	return b.String()
}

func (s summary) unusedDocs(docs []compiledDiff) []string {
	var out []string
	for _, d := range docs {
		if s.used[d.ID] == 0 {
			out = append(out, d.ID)
		}
	}
	return out
}

// formatResult renders a scenario's comparison: its undocumented
// differences, or with all, every aspect of every step.
func formatResult(r scenarioResult, all bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s [%s] — %s\n", r.ID, r.Verdict, r.Desc)
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "    ! %s\n", p)
	}
	for i, s := range r.Steps {
		var lines []string
		for _, d := range s.Diffs {
			switch {
			case d.Doc == "":
				lines = append(lines, fmt.Sprintf("      %s: simplejwt %s | jwtpair %s", d.Aspect, d.Simplejwt, d.Jwtpair))
			case all:
				lines = append(lines, fmt.Sprintf("      %s: simplejwt %s | jwtpair %s (documented: %s)", d.Aspect, d.Simplejwt, d.Jwtpair, d.Doc))
			}
		}
		if len(lines) == 0 && !all {
			continue
		}
		kind := ""
		if s.Setup {
			kind = " (setup: status only)"
		}
		fmt.Fprintf(&b, "  step %d %q%s: %s\n", i+1, s.Label, kind, s.Request)
		if s.WantDoc != "" {
			fmt.Fprintf(&b, "      (simplejwt's answer %s replaced by %s's)\n", brief(s.Replaced), s.WantDoc)
		}
		if all {
			fmt.Fprintf(&b, "      simplejwt: %s\n      jwtpair:   %s\n", brief(s.Ref), brief(s.Got))
		}
		for _, l := range lines {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// brief renders an answer on one line: status, then the aspects a reader
// looks at first.
func brief(o *obs) string {
	if o == nil {
		return "(none)"
	}
	var parts []string
	for _, k := range o.keys {
		v := o.vals[k]
		switch {
		case k == "status" || k == "fact":
			parts = append(parts, v)
		case strings.HasPrefix(k, "header ") && v != absent:
			parts = append(parts, strings.TrimPrefix(k, "header ")+": "+v)
		case strings.HasPrefix(k, "body") && !strings.Contains(k, ".header") && !strings.Contains(k, ".claims"):
			if v == "object" || strings.HasPrefix(v, "array(") {
				if k == "body" {
					parts = append(parts, "body "+v)
				}
				continue
			}
			parts = append(parts, k+"="+v)
		}
	}
	return strings.Join(parts, "; ")
}

var indexRE = regexp.MustCompile(`\[[0-9]+\]`)

// groupedDiffs lists the undocumented aspect differences by kind: the
// aspect and the two values, with the scenarios that show it (the first
// maxIDs of them; all when maxIDs is 0).
func groupedDiffs(results []scenarioResult, maxIDs int) string {
	type key struct{ aspect, ref, got string }
	groups := map[key][]string{}
	var order []key
	var problems []string
	for _, r := range results {
		if r.Verdict == verdictPending {
			continue
		}
		for _, p := range r.Problems {
			problems = append(problems, r.ID+": "+p)
		}
		seen := map[key]bool{}
		for _, s := range r.Steps {
			for _, d := range s.Diffs {
				if d.Doc != "" {
					continue
				}
				k := key{indexRE.ReplaceAllString(d.Aspect, "[]"), d.Simplejwt, d.Jwtpair}
				if seen[k] {
					continue
				}
				seen[k] = true
				if _, ok := groups[k]; !ok {
					order = append(order, k)
				}
				groups[k] = append(groups[k], r.ID)
			}
		}
	}
	slices.SortStableFunc(order, func(a, b key) int {
		if c := strings.Compare(a.aspect, b.aspect); c != 0 {
			return c
		}
		return len(groups[b]) - len(groups[a])
	})
	var b strings.Builder
	for _, k := range order {
		ids, more := groups[k], ""
		if maxIDs > 0 && len(ids) > maxIDs {
			ids, more = ids[:maxIDs], " …"
		}
		fmt.Fprintf(&b, "- %s: simplejwt %s | jwtpair %s — %d: %s%s\n", k.aspect, k.ref, k.got, len(groups[k]), strings.Join(ids, " "), more)
	}
	for _, p := range problems {
		fmt.Fprintf(&b, "- ! %s\n", p)
	}
	return b.String()
}

// report renders the whole comparison as Markdown.
func report(results []scenarioResult, sum summary, docs []compiledDiff, pending []compiledPending) string {
	var b strings.Builder
	b.WriteString("# jwtpair against simplejwt: the differential test's report\n\n")
	b.WriteString("Generated by `cd compat && JWTPAIR_COMPAT=1 COMPAT_REPORT=REPORT.md go test -count=1 -run TestSimplejwtParity .`\n")
	b.WriteString("(reference: Debian's djangorestframework-simplejwt, compat/simplejwt/; jwtpair: the example server).\n\n")
	fmt.Fprintf(&b, "**%s**\n\n", sum.line())
	if sum.pending > 0 {
		b.WriteString("## Pending\n\n```\n" + pendingReport(results, pending) + "```\n\n")
	}
	b.WriteString("## Documented differences used\n\n| entry | kind | scenarios |\n|---|---|---|\n")
	for _, d := range docs {
		fmt.Fprintf(&b, "| %s | %s | %d |\n", d.ID, d.Kind, sum.used[d.ID])
	}
	b.WriteString("\n## Undocumented differences, grouped (pending scenarios left out)\n\n")
	if sum.differ == 0 {
		b.WriteString("None.\n")
	} else {
		b.WriteString(groupedDiffs(results, 0))
	}
	b.WriteString("\n## Every scenario\n\n")
	b.WriteString("Each step: the request, both answers in brief, then each aspect that differs.\n\n")
	for _, r := range results {
		b.WriteString("```\n" + formatResult(r, true) + "```\n")
	}
	return b.String()
}
