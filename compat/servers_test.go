package compat

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// python is Debian's interpreter, which has Debian's Django, DRF and
// simplejwt (not a pyenv or virtualenv python found on PATH).
const python = "/usr/bin/python3"

// secret is the HMAC secret both servers sign with (JWTPAIR_SECRET, and
// simplejwt's SIGNING_KEY): the same bytes.
var secret = []byte("compat-differential-test-secret-0123456789abcdef")

// referenceMissing says why the simplejwt reference cannot run here, or "".
func referenceMissing() string {
	if _, err := os.Stat(python); err != nil {
		return python + " is missing"
	}
	out, err := exec.Command(python, "-c", "import django, rest_framework, rest_framework_simplejwt").CombinedOutput()
	if err != nil {
		return fmt.Sprintf("%s cannot import django, rest_framework and rest_framework_simplejwt: %s", python, lastLine(out))
	}
	return ""
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// syncBuffer collects a process's stderr.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// process is a server the test started.
type process struct {
	name, base string
	stderr     *syncBuffer
}

// startServer starts cmd, waits for its "listening on http://ADDR" line
// and stops it when the test ends.
func startServer(t *testing.T, name string, cmd *exec.Cmd) (*process, error) {
	t.Helper()
	p := &process{name: name, stderr: &syncBuffer{}}
	cmd.Stderr = p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sent := false
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening on "); ok && !sent {
				addr <- a
				sent = true
			}
		}
		if !sent {
			close(addr)
		}
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			return nil, fmt.Errorf("%s exited before listening; stderr:\n%s", name, p.stderr.String())
		}
		p.base = a
		return p, nil
	case <-time.After(90 * time.Second):
		return nil, fmt.Errorf("%s did not start within 90 s; stderr:\n%s", name, p.stderr.String())
	}
}

// startSimplejwt serves the Django project of simplejwt/ on the database
// databaseURL (its DATABASE_URL: sqlite:///PATH or postgres://…), which
// serve.py migrates and gives the users first.
func startSimplejwt(t *testing.T, dir, databaseURL string) (*process, error) {
	serve, err := filepath.Abs(filepath.Join("simplejwt", "serve.py"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(python, serve, "-addr", "127.0.0.1:0")
	cmd.Env = djangoEnv(dir, databaseURL)
	return startServer(t, "simplejwt", cmd)
}

// djangoEnv is the environment of the Django project's processes: the
// shared secret and the database, with dir as HOME.
func djangoEnv(dir, databaseURL string) []string {
	return []string{
		"PATH=/usr/bin:/bin",
		"HOME=" + dir,
		"LANG=C.UTF-8",
		"PYTHONDONTWRITEBYTECODE=1",
		"JWTPAIR_SECRET=" + string(secret),
		"DATABASE_URL=" + databaseURL,
	}
}

// buildExample builds the example server with the shared stores
// (./example/backends: the migration test imports into SQLite and
// PostgreSQL) into dir and returns its path.
func buildExample(dir string) (string, error) {
	bin := filepath.Join(dir, "example")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = filepath.Join("..", "example", "backends")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./example/backends: %w\n%s", err, out)
	}
	return bin, nil
}

// exampleCmd runs the example bin as simplejwt is configured: the same
// secret, access 5 min, refresh 24 h, rotation on, sliding tokens, users
// admin (id "1"), carol (id "2") and the inactive user (id "3"), each
// request's user loaded as JWTAuthentication does (-user-check), on the
// store store, with extra flags after those.
func exampleCmd(bin, store string, extra ...string) *exec.Cmd {
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-user", "admin:admin", "-user", "carol:carol", "-inactive-user", "inactive:inactive",
		"-user-check", "-access-ttl", "5m", "-refresh-ttl", "24h", "-rotate=true", "-store", store, "-sliding",
		// simplejwt throttles nothing and caps no user's sessions; the
		// scenarios log in hundreds of times, as admin, from 127.0.0.1.
		"-throttle=false", "-max-sessions", "100000")
	cmd.Args = append(cmd.Args, extra...)
	cmd.Env = exampleEnv()
	return cmd
}

// exampleEnv is the example's environment: this one, with the shared
// secret.
func exampleEnv() []string { return append(os.Environ(), "JWTPAIR_SECRET="+string(secret)) }

// startExample builds the example server and runs it (exampleCmd) on the
// memory store, with extra flags.
func startExample(t *testing.T, dir string, extra ...string) (*process, error) {
	bin, err := buildExample(dir)
	if err != nil {
		return nil, err
	}
	return startServer(t, "jwtpair", exampleCmd(bin, "memory", extra...))
}

// startBoth starts the two servers side by side.
func startBoth(t *testing.T) (ref, got *process) {
	t.Helper()
	dir := t.TempDir()
	var wg sync.WaitGroup
	var refErr, gotErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		ref, refErr = startSimplejwt(t, dir, "sqlite:///"+filepath.Join(dir, "simplejwt.sqlite3"))
	}()
	// The adoption window is open, as for a move from simplejwt whose
	// cutover is after the run: jwtpair refreshes the refresh tokens the
	// reference minted, and any validly signed one it never issued, as
	// simplejwt does (issue 12 §4; README, Migrating from simplejwt).
	now := time.Now()
	adopt := []string{"-adopt-cutover", now.Add(time.Hour).Format(time.RFC3339), "-adopt-until", now.Add(2 * time.Hour).Format(time.RFC3339)}
	go func() { defer wg.Done(); got, gotErr = startExample(t, dir, adopt...) }()
	wg.Wait()
	if err := errors.Join(refErr, gotErr); err != nil {
		t.Fatal(err)
	}
	return ref, got
}

// runSide runs every scenario against one server, in order.
func runSide(ctx context.Context, side string, p *process, fx map[string]string, list []scenario) []sideRun {
	runs := make([]sideRun, len(list))
	hc := newHTTPClient()
	for i, sc := range list {
		if ctx.Err() != nil {
			runs[i].problems = []string{"not run: " + ctx.Err().Error()}
			continue
		}
		c := &client{side: side, base: p.base, hc: hc, secret: secret, fx: fx}
		sc.run(c)
		runs[i] = c.run
	}
	return runs
}

// requireBackends reports whether CI asked for every backend test to run
// (JWTPAIR_REQUIRE_BACKENDS=1): then a missing reference fails the test.
func requireBackends() bool { return os.Getenv("JWTPAIR_REQUIRE_BACKENDS") == "1" }
