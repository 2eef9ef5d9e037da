package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair/example/internal/demo"
	"github.com/jwtpair/jwtpair/example/internal/demotest"
)

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
	out, api, stop := run(t, "-addr", "127.0.0.1:0", "-debug-addr", "127.0.0.1:0", "-store", store)
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
	// Nothing in use but the revocation feed's push connection: Redis's
	// XREAD BLOCK, PostgreSQL's LISTEN (redisstore's and sqlstore's docs).
	// SQLite's feed polls (every 100 ms) and its janitors purge: a read may
	// catch one of those at work, so the figures are read again until
	// nothing else is in use; a leaked connection never returns.
	feed := 1
	if strings.HasPrefix(store, "sqlite:") {
		feed = 0
	}
	var st struct {
		Goroutines int             `json:"goroutines"`
		StorePool  *demo.PoolStats `json:"store_pool"`
	}
	var body string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var resp *http.Response
		resp, body = demotest.Get(t, c, "GET", debug+"/debug/stats")
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		require.NoError(t, json.Unmarshal([]byte(body), &st), body)
		require.NotNil(t, st.StorePool, body)
		if st.StorePool.InUse <= feed || time.Now().After(deadline) {
			break
		}
	}
	assert.LessOrEqual(t, st.StorePool.InUse, feed, "connections left in use: %s", body)
	assert.Greater(t, st.Goroutines, 2, body)
	assert.GreaterOrEqual(t, st.StorePool.Open, 1, body)
	assert.Equal(t, st.StorePool.Open, st.StorePool.Idle+st.StorePool.InUse, body)
	if strings.HasPrefix(store, "redis://") {
		assert.Positive(t, st.StorePool.Max, "go-redis bounds its pool: %s", body)
	}

	resp, body = demotest.Get(t, c, "GET", debug+"/debug/pprof/goroutine?debug=1")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, "goroutine profile: total ")
	resp, body = demotest.Get(t, c, "GET", debug+"/debug/pprof/cmdline")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "the command line holds -store: %s", body)
	assert.NotContains(t, body, store)

	for _, path := range []string{"/debug/stats", "/debug/pprof/", "/debug/pprof/goroutine"} {
		resp, body = demotest.Get(t, c, "GET", api+path)
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, "the API listener serves no %s: %s", path, body)
	}
}
