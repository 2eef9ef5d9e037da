package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The chain clients: each loops login → protected requests → refresh →
// … → logout as one user, with the probes that test the invariants. Each
// step depends on the answer to the one before (the token it presents is
// the one the last answer handed out), which vegeta's Targeter, called
// before and independently of any answer, cannot express: so the chains
// are a loop of their own, and vegeta paces the steady protected traffic
// over the tokens they hold (traffic.go).

// token is what a client reads of a token it holds, from the payload,
// unverified (it trusts the server that handed it out).
type token struct {
	raw string
	jti string
	sid string
	exp int64
}

func parseToken(raw string) (token, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return token{}, errors.New("not a compact JWS")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return token{}, err
	}
	var c struct {
		JTI string `json:"jti"`
		SID string `json:"sid"`
		Exp int64  `json:"exp"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return token{}, err
	}
	if c.JTI == "" {
		return token{}, errors.New("no jti")
	}
	return token{raw: raw, jti: c.JTI, sid: c.SID, exp: c.Exp}, nil
}

// session is a login as a chain holds it.
type session struct {
	sid     string
	access  token
	refresh token
}

// answer is the JSON of an answer: a pair, or an error body.
type answer struct {
	Access   string `json:"access"`
	Refresh  string `json:"refresh"`
	Detail   string `json:"detail"`
	Code     string `json:"code"`
	Messages []struct {
		Message string `json:"message"`
	} `json:"messages"`
}

// describe fills e's Code and Detail from a non-200 answer's body: the
// middleware's specific message when there is one, else detail.
func (a *answer) describe(e *Entry) {
	e.Code, e.Detail = a.Code, a.Detail
	if len(a.Messages) > 0 {
		e.Detail = a.Messages[0].Message
	}
}

// caller sends the chains' requests and logs each.
type caller struct {
	client *http.Client
	bases  []string // the instances' base URLs
	log    *logWriter
	tokens *tokenPool
}

// call sends one request for e (Kind, Inst and the token fields set) and
// logs it. It returns the answer (nil without one) and the session a 200
// handed out.
func (c *caller) call(e *Entry, path, bearer, body string) (*answer, *session) {
	req, err := http.NewRequest(http.MethodPost, c.bases[e.Inst]+path, strings.NewReader(body))
	if e.Kind == kindHello {
		req, err = http.NewRequest(http.MethodGet, c.bases[e.Inst]+path, nil)
	}
	if err != nil {
		panic(err) // our own URLs
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	e.Start = time.Now().UnixNano()
	resp, err := c.client.Do(req)
	var raw []byte
	if err == nil {
		raw, err = io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		e.Status = resp.StatusCode
	}
	e.End = time.Now().UnixNano()
	if err != nil {
		e.Status, e.Err = 0, err.Error()
		c.log.add(e)
		return nil, nil
	}
	var a answer
	_ = json.Unmarshal(bytes.TrimSpace(raw), &a)
	var s *session
	if e.Status != http.StatusOK {
		a.describe(e)
	} else if a.Access != "" {
		s = c.handedOut(e, &a)
	}
	c.log.add(e)
	return &a, s
}

// handedOut records the pair a 200 handed out in e and returns it.
func (c *caller) handedOut(e *Entry, a *answer) *session {
	at, err := parseToken(a.Access)
	if err != nil {
		e.Detail = "access token unreadable: " + err.Error()
		return nil
	}
	e.Access, e.AccessExp = at.jti, at.exp
	s := &session{sid: e.Family, access: at}
	if a.Refresh != "" {
		rt, err := parseToken(a.Refresh)
		if err != nil {
			e.Detail = "refresh token unreadable: " + err.Error()
			return nil
		}
		e.Refresh, e.NewFamily = rt.jti, rt.sid
		s.refresh, s.sid = rt, rt.sid
		if e.Kind == kindLogin {
			e.Family = rt.sid
		}
	}
	return s
}

// chain is one client looping over sessions of one user.
type chain struct {
	id       int
	user     string
	password string
	c        *caller
	rng      *rand.Rand
	grace    time.Duration
	deadline time.Time
	groups   *atomic.Uint64 // shared: concurrent groups are numbered across chains
}

// Probabilities and pauses of the flow.
const (
	replayChance   = 0.06 // after a rotation: replay the consumed token after the grace window
	probeChance    = 0.5  // after a logout: present its refresh token, and its access token
	minRounds      = 2    // refresh rounds per session: minRounds … minRounds+extraRounds-1
	extraRounds    = 5
	maxHellos      = 3 // protected requests per round: 1 … maxHellos
	thinkMin       = 20 * time.Millisecond
	thinkSpread    = 60 * time.Millisecond
	backoffMin     = 100 * time.Millisecond
	backoffSpread  = 100 * time.Millisecond
	replayMargin   = 250 * time.Millisecond // past the grace window
	reuseGroupSize = 4                      // > 1 + MaxGraceReplays: reuse within the window
)

// groupSize draws how many refreshes are sent at once with one token:
// mostly one; two or three exercise the race and the grace window's
// replays; four exceed the replays the window forgives (reuse).
func (ch *chain) groupSize() int {
	switch r := ch.rng.Float64(); {
	case r < 0.70:
		return 1
	case r < 0.84:
		return 2
	case r < 0.94:
		return 3
	default:
		return reuseGroupSize
	}
}

func (ch *chain) over() bool { return !time.Now().Before(ch.deadline) }

func (ch *chain) sleep(min, spread time.Duration) {
	time.Sleep(min + time.Duration(ch.rng.Int64N(int64(spread))))
}

func (ch *chain) inst() int { return ch.rng.IntN(len(ch.c.bases)) }

func (ch *chain) run() {
	for !ch.over() {
		s := ch.login()
		if s == nil {
			return
		}
		ch.live(s)
	}
}

// login logs in, again after each 503, until it succeeds or time is up.
func (ch *chain) login() *session {
	body, _ := json.Marshal(map[string]string{"username": ch.user, "password": ch.password})
	for !ch.over() {
		e := &Entry{Kind: kindLogin, Client: ch.id, Inst: ch.inst(), User: ch.user}
		_, s := ch.c.call(e, "/api/token/", "", string(body))
		if s != nil {
			return s
		}
		ch.sleep(backoffMin, backoffSpread)
	}
	return nil
}

// live uses a session for a few rounds of protected requests and
// refreshes, then logs out, unless it ended on the way.
func (ch *chain) live(s *session) {
	ch.c.tokens.live(ch.id, s)
	defer ch.c.tokens.gone(ch.id)
	rounds := minRounds + ch.rng.IntN(extraRounds)
	for range rounds {
		for range 1 + ch.rng.IntN(maxHellos) {
			ch.hello(s, "")
			ch.sleep(thinkMin, thinkSpread)
		}
		if ch.over() || ch.refresh(s) {
			return
		}
	}
	ch.logout(s)
}

func (ch *chain) hello(s *session, probe string) {
	e := &Entry{Kind: kindHello, Probe: probe, Client: ch.id, Inst: ch.inst(), User: ch.user, Family: s.sid, Token: s.access.jti}
	ch.c.call(e, "/hello/", s.access.raw, "")
}

// present sends the refresh token tok of session sid once.
func (ch *chain) present(sid string, tok token, probe string, group uint64) (*answer, *session, *Entry) {
	e := &Entry{Kind: kindRefresh, Probe: probe, Client: ch.id, Inst: ch.inst(), Group: group, User: ch.user, Family: sid, Token: tok.jti}
	a, next := ch.c.call(e, "/api/token/refresh/", "", `{"refresh":"`+tok.raw+`"}`)
	return a, next, e
}

// refresh rotates s's refresh token, sometimes with several requests at
// once, sometimes replaying the consumed token afterwards. It reports
// whether the session ended (or was abandoned) on the way.
func (ch *chain) refresh(s *session) (ended bool) {
	presented := s.refresh
	k := ch.groupSize()
	oks, refusedAt := ch.group(s.sid, presented, k)
	for len(oks) == 0 && refusedAt == nil {
		// Every answer a 503 (or none): the rotation may or may not have
		// happened. Present the token again until the store answers.
		if ch.over() {
			return true
		}
		ch.sleep(backoffMin, backoffSpread)
		oks, refusedAt = ch.group(s.sid, presented, 0)
	}
	if refusedAt != nil {
		// Refused: reuse detected (a group beyond the replays the window
		// forgives, or a retry of a rotation that happened) or already
		// revoked. The session is over: a token this group handed out
		// must be refused now.
		ch.c.tokens.ended(s, refusedAt.End)
		if len(oks) > 0 {
			ch.present(s.sid, oks[0].refresh, probeAfterEnd, 0)
		}
		return true
	}
	*s = *oks[0]
	ch.c.tokens.live(ch.id, s)
	if ch.rng.Float64() >= replayChance {
		return false
	}
	time.Sleep(ch.grace + replayMargin)
	a, _, e := ch.present(s.sid, presented, probeReplay, 0)
	if a != nil && e.Status == http.StatusUnauthorized {
		ch.c.tokens.ended(s, e.End)
		ch.present(s.sid, s.refresh, probeAfterEnd, 0)
	}
	return true // refused, or not answered (it may have ended the session): a new login
}

// group presents tok k times at once (once, as a retry, for k = 0), each
// to an instance drawn at random. It returns the sessions handed out and
// the first refusal (401), if any.
func (ch *chain) group(sid string, tok token, k int) (oks []*session, refused *Entry) {
	probe, id := probeRetry, uint64(0)
	if k > 1 {
		probe, id = probeConcurrent, ch.groups.Add(1)
	}
	if k == 1 {
		probe = ""
	}
	n := max(k, 1)
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	insts := make([]int, n)
	for i := range insts {
		insts[i] = ch.inst()
	}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			e := &Entry{Kind: kindRefresh, Probe: probe, Client: ch.id, Inst: insts[i], Group: id, User: ch.user, Family: sid, Token: tok.jti}
			_, next := ch.c.call(e, "/api/token/refresh/", "", `{"refresh":"`+tok.raw+`"}`)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case next != nil:
				oks = append(oks, next)
			case e.Status == http.StatusUnauthorized && (refused == nil || e.End < refused.End):
				refused = e
			}
		}()
	}
	close(start)
	wg.Wait()
	return oks, refused
}

// logout ends s, again after each 503, then probes it: its refresh token
// and its access token presented after the end.
func (ch *chain) logout(s *session) {
	for !ch.over() {
		e := &Entry{Kind: kindLogout, Client: ch.id, Inst: ch.inst(), User: ch.user, Family: s.sid, Token: s.refresh.jti}
		ch.c.call(e, "/api/token/blacklist/", "", `{"refresh":"`+s.refresh.raw+`"}`)
		switch e.Status {
		case http.StatusOK:
			ch.c.tokens.ended(s, e.End)
			if ch.rng.Float64() < probeChance {
				ch.present(s.sid, s.refresh, probeAfterEnd, 0)
			}
			if ch.rng.Float64() < probeChance {
				ch.hello(s, probeEndedAccess)
			}
			return
		case http.StatusUnauthorized:
			ch.c.tokens.ended(s, e.End)
			return
		}
		ch.sleep(backoffMin, backoffSpread)
	}
}
