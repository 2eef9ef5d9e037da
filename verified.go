package jwtpair

import (
	"hash/maphash"
	"math/bits"
	"sync/atomic"

	"github.com/jwtpair/jwtpair/internal/claimset"
	"github.com/jwtpair/jwtpair/internal/jws"
)

// verifiedToken is what checking a token's form, header and signature and
// parsing its claims makes: its claims set, the memory of its strings, and
// its payload when it has custom claims. Nothing writes it once made, so
// that the cache of verified tokens shares it between requests; each
// request gets claims of its own (claimsContext.fill).
type verifiedToken struct {
	set  claimset.Set
	raw  []byte // the decoded payload, kept when set.Custom; read only
	text [claimsTextBytes]byte

	// Its place in the cache: the token, a keyed hash of it, and the
	// keyring and key that verified it.
	hash  uint64
	token string
	ring  *keyring
	key   *jws.Key
	// The key of its session id in the revoked set (revocations.keyOf),
	// computed once for all its requests; zero when there is no revoked
	// set or no session id, where the lookup does not read it.
	sid idKey
}

// claimsTextBytes is room for the string claims of a token as the
// middleware usually sees them (jti and sid of 32 bytes, a user id, an
// issuer or a stamp). Longer ones take an allocation of their own.
const claimsTextBytes = 128

// verifiedTokens is the cache of tokens verified recently
// ([WithVerifiedTokenCache]): a direct-mapped table of slots, each holding
// at most one verifiedToken, indexed by a keyed hash of the token. A token
// is found only when it is the same string as one verified before, by the
// same keyring; a token takes its slot on its second request in a row
// there (verifiedSlot). Lookups and stores are atomic loads and stores: no
// lock, no allocation.
//
// It caches what does not change while the keyring stays: the signature's
// verdict and the parsed claims. Everything that depends on the time, the
// route or the revoked set is checked on every request, as for a token
// seen for the first time (verifyToken).
type verifiedTokens struct {
	seed  maphash.Seed
	mask  uint64
	slots []verifiedSlot
}

// verifiedSlot holds a verified token, and the hash of the last token
// looked for in vain there: a token takes the slot on its second request
// in a row there (admit), so that tokens seen once, or a stream of more
// tokens than the cache has slots, cost no allocation of their own and
// never push out a token in use.
type verifiedSlot struct {
	token atomic.Pointer[verifiedToken]
	seen  atomic.Uint64
}

// newVerifiedTokens returns a cache of at least n slots (a power of two),
// or nil for n == 0.
func newVerifiedTokens(n int) *verifiedTokens {
	if n <= 0 {
		return nil
	}
	size := 1 << bits.Len(uint(n-1))
	return &verifiedTokens{seed: maphash.MakeSeed(), mask: uint64(size - 1), slots: make([]verifiedSlot, size)}
}

// lookup returns the verified token tok, when its slot holds it and ring
// verified it, and tok's hash, which add needs.
func (t *verifiedTokens) lookup(tok string, ring *keyring) (*verifiedToken, uint64) {
	h := maphash.String(t.seed, tok)
	v := t.slots[h&t.mask].token.Load()
	if v == nil || v.hash != h || v.ring != ring || !sameToken(v.token, tok) {
		return nil, h
	}
	return v, h
}

// admit reports whether the token of hash h, which lookup did not find,
// is to take its slot: whether it was the last token looked for in vain
// there. It records h as that token otherwise.
func (t *verifiedTokens) admit(h uint64) bool {
	s := &t.slots[h&t.mask]
	if s.seen.Load() == h {
		return true
	}
	s.seen.Store(h)
	return false
}

// add puts v in its slot, in the place of the token that held it.
func (t *verifiedTokens) add(v *verifiedToken) { t.slots[v.hash&t.mask].token.Store(v) }

// sameToken reports whether a and b are equal, in a time that depends on
// their lengths only. (A slot is compared with a token only when their
// keyed hashes are equal, so that the comparison tells an attacker nothing
// already; it stays constant-time all the same.)
func sameToken(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var d uint64
	for len(a) >= 8 {
		d |= word(a) ^ word(b)
		a, b = a[8:], b[8:]
	}
	for i := range len(a) {
		d |= uint64(a[i] ^ b[i])
	}
	return d == 0
}

// word is the first 8 bytes of s, little-endian (one load, on the
// platforms that have one).
func word(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// keepVerified is the default of [WithVerifiedTokenCache], maxVerified
// its largest.
const (
	keepVerified = 4096
	maxVerified  = 1 << 20
)
