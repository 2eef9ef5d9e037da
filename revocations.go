package jwtpair

import (
	"context"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// The revoked set. Each Auth follows its store's revocation feed in one
// goroutine into an in-memory set of ended sessions (and of users whose
// every session ended), so that an ended session's access tokens are
// refused with no I/O on the request path. The set is immutable once
// published: the follower builds the next one and swaps an atomic
// pointer, so a lookup takes no lock and allocates nothing.

const (
	// minStaleness bounds WithRevocationStaleness from below: the feed
	// must be read several times within it.
	minStaleness = 100 * time.Millisecond
	// maxFeedWait is the longest one Revocations call waits for news. The
	// set is known complete up to the start of the last successful call,
	// so in steady state it is at most two waits old: the wait is the
	// smaller of this and a quarter of the staleness bound.
	maxFeedWait = 250 * time.Millisecond
	// feedStartWait bounds how long New waits for the first reading of the
	// feed (the catch-up); until it succeeds the Auth answers 503.
	feedStartWait = 2 * time.Second
	// feedCallTimeout bounds a Revocations call beyond its wait, so that a
	// call hung on a dead connection is given up and tried again; it is
	// long enough for a large catch-up to complete (the set is stale, and
	// requests answered 503, whatever it is).
	feedCallTimeout = 10 * time.Second
	// revocationMargin is how much longer than the tokens it covers an
	// entry is kept: for clocks of the store and of the instances that
	// disagree, and for a refresh in flight when its session ended (its
	// access token is minted just after the store answered).
	revocationMargin = time.Minute
	// youngMin is the size under which the young generation never merges
	// into the old one (see revokedSet).
	youngMin = 1024
)

// errRevocationsStale: the set may lack a recent revocation. 503.
var errRevocationsStale = fmt.Errorf("%w: the revocation feed is not fresh", ErrStoreUnavailable)

// revocations follows a feed into the revoked set.
type revocations struct {
	feed   RevocationFeed
	now    func() time.Time // the Auth's clock, on which entries expire
	cover  time.Duration    // how long after its At an entry is kept
	stale  time.Duration    // WithRevocationStaleness
	wait   time.Duration    // of each Revocations call
	logger *slog.Logger

	origin time.Time // the monotonic origin of fresh
	// fresh is 1 + the start, after origin, of the last successful
	// Revocations call, in nanoseconds (0: none yet): every revocation
	// recorded before then is in set.
	fresh atomic.Int64
	set   atomic.Pointer[revokedSet]

	// The follower's own: when to drop expired entries, and the latest At
	// read from the feed, which the store's clock has passed.
	pruneAt, latest time.Time

	cancel   context.CancelFunc
	done     chan struct{} // closed when the follower returns
	caughtUp chan struct{} // closed after the first successful call
	stop     sync.Once
}

// revokedSet is one immutable state of the set. Sessions are in two
// generations: a batch copies the young one (kept small) into a new map
// with its entries, and the young one merges into the old one (a full copy)
// only once it has grown to a quarter of it, or when expired entries are
// due to be dropped; so applying a batch costs little whatever the size of
// the set, and each entry is copied a bounded number of times on average.
//
// Times are on the Auth's clock, on which its tokens expire; the store's
// clock, on which revocations are dated, only ever counts durations (see
// apply), so that clocks that disagree cannot make an entry expire early.
//
// Ids are kept as 128-bit keyed hashes (idKey), not strings: maps without
// pointers, which the garbage collector never scans, so that 100k entries
// cost the request path nothing but the lookup (and about 30 bytes each).
// Two ids that collide (a chance of one in 2^128 per pair, under a key
// an attacker never sees) would refuse the live one: fail closed. So would
// two users' sessions of one id (a store may record them apart, see
// Store.Issue), which no Auth mints: session ids are 128 random bits.
type revokedSet struct {
	keys       *idKeys
	young, old map[idKey]int64          // session id → until (Unix ns)
	users      map[idKey]userRevocation // user id → every session up to at ended
}

// idKey is a 128-bit keyed hash of an id.
type idKey [2]uint64

// idKeys are the hash keys of a revocations' sets, fixed at its start.
type idKeys struct{ a, b maphash.Seed }

func newIDKeys() *idKeys { return &idKeys{maphash.MakeSeed(), maphash.MakeSeed()} }

// of returns the key of id. It does not allocate.
func (k *idKeys) of(id string) idKey {
	return idKey{maphash.String(k.a, id), maphash.String(k.b, id)}
}

// userRevocation is a Revocation of every session of a user: tokens
// without a sid issued at or before at are covered, until until.
type userRevocation struct {
	at, until int64 // Unix ns
}

// has reports whether c belongs to an ended session: by its sid, or, for a
// token without one, by its user's revocation of every session. sid is the
// key of c's session id (keyOf) when the caller has it (a token from the
// cache of verified tokens carries it); nil: it is computed here.
func (s *revokedSet) has(c *Claims, sid *idKey) bool {
	if c.SessionID != "" {
		if len(s.young) == 0 && len(s.old) == 0 {
			return false // no session ended: no id to hash
		}
		var k idKey
		if sid != nil {
			k = *sid
		} else {
			k = s.keys.of(c.SessionID)
		}
		if _, ok := s.young[k]; ok {
			return true
		}
		_, ok := s.old[k]
		return ok
	}
	if len(s.users) == 0 {
		return false
	}
	u, ok := s.users[s.keys.of(c.UserID)]
	return ok && !c.IssuedAt.After(time.Unix(0, u.at))
}

// startRevocations starts following feed and waits, up to feedStartWait,
// for the catch-up.
func startRevocations(feed RevocationFeed, s *settings) *revocations {
	ctx, cancel := context.WithCancel(context.Background())
	v := &revocations{
		feed:     feed,
		now:      s.now,
		cover:    s.bearerTTL() + s.leeway + revocationMargin,
		stale:    s.staleness,
		wait:     min(maxFeedWait, s.staleness/4),
		logger:   s.logger,
		origin:   time.Now(),
		cancel:   cancel,
		done:     make(chan struct{}),
		caughtUp: make(chan struct{}),
	}
	v.set.Store(&revokedSet{keys: newIDKeys()})
	v.pruneAt = v.now().Add(v.cover / 4)
	go v.follow(ctx)
	t := time.NewTimer(feedStartWait)
	defer t.Stop()
	select {
	case <-v.caughtUp:
	case <-t.C:
		v.logger.Warn("jwtpair: the revocation feed has not been read yet; protected requests answer 503 until it is")
	}
	return v
}

// close stops the follower and waits for it. Safe to call more than once.
func (v *revocations) close() {
	v.stop.Do(func() {
		v.cancel()
		<-v.done
	})
}

// keyOf is the key of a session id in the set, fixed for v's life.
func (v *revocations) keyOf(id string) idKey { return v.set.Load().keys.of(id) }

// check is the request path's lookup: ErrTokenBlacklisted when c's session
// has ended, errRevocationsStale when the set may lack a recent revocation.
// sid is the key of c's session id when the caller has it (keyOf), else
// nil. Freshness is measured on the monotonic clock: now's, a reading of
// time.Now the caller took, or a reading of its own when now is zero. No
// I/O, no lock, no allocation.
func (v *revocations) check(c *Claims, sid *idKey, now time.Time) error {
	f := v.fresh.Load()
	if now.IsZero() {
		now = time.Now()
	}
	if f == 0 || now.Sub(v.origin) > time.Duration(f-1)+v.stale {
		return errRevocationsStale
	}
	if v.set.Load().has(c, sid) {
		return ErrTokenBlacklisted
	}
	return nil
}

// follow reads the feed until ctx ends: first every revocation retained
// (the catch-up, without waiting), then what comes after the cursor. A
// failure leaves the cursor where it was, so nothing is missed; the set
// goes stale until a call succeeds again.
func (v *revocations) follow(ctx context.Context) {
	defer close(v.done)
	cursor, wait := "", time.Duration(0)
	failing := false
	for {
		start := time.Since(v.origin)
		callCtx, cancel := context.WithTimeout(ctx, wait+max(v.stale, feedCallTimeout))
		batch, next, err := v.feed.Revocations(callCtx, cursor, wait)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if !failing {
				v.logger.Error("jwtpair: reading the revocation feed failed; protected requests answer 503 once the revoked set is stale", "err", err)
				failing = true
			}
			t := time.NewTimer(v.wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		if failing {
			v.logger.Info("jwtpair: the revocation feed is read again")
			failing = false
		}
		v.apply(batch)
		cursor, wait = next, v.wait
		if v.fresh.Swap(int64(start)+1) == 0 {
			close(v.caughtUp)
		}
		if late := time.Since(v.origin) - start; late > v.wait+v.stale/4 {
			// The call, or this goroutine's turn to run, took far longer
			// than a wait (a slow backend, a stalled process): the set is
			// known only up to the call's start, stale or nearly so. Read
			// again at once rather than after another wait, so that
			// requests get 503s for as short a time as can be.
			wait = 0
		}
	}
}

// apply publishes the set with batch added and, when due, expired entries
// dropped. Only the follower calls it.
//
// A revocation dated At on the store's clock must be kept until cover
// after At. The store's clock has passed the latest At read so far, so at
// most At+cover−latest of that remains: the entry is kept that long from
// now on the Auth's clock (longer, never shorter, than needed, whatever
// the two clocks say). Likewise a revocation of every session of a user
// happened no later than latest−At before now: tokens issued until then
// are covered.
func (v *revocations) apply(batch []Revocation) {
	for _, r := range batch {
		if r.At.After(v.latest) {
			v.latest = r.At
		}
	}
	now := v.now()
	nowNs := now.UnixNano()
	expiry := func(r Revocation) int64 { return now.Add(r.At.Add(v.cover).Sub(v.latest)).UnixNano() }
	cur := v.set.Load()
	next := *cur
	changed := false
	sessions := 0
	for _, r := range batch {
		if r.SessionID != "" {
			sessions++
		}
	}
	if sessions > 0 {
		young := make(map[idKey]int64, len(cur.young)+sessions)
		keepLive(young, cur.young, nowNs)
		for _, r := range batch {
			if r.SessionID == "" {
				continue
			}
			k := cur.keys.of(r.SessionID)
			if until := expiry(r); until > nowNs && until > young[k] {
				young[k] = until
			}
		}
		next.young, changed = young, true
	}
	if len(batch) > sessions {
		users := make(map[idKey]userRevocation, len(cur.users)+len(batch)-sessions)
		for id, u := range cur.users {
			if u.until > nowNs {
				users[id] = u
			}
		}
		for _, r := range batch {
			if r.SessionID != "" {
				continue
			}
			if until := expiry(r); until > nowNs {
				k := cur.keys.of(r.UserID)
				u := users[k]
				at := now.Add(-v.latest.Sub(r.At)).UnixNano()
				users[k] = userRevocation{at: max(u.at, at), until: max(u.until, until)}
			}
		}
		next.users, changed = users, true
	}
	prune := !now.Before(v.pruneAt)
	if prune || len(next.young) > max(youngMin, len(next.old)/4) {
		old := make(map[idKey]int64, len(next.old)+len(next.young))
		keepLive(old, next.old, nowNs)
		keepLive(old, next.young, nowNs)
		next.old, next.young, changed = old, nil, true
		if prune {
			users := make(map[idKey]userRevocation, len(next.users))
			for id, u := range next.users {
				if u.until > nowNs {
					users[id] = u
				}
			}
			next.users = users
			v.pruneAt = now.Add(v.cover / 4)
		}
	}
	if changed {
		v.set.Store(&next)
	}
}

// keepLive copies into dst the entries of src that expire after now,
// keeping the later expiry of an entry dst has already.
func keepLive(dst, src map[idKey]int64, now int64) {
	for id, until := range src {
		if until > now && until > dst[id] {
			dst[id] = until
		}
	}
}

// checkFeed checks the revocation feed the Auth is to follow, and returns
// it: the store's, unless WithoutRevocationFeed.
func (c *config) checkFeed() RevocationFeed {
	if c.noFeed || c.store == nil {
		return nil
	}
	feed, ok := c.store.(RevocationFeed)
	if !ok {
		c.bad("the store has no revocation feed (RevocationFeed), so the access tokens of ended sessions would stay valid until they expire: use a store that has one, or accept that with WithoutRevocationFeed")
		return nil
	}
	if need, kept := c.bearerTTL()+c.leeway, feed.RevocationRetention(); kept < need {
		which := "access"
		if c.slidingTTL > c.accessTTL {
			which = "sliding"
		}
		c.bad("the store's revocation feed keeps revocations %v, less than the %s TTL plus leeway (%v) a revocation must cover", kept, which, need)
	}
	return feed
}
