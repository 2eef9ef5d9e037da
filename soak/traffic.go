package main

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// The steady protected traffic: vegeta's attacker at a constant rate
// (its ConstantPacer) on GET /hello/, each request with an access token
// drawn from the chains' live sessions, an ended session's, or none. The
// request's identity (instance, token id, session, probe) rides in the
// query string, which the example ignores, because vegeta's Result keeps
// the URL but not the request's headers; each Result becomes a log line.

// pooled is an access token the traffic can present.
type pooled struct {
	tok     token
	sid     string
	endedAt int64 // when its session's end was acknowledged; 0 while live
}

// tokenPool holds the chains' access tokens: one live per chain, and a
// ring of those of ended sessions.
type tokenPool struct {
	mu      sync.Mutex
	byChain map[int]pooled
	chains  []int
	ring    []pooled
	next    int
}

const endedRing = 256

func newTokenPool() *tokenPool {
	return &tokenPool{byChain: map[int]pooled{}, ring: make([]pooled, 0, endedRing)}
}

// live makes s the chain's current session.
func (p *tokenPool) live(chain int, s *session) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.byChain[chain]; !ok {
		p.chains = append(p.chains, chain)
	}
	p.byChain[chain] = pooled{tok: s.access, sid: s.sid}
}

// gone: the chain holds no live session now.
func (p *tokenPool) gone(chain int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.byChain[chain]; !ok {
		return
	}
	delete(p.byChain, chain)
	for i, c := range p.chains {
		if c == chain {
			p.chains = append(p.chains[:i], p.chains[i+1:]...)
			break
		}
	}
}

// ended records that s's end was acknowledged at t.
func (p *tokenPool) ended(s *session, t int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := pooled{tok: s.access, sid: s.sid, endedAt: t}
	if len(p.ring) < endedRing {
		p.ring = append(p.ring, e)
		return
	}
	p.ring[p.next] = e
	p.next = (p.next + 1) % endedRing
}

// Shares of the traffic.
const (
	liveShare  = 0.75 // a live session's token
	endedShare = 0.23 // an ended session's; the rest: no token
)

// pick draws a token for r in [0, 1): a live one, an ended one, or none.
func (p *tokenPool) pick(r float64, rng *rand.Rand) (pooled, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case r < liveShare && len(p.chains) > 0:
		return p.byChain[p.chains[rng.IntN(len(p.chains))]], ""
	case r < liveShare+endedShare && len(p.ring) > 0:
		return p.ring[rng.IntN(len(p.ring))], probeEndedAccess
	}
	return pooled{}, probeAnonymous
}

// targeter draws each request's instance and token.
func (p *tokenPool) targeter(bases []string, seed uint64) vegeta.Targeter {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, 0x7e6e7a))
	return func(t *vegeta.Target) error {
		mu.Lock()
		inst, r := rng.IntN(len(bases)), rng.Float64()
		tk, probe := p.pick(r, rng)
		mu.Unlock()
		q := url.Values{"i": {strconv.Itoa(inst)}}
		t.Method, t.Header = http.MethodGet, http.Header{}
		if probe != probeAnonymous {
			q.Set("jti", tk.tok.jti)
			q.Set("sid", tk.sid)
			t.Header.Set("Authorization", "Bearer "+tk.tok.raw)
		}
		if probe != "" {
			q.Set("p", probe)
		}
		t.URL = bases[inst] + "/hello/?" + q.Encode()
		return nil
	}
}

// attack runs vegeta's attacker at rate requests per second for du and
// logs every result.
func attack(client *http.Client, p *tokenPool, bases []string, rate int, du time.Duration, seed uint64, log *logWriter) {
	atk := vegeta.NewAttacker(vegeta.Client(client), vegeta.Workers(8), vegeta.MaxWorkers(256))
	pacer := vegeta.ConstantPacer{Freq: rate, Per: time.Second}
	for res := range atk.Attack(p.targeter(bases, seed), pacer, du, "soak") {
		log.add(resultEntry(res))
	}
}

// resultEntry is the log line of one of vegeta's results.
func resultEntry(res *vegeta.Result) *Entry {
	e := &Entry{Kind: kindHello, Client: -1, Start: res.Timestamp.UnixNano(), End: res.End().UnixNano(), Status: int(res.Code)}
	if u, err := url.Parse(res.URL); err == nil {
		q := u.Query()
		e.Inst, _ = strconv.Atoi(q.Get("i"))
		e.Token, e.Family, e.Probe = q.Get("jti"), q.Get("sid"), q.Get("p")
	}
	if e.Status == 0 {
		e.Err = res.Error
		return e
	}
	if e.Status != http.StatusOK {
		var a answer
		_ = json.Unmarshal(bytes.TrimSpace(res.Body), &a)
		a.describe(e)
	}
	return e
}
