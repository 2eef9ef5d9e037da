package jwtpair

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Auth issues, verifies, refreshes and revokes token pairs. Build one with
// [New]; its configuration is fixed from then on and all its methods are
// safe for concurrent use.
type Auth struct {
	settings // as New checked and completed them (options.go)

	ring      *keyring     // fixed keys; nil with a JWKS URL
	remote    *remoteKeys  // keys from a JWKS URL; nil otherwise (jwks.go)
	cookies   *cookieMode  // nil unless WithCookies (cookies.go)
	stampKeys []derivedKey // key the stamp claim; the first is current (stamp.go); nil without a secret
}

// New returns an Auth configured by opts. Defaults are secure (HS256,
// 5-minute access and 24-hour refresh tokens, rotation with reuse detection,
// an in-memory store); a signing key and an Authenticator are required (a
// resource server made with WithJWKSURL needs neither). Every bad option,
// and every bad combination, is an error here, never a panic or a surprise
// on the first request; the error reports every problem at once.
func New(opts ...Option) (*Auth, error) {
	c := defaultConfig()
	for _, o := range opts {
		if o == nil {
			c.bad("nil Option")
			continue
		}
		c.fail(o.apply(&c))
	}
	// One check per concern, each building its part; nothing starts (no
	// JWKS client) before every part is known to be right.
	a := &Auth{ring: c.buildKeys()}
	c.checkJWKS()
	c.checkUsers()
	c.checkLifetimes()
	c.checkRotation()
	c.buildClaims()
	c.buildHeader()
	c.checkLimits()
	c.buildThrottle() // throttle.go
	c.checkSecret()
	a.stampKeys = c.buildStampKeys()
	a.cookies = c.buildCookies()
	if err := errors.Join(c.errs...); err != nil {
		return nil, err
	}
	a.settings = c.settings
	for _, w := range c.warnings {
		a.logger.Warn(w)
	}
	if c.jwks != nil {
		var err error
		if a.remote, err = newRemoteKeys(c.jwks, c.alg, c.now, c.logger); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// Close stops the background work of an Auth made with WithJWKSURL. It is
// safe to call more than once, and a no-op for other Auths.
func (a *Auth) Close() error {
	if a.remote != nil {
		a.remote.close()
	}
	return nil
}

// Pair is an access token and a refresh token, in simplejwt's JSON shape.
type Pair struct {
	Refresh string `json:"refresh,omitempty"`
	Access  string `json:"access"`
}

// subject is what the claims of a user's tokens are minted from.
type subject struct {
	id     string
	custom []byte // pre-encoded custom claims (see encodeCustomClaims)
	stamp  string // the stamp claim: stampClaim of the user's stamp; "" without one
	sid    string // the session: the refresh token's family
}

// subjectOf validates u and encodes what its tokens carry.
func (a *Auth) subjectOf(u User) (subject, error) {
	if u.ID == "" {
		return subject{}, errors.New("jwtpair: user has no ID")
	}
	if !utf8.ValidString(u.ID) {
		// encoding/json would write another id (invalid bytes as U+FFFD),
		// one that distinct users could share.
		return subject{}, errors.New("jwtpair: user ID is not valid UTF-8: a token cannot carry it unchanged")
	}
	custom, err := a.encodeCustomClaims(u.Claims)
	if err != nil {
		return subject{}, err
	}
	stamp, err := a.stampClaim(u.ID, u.Stamp)
	if err != nil {
		return subject{}, err
	}
	return subject{id: u.ID, custom: custom, stamp: stamp}, nil
}

// recordExpiry is when the store may forget a refresh token minted at now:
// when the token stops verifying, its exp plus the leeway (a record gone
// earlier would turn a still-valid token into an unknown one, and its reuse
// into no reuse at all).
func (a *Auth) recordExpiry(now time.Time) time.Time {
	return time.Unix(now.Add(a.refreshTTL).Unix(), 0).Add(a.leeway)
}

// accessSubject is sub for an access token: the session id stays out of
// access tokens (they stay simplejwt's claim set, and small) except in
// cookie mode, where CSRF tokens are bound to it.
func (a *Auth) accessSubject(sub subject) subject {
	if a.cookies == nil {
		sub.sid = ""
	}
	return sub
}

// IssuePair issues a new pair for u, starting a new token family (a login),
// for custom login views. It costs one store round trip.
func (a *Auth) IssuePair(ctx context.Context, u User) (Pair, error) {
	g, err := a.issuePair(ctx, u)
	return g.Pair, err
}

// grant is a pair as minted, with what cookie mode needs to know of it:
// the session its access token names (user id, stamp claim, sid) and the
// expiries, known at minting, so that no token just minted is verified
// again.
type grant struct {
	Pair
	session    subject   // what the access token carries of its subject
	accessExp  time.Time // the access token's exp
	refreshExp time.Time // the exp of the refresh token in force: Pair.Refresh's, or the presented one's
}

// issuePair is IssuePair, returning the grant.
func (a *Auth) issuePair(ctx context.Context, u User) (grant, error) {
	sub, err := a.subjectOf(u)
	if err != nil {
		return grant{}, err
	}
	family := newID()
	sub.sid = family
	now := a.now()
	refresh, err := a.mint(TokenTypeRefresh, sub, now, a.refreshTTL)
	if err != nil {
		return grant{}, err
	}
	asub := a.accessSubject(sub)
	access, err := a.mint(TokenTypeAccess, asub, now, a.accessTTL)
	if err != nil {
		return grant{}, err
	}
	rec := Record{JTI: refresh.jti, UserID: u.ID, FamilyID: family, ExpiresAt: a.recordExpiry(now)}
	if err := a.store.Issue(ctx, rec); err != nil {
		return grant{}, storeError(err)
	}
	return grant{
		Pair:       Pair{Refresh: refresh.token, Access: access.token},
		session:    asub,
		accessExp:  access.exp,
		refreshExp: refresh.exp,
	}, nil
}

// Refresh exchanges a refresh token for a new access token and, when
// rotating, a new refresh token (Pair.Refresh is empty otherwise). It costs
// one store round trip, plus the UserLoader's call when the Authenticator
// has one. A token whose user stamp no longer matches the user's (a
// password change) is revoked and refused.
func (a *Auth) Refresh(ctx context.Context, refreshToken string) (Pair, error) {
	c, err := a.verify(refreshToken, TokenTypeRefresh)
	if err != nil {
		return Pair{}, err
	}
	g, err := a.refresh(ctx, c)
	return g.Pair, err
}

// refresh is Refresh of a refresh token already verified, whose claims
// are c: the token is checked once, and what decided on it (the cookie
// endpoints' CSRF check) decided on the very claims refreshed.
func (a *Auth) refresh(ctx context.Context, c *Claims) (grant, error) {
	sub := subject{id: c.UserID, stamp: c.Stamp}
	if a.loader != nil {
		u, err := a.loadUser(ctx, c)
		if errors.Is(err, errStampMismatch) {
			// The user's credentials changed since this session began: end
			// it, the whole family (refresh tokens carry it as sid; for one
			// minted before they did, Revoke finds the family by jti).
			var rerr error
			if c.SessionID != "" {
				rerr = a.store.RevokeFamily(ctx, c.SessionID)
			} else {
				rerr = a.store.Revoke(ctx, c.JTI)
			}
			if rerr != nil && !errors.Is(rerr, ErrTokenBlacklisted) && !errors.Is(rerr, ErrTokenNotFound) {
				return grant{}, storeError(rerr)
			}
			return grant{}, ErrTokenBlacklisted
		}
		if err != nil {
			return grant{}, err
		}
		if sub, err = a.subjectOf(u); err != nil {
			return grant{}, err
		}
	} else {
		var err error
		if sub.custom, err = a.customFromToken(c); err != nil {
			return grant{}, err
		}
	}
	sub.sid = c.SessionID // the session goes on

	now := a.now()
	g := grant{refreshExp: c.ExpiresAt}
	if a.rotate {
		refresh, err := a.mint(TokenTypeRefresh, sub, now, a.refreshTTL)
		if err != nil {
			return grant{}, err
		}
		next := Record{JTI: refresh.jti, UserID: c.UserID, ExpiresAt: a.recordExpiry(now)}
		opts := RotateOptions{Grace: a.grace, KeepPresented: !a.blacklistAfterRotation}
		if err := a.store.Rotate(ctx, c.JTI, next, opts); err != nil {
			return grant{}, storeError(err)
		}
		g.Refresh, g.refreshExp = refresh.token, refresh.exp
	} else if err := a.store.Check(ctx, c.JTI); err != nil {
		return grant{}, storeError(err)
	}
	g.session = a.accessSubject(sub)
	access, err := a.mint(TokenTypeAccess, g.session, now, a.accessTTL)
	if err != nil {
		return grant{}, err
	}
	g.Access, g.accessExp = access.token, access.exp
	return g, nil
}

// errStampMismatch: the token's user stamp is not the user's current one.
// It matches ErrTokenBlacklisted.
var errStampMismatch = fmt.Errorf("%w: the user's stamp changed", ErrTokenBlacklisted)

// loadUser loads the user a verified token names and checks its stamp.
// It returns an error wrapping ErrUserNotFound for a deleted user (or a
// loader answering for another), ErrUserInactive for an inactive one,
// errStampMismatch when the stamp changed, one wrapping
// ErrStoreUnavailable when the loader fails, and errNoStampKey (500) for a
// stamped user without a server secret.
func (a *Auth) loadUser(ctx context.Context, c *Claims) (User, error) {
	u, err := a.loader.LoadUser(ctx, c.UserID)
	switch {
	case errors.Is(err, ErrUserInactive), errors.Is(err, ErrUserNotFound):
		return User{}, err
	case err != nil:
		return User{}, fmt.Errorf("%w: loading user: %w", ErrStoreUnavailable, err)
	case u.ID != c.UserID && !utf8.ValidString(u.ID):
		return User{}, fmt.Errorf("jwtpair: UserLoader returned a user ID that is not valid UTF-8 for %q", c.UserID)
	case u.ID != c.UserID:
		return User{}, fmt.Errorf("%w: loader returned user %q for %q", ErrUserNotFound, u.ID, c.UserID)
	}
	switch ok, err := a.stampMatches(c, u.Stamp); {
	case err != nil:
		return User{}, err
	case !ok:
		return User{}, errStampMismatch
	}
	return u, nil
}

// customFromToken re-encodes the custom claims a refresh token carries, for
// the access tokens it mints when there is no UserLoader.
func (a *Auth) customFromToken(c *Claims) ([]byte, error) {
	m, err := c.custom()
	if err != nil || m == nil {
		return nil, err
	}
	return a.encodeCustomClaims(m)
}

// VerifyAccess checks an access token without HTTP and returns its claims.
// It does no I/O.
func (a *Auth) VerifyAccess(ctx context.Context, token string) (*Claims, error) {
	return a.verify(token, TokenTypeAccess)
}

// Verify checks a token of either type, as the verify endpoint does. A
// refresh token is also looked up in the store (one round trip), so a
// blacklisted or rotated one fails; an access token costs no I/O.
func (a *Auth) Verify(ctx context.Context, token string) (*Claims, error) {
	c, err := a.verify(token, "")
	if err != nil {
		return nil, err
	}
	if c.TokenType == TokenTypeRefresh {
		if err := a.store.Check(ctx, c.JTI); err != nil {
			return nil, storeError(err)
		}
	}
	return c, nil
}

// Revoke logs out, as the blacklist endpoint does: it ends the refresh
// token's session, revoking its whole family (every rotation and grace
// sibling of the login) in the store. One store round trip.
func (a *Auth) Revoke(ctx context.Context, refreshToken string) error {
	c, err := a.verify(refreshToken, TokenTypeRefresh)
	if err != nil {
		return err
	}
	return a.revoke(ctx, c)
}

// revoke is Revoke of a refresh token already verified, whose claims are c.
func (a *Auth) revoke(ctx context.Context, c *Claims) error {
	return storeError(a.store.Revoke(ctx, c.JTI))
}

// RevokeUser revokes every refresh token of a user (logout everywhere, or
// after a password change). Access tokens already issued stay valid until
// they expire, at most the access TTL; to end them at once too, also change
// the user's [User.Stamp] and use [WithUserCheck].
func (a *Auth) RevokeUser(ctx context.Context, userID string) error {
	if userID == "" {
		return errors.New("jwtpair: empty user ID")
	}
	return storeError(a.store.RevokeUser(ctx, userID))
}

// storeError passes the store's token verdicts through and makes sure every
// other failure wraps ErrStoreUnavailable, so that it is answered with 503
// even from a store that forgot to wrap it.
func storeError(err error) error {
	switch {
	case err == nil,
		errors.Is(err, ErrStoreUnavailable),
		errors.Is(err, ErrTokenNotFound),
		errors.Is(err, ErrTokenBlacklisted),
		errors.Is(err, ErrTokenReused):
		return err
	}
	return fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
}
