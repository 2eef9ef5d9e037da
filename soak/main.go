// Command soak is jwtpair's soak under faults: two example instances on
// one shared backend (Redis, PostgreSQL or SQLite), N clients looping
// login → protected requests → refresh (some with one token at once) →
// logout, vegeta's attacker pacing protected requests over their tokens,
// for a fixed time, while the soak kills and restarts the backend. At the
// end it checks, from the clients' own log of every request, the rules
// listed in check.go (no refresh token used twice outside the grace
// window, nothing ended accepted after its end was acknowledged, every
// failure a 503 and only during an outage, recovery within a bound, no
// goroutine or connection leak), and writes the figures for
// RELIABILITY.md. make test runs its tests, never the soak; bash soak/run.sh runs it on
// every backend and regenerates RELIABILITY.md.
//
// Usage:
//
//	soak run -backend redis|postgres|sqlite -example PATH -out DIR [flags]
//	soak check [-check-access-revocation=false] [-access-bound 1s] DIR
//	soak report [-o RELIABILITY.md] [-command CMD] DIR...
//
// soak run starts its own backend on a free port of 127.0.0.1 (Redis
// with AOF, appendfsync always by default; a PostgreSQL cluster of its
// own; a SQLite file), the example binary twice with -debug-addr, and
// writes DIR/requests.jsonl (one line per request), DIR/run.json (the
// settings, the outages, the instances' figures, the verdict) and the
// instances' and the backend's logs. It exits 1 when a rule is broken. soak check judges a
// run's files again, with the sessions rule (access tokens of an ended
// session refused within the bound; -check-access-revocation=false leaves
// it out). soak report renders RELIABILITY.md from runs' directories.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/jwtpair/jwtpair"
)

func main() {
	code, err := dispatch(os.Args[1:], os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
	}
	os.Exit(code)
}

// dispatch runs a subcommand; it returns the exit code: 0, 1 when a rule
// is broken, 2 for a usage error or a run that could not be carried out.
func dispatch(args []string, stdout, stderr io.Writer) (int, error) {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: soak run|check|report … (go doc ./soak)")
		return 2, nil
	}
	var (
		f   *Figures
		err error
	)
	switch args[0] {
	case "run":
		f, err = runCmd(args[1:], stdout, stderr)
	case "check":
		f, err = checkCmd(args[1:], stdout, stderr)
	case "report":
		err = reportCmd(args[1:], stdout, stderr)
	default:
		return 2, fmt.Errorf("unknown subcommand %q: want run, check or report", args[0])
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0, nil
	case err != nil:
		return 2, err
	case f != nil && f.ViolationCount > 0:
		return 1, nil
	}
	return 0, nil
}

func runCmd(args []string, stdout, stderr io.Writer) (*Figures, error) {
	var c runConfig
	fs := flag.NewFlagSet("soak run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Backend, "backend", "", "redis | postgres | sqlite")
	fs.StringVar(&c.Example, "example", "", "the example server binary with the shared stores (go build -o PATH ./example/backends)")
	fs.StringVar(&c.Out, "out", "", "directory for requests.jsonl, run.json and the instances' and the backend's logs")
	fs.DurationVar(&c.Duration, "duration", 25*time.Second, "how long the clients run")
	fs.IntVar(&c.Clients, "clients", 8, "chain clients (each its own user)")
	fs.IntVar(&c.Rate, "rate", 100, "vegeta's protected requests per second")
	fs.IntVar(&c.Outages, "outages", 1, "backend outages, evenly spaced")
	fs.DurationVar(&c.Warmup, "warmup", 6*time.Second, "traffic before the first outage")
	fs.DurationVar(&c.Down, "down", 4*time.Second, "how long the backend stays down each time (SQLite: over -store-timeout + 1s, or no write fails)")
	fs.DurationVar(&c.Recovery, "recovery", 5*time.Second, "bound on the first store-backed 200 of each instance after the backend returns")
	fs.DurationVar(&c.Grace, "grace", 2*time.Second, "the instances' -reuse-grace")
	fs.DurationVar(&c.AccessTTL, "access-ttl", 8*time.Second, "the instances' -access-ttl (short: expired tokens are presented too)")
	fs.DurationVar(&c.StoreTimeout, "store-timeout", jwtpair.DefaultStoreTimeout, "the instances' -store-timeout: the deadline of each store call")
	fs.DurationVar(&c.RequestTimeout, "request-timeout", 10*time.Second, "the instances' -request-timeout: the deadline of each request to a store-backed route (below their 15 s write timeout)")
	fs.BoolVar(&c.AccessRevocation, "check-access-revocation", true, "enforce that an ended session's access tokens are refused within -access-bound (sessions, issue 13)")
	fs.DurationVar(&c.AccessBound, "access-bound", time.Second, "staleness bound of access-token revocation")
	fs.StringVar(&c.RedisFsync, "redis-fsync", "always", "Redis appendfsync: always | everysec | no")
	fs.Uint64Var(&c.Seed, "seed", 1, "seed of the clients' and the traffic's choices")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if c.Backend == "" || c.Example == "" || c.Out == "" || fs.NArg() > 0 {
		fs.Usage()
		return nil, errors.New("soak run needs -backend, -example and -out")
	}
	if c.Backend != "redis" {
		c.RedisFsync = ""
	}
	rec, err := soak(c, stdout)
	if err != nil {
		return nil, err
	}
	printVerdict(stdout, rec)
	return rec.Figures, nil
}

func checkCmd(args []string, stdout, stderr io.Writer) (*Figures, error) {
	fs := flag.NewFlagSet("soak check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	revocation := fs.Bool("check-access-revocation", true, "enforce issue 13's rule: an ended session's access tokens refused within -access-bound")
	bound := fs.Duration("access-bound", 0, "its staleness bound (default: the run's)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() != 1 {
		return nil, errors.New("soak check takes one run directory")
	}
	rec, err := readRecord(fs.Arg(0))
	if err != nil {
		return nil, err
	}
	if *revocation {
		rec.Check.AccessRevocation = true
	}
	if *bound > 0 {
		rec.Check.AccessBound = *bound
	}
	if rec.Figures, err = judge(fs.Arg(0), rec); err != nil {
		return nil, err
	}
	printVerdict(stdout, rec)
	return rec.Figures, nil
}

// printVerdict prints a run's figures and each violation with its lines.
func printVerdict(w io.Writer, rec *runRecord) {
	f := rec.Figures
	fmt.Fprintf(w, "%s: %d requests (%d logins, %d refreshes, %d logouts, %d protected answered 200), %d 503s, %d/%d outages survived, recovery %s, %d violations\n",
		rec.Backend, f.Requests, f.OK[kindLogin], f.OK[kindRefresh], f.OK[kindLogout], f.OK[kindHello], f.Unavailable,
		survived(f), len(f.Outages), worstRecovery(f), f.ViolationCount)
	for _, v := range f.Violations {
		fmt.Fprintf(w, "VIOLATION %s: %s\n", v.Rule, v.What)
		for _, e := range v.Lines {
			fmt.Fprintf(w, "    %s\n", e.String())
		}
	}
	if n := f.ViolationCount - len(f.Violations); n > 0 {
		fmt.Fprintf(w, "(%d more violations of the same rules not shown)\n", n)
	}
}

func survived(f *Figures) int {
	n := 0
	for _, o := range f.Outages {
		if o.Survived {
			n++
		}
	}
	return n
}

// worstRecovery is the slowest recovery of a run, "never" when an
// instance did not recover, "-" without outages.
func worstRecovery(f *Figures) string {
	if len(f.Outages) == 0 {
		return "-"
	}
	var worst time.Duration
	for _, o := range f.Outages {
		if o.Recovery < 0 {
			return "never"
		}
		worst = max(worst, time.Duration(o.Recovery))
	}
	return worst.Round(time.Millisecond).String()
}
