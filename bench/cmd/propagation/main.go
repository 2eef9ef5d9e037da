// Command propagation measures how soon ending a session reaches its access
// token on another instance. For each -store it starts two example servers,
// A and B, on that store (one JWTPAIR_SECRET, -sessions, -throttle=false so
// that hundreds of logins from one address pass, every other flag at its
// default: revocation staleness 1 s), and runs trials, one after another,
// each after a random pause (uniform below -spread, so that the trials do
// not fall into step with a feed that polls). A trial logs in on A; checks that B accepts the access token; ends the
// session on A (DELETE /api/sessions/{sid}/ with that token: 204); asks B
// with the token, every -poll, until it answers 401 "Token is blacklisted";
// and checks that B refuses the session's refresh token too. Its delay is
// the time from A's 204 (received) to B's first 401 (received): an upper
// bound, by at most one round trip and one -poll.
//
//	go build -o /tmp/example ./example/backends
//	go run ./bench/cmd/propagation -example /tmp/example -trials 200 -out propagation.jsonl \
//		-store "$JWTPAIR_REDIS_URL" -store "$JWTPAIR_POSTGRES_URL" -store sqlite:/tmp/propagation.db
//
// It writes one JSON line per store (bench/internal/propagation.Result:
// every trial's delay; bench/cmd/report computes the percentiles) and a
// summary to standard error. A run fails when a trial does not complete as
// above (B still accepts the token after -timeout, a status other than 200,
// 503 or 401, a refresh not refused); the command then exits 1, after
// writing every store's result.
package main

import (
	"bufio"
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/jwtpair/jwtpair"
	"github.com/jwtpair/jwtpair/bench/internal/propagation"
)

// storesFlag collects the repeated -store flags.
type storesFlag []string

func (s *storesFlag) String() string     { return strings.Join(*s, ",") }
func (s *storesFlag) Set(v string) error { *s = append(*s, v); return nil }

// options are a run's settings, for every store.
type options struct {
	example string        // the example server's binary
	trials  int           // recorded trials per store
	warmup  int           // trials run first, not recorded
	poll    time.Duration // pause between two requests to B
	spread  time.Duration // the random pause before each trial is below it
	timeout time.Duration // how long B may accept an ended session's token before the trial fails
	log     io.Writer     // progress and the summary
}

func main() {
	var stores storesFlag
	var o options
	out := flag.String("out", "-", "file to write the results to (JSON lines); - for standard output")
	flag.StringVar(&o.example, "example", "", "the example server's binary, with the shared stores (go build -o PATH ./example/backends)")
	flag.Var(&stores, "store", "a -store value of the example shared by A and B: redis://…, postgres://… or sqlite:PATH; repeatable")
	flag.IntVar(&o.trials, "trials", 200, "recorded trials per store")
	flag.IntVar(&o.warmup, "warmup", 5, "trials run first on each store and not recorded")
	flag.DurationVar(&o.poll, "poll", time.Millisecond, "pause between two requests to B")
	flag.DurationVar(&o.spread, "spread", 250*time.Millisecond, "each trial starts after a random pause below this, out of step with a polling feed (0: none)")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Second, "how long B may accept an ended session's access token before the trial fails")
	flag.Parse()
	o.log = os.Stderr
	if o.example == "" || len(stores) == 0 || o.trials < 1 || o.warmup < 0 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: propagation -example BIN -store URL [-store URL…] [-trials N] [-out FILE]")
		os.Exit(2)
	}
	w := io.Writer(os.Stdout)
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintln(os.Stderr, "propagation:", err)
			os.Exit(1)
		}
		defer f.Close()
		w = f
	}
	ctx := context.Background()
	failed := false
	enc := json.NewEncoder(w)
	for _, store := range stores {
		res := measure(ctx, o, store)
		if err := enc.Encode(res); err != nil {
			fmt.Fprintln(os.Stderr, "propagation:", err)
			os.Exit(1)
		}
		if !res.Passed() {
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}

// measure runs o's trials on store and returns the result, failed or not.
func measure(ctx context.Context, o options, store string) propagation.Result {
	start := time.Now()
	res := propagation.Result{
		Backend:   backend(store),
		Trials:    o.trials,
		Warmup:    o.warmup,
		Staleness: int64(jwtpair.DefaultRevocationStaleness),
		Poll:      int64(o.poll),
		Spread:    int64(o.spread),
	}
	res.Load[0] = loadAverage()
	err := runTrials(ctx, o, store, &res)
	res.Load[1] = loadAverage()
	res.Seconds = time.Since(start).Seconds()
	if err != nil {
		res.Error = err.Error()
		fmt.Fprintf(o.log, "propagation: %s: FAILED after %d trial(s): %v\n", res.Backend, len(res.Delays), err)
	} else {
		fmt.Fprintf(o.log, "propagation: %s: %d trials, p50 %v, p99 %v, max %v, %d 503(s), %.1fs\n", res.Backend, len(res.Delays),
			res.Percentile(50).Round(10*time.Microsecond), res.Percentile(99).Round(10*time.Microsecond),
			res.Percentile(100).Round(10*time.Microsecond), res.Unavailable, res.Seconds)
	}
	return res
}

// runTrials starts A and B on store and runs the trials into res.
func runTrials(ctx context.Context, o options, store string, res *propagation.Result) error {
	secret := make([]byte, 32)
	_, _ = crand.Read(secret)
	env := append(os.Environ(), "JWTPAIR_SECRET="+hex.EncodeToString(secret))
	args := []string{"-addr", "127.0.0.1:0", "-store", store, "-sessions", "-throttle=false"}
	// A first: on a fresh database it creates the tables B then finds.
	a, err := startInstance(o.example, env, args)
	if err != nil {
		return fmt.Errorf("starting A: %w", err)
	}
	defer a.stop()
	b, err := startInstance(o.example, env, args)
	if err != nil {
		return fmt.Errorf("starting B: %w", err)
	}
	defer b.stop()
	c := &client{http: &http.Client{Timeout: 10 * time.Second}}
	defer c.http.CloseIdleConnections()
	for i := range o.warmup + o.trials {
		if o.spread > 0 {
			time.Sleep(rand.N(o.spread))
		}
		t, err := trial(ctx, c, a.url, b.url, o)
		res.Unavailable += t.unavailable
		if err != nil {
			return fmt.Errorf("trial %d: %w", i+1, err)
		}
		if i >= o.warmup {
			res.Delays = append(res.Delays, int64(t.delay))
			res.Ends = append(res.Ends, int64(t.end))
			res.Polls = append(res.Polls, t.polls)
		}
	}
	return nil
}

// trialResult is what one trial measured.
type trialResult struct {
	delay, end  time.Duration
	polls       int
	unavailable int
}

// trial runs one trial (see the package doc) against A at aURL and B at
// bURL.
func trial(ctx context.Context, c *client, aURL, bURL string, o options) (trialResult, error) {
	var t trialResult
	status, body, err := c.do(ctx, http.MethodPost, aURL+"/api/token/", "", `{"username":"admin","password":"admin"}`)
	if err != nil || status != http.StatusOK {
		return t, unexpected("login on A", status, body, err)
	}
	var pair struct{ Access, Refresh string }
	if err := json.Unmarshal(body, &pair); err != nil || pair.Access == "" || pair.Refresh == "" {
		return t, fmt.Errorf("login on A: no token pair in %s", body)
	}
	sid, err := sessionID(pair.Access)
	if err != nil {
		return t, err
	}
	if status, body, err := c.do(ctx, http.MethodGet, bURL+"/hello/", pair.Access, ""); err != nil || status != http.StatusOK {
		return t, unexpected("B before the end", status, body, err)
	}

	sent := time.Now()
	status, body, err = c.do(ctx, http.MethodDelete, aURL+"/api/sessions/"+sid+"/", pair.Access, "")
	acked := time.Now()
	if err != nil || status != http.StatusNoContent {
		return t, unexpected("ending the session on A", status, body, err)
	}
	t.end = acked.Sub(sent)

	for refused := false; !refused; {
		status, body, err := c.do(ctx, http.MethodGet, bURL+"/hello/", pair.Access, "")
		at := time.Now()
		t.polls++
		switch {
		case err != nil:
			return t, fmt.Errorf("B after the end: %w", err)
		case status == http.StatusUnauthorized:
			if !bytes.Contains(body, []byte(`"Token is blacklisted"`)) {
				return t, unexpected("B after the end", status, body, nil)
			}
			t.delay, refused = at.Sub(acked), true
			continue
		case status == http.StatusServiceUnavailable:
			t.unavailable++ // fail closed: refused, though not yet for the right reason
		case status != http.StatusOK:
			return t, unexpected("B after the end", status, body, nil)
		}
		if at.Sub(acked) > o.timeout {
			return t, fmt.Errorf("B still accepts the ended session's access token %v after A acknowledged the end", at.Sub(acked).Round(time.Millisecond))
		}
		time.Sleep(o.poll)
	}

	status, body, err = c.do(ctx, http.MethodPost, bURL+"/api/token/refresh/", "", `{"refresh":"`+pair.Refresh+`"}`)
	if err != nil || status != http.StatusUnauthorized {
		return t, unexpected("the ended session's refresh on B (want 401)", status, body, err)
	}
	return t, nil
}

func unexpected(what string, status int, body []byte, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %d %s", what, status, bytes.TrimSpace(body))
}

// sessionID reads the sid claim of a token the example issued (its
// signature is the servers' business).
func sessionID(token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errors.New("login on A: the access token is not a compact JWS")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", fmt.Errorf("login on A: access token payload: %w", err)
	}
	var claims struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.SID == "" {
		return "", fmt.Errorf("login on A: no sid in the access token's claims %s", payload)
	}
	return claims.SID, nil
}

// client sends the trials' requests, over kept-alive connections.
type client struct{ http *http.Client }

// do sends a request (with the bearer token and the JSON body when not
// empty) and returns the answer's status and body.
func (c *client) do(ctx context.Context, method, url, bearer, body string) (int, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, b, err
}

// instance is a running example server.
type instance struct {
	url    string
	cmd    *exec.Cmd
	output *lockedBuffer // its standard error, for failures
	done   chan struct{} // closed when its standard output is read to the end
}

// startInstance starts the example binary and waits for it to listen.
func startInstance(bin string, env, args []string) (*instance, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	in := &instance{cmd: cmd, output: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stderr = in.output
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	listening := make(chan string, 1)
	go func() {
		defer close(in.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				select {
				case listening <- u:
				default:
				}
			}
		}
	}()
	select {
	case in.url = <-listening:
		return in, nil
	case <-in.done:
	case <-time.After(30 * time.Second):
	}
	in.stop()
	return nil, fmt.Errorf("the example did not print `listening on …`; its output:\n%s", in.output.String())
}

// stop interrupts the server (a clean shutdown) and waits for it; it is
// killed if it has not exited 10 seconds later.
func (in *instance) stop() {
	_ = in.cmd.Process.Signal(os.Interrupt)
	select {
	case <-in.done:
	case <-time.After(10 * time.Second):
		_ = in.cmd.Process.Kill()
		<-in.done
	}
	_ = in.cmd.Wait()
}

// lockedBuffer is a bytes.Buffer safe for the writer goroutine of os/exec.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// backend names the kind of store a -store value opens.
func backend(store string) string {
	scheme, _, _ := strings.Cut(store, ":")
	switch scheme {
	case "redis", "rediss":
		return "redis"
	case "postgres", "postgresql":
		return "postgres"
	}
	return scheme
}

// loadAverage returns the 1-minute load average, or "" when unknown.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}
