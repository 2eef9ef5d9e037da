package jws

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// Ring is a set of keys that verify tokens, and finds the key for a
// token's header. Build it with Add and Finish, then share it: Lookup and
// Match are safe for concurrent use. The zero Ring holds no key.
type Ring struct {
	byHeader map[string]*Key // encoded header as each key emits it → key
	byKID    map[string]*Key
	only     *Key // the key for tokens without kid: the key without one (at most one), else the only key
}

// Add adds a key. It refuses a kid already in the ring, and a second key
// without a kid: a token without one could not say which is its key.
func (r *Ring) Add(k *Key) error {
	if r.byHeader == nil {
		r.byHeader, r.byKID = map[string]*Key{}, map[string]*Key{}
	}
	if k.kid != "" {
		if _, dup := r.byKID[k.kid]; dup {
			return fmt.Errorf("two keys share the kid %q", k.kid)
		}
		r.byKID[k.kid] = k
	} else {
		if r.only != nil {
			return errors.New("two keys without a kid: a token without one could not say which is its key; give all but one a kid")
		}
		r.only = k
	}
	r.byHeader[k.header] = k
	return nil
}

// Finish ends building: a ring of one key uses it also for tokens without
// a kid.
func (r *Ring) Finish() {
	if len(r.byHeader) == 1 {
		for _, k := range r.byHeader {
			r.only = k
		}
	}
}

// Key returns the key of a kid, or nil.
func (r *Ring) Key(kid string) *Key { return r.byKID[kid] }

// Lookup returns the key that verifies a token with this encoded header,
// or nil. A header as one of the keys emits it (simplejwt's are the same
// bytes) is found by one map lookup. Any other, of at most MaxHeaderBytes,
// is decoded and checked against the allowlist (ParseHeader), and Matched.
// When it is well formed but names a kid the ring lacks, Lookup returns it
// as unknown, so that a caller whose keys come from a key-set URL can fetch
// the set again and Match in the new ring.
func (r *Ring) Lookup(encoded string) (k *Key, unknown Header) {
	if k, ok := r.byHeader[encoded]; ok {
		return k, Header{}
	}
	if len(encoded) > MaxHeaderBytes {
		return nil, Header{}
	}
	var buf [MaxHeaderBytes]byte
	raw, ok := DecodeSegment(encoded, buf[:])
	if !ok {
		return nil, Header{}
	}
	h, ok := ParseHeader(raw)
	if !ok {
		return nil, Header{}
	}
	if h.KID != "" && r.byKID[h.KID] == nil {
		return nil, h
	}
	return r.Match(h), Header{}
}

// Match returns the key for a parsed header: a header with a kid is
// verified only by the key of that kid, one without only by the ring's
// key for tokens without kid; either way, the header's alg must be the
// key's (algorithm pinning: "none", or HS256 against an RSA key, never
// verifies).
func (r *Ring) Match(h Header) *Key {
	k := r.only
	if h.KID != "" {
		k = r.byKID[h.KID]
	}
	if k == nil || h.Alg != k.alg {
		return nil
	}
	return k
}

// MarshalJWKS renders the public keys among keys, in their order, as an
// RFC 7517 JWK Set with kid, alg and use "sig" (and a final newline). It
// returns nil when none of them has a public key (HMAC keys).
func MarshalJWKS(keys []*Key) ([]byte, error) {
	set := jwk.NewSet()
	for _, k := range keys {
		if k.public == nil {
			continue
		}
		jk, err := jwk.Import(k.public)
		if err != nil {
			return nil, fmt.Errorf("importing public key: %w", err)
		}
		for name, v := range map[string]string{jwk.KeyIDKey: k.kid, jwk.AlgorithmKey: k.alg, jwk.KeyUsageKey: "sig"} {
			if err := jk.Set(name, v); err != nil {
				return nil, fmt.Errorf("setting %s: %w", name, err)
			}
		}
		if err := set.AddKey(jk); err != nil {
			return nil, fmt.Errorf("building JWKS: %w", err)
		}
	}
	if set.Len() == 0 {
		return nil, nil
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("marshalling JWKS: %w", err)
	}
	return append(b, '\n'), nil
}
