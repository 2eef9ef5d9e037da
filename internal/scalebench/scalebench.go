// Package scalebench measures a [jwtpair.Store] that holds many live
// sessions (issue 16 §3, "Store figures at scale"): rotations per second
// and latency percentiles at several numbers of concurrent clients, the
// cost of PurgeExpired, and what the backend says about its size, at each
// of a growing number of sessions. The stores' BenchmarkScale call [Run];
// bench/scale.sh runs them and bench/cmd/report writes the figures into
// BENCHMARKS.md.
//
// The environment sets the sizes (unset, a smoke run small enough for CI):
//
//	JWTPAIR_SCALE_SESSIONS  live sessions, ascending, comma-separated: 10000,100000,1000000 (default 1000)
//	JWTPAIR_SCALE_CLIENTS   concurrent clients, comma-separated (default 1,16,64)
//	JWTPAIR_SCALE_OUT       a file to which each load appends a JSON line ([Load]); default none
//
// Sessions are loaded once per size, on top of the previous size's: the
// sub-benchmark sessions=<n> loads up to n, then its leaves measure.
package scalebench

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtpair/jwtpair"
)

// The environment variables [Run] reads.
const (
	EnvSessions = "JWTPAIR_SCALE_SESSIONS"
	EnvClients  = "JWTPAIR_SCALE_CLIENTS"
	EnvOut      = "JWTPAIR_SCALE_OUT"
)

// RefreshTTL is the expiry given to every loaded session and every
// successor: jwtpair's default refresh lifetime, so nothing expires while
// measured.
const RefreshTTL = 24 * time.Hour

// Client is the metadata every loaded session records: the default
// WithSessionInfo's (a 101-byte browser user agent and an IPv4 address), as
// the stores' bytes-per-session benchmarks record, so the figures compare.
var Client = map[string]string{
	"user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"ip":         "203.0.113.42",
}

// IssueOptions are the options every loaded session is issued with: the
// Auth's default per-user cap, and [Client].
func IssueOptions() jwtpair.IssueOptions {
	return jwtpair.IssueOptions{MaxSessions: jwtpair.DefaultMaxSessionsPerUser, Client: Client}
}

// Backend is one store under measurement, with what only its backend can
// do: load in bulk, report its size, count its own work.
type Backend struct {
	// Name names the store in the JSON lines ("memory", "redis",
	// "postgres", "sqlite").
	Name  string
	Store jwtpair.Store

	// Load records recs as live sessions, each with its first refresh
	// token active, exactly as Store.Issue(ctx, rec, IssueOptions()) would
	// (rows, keys and values alike; a backend's test proves it), but in
	// bulk: pipelines, COPY, multi-row INSERTs. The expiries are the
	// records'. nil: the driver calls Store.Issue for each record.
	Load func(ctx context.Context, recs []jwtpair.Record) error

	// Stats reads, at rest, what the backend says about its size: byte
	// counts (keys ending in "_bytes", whose growth over a load is divided
	// by the sessions loaded) and other figures (records, tree depth…).
	// sample holds some sessions just loaded (nil before a load), for
	// figures read per session. nil: none.
	Stats func(ctx context.Context, sample []jwtpair.Record) (map[string]float64, error)

	// Measure is called before a timed run; the function it returns is
	// called after it with the operations run, and returns metrics per
	// operation (unit → value) read from the backend's own counters: the
	// server's time per script, the WAL written. nil: none.
	Measure func(ctx context.Context) (func(ctx context.Context, ops int) (map[string]float64, error), error)

	// Purge runs the store's PurgeExpired and returns the token records it
	// deleted. nil: no purge leaf.
	Purge func(ctx context.Context) (int64, error)

	// Limit is one operation of the backend's own limit through the same
	// client: a trivial script, a single-row UPDATE. It runs at each
	// client count in the leaf limit/clients=<c>. nil: none.
	Limit func(ctx context.Context) error
}

// Run measures be at each size of JWTPAIR_SCALE_SESSIONS:
//
//	sessions=<n>/clients=<c>  Store.Rotate of n live sessions by c clients
//	sessions=<n>/purge        PurgeExpired, per expired session (when be.Purge is set)
//	limit/clients=<c>         be.Limit by c clients (when set), after the sizes
//
// A rotation leaf spreads b.N rotations over c goroutines, each rotating
// sessions of its own (no two rotate one session at once), each rotation
// presenting the session's current refresh token and recording a new one,
// as the refresh endpoint does. ns/op is wall time over b.N; it reports
// rotations/s and the p50 and p99 latency of single rotations (p50-ns,
// p99-ns), plus be.Measure's metrics.
func Run(b *testing.B, be Backend) {
	sizes, err := intList(EnvSessions, "1000")
	if err != nil {
		b.Fatal(err)
	}
	clients, err := intList(EnvClients, "1,16,64")
	if err != nil {
		b.Fatal(err)
	}
	f := newFleet(slices.Max(sizes), slices.Max(clients))
	for _, n := range sizes {
		b.Run("sessions="+Label(n), func(b *testing.B) {
			if err := f.load(b, be, n); err != nil {
				b.Fatal(err)
			}
			for _, c := range clients {
				b.Run("clients="+strconv.Itoa(c), func(b *testing.B) { f.rotations(b, be, n, c) })
			}
			if be.Purge != nil {
				b.Run("purge", func(b *testing.B) { purge(b, be) })
			}
		})
	}
	if be.Limit != nil {
		b.Run("limit", func(b *testing.B) {
			for _, c := range clients {
				b.Run("clients="+strconv.Itoa(c), func(b *testing.B) {
					timed(b, be, c, "ops/s", func(ctx context.Context, _ int) error { return be.Limit(ctx) })
				})
			}
		})
	}
}

// Label names a size as the sub-benchmarks do: 10k, 1M, 2500.
func Label(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return strconv.Itoa(n/1_000_000) + "M"
	case n >= 1000 && n%1000 == 0:
		return strconv.Itoa(n/1000) + "k"
	}
	return strconv.Itoa(n)
}

// intList reads a comma-separated list of positive integers from the
// environment variable name, or def when it is unset.
func intList(name, def string) ([]int, error) {
	v := os.Getenv(name)
	if v == "" {
		v = def
	}
	var out []int
	for _, s := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%s=%q: want positive integers separated by commas", name, v)
		}
		out = append(out, n)
	}
	if !slices.IsSorted(out) {
		return nil, fmt.Errorf("%s=%q: want ascending values", name, v)
	}
	return out, nil
}

// fleet is the sessions loaded so far and their current refresh tokens,
// kept as bytes (32 bytes a session) so that the strings a store holds are
// its own: the memory store's heap growth then counts them.
type fleet struct {
	sid, jti [][16]byte
	n        int   // sessions loaded
	cursor   []int // per worker: how many of its sessions it has rotated
}

func newFleet(sessions, clients int) *fleet {
	return &fleet{
		sid:    make([][16]byte, sessions),
		jti:    make([][16]byte, sessions),
		cursor: make([]int, clients),
	}
}

// userOf is the user of session i: one session per user, as many users
// as sessions (each user's index of sessions then holds one).
func userOf(i int) string { return strconv.Itoa(i + 1) }

func randID(dst *[16]byte) {
	for i := 0; i < 16; i += 8 {
		v := rand.Uint64()
		for j := range 8 {
			dst[i+j] = byte(v >> (8 * j))
		}
	}
}

func (f *fleet) token(i int) jwtpair.Token {
	return jwtpair.Token{JTI: hex.EncodeToString(f.jti[i][:]), UserID: userOf(i), SessionID: hex.EncodeToString(f.sid[i][:])}
}

func (f *fleet) record(i int, exp time.Time) jwtpair.Record {
	t := f.token(i)
	return jwtpair.Record{JTI: t.JTI, UserID: t.UserID, SessionID: t.SessionID, ExpiresAt: exp}
}

// LoadResult is the JSON line a load appends to JWTPAIR_SCALE_OUT.
type LoadResult struct {
	Backend  string             `json:"backend"`
	Sessions int                `json:"sessions"` // live sessions after the load
	Loaded   int                `json:"loaded"`   // sessions this load added
	LoadNS   int64              `json:"load_ns"`  // the load's wall time
	Before   map[string]float64 `json:"before"`   // be.Stats before the load
	After    map[string]float64 `json:"after"`    // and after
}

// loadBatch is how many sessions one call of Backend.Load records.
const loadBatch = 20_000

// sampleSize is how many of the sessions just loaded Backend.Stats gets.
const sampleSize = 1000

// load brings the fleet to n live sessions, reading be.Stats around it.
func (f *fleet) load(b *testing.B, be Backend, n int) error {
	if n <= f.n {
		return nil
	}
	ctx := b.Context()
	res := LoadResult{Backend: be.Name, Sessions: n, Loaded: n - f.n}
	var err error
	if be.Stats != nil {
		if res.Before, err = be.Stats(ctx, nil); err != nil {
			return fmt.Errorf("stats before the load: %w", err)
		}
	}
	opts := IssueOptions()
	exp := time.Now().Add(RefreshTTL)
	start := time.Now()
	recs := make([]jwtpair.Record, 0, loadBatch)
	for lo := f.n; lo < n; lo += loadBatch {
		recs = recs[:0]
		for i := lo; i < min(lo+loadBatch, n); i++ {
			randID(&f.sid[i])
			randID(&f.jti[i])
			recs = append(recs, f.record(i, exp))
		}
		if be.Load != nil {
			err = be.Load(ctx, recs)
		} else {
			for _, rec := range recs {
				// The strings of each login are its own, as they are when
				// the Auth passes them.
				o := opts
				o.Client = map[string]string{}
				for k, v := range opts.Client {
					o.Client[strings.Clone(k)] = strings.Clone(v)
				}
				if _, err = be.Store.Issue(ctx, rec, o); err != nil {
					break
				}
			}
		}
		if err != nil {
			return fmt.Errorf("loading sessions %d to %d: %w", lo, lo+len(recs), err)
		}
	}
	res.LoadNS = int64(time.Since(start))
	sample := make([]jwtpair.Record, 0, sampleSize)
	for i := f.n; i < n && len(sample) < sampleSize; i += max(1, (n-f.n)/sampleSize) {
		sample = append(sample, f.record(i, exp))
	}
	f.n = n
	if be.Stats != nil {
		if res.After, err = be.Stats(ctx, sample); err != nil {
			return fmt.Errorf("stats after the load: %w", err)
		}
	}
	b.Logf("%s: %d sessions loaded in %v (%.0f/s); stats before %v, after %v", be.Name, res.Loaded,
		time.Duration(res.LoadNS).Round(time.Millisecond), float64(res.Loaded)/time.Duration(res.LoadNS).Seconds(), res.Before, res.After)
	return appendResult(res)
}

// appendResult appends res to JWTPAIR_SCALE_OUT, when set.
func appendResult(res LoadResult) error {
	path := os.Getenv(EnvOut)
	if path == "" {
		return nil
	}
	line, err := json.Marshal(res)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(append(line, '\n'))
	return errors.Join(err, f.Close())
}

// rotations is the leaf sessions=<n>/clients=<c>.
func (f *fleet) rotations(b *testing.B, be Backend, n, c int) {
	per := n / c // sessions per worker: worker w rotates sessions w, w+c, w+2c…
	if per == 0 {
		b.Skipf("%d clients for %d sessions", c, n)
	}
	exp := time.Now().Add(RefreshTTL)
	timed(b, be, c, "rotations/s", func(ctx context.Context, w int) error {
		i := w + c*(f.cursor[w]%per)
		f.cursor[w]++
		var next [16]byte
		randID(&next)
		err := be.Store.Rotate(ctx, f.token(i), jwtpair.Record{JTI: hex.EncodeToString(next[:]), ExpiresAt: exp}, jwtpair.RotateOptions{})
		if err == nil {
			f.jti[i] = next
		}
		return err
	})
}

// timed runs op as drive does and reports its rate (unit rate), its
// latency percentiles and be.Measure's metrics.
func timed(b *testing.B, be Backend, c int, rate string, op func(ctx context.Context, w int) error) {
	var after func(context.Context, int) (map[string]float64, error)
	if be.Measure != nil {
		var err error
		if after, err = be.Measure(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
	lat, elapsed := drive(b, c, op)
	report(b, lat, elapsed, rate)
	if after != nil && !b.Failed() {
		m, err := after(b.Context(), b.N)
		if err != nil {
			b.Fatal(err)
		}
		for unit, v := range m {
			b.ReportMetric(v, unit)
		}
	}
}

// drive runs b.N calls of op on c goroutines (op's second argument is the
// goroutine's number, 0 to c-1), each taking the next call as soon as its
// last one returned, and returns the latency of every call and the wall
// time of them all, which is what the benchmark's timer measures. The
// first error stops every goroutine and fails b.
func drive(b *testing.B, c int, op func(ctx context.Context, w int) error) ([]time.Duration, time.Duration) {
	ctx := b.Context()
	var left atomic.Int64
	left.Store(int64(b.N))
	lat := make([][]time.Duration, c)
	var once sync.Once
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range c {
		lat[w] = make([]time.Duration, 0, b.N/c+1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for left.Add(-1) >= 0 {
				t := time.Now()
				err := op(ctx, w)
				lat[w] = append(lat[w], time.Since(t))
				if err != nil {
					once.Do(func() { b.Errorf("client %d: %v", w, err) })
					left.Store(-1 << 62)
					return
				}
			}
		}()
	}
	b.ResetTimer()
	t := time.Now()
	close(start)
	wg.Wait()
	elapsed := time.Since(t)
	b.StopTimer()
	return slices.Concat(lat...), elapsed
}

// report reports the rate (unit rate, per second of wall time) and the p50
// and p99 of lat.
func report(b *testing.B, lat []time.Duration, elapsed time.Duration, rate string) {
	if len(lat) == 0 || b.Failed() {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), rate)
	b.ReportMetric(float64(Percentile(lat, 50)), "p50-ns")
	b.ReportMetric(float64(Percentile(lat, 99)), "p99-ns")
}

// Percentile returns the p-th percentile of sorted by nearest rank.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted)) + 0.9999999)
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// purge is the leaf sessions=<n>/purge: b.N expired sessions, each with its
// one token, are loaded (untimed), then one PurgeExpired (timed) must
// delete them. ns/op is the time per expired session (its token row and
// its session row).
func purge(b *testing.B, be Backend) {
	b.StopTimer()
	ctx := b.Context()
	exp := time.Now().Add(-time.Minute)
	recs := make([]jwtpair.Record, 0, min(b.N, loadBatch))
	var id [16]byte
	for done := 0; done < b.N; done += len(recs) {
		recs = recs[:0]
		for range min(b.N-done, loadBatch) {
			randID(&id)
			rec := jwtpair.Record{JTI: hex.EncodeToString(id[:]), ExpiresAt: exp}
			randID(&id)
			rec.SessionID = hex.EncodeToString(id[:])
			rec.UserID = "expired-" + rec.SessionID[:12]
			recs = append(recs, rec)
		}
		if err := be.Load(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	b.StartTimer()
	n, err := be.Purge(ctx)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if n != int64(b.N) {
		b.Fatalf("PurgeExpired deleted %d token records, want the %d expired", n, b.N)
	}
}
