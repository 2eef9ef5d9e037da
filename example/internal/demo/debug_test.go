package demo

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDebugAddrLoopbackOnly: profiles never listen beyond loopback.
func TestDebugAddrLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:6060", ":6060", "10.0.0.1:6060", "[::]:6060", "example.com:6060", "6060"} {
		_, err := parseConfig([]string{"-debug-addr", addr}, env(nil), io.Discard)
		assert.ErrorContains(t, err, "loopback", addr)
	}
	for _, addr := range []string{"127.0.0.1:0", "[::1]:6060", "localhost:6060"} {
		c, err := parseConfig([]string{"-debug-addr", addr}, env(nil), io.Discard)
		assert.NoError(t, err, addr)
		assert.Equal(t, addr, c.debugAddr)
	}
	c, err := parseConfig(nil, env(nil), io.Discard)
	require.NoError(t, err)
	assert.Empty(t, c.debugAddr, "off by default")
}

// TestDebugEndpoints runs the main loop with -debug-addr over each shared
// store: the debug listener prints its address before "listening on",
// answers the goroutine count and the pool figures, serves pprof's
// goroutine profile but not its command line; the API listener serves
// none of it.
func TestDebugEndpoints(t *testing.T) {
	for name, storeFor := range sharedStores() {
		t.Run(name, func(t *testing.T) { testDebugEndpoints(t, storeFor(t)) })
	}
}

func testDebugEndpoints(t *testing.T, store string) {
	out, api, stop := runPrinting(t, "-addr", "127.0.0.1:0", "-debug-addr", "127.0.0.1:0", "-store", store)
	defer stop()
	var debug string
	for _, line := range strings.Split(out, "\n") {
		if a, ok := strings.CutPrefix(line, "debug on "); ok {
			debug = a
		}
	}
	require.NotEmpty(t, debug, "the debug address is printed before the API's: %s", out)
	require.NotEqual(t, api, debug)

	// A login uses the pool: a connection is open, none is left in use.
	resp, err := http.Post(api+"/api/token/", "application/json", strings.NewReader(`{"username":"admin","password":"admin"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	c := http.DefaultClient
	resp, body := get(t, c, "GET", debug+"/debug/stats")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	var st debugStats
	require.NoError(t, json.Unmarshal([]byte(body), &st), body)
	assert.Greater(t, st.Goroutines, 2, body)
	require.NotNil(t, st.StorePool, body)
	assert.GreaterOrEqual(t, st.StorePool.Open, 1, body)
	// Nothing in use but the revocation feed's push connection: Redis's
	// XREAD BLOCK, PostgreSQL's LISTEN (redisstore's and sqlstore's docs).
	// SQLite's feed polls.
	feed := 1
	if strings.HasPrefix(store, "sqlite:") {
		feed = 0
	}
	assert.LessOrEqual(t, st.StorePool.InUse, feed, body)
	assert.Equal(t, st.StorePool.Open, st.StorePool.Idle+st.StorePool.InUse, body)
	if strings.HasPrefix(store, "redis://") {
		assert.Positive(t, st.StorePool.Max, "go-redis bounds its pool: %s", body)
	}

	resp, body = get(t, c, "GET", debug+"/debug/pprof/goroutine?debug=1")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, "goroutine profile: total ")
	resp, body = get(t, c, "GET", debug+"/debug/pprof/cmdline")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "the command line holds -store: %s", body)
	assert.NotContains(t, body, store)

	for _, path := range []string{"/debug/stats", "/debug/pprof/", "/debug/pprof/goroutine"} {
		resp, body = get(t, c, "GET", api+path)
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, "the API listener serves no %s: %s", path, body)
	}
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

// TestNoDebugListenerByDefault: without -debug-addr nothing is printed
// and no second listener is opened.
func TestNoDebugListenerByDefault(t *testing.T) {
	out, _, stop := runPrinting(t, "-addr", "127.0.0.1:0")
	defer stop()
	assert.NotContains(t, out, "debug on")
}
