// Package demotest holds the test helpers of the example's two commands
// (example/internal/demo's tests and example/backends'): a server run in
// the test process, and JSON requests to it.
package demotest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Secret is the tests' JWTPAIR_SECRET.
const Secret = "example-test-secret-0123456789abcdef"

// Env returns a getenv over vars.
func Env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// Start runs run (demo.Run with its arguments bound, writing to stdout)
// until stop is called, and returns what it printed up to and including
// its "listening on" line, and the URL of that line. stop checks that run
// returned nil, as on SIGTERM.
func Start(t *testing.T, run func(ctx context.Context, stdout io.Writer) error) (printed, url string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, pw)
		pw.Close()
	}()
	buf := make([]byte, 4096)
	var out bytes.Buffer
	for url == "" {
		n, err := pr.Read(buf)
		if err != nil {
			t.Fatalf("run ended (%v) before printing its address: %s", <-done, out.String())
		}
		out.Write(buf[:n])
		for _, line := range strings.Split(out.String(), "\n") {
			if a, ok := strings.CutPrefix(line, "listening on "); ok && strings.HasSuffix(out.String(), "\n") {
				url = a
			}
		}
	}
	go io.Copy(io.Discard, pr)
	return out.String(), url, func() {
		t.Helper()
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(15 * time.Second):
			t.Fatal("run did not return after its context ended")
		}
	}
}

// Call sends a request to url with client (a JSON body when body is not
// empty, a bearer token when token is not) and decodes the JSON answer.
func Call(t *testing.T, client *http.Client, method, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var m map[string]any
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m
}

// Obtain logs admin:admin in on the server at base and returns the pair.
func Obtain(t *testing.T, client *http.Client, base string) (access, refresh string) {
	t.Helper()
	status, m := Call(t, client, "POST", base+"/api/token/", "", `{"username":"admin","password":"admin"}`)
	require.Equal(t, http.StatusOK, status, m)
	return m["access"].(string), m["refresh"].(string)
}

// Get sends a request without a body and returns the response and its body.
func Get(t *testing.T, client *http.Client, method, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}
