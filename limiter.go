package jwtpair

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Limit is a rate limit on attempts, as a token bucket: a key at rest may
// make Burst attempts at once, and regains one every Period/Rate (its
// [Limit.Interval]) up to Burst again. Burst 5 with Rate 5 per 15 minutes
// lets five attempts through at once, then one every three minutes.
//
// Every [Limiter] counts with GCRA (the generic cell rate algorithm), which
// decides exactly as golang.org/x/time/rate's Limiter with
// rate.Every(Interval) and burst Burst, and as
// github.com/go-redis/redis_rate with the same Rate, Period and Burst. The
// zero Limit means no limit: [Throttle] uses it to turn a throttle off.
type Limit struct {
	Rate   int           // attempts regained per Period
	Period time.Duration // the period Rate counts over
	Burst  int           // attempts a key at rest may make at once
}

// Interval is how long one attempt takes to be regained: Period/Rate.
func (l Limit) Interval() time.Duration {
	if l.Rate <= 0 {
		return 0
	}
	return l.Period / time.Duration(l.Rate)
}

// maxLimitSpan bounds how long a key may take to come back to rest
// (Interval × Burst), so that every limiter's arithmetic stays far from
// overflow, in int64 nanoseconds (memory, SQL) and in float seconds (Redis).
const maxLimitSpan = 366 * 24 * time.Hour

// Validate reports whether l is a usable limit: Rate, Period and Burst
// positive, an Interval of at least a millisecond (the resolution of the
// coarsest backend clock, SQLite's), and at most a year for a key to come
// back to rest (Interval × Burst). New checks the limits of [Throttle] with
// it; a [Limiter] refuses, with its error, a limit that fails it.
func (l Limit) Validate() error {
	switch {
	case l.Rate <= 0 || l.Period <= 0 || l.Burst <= 0:
		return fmt.Errorf("jwtpair: limit %+v: rate, period and burst must be positive", l)
	case l.Interval() < time.Millisecond:
		return fmt.Errorf("jwtpair: limit %+v: more than one attempt per millisecond", l)
	case int64(l.Burst) > int64(maxLimitSpan/l.Interval()):
		return fmt.Errorf("jwtpair: limit %+v: a key would take over a year to come back to rest", l)
	}
	return nil
}

// Limiter counts attempts for throttling ([WithThrottle]): where the
// counts live decides whether a limit holds across instances. [New] uses
// the [Store] when it implements Limiter, else a [MemoryLimiter] of its
// own; [WithLimiter] sets one. redisstore.NewLimiter and sqlstore.NewLimiter
// keep the counts in Redis and in a SQL database, shared by every instance
// on that backend; the storetest package holds the conformance suite
// (storetest.RunLimiter).
//
// Keys are built by the Auth ("login:ip:203.0.113.7", …), at most 64 bytes
// of printable ASCII; a limiter may prefix them. A Limiter is safe for
// concurrent use, including by several processes sharing one backend, and
// honours its context's deadline as a [Store] does ([WithStoreTimeout]).
type Limiter interface {
	// Allow counts one attempt of key under limit and reports whether it
	// may go ahead; when it may not, retryAfter is how long until one
	// would (always positive). Deciding and counting are one atomic step,
	// one round trip to the backend: of n concurrent attempts on a key at
	// rest, exactly min(n, Burst) are allowed, whichever process makes
	// them. A refused attempt is not counted. The time is the backend's
	// clock where it has one. A limit that fails [Limit.Validate] is an
	// error; any failure of the backend is returned wrapping
	// [ErrStoreUnavailable].
	Allow(ctx context.Context, key string, limit Limit) (ok bool, retryAfter time.Duration, err error)

	// Reset puts key back at rest, its attempts forgotten (a correct
	// login resets the count of its username). One round trip. An unknown
	// key is not an error.
	Reset(ctx context.Context, key string) error
}

// MemoryLimiter is a [Limiter] in the memory of one process: each process
// counts on its own, so a limit holds per instance. It is the default of
// an Auth whose Store is not a Limiter.
//
// It implements GCRA over the process's clock rather than use
// golang.org/x/time/rate, which decides alike, because the root module
// depends on nothing but jwx (and testify for tests): GCRA keeps one
// time per key (its theoretical arrival time), a few lines of arithmetic
// under a mutex, where x/time/rate would add a module and a Limiter value
// per key. A key whose time has passed is at rest and holds nothing: such
// keys are dropped whenever the map has doubled since the last sweep, so
// it holds at most twice the keys not at rest, and no goroutine runs. A
// key costs about 100 bytes while it is not at rest (at most Interval ×
// Burst after its last attempt).
//
// Create one with [NewMemoryLimiter]; it is safe for concurrent use.
type MemoryLimiter struct {
	now  func() time.Time
	base time.Time // times are kept as offsets from it (monotonic readings)

	mu    sync.Mutex
	tats  map[string]time.Duration // per key: when it is at rest again, from base
	swept int                      // len(tats) after the last sweep
}

var _ Limiter = (*MemoryLimiter)(nil)

// NewMemoryLimiter returns an empty MemoryLimiter on the clock time.Now.
// (The one New makes runs on the Auth's [WithClock].)
func NewMemoryLimiter() *MemoryLimiter { return newMemoryLimiter(time.Now) }

func newMemoryLimiter(now func() time.Time) *MemoryLimiter {
	return &MemoryLimiter{now: now, base: now(), tats: make(map[string]time.Duration)}
}

// minSweep is the size under which the map is never swept.
const minSweep = 1024

// Allow implements [Limiter.Allow].
func (m *MemoryLimiter) Allow(ctx context.Context, key string, limit Limit) (bool, time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return false, 0, fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	if err := limit.Validate(); err != nil {
		return false, 0, err
	}
	interval := limit.Interval()
	tolerance := interval * time.Duration(limit.Burst-1)
	now := m.now().Sub(m.base)

	m.mu.Lock()
	defer m.mu.Unlock()
	tat := max(m.tats[key], now)
	if wait := tat - now - tolerance; wait > 0 {
		return false, wait, nil
	}
	m.tats[key] = tat + interval
	if n := len(m.tats); n >= minSweep && n >= 2*m.swept {
		m.sweep(now)
	}
	return true, 0, nil
}

// Reset implements [Limiter.Reset].
func (m *MemoryLimiter) Reset(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	m.mu.Lock()
	delete(m.tats, key)
	m.mu.Unlock()
	return nil
}

// Len reports how many keys the limiter holds, at rest ones not yet
// dropped included.
func (m *MemoryLimiter) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.tats)
}

// sweep drops the keys at rest. Callers hold m.mu.
func (m *MemoryLimiter) sweep(now time.Duration) {
	for k, tat := range m.tats {
		if tat <= now {
			delete(m.tats, k)
		}
	}
	m.swept = len(m.tats)
}

// timedLimiter is the Limiter as an Auth calls it: each call with a
// deadline WithStoreTimeout after it starts (see timedStore).
type timedLimiter struct {
	l Limiter
	d time.Duration
}

var _ Limiter = timedLimiter{}

func (t timedLimiter) Allow(ctx context.Context, key string, limit Limit) (bool, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.l.Allow(ctx, key, limit)
}

func (t timedLimiter) Reset(ctx context.Context, key string) error {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.l.Reset(ctx, key)
}
