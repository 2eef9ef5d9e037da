package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMain lets the test binary stand in for an example server that never
// refuses an ended session's access token (PROPAGATION_FAKE=1).
func TestMain(m *testing.M) {
	if os.Getenv("PROPAGATION_FAKE") == "1" {
		serveFake()
		return
	}
	os.Exit(m.Run())
}

// TestPropagation runs a few trials against two real example servers on
// each shared store: SQLite always, Redis and PostgreSQL when their URLs
// are set (required under JWTPAIR_REQUIRE_BACKENDS=1). bench/run.sh runs
// the command itself, with 200 trials per store.
func TestPropagation(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "example")
	build := exec.Command("go", "build", "-o", bin, "../../../example/backends")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	stores := map[string]string{"sqlite": "sqlite:" + filepath.Join(t.TempDir(), "auth.db")}
	for name, env := range map[string]string{"redis": "JWTPAIR_REDIS_URL", "postgres": "JWTPAIR_POSTGRES_URL"} {
		stores[name] = os.Getenv(env)
	}
	for name, store := range stores {
		t.Run(name, func(t *testing.T) {
			switch {
			case store != "":
			case os.Getenv("JWTPAIR_REQUIRE_BACKENDS") == "1":
				t.Fatalf("no URL for %s, and JWTPAIR_REQUIRE_BACKENDS=1", name)
			default:
				t.Skipf("set the %s URL to measure on it", name)
			}
			o := options{example: bin, trials: 5, warmup: 1, poll: time.Millisecond, spread: 10 * time.Millisecond, timeout: 10 * time.Second, log: io.Discard}
			res := measure(t.Context(), o, store)
			require.True(t, res.Passed(), "error: %s", res.Error)
			assert.Equal(t, name, res.Backend)
			assert.Len(t, res.Delays, 5)
			assert.Len(t, res.Ends, 5)
			assert.Len(t, res.Polls, 5)
			for i, d := range res.Delays {
				assert.Positive(t, d, "trial %d", i)
				assert.Less(t, time.Duration(d), 2*time.Second, "trial %d: far beyond the 1 s bound", i)
			}
		})
	}
}

// TestPropagationFailsOnAcceptingServer: a B that keeps accepting an ended
// session's token fails the run, with no delay recorded for that trial.
func TestPropagationFailsOnAcceptingServer(t *testing.T) {
	self, err := os.Executable()
	require.NoError(t, err)
	t.Setenv("PROPAGATION_FAKE", "1") // inherited by the instances
	o := options{example: self, trials: 2, warmup: 0, poll: time.Millisecond, timeout: 300 * time.Millisecond, log: io.Discard}
	res := measure(t.Context(), o, "sqlite:unused")
	assert.False(t, res.Passed())
	assert.Contains(t, res.Error, "trial 1: B still accepts the ended session's access token")
	assert.Empty(t, res.Delays)
}

// serveFake is an example server as far as the trials go, which never ends
// anything: every access token stays good.
func serveFake() {
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"sid":"0123456789abcdef0123456789abcdef"}`))
	token := "e30." + payload + ".sig"
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/token/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"access":%q,"refresh":%q}`, token, token)
	})
	mux.HandleFunc("GET /hello/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{}`) })
	mux.HandleFunc("DELETE /api/sessions/{sid}/", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.Exit(1)
	}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	_ = http.Serve(ln, mux) // until the command interrupts it
}
