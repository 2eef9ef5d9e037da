package jwtpair

import (
	"cmp"
	"context"
	"errors"
	"time"
)

// Moving from simplejwt. simplejwt's refresh tokens carry no sid: each is
// a session of its own here, named by its jti, whether the importer
// (package simplejwtimport) recorded it or the adoption window below
// adopts it on first use. Every token a refresh mints from one carries
// that sid (Auth.refresh), so from the first refresh on the session is
// like any login's: listed, ended with its access tokens, capped.

// adoption is WithSimplejwtAdoption's window; the zero value is none.
type adoption struct {
	cutover time.Time // tokens issued (iat) before it are adopted
	until   time.Time // the window closes then, on the Auth's clock
}

// WithSimplejwtAdoption opens an adoption window for a move from
// simplejwt without logging anyone out. Until until, on the Auth's clock
// ([WithClock]), a refresh token the store does not know (its answer is
// [ErrTokenNotFound]) is adopted on its first use, when:
//
//   - it carries no sid claim: simplejwt mints none, and every token an
//     Auth mints carries one, so a session the store ended and forgot (the
//     per-user cap's eviction, an expired record) is never brought back;
//   - its iat is before cutover: set cutover to when simplejwt stops
//     issuing tokens, so that no token a simplejwt left running mints
//     afterwards is taken in (iat is the minter's word: this is no
//     defence against a stolen key, which mints access tokens anyway);
//   - the revoked set does not cover it: neither a "log out everywhere"
//     of its user after its iat, nor the end of its session (by its jti)
//     within the revocation feed's cover ([WithRevocationStaleness]; a
//     stale set answers 503).
//
// The token has passed every check a refresh token passes first
// (signature, exp, type, user, [UserLoader]). Adopting it records it with
// Store.Issue as a session of its own, named by its jti (the session the
// simplejwtimport package would have recorded for it), and then uses it
// as any other token: the refresh rotates it, so a second use is reuse
// and ends the session; the blacklist endpoint ends it; the verify
// endpoint answers 200 without recording it. It is atomic across
// instances: Store.Issue records a jti once, and of several first uses of
// one token, at once, one rotation succeeds and the others are reuse, as
// for any token.
//
// Without this option (the default), an unknown token is refused (401).
// cutover must be before until; New refuses it on a resource server
// ([WithJWKSURL]), which refreshes nothing. Import simplejwt's tables
// with simplejwtimport first, so that its blacklisted tokens stay refused
// (README, "Migrating from simplejwt").
func WithSimplejwtAdoption(cutover, until time.Time) Option {
	return option(func(c *config) error {
		switch {
		case !c.adopt.until.IsZero():
			return errors.New("jwtpair: WithSimplejwtAdoption given twice")
		case cutover.IsZero() || until.IsZero():
			return errors.New("jwtpair: WithSimplejwtAdoption needs a cutover and an end")
		case !cutover.Before(until):
			return errors.New("jwtpair: WithSimplejwtAdoption's window must end after its cutover")
		}
		c.adopt = adoption{cutover: cutover, until: until}
		return nil
	})
}

// checkAdoption checks the adoption window against the rest.
func (c *config) checkAdoption() {
	switch {
	case c.adopt.until.IsZero():
	case c.jwks != nil:
		c.bad("WithSimplejwtAdoption on a resource server (WithJWKSURL): it refreshes no tokens, so it has none to adopt")
	case !c.now().Before(c.adopt.until):
		c.warnings = append(c.warnings, "jwtpair: the WithSimplejwtAdoption window has closed: remove the option")
	}
}

// adoptable is the window's verdict on the refresh token of c, which the
// store does not know: nil when it is adopted, ErrTokenNotFound (the
// store's verdict stands) when the window does not take it, or the
// revoked set's verdict.
func (a *Auth) adoptable(c *Claims) error {
	w := a.adopt
	if w.until.IsZero() || c.SessionID != "" || c.IssuedAt.IsZero() || !c.IssuedAt.Before(w.cutover) || !a.now().Before(w.until) {
		return ErrTokenNotFound
	}
	if err := a.checkRevoked(c); err != nil { // its user's every session, by iat
		return err
	}
	return a.checkRevoked(&Claims{UserID: c.UserID, SessionID: c.JTI}) // its own session
}

// withAdoption runs op, a store call on the refresh token of c; when the
// store does not know the token and the window adopts it, it records the
// token as a session of its own and runs op again. Two instances adopting
// one token at once both run op again: Issue records it once (the other's
// fails), and the store decides between the two calls of op as between
// any two.
func (a *Auth) withAdoption(ctx context.Context, c *Claims, op func() error) error {
	err := op()
	if !errors.Is(err, ErrTokenNotFound) {
		return err
	}
	if err := a.adoptable(c); err != nil {
		return err
	}
	var sub subject
	a.session(&sub, c.JTI, cmp.Or(c.AuthTime, c.IssuedAt))
	exp := c.ExpiresAt
	if c.TokenType == TokenTypeSliding {
		exp = c.RefreshExpiresAt // the session lives until then
	}
	rec := Record{JTI: c.JTI, UserID: c.UserID, SessionID: c.JTI, ExpiresAt: a.recordExpiry(exp)}
	ended, ierr := a.store.Issue(ctx, rec, IssueOptions{AbsoluteExpiry: sub.ends, MaxSessions: a.maxSessions})
	a.emitCapEnded(ctx, c.UserID, ended)
	if err = op(); errors.Is(err, ErrTokenNotFound) && ierr != nil {
		return ierr // not recorded, by this call or another
	}
	return err
}
