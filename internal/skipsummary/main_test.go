package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jwtpair/jwtpair/internal/testjson"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A module whose packages pass, skip (with and without a reason, in a
// subtest, two for one reason), fail (in a test and in a subtest), and
// have no tests.
var module = map[string]string{
	"go.mod": "module example.com/m\n\ngo 1.25\n",
	"ok/ok_test.go": `package ok
import "testing"
func TestPass(t *testing.T) { t.Log("not shown without -v") }
`,
	"skips/skips_test.go": `package skips
import "testing"
func TestRedis(t *testing.T)    { t.Skip("set M_REDIS_URL=redis://127.0.0.1:6379/0 to run this test") }
func TestRedisToo(t *testing.T) { t.Skip("set M_REDIS_URL=redis://127.0.0.1:6379/0 to run this test") }
func TestQuiet(t *testing.T)    { t.SkipNow() }
func TestSub(t *testing.T) {
	t.Run("browser", func(t *testing.T) { t.Skipf("no %s found", "chromium") })
	t.Run("runs", func(t *testing.T) {})
}
`,
	"fails/fails_test.go": `package fails
import "testing"
func TestFail(t *testing.T) { t.Log("before"); t.Error("boom") }
func TestParent(t *testing.T) {
	t.Log("parent says")
	t.Run("a/b", func(t *testing.T) { t.Fatal("sub boom") })
	t.Run("fine", func(t *testing.T) {})
}
func TestSkipped(t *testing.T) { t.Skip("also counted when the package fails") }
`,
	"none/none.go": "package none\n",
}

// times are what differ between two runs.
var times = regexp.MustCompile(`\(\d+\.\d+s\)|\t\d+\.\d+s|\t\(cached\)`)

// goTest runs go test in dir, with the extra arguments, and returns its
// standard output with times blanked, and its exit status.
func goTest(t *testing.T, dir string, extra ...string) (string, int) {
	t.Helper()
	cmd := exec.Command("go", append([]string{"test", "-count=1"}, append(extra, "./...")...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	return times.ReplaceAllString(string(out), "T"), exitCode(t, err)
}

func exitCode(t *testing.T, err error) int {
	var exit *exec.ExitError
	if err == nil {
		return 0
	}
	require.ErrorAs(t, err, &exit)
	return exit.ExitCode()
}

func TestSummary(t *testing.T) {
	dir := t.TempDir()
	for name, body := range module {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	plain, plainStatus := goTest(t, dir)
	require.Equal(t, 1, plainStatus, plain)

	// The tool, on the same packages: go test's own output, then the skips.
	t.Chdir(dir)
	t.Setenv("GOWORK", "off")
	var out, errOut bytes.Buffer
	status := run([]string{"go", "test", "-count=1", "-json", "./..."}, "servers: see the README", &out, &errOut)
	assert.Equal(t, plainStatus, status, "the command's exit status")
	got := times.ReplaceAllString(out.String(), "T")
	passed, summary, ok := strings.Cut(got, "\nSKIPPED ")
	require.True(t, ok, got)
	assert.Equal(t, sortLines(plain), sortLines(passed), "go test's output, as without -json (packages in any order)")
	assert.Equal(t, `5 tests (not run, not failed):
    2  set M_REDIS_URL=redis://127.0.0.1:6379/0 to run this test
       example.com/m/skips: TestRedis, TestRedisToo
    1  (no reason given)
       example.com/m/skips: TestQuiet
    1  also counted when the package fails
       example.com/m/fails: TestSkipped
    1  no chromium found
       example.com/m/skips: TestSub/browser
servers: see the README
`, summary)

	// Nothing skipped, nothing failed: go test's lines alone, and 0.
	out.Reset()
	status = run([]string{"go", "test", "-count=1", "-json", "./ok/...", "./none/..."}, "servers: see the README", &out, &errOut)
	assert.Equal(t, 0, status)
	assert.Equal(t, "?   \texample.com/m/none\t[no test files]\nok  \texample.com/m/okT\n", times.ReplaceAllString(out.String(), "T"))
}

// sortLines sorts the blocks of each package's output: go test runs
// packages in parallel, so they may come in another order.
func sortLines(s string) []string {
	var blocks []string
	var cur strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		cur.WriteString(line)
		if strings.HasPrefix(line, "ok ") || strings.HasPrefix(line, "FAIL\t") || strings.HasPrefix(line, "?   ") {
			blocks = append(blocks, cur.String())
			cur.Reset()
		}
	}
	blocks = append(blocks, cur.String())
	slices.Sort(blocks)
	return blocks
}

// TestPackagesInOnePiece: however the events of two packages interleave (go
// test runs packages in parallel), each package's text is written in one
// piece when it ends, as go test does without -json.
func TestPackagesInOnePiece(t *testing.T) {
	var out strings.Builder
	f := newFilter(&out)
	for _, e := range []testjson.Event{
		{Action: "run", Package: "a", Test: "TestFail"},
		{Action: "output", Package: "a", Test: "TestFail", Output: "--- FAIL: TestFail (0.00s)\n"},
		{Action: "output", Package: "a", Test: "TestFail", Output: "    a_test.go:3: boom\n"},
		{Action: "fail", Package: "a", Test: "TestFail"},
		{Action: "output", Package: "a", Output: "FAIL\n"},
		{Action: "output", Package: "b", Output: "?   \tb\t[no test files]\n"},
		{Action: "skip", Package: "b"},
		{Action: "output", Package: "a", Output: "FAIL\ta\t0.01s\n"},
		{Action: "fail", Package: "a"},
	} {
		f.event(e)
	}
	assert.Equal(t, "?   \tb\t[no test files]\n"+
		"--- FAIL: TestFail (0.00s)\n    a_test.go:3: boom\nFAIL\nFAIL\ta\t0.01s\n", out.String())
}
