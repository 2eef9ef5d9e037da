package demo

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDebugAddrLoopbackOnly: profiles never listen beyond loopback.
func TestDebugAddrLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:6060", ":6060", "10.0.0.1:6060", "[::]:6060", "example.com:6060", "6060"} {
		_, err := parseConfig([]string{"-debug-addr", addr}, env(nil), io.Discard, nil)
		assert.ErrorContains(t, err, "loopback", addr)
	}
	for _, addr := range []string{"127.0.0.1:0", "[::1]:6060", "localhost:6060"} {
		c, err := parseConfig([]string{"-debug-addr", addr}, env(nil), io.Discard, nil)
		assert.NoError(t, err, addr)
		assert.Equal(t, addr, c.debugAddr)
	}
	c, err := parseConfig(nil, env(nil), io.Discard, nil)
	require.NoError(t, err)
	assert.Empty(t, c.debugAddr, "off by default")
}

// TestDebugStatsMemoryStore: the memory store has no pool: store_pool is null.
func TestDebugStatsMemoryStore(t *testing.T) {
	rec := httptest.NewRecorder()
	debugHandler(nil).ServeHTTP(rec, httptest.NewRequest("GET", "/debug/stats", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	var m map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &m))
	assert.Contains(t, m, "store_pool")
	assert.Nil(t, m["store_pool"])
	assert.Greater(t, m["goroutines"], 0.0)
}

// TestDebugProfiles: the CPU profile is served (a gzipped protobuf), and
// the command line, which holds -store's URL, is not.
func TestDebugProfiles(t *testing.T) {
	h := debugHandler(nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/debug/pprof/profile?seconds=1", nil))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.True(t, bytes.HasPrefix(rec.Body.Bytes(), []byte{0x1f, 0x8b}), "a gzipped profile")
	for _, path := range []string{"/debug/pprof/cmdline", "/debug/pprof/symbol", "/debug/pprof/trace"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		assert.Equal(t, http.StatusNotFound, rec.Code, path)
		assert.NotContains(t, rec.Body.String(), "-store", path)
	}
}

// TestNoDebugListenerByDefault: without -debug-addr nothing is printed
// and no second listener is opened.
func TestNoDebugListenerByDefault(t *testing.T) {
	out, _, stop := runPrinting(t, "-addr", "127.0.0.1:0")
	defer stop()
	assert.NotContains(t, out, "debug on")
}
