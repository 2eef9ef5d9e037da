package demo

import (
	"net/http"
	"net/http/pprof"
	"runtime"
)

// The -debug-addr listener, off unless the flag is given and on loopback
// addresses only (parseConfig refuses others): net/http/pprof's named
// profiles under /debug/pprof/ (goroutine, heap, allocs, …), its CPU
// profile at /debug/pprof/profile?seconds=N (what the protected route
// costs under load, BENCHMARKS.md's end-to-end section), and
// /debug/stats, a JSON object with the goroutine count and the store's
// connection pool figures. The soak test (soak/) reads it before and after
// a run to find goroutine and connection leaks.
//
// pprof's cmdline, symbol and trace handlers are not mounted: the command
// line holds -store, whose URL may carry a password. (Importing
// net/http/pprof also registers its handlers on http.DefaultServeMux, which
// this program never serves.)

// PoolStats are a store's connection pool figures.
type PoolStats struct {
	Open  int `json:"open"`   // connections open to the backend
	InUse int `json:"in_use"` // of which checked out by a store call now
	Idle  int `json:"idle"`   // of which idle in the pool
	Max   int `json:"max"`    // the pool's bound on open connections; 0 for none
}

// debugStats is the body of GET /debug/stats.
type debugStats struct {
	Goroutines int        `json:"goroutines"`
	StorePool  *PoolStats `json:"store_pool"` // null for the memory store
}

// debugHandler serves the -debug-addr routes; pool is nil for a store
// without a connection pool.
func debugHandler(pool func() *PoolStats) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index) // /debug/pprof/NAME serves the profile NAME
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/stats", func(w http.ResponseWriter, _ *http.Request) {
		st := debugStats{Goroutines: runtime.NumGoroutine()}
		if pool != nil {
			st.StorePool = pool()
		}
		writeJSON(w, http.StatusOK, st)
	})
	return mux
}
