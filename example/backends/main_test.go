package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair/example/internal/demo"
	"github.com/jwtpair/jwtpair/example/internal/demotest"
	"github.com/jwtpair/jwtpair/storetest"
)

// The example with the shared stores, each test against real Redis,
// PostgreSQL and SQLite (package demo's tests cover the rest with the
// memory store).

const testSecret = demotest.Secret

// run runs the example with the shared stores, args and testSecret (none
// with -key: the key signs) until stop is called, and returns what it
// printed up to its "listening on" line and the URL of that line.
func run(t *testing.T, args ...string) (printed, url string, stop func()) {
	t.Helper()
	vars := map[string]string{"JWTPAIR_SECRET": testSecret}
	if slices.Contains(args, "-key") {
		vars = nil
	}
	return demotest.Start(t, func(ctx context.Context, stdout io.Writer) error {
		return demo.Run(ctx, backends{}, args, demotest.Env(vars), stdout, io.Discard)
	})
}

// start runs the example with args on a free port of 127.0.0.1 until the
// test ends, and returns its URL.
func start(t *testing.T, args ...string) string {
	t.Helper()
	_, url, stop := run(t, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	t.Cleanup(stop)
	return url
}

// call sends a request to the server at base and decodes the JSON answer.
func call(t *testing.T, base, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	return demotest.Call(t, http.DefaultClient, method, base+path, token, body)
}

func obtain(t *testing.T, base string) (access, refresh string) {
	t.Helper()
	return demotest.Obtain(t, http.DefaultClient, base)
}

// sharedStores lists the stores two instances can share here, each with
// the function that gives its -store value inside the store's subtest:
// SQLite always; Redis and PostgreSQL from their URLs (storetest.BackendURL:
// their subtests skip when the URL is unset, and fail instead under
// JWTPAIR_REQUIRE_BACKENDS=1).
func sharedStores() map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		"sqlite": func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "auth.db") },
		"redis": func(t *testing.T) string {
			return storetest.BackendURL(t, "JWTPAIR_REDIS_URL", "redis://127.0.0.1:6379/0")
		},
		"postgres": func(t *testing.T) string {
			return storetest.BackendURL(t, "JWTPAIR_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/jwtpair?sslmode=disable")
		},
	}
}

// TestTwoInstancesShareAStore: two servers with the same secret and store
// behave as one service, over HTTP.
func TestTwoInstancesShareAStore(t *testing.T) {
	for name, storeFor := range sharedStores() {
		t.Run(name, func(t *testing.T) {
			store := storeFor(t)
			a, b := start(t, "-store", store), start(t, "-store", store)

			_, refresh := obtain(t, a)
			status, _ := call(t, a, "POST", "/api/token/blacklist/", "", `{"refresh":"`+refresh+`"}`)
			require.Equal(t, http.StatusOK, status)
			status, m := call(t, b, "POST", "/api/token/refresh/", "", `{"refresh":"`+refresh+`"}`)
			assert.Equal(t, http.StatusUnauthorized, status, "logout on a, refresh on b")
			assert.Equal(t, "Token is blacklisted", m["detail"])

			access, refresh := obtain(t, a)
			status, _ = call(t, b, "GET", "/hello/", access, "")
			assert.Equal(t, http.StatusOK, status, "a's access token works on b")

			var ok, refused atomic.Int32
			var wg sync.WaitGroup
			for i := range 16 {
				base := a
				if i%2 == 1 {
					base = b
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp, err := http.Post(base+"/api/token/refresh/", "application/json", strings.NewReader(`{"refresh":"`+refresh+`"}`))
					if !assert.NoError(t, err) {
						return
					}
					resp.Body.Close()
					switch resp.StatusCode {
					case http.StatusOK:
						ok.Add(1)
					case http.StatusUnauthorized:
						refused.Add(1)
					}
				}()
			}
			wg.Wait()
			assert.Equal(t, int32(1), ok.Load(), "exactly one of 16 parallel refreshes across both instances")
			assert.Equal(t, int32(15), refused.Load())

			// Reuse presented to b ends the session a rotated.
			_, first := obtain(t, a)
			status, m = call(t, a, "POST", "/api/token/refresh/", "", `{"refresh":"`+first+`"}`)
			require.Equal(t, http.StatusOK, status, m)
			second := m["refresh"].(string)
			status, m = call(t, b, "POST", "/api/token/refresh/", "", `{"refresh":"`+first+`"}`)
			assert.Equal(t, http.StatusUnauthorized, status, "reuse on b of a token rotated on a")
			assert.Equal(t, "Token is blacklisted", m["detail"])
			status, m = call(t, a, "POST", "/api/token/refresh/", "", `{"refresh":"`+second+`"}`)
			assert.Equal(t, http.StatusUnauthorized, status, "the successor on a, after the reuse on b")
			assert.Equal(t, "Token is blacklisted", m["detail"])

			// A logout on a reaches the session's access token on b, within
			// the revocation bound (1 s).
			access, refresh = obtain(t, a)
			status, _ = call(t, a, "POST", "/api/token/blacklist/", "", `{"refresh":"`+refresh+`"}`)
			require.Equal(t, http.StatusOK, status)
			require.Eventually(t, func() bool {
				status, _ := call(t, b, "GET", "/hello/", access, "")
				return status == http.StatusUnauthorized
			}, 3*time.Second, 10*time.Millisecond, "logout on a, access token on b")
		})
	}
}

// TestCookieModeTwoInstances: two instances sharing -key (and a store)
// accept each other's cookies and CSRF tokens, as two sharing
// JWTPAIR_SECRET do.
func TestCookieModeTwoInstances(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	keyPath := filepath.Join(t.TempDir(), "key.pem")
	require.NoError(t, os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
	store := "sqlite:" + filepath.Join(t.TempDir(), "tokens.db")

	for name, args := range map[string][]string{
		"EdDSA -key": {"-cookies", "-alg", "EdDSA", "-key", keyPath, "-store", store},
		"HS256":      {"-cookies", "-store", store},
	} {
		t.Run(name, func(t *testing.T) {
			one, two := start(t, args...), start(t, args...)

			req, err := http.NewRequest(http.MethodPost, one+"/api/token/", strings.NewReader(`{"username":"admin","password":"admin"}`))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			cookies := resp.Cookies()

			// The second instance takes the first one's cookies and CSRF token,
			// for the API and for a refresh from the cookie.
			for _, path := range []string{"/hello/", "/api/token/refresh/"} {
				req, err := http.NewRequest(http.MethodPost, two+path, nil)
				require.NoError(t, err)
				for _, c := range cookies {
					req.AddCookie(c)
					if c.Name == "jwtpair-csrf" {
						req.Header.Set("X-CSRF-Token", c.Value)
					}
				}
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				assert.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, b)
			}
		})
	}
}

// TestStoreErrors: a shared store that cannot be opened fails the start,
// naming the -store value with its password hidden.
func TestStoreErrors(t *testing.T) {
	for name, store := range map[string]string{
		"redis down":        "redis://:hunter2@127.0.0.1:1/0",
		"bad redis URL":     "redis://:hunter2@127.0.0.1:6379/notadb",
		"postgres down":     "postgres://app:hunter2@127.0.0.1:1/auth?sslmode=disable&connect_timeout=2",
		"sqlite not a file": "sqlite:" + t.TempDir(),
	} {
		t.Run(name, func(t *testing.T) {
			err := demo.Run(t.Context(), backends{}, []string{"-addr", "127.0.0.1:0", "-store", store}, demotest.Env(nil), io.Discard, io.Discard)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "-store "+demo.Redact(store))
			assert.NotContains(t, err.Error(), "hunter2")
		})
	}
}
