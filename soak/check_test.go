package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The checker's tests: a clean log crafted by hand passes every rule, and
// each rule fires, alone, on a log with one bad line added.

const t0 = int64(1_700_000_000) * int64(time.Second)

// at is t0 plus ms milliseconds.
func at(ms int) int64 { return t0 + int64(ms)*int64(time.Millisecond) }

const expSec = 1_700_000_000 + 30 // every access token expires at 30 s

func login(inst, start, end int, sid, access, refresh string) Entry {
	return Entry{Kind: kindLogin, Inst: inst, Start: at(start), End: at(end), Status: 200,
		Family: sid, NewFamily: sid, Access: access, AccessExp: expSec, Refresh: refresh}
}

func refreshed(inst, start, end int, sid, token, access, refresh string) Entry {
	return Entry{Kind: kindRefresh, Inst: inst, Start: at(start), End: at(end), Status: 200,
		Family: sid, Token: token, NewFamily: sid, Access: access, AccessExp: expSec, Refresh: refresh}
}

func refused(kind string, inst, start, end int, sid, token string, status int, code, detail string) Entry {
	return Entry{Kind: kind, Inst: inst, Start: at(start), End: at(end), Status: status,
		Family: sid, Token: token, Code: code, Detail: detail}
}

func hello(inst, start, end int, token string, status int, detail string) Entry {
	return Entry{Kind: kindHello, Inst: inst, Start: at(start), End: at(end), Status: status, Token: token, Detail: detail}
}

func with(e Entry, f func(*Entry)) Entry { f(&e); return e }

var testOutage = Outage{Down: at(10000), Killed: at(10050), Restart: at(13900), Up: at(14000)}

func testConfig() CheckConfig {
	return CheckConfig{Instances: 2, Grace: 2 * time.Second, MaxGraceReplays: 2, Recovery: 5 * time.Second, AccessBound: time.Second}
}

// cleanLog is a run that keeps every rule: logins, refreshes (two at once
// with one token, inside the grace window), a logout and a refused replay
// of its session, a reuse refused and the session it ends, an outage with
// 503s and the recovery of both instances, expired and anonymous
// protected requests refused.
func cleanLog() []Entry {
	return []Entry{
		login(0, 0, 5, "S1", "a1", "r1"),
		hello(1, 10, 12, "a1", 200, ""),
		hello(0, 100, 101, "", 401, "Authentication credentials were not provided."),
		refreshed(1, 20, 25, "S1", "r1", "a2", "r2"),
		with(refreshed(0, 30, 36, "S1", "r2", "a3", "r3"), func(e *Entry) { e.Group, e.Probe = 1, probeConcurrent }),
		with(refreshed(1, 30, 37, "S1", "r2", "a3b", "r3b"), func(e *Entry) { e.Group, e.Probe = 1, probeConcurrent }),
		{Kind: kindLogout, Inst: 0, Start: at(40), End: at(45), Status: 200, Family: "S1", Token: "r3"},
		with(refused(kindRefresh, 1, 50, 52, "S1", "r3", 401, "token_not_valid", msgBlacklisted), func(e *Entry) { e.Probe = probeAfterEnd }),
		hello(0, 60, 61, "a3", 200, ""),     // within the access bound of the end
		hello(1, 2000, 2001, "a3", 200, ""), // beyond it: accepted today (issue 13 refuses it)

		login(1, 3000, 3005, "S2", "a4", "r4"),
		refreshed(0, 3010, 3015, "S2", "r4", "a5", "r5"),
		with(refused(kindRefresh, 1, 5100, 5105, "S2", "r4", 401, "token_not_valid", msgBlacklisted), func(e *Entry) { e.Probe = probeReplay }),
		with(refused(kindRefresh, 0, 5200, 5202, "S2", "r5", 401, "token_not_valid", msgBlacklisted), func(e *Entry) { e.Probe = probeAfterEnd }),

		login(0, 9000, 9005, "S3", "a6", "r6"),
		refused(kindLogin, 0, 10100, 10110, "", "", 503, codeUnavail, "Service temporarily unavailable, try again later."),
		hello(1, 11000, 11001, "a6", 200, ""), // access tokens need no store
		refused(kindRefresh, 1, 12000, 12010, "S3", "r6", 503, codeUnavail, ""),
		login(0, 14100, 14110, "S4", "a8", "r8"),
		login(1, 14200, 14210, "S5", "a9", "r9"),
		with(refreshed(0, 14300, 14305, "S3", "r6", "a7", "r7"), func(e *Entry) { e.Probe = probeRetry }),

		hello(0, 31000, 31001, "a1", 401, msgExpired),
	}
}

func TestCheckCleanLog(t *testing.T) {
	f := check(cleanLog(), []Outage{testOutage}, testConfig())
	require.Zero(t, f.ViolationCount, "%+v", f.Violations)
	assert.Equal(t, 22, f.Requests)
	assert.Equal(t, map[string]int{kindLogin: 5, kindRefresh: 5, kindLogout: 1, kindHello: 4}, f.OK)
	assert.Equal(t, map[string]int{kindLogin: 6, kindRefresh: 9, kindLogout: 1, kindHello: 6}, f.ByKind)
	assert.Equal(t, 2, f.Unavailable)
	assert.Equal(t, 1, f.Concurrent)
	assert.Equal(t, 2, f.ConcurrentOK)
	assert.Equal(t, 1, f.Retries)
	assert.Equal(t, 0, f.RetriesRefused)
	assert.Equal(t, 1, f.Replays)
	assert.Equal(t, 1, f.ReplaysRefused)
	assert.Equal(t, 2, f.AfterEnd)
	assert.Equal(t, 2, f.AfterEndRefused)
	assert.Equal(t, 2, f.SessionsEnded)
	assert.Equal(t, 1, f.SessionsByReuse)
	assert.Equal(t, 1, f.EndedAccess)
	assert.Equal(t, 1, f.EndedAccessOK)
	assert.Equal(t, 1, f.ExpiredPresented)
	require.Len(t, f.Outages, 1)
	o := f.Outages[0]
	assert.True(t, o.Survived)
	assert.Equal(t, []int64{at(14110), at(14210)}, o.FirstOK)
	assert.Equal(t, 210*time.Millisecond, time.Duration(o.Recovery))
	assert.Equal(t, 2, o.Unavailable)
	assert.Equal(t, 3, o.Requests)
}

// TestCheckRules: each bad line breaks its rule, and only it.
func TestCheckRules(t *testing.T) {
	graceZero := func(c *CheckConfig) { c.Grace = 0 }
	sessions := func(c *CheckConfig) { c.AccessRevocation = true }
	for _, tc := range []struct {
		name  string
		add   []Entry
		drop  string // a line of cleanLog to remove, by its kind+instance+start
		cfg   func(*CheckConfig)
		rules map[string]int
	}{
		{name: "connection reset",
			add:   []Entry{{Kind: kindRefresh, Inst: 1, Start: at(15000), End: at(15001), Family: "S3", Token: "r7", Err: "read: connection reset by peer"}},
			rules: map[string]int{ruleNoAnswer: 1}},
		{name: "500",
			add:   []Entry{refused(kindRefresh, 1, 15000, 15002, "S3", "r7", 500, "server_error", "A server error occurred.")},
			rules: map[string]int{ruleStatus: 1}},
		{name: "login refused",
			add:   []Entry{refused(kindLogin, 0, 15000, 15002, "", "", 401, "no_active_account", "")},
			rules: map[string]int{ruleStatus: 1}},
		{name: "503 with internal text",
			add:   []Entry{refused(kindRefresh, 0, 12500, 12510, "S3", "r6", 503, "", "dial tcp 127.0.0.1:6379: connection refused")},
			rules: map[string]int{rule503Body: 1}},
		{name: "503 with the backend up",
			add:   []Entry{refused(kindLogin, 0, 20000, 20005, "", "", 503, codeUnavail, "")},
			rules: map[string]int{rule503Outside: 1}},
		{name: "login served while the backend was down",
			add:   []Entry{login(1, 11000, 11005, "S9", "a90", "r90")},
			rules: map[string]int{ruleServedWhileDown: 1}},
		{name: "login served as the backend restarts",
			add:   []Entry{login(1, 13850, 13950, "S9", "a90", "r90")},
			rules: map[string]int{}},
		{name: "refresh token accepted after the grace window",
			add:   []Entry{refreshed(0, 5050, 5060, "S2", "r4", "a40", "r40")},
			rules: map[string]int{ruleRefreshReuse: 1}},
		{name: "refresh token accepted too often within the grace window",
			add: []Entry{
				with(refreshed(0, 31, 38, "S1", "r2", "a3c", "r3c"), func(e *Entry) { e.Group = 1 }),
				with(refreshed(1, 32, 39, "S1", "r2", "a3d", "r3d"), func(e *Entry) { e.Group = 1 }),
			},
			rules: map[string]int{ruleRefreshReuse: 1}},
		{name: "two concurrent successes without a grace window",
			cfg:   graceZero,
			rules: map[string]int{ruleRefreshReuse: 1}},
		{name: "refresh accepted after logout",
			add:   []Entry{refreshed(1, 100, 105, "S1", "r3b", "a30", "r30")},
			rules: map[string]int{ruleEndedAccepted: 1}},
		{name: "logout accepted after logout",
			add:   []Entry{{Kind: kindLogout, Inst: 1, Start: at(100), End: at(105), Status: 200, Family: "S1", Token: "r3b"}},
			rules: map[string]int{ruleEndedAccepted: 1}},
		{name: "refresh accepted after reuse detection",
			add:   []Entry{refreshed(1, 5300, 5305, "S2", "r5", "a50", "r50")},
			rules: map[string]int{ruleEndedAccepted: 1}},
		{name: "logout with a consumed token",
			add:   []Entry{{Kind: kindLogout, Inst: 1, Start: at(16000), End: at(16005), Status: 200, Family: "S3", Token: "r6"}},
			rules: map[string]int{ruleConsumedLogout: 1}},
		{name: "a handed-out refresh token forgotten",
			add:   []Entry{refused(kindRefresh, 0, 16000, 16002, "S3", "r7", 401, "token_not_valid", msgInvalid)},
			rules: map[string]int{ruleLostWrite: 1}},
		{name: "refresh refused as expired",
			add:   []Entry{refused(kindRefresh, 0, 16000, 16002, "S3", "r7", 401, "token_not_valid", msgExpired)},
			rules: map[string]int{ruleUnexpected401: 1}},
		{name: "expired access token accepted",
			add:   []Entry{hello(0, 30500, 30501, "a6", 200, "")},
			rules: map[string]int{ruleExpiredAccepted: 1}},
		{name: "no token accepted",
			add:   []Entry{hello(0, 200, 201, "", 200, "")},
			rules: map[string]int{ruleUnknownAccepted: 1}},
		{name: "unexpired access token refused",
			add:   []Entry{hello(1, 15000, 15001, "a7", 401, msgInvalid)},
			rules: map[string]int{ruleValidRefused: 1}},
		{name: "access token refused after its logout, without sessions",
			add: []Entry{
				{Kind: kindLogout, Inst: 0, Start: at(16000), End: at(16050), Status: 200, Family: "S4", Token: "r8"},
				hello(1, 16100, 16101, "a8", 401, msgBlacklisted),
			},
			rules: map[string]int{ruleValidRefused: 1}},
		{name: "access token refused while its logout is in flight (sessions)",
			cfg: sessions,
			add: []Entry{
				{Kind: kindLogout, Inst: 0, Start: at(16000), End: at(16050), Status: 200, Family: "S4", Token: "r8"},
				hello(1, 16020, 16030, "a8", 401, msgBlacklisted),
			},
			rules: map[string]int{ruleAccessAfterEnd: 1}}, // the baseline's a3 at 2 s
		{name: "access token of a live session refused (sessions)",
			cfg:   sessions,
			drop:  "hello 1 2000",
			add:   []Entry{hello(1, 15000, 15001, "a8", 401, msgBlacklisted)},
			rules: map[string]int{ruleValidRefused: 1}},
		{name: "ended session's access token accepted beyond the bound (sessions)",
			cfg:   sessions,
			rules: map[string]int{ruleAccessAfterEnd: 1}},
		{name: "ended session's access token accepted within the bound (sessions)",
			cfg:   sessions,
			drop:  "hello 1 2000",
			rules: map[string]int{}},
		{name: "refresh changed the session",
			add:   []Entry{with(refreshed(0, 16000, 16005, "S3", "r7", "a70", "r70"), func(e *Entry) { e.NewFamily = "S7" })},
			rules: map[string]int{ruleFamily: 1}},
		{name: "login reused a session",
			add:   []Entry{login(0, 16000, 16005, "S3", "a71", "r71")},
			rules: map[string]int{ruleFamily: 1}},
		{name: "an instance never recovered",
			drop:  "login 1 14200",
			rules: map[string]int{ruleRecovery: 1}},
		{name: "an instance recovered late",
			drop:  "login 1 14200",
			add:   []Entry{login(1, 19000, 19010, "S5", "a9", "r9")},
			rules: map[string]int{ruleRecovery: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log []Entry
			for _, e := range cleanLog() {
				if tc.drop != "" && tc.drop == fmt.Sprintf("%s %d %d", e.Kind, e.Inst, (e.Start-t0)/int64(time.Millisecond)) {
					continue
				}
				log = append(log, e)
			}
			if tc.drop != "" {
				require.Len(t, log, len(cleanLog())-1, "drop %q matches one line", tc.drop)
			}
			log = append(log, tc.add...)
			cfg := testConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			f := check(log, []Outage{testOutage}, cfg)
			assert.Equal(t, tc.rules, f.ByRule, "%+v", f.Violations)
			total := 0
			for _, n := range tc.rules {
				total += n
			}
			assert.Equal(t, total, f.ViolationCount)
			for _, v := range f.Violations {
				assert.NotEmpty(t, v.What)
				if v.Rule != ruleRecovery {
					assert.NotEmpty(t, v.Lines, "a violation shows its log lines")
				}
			}
		})
	}
}

// TestCheckLogOrder: the verdict does not depend on the order of the lines
// (the log is written as answers arrive).
func TestCheckLogOrder(t *testing.T) {
	log := append(cleanLog(), refreshed(1, 100, 105, "S1", "r3b", "a30", "r30"))
	reversed := make([]Entry, len(log))
	for i, e := range log {
		reversed[len(log)-1-i] = e
	}
	a := check(log, []Outage{testOutage}, testConfig())
	b := check(reversed, []Outage{testOutage}, testConfig())
	assert.Equal(t, a.ByRule, b.ByRule)
	assert.Equal(t, map[string]int{ruleEndedAccepted: 1}, b.ByRule)
}

// TestViolationExamplesCapped: every violation is counted, the first
// maxExamples of each rule are kept with their lines.
func TestViolationExamplesCapped(t *testing.T) {
	log := cleanLog()
	for i := range 3 * maxExamples {
		log = append(log, hello(0, 200+i, 201+i, "", 200, ""))
	}
	f := check(log, []Outage{testOutage}, testConfig())
	assert.Equal(t, 3*maxExamples, f.ByRule[ruleUnknownAccepted])
	assert.Equal(t, 3*maxExamples, f.ViolationCount)
	assert.Len(t, f.Violations, maxExamples)
}

func TestLogRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "requests.jsonl")
	w, err := newLogWriter(path)
	require.NoError(t, err)
	in := cleanLog()
	for i := range in {
		w.add(&in[i])
	}
	require.NoError(t, w.close())
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	out, err := readLog(bytes.NewReader(raw))
	require.NoError(t, err)
	require.Equal(t, in, out)
	for i, e := range out {
		assert.Equal(t, uint64(i+1), e.Seq)
	}
	_, err = readLog(bytes.NewReader([]byte("{\"seq\":1}\nnot json\n")))
	assert.ErrorContains(t, err, "line 2")
}

func TestRulesListed(t *testing.T) {
	names := map[string]bool{}
	for _, r := range rules {
		assert.False(t, names[r.name], "listed twice: %s", r.name)
		names[r.name] = true
		assert.NotEmpty(t, r.what)
	}
	want := []string{ruleNoAnswer, ruleStatus, rule503Body, rule503Outside, ruleServedWhileDown, ruleRefreshReuse,
		ruleEndedAccepted, ruleConsumedLogout, ruleLostWrite, ruleUnexpected401, ruleExpiredAccepted, ruleUnknownAccepted,
		ruleValidRefused, ruleAccessAfterEnd, ruleFamily, ruleRecovery, ruleLeak, ruleExit}
	assert.Len(t, names, len(want))
	for _, w := range want {
		assert.True(t, names[w], w)
	}
}
