package jwtpair

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"
)

// MemoryStore is a [Store] that keeps sessions and their refresh-token
// records in the memory of one process, with a [RevocationFeed] for the
// Auths that use it. It suits a single instance, tests and development;
// processes that share users need a shared backend.
//
// It starts no goroutines. Expired records are removed lazily: every call
// evicts a bounded batch of the records whose expiry has passed on the
// store's clock (earliest first, from a min-heap), and a lookup that meets
// an expired record drops it. A session is removed with its last record, so
// the end of a session is remembered exactly as long as a token it covers.
// A session evicted by the per-user cap (IssueOptions.MaxSessions) is
// forgotten at once, every record of it, so that a user's live and evicted
// sessions together never hold more than the cap's worth of memory.
//
// The revocation feed is a log in memory, trimmed by time (see
// [WithMemoryRevocationRetention]); a Revocations call that waits is woken
// by the next revocation.
//
// A MemoryStore is safe for concurrent use. Its zero value is not usable; call
// [NewMemoryStore].
type MemoryStore struct {
	now       func() time.Time // store clock: expiry, session times, the grace window
	retention time.Duration    // how long the feed keeps a revocation

	mu       sync.Mutex
	records  map[string]*memRecord             // by jti
	sessions map[string]*memSession            // by session id, ended ones included
	users    map[string]map[string]*memSession // user id → sessions not ended, by id
	expiries expiryHeap                        // every record, by expiry
	seq      uint64                            // numbers sessions in creation order

	// The feed: log holds the revocations still retained, oldest first;
	// log[i] is revocation number first+i (numbers start at 1), and a
	// cursor is the number of the last revocation returned.
	log   []Revocation
	first uint64
	wake  chan struct{} // closed when the log grows; nil when nobody waits
}

var (
	_ Store          = (*MemoryStore)(nil)
	_ RevocationFeed = (*MemoryStore)(nil)
)

// MemoryStoreOption configures a [MemoryStore].
type MemoryStoreOption func(*MemoryStore)

// WithMemoryClock sets the store's clock, which decides whether a record has
// expired, dates sessions and revocations, and measures the reuse grace
// window of Rotate. Default: [time.Now]. [New] gives the default memory
// store the Auth's [WithClock]. A nil clock is ignored.
func WithMemoryClock(now func() time.Time) MemoryStoreOption {
	return func(s *MemoryStore) {
		if now != nil {
			s.now = now
		}
	}
}

// WithMemoryRevocationRetention sets how long the revocation feed keeps a
// revocation, on the store's clock (see [RevocationFeed]). Default
// [DefaultRevocationRetention]; values ≤ 0 are ignored.
func WithMemoryRevocationRetention(d time.Duration) MemoryStoreOption {
	return func(s *MemoryStore) {
		if d > 0 {
			s.retention = d
		}
	}
}

// DefaultRevocationRetention is how long the revocation feeds of the
// built-in stores keep a revocation unless told otherwise: far longer than
// any access token a revocation must cover at the default access TTL.
const DefaultRevocationRetention = time.Hour

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore(opts ...MemoryStoreOption) *MemoryStore {
	s := &MemoryStore{
		now:       time.Now,
		retention: DefaultRevocationRetention,
		records:   make(map[string]*memRecord),
		sessions:  make(map[string]*memSession),
		users:     make(map[string]map[string]*memSession),
		first:     1,
	}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// sweepBatch bounds how many expired records one call evicts, so that no
// call holds the lock for long after a burst of expiries; every call evicts,
// and each call adds at most one record, so eviction keeps up.
const sweepBatch = 128

type memState uint8

const (
	memActive memState = iota
	memConsumed
)

// memRecord is one token. Ending is a flag on its session: a logout ends
// the whole session.
type memRecord struct {
	jti        string
	session    *memSession
	prev, next *memRecord // the session's records
	expiresAt  time.Time
	heapIdx    int // its place in expiries
	state      memState
	replays    uint8     // replays granted inside the grace window
	consumedAt time.Time // when state == memConsumed, on the store clock
}

// memSession is one login.
type memSession struct {
	id, userID     string
	seq            uint64 // orders sessions created at one instant
	created        time.Time
	lastRefreshed  time.Time
	expiresAt      time.Time // the latest expiry of its records
	absoluteExpiry time.Time // zero: none
	client         map[string]string
	ended          bool
	records        *memRecord // the first of its records still held
}

// live reports whether a session may still be used at now: not ended, not
// past its idle or absolute expiry.
func (ss *memSession) live(now time.Time) bool {
	return !ss.ended && !expired(ss.expiresAt, now) && !ss.pastAbsolute(now)
}

func (ss *memSession) pastAbsolute(now time.Time) bool {
	return !ss.absoluteExpiry.IsZero() && expired(ss.absoluteExpiry, now)
}

// The refusals of Issue and Rotate that are no token state: overwriting a
// record would revive a consumed or ended token, and a session is started
// once.
var (
	errDuplicateJTI     = fmt.Errorf("%w: jti already recorded", ErrStoreUnavailable)
	errDuplicateSession = fmt.Errorf("%w: session already recorded", ErrStoreUnavailable)
	errNoSession        = fmt.Errorf("%w: a session needs an id and a user", ErrStoreUnavailable)
)

// lock opens every method: it refuses a done context, wrapping its error in
// ErrStoreUnavailable, then reads the store clock, takes s.mu, evicts a
// batch of expired records and trims the feed. On a nil error the caller
// holds s.mu and releases it (defer s.mu.Unlock()); on an error s.mu is not
// held.
func (s *MemoryStore) lock(ctx context.Context) (now time.Time, err error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	now = s.now()
	s.mu.Lock()
	s.sweep(now)
	s.trim(now)
	return now, nil
}

// Issue implements [Store.Issue]. A session evicted by opts.MaxSessions is
// forgotten at once (its tokens answer ErrTokenNotFound from then on), and
// its end recorded in the feed.
func (s *MemoryStore) Issue(ctx context.Context, first Record, opts IssueOptions) ([]string, error) {
	if first.SessionID == "" || first.UserID == "" {
		return nil, errNoSession
	}
	// Allocated before locking.
	r := &memRecord{jti: first.JTI, expiresAt: first.ExpiresAt}
	ss := &memSession{id: first.SessionID, userID: first.UserID, expiresAt: first.ExpiresAt,
		absoluteExpiry: opts.AbsoluteExpiry, client: maps.Clone(opts.Client)}
	now, err := s.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()

	if s.lookup(first.JTI, now) != nil {
		return nil, errDuplicateJTI
	}
	if s.sessions[ss.id] != nil {
		return nil, errDuplicateSession
	}
	s.seq++
	ss.seq, ss.created, ss.lastRefreshed = s.seq, now, now
	s.sessions[ss.id] = ss
	mine := s.users[ss.userID]
	if mine == nil {
		mine = make(map[string]*memSession)
		s.users[ss.userID] = mine
	}
	mine[ss.id] = ss
	s.add(r, ss)
	if opts.MaxSessions > 0 {
		return s.cap(ss.userID, opts.MaxSessions, now), nil
	}
	return nil, nil
}

// cap forgets the oldest live sessions of userID beyond max, and returns
// their ids. Callers hold s.mu.
func (s *MemoryStore) cap(userID string, max int, now time.Time) []string {
	mine := s.users[userID]
	if len(mine) <= max {
		return nil // fewer not ended than the cap: fewer live too
	}
	live := make([]*memSession, 0, len(mine))
	for _, ss := range mine {
		if ss.live(now) {
			live = append(live, ss)
		}
	}
	if len(live) <= max {
		return nil
	}
	slices.SortFunc(live, func(a, b *memSession) int {
		return cmp.Or(a.created.Compare(b.created), cmp.Compare(a.seq, b.seq))
	})
	ended := make([]string, 0, len(live)-max)
	for _, ss := range live[:len(live)-max] {
		s.end(ss, now)
		for ss.records != nil {
			s.remove(ss.records)
		}
		ended = append(ended, ss.id)
	}
	return ended
}

// Rotate implements [Store.Rotate], measuring the grace window on the
// store's clock. A next.JTI that is already recorded is refused, wrapping
// [ErrStoreUnavailable], and nothing changes.
func (s *MemoryStore) Rotate(ctx context.Context, presented Token, next Record, opts RotateOptions) error {
	nr := &memRecord{jti: next.JTI, expiresAt: next.ExpiresAt} // allocated before locking
	now, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()

	r := s.lookupToken(presented, now)
	switch {
	case r == nil:
		return ErrTokenNotFound
	case r.session.ended || r.session.pastAbsolute(now):
		return ErrTokenBlacklisted
	case r.state == memConsumed:
		if opts.Grace <= 0 || now.After(r.consumedAt.Add(opts.Grace)) || r.replays >= MaxGraceReplays {
			s.end(r.session, now)
			return ErrTokenReused
		}
		// A replay inside the grace window: record a sibling successor; the
		// window stays anchored at the first consumption.
	}
	if s.lookup(next.JTI, now) != nil {
		return errDuplicateJTI
	}
	switch {
	case r.state == memConsumed:
		r.replays++
	case !opts.KeepPresented:
		r.state = memConsumed
		r.consumedAt = now
	}
	ss := r.session
	s.add(nr, ss)
	ss.lastRefreshed = now
	if nr.expiresAt.After(ss.expiresAt) {
		ss.expiresAt = nr.expiresAt
	}
	return nil
}

// Check implements [Store.Check].
func (s *MemoryStore) Check(ctx context.Context, presented Token) error {
	now, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()

	r := s.lookupToken(presented, now)
	switch {
	case r == nil:
		return ErrTokenNotFound
	case r.state != memActive || r.session.ended || r.session.pastAbsolute(now):
		return ErrTokenBlacklisted
	}
	return nil
}

// Revoke implements [Store.Revoke]: it ends the token's session.
func (s *MemoryStore) Revoke(ctx context.Context, presented Token) error {
	now, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()

	r := s.lookupToken(presented, now)
	switch {
	case r == nil:
		return ErrTokenNotFound
	case r.session.ended || r.session.pastAbsolute(now):
		return ErrTokenBlacklisted
	}
	s.end(r.session, now)
	if r.state == memConsumed {
		return ErrTokenBlacklisted
	}
	return nil
}

// EndSession implements [Store.EndSession].
func (s *MemoryStore) EndSession(ctx context.Context, userID, sessionID string) error {
	now, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()

	if ss := s.users[userID][sessionID]; ss != nil {
		s.end(ss, now)
	}
	return nil
}

// EndSessions implements [Store.EndSessions]. Its cost is proportional to
// the user's sessions that have not ended, not to the size of the store.
func (s *MemoryStore) EndSessions(ctx context.Context, userID, keep string) error {
	now, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()

	for id, ss := range s.users[userID] {
		if id != keep {
			s.end(ss, now)
		}
	}
	if keep == "" {
		s.record(Revocation{UserID: userID, At: now})
	}
	return nil
}

// Sessions implements [Store.Sessions].
func (s *MemoryStore) Sessions(ctx context.Context, userID string) ([]Session, error) {
	now, err := s.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()

	mine := s.users[userID]
	live := make([]*memSession, 0, len(mine))
	for _, ss := range mine {
		if ss.live(now) {
			live = append(live, ss)
		}
	}
	slices.SortFunc(live, func(a, b *memSession) int {
		return cmp.Or(b.created.Compare(a.created), cmp.Compare(b.seq, a.seq))
	})
	out := make([]Session, len(live))
	for i, ss := range live {
		out[i] = Session{
			ID: ss.id, UserID: ss.userID,
			Created: ss.created, LastRefreshed: ss.lastRefreshed,
			ExpiresAt: ss.expiresAt, AbsoluteExpiry: ss.absoluteExpiry,
			Client: maps.Clone(ss.client),
		}
	}
	return out, nil
}

// Revocations implements [RevocationFeed.Revocations]. A cursor is the
// decimal number of the last revocation returned; one this store never
// returned reads every revocation retained.
func (s *MemoryStore) Revocations(ctx context.Context, cursor string, wait time.Duration) ([]Revocation, string, error) {
	var after uint64
	if cursor != "" {
		var err error
		if after, err = strconv.ParseUint(cursor, 10, 64); err != nil {
			return nil, "", fmt.Errorf("%w: bad revocation cursor %q", ErrStoreUnavailable, cursor)
		}
	}
	var timeout <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timeout = t.C
	}
	for {
		now, err := s.lock(ctx)
		if err != nil {
			return nil, "", err
		}
		last := s.first + uint64(len(s.log)) - 1
		if after > last {
			after = 0 // not a cursor of this store: read everything retained
		}
		if after < last {
			from := int(max(after+1, s.first) - s.first)
			out := slices.Clone(s.log[from:])
			s.mu.Unlock()
			return out, strconv.FormatUint(last, 10), nil
		}
		_ = now
		if timeout == nil {
			s.mu.Unlock()
			return nil, strconv.FormatUint(last, 10), nil
		}
		if s.wake == nil {
			s.wake = make(chan struct{})
		}
		wake := s.wake
		s.mu.Unlock()
		select {
		case <-wake:
		case <-timeout:
			return nil, strconv.FormatUint(last, 10), nil
		case <-ctx.Done():
			return nil, "", fmt.Errorf("%w: %w", ErrStoreUnavailable, ctx.Err())
		}
	}
}

// RevocationRetention implements [RevocationFeed.RevocationRetention].
func (s *MemoryStore) RevocationRetention() time.Duration { return s.retention }

// Len reports how many token records the store holds, in any state,
// including expired records not yet evicted.
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.records)
}

// Close does nothing and returns nil: a MemoryStore runs no goroutines and
// holds no resources. It exists so that callers can close every store alike;
// it may be called any number of times, and the store stays usable.
func (s *MemoryStore) Close() error { return nil }

// expired reports whether something expiring at exp is past on the store
// clock. A record is expired at its expiry instant, as a JWT is at its exp.
func expired(exp, now time.Time) bool { return !now.Before(exp) }

// lookup returns the record for jti, or nil when there is none or it has
// expired; an expired record is removed. Callers hold s.mu.
func (s *MemoryStore) lookup(jti string, now time.Time) *memRecord {
	r := s.records[jti]
	if r == nil {
		return nil
	}
	if expired(r.expiresAt, now) {
		s.remove(r)
		return nil
	}
	return r
}

// lookupToken is lookup of a presented token: nil also when the record is
// of another user or session than the token names. Callers hold s.mu.
func (s *MemoryStore) lookupToken(t Token, now time.Time) *memRecord {
	r := s.lookup(t.JTI, now)
	if r == nil || r.session.userID != t.UserID || t.SessionID != "" && r.session.id != t.SessionID {
		return nil
	}
	return r
}

// end ends a session, once, and records the revocation. Callers hold s.mu.
func (s *MemoryStore) end(ss *memSession, now time.Time) {
	if ss.ended {
		return
	}
	ss.ended = true
	s.unindex(ss)
	s.record(Revocation{UserID: ss.userID, SessionID: ss.id, At: now})
}

// unindex takes a session out of its user's index. Callers hold s.mu.
func (s *MemoryStore) unindex(ss *memSession) {
	mine := s.users[ss.userID]
	if mine[ss.id] != ss {
		return
	}
	delete(mine, ss.id)
	if len(mine) == 0 {
		delete(s.users, ss.userID)
	}
}

// record appends a revocation to the feed and wakes its waiters. Callers
// hold s.mu.
func (s *MemoryStore) record(rev Revocation) {
	s.log = append(s.log, rev)
	if s.wake != nil {
		close(s.wake)
		s.wake = nil
	}
}

// trim drops the revocations older than the retention. Callers hold s.mu.
func (s *MemoryStore) trim(now time.Time) {
	n := 0
	for n < len(s.log) && expired(s.log[n].At.Add(s.retention), now) {
		n++
	}
	if n == 0 {
		return
	}
	s.first += uint64(n)
	if n == len(s.log) {
		s.log = nil
		return
	}
	// Copy the rest down once the dropped part is the larger, so that the
	// backing array is not kept for ever and trimming stays amortised O(1).
	if n > len(s.log)/2 {
		s.log = slices.Clone(s.log[n:])
	} else {
		clear(s.log[:n])
		s.log = s.log[n:]
	}
}

// add records r, a new active token with its expiry set, in ss. Callers
// hold s.mu and have checked that its jti is free.
func (s *MemoryStore) add(r *memRecord, ss *memSession) {
	r.session = ss
	r.next = ss.records
	if ss.records != nil {
		ss.records.prev = r
	}
	ss.records = r
	s.records[r.jti] = r
	s.expiries.push(r)
}

// remove forgets a record, and its session with the session's last record.
// Callers hold s.mu.
func (s *MemoryStore) remove(r *memRecord) {
	delete(s.records, r.jti)
	s.expiries.remove(r.heapIdx)
	ss := r.session
	if r.prev != nil {
		r.prev.next = r.next
	} else {
		ss.records = r.next
	}
	if r.next != nil {
		r.next.prev = r.prev
	}
	r.prev, r.next = nil, nil
	if ss.records != nil {
		return
	}
	// A session is held exactly while it has records, so ss is the one
	// recorded under its id.
	delete(s.sessions, ss.id)
	s.unindex(ss)
}

// sweep evicts up to sweepBatch expired records, earliest expiry first.
// Callers hold s.mu.
func (s *MemoryStore) sweep(now time.Time) {
	for range sweepBatch {
		if len(s.expiries) == 0 || !expired(s.expiries[0].expiresAt, now) {
			return
		}
		s.remove(s.expiries[0])
	}
}

// expiryHeap is a binary min-heap of records by expiry, each record
// knowing its index so that it can be removed from the middle. It is
// written out rather than built on container/heap to avoid boxing.
type expiryHeap []*memRecord

func (h expiryHeap) less(i, j int) bool { return h[i].expiresAt.Before(h[j].expiresAt) }

func (h expiryHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx, h[j].heapIdx = i, j
}

func (h *expiryHeap) push(r *memRecord) {
	r.heapIdx = len(*h)
	*h = append(*h, r)
	h.up(r.heapIdx)
}

// remove takes out the record at index i.
func (h *expiryHeap) remove(i int) {
	q := *h
	n := len(q) - 1
	if i != n {
		q.swap(i, n)
	}
	q[n].heapIdx = -1
	q[n] = nil
	q = q[:n]
	*h = q
	if i < n && !q.down(i) {
		q.up(i)
	}
}

func (h expiryHeap) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !h.less(i, parent) {
			return
		}
		h.swap(i, parent)
		i = parent
	}
}

// down moves the entry at i down to its place and reports whether it moved.
func (h expiryHeap) down(i int) bool {
	start := i
	for {
		least, l, r := i, 2*i+1, 2*i+2
		if l < len(h) && h.less(l, least) {
			least = l
		}
		if r < len(h) && h.less(r, least) {
			least = r
		}
		if least == i {
			return i > start
		}
		h.swap(i, least)
		i = least
	}
}
