package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLeaks(t *testing.T) {
	before := instStats{Goroutines: 7, Pool: &poolStats{Open: 1, Idle: 1, Max: 20}, FDs: 14, Sockets: 4}
	redis, pg, sqlite := &redisBackend{}, &pgBackend{}, &sqliteBackend{}
	for _, tc := range []struct {
		name  string
		b     backend // what the record allows comes from it
		after func(*instStats)
		want  string // "" for no leak
	}{
		{"settled", redis, func(*instStats) {}, ""},
		{"goroutines within the slack", redis, func(s *instStats) { s.Goroutines += goroutineSlack }, ""},
		{"goroutines left", redis, func(s *instStats) { s.Goroutines += goroutineSlack + 1 }, "goroutines"},
		// The revocation feed's follower holds a connection on Redis (its
		// blocking read) and PostgreSQL (LISTEN); SQLite's feed polls, so
		// one connection in use there is a leak.
		{"Redis's feed connection in use", redis, func(s *instStats) { s.Pool = &poolStats{Open: 2, InUse: 1, Idle: 1, Max: 20} }, ""},
		{"PostgreSQL's feed connection in use", pg, func(s *instStats) { s.Pool = &poolStats{Open: 2, InUse: 1, Idle: 1, Max: 20} }, ""},
		{"connection in use beside Redis's feed", redis, func(s *instStats) { s.Pool = &poolStats{Open: 3, InUse: 2, Idle: 1, Max: 20} }, "2 store connections still in use"},
		{"connection in use beside PostgreSQL's feed", pg, func(s *instStats) { s.Pool = &poolStats{Open: 3, InUse: 2, Idle: 1, Max: 20} }, "2 store connections still in use"},
		{"SQLite's pool at rest", sqlite, func(s *instStats) { s.Pool = &poolStats{Open: 2, Idle: 2} }, ""},
		{"one SQLite connection in use", sqlite, func(s *instStats) { s.Pool = &poolStats{Open: 2, InUse: 1, Idle: 1} }, "1 store connections still in use (the feed's follower holds 0)"},
		{"pool over its bound", redis, func(s *instStats) { s.Pool = &poolStats{Open: 21, Idle: 21, Max: 20} }, "over the pool"},
		{"sockets of a grown pool", redis, func(s *instStats) {
			s.Pool = &poolStats{Open: 6, Idle: 6, Max: 20}
			s.Sockets += 5
			s.FDs += 5
		}, ""},
		{"sockets beyond the pool's growth", pg, func(s *instStats) {
			s.Pool = &poolStats{Open: 6, Idle: 6, Max: 20}
			s.Sockets += 5 + fdSlack + 1
			s.FDs += 5 + fdSlack + 1
		}, "sockets"},
		{"sockets left by clients (SQLite's pool holds no sockets)", sqlite, func(s *instStats) {
			s.Pool = &poolStats{Open: 6, Idle: 6}
			s.Sockets += fdSlack + 1
			s.FDs += fdSlack + 1
		}, "sockets"},
		{"SQLite's deferred closes", sqlite, func(s *instStats) {
			s.Pool = &poolStats{Open: 2, Idle: 2}
			s.StoreFiles += 12
			s.FDs += 12
		}, ""},
		{"other descriptors left", redis, func(s *instStats) { s.FDs += fdSlack + 1 }, "descriptors"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			after := before
			p := *before.Pool
			after.Pool = &p
			tc.after(&after)
			r := newInstanceRecord(tc.b, before)
			r.After = after
			got := leaks(&r)
			if tc.want == "" {
				assert.Empty(t, got)
				return
			}
			require.Len(t, got, 1, "%q", got)
			assert.Contains(t, got[0], tc.want)
		})
	}
	// The memory store has no pool.
	assert.Empty(t, leaks(&instanceRecord{Before: instStats{Goroutines: 5, FDs: 9}, After: instStats{Goroutines: 5, FDs: 9}}))
}

func TestSchedule(t *testing.T) {
	c := runConfig{Duration: 25 * time.Second, Warmup: 6 * time.Second, Down: 4 * time.Second, Recovery: 5 * time.Second, Outages: 1}
	at, err := c.schedule()
	require.NoError(t, err)
	assert.Equal(t, []time.Duration{6 * time.Second}, at)

	c.Duration, c.Outages = 10*time.Minute, 8
	at, err = c.schedule()
	require.NoError(t, err)
	require.Len(t, at, 8)
	assert.Equal(t, 6*time.Second, at[0])
	assert.Equal(t, c.Duration-c.Down-c.Recovery-2*time.Second, at[7], "the last one leaves time to recover")
	for i := 1; i < len(at); i++ {
		assert.GreaterOrEqual(t, at[i]-at[i-1], c.Down+c.Recovery+2*time.Second)
	}

	c.Duration, c.Outages = 12*time.Second, 1
	_, err = c.schedule()
	assert.ErrorContains(t, err, "no room")
	c.Duration, c.Outages = 40*time.Second, 5
	_, err = c.schedule()
	assert.ErrorContains(t, err, "do not fit")
	c.Outages = 0
	at, err = c.schedule()
	assert.NoError(t, err)
	assert.Empty(t, at)
}

// TestJudgeAndReport: judge reads the log back and adds the instances'
// leak and exit rules; soak check and soak report work from the files.
func TestJudgeAndReport(t *testing.T) {
	dir := t.TempDir()
	w, err := newLogWriter(filepath.Join(dir, "requests.jsonl"))
	require.NoError(t, err)
	for _, e := range cleanLog() {
		w.add(&e)
	}
	require.NoError(t, w.close())
	rec := &runRecord{Backend: "redis", Describe: "test", Check: testConfig(), Outages: []Outage{testOutage},
		Config: runConfig{Backend: "redis", Duration: 25 * time.Second, Clients: 8, Rate: 100, Outages: 1,
			Warmup: 6 * time.Second, Down: 4 * time.Second, Grace: 2 * time.Second, AccessTTL: 8 * time.Second},
		Instances: []instanceRecord{
			{Before: instStats{Goroutines: 7}, After: instStats{Goroutines: 7}},
			{Before: instStats{Goroutines: 7}, After: instStats{Goroutines: 40}, Exit: "exited with exit status 1"},
		}, Wall: time.Minute}
	f, err := judge(dir, rec)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{ruleLeak: 1, ruleExit: 1}, f.ByRule)
	rec.Figures = f
	require.NoError(t, writeRecord(dir, rec))

	var out bytes.Buffer
	code, err := dispatch([]string{"check", dir}, &out, &out)
	require.NoError(t, err)
	assert.Equal(t, 1, code, "violations: exit 1")
	assert.Contains(t, out.String(), "VIOLATION leak: instance 1: 40 goroutines after the run, 7 before")

	out.Reset()
	code, err = dispatch([]string{"check", "-check-access-revocation", dir}, &out, &out)
	require.NoError(t, err)
	assert.Equal(t, 1, code)
	assert.Contains(t, out.String(), "VIOLATION access-after-end", "issue 13's rule, applied to an existing run")

	md := filepath.Join(dir, "RELIABILITY.md")
	code, err = dispatch([]string{"report", "-o", md, "-command", "bash soak/run.sh short", dir}, &out, &out)
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	b, err := os.ReadFile(md)
	require.NoError(t, err)
	text := string(b)
	assert.Contains(t, text, "Written by `bash soak/run.sh short`")
	assert.Contains(t, text, "| redis | 25.0 s | 1 × 4.0 s | 22 |")
	for _, r := range rules {
		assert.Contains(t, text, "`"+r.name+"`")
	}
	assert.Contains(t, text, "**redis** `leak`: instance 1: 40 goroutines")
	assert.True(t, strings.Contains(text, "| redis | 1 | +6.0 s | 3.9 s |"), text)

	code, err = dispatch([]string{"nonsense"}, &out, &out)
	assert.Equal(t, 2, code)
	assert.Error(t, err)
	code, _ = dispatch([]string{"run", "-backend", "redis"}, &out, &out)
	assert.Equal(t, 2, code, "run without -example and -out")
}

// TestCheckDown: SQLite's outage (a held write lock) must outlast the
// instances' store timeout by more than a second, or no write fails in
// it; soak run refuses a shorter -down before it starts anything.
func TestCheckDown(t *testing.T) {
	sqlite := &sqliteBackend{}
	assert.NoError(t, sqlite.checkDown(8*time.Second, 5*time.Second), "run.sh's -down 8s with the default store timeout")
	assert.NoError(t, sqlite.checkDown(11*time.Second+time.Millisecond, 10*time.Second))
	assert.ErrorContains(t, sqlite.checkDown(11*time.Second, 10*time.Second), "want -down over 11s")
	assert.ErrorContains(t, sqlite.checkDown(8*time.Second, 10*time.Second), "-down 8s: SQLite's outage is a held write lock")
	for _, b := range []backend{&redisBackend{}, &pgBackend{}} {
		assert.NoError(t, b.checkDown(4*time.Second, 10*time.Second), "a dead server fails every call at once")
	}

	var out bytes.Buffer
	dir := filepath.Join(t.TempDir(), "run")
	code, err := dispatch([]string{"run", "-backend", "sqlite", "-example", "/nonexistent", "-out", dir,
		"-down", "8s", "-store-timeout", "10s"}, &out, &out)
	assert.Equal(t, 2, code)
	assert.ErrorContains(t, err, "want -down over 11s")
	assert.NoDirExists(t, dir, "refused before it starts anything")
	// Without outages there is nothing to refuse (this run then fails on
	// the missing example binary).
	code, err = dispatch([]string{"run", "-backend", "sqlite", "-example", "/nonexistent", "-out", dir,
		"-outages", "0", "-down", "8s", "-store-timeout", "10s"}, &out, &out)
	assert.Equal(t, 2, code)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "-down")
}
