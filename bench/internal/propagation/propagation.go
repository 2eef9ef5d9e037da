// Package propagation is the result of one run of bench/cmd/propagation,
// as that command writes it and bench/cmd/report reads it: one JSON object
// per line, one line per store.
package propagation

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"slices"
	"time"
)

// Result is the run of every trial on one store.
type Result struct {
	Backend string `json:"backend"` // redis, postgres or sqlite, from the -store value
	Trials  int    `json:"trials"`  // trials asked for (not counting the warm-up)
	Warmup  int    `json:"warmup"`  // trials run first and not recorded
	// Delays are the recorded trials' times from A's acknowledgement of the
	// end to B's first 401, in nanoseconds, in trial order.
	Delays []int64 `json:"delays_ns"`
	// Ends are the times A took to end each recorded trial's session (the
	// DELETE's round trip), in nanoseconds.
	Ends []int64 `json:"ends_ns"`
	// Polls are the requests each recorded trial sent B until its 401.
	Polls []int `json:"polls"`
	// Unavailable counts B's 503s while it was polled (its revoked set
	// stale), in every trial.
	Unavailable int `json:"unavailable"`
	// Staleness is the revocation bound both instances ran with, in
	// nanoseconds (the default: the command passes no flag for it).
	Staleness int64 `json:"staleness_ns"`
	// Poll is the pause between two requests to B, in nanoseconds.
	Poll int64 `json:"poll_ns"`
	// Spread bounds the random pause before each trial, in nanoseconds.
	Spread int64 `json:"spread_ns"`
	// Load is the 1-minute load average at the start and the end.
	Load [2]string `json:"load"`
	// Seconds is how long the run took, the instances' start included.
	Seconds float64 `json:"seconds"`
	// Error says why the run failed; empty when every trial completed.
	Error string `json:"error,omitempty"`
}

// Passed reports whether every trial asked for completed.
func (r Result) Passed() bool { return r.Error == "" && len(r.Delays) == r.Trials && r.Trials > 0 }

// Percentile returns the p-th percentile (0 < p ≤ 100) of the delays by
// the nearest-rank method: the smallest delay that at least p% of the
// trials did not exceed. Zero when there are none.
func (r Result) Percentile(p float64) time.Duration {
	if len(r.Delays) == 0 {
		return 0
	}
	d := slices.Clone(r.Delays)
	slices.Sort(d)
	rank := int(math.Ceil(p / 100 * float64(len(d))))
	return time.Duration(d[min(max(rank, 1), len(d))-1])
}

// Read reads the results a run wrote.
func Read(rd io.Reader) ([]Result, error) {
	var out []Result
	dec := json.NewDecoder(rd)
	for {
		var r Result
		err := dec.Decode(&r)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
}
