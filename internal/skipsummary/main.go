// Command skipsummary runs a go test -json command, writes what go test
// would have written without -json (each package's result line, the
// output of failed tests, build errors), and then lists the tests that
// skipped, grouped by the reason each gave, which says how to run them:
// make test passes without the backend and browser tests, and this shows
// which it did not run. It exits with the command's exit status.
//
//	go run ./internal/skipsummary [-hint TEXT] go test -json ./...
//
// -hint is a line printed under the list when a test skipped.
//
// One difference from go test's own output: what a passing test prints
// to stdout itself (not through t.Log) is attributed to the test by
// test2json and so, like t.Log, shown only when the test fails.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"

	"github.com/jwtpair/jwtpair/internal/testjson"
)

func main() {
	hint := flag.String("hint", "", "a line printed under the list of skipped tests, when there is one")
	flag.Parse()
	os.Exit(run(flag.Args(), *hint, os.Stdout, os.Stderr))
}

// run runs the command args, filters its standard output (go test -json
// events) onto stdout, writes the summary of skips, and returns the
// command's exit status.
func run(args []string, hint string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: skipsummary [-hint TEXT] go test -json PACKAGES…")
		return 2
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stderr = os.Stdin, stderr
	out, err := cmd.StdoutPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		fmt.Fprintln(stderr, "skipsummary:", err)
		return 2
	}
	f := newFilter(stdout)
	f.read(out)
	err = cmd.Wait()
	if f.failed {
		fmt.Fprintln(stdout, "FAIL") // go test's last line after a failure, which -json leaves out
	}
	f.summary(hint)
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode()
	case err != nil:
		fmt.Fprintln(stderr, "skipsummary:", err)
		return 2
	case f.failed:
		return 1 // a failure the command did not report in its status
	}
	return 0
}

// testKey names a test of a package.
type testKey struct{ pkg, test string }

// skip is a test that skipped, and why.
type skip struct {
	testKey
	reason string
}

// filter turns go test -json events back into go test's own output and
// collects the skips.
type filter struct {
	w        io.Writer
	pkgs     map[string]*strings.Builder  // what each running package has to show, written when it ends
	output   map[testKey]*strings.Builder // of each running test
	children map[testKey]string           // failed subtests' text, for their parent
	skips    []skip
	failed   bool
}

func newFilter(w io.Writer) *filter {
	return &filter{w: w, pkgs: map[string]*strings.Builder{}, output: map[testKey]*strings.Builder{}, children: map[testKey]string{}}
}

// read handles every line of r: an event, or a line to pass through.
func (f *filter) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var e testjson.Event
		if line := sc.Bytes(); len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintf(f.w, "%s\n", line)
			continue
		}
		f.event(e)
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(f.w, "skipsummary: reading the events:", err)
		f.failed = true
	}
	pkgs := make([]string, 0, len(f.pkgs)) // packages that never ended: their text anyway
	for p := range f.pkgs {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	for _, p := range pkgs {
		f.flush(p)
	}
}

// write adds text to what package pkg shows when it ends; text that
// belongs to no package is written at once. go test without -json writes
// each package's text in one piece, however its tests interleave with
// other packages'.
func (f *filter) write(pkg, text string) {
	if pkg == "" {
		io.WriteString(f.w, text)
		return
	}
	b := f.pkgs[pkg]
	if b == nil {
		b = &strings.Builder{}
		f.pkgs[pkg] = b
	}
	b.WriteString(text)
}

// flush writes what package pkg has to show.
func (f *filter) flush(pkg string) {
	if b := f.pkgs[pkg]; b != nil {
		io.WriteString(f.w, b.String())
		delete(f.pkgs, pkg)
	}
}

// event handles one event. A package's own output (its result line, a
// build error) is shown, but for the bare "PASS" go test leaves out
// without -v; a test's output is kept until it ends, and shown only when
// it failed, as go test does without -v. A package's text is written in
// one piece when the package ends.
func (f *filter) event(e testjson.Event) {
	if e.Test == "" {
		switch {
		case e.Action == "fail":
			f.failed = true
		case (e.Action == "output" || e.Action == "build-output") && e.Output != "PASS\n":
			f.write(e.Package, e.Output)
		}
		if e.Action == "pass" || e.Action == "fail" || e.Action == "skip" {
			f.flush(e.Package)
		}
		return
	}
	k := testKey{e.Package, e.Test}
	switch e.Action {
	case "output":
		if f.output[k] == nil {
			f.output[k] = &strings.Builder{}
		}
		f.output[k].WriteString(e.Output)
	case "fail":
		f.failed = true
		text := failureText(f.output[k].String()) + f.children[k]
		delete(f.children, k)
		if parent, ok := f.runningParent(k); ok {
			f.children[parent] += indent(text) // written with the parent's failure
		} else {
			f.write(e.Package, text)
		}
	case "skip":
		f.skips = append(f.skips, skip{k, testjson.SkipReason(f.output[k].String())})
	}
	if e.Action == "pass" || e.Action == "fail" || e.Action == "skip" {
		delete(f.output, k)
	}
}

// runningParent returns the test k is a subtest of: the longest of its
// name's prefixes ending before a "/" that is a running test (a subtest's
// own name may hold a "/").
func (f *filter) runningParent(k testKey) (testKey, bool) {
	for i := strings.LastIndexByte(k.test, '/'); i > 0; i = strings.LastIndexByte(k.test[:i], '/') {
		if p := (testKey{k.pkg, k.test[:i]}); f.output[p] != nil {
			return p, true
		}
	}
	return testKey{}, false
}

// failureText is a failed test's output as go test writes it without -v:
// the "--- FAIL" line first, then what the test logged, without the
// "=== RUN" (PAUSE, CONT, NAME) lines.
func failureText(out string) string {
	var head, body strings.Builder
	for _, line := range strings.SplitAfter(out, "\n") {
		switch t := strings.TrimSpace(line); {
		case t == "", strings.HasPrefix(t, "=== "):
		case strings.HasPrefix(t, "--- FAIL: ") && head.Len() == 0:
			head.WriteString(line)
		default:
			body.WriteString(line)
		}
	}
	return head.String() + body.String()
}

// indent indents every line of a subtest's text under its parent's, as go
// test does (test2json takes the indentation off).
func indent(text string) string {
	lines := strings.SplitAfter(text, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = "    " + l
		}
	}
	return strings.Join(lines, "")
}

// summary writes the skips, grouped by reason, most frequent first, each
// with the tests that gave it.
func (f *filter) summary(hint string) {
	if len(f.skips) == 0 {
		return
	}
	byReason := map[string][]skip{}
	for _, s := range f.skips {
		byReason[s.reason] = append(byReason[s.reason], s)
	}
	reasons := make([]string, 0, len(byReason))
	for r := range byReason {
		reasons = append(reasons, r)
	}
	sort.Slice(reasons, func(i, j int) bool {
		a, b := byReason[reasons[i]], byReason[reasons[j]]
		return len(a) > len(b) || len(a) == len(b) && reasons[i] < reasons[j]
	})
	fmt.Fprintf(f.w, "\nSKIPPED %d %s (not run, not failed):\n", len(f.skips), plural(len(f.skips), "test", "tests"))
	for _, r := range reasons {
		ss := byReason[r]
		if r == "" {
			r = "(no reason given)"
		}
		fmt.Fprintf(f.w, "  %3d  %s\n       %s\n", len(ss), r, listTests(ss))
	}
	if hint != "" {
		fmt.Fprintln(f.w, hint)
	}
}

// listTests names the tests of ss by package: the first three of each.
func listTests(ss []skip) string {
	var pkgs []string
	tests := map[string][]string{}
	for _, s := range ss {
		if tests[s.pkg] == nil {
			pkgs = append(pkgs, s.pkg)
		}
		tests[s.pkg] = append(tests[s.pkg], s.test)
	}
	parts := make([]string, 0, len(pkgs))
	for _, p := range pkgs {
		ts := tests[p]
		list := strings.Join(ts[:min(3, len(ts))], ", ")
		if len(ts) > 3 {
			list += fmt.Sprintf(" and %d more", len(ts)-3)
		}
		parts = append(parts, p+": "+list)
	}
	return strings.Join(parts, "; ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
