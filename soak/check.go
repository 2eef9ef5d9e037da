package main

import (
	"fmt"
	"slices"
	"sort"
	"time"
)

// The checker: every rule below is judged from the clients' own log
// (requests.jsonl) and the times of the faults the soak drove (run.json),
// never from the servers' word. Each rule is a name in Figures.Violations.
const (
	ruleNoAnswer        = "no-answer"          // a request got no HTTP answer: connection reset, EOF, timeout
	ruleStatus          = "status"             // a status the flow never legitimately gets (500, 400, a login 401…)
	rule503Body         = "503-body"           // a 503 whose JSON code is not service_unavailable
	rule503Outside      = "503-outside-outage" // a 503 with the backend up (outside [down, up + recovery bound])
	ruleServedWhileDown = "served-while-down"  // a store-backed 200 sent and answered while the backend was dead
	ruleRefreshReuse    = "refresh-reuse"      // a refresh token used successfully twice outside the grace window, or too often within it
	ruleEndedAccepted   = "ended-accepted"     // a refresh or logout accepted for a session whose end was acknowledged before it was sent
	ruleConsumedLogout  = "consumed-logout"    // a logout accepted with a refresh token already consumed by a rotation
	ruleLostWrite       = "lost-write"         // the store forgot a refresh token it had acknowledged ("Token is invalid")
	ruleUnexpected401   = "unexpected-401"     // a refresh or logout refused for a reason other than blacklisting
	ruleExpiredAccepted = "expired-accepted"   // an access token accepted after its exp (+ leeway)
	ruleUnknownAccepted = "unknown-accepted"   // a protected request without a token of ours accepted
	ruleValidRefused    = "valid-refused"      // an unexpired access token refused (with sessions: of a session not ended)
	ruleAccessAfterEnd  = "access-after-end"   // (issue 13, -check-access-revocation) an ended session's access token accepted beyond the bound
	ruleFamily          = "family"             // a refresh that changed the session, or a login that reused one
	ruleRecovery        = "recovery"           // an instance without a store-backed 200 within the bound after the backend came back
	ruleLeak            = "leak"               // goroutines, store connections or descriptors not back to their level before the run
	ruleExit            = "exit"               // an instance that did not exit cleanly on SIGTERM
)

// rules lists every rule, in the order RELIABILITY.md shows them.
var rules = []struct{ name, what string }{
	{ruleNoAnswer, "every request gets an HTTP answer: no connection reset, EOF or timeout from the app"},
	{ruleStatus, "statuses are those of the flow: login 200/503; refresh, logout and protected requests 200/401/503; never 500"},
	{rule503Body, "every 503 is the documented JSON, code service_unavailable"},
	{rule503Outside, "503 only while the backend is down: between the fault and the recovery bound after it returns"},
	{ruleServedWhileDown, "no store-backed request answered 200 while the backend was dead (no fail-open)"},
	{ruleRefreshReuse, "no refresh token used successfully twice outside the reuse grace window, nor more than 1 + MaxGraceReplays times within it"},
	{ruleEndedAccepted, "no refresh or logout accepted for a session whose end (logout 200, or a refresh/logout answered \"Token is blacklisted\") was acknowledged before it was sent"},
	{ruleConsumedLogout, "no logout accepted with a refresh token already consumed by a rotation"},
	{ruleLostWrite, "no refresh token that a 200 handed out is later unknown to the store (an acknowledged write lost)"},
	{ruleUnexpected401, "refresh and logout are refused only as blacklisted"},
	{ruleExpiredAccepted, "no access token accepted after its exp plus the leeway"},
	{ruleUnknownAccepted, "no protected request without one of our tokens accepted"},
	{ruleValidRefused, "no unexpired access token refused, unless a request that may have ended its session was sent before (without -check-access-revocation: none at all)"},
	{ruleAccessAfterEnd, "no access token of an ended session accepted more than the bound after the end was acknowledged (-check-access-revocation, on by default)"},
	{ruleFamily, "a refresh keeps the session (sid); every login starts a new one"},
	{ruleRecovery, "after each outage, every instance answers a store-backed request 200 within the recovery bound of the backend's return"},
	{ruleLeak, "goroutines, store connections in use and file descriptors back to their level before the run"},
	{ruleExit, "every instance exits cleanly on SIGTERM"},
}

// Outage is one backend fault as the soak drove it (Unix nanoseconds).
type Outage struct {
	Down    int64 `json:"down"`    // the fault began (just before the kill or the lock)
	Killed  int64 `json:"killed"`  // the backend was dead (or locked) from here…
	Restart int64 `json:"restart"` // … until its restart began (it may answer from here)
	Up      int64 `json:"up"`      // the restart returned: it answers from here
}

// CheckConfig is what the rules need to know of the run.
type CheckConfig struct {
	Instances        int           `json:"instances"`
	Grace            time.Duration `json:"grace"`             // the instances' -reuse-grace
	MaxGraceReplays  int           `json:"max_grace_replays"` // jwtpair.MaxGraceReplays
	Leeway           time.Duration `json:"leeway"`            // the instances' exp leeway
	Recovery         time.Duration `json:"recovery"`          // bound on the first store-backed 200 after the backend returns
	AccessRevocation bool          `json:"access_revocation"` // enforce ruleAccessAfterEnd (sessions, issue 13)
	AccessBound      time.Duration `json:"access_bound"`      // its staleness bound
}

// clockSlack absorbs the rounding of the stores' clocks (SQLite's is in
// milliseconds) and of exp (whole seconds, compared as such).
const clockSlack = time.Millisecond

// Violation is one broken rule with the log lines that show it.
type Violation struct {
	Rule  string  `json:"rule"`
	What  string  `json:"what"`
	Lines []Entry `json:"lines,omitempty"`
}

// OutageFigures is what the log says of one outage.
type OutageFigures struct {
	Outage
	Requests    int     `json:"requests"`    // requests overlapping [down, up]
	Unavailable int     `json:"unavailable"` // 503s overlapping [down, up + bound]
	FirstOK     []int64 `json:"first_ok"`    // per instance: the end of its first store-backed 200 sent at or after up; 0 for none
	Recovery    int64   `json:"recovery"`    // ns: the slowest instance's FirstOK − up; -1 when one never recovered
	Survived    bool    `json:"survived"`    // every instance recovered within the bound
}

// Figures are the counts of a run and its violations.
type Figures struct {
	Requests    int            `json:"requests"`
	ByKind      map[string]int `json:"by_kind"`
	OK          map[string]int `json:"ok"` // 200s by kind
	Unavailable int            `json:"unavailable"`

	Concurrent       int `json:"concurrent"`        // groups of ≥ 2 refreshes with one token
	ConcurrentOK     int `json:"concurrent_ok"`     // their 200s
	Retries          int `json:"retries"`           // refreshes presented again after a 503 (or no answer)
	RetriesRefused   int `json:"retries_refused"`   // … answered 401: the first one had rotated (reuse)
	Replays          int `json:"replays"`           // replays of consumed tokens after the grace window
	ReplaysRefused   int `json:"replays_refused"`   // … answered 401
	AfterEnd         int `json:"after_end"`         // refresh or logout with a token of an ended session, sent after the end
	AfterEndRefused  int `json:"after_end_refused"` // … answered 401
	EndedAccess      int `json:"ended_access"`      // protected requests with an ended session's access token, sent beyond the bound after the end
	EndedAccessOK    int `json:"ended_access_ok"`   // … answered 200 (issue 13 refuses them)
	SessionsEnded    int `json:"sessions_ended"`    // sessions with an acknowledged end
	SessionsByReuse  int `json:"sessions_by_reuse"` // of which ended by reuse detection, not logout
	ExpiredPresented int `json:"expired_presented"` // protected requests with an expired access token
	UnknownOutcome   int `json:"unknown_outcome"`   // store-backed requests answered 503
	ViolationCount   int `json:"violation_count"`   // every violation, counted

	Outages    []OutageFigures `json:"outages"`
	Violations []Violation     `json:"violations"` // the first maxExamples of each rule
	ByRule     map[string]int  `json:"by_rule"`
}

const maxExamples = 10

func (f *Figures) violate(rule, what string, lines ...*Entry) {
	f.ViolationCount++
	f.ByRule[rule]++
	if f.ByRule[rule] > maxExamples {
		return
	}
	v := Violation{Rule: rule, What: what}
	for _, e := range lines {
		if e != nil {
			v.Lines = append(v.Lines, *e)
		}
	}
	f.Violations = append(f.Violations, v)
}

// check judges a run's log against every rule but ruleLeak and ruleExit
// (which need the instances' figures; see run.go).
func check(entries []Entry, outages []Outage, cfg CheckConfig) *Figures {
	f := &Figures{ByKind: map[string]int{}, OK: map[string]int{}, ByRule: map[string]int{}}
	es := make([]*Entry, len(entries))
	for i := range entries {
		es[i] = &entries[i]
	}
	sort.SliceStable(es, func(i, j int) bool { return es[i].Start < es[j].Start })

	// What the 200s handed out, and how each session ended.
	access := map[string]*Entry{}  // access jti → the 200 that handed it out
	refresh := map[string]*Entry{} // refresh jti → the 200 that handed it out
	logins := map[string]*Entry{}  // sid → its login
	ended := map[string]*Entry{}   // sid → the first acknowledgement of its end
	used := map[string][]*Entry{}  // refresh jti → the refreshes that got 200 with it
	byReuse := map[string]bool{}
	for _, e := range es {
		if e.Status == 200 {
			if e.Access != "" {
				access[e.Access] = e
			}
			if e.Refresh != "" {
				refresh[e.Refresh] = e
			}
			if e.Kind == kindRefresh {
				used[e.Token] = append(used[e.Token], e)
			}
		}
		var ends bool
		switch {
		case e.Kind == kindLogout && e.Status == 200:
			ends = true
		case (e.Kind == kindRefresh || e.Kind == kindLogout) && e.Status == 401 && e.Detail == msgBlacklisted:
			// Blacklisted: the token was consumed (its presentation is
			// reuse, which revokes the family) or its family revoked.
			ends = true
		}
		if ends && e.Family != "" {
			if prev, ok := ended[e.Family]; !ok || e.End < prev.End {
				ended[e.Family] = e
				byReuse[e.Family] = e.Kind == kindRefresh
			}
		}
	}
	f.SessionsEnded = len(ended)
	for _, r := range byReuse {
		if r {
			f.SessionsByReuse++
		}
	}

	// possibleEnd reports whether a request of session sid that might end
	// it (a logout, or a refresh not answered 200) started before t.
	endCandidates := map[string][]*Entry{}
	for _, e := range es {
		if e.Family != "" && (e.Kind == kindLogout || (e.Kind == kindRefresh && e.Status != 200)) {
			endCandidates[e.Family] = append(endCandidates[e.Family], e)
		}
	}
	possibleEnd := func(sid string, t int64) bool {
		for _, c := range endCandidates[sid] {
			if c.Start < t {
				return true
			}
		}
		return false
	}

	groups := map[uint64]bool{}
	for _, e := range es {
		f.Requests++
		f.ByKind[e.Kind]++
		if e.Status == 200 {
			f.OK[e.Kind]++
		}
		f.checkAnswer(e, outages, cfg)
		if e.Group != 0 {
			if !groups[e.Group] {
				groups[e.Group] = true
				f.Concurrent++
			}
			if e.Status == 200 {
				f.ConcurrentOK++
			}
		}
		switch e.Kind {
		case kindLogin:
			if e.Status == 200 {
				if prev := logins[e.NewFamily]; prev != nil {
					f.violate(ruleFamily, "a login handed out a session that exists", prev, e)
				}
				logins[e.NewFamily] = e
			}
		case kindRefresh, kindLogout:
			f.checkRefreshOrLogout(e, ended[e.Family], refresh, used)
		case kindHello:
			f.checkHello(e, access, ended, possibleEnd, cfg)
		}
	}
	f.checkReuse(used, cfg)
	f.checkOutages(es, outages, cfg)
	return f
}

// Answers of the token endpoints and the middleware (errors.go in the
// root package).
const (
	msgBlacklisted = "Token is blacklisted"
	msgInvalid     = "Token is invalid"
	msgExpired     = "Token is expired"
	codeUnavail    = "service_unavailable"
)

// checkAnswer: an HTTP answer, of a status the flow allows, 503 only in
// an outage and in its documented shape, no store-backed 200 while the
// backend is dead.
func (f *Figures) checkAnswer(e *Entry, outages []Outage, cfg CheckConfig) {
	if e.Status == 0 {
		f.violate(ruleNoAnswer, fmt.Sprintf("no HTTP answer, after %v: %s", time.Duration(e.End-e.Start).Round(time.Millisecond), e.Err), e)
		return
	}
	allowed := []int{200, 401, 503}
	if e.Kind == kindLogin {
		allowed = []int{200, 503}
	}
	if !slices.Contains(allowed, e.Status) {
		f.violate(ruleStatus, fmt.Sprintf("%s answered %d", e.Kind, e.Status), e)
	}
	if e.Status == 503 {
		f.Unavailable++
		if e.storeBacked() {
			f.UnknownOutcome++
		}
		if e.Code != codeUnavail {
			f.violate(rule503Body, "503 with code "+e.Code, e)
		}
		in := false
		for _, o := range outages {
			if e.End >= o.Down && e.Start <= o.Up+int64(cfg.Recovery) {
				in = true
			}
		}
		if !in {
			f.violate(rule503Outside, "503 with the backend up", e)
		}
	}
	if e.Status == 200 && e.storeBacked() {
		for _, o := range outages {
			if e.Start >= o.Killed && e.End <= o.Restart {
				f.violate(ruleServedWhileDown, e.Kind+" answered 200 while the backend was down", e)
			}
		}
	}
}

// checkRefreshOrLogout: nothing accepted for an ended session, no logout
// with a consumed token, refusals only as blacklisted, no token of ours
// forgotten, and a refresh keeps its session.
func (f *Figures) checkRefreshOrLogout(e, end *Entry, refresh map[string]*Entry, used map[string][]*Entry) {
	if e.Probe == probeRetry {
		f.Retries++
		if e.Status == 401 {
			f.RetriesRefused++
		}
	}
	if e.Probe == probeReplay {
		f.Replays++
		if e.Status == 401 {
			f.ReplaysRefused++
		}
	}
	if end != nil && e.Start > end.End {
		f.AfterEnd++
		if e.Status == 401 {
			f.AfterEndRefused++
		}
		if e.Status == 200 {
			f.violate(ruleEndedAccepted, e.Kind+" accepted for a session ended before it was sent", end, e)
		}
	}
	if e.Kind == kindLogout && e.Status == 200 {
		for _, u := range used[e.Token] {
			if u.End < e.Start {
				f.violate(ruleConsumedLogout, "logout accepted a refresh token consumed before", u, e)
				break
			}
		}
	}
	if e.Status == 401 && e.Detail != msgBlacklisted {
		if minted := refresh[e.Token]; minted != nil && e.Detail == msgInvalid {
			f.violate(ruleLostWrite, "a refresh token handed out by a 200 is unknown to the store", minted, e)
		} else {
			f.violate(ruleUnexpected401, e.Kind+" refused: "+e.Detail, e)
		}
	}
	if e.Kind == kindRefresh && e.Status == 200 && e.NewFamily != e.Family {
		f.violate(ruleFamily, "a refresh moved the token to another session", e)
	}
}

// checkHello: a protected request with an access token.
func (f *Figures) checkHello(e *Entry, access map[string]*Entry, ended map[string]*Entry, possibleEnd func(string, int64) bool, cfg CheckConfig) {
	minted := access[e.Token]
	if minted == nil {
		if e.Status == 200 {
			f.violate(ruleUnknownAccepted, "a protected request without one of our tokens accepted", e)
		}
		return
	}
	exp := time.Unix(minted.AccessExp, 0).Add(cfg.Leeway).UnixNano()
	sid := minted.NewFamily
	expired := e.Start > exp+int64(clockSlack)
	if expired {
		f.ExpiredPresented++
		if e.Status == 200 {
			f.violate(ruleExpiredAccepted, "an access token accepted after its exp", minted, e)
		}
	}
	end := ended[sid]
	if end != nil && e.Start > end.End+int64(cfg.AccessBound) && !expired {
		f.EndedAccess++
		if e.Status == 200 {
			f.EndedAccessOK++
			if cfg.AccessRevocation {
				f.violate(ruleAccessAfterEnd, fmt.Sprintf("an access token accepted %v after its session's end was acknowledged (bound %v)",
					time.Duration(e.Start-end.End).Round(time.Millisecond), cfg.AccessBound), end, e)
			}
		}
	}
	// Refusing an unexpired access token: only once a request that may
	// have ended its session (a logout, a refresh not answered 200) was
	// sent before the refusal arrived; never at all without the sessions
	// rule (-check-access-revocation=false judges a server whose access
	// tokens are stateless until their exp).
	if e.Status == 401 && e.End < time.Unix(minted.AccessExp, 0).UnixNano() &&
		(!cfg.AccessRevocation || !possibleEnd(sid, e.End)) {
		f.violate(ruleValidRefused, "an unexpired access token refused: "+e.Detail, minted, e)
	}
}

// checkReuse: each refresh token succeeds at most 1 + MaxGraceReplays
// times (once without a grace window), every success after the first no
// later than the grace window after the consumption.
func (f *Figures) checkReuse(used map[string][]*Entry, cfg CheckConfig) {
	allowed := 1
	if cfg.Grace > 0 {
		allowed += cfg.MaxGraceReplays
	}
	jtis := make([]string, 0, len(used))
	for jti := range used {
		jtis = append(jtis, jti)
	}
	sort.Strings(jtis)
	for _, jti := range jtis {
		oks := used[jti]
		if len(oks) < 2 {
			continue
		}
		if len(oks) > allowed {
			f.violate(ruleRefreshReuse, fmt.Sprintf("one refresh token accepted %d times (at most %d)", len(oks), allowed), oks...)
		}
		// The consumption happened before the first of these answers
		// arrived; a success sent more than the grace after that came
		// from a replay the store judged outside its window.
		consumedBy := oks[0].End
		for _, o := range oks {
			consumedBy = min(consumedBy, o.End)
		}
		for _, o := range oks {
			if late := time.Duration(o.Start - consumedBy); late > cfg.Grace+clockSlack {
				f.violate(ruleRefreshReuse, fmt.Sprintf("a refresh token accepted again %v after its consumption (grace %v)",
					late.Round(time.Millisecond), cfg.Grace), oks...)
				break
			}
		}
	}
}

// checkOutages: the figures of each outage and the recovery rule.
func (f *Figures) checkOutages(es []*Entry, outages []Outage, cfg CheckConfig) {
	for i, o := range outages {
		of := OutageFigures{Outage: o, FirstOK: make([]int64, cfg.Instances)}
		next := int64(1<<63 - 1)
		if i+1 < len(outages) {
			next = outages[i+1].Down
		}
		for _, e := range es {
			if e.End >= o.Down && e.Start <= o.Up {
				of.Requests++
			}
			if e.Status == 503 && e.End >= o.Down && e.Start <= o.Up+int64(cfg.Recovery) {
				of.Unavailable++
			}
			if e.Status == 200 && e.storeBacked() && e.Start >= o.Up && e.End < next && e.Inst < cfg.Instances {
				if of.FirstOK[e.Inst] == 0 || e.End < of.FirstOK[e.Inst] {
					of.FirstOK[e.Inst] = e.End
				}
			}
		}
		of.Survived = true
		for inst, t := range of.FirstOK {
			rec := t - o.Up
			if t == 0 {
				of.Survived, of.Recovery = false, -1
				f.violate(ruleRecovery, fmt.Sprintf("outage %d: instance %d answered no store-backed request 200 after the backend returned", i+1, inst))
				continue
			}
			if of.Recovery >= 0 {
				of.Recovery = max(of.Recovery, rec)
			}
			if time.Duration(rec) > cfg.Recovery {
				of.Survived = false
				f.violate(ruleRecovery, fmt.Sprintf("outage %d: instance %d recovered %v after the backend returned (bound %v)",
					i+1, inst, time.Duration(rec).Round(time.Millisecond), cfg.Recovery))
			}
		}
		f.Outages = append(f.Outages, of)
	}
}
