package main

import (
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStoreDeadlines: with the SQLite file's write lock held by another
// connection (another process's long transaction: writes wait for it),
// the real server answers the token endpoints 503 with jwtpair's JSON
// within -request-timeout when the store timeout is longer, and within
// -store-timeout when that is shorter: never after the server's write
// timeout, with no answer at all (what the soak saw before).
func TestStoreDeadlines(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		bound time.Duration // when the 503 is due
	}{
		{"request deadline first", []string{"-request-timeout", "500ms"}, 500 * time.Millisecond},
		{"store deadline first", []string{"-store-timeout", "300ms"}, 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "auth.db")
			_, url, stop := run(t, append([]string{"-addr", "127.0.0.1:0", "-store", "sqlite:" + path}, tc.args...)...)
			defer stop()
			status, body, _ := post(t, url+"/api/token/", `{"username":"admin","password":"admin"}`)
			require.Equal(t, http.StatusOK, status, body)
			var pair struct{ Refresh string }
			require.NoError(t, json.Unmarshal([]byte(body), &pair))

			holdWriteLock(t, path)
			for _, ep := range []string{"/api/token/", "/api/token/refresh/", "/api/token/blacklist/"} {
				status, body, took := post(t, url+ep, `{"username":"admin","password":"admin","refresh":"`+pair.Refresh+`"}`)
				t.Logf("%s: %d after %v", ep, status, took.Round(time.Millisecond))
				assert.Equal(t, http.StatusServiceUnavailable, status, "%s: %s", ep, body)
				assert.JSONEq(t, `{"detail":"Service temporarily unavailable, try again later.","code":"service_unavailable"}`, body, ep)
				assert.Less(t, took, tc.bound+2*time.Second, "%s answered after %v", ep, took) // slack for a loaded machine; without the deadline: 5 s or more
				assert.GreaterOrEqual(t, took, tc.bound-50*time.Millisecond, "%s waited for its deadline", ep)
			}
		})
	}
}

// post sends a JSON body and returns the status, the body and how long the
// answer took; a client with no answer within 20 s (past the server's write
// timeout) fails the test.
func post(t *testing.T, url, body string) (int, string, time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: 20 * time.Second}
	start := time.Now()
	resp, err := client.Post(url, "application/json", strings.NewReader(body))
	require.NoError(t, err, "no answer after %v", time.Since(start))
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	took := time.Since(start)
	if resp.StatusCode == http.StatusServiceUnavailable {
		assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	}
	return resp.StatusCode, string(raw), took
}

// holdWriteLock takes the write lock of the SQLite database at path from a
// connection of its own until the test ends.
func holdWriteLock(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	conn, err := db.Conn(t.Context())
	require.NoError(t, err)
	_, err = conn.ExecContext(t.Context(), "BEGIN IMMEDIATE")
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = conn.ExecContext(t.Context(), "ROLLBACK")
		_ = conn.Close()
		_ = db.Close()
	})
}
