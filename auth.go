package jwtpair

import (
	"cmp"
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

	ring      *keyring        // fixed keys; nil with a JWKS URL
	remote    *remoteKeys     // keys from a JWKS URL; nil otherwise (jwks.go)
	cookies   *cookieMode     // nil unless WithCookies (cookies.go)
	stampKeys []derivedKey    // key the stamp claim; the first is current (stamp.go); nil without a secret
	revoked   *revocations    // the revoked set; nil with WithoutRevocationFeed (revocations.go)
	verified  *verifiedTokens // tokens verified recently; nil with WithVerifiedTokenCache(0) (verified.go)
}

// New returns an Auth configured by opts. Defaults are secure (HS256,
// 5-minute access and 24-hour refresh tokens, rotation with reuse detection,
// an in-memory store whose revocation feed ends sessions' access tokens
// within a second); a signing key and an Authenticator are required (a
// resource server made with WithJWKSURL needs neither). Every bad option,
// and every bad combination, is an error here, never a panic or a surprise
// on the first request; the error reports every problem at once.
//
// New starts following the store's revocation feed (see
// [WithRevocationStaleness]) and waits up to 2 seconds for its first
// reading; call [Auth.Close] to stop it.
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
	c.checkSliding() // sliding.go
	c.checkRotation()
	c.checkAdoption() // adopt.go
	c.buildClaims()
	c.buildHeader()
	c.checkLimits()
	c.buildThrottle() // throttle.go
	c.checkSecret()
	a.stampKeys = c.buildStampKeys()
	a.cookies = c.buildCookies()
	feed := c.checkFeed()
	if err := errors.Join(c.errs...); err != nil {
		return nil, err
	}
	c.boundStoreCalls() // store.go: last, once the store's other faces are known
	a.settings = c.settings
	a.verified = newVerifiedTokens(c.verifiedSlots)
	for _, w := range c.warnings {
		a.logger.Warn(w)
	}
	if c.jwks != nil {
		var err error
		if a.remote, err = newRemoteKeys(c.jwks, c.alg, c.now, c.logger, a.emit); err != nil {
			return nil, err
		}
	}
	if feed != nil {
		a.revoked = startRevocations(feed, &a.settings)
	}
	return a, nil
}

// Close stops the background work of the Auth: following the revocation
// feed, and refreshing the key set of WithJWKSURL. It waits for it to
// stop, and is safe to call more than once. After Close, requests that
// need the revoked set answer 503 once it is stale.
func (a *Auth) Close() error {
	if a.remote != nil {
		a.remote.close()
	}
	if a.revoked != nil {
		a.revoked.close()
	}
	return nil
}

// Pair is an access token and a refresh token, in simplejwt's JSON shape,
// with their expiries for programmatic callers (not part of that shape:
// see [WithExpiriesInBody] for clients).
type Pair struct {
	Refresh string `json:"refresh,omitempty"`
	Access  string `json:"access"`

	// AccessExpires is the access token's exp claim, in whole seconds.
	AccessExpires time.Time `json:"-"`
	// RefreshExpires is the exp claim of the refresh token in force:
	// Refresh's, or, when [Auth.Refresh] does not rotate (Refresh is
	// empty), the presented token's. Its session may end sooner
	// ([WithMaxSessionAge] shortens the tokens' exp to its end; a logout or
	// reuse detection ends it at any time).
	RefreshExpires time.Time `json:"-"`
}

// subject is what the claims of a user's tokens are minted from.
type subject struct {
	id       string
	custom   []byte    // pre-encoded custom claims (see encodeCustomClaims)
	stamp    string    // the stamp claim: stampClaim of the user's stamp; "" without one
	sid      string    // the session
	authTime time.Time // when the session began, in whole seconds (the auth_time claim)
	ends     time.Time // the session's absolute expiry (WithMaxSessionAge); zero: none
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

// recordExpiry is when the store may forget a refresh token whose exp is
// exp: when the token stops verifying, its exp plus the leeway (a record
// gone earlier would turn a still-valid token into an unknown one, and its
// reuse into no reuse at all).
func (a *Auth) recordExpiry(exp time.Time) time.Time { return exp.Add(a.leeway) }

// session sets sub's session: its id, when it began, and its end with
// WithMaxSessionAge.
func (a *Auth) session(sub *subject, sid string, began time.Time) {
	sub.sid, sub.authTime = sid, time.Unix(began.Unix(), 0)
	if a.maxSessionAge > 0 {
		sub.ends = sub.authTime.Add(a.maxSessionAge)
	}
}

// IssuePair issues a new pair for u, starting a new session (a login), for
// custom login views, with the tokens' expiries. It records no client
// metadata (see [WithSessionInfo]). It costs one store round trip.
func (a *Auth) IssuePair(ctx context.Context, u User) (Pair, error) {
	g, err := a.issuePair(ctx, u, nil)
	return g.Pair, err
}

// grant is a pair as minted, with its expiries known at minting (so that
// no token just minted is verified again), and what cookie mode needs to
// know of it: the session its access token names (user id, stamp claim,
// sid).
type grant struct {
	Pair
	session subject // what the access token carries of its subject
}

// issuePair is IssuePair, returning the grant; client is the session's
// metadata, bounded already (boundClient), or nil.
func (a *Auth) issuePair(ctx context.Context, u User, client map[string]string) (grant, error) {
	sub, err := a.subjectOf(u)
	if err != nil {
		return grant{}, err
	}
	now := a.now()
	a.session(&sub, newID(), now)
	refresh, err := a.mint(TokenTypeRefresh, sub, now, a.refreshTTL)
	if err != nil {
		return grant{}, err
	}
	access, err := a.mint(TokenTypeAccess, sub, now, a.accessTTL)
	if err != nil {
		return grant{}, err
	}
	rec := Record{JTI: refresh.jti, UserID: u.ID, SessionID: sub.sid, ExpiresAt: a.recordExpiry(refresh.exp)}
	opts := IssueOptions{AbsoluteExpiry: sub.ends, Client: client, MaxSessions: a.maxSessions}
	ended, err := a.store.Issue(ctx, rec, opts)
	if err != nil {
		return grant{}, storeError(err)
	}
	a.emitLogin(ctx, u.ID, sub.sid, ended)
	return grant{
		Pair:    Pair{Refresh: refresh.token, Access: access.token, AccessExpires: access.exp, RefreshExpires: refresh.exp},
		session: sub,
	}, nil
}

// Refresh exchanges a refresh token for a new access token and, when
// rotating, a new refresh token (Pair.Refresh is empty otherwise), in the
// same session, with the expiries of both (Pair.RefreshExpires is the
// presented token's when not rotating). It costs one store round trip, plus the UserLoader's call
// when the Authenticator has one. A token whose user stamp no longer
// matches the user's (a password change) is refused and its session
// ended.
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
	sub, err := a.refreshedSubject(ctx, c)
	if err != nil {
		return grant{}, err
	}
	now := a.now()
	// The session goes on: its id and start from the token (one minted
	// without auth_time dates it from its own iat, or now; one without
	// sid, simplejwt's, is a session named by its jti: adopt.go).
	began := cmp.Or(c.AuthTime, c.IssuedAt, now)
	sid := cmp.Or(c.SessionID, c.JTI)
	a.session(&sub, sid, began)
	if !sub.ends.IsZero() && !now.Before(sub.ends) {
		return grant{}, ErrTokenExpired // past WithMaxSessionAge: within the leeway of its exp
	}
	g := grant{Pair: Pair{RefreshExpires: c.ExpiresAt}}
	if a.rotate {
		refresh, err := a.mint(TokenTypeRefresh, sub, now, a.refreshTTL)
		if err != nil {
			return grant{}, err
		}
		next := Record{JTI: refresh.jti, UserID: c.UserID, SessionID: sid, ExpiresAt: a.recordExpiry(refresh.exp)}
		opts := RotateOptions{Grace: a.grace, KeepPresented: !a.blacklistAfterRotation}
		if err := a.withAdoption(ctx, c, func() error { return a.store.Rotate(ctx, tokenOf(c), next, opts) }); err != nil {
			if errors.Is(err, ErrTokenReused) {
				a.emit(ctx, Event{Kind: EventReuseDetected, UserID: c.UserID, SessionID: sid})
			}
			return grant{}, storeError(err)
		}
		g.Refresh, g.RefreshExpires = refresh.token, refresh.exp
	} else if err := a.withAdoption(ctx, c, func() error { return a.store.Check(ctx, tokenOf(c)) }); err != nil {
		return grant{}, storeError(err)
	}
	g.session = sub
	access, err := a.mint(TokenTypeAccess, g.session, now, a.accessTTL)
	if err != nil {
		return grant{}, err
	}
	g.Access, g.AccessExpires = access.token, access.exp
	a.emit(ctx, Event{Kind: EventRefreshed, UserID: c.UserID, SessionID: sid})
	return g, nil
}

// refreshedSubject is what the tokens minted by a refresh of the verified
// token c carry of their subject: the user as the UserLoader loads it now,
// or, without one, the user id, stamp and custom claims of c. A token
// whose user stamp changed (the user's credentials changed since its
// session began) has its session ended, and is refused.
func (a *Auth) refreshedSubject(ctx context.Context, c *Claims) (subject, error) {
	sub := subject{id: c.UserID, stamp: c.Stamp}
	if a.loader == nil {
		var err error
		sub.custom, err = a.customFromToken(c)
		return sub, err
	}
	u, err := a.loadUser(ctx, c)
	if errors.Is(err, errStampMismatch) {
		// End the session (for a token without sid, Revoke finds it by
		// jti). The store's feed takes the end to the access tokens.
		var rerr error
		if c.SessionID != "" {
			rerr = a.store.EndSession(ctx, c.UserID, c.SessionID)
		} else {
			rerr = a.store.Revoke(ctx, tokenOf(c))
		}
		if rerr != nil && !errors.Is(rerr, ErrTokenBlacklisted) && !errors.Is(rerr, ErrTokenNotFound) {
			return subject{}, storeError(rerr)
		}
		a.emitStampChanged(ctx, c, rerr == nil)
		return subject{}, ErrTokenBlacklisted
	}
	if err != nil {
		return subject{}, err
	}
	return a.subjectOf(u)
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

// VerifyAccess checks an access token without HTTP and returns its
// claims, as the middleware does: with [WithSlidingTokens] it accepts a
// sliding token too; a token of an ended session is refused
// (ErrTokenBlacklisted), and when the revoked set is stale the answer is
// an error wrapping ErrStoreUnavailable (see [WithRevocationStaleness]).
// It does no I/O.
func (a *Auth) VerifyAccess(ctx context.Context, token string) (*Claims, error) {
	now := a.now()
	cc, err := a.verifyToken(token, a.bearerKind, now)
	if err != nil {
		return nil, err
	}
	if err := a.revokedCheck(cc, now); err != nil {
		return nil, err
	}
	return &cc.claims, nil
}

// Verify checks a token of any type, as the verify endpoint does: access,
// refresh, and with [WithSlidingTokens] sliding. A refresh token is also
// looked up in the store (one round trip), so a blacklisted or rotated one
// fails; an access or sliding token is checked as [Auth.VerifyAccess]
// does, with no I/O.
func (a *Auth) Verify(ctx context.Context, token string) (*Claims, error) {
	now := a.now()
	cc, err := a.verifyToken(token, a.anyKind, now)
	if err != nil {
		return nil, err
	}
	c := &cc.claims
	if c.TokenType == TokenTypeRefresh {
		err := a.store.Check(ctx, tokenOf(c))
		if errors.Is(err, ErrTokenNotFound) {
			err = a.adoptable(c) // one the window adopts verifies, unrecorded (adopt.go)
		}
		if err != nil {
			return nil, storeError(err)
		}
	} else if err := a.revokedCheck(cc, now); err != nil {
		return nil, err
	}
	return c, nil
}

// checkRevoked looks up the session of verified access-token claims in the
// revoked set: ErrTokenBlacklisted when it has ended, an error wrapping
// ErrStoreUnavailable when the set is stale, nil without a feed.
func (a *Auth) checkRevoked(c *Claims) error { return a.checkRevokedAt(c, nil, time.Time{}) }

// revokedCheck is checkRevoked of the claims verifyToken returned,
// verified at now: the same reading of the clock serves the set's
// freshness when it is time.Now's, and the key of the session id, when
// the cache of verified tokens computed it, serves the lookup.
func (a *Auth) revokedCheck(cc *claimsContext, now time.Time) error {
	if !a.monotonic {
		now = time.Time{} // no monotonic reading: the revoked set reads its own
	}
	return a.checkRevokedAt(&cc.claims, cc.sid, now)
}

// checkRevokedAt is checkRevoked with sid, the key of c's session id in
// the set when the caller has it (nil otherwise), and now, a reading of
// time.Now (with its monotonic clock) for the set's freshness, or zero for
// the set to read its own.
func (a *Auth) checkRevokedAt(c *Claims, sid *idKey, now time.Time) error {
	if a.revoked == nil {
		return nil
	}
	return a.revoked.check(c, sid, now)
}

// tokenOf is what the store is told of a verified refresh token.
func tokenOf(c *Claims) Token {
	return Token{JTI: c.JTI, UserID: c.UserID, SessionID: c.SessionID}
}

// Revoke logs out, as the blacklist endpoint does: it ends the refresh
// token's session (every rotation and grace sibling of the login) in the
// store, and through its revocation feed the session's access tokens on
// every instance. With [WithSlidingTokens] it takes a sliding token too,
// as [Auth.SlidingBlacklistHandler] does, and ends its session alike. One
// store round trip.
func (a *Auth) Revoke(ctx context.Context, refreshToken string) error {
	c, err := a.verifyAs(refreshToken, (kindRefresh|kindSliding)&a.anyKind)
	if err != nil {
		return err
	}
	return a.revoke(ctx, c)
}

// revoke is Revoke of a refresh token already verified, whose claims are c.
func (a *Auth) revoke(ctx context.Context, c *Claims) error {
	if err := a.withAdoption(ctx, c, func() error { return a.store.Revoke(ctx, tokenOf(c)) }); err != nil {
		return storeError(err)
	}
	a.emit(ctx, Event{Kind: EventLoggedOut, UserID: c.UserID, SessionID: cmp.Or(c.SessionID, c.JTI)})
	return nil
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
