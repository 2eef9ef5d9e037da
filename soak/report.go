package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// reportCmd renders RELIABILITY.md from the run.json of each directory.
func reportCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("soak report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "-", "file to write (- for standard output)")
	command := fs.String("command", "bash soak/run.sh", "the command that regenerates the file, as the file states it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("soak report takes run directories")
	}
	var recs []*runRecord
	for _, dir := range fs.Args() {
		rec, err := readRecord(dir)
		if err != nil {
			return err
		}
		recs = append(recs, rec)
	}
	text := render(recs, *command)
	if *out == "-" {
		_, err := io.WriteString(stdout, text)
		return err
	}
	return os.WriteFile(*out, []byte(text), 0o644)
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

func ms(ns int64) string {
	if ns < 0 {
		return "never"
	}
	return fmt.Sprintf("%d ms", time.Duration(ns).Milliseconds())
}

// render is RELIABILITY.md for runs.
func render(recs []*runRecord, command string) string {
	var b bytes.Buffer
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	first := recs[0]
	c := first.Config
	if first.Nice != 0 {
		command = fmt.Sprintf("nice -n %d %s", first.Nice, command)
	}
	p("# Reliability: a soak under backend faults\n\n")
	p("Written by `%s` (soak/, its own module; `make test` runs its tests, never the soak) on %s, %s.\n", command,
		first.Started.UTC().Format("2006-01-02"), first.Machine)
	p("Every number below comes from that run; none is typed by hand. The long version is `bash soak/run.sh long`.\n\n")
	p("Per backend: two example instances (`go build ./example/backends`, one `JWTPAIR_SECRET`) share the backend; %d clients,\n", c.Clients)
	p("each its own user, loop login → 1–%d protected requests → refresh, %d–%d times → logout for the run's duration,\n",
		maxHellos, minRounds, minRounds+extraRounds-1)
	p("presenting each")
	p(" request to either instance at random. A refresh is sent alone (70%%), two or three at once with the same token\n")
	p("(24%%: the rotation race and the grace window's replays) or four at once (6%%: more replays than the window\n")
	p("forgives, reuse); after %.0f%% of rotations the consumed token is replayed after the grace window (reuse);\n", replayChance*100)
	p("after a logout its refresh and access tokens are presented again. Beside them vegeta's attacker (ConstantPacer,\n")
	p("%d/s) sends protected requests with a live session's access token (%.0f%%), an ended session's (%.0f%%) or none.\n",
		c.Rate, liveShare*100, endedShare*100)
	p("Instances: `-access-ttl %s -refresh-ttl %s -reuse-grace %s -store-timeout %s -request-timeout %s -throttle=false`\n",
		c.AccessTTL, refreshTTL, c.Grace, c.StoreTimeout, c.RequestTimeout)
	p("(every client logs in from 127.0.0.1, over and over: the soak measures the store, not the throttle, so the\n")
	p("limiter's calls are not made; `TestStoreTimeout` and sqlstore's `TestDeadlineEndsBusyWait` cover their deadline).\n")
	p("The backend goes down as the summary says, the first time after %s (how, per backend, under Outages).\n\n", secs(c.Warmup))

	p("## Summary\n\n")
	p("| backend | duration | outages × down | requests | logins | refreshes | logouts | protected 200 | 503s | outages survived | recovery (worst) | violations | leaks |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, r := range recs {
		f := r.Figures
		leak := "none"
		if n := f.ByRule[ruleLeak]; n > 0 {
			leak = fmt.Sprintf("**%d**", n)
		}
		p("| %s | %s | %d × %s | %d | %d | %d | %d | %d | %d | %d/%d | %s | %s | %s |\n", r.Backend, secs(r.Config.Duration),
			r.Config.Outages, secs(r.Config.Down), f.Requests, f.OK[kindLogin],
			f.OK[kindRefresh], f.OK[kindLogout], f.OK[kindHello], f.Unavailable, survived(f), len(f.Outages),
			worstRecovery(f), bold(f.ViolationCount), leak)
	}
	p("\nLogins, refreshes and logouts count 200s. Violations must be 0; each is listed below with its log lines.\n\n")

	p("## Invariants, checked from the clients' own logs\n\n")
	p("Every request is a line of `requests.jsonl` (its kind, instance, token ids, session, status, send and answer\n")
	p("times); `soak check DIR` judges a run's files again. The rules (soak/check.go, each proven by a crafted log in\n")
	p("soak/check_test.go):\n\n")
	p("| rule | what must hold |")
	for _, r := range recs {
		p(" %s |", r.Backend)
	}
	p("\n|---|---|")
	for range recs {
		p("---:|")
	}
	p("\n")
	for _, rule := range rules {
		p("| `%s` | %s |", rule.name, rule.what)
		for _, r := range recs {
			if rule.name == ruleAccessAfterEnd && !r.Check.AccessRevocation {
				p(" off |")
				continue
			}
			p(" %s |", bold(r.Figures.ByRule[rule.name]))
		}
		p("\n")
	}
	p("\nWhat the probes met:\n\n")
	p("| backend | concurrent groups (their 200s) | replays after the grace window, refused | refresh/logout after a session's end, refused | sessions ended (by reuse detection) | expired access tokens presented | store-backed 503s | refreshes retried after a 503, refused as reuse |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range recs {
		f := r.Figures
		p("| %s | %d (%d) | %d/%d | %d/%d | %d (%d) | %d | %d | %d/%d |\n", r.Backend, f.Concurrent, f.ConcurrentOK,
			f.ReplaysRefused, f.Replays, f.AfterEndRefused, f.AfterEnd, f.SessionsEnded, f.SessionsByReuse,
			f.ExpiredPresented, f.UnknownOutcome, f.RetriesRefused, f.Retries)
	}
	p("\nA refresh answered 503 may still have rotated: the store committed the rotation and then failed (the\n")
	p("server was killed before it answered, or stalled in fsync and then killed). The client holds only the\n")
	p("consumed token; presented again after the grace window it is reuse, and the session ends (fail closed,\n")
	p("the cost of an outage to the sessions caught in it). The last column counts those retries.\n")

	p("\n## Outages\n\n")
	p("Recovery is the time from the backend answering again to each instance's first store-backed 200 sent after\n")
	p("it (the slower instance); the bound is %s.\n\n", secs(first.Check.Recovery))
	p("| backend | outage | at | dead for | requests during | 503s | recovery, instance 0 / 1 | survived |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---|\n")
	for _, r := range recs {
		for i, o := range r.Figures.Outages {
			start := r.Figures.Outages[0].Down - r.Config.Warmup.Nanoseconds()
			var per []string
			for _, t := range o.FirstOK {
				if t == 0 {
					per = append(per, "never")
				} else {
					per = append(per, ms(t-o.Up))
				}
			}
			p("| %s | %d | +%s | %s | %d | %d | %s | %s |\n", r.Backend, i+1, secs(time.Duration(o.Down-start)),
				secs(time.Duration(o.Restart-o.Killed)), o.Requests, o.Unavailable, strings.Join(per, " / "), yesNo(o.Survived))
		}
	}
	p("\nWhat each backend is and how it goes down:\n\n")
	for _, r := range recs {
		p("- **%s**: %s.\n", r.Backend, r.Describe)
	}
	p("\nDurability. Redis runs with `appendfsync always`: every write is fsynced to the AOF before Redis answers, so\n")
	p("no acknowledged rotation or logout is lost even to a power cut. With `everysec` a killed *process* loses\n")
	p("nothing either (Redis writes the AOF before it answers; the fsync only guards against the machine's crash),\n")
	p("but a machine crash can lose up to about a second of acknowledged writes: a lost rotation revives the\n")
	p("consumed token (one more use for whoever holds it), a lost logout revives the session. The `lost-write`\n")
	p("rule would show the first kind; `soak run -redis-fsync everysec` runs the same soak that way.\n")
	p("PostgreSQL keeps its defaults (fsync, synchronous_commit on): with `synchronous_commit=off` an immediate\n")
	p("stop can lose the last commits the clients saw acknowledged (the test servers of .ci/services.sh turn both\n")
	p("off for speed; the soak does not).\n")

	p("\n## Leaks\n\n")
	p("Goroutines and the store pool from the example's `-debug-addr` (`/debug/stats`), descriptors from\n")
	p("`/proc/PID/fd`: before the traffic, at the peak, and after it stopped and the clients closed their\n")
	p("connections (allowed: %d goroutines and %d descriptors of noise, sockets for the pool's growth, and the\n", goroutineSlack, fdSlack)
	p("store connections in use the revocation feed's follower holds as long as the instance runs: %d for\n", (&pgBackend{}).feedConns())
	p("PostgreSQL, its LISTEN connection, %d for Redis, its blocking read, %d for SQLite, whose feed polls; no\n",
		(&redisBackend{}).feedConns(), (&sqliteBackend{}).feedConns())
	p("other). SQLite keeps a closed connection's descriptors of the database open while another connection of\n")
	p("the process holds a lock on it, and reuses them for the next connection it opens: bounded by the most\n")
	p("connections ever open at once, so the store files column is shown, not judged.\n\n")
	p("| backend | instance | goroutines before / peak / after | pool open (in use) before → after | sockets before → after | other descriptors before → after | store files before → after | exit on SIGTERM |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---|\n")
	for _, r := range recs {
		for i, in := range r.Instances {
			exit := "clean"
			if in.Exit != "" {
				exit = "**" + in.Exit + "**"
			}
			other := func(s instStats) int { return s.FDs - s.Sockets - s.StoreFiles }
			p("| %s | %d | %d / %d / %d | %s → %s | %d → %d | %d → %d | %d → %d | %s |\n", r.Backend, i, in.Before.Goroutines,
				in.Peak.Goroutines, in.After.Goroutines, pool(in.Before.Pool), pool(in.After.Pool), in.Before.Sockets, in.After.Sockets,
				other(in.Before), other(in.After), in.Before.StoreFiles, in.After.StoreFiles, exit)
		}
	}

	p("\n## Access tokens after logout\n\n")
	p("Every instance refuses an ended session's access tokens within the revocation staleness bound (1 s by\n")
	p("default), fed by the store's revocation feed, and answers 503 while it cannot confirm the feed is fresh.\n")
	p("The soak counts protected requests sent more than the bound after a session's end was acknowledged, with\n")
	p("that session's unexpired access token, and how many were answered 200: each such 200 is an\n")
	p("`access-after-end` violation (`soak run -check-access-revocation=false` and `soak check\n")
	p("-check-access-revocation=false DIR` leave the rule out; the 503 rules allow a feed outage's 503s on\n")
	p("protected requests, during an outage only).\n\n")
	p("| backend | bound | presented after end + bound | answered 200 | enforced |\n|---|---:|---:|---:|---|\n")
	for _, r := range recs {
		f := r.Figures
		p("| %s | %s | %d | %d | %s |\n", r.Backend, r.Check.AccessBound, f.EndedAccess, f.EndedAccessOK, yesNo(r.Check.AccessRevocation))
	}

	p("\n## Cost\n\n")
	p("Wall time of the whole run (backend start, traffic, settling, teardown) and CPU time of each part, on the\n")
	p("machine above, shared with other work while it ran: its load average (1, 5 and 15 minutes, from\n")
	p("/proc/loadavg) when the run began and when its traffic ended says how much, and nice the priority the\n")
	p("soak ran at, which its instances and backend inherit (0: the default; below 0: ahead of the other work).\n")
	p("On a machine saturated by other work, a backend or an instance that stalls for longer than the revocation\n")
	p("staleness bound makes protected requests fail closed, 503 outside any outage, which `503-outside-outage`\n")
	p("counts against the soak's faults: a soak on a shared machine runs ahead of that work.\n\n")
	p("| backend | wall | CPU: soak (clients, vegeta, checker) | instances | backend | average cores | load average, start → end | nice |\n|---|---:|---:|---:|---:|---:|---|---:|\n")
	for _, r := range recs {
		total := r.CPU.Soak + r.CPU.Instances + r.CPU.Backend
		p("| %s | %s | %s | %s | %s | %.2f | %s → %s | %d |\n", r.Backend, secs(r.Wall), secs(r.CPU.Soak), secs(r.CPU.Instances),
			secs(r.CPU.Backend), total.Seconds()/r.Wall.Seconds(), r.Load[0], r.Load[1], r.Nice)
	}

	p("\n## Violations\n\n")
	any := false
	for _, r := range recs {
		for _, v := range r.Figures.Violations {
			any = true
			p("- **%s** `%s`: %s\n", r.Backend, v.Rule, v.What)
			if len(v.Lines) > 0 {
				p("\n  ```\n")
				for _, e := range v.Lines {
					p("  %s\n", e.String())
				}
				p("  ```\n")
			}
		}
		if n := r.Figures.ViolationCount - len(r.Figures.Violations); n > 0 {
			p("- **%s**: %d more of the same rules (the first %d of each are shown).\n", r.Backend, n, maxExamples)
		}
	}
	if !any {
		p("None.\n")
	}
	return b.String()
}

func bold(n int) string {
	if n == 0 {
		return "0"
	}
	return fmt.Sprintf("**%d**", n)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func pool(p *poolStats) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%d (%d)", p.Open, p.InUse)
}
