package main

import (
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jwtpair/jwtpair"
)

// runConfig is one soak run's settings (the flags of soak run).
type runConfig struct {
	Backend          string        `json:"backend"`
	Example          string        `json:"-"`
	Out              string        `json:"-"`
	Duration         time.Duration `json:"duration"`
	Clients          int           `json:"clients"`
	Rate             int           `json:"rate"` // vegeta's protected requests per second
	Outages          int           `json:"outages"`
	Warmup           time.Duration `json:"warmup"` // until the first outage
	Down             time.Duration `json:"down"`   // how long the backend stays down
	Recovery         time.Duration `json:"recovery"`
	Grace            time.Duration `json:"grace"`
	AccessTTL        time.Duration `json:"access_ttl"`
	StoreTimeout     time.Duration `json:"store_timeout"`   // the instances' -store-timeout
	RequestTimeout   time.Duration `json:"request_timeout"` // the instances' -request-timeout
	AccessRevocation bool          `json:"access_revocation"`
	AccessBound      time.Duration `json:"access_bound"`
	RedisFsync       string        `json:"redis_fsync,omitempty"`
	Seed             uint64        `json:"seed"`
}

const refreshTTL = 2 * time.Hour // no refresh token expires during a run

// instanceRecord is what the soak measured of one instance.
type instanceRecord struct {
	PoolSockets bool          `json:"pool_sockets"` // the store's connections are sockets (not SQLite's files)
	FeedConns   int           `json:"feed_conns"`   // store connections the revocation feed's follower holds (backend.feedConns)
	Before      instStats     `json:"before"`       // before the traffic
	Peak        instStats     `json:"peak"`         // most goroutines seen during it
	After       instStats     `json:"after"`        // once the traffic stopped and settled
	CPU         time.Duration `json:"cpu"`
	Exit        string        `json:"exit,omitempty"` // why the exit on SIGTERM was not clean
}

// cpuRecord is the CPU time of each part of a run.
type cpuRecord struct {
	Soak      time.Duration `json:"soak"`
	Instances time.Duration `json:"instances"`
	Backend   time.Duration `json:"backend"`
}

// runRecord is run.json: everything the report and soak check need.
type runRecord struct {
	Backend   string           `json:"backend"`
	Describe  string           `json:"describe"`
	Config    runConfig        `json:"config"`
	Check     CheckConfig      `json:"check"`
	Started   time.Time        `json:"started"`
	Wall      time.Duration    `json:"wall"` // the whole run, setup and teardown included
	Outages   []Outage         `json:"outages"`
	Instances []instanceRecord `json:"instances"`
	CPU       cpuRecord        `json:"cpu"`
	Machine   string           `json:"machine"`
	// Load is the machine's load average (1, 5 and 15 minutes, from
	// /proc/loadavg) when the run began and when its traffic ended: other
	// work sharing the machine shows there.
	Load [2]string `json:"load"`
	// Nice is the soak's scheduling priority, which its instances and
	// backend inherit (0 unless it was started with nice).
	Nice    int      `json:"nice"`
	Figures *Figures `json:"figures"`
}

// Leak allowances: a goroutine or descriptor may come and go with the
// runtime (a timer, a pool's opener) without being a leak. The store
// connections the revocation feed's follower holds are the backend's
// (backend.feedConns, kept in each instanceRecord).
const (
	goroutineSlack = 3
	fdSlack        = 3
	settleFor      = 20 * time.Second
)

// newInstanceRecord is the record of an instance on b, with what the
// leak check allows it of b.
func newInstanceRecord(b backend, before instStats) instanceRecord {
	return instanceRecord{PoolSockets: b.networked(), FeedConns: b.feedConns(), Before: before, Peak: before}
}

// schedule returns when each outage begins, from the start of traffic:
// the first after the warmup, the last leaving the time to recover
// before the end.
func (c runConfig) schedule() ([]time.Duration, error) {
	tail := c.Down + c.Recovery + 2*time.Second
	last := c.Duration - tail
	if c.Outages < 0 || (c.Outages > 0 && c.Warmup > last) {
		return nil, fmt.Errorf("-duration %v leaves no room for %d outage(s): warmup %v + down %v + recovery %v + 2s",
			c.Duration, c.Outages, c.Warmup, c.Down, c.Recovery)
	}
	var at []time.Duration
	for i := range c.Outages {
		off := c.Warmup
		if c.Outages > 1 {
			off += (last - c.Warmup) * time.Duration(i) / time.Duration(c.Outages-1)
		}
		if i > 0 && off-at[i-1] < tail {
			return nil, fmt.Errorf("-duration %v: %d outages of %v do not fit (each needs %v)", c.Duration, c.Outages, c.Down, tail)
		}
		at = append(at, off)
	}
	return at, nil
}

func (c runConfig) checkConfig() CheckConfig {
	return CheckConfig{Instances: 2, Grace: c.Grace, MaxGraceReplays: jwtpair.MaxGraceReplays, Recovery: c.Recovery,
		AccessRevocation: c.AccessRevocation, AccessBound: c.AccessBound}
}

// soak runs one soak and writes requests.jsonl, run.json and the
// instances' logs into c.Out. It returns the record (with the figures)
// and an error only when the run could not be carried out.
func soak(c runConfig, stdout io.Writer) (*runRecord, error) {
	began := time.Now()
	at, err := c.schedule()
	if err != nil {
		return nil, err
	}
	b, err := newBackend(c.Backend, c.RedisFsync)
	if err != nil {
		return nil, err
	}
	if c.Outages > 0 {
		if err := b.checkDown(c.Down, c.StoreTimeout); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(c.Out, 0o755); err != nil {
		return nil, err
	}
	// The backend's files live outside c.Out: PostgreSQL's owner must be
	// able to reach them.
	bdir, err := os.MkdirTemp("", "soak-"+c.Backend+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(bdir)
	os.Chmod(bdir, 0o755)
	if err := b.start(bdir); err != nil {
		return nil, fmt.Errorf("%s: %w", c.Backend, err)
	}
	defer b.stop()
	rec := &runRecord{Backend: c.Backend, Describe: b.describe(), Config: c, Check: c.checkConfig(), Started: began,
		Machine: fmt.Sprintf("%s %s/%s, %d CPUs", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU()),
		Load:    [2]string{loadAverage(), ""}, Nice: niceness()}
	fmt.Fprintf(stdout, "soak %s: %s\n", c.Backend, rec.Describe)

	secret := make([]byte, 32)
	crand.Read(secret)
	args := []string{"-addr", "127.0.0.1:0", "-debug-addr", "127.0.0.1:0", "-store", b.storeURL(),
		"-access-ttl", c.AccessTTL.String(), "-refresh-ttl", refreshTTL.String(), "-reuse-grace", c.Grace.String(),
		"-store-timeout", c.StoreTimeout.String(), "-request-timeout", c.RequestTimeout.String(),
		"-throttle=false"} // every client logs in from 127.0.0.1, over and over: the soak measures the store, not the throttle
	for i := range c.Clients {
		args = append(args, "-user", fmt.Sprintf("u%d:pw%d", i, i))
	}
	var insts []*instance
	defer func() {
		for _, in := range insts {
			if in.cmd.ProcessState == nil {
				in.kill()
			}
		}
	}()
	for i := range 2 { // one after the other: the first creates the tables
		in, err := startInstance(i, c.Example, args, hex.EncodeToString(secret), c.Out)
		if err != nil {
			return nil, err
		}
		insts = append(insts, in)
	}
	debugClient := &http.Client{Timeout: 5 * time.Second}
	rec.Instances = make([]instanceRecord, len(insts))
	for i, in := range insts {
		before, err := in.stats(debugClient, bdir)
		if err != nil {
			return nil, fmt.Errorf("instance %d: %w", i, err)
		}
		rec.Instances[i] = newInstanceRecord(b, before)
	}

	log, err := newLogWriter(filepath.Join(c.Out, "requests.jsonl"))
	if err != nil {
		return nil, err
	}
	bases := []string{insts[0].base, insts[1].base}
	newClient := func() *http.Client {
		return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}}
	}
	chainClient, trafficClient := newClient(), newClient()
	pool := newTokenPool()
	caller := &caller{client: chainClient, bases: bases, log: log, tokens: pool}

	start := time.Now()
	deadline := start.Add(c.Duration)
	var wg sync.WaitGroup
	var groups atomic.Uint64
	for i := range c.Clients {
		ch := &chain{id: i, user: fmt.Sprintf("u%d", i), password: fmt.Sprintf("pw%d", i), c: caller,
			rng: rand.New(rand.NewPCG(c.Seed, uint64(i))), grace: c.Grace, deadline: deadline, groups: &groups}
		wg.Go(ch.run)
	}
	wg.Go(func() { attack(trafficClient, pool, bases, c.Rate, c.Duration, c.Seed, log) })

	var faultErr error
	faultsDone := make(chan struct{})
	go func() {
		defer close(faultsDone)
		for i, off := range at {
			time.Sleep(time.Until(start.Add(off)))
			var o Outage
			o.Down = time.Now().UnixNano()
			if faultErr = b.kill(); faultErr != nil {
				faultErr = fmt.Errorf("outage %d: breaking the backend: %w", i+1, faultErr)
				return
			}
			o.Killed = time.Now().UnixNano()
			time.Sleep(c.Down)
			o.Restart = time.Now().UnixNano()
			if faultErr = b.restart(); faultErr != nil {
				faultErr = fmt.Errorf("outage %d: restarting the backend: %w", i+1, faultErr)
				return
			}
			o.Up = time.Now().UnixNano()
			rec.Outages = append(rec.Outages, o)
			rel := func(t int64) float64 { return time.Duration(t - start.UnixNano()).Seconds() }
			fmt.Fprintf(stdout, "  outage %d: down at +%.1fs, dead from +%.1fs, restarted at +%.1fs, answering at +%.1fs\n",
				i+1, rel(o.Down), rel(o.Killed), rel(o.Restart), rel(o.Up))
		}
	}()
	sampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-sampling:
				return
			case <-t.C:
			}
			for i, in := range insts {
				if st, err := in.stats(debugClient, bdir); err == nil && st.Goroutines > rec.Instances[i].Peak.Goroutines {
					rec.Instances[i].Peak = st
				}
			}
		}
	}()
	wg.Wait()
	<-faultsDone
	close(sampling)
	<-sampled
	if err := log.close(); err != nil {
		return nil, err
	}
	if faultErr != nil {
		return nil, faultErr
	}
	rec.Load[1] = loadAverage()
	fmt.Fprintf(stdout, "  traffic done after %.1fs (load average %s)\n", time.Since(start).Seconds(), rec.Load[1])

	// Let the instances settle: our clients close their connections, the
	// servers' connection goroutines end, the pools give their
	// connections back.
	chainClient.CloseIdleConnections()
	trafficClient.CloseIdleConnections()
	for i, in := range insts {
		r := &rec.Instances[i]
		waitFor(settleFor, "settling", func() (bool, error) {
			st, err := in.stats(debugClient, bdir)
			if err != nil {
				return false, err
			}
			r.After = st
			return len(leaks(r)) == 0, nil
		})
	}
	debugClient.CloseIdleConnections()
	for i, in := range insts {
		if err := in.stop(); err != nil {
			rec.Instances[i].Exit = err.Error()
		}
		rec.Instances[i].CPU = in.cpu()
		rec.CPU.Instances += in.cpu()
	}
	b.stop()
	rec.CPU.Backend = b.cpu()
	keepLogs(bdir, c.Out) // the backend's own log, beside the instances'
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		rec.CPU.Soak = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}

	f, err := judge(c.Out, rec)
	if err != nil {
		return nil, err
	}
	rec.Figures = f
	rec.Wall = time.Since(began)
	return rec, writeRecord(c.Out, rec)
}

// judge reads requests.jsonl back and checks it, with the leak and exit
// rules over the instances' figures: the verdict comes from the files,
// as soak check gives it later.
func judge(dir string, rec *runRecord) (*Figures, error) {
	fh, err := os.Open(filepath.Join(dir, "requests.jsonl"))
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	entries, err := readLog(fh)
	if err != nil {
		return nil, fmt.Errorf("requests.jsonl: %w", err)
	}
	f := check(entries, rec.Outages, rec.Check)
	for i := range rec.Instances {
		r := &rec.Instances[i]
		for _, what := range leaks(r) {
			f.violate(ruleLeak, fmt.Sprintf("instance %d: %s", i, what))
		}
		if r.Exit != "" {
			f.violate(ruleExit, fmt.Sprintf("instance %d: %s", i, r.Exit))
		}
	}
	return f, nil
}

// leaks lists how an instance's figures after the run exceed those
// before it.
func leaks(r *instanceRecord) []string {
	var out []string
	b, a := r.Before, r.After
	if a.Goroutines > b.Goroutines+goroutineSlack {
		out = append(out, fmt.Sprintf("%d goroutines after the run, %d before", a.Goroutines, b.Goroutines))
	}
	poolGrowth := 0
	if a.Pool != nil {
		if a.Pool.InUse > r.FeedConns {
			out = append(out, fmt.Sprintf("%d store connections still in use (the feed's follower holds %d)", a.Pool.InUse, r.FeedConns))
		}
		if a.Pool.Max > 0 && a.Pool.Open > a.Pool.Max {
			out = append(out, fmt.Sprintf("%d store connections open, over the pool's %d", a.Pool.Open, a.Pool.Max))
		}
		if b.Pool != nil {
			poolGrowth = max(a.Pool.Open-b.Pool.Open, 0)
		}
	}
	// Sockets: the servers' connections with our clients are gone; the
	// pool's may have grown. Other descriptors (pipes, files) are back to
	// their number, but the store's files: SQLite keeps a closed
	// connection's descriptors of a database file open while another
	// connection of the process holds a lock on it (closing one would drop
	// the process's POSIX locks) and hands them to the next connection it
	// opens: as many as the most connections ever open at once, reused, not
	// a leak. They are reported, not judged.
	if !r.PoolSockets {
		poolGrowth = 0
	}
	if a.Sockets > b.Sockets+poolGrowth+fdSlack {
		out = append(out, fmt.Sprintf("%d sockets after the run, %d before (the pool grew by %d)", a.Sockets, b.Sockets, poolGrowth))
	}
	if other, was := a.FDs-a.Sockets-a.StoreFiles, b.FDs-b.Sockets-b.StoreFiles; other > was+fdSlack {
		out = append(out, fmt.Sprintf("%d descriptors (not sockets, not the store's files) after the run, %d before", other, was))
	}
	return out
}

// keepLogs copies the log files of the backend's directory (redis.log,
// postgres.log) into out, which outlives it; a copy that fails is skipped.
func keepLogs(dir, out string) {
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	for _, l := range logs {
		if b, err := os.ReadFile(l); err == nil {
			_ = os.WriteFile(filepath.Join(out, filepath.Base(l)), b, 0o644)
		}
	}
}

// loadAverage is the machine's load average over 1, 5 and 15 minutes, as
// /proc/loadavg gives it ("?" where it cannot be read).
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
}

// niceness is this process's nice value, from /proc/self/stat (0 where it
// cannot be read).
func niceness() int {
	if f, ok := procFields("/proc/self/stat"); ok && len(f) > 16 {
		n, _ := strconv.Atoi(f[16]) // field 19, counted from the state (field 3)
		return n
	}
	return 0
}

func writeRecord(dir string, rec *runRecord) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "run.json"), append(b, '\n'), 0o644)
}

func readRecord(dir string) (*runRecord, error) {
	b, err := os.ReadFile(filepath.Join(dir, "run.json"))
	if err != nil {
		return nil, err
	}
	var rec runRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("%s/run.json: %w", dir, err)
	}
	if rec.Figures == nil {
		return nil, errors.New(dir + "/run.json: no figures: the run did not complete")
	}
	return &rec, nil
}
