package jwtpair

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// MemoryStore is a [Store] that keeps refresh-token records in the memory of
// one process. It suits a single instance, tests and development; processes
// that share users need a shared backend.
//
// It starts no goroutines. Expired records are removed lazily: every call
// evicts a bounded batch of the records whose expiry has passed on the store's
// clock (earliest first, from a min-heap), and a lookup that meets an expired
// record drops it. A family, and its entry in its user's index, is removed with
// its last token, so a revocation is remembered exactly as long as a token it
// covers.
//
// A MemoryStore is safe for concurrent use. Its zero value is not usable; call
// [NewMemoryStore].
type MemoryStore struct {
	now func() time.Time // store clock: expiry and the grace window

	mu       sync.Mutex
	records  map[string]*memRecord          // by jti
	families map[string]*memFamily          // by family id
	users    map[string]map[string]struct{} // user id → set of family ids
	expiries expiryHeap                     // one entry per Issue/Rotate
}

var _ Store = (*MemoryStore)(nil)

// MemoryStoreOption configures a [MemoryStore].
type MemoryStoreOption func(*MemoryStore)

// WithMemoryClock sets the store's clock, which decides whether a record has
// expired and measures the reuse grace window of Rotate. Default:
// [time.Now]. [New] gives the default memory store the Auth's [WithClock].
// A nil clock is ignored.
func WithMemoryClock(now func() time.Time) MemoryStoreOption {
	return func(s *MemoryStore) {
		if now != nil {
			s.now = now
		}
	}
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore(opts ...MemoryStoreOption) *MemoryStore {
	s := &MemoryStore{
		now:      time.Now,
		records:  make(map[string]*memRecord),
		families: make(map[string]*memFamily),
		users:    make(map[string]map[string]struct{}),
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

// memRecord is one token. Revocation is a flag on its family: a logout ends
// the whole session.
type memRecord struct {
	family     *memFamily
	expiresAt  time.Time
	state      memState
	replays    uint8     // replays granted inside the grace window
	consumedAt time.Time // when state == memConsumed, on the store clock
}

type memFamily struct {
	id      string
	userID  string
	revoked bool
	members int // records of the family still held
}

// errDuplicateJTI reports an Issue or Rotate whose jti is already recorded.
// Overwriting would revive a consumed or revoked token, so it is refused.
var errDuplicateJTI = fmt.Errorf("%w: jti already recorded", ErrStoreUnavailable)

// errFamilyUser reports an Issue naming an existing family of another user.
var errFamilyUser = fmt.Errorf("%w: family belongs to another user", ErrStoreUnavailable)

// lock opens every method: it refuses a done context, wrapping its error in
// ErrStoreUnavailable, then reads the store clock, takes s.mu and evicts a
// batch of expired records. On a nil error the caller holds s.mu and releases
// it (defer s.mu.Unlock()); on an error s.mu is not held.
func (s *MemoryStore) lock(ctx context.Context) (now time.Time, err error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	now = s.now()
	s.mu.Lock()
	s.sweep(now)
	return now, nil
}

// Issue implements [Store.Issue]. It refuses, wrapping [ErrStoreUnavailable],
// a jti that is already recorded and a FamilyID that names another user's
// family; it answers [ErrTokenBlacklisted] for a FamilyID that names a revoked
// family, and records nothing in those cases.
func (s *MemoryStore) Issue(ctx context.Context, rec Record) error {
	nr := &memRecord{expiresAt: rec.ExpiresAt} // allocated before locking
	now, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()

	if s.lookup(rec.JTI, now) != nil {
		return errDuplicateJTI
	}
	fam := s.families[rec.FamilyID]
	if fam != nil {
		if fam.userID != rec.UserID {
			return errFamilyUser
		}
		if fam.revoked {
			return ErrTokenBlacklisted
		}
	} else {
		fam = &memFamily{id: rec.FamilyID, userID: rec.UserID}
		s.families[fam.id] = fam
		fams := s.users[fam.userID]
		if fams == nil {
			fams = make(map[string]struct{})
			s.users[fam.userID] = fams
		}
		fams[fam.id] = struct{}{}
	}
	s.add(rec.JTI, nr, fam)
	return nil
}

// Rotate implements [Store.Rotate], measuring the grace window on the
// store's clock. A next.JTI that is already recorded is refused, wrapping
// [ErrStoreUnavailable], and nothing changes.
func (s *MemoryStore) Rotate(ctx context.Context, presentedJTI string, next Record, opts RotateOptions) error {
	nr := &memRecord{expiresAt: next.ExpiresAt} // allocated before locking
	now, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()

	r := s.lookup(presentedJTI, now)
	switch {
	case r == nil:
		return ErrTokenNotFound
	case r.family.revoked:
		return ErrTokenBlacklisted
	case r.state == memConsumed:
		if opts.Grace <= 0 || now.After(r.consumedAt.Add(opts.Grace)) || r.replays >= MaxGraceReplays {
			r.family.revoked = true
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
	s.add(next.JTI, nr, r.family)
	return nil
}

// Check implements [Store.Check].
func (s *MemoryStore) Check(ctx context.Context, jti string) error {
	now, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()

	r := s.lookup(jti, now)
	switch {
	case r == nil:
		return ErrTokenNotFound
	case r.state != memActive || r.family.revoked:
		return ErrTokenBlacklisted
	}
	return nil
}

// Revoke implements [Store.Revoke]: it revokes the token's family. A token
// whose family or user was revoked counts as already revoked.
func (s *MemoryStore) Revoke(ctx context.Context, jti string) error {
	now, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()

	r := s.lookup(jti, now)
	switch {
	case r == nil:
		return ErrTokenNotFound
	case r.family.revoked:
		return ErrTokenBlacklisted
	}
	r.family.revoked = true
	if r.state == memConsumed {
		return ErrTokenBlacklisted
	}
	return nil
}

// RevokeFamily implements [Store.RevokeFamily]. An unknown family is not
// remembered: a later Issue naming it starts a fresh family.
func (s *MemoryStore) RevokeFamily(ctx context.Context, familyID string) error {
	if _, err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()

	if fam := s.families[familyID]; fam != nil {
		fam.revoked = true
	}
	return nil
}

// RevokeUser implements [Store.RevokeUser]. Its cost is proportional to the
// user's families, not to the size of the store.
func (s *MemoryStore) RevokeUser(ctx context.Context, userID string) error {
	if _, err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()

	for id := range s.users[userID] {
		s.families[id].revoked = true
	}
	return nil
}

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

// expired reports whether a record expiring at exp is past on the store clock.
// A record is expired at its expiry instant, as a JWT is at its exp.
func expired(exp, now time.Time) bool { return !now.Before(exp) }

// lookup returns the record for jti, or nil when there is none or it has
// expired; an expired record is removed. Callers hold s.mu.
func (s *MemoryStore) lookup(jti string, now time.Time) *memRecord {
	r := s.records[jti]
	if r == nil {
		return nil
	}
	if expired(r.expiresAt, now) {
		s.remove(jti, r)
		return nil
	}
	return r
}

// add records r, a new active token with its expiry set, in fam. Callers hold
// s.mu and have checked that jti is free.
func (s *MemoryStore) add(jti string, r *memRecord, fam *memFamily) {
	r.family = fam
	s.records[jti] = r
	fam.members++
	s.expiries.push(expiry{at: r.expiresAt, jti: jti})
}

// remove forgets a record, and its family and user index entry with the
// family's last record. Callers hold s.mu.
func (s *MemoryStore) remove(jti string, r *memRecord) {
	delete(s.records, jti)
	fam := r.family
	fam.members--
	if fam.members > 0 {
		return
	}
	// A family is held exactly while it has records, so fam is the one
	// indexed under its id.
	delete(s.families, fam.id)
	fams := s.users[fam.userID]
	delete(fams, fam.id)
	if len(fams) == 0 {
		delete(s.users, fam.userID)
	}
}

// sweep evicts up to sweepBatch expired records, earliest expiry first.
// Callers hold s.mu.
func (s *MemoryStore) sweep(now time.Time) {
	for range sweepBatch {
		if len(s.expiries) == 0 || !expired(s.expiries[0].at, now) {
			return
		}
		e := s.expiries.pop()
		// The record may have been dropped on access already, and its jti
		// even issued again with a later expiry; remove only what expired.
		if r := s.records[e.jti]; r != nil && expired(r.expiresAt, now) {
			s.remove(e.jti, r)
		}
	}
}

// expiry is one pending eviction.
type expiry struct {
	at  time.Time
	jti string
}

// expiryHeap is a binary min-heap of evictions by time. It is written out
// rather than built on container/heap to avoid boxing every entry.
type expiryHeap []expiry

func (h *expiryHeap) push(e expiry) {
	*h = append(*h, e)
	q := *h
	for i := len(q) - 1; i > 0; {
		parent := (i - 1) / 2
		if !q[i].at.Before(q[parent].at) {
			break
		}
		q[i], q[parent] = q[parent], q[i]
		i = parent
	}
}

// pop removes and returns the earliest entry; the heap must not be empty.
func (h *expiryHeap) pop() expiry {
	q := *h
	top := q[0]
	n := len(q) - 1
	q[0] = q[n]
	q[n] = expiry{} // release the jti string
	q = q[:n]
	for i := 0; ; {
		least, l, r := i, 2*i+1, 2*i+2
		if l < n && q[l].at.Before(q[least].at) {
			least = l
		}
		if r < n && q[r].at.Before(q[least].at) {
			least = r
		}
		if least == i {
			break
		}
		q[i], q[least] = q[least], q[i]
		i = least
	}
	*h = q
	return top
}
