package jwtpair

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/jwtpair/jwtpair/internal/claimset"
	"github.com/jwtpair/jwtpair/internal/jws"
)

// verify checks a token's form, header, signature and time, audience and
// issuer claims, and that it is of type want ("" accepts any type the Auth
// has a use for: access and refresh, and sliding with WithSlidingTokens).
// It does no I/O. Every failure wraps ErrTokenInvalid, ErrTokenExpired or
// ErrTokenWrongType.
func (a *Auth) verify(tok string, want string) (*Claims, error) {
	k := kindOf(want)
	if want == "" {
		k = a.anyKind
	}
	return a.verifyAs(tok, k)
}

// verifyAs is verify of a token of one of the kinds want.
func (a *Auth) verifyAs(tok string, want tokenKind) (*Claims, error) {
	c, err := a.verifyToken(tok, want, a.now())
	if err != nil {
		return nil, err
	}
	return &c.claims, nil
}

// payloadStackBytes is the decoded payload verifyToken keeps on the stack:
// a token's claims with a few custom ones. A larger payload is checked
// piece by piece in it before the signature, then decoded into an
// allocation of its own (jws.Key.Open).
const payloadStackBytes = 512

// verifyToken is verifyAs at now (a reading of the Auth's clock),
// returning the claims in the allocation that holds them, which the
// middleware hands on as the request's context.
func (a *Auth) verifyToken(tok string, want tokenKind, now time.Time) (*claimsContext, error) {
	// Bounded length first: oversized input stops here, before any
	// hashing or decoding.
	if len(tok) == 0 || len(tok) > a.maxTokenBytes {
		return nil, ErrTokenInvalid
	}
	ring := a.keys()
	var h uint64
	if a.verified != nil {
		var v *verifiedToken
		if v, h = a.verified.lookup(tok, ring); v != nil && usable(v.key, now) {
			return a.claimsOf(v, want, now)
		}
	}
	// Form first: three non-empty segments. The key for the header (a
	// header no key emits is decoded and parsed), then the payload and
	// signature decoded (all three segments strictly base64url) and the
	// signature checked, before the payload is parsed: unauthenticated
	// bytes never reach the claims parser.
	t, ok := jws.Split(tok)
	if !ok {
		return nil, ErrTokenInvalid
	}
	key, ring := a.keyForHeader(ring, t.Header, now)
	if key == nil {
		return nil, ErrTokenInvalid
	}
	var payloadBuf [payloadStackBytes]byte
	payload, ok := key.Open(t, payloadBuf[:])
	if !ok {
		return nil, ErrTokenInvalid
	}
	// One allocation for a valid token (and one more for its custom
	// claims, when it has some): the claims, their place in the request
	// context, the request that carries them and the memory of their
	// strings, which are the request's own. A token that takes its place
	// in the cache (verifyToCache) costs two more, once. Only tokens whose
	// signature holds count towards a place, so that a flood of forged
	// ones keeps no token out.
	if a.verified != nil && a.verified.admit(h) {
		return a.verifyToCache(tok, h, ring, key, payload, want, now)
	}
	c := new(struct {
		claimsContext
		text [claimsTextBytes]byte
	})
	var set claimset.Set
	if claimset.ParseIn(payload, &a.names, &set, c.text[:]) != nil {
		return nil, ErrTokenInvalid
	}
	if err := a.checkClaims(&set, want, now); err != nil {
		return nil, err
	}
	var raw []byte
	if set.Custom {
		raw = bytes.Clone(payload)
	}
	c.fill(&set, raw, &a.names)
	return &c.claimsContext, nil
}

// verifyToCache is the end of verifyToken for a token that is to take its
// place in the cache of verified tokens: its claims parsed into a
// verifiedToken of their own, which the cache keeps once they passed, when
// it is a token presented again and again (access, sliding; refresh tokens
// are spent once), with a copy of the token, not the request's string,
// which may be part of a larger header (a cookie header) the cache would
// otherwise keep alive.
func (a *Auth) verifyToCache(tok string, h uint64, ring *keyring, key *jws.Key, payload []byte, want tokenKind, now time.Time) (*claimsContext, error) {
	v := new(verifiedToken)
	if claimset.ParseIn(payload, &a.names, &v.set, v.text[:]) != nil {
		return nil, ErrTokenInvalid
	}
	if v.set.Custom {
		v.raw = bytes.Clone(payload)
	}
	c, err := a.claimsOf(v, want, now)
	if err != nil {
		return nil, err
	}
	if a.revoked != nil && v.set.SessionID != "" {
		v.sid = a.revoked.keyOf(v.set.SessionID)
	}
	if kindOf(v.set.TokenType)&(kindAccess|kindSliding) != 0 {
		v.hash, v.token, v.ring, v.key = h, strings.Clone(tok), ring, key
		a.verified.add(v)
	}
	return c, nil
}

// claimsOf applies the claims' rules to v at now for want, and returns
// the request's claims of v when they pass: from the cache of verified
// tokens, on every request, the same rules as for a token seen for the
// first time (the time, the kind the route wants, the issuer and
// audience). c.sid is v's key of its session id, which v holds when there
// is a revoked set to look it up in.
func (a *Auth) claimsOf(v *verifiedToken, want tokenKind, now time.Time) (*claimsContext, error) {
	if err := a.checkClaims(&v.set, want, now); err != nil {
		return nil, err
	}
	c := &claimsContext{sid: &v.sid}
	c.fill(&v.set, v.raw, &a.names)
	return c, nil
}

// keys returns the keyring in force.
func (a *Auth) keys() *keyring {
	if a.remote != nil {
		return a.remote.current()
	}
	return a.ring
}

// keyForHeader returns the key of ring that verifies a token with this
// encoded header at now, or nil (jws.Ring.Lookup: a token without kid is
// verified only when there is exactly one key, or one key without kid; one
// with a kid only by the key of that kid; the header's alg must be the
// key's). With a JWKS URL, an unknown kid may trigger one rate-limited
// refetch, whose keyring it returns in ring's place.
func (a *Auth) keyForHeader(ring *keyring, h string, now time.Time) (*jws.Key, *keyring) {
	k, unknown := ring.Lookup(h)
	if unknown.KID != "" && a.remote != nil {
		ring = a.remote.refetchFor(unknown.KID)
		k = ring.Match(unknown)
	}
	if k == nil || !usable(k, now) {
		return nil, ring
	}
	return k, ring
}

// usable reports whether k verifies at now: not a previous key past its
// end of validity.
func usable(k *jws.Key, now time.Time) bool {
	end := k.NotAfter()
	return end.IsZero() || now.Before(end)
}

// newID returns 16 random bytes as 32 lower-case hex characters (simplejwt's
// uuid4().hex shape).
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}

// encodeCustomClaims renders custom claims for mint (claimset.EncodeCustom).
// It runs once per user per login or refresh, off the verification path.
func (a *Auth) encodeCustomClaims(claims map[string]any) ([]byte, error) {
	b, err := claimset.EncodeCustom(claims, &a.names)
	if err != nil {
		return nil, fmt.Errorf("jwtpair: %w", err)
	}
	return b, nil
}

// minted is a token as mint made it, with what the caller needs to know
// of it without reading it again.
type minted struct {
	token string
	jti   string
	exp   time.Time // its exp claim: now+ttl in whole seconds
}

// mint signs a token of type typ for sub, valid from now for ttl, and no
// later than the end of sub's session (WithMaxSessionAge). It refuses,
// with an error, a token verification would refuse: times outside the
// NumericDate range, or longer than WithMaxTokenBytes (what
// encodeCustomClaims let through is otherwise acceptable).
func (a *Auth) mint(typ string, sub subject, now time.Time, ttl time.Duration) (minted, error) {
	return a.mintSet(claimset.Set{TokenType: typ, JTI: newID()}, sub, now, ttl)
}

// mintSet is mint of a token whose type, jti and refresh_exp set says
// (the sliding tokens' refresh keeps a token's jti).
func (a *Auth) mintSet(set claimset.Set, sub subject, now time.Time, ttl time.Duration) (minted, error) {
	exp := time.Unix(now.Add(ttl).Unix(), 0)
	if !sub.ends.IsZero() && sub.ends.Before(exp) {
		exp = sub.ends
	}
	if now.Unix() < 0 || exp.Unix() > claimset.MaxNumericDate || set.RefreshExp.Unix() > claimset.MaxNumericDate {
		return minted{}, fmt.Errorf("jwtpair: the clock says %v, outside the NumericDate range verification accepts", now)
	}
	if a.ring == nil || a.ring.signer == nil {
		return minted{}, ErrVerifyOnly
	}
	set.UserID, set.ExpiresAt, set.IssuedAt, set.Issuer = sub.id, exp, now, a.issuer
	// stamp and sid come from stampClaim and newID, or from a verified
	// token, whose strings may hold anything: Append quotes them.
	set.Stamp, set.SessionID, set.AuthTime = sub.stamp, sub.sid, sub.authTime
	if len(a.audience) > 0 {
		set.Audience = a.audience[:1]
	}
	p := claimset.Append(make([]byte, 0, 256+len(sub.id)+len(sub.custom)), &a.names, &set, sub.custom)
	tok, err := a.ring.signer.Sign(p)
	if err != nil {
		return minted{}, fmt.Errorf("jwtpair: %w", err)
	}
	if len(tok) > a.maxTokenBytes {
		return minted{}, fmt.Errorf("jwtpair: a %s token would be %d bytes, over the %d that verification accepts (WithMaxTokenBytes): make the user ID or custom claims smaller", set.TokenType, len(tok), a.maxTokenBytes)
	}
	return minted{token: string(tok), jti: set.JTI, exp: exp}, nil
}
