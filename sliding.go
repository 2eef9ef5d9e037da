package jwtpair

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/jwtpair/jwtpair/internal/claimset"
)

// Sliding tokens (WithSlidingTokens): simplejwt's SlidingToken, one token
// that authenticates requests and is refreshed in place. Each sliding
// login is a session, as a pair's login is: its token carries the sid, the
// store records it (its one token's jti, until refresh_exp), a refresh
// asks the store whether the session lives, and ending the session reaches
// the token through the revoked set, with no I/O per request.

// errSlidingOff: a sliding-token method of an Auth made without
// WithSlidingTokens. 500: a programming error.
var errSlidingOff = errors.New("jwtpair: sliding tokens are not enabled (WithSlidingTokens)")

// slidingBody is the JSON body of the sliding endpoints' answers.
type slidingBody struct {
	Token string `json:"token"`
}

// checkSliding checks WithSlidingTokens and sets the token kinds the
// verify endpoint and the middleware accept.
func (c *config) checkSliding() {
	c.anyKind, c.bearerKind = kindAccess|kindRefresh, kindAccess
	if !c.slidingSet {
		return
	}
	c.anyKind |= kindSliding
	c.bearerKind |= kindSliding
	ttl, refresh := c.slidingTTL, c.slidingRefreshTTL
	if ttl <= 0 || refresh <= 0 || ttl%time.Second != 0 || refresh%time.Second != 0 {
		c.bad("sliding TTLs must be positive whole seconds (exp counts seconds), got %v and %v", ttl, refresh)
		return
	}
	switch {
	case ttl > maxAccessTTL:
		c.bad("sliding TTL %v is over %v: a sliding token is checked without I/O, as an access token is; keep it short (default %v)", ttl, maxAccessTTL, DefaultSlidingTTL)
	case ttl > refresh:
		c.bad("sliding TTL (%v) longer than the sliding refresh TTL (%v)", ttl, refresh)
	case c.leeway >= ttl:
		c.bad("leeway (%v) must be shorter than the sliding TTL (%v)", c.leeway, ttl)
	case c.maxSessionAge > 0 && c.maxSessionAge < ttl:
		c.bad("max session age (%v) shorter than the sliding TTL (%v)", c.maxSessionAge, ttl)
	}
	if c.cookies != nil && c.cookies.OmitBodyTokens {
		c.bad("WithSlidingTokens answers the sliding token in the body, which CookieOptions.OmitBodyTokens forbids")
	}
}

// IssueSliding issues a sliding token for u, starting a new session (a
// login), for custom login views; it records no client metadata (see
// [WithSessionInfo]). It costs one store round trip. It needs
// [WithSlidingTokens].
func (a *Auth) IssueSliding(ctx context.Context, u User) (string, error) {
	m, err := a.issueSliding(ctx, u, nil)
	return m.token, err
}

// issueSliding is IssueSliding, with the session's client metadata
// (bounded already, see boundClient) or nil.
func (a *Auth) issueSliding(ctx context.Context, u User, client map[string]string) (minted, error) {
	if a.slidingTTL == 0 {
		return minted{}, errSlidingOff
	}
	sub, err := a.subjectOf(u)
	if err != nil {
		return minted{}, err
	}
	now := a.now()
	a.session(&sub, newID(), now)
	opts := IssueOptions{AbsoluteExpiry: sub.ends, Client: client, MaxSessions: a.maxSessions}
	refreshExp := a.slidingEnd(&sub, now.Add(a.slidingRefreshTTL))
	tok, err := a.mintSet(claimset.Set{TokenType: TokenTypeSliding, JTI: newID(), RefreshExp: refreshExp}, sub, now, a.slidingTTL)
	if err != nil {
		return minted{}, err
	}
	rec := Record{JTI: tok.jti, UserID: u.ID, SessionID: sub.sid, ExpiresAt: a.recordExpiry(refreshExp)}
	ended, err := a.store.Issue(ctx, rec, opts)
	if err != nil {
		return minted{}, storeError(err)
	}
	a.emitLogin(ctx, u.ID, sub.sid, ended)
	return tok, nil
}

// slidingEnd returns the refresh_exp of a sliding token whose session may
// be refreshed until refreshExp: that, in whole seconds, or the session's
// end (WithMaxSessionAge) when earlier. It makes it the end of sub, so
// that no token of the session outlives its refresh_exp (nor its record
// in the store, which a logout must find).
func (a *Auth) slidingEnd(sub *subject, refreshExp time.Time) time.Time {
	refreshExp = time.Unix(refreshExp.Unix(), 0)
	if !sub.ends.IsZero() && sub.ends.Before(refreshExp) {
		refreshExp = sub.ends
	}
	sub.ends = refreshExp
	return refreshExp
}

// RefreshSliding renews a sliding token, as simplejwt's
// TokenRefreshSlidingSerializer does: the same jti, refresh_exp, session
// and user, a new iat, and exp the sliding TTL from now (no later than
// refresh_exp). It refuses a token whose refresh_exp has passed
// (ErrTokenExpired, "Token 'refresh_exp' claim has expired") or that has
// none (ErrTokenInvalid, "Token has no 'refresh_exp' claim"), a token
// whose session has ended (ErrTokenBlacklisted) or that the store does not
// know (ErrTokenNotFound: never issued here, or forgotten with its
// session), and, with a [UserLoader], a token of an inactive or deleted
// user (ErrUserInactive, ErrUserNotFound) or whose user stamp changed (its
// session is then ended; ErrTokenBlacklisted). It costs one store round
// trip, plus the UserLoader's call. It needs [WithSlidingTokens].
func (a *Auth) RefreshSliding(ctx context.Context, token string) (string, error) {
	if a.slidingTTL == 0 {
		return "", errSlidingOff
	}
	c, err := a.verifyAs(token, kindSliding)
	if err != nil {
		return "", err
	}
	m, err := a.refreshSliding(ctx, c)
	return m.token, err
}

// refreshSliding is RefreshSliding of a sliding token already verified,
// whose claims are c.
func (a *Auth) refreshSliding(ctx context.Context, c *Claims) (minted, error) {
	now := a.now()
	switch {
	case c.RefreshExpiresAt.IsZero():
		return minted{}, errNoRefreshExp
	case !now.Before(c.RefreshExpiresAt.Add(a.leeway)):
		return minted{}, errRefreshExpExpired // checked before the store, which may have forgotten the session
	}
	// The session must be live. Nothing changes in the store: the token
	// keeps its jti, so that it stays the session's. One simplejwt minted
	// (no sid) is a session named by its jti, adopted in the window of
	// WithSimplejwtAdoption (adopt.go), and its successors carry that sid.
	if err := a.withAdoption(ctx, c, func() error { return a.store.Check(ctx, tokenOf(c)) }); err != nil {
		return minted{}, storeError(err)
	}
	sub, err := a.refreshedSubject(ctx, c)
	if err != nil {
		return minted{}, err
	}
	sid := cmp.Or(c.SessionID, c.JTI)
	a.session(&sub, sid, cmp.Or(c.AuthTime, c.IssuedAt, now))
	if !sub.ends.IsZero() && !now.Before(sub.ends) {
		return minted{}, ErrTokenExpired // past WithMaxSessionAge: within the leeway of its exp
	}
	refreshExp := a.slidingEnd(&sub, c.RefreshExpiresAt)
	m, err := a.mintSet(claimset.Set{TokenType: TokenTypeSliding, JTI: c.JTI, RefreshExp: refreshExp}, sub, now, a.slidingTTL)
	if err != nil {
		return minted{}, err
	}
	a.emit(ctx, Event{Kind: EventRefreshed, UserID: c.UserID, SessionID: sid})
	return m, nil
}

// The sliding endpoints. They read and answer requests as the other token
// endpoints do (see ObtainHandler), and need WithSlidingTokens: each
// panics, when called to mount it, on an Auth made without it.

// SlidingObtainHandler logs in as simplejwt's TokenObtainSlidingView:
// {"username","password"} → 200 {"token"}, a sliding token of a new
// session (see [WithSlidingTokens]), or the obtain endpoint's refusals,
// with its throttles ([WithThrottle]), [WithLoginCheck], [WithOnLogin]
// and [WithOnLoginFailed], its per-user cap of sessions and its client
// metadata ([WithSessionInfo]). simplejwt's path for it is
// /api/token/sliding/. In cookie mode it sets no cookie: the token is in
// the body.
func (a *Auth) SlidingObtainHandler() http.Handler {
	a.mustSlide("SlidingObtainHandler")
	return a.loginEndpoint("Token Obtain Sliding", "Takes a set of user credentials and returns a sliding JSON web token to\nprove the authentication of those credentials.",
		func(r *http.Request, u User) (func(http.ResponseWriter), error) {
			tok, err := a.issueSliding(r.Context(), u, a.clientOf(r))
			if err != nil {
				return nil, err
			}
			return func(w http.ResponseWriter) { writeJSON(w, http.StatusOK, slidingBody{tok.token}) }, nil
		})
}

// SlidingRefreshHandler renews {"token"}, a sliding token, as simplejwt's
// TokenRefreshSlidingView: 200 {"token"} ([Auth.RefreshSliding]), or 401
// token_not_valid with simplejwt's message ("Token 'refresh_exp' claim has
// expired", "Token has wrong type" for an access or refresh token, "Token
// is blacklisted" once its session has ended…). Requests are throttled as
// the refresh endpoint's ([Throttle].RefreshPerIP: 429). simplejwt's path
// for it is /api/token/sliding/refresh/.
func (a *Auth) SlidingRefreshHandler() http.Handler {
	a.mustSlide("SlidingRefreshHandler")
	meta := endpointMetadata("Token Refresh Sliding", "Takes a sliding JSON web token and returns a new, refreshed version if the\ntoken's refresh period has not expired.",
		metaField{Name: "token"})
	return a.endpoint(meta, a.throttleRefresh(a.tokenHandler("token", func(w http.ResponseWriter, r *http.Request, tok string) error {
		t, err := a.RefreshSliding(r.Context(), tok)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, slidingBody{t})
		return nil
	})).ServeHTTP)
}

// SlidingBlacklistHandler logs out with a sliding token: it ends the
// session of {"token"} ([Auth.Revoke]), on every instance within
// [WithRevocationStaleness], and answers 200 {}; a token that is not a
// live sliding token gets 401 token_not_valid ("Token has wrong type",
// "Token is blacklisted"…). simplejwt has no such view (its sliding tokens
// are blacklisted in code, SlidingToken.blacklist()): this endpoint is
// jwtpair's, shaped as its blacklist endpoint, and its path is yours to
// choose (the example mounts it at /api/token/sliding/blacklist/).
func (a *Auth) SlidingBlacklistHandler() http.Handler {
	a.mustSlide("SlidingBlacklistHandler")
	meta := endpointMetadata("Token Blacklist Sliding", "Takes a sliding token and blacklists it, ending its session.",
		metaField{Name: "token"})
	return a.logoutEndpoint(meta, "token", kindSliding)
}

// mustSlide panics, when a sliding handler is mounted, if sliding tokens
// are not enabled: a mounting mistake found when the routes are built,
// never on a request.
func (a *Auth) mustSlide(handler string) {
	if a.slidingTTL == 0 {
		panic("jwtpair: " + handler + " needs WithSlidingTokens")
	}
}

// AccessMiddleware is [Auth.Middleware] accepting access tokens only:
// with [WithSlidingTokens], a sliding token presented to a route it
// guards is refused (401, "Token has wrong type"), as DRF refuses one on a
// view whose authentication has AUTH_TOKEN_CLASSES = (AccessToken,).
// Without WithSlidingTokens it is Middleware.
func (a *Auth) AccessMiddleware(next http.Handler) http.Handler {
	return a.guard(next, kindAccess)
}
