package jwtpair

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Throttle is the limits of login and refresh throttling, each counted per
// client address ([Auth.ClientIP]; an IPv6 client by its /64). A zero
// [Limit] turns its throttle off. See [WithThrottle] and [DefaultThrottle].
//
// Throttled requests get 429 with Retry-After and DRF's body,
// {"detail":"Request was throttled. Expected available in N seconds."}
// (N the wait in whole seconds, rounded up, as DRF's Throttled computes
// it). Throttling is counted before anything else is done for the
// request: the Authenticator (and its password hashing) or the store are
// never reached by a refused attempt.
type Throttle struct {
	// LoginPerIP bounds the logins (obtain requests) from one client
	// address, whatever the usernames: it slows one source spraying
	// many accounts.
	LoginPerIP Limit
	// LoginPerUserIP bounds the logins to one username from one client
	// address: it slows one source guessing one account's password. A
	// correct login resets its count. It never counts attempts from other
	// addresses, so an attacker guessing a victim's password elsewhere
	// cannot lock the victim out (there is deliberately no limit per
	// username alone).
	LoginPerUserIP Limit
	// RefreshPerIP bounds the refresh requests from one client address.
	// A refresh needs a validly signed token, so nothing can be guessed
	// there; the limit bounds the store traffic one source causes.
	RefreshPerIP Limit
	// NormalizeUsername maps a username to the form LoginPerUserIP counts
	// it under, after the endpoint has trimmed its spaces. nil: Unicode
	// lower case (strings.ToLower), so "Alice" and "alice" share a count.
	// An application whose usernames are compared more loosely (NFKC,
	// full case folding) gives its own, so that no spelling of a username
	// the Authenticator accepts gets a count of its own.
	NormalizeUsername func(string) string
}

// DefaultThrottle returns the limits an Auth throttles with unless
// [WithThrottle] says otherwise:
//
//   - LoginPerUserIP: 5 at once, then 5 per 15 minutes (one every 3
//     minutes). The usual account-lockout policy of "5 failures per 15
//     minutes" (OWASP's authentication cheat sheet), without its lockout:
//     a user who mistypes a password five times waits three minutes per
//     further try at worst, from that address only, and a correct login
//     gives back all five. An online guesser gets 480 tries a day per
//     address and account.
//   - LoginPerIP: 20 at once, then 10 per minute. GitLab's default for its
//     sign-in path is 10 per minute per address; the burst of 20 lets the
//     users of one office NAT log in together in the morning. It caps a
//     credential-stuffing source at 14,400 tries a day.
//   - RefreshPerIP: 300 at once, then 300 per minute (5 per second). A
//     client refreshes once per access-token lifetime (5 minutes by
//     default), so 5 per second covers 1,500 clients behind one address;
//     it stops one source from driving the store with refreshes.
func DefaultThrottle() Throttle {
	return Throttle{
		LoginPerIP:     Limit{Rate: 10, Period: time.Minute, Burst: 20},
		LoginPerUserIP: Limit{Rate: 5, Period: 15 * time.Minute, Burst: 5},
		RefreshPerIP:   Limit{Rate: 300, Period: time.Minute, Burst: 300},
	}
}

// throttle is what an Auth throttles with (settings.throttle).
type throttle struct {
	Throttle
	limiter Limiter // set by New
	proxies proxies
	// loginCheck is WithLoginCheck's hook; nil for none.
	loginCheck func(r *http.Request, username string) error
}

// buildThrottle checks the throttle's limits and picks its limiter: the
// one of WithLimiter, else the store when it is a Limiter, else a memory
// limiter of the Auth's own. It runs after checkUsers, which sets the
// store.
func (c *config) buildThrottle() {
	t := &c.throttle
	for _, l := range []struct {
		name  string
		limit Limit
	}{{"LoginPerIP", t.LoginPerIP}, {"LoginPerUserIP", t.LoginPerUserIP}, {"RefreshPerIP", t.RefreshPerIP}} {
		if l.limit != (Limit{}) {
			if err := l.limit.Validate(); err != nil {
				c.bad("throttle %s: %v", l.name, strings.TrimPrefix(err.Error(), "jwtpair: "))
			}
		}
	}
	if t.NormalizeUsername == nil {
		t.NormalizeUsername = strings.ToLower
	}
	if t.proxies.header == "" {
		t.proxies.header = headerXFF
	}
	if t.limiter != nil {
		return
	}
	if l, ok := c.store.(Limiter); ok {
		t.limiter = l
		return
	}
	t.limiter = newMemoryLimiter(c.now)
	if _, mem := c.store.(*MemoryStore); !mem && c.authn != nil && t.on() {
		c.logger.Warn("jwtpair: login throttling counts attempts in this process only; if several instances share the store, give them a shared limiter (WithLimiter: redisstore.NewLimiter, sqlstore.NewLimiter)")
	}
}

// on reports whether any throttle is on.
func (t *Throttle) on() bool {
	return t.LoginPerIP != (Limit{}) || t.LoginPerUserIP != (Limit{}) || t.RefreshPerIP != (Limit{})
}

// The keys throttles count under. A username enters a key only as a
// digest: the key's size is bounded, and the backend holds no usernames.
const (
	keyLoginIP   = "login:ip:"
	keyLoginUser = "login:user:"
	keyRefreshIP = "refresh:ip:"
)

// userKey is the LoginPerUserIP key of username from client.
func (a *Auth) userKey(username, client string) string {
	h := sha256.New()
	h.Write([]byte(a.throttle.NormalizeUsername(username)))
	h.Write([]byte{0})
	h.Write([]byte(client))
	return keyLoginUser + hex.EncodeToString(h.Sum(nil)[:16])
}

// admit counts an attempt of key under limit (nothing for a zero limit):
// nil when it may go ahead, a *ThrottledError when not, and an error
// wrapping ErrStoreUnavailable when the limiter fails (fail closed).
func (a *Auth) admit(ctx context.Context, key string, limit Limit, name string) error {
	if limit == (Limit{}) {
		return nil
	}
	ok, wait, err := a.throttle.limiter.Allow(ctx, key, limit)
	switch {
	case err != nil:
		return storeError(fmt.Errorf("jwtpair: limiter: %w", err))
	case !ok:
		return &ThrottledError{RetryAfter: wait, limit: name}
	}
	return nil
}

// admitLogin runs what decides on a login before the password is checked:
// the per-address throttle, then the per-username-and-address one, then
// the application's WithLoginCheck. It returns the username's throttle key,
// for resetLogin ("" when that throttle is off).
func (a *Auth) admitLogin(r *http.Request, username string) (userKey string, err error) {
	t := &a.throttle
	if t.LoginPerIP != (Limit{}) || t.LoginPerUserIP != (Limit{}) {
		client := clientKey(a.ClientIP(r))
		if err := a.admit(r.Context(), keyLoginIP+client, t.LoginPerIP, "login per IP"); err != nil {
			return "", a.loginRefused(r, username, "login_per_ip", err)
		}
		if t.LoginPerUserIP != (Limit{}) {
			userKey = a.userKey(username, client)
			if err := a.admit(r.Context(), userKey, t.LoginPerUserIP, "login per user and IP"); err != nil {
				return "", a.loginRefused(r, username, "login_per_user_ip", err)
			}
		}
	}
	if t.loginCheck != nil {
		if err := t.loginCheck(r, username); err != nil {
			return "", a.loginRefused(r, username, "login_check", err)
		}
	}
	return userKey, nil
}

// resetLogin gives a username back its attempts from the address that
// just logged in with it. A failure is logged, not answered: the login
// succeeded, and the count comes back to rest on its own.
func (a *Auth) resetLogin(r *http.Request, key string) {
	if key == "" {
		return
	}
	if err := a.throttle.limiter.Reset(r.Context(), key); err != nil {
		a.logger.WarnContext(r.Context(), "jwtpair: could not reset a login throttle", "err", err)
	}
}

// throttleRefresh wraps a refresh endpoint in the RefreshPerIP throttle.
func (a *Auth) throttleRefresh(h http.Handler) http.Handler {
	limit := a.throttle.RefreshPerIP
	if limit == (Limit{}) {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := a.admit(r.Context(), keyRefreshIP+clientKey(a.ClientIP(r)), limit, "refresh per IP"); err != nil {
			a.fail(w, r, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// authenticatorError is what obtain answers an Authenticator's error with
// (other than ErrInvalidCredentials): an error that has an answer of its
// own (a *Refusal, a throttle, ErrPermissionDenied) is answered with it;
// any other is a failure of the user database, 503.
func authenticatorError(err error) error {
	var rf *Refusal
	if errors.As(err, &rf) || errors.Is(err, ErrThrottled) || errors.Is(err, ErrPermissionDenied) {
		return err
	}
	return fmt.Errorf("%w: authenticator: %w", ErrStoreUnavailable, err)
}

// ThrottledError is the error of a throttled request; it matches
// [ErrThrottled]. [WriteError] answers it with 429, Retry-After: N and
// {"detail":"Request was throttled. Expected available in N seconds."},
// N being RetryAfter in whole seconds rounded up (DRF's Throttled); a
// RetryAfter of zero or less says 0 seconds and sends no Retry-After, as
// DRF does. Throttling returns it; a WithLoginCheck hook or an
// Authenticator may return one of its own to answer the same way.
type ThrottledError struct {
	RetryAfter time.Duration
	limit      string // which throttle refused, for the log
}

func (e *ThrottledError) Error() string {
	return "jwtpair: request was throttled; expected available in " + strconv.Itoa(e.seconds()) + "s"
}

// Is makes a *ThrottledError match ErrThrottled.
func (e *ThrottledError) Is(target error) bool { return target == ErrThrottled }

// seconds is RetryAfter as DRF reports it: math.ceil of the seconds.
func (e *ThrottledError) seconds() int {
	if e.RetryAfter <= 0 {
		return 0
	}
	return int(math.Ceil(e.RetryAfter.Seconds()))
}

// detailBody is DRF's error body: {"detail": …}, and nothing else.
func detailBody(detail string) []byte {
	b, _ := json.Marshal(struct {
		Detail string `json:"detail"`
	}{detail}) // a struct of one string always marshals
	return append(b, '\n')
}

// throttledDetail is DRF's Throttled text for a wait of n seconds (n < 0:
// no wait known).
func throttledDetail(n int) string {
	switch {
	case n < 0:
		return "Request was throttled."
	case n == 1:
		return "Request was throttled. Expected available in 1 second."
	}
	return "Request was throttled. Expected available in " + strconv.Itoa(n) + " seconds."
}

// Fixed answers of this file, built once.
var (
	respThrottled        = &Response{Status: http.StatusTooManyRequests, Body: detailBody(throttledDetail(-1))}
	respPermissionDenied = &Response{Status: http.StatusForbidden, Body: detailBody("You do not have permission to perform this action.")}
)

// Refusal is an error that carries its own answer: an application's
// refusal of a login, with the status and body it chooses. Return one from
// a [WithLoginCheck] hook (a CAPTCHA to solve first) or from an
// [Authenticator] (an e-mail address to confirm first); the error handler
// gets it as it is, and [WriteError] answers it with Status, Body as JSON
// and Header. It is never taken for a store failure (503).
type Refusal struct {
	// Status is the HTTP status, 400 to 599; another is answered 500.
	Status int
	// Body is the JSON body; nil stands for {"detail":"<status text>"}.
	// A Body that does not marshal is answered 500.
	Body any
	// Header holds headers to set on the answer (Retry-After, …); may be nil.
	Header http.Header
	// Err is the cause, for the error handler and the log; it is never
	// sent. May be nil.
	Err error
}

func (e *Refusal) Error() string {
	s := "jwtpair: refused with status " + strconv.Itoa(e.Status)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns Err.
func (e *Refusal) Unwrap() error { return e.Err }

// response is how WriteError answers the refusal.
func (e *Refusal) response() Response {
	if e.Status < 400 || e.Status > 599 {
		return *respServerError
	}
	var body []byte
	if e.Body == nil {
		body = detailBody(http.StatusText(e.Status))
	} else {
		b, err := json.Marshal(e.Body)
		if err != nil {
			return *respServerError
		}
		body = append(b, '\n')
	}
	return Response{Status: e.Status, Body: body, Header: e.Header}
}

// appResponse is ResponseFor's answer to the errors of this file and of
// authz.go, which come before the others: a Refusal wrapping a store error
// is still the application's refusal.
func appResponse(err error) (Response, bool) {
	var rf *Refusal
	var te *ThrottledError
	switch {
	case errors.As(err, &rf):
		return rf.response(), true
	case errors.As(err, &te):
		n := te.seconds()
		resp := Response{Status: http.StatusTooManyRequests, Body: detailBody(throttledDetail(n))}
		if n > 0 {
			resp.Header = http.Header{"Retry-After": {strconv.Itoa(n)}}
		}
		return resp, true
	case errors.Is(err, ErrThrottled):
		return *respThrottled, true
	case errors.Is(err, ErrPermissionDenied):
		return *respPermissionDenied, true
	}
	return Response{}, false
}
