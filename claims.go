package jwtpair

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/jwtpair/jwtpair/internal/claimset"
)

// Token types, the values of the token-type claim.
const (
	TokenTypeAccess  = "access"
	TokenTypeRefresh = "refresh"
	TokenTypeSliding = "sliding" // simplejwt's SlidingToken (see WithSlidingTokens)
)

// Claims are the verified claims of a token. The middleware puts them in the
// request context (see [ClaimsFrom]); [Auth.VerifyAccess] returns them.
type Claims struct {
	TokenType string    // "access", "refresh" or "sliding"
	UserID    string    // the user-id claim; numbers are given in their decimal text
	JTI       string    // the token's unique id
	ExpiresAt time.Time // exp
	IssuedAt  time.Time // iat; zero when absent
	NotBefore time.Time // nbf; zero when absent
	Issuer    string    // iss; empty when absent
	Audience  []string  // aud; nil when absent
	Stamp     string    // the user stamp claim (a keyed digest of User.Stamp); empty when absent
	SessionID string    // sid: the session (the login) the token belongs to; every token minted here carries it
	AuthTime  time.Time // auth_time: when the session began (the login); zero when absent
	// RefreshExpiresAt is refresh_exp: until when a sliding token may be
	// refreshed ([Auth.RefreshSliding]); zero when absent (access and
	// refresh tokens).
	RefreshExpiresAt time.Time

	extra *customClaims // the custom claims; nil when the token has none
	user  *User         // the loaded user, with WithUserCheck
}

// customClaims are the custom claims of a token: its decoded payload,
// kept so that they are decoded on demand, once, off the hot path.
type customClaims struct {
	raw   []byte
	names *claimset.Names

	once    sync.Once
	decoded map[string]any // custom claims, once decoded
	err     error
}

// claimsContext is what verifying a token gives a request, in one
// allocation: its Claims, the request context the middleware hands on
// with them (the request's, with the claims as the value of claimsKey),
// and the copy of the request that carries that context, so that a
// request costs no allocation for the claims beyond this one. The claims'
// strings are views of memory nothing writes (the verifiedToken's of the
// cache, or the request's own beside its claimsContext); what a holder of
// the claims may write (the Claims, the backing of one audience, the
// decoded custom claims) is the request's own.
type claimsContext struct {
	context.Context // the request's; set by the middleware before it is used as one
	claims          Claims
	aud             [1]string // the backing of claims.Audience for one audience
	req             http.Request
	// sid is the key of claims.SessionID in the revoked set, when the
	// token came from the cache of verified tokens, which computed it
	// once; nil: the lookup computes it.
	sid *idKey
}

// Value returns the claims for claimsKey ([ClaimsFrom]), and asks the
// request's context otherwise.
func (c *claimsContext) Value(key any) any {
	if key == claimsKey {
		return &c.claims
	}
	return c.Context.Value(key)
}

// String describes the context as context.WithValue's do, naming the
// claims' type, not their values, so that a context printed in a log
// shows no claim.
func (c *claimsContext) String() string {
	return fmt.Sprint(c.Context) + ".WithValue(jwtpair claims, *jwtpair.Claims)"
}

// in returns the request context ctx carrying c's claims, as
// [ContextWithClaims] does, without allocating: c is that context.
func (c *claimsContext) in(ctx context.Context) context.Context {
	c.Context = ctx
	return c
}

// request returns a copy of r whose context carries c's claims, as
// r.WithContext(ContextWithClaims(r.Context(), &c.claims)) does, without
// allocating: the copy is c's. The middleware calls it once, on the
// claims it has just verified.
func (c *claimsContext) request(r *http.Request) *http.Request {
	c.req = *r.WithContext(c.in(r.Context())) // inlined: the copy WithContext makes stays on the stack
	return &c.req
}

// fill sets the Claims of a verified token, of claims set s and, when it
// has custom claims, decoded payload raw, which nothing writes. The
// strings are s's; the Audience and the custom claims are the claims' own,
// which their holder may write without touching s or raw, which other
// requests may share (the cache of verified tokens).
func (c *claimsContext) fill(s *claimset.Set, raw []byte, names *claimset.Names) {
	c.claims = Claims{
		TokenType: s.TokenType,
		UserID:    s.UserID,
		JTI:       s.JTI,
		ExpiresAt: s.ExpiresAt,
		IssuedAt:  s.IssuedAt,
		NotBefore: s.NotBefore,
		Issuer:    s.Issuer,
		Stamp:     s.Stamp,
		SessionID: s.SessionID,
		AuthTime:  s.AuthTime,

		RefreshExpiresAt: s.RefreshExp,
	}
	switch len(s.Audience) {
	case 0:
	case 1:
		c.aud[0] = s.Audience[0]
		c.claims.Audience = c.aud[:]
	default:
		c.claims.Audience = slices.Clone(s.Audience)
	}
	if s.Custom {
		c.claims.extra = &customClaims{raw: raw, names: names}
	}
}

// User returns the user the claims are of, as [UserFrom] does: its ID and
// the token's custom claims (every claim but the registered ones: token
// type, user id, jti, exp, iat, nbf, auth_time, refresh_exp, iss, aud,
// stamp, sid), or,
// behind the middleware with [WithUserCheck], the user as the [UserLoader]
// returned it. Custom claims are decoded on first use and cached: the map is shared,
// so treat it as read-only; a token without any yields a nil map.
func (c *Claims) User() User {
	if c.user != nil {
		return *c.user
	}
	custom, _ := c.custom() // verified and scanned already: cannot fail in practice
	return User{ID: c.UserID, Claims: custom}
}

// custom decodes the token's custom claims, once: encoding/json, numbers
// as json.Number, the registered claims left out.
func (c *Claims) custom() (map[string]any, error) {
	cc := c.extra
	if cc == nil {
		return nil, nil
	}
	cc.once.Do(func() {
		var all map[string]any
		d := json.NewDecoder(bytes.NewReader(cc.raw))
		d.UseNumber()
		if err := d.Decode(&all); err != nil {
			cc.err = errors.Join(ErrTokenInvalid, err)
			return
		}
		for k := range all {
			if cc.names.IsReserved(k) {
				delete(all, k)
			}
		}
		if len(all) > 0 {
			cc.decoded = all
		}
	})
	return cc.decoded, cc.err
}

// checkClaims applies the claim rules, at now (the Auth's clock), to the
// claims set of a verified token, in the order simplejwt does, so that a token failing several gets
// simplejwt's verdict: first PyJWT's (iat and nbf not in the future, exp
// not past, with the leeway; the issuer and audience), then simplejwt's
// (exp, jti, of at most 255 bytes, and the token type present, one of
// want), and last the user id, which simplejwt's authentication asks for.
func (a *Auth) checkClaims(s *claimset.Set, want tokenKind, now time.Time) error {
	early := now.Add(a.leeway)
	if s.Has(claimset.Iat) && s.IssuedAt.After(early) || s.Has(claimset.Nbf) && s.NotBefore.After(early) {
		return ErrTokenInvalid
	}
	complete := s.Has(claimset.TokenType|claimset.UserID|claimset.JTI|claimset.Exp) && s.JTI != "" && len(s.JTI) <= 255
	if (complete || s.Has(claimset.Exp)) && !now.Before(s.ExpiresAt.Add(a.leeway)) {
		return ErrTokenExpired
	}
	if a.issuer != "" && s.Issuer != a.issuer {
		return ErrTokenInvalid
	}
	if s.Has(claimset.Aud) || len(a.audience) > 0 {
		if !slices.ContainsFunc(s.Audience, func(v string) bool { return slices.Contains(a.audience, v) }) {
			return ErrTokenInvalid
		}
	}
	if !complete {
		return missingClaim(s, want)
	}
	if kindOf(s.TokenType)&want == 0 {
		return ErrTokenWrongType
	}
	return nil
}

// missingClaim is checkClaims' verdict on a token that lacks a required
// claim, or whose jti is empty or too long, in simplejwt's order.
func missingClaim(s *claimset.Set, want tokenKind) error {
	switch {
	case !s.Has(claimset.Exp):
		return errNoExp
	case !s.Has(claimset.JTI):
		return errNoJTI
	case s.JTI == "" || len(s.JTI) > 255:
		return ErrTokenInvalid
	case !s.Has(claimset.TokenType):
		return errNoType
	case kindOf(s.TokenType)&want == 0:
		return ErrTokenWrongType
	}
	return errNoUserID
}

// tokenKind is a set of token types, as bits: what a verification wants,
// or, of one bit, a token's type.
type tokenKind uint8

const (
	kindAccess tokenKind = 1 << iota
	kindRefresh
	kindSliding
)

// kindOf is the kind of a token type; 0 for a type jwtpair has no use for.
func kindOf(typ string) tokenKind {
	switch typ {
	case TokenTypeAccess:
		return kindAccess
	case TokenTypeRefresh:
		return kindRefresh
	case TokenTypeSliding:
		return kindSliding
	}
	return 0
}
