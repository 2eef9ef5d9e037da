package jwtpair

import (
	"context"
	"errors"
	"net/http"
	"strings"
)

// contextKey is the type of the context key the middleware stores claims
// under; only this package can make one.
type contextKey struct{ name string }

var claimsKey = &contextKey{"jwtpair claims"}

// Middleware requires a valid access token on every request (or a sliding
// token, with [WithSlidingTokens]; see [Auth.AccessMiddleware]). It reads the
// configured header (default "Authorization: Bearer <token>"), verifies the
// token and looks its session up in the revoked set, with no I/O, and
// calls next with the claims in the request context ([ClaimsFrom],
// [UserFrom]). Requests without a valid token are answered by the error
// handler: 401 with simplejwt's bodies (a token of an ended session is
// "Token is blacklisted"), or 503 while the revoked set is stale (see
// [WithRevocationStaleness]), never reaching next.
func (a *Auth) Middleware(next http.Handler) http.Handler {
	return a.guard(next, a.bearerKind)
}

// guard is Middleware accepting tokens of the kinds want.
func (a *Auth) guard(next http.Handler, want tokenKind) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := a.check(r, want)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		next.ServeHTTP(w, c.request(r))
	})
}

// OptionalMiddleware lets requests without credentials through anonymously
// (no claims in the context) and otherwise behaves as Middleware: a token
// that is presented must be valid, or the request gets 401, so a client
// never silently loses its identity.
func (a *Auth) OptionalMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := a.check(r, a.bearerKind)
		switch {
		case err == nil:
			r = c.request(r)
		case !errors.Is(err, ErrNoCredentials):
			a.fail(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Check authenticates a request as Middleware does, for callers who want an
// error rather than the middleware shape (an adapter for another router
// answers an error with [Auth.WriteError], as the middleware does, and puts
// the claims in the context with [ContextWithClaims]). It returns
// ErrNoCredentials, ErrBadAuthorizationHeader, or an error wrapping the
// token verdict (ErrTokenInvalid, ErrTokenExpired, ErrTokenWrongType,
// ErrTokenBlacklisted), which [WriteError] answers with the middleware's
// body; an error wrapping ErrStoreUnavailable while the revoked set is
// stale; in cookie mode ([WithCookies]) also an error matching ErrCSRF;
// with [WithUserCheck], the UserLoader's verdict (ErrUserNotFound,
// ErrUserInactive, or ErrTokenBlacklisted when the user's stamp changed),
// which WriteError answers as simplejwt's JWTAuthentication does ("User
// not found", "User is inactive", "The user's password has been
// changed."). With [WithSlidingTokens] it accepts a sliding token as it
// does an access token.
func (a *Auth) Check(r *http.Request) (*Claims, error) {
	c, err := a.check(r, a.bearerKind)
	if err != nil {
		return nil, err
	}
	return &c.claims, nil
}

// check is Check, accepting tokens of the kinds want (access, and maybe
// sliding): the route's, which its refusals name as simplejwt names its
// token classes.
func (a *Auth) check(r *http.Request, want tokenKind) (*claimsContext, error) {
	tok, err := a.credentials(r)
	fromCookie := false
	if a.cookies != nil && err == ErrNoCredentials { // no header: cookie mode reads the access cookie
		tok, err = a.cookieCredentials(r)
		fromCookie = err == nil
	}
	if te, ok := err.(*tokenError); ok {
		te.route = want // a token refused before it was read
	}
	if err != nil {
		return nil, err
	}
	now := a.now()
	cc, err := a.verifyToken(tok, want, now)
	if err != nil {
		return nil, &tokenError{err: err, route: want}
	}
	c := &cc.claims
	if err := a.revokedCheck(cc, now); err == ErrTokenBlacklisted {
		return nil, &tokenError{err: err, route: want, kind: kindOf(c.TokenType)}
	} else if err != nil {
		return nil, err
	}
	if fromCookie {
		if err := a.checkCookieCSRF(r, c); err != nil {
			return nil, err
		}
	}
	if a.userCheck {
		u, err := a.loadUser(r.Context(), c)
		switch {
		case errors.Is(err, errStampMismatch), errors.Is(err, ErrUserNotFound), errors.Is(err, ErrUserInactive):
			if err == errStampMismatch {
				a.emit(r.Context(), Event{Kind: EventStampChanged, UserID: c.UserID, SessionID: c.SessionID, Reason: "user_check", ClientIP: a.ClientIP(r)})
			}
			return nil, &userCheckError{err: err}
		case err != nil:
			return nil, err
		}
		c.user = &u
	}
	return cc, nil
}

// credentials extracts the token from the configured header, as DRF does:
// another scheme (or none) is no credentials; an accepted scheme must be
// followed by exactly one value.
func (a *Auth) credentials(r *http.Request) (string, error) {
	vals := r.Header[a.header]
	if len(vals) == 0 {
		return "", ErrNoCredentials
	}
	// The scheme first, looking not much further than the longest accepted
	// one: whatever its size, a value of another scheme is no credentials.
	// (The window stays over 8 bytes, where IndexAny takes its fast path.)
	v := strings.TrimSpace(vals[0])
	scheme, rest := v, ""
	if i := strings.IndexAny(v[:min(len(v), a.maxSchemeBytes+64)], " \t"); i >= 0 {
		scheme, rest = v[:i], v[i+1:]
	}
	if !a.acceptsScheme(scheme) {
		return "", ErrNoCredentials
	}
	if len(vals[0]) > a.maxHeaderBytes {
		return "", &tokenError{err: ErrTokenInvalid} // refused before the token is read
	}
	if len(vals) > 1 {
		return "", ErrBadAuthorizationHeader
	}
	for rest != "" && (rest[0] == ' ' || rest[0] == '\t') { // strings.TrimLeft(rest, " \t"), without its set
		rest = rest[1:]
	}
	tok := rest
	if tok == "" || strings.IndexByte(tok, ' ') >= 0 || strings.IndexByte(tok, '\t') >= 0 {
		return "", ErrBadAuthorizationHeader
	}
	return tok, nil
}

func (a *Auth) acceptsScheme(s string) bool {
	for _, want := range a.schemes {
		if strings.EqualFold(s, want) {
			return true
		}
	}
	return false
}

// WriteError answers err as the middleware and the token handlers answer
// their errors: with the handler of [WithErrorHandler] (default the
// package's [WriteError]), and logging server errors and throttled
// requests at the status actually written (see [WithLogger]). It is for
// adapters that call [Auth.Check] where a router's middleware is not a
// func(http.Handler) http.Handler (gin): calling it where Check fails
// answers exactly as [Auth.Middleware] does. Don't call it from the
// handler given to WithErrorHandler, which it calls.
func (a *Auth) WriteError(w http.ResponseWriter, r *http.Request, err error) { a.fail(w, r, err) }

// fail hands err to the error handler and logs what clients must not see,
// at the status actually written: a custom error handler's own status,
// when it answers err otherwise than WriteError would.
func (a *Auth) fail(w http.ResponseWriter, r *http.Request, err error) {
	var status int
	if a.onError == nil {
		resp := ResponseFor(err)
		writeResponse(w, resp)
		status = resp.Status
	} else {
		sw := &statusWriter{ResponseWriter: w}
		a.onError(sw, r, err)
		status = sw.status
	}
	a.logFailure(r, err, status)
}

// logFailure logs a failed request by the status written: server errors
// (a store outage, an Authenticator failing) as errors, throttled requests
// as warnings, with the client address they were counted under and the
// wait. Other refusals (401, 403, 400) are the clients' business and are
// not logged. A stale revoked set is not logged per request either: its
// follower logs the feed's failure once, and an outage would otherwise log
// every request. Tokens and passwords never reach the log; usernames
// neither.
func (a *Auth) logFailure(r *http.Request, err error, status int) {
	switch {
	case status >= 500 && errors.Is(err, errRevocationsStale):
	case status >= 500:
		a.logger.ErrorContext(r.Context(), "jwtpair: request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	case status == http.StatusTooManyRequests:
		attrs := []any{"method", r.Method, "path", r.URL.Path, "status", status, "client", clientKey(a.ClientIP(r))}
		if te := (*ThrottledError)(nil); errors.As(err, &te) && te.limit != "" {
			attrs = append(attrs, "limit", te.limit, "retry_after_s", te.seconds())
		} else {
			attrs = append(attrs, "err", err)
		}
		a.logger.WarnContext(r.Context(), "jwtpair: request throttled", attrs...)
	}
}

// statusWriter records the status a custom error handler writes, so that
// fail logs it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap gives http.ResponseController the writer underneath.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ClaimsFrom returns the claims the middleware put in ctx.
func ClaimsFrom(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey).(*Claims)
	return c, ok && c != nil
}

// UserFrom returns the authenticated user the middleware put in ctx: its ID
// and custom claims, read from the access token, or the user as the
// UserLoader returned it with [WithUserCheck].
func UserFrom(ctx context.Context) (User, bool) {
	c, ok := ClaimsFrom(ctx)
	if !ok {
		return User{}, false
	}
	return c.User(), true
}

// ContextWithClaims returns a copy of ctx carrying c, where [ClaimsFrom]
// and [UserFrom] find it, as the middleware does. It is for code that
// authenticates with [Auth.Check] outside the middleware shape (an adapter
// for gin, echo or another router, which must hand the claims to the
// handlers it calls), and for tests of handlers that read the user.
func ContextWithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey, c)
}
