package jwtpair

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingUsers counts the Authenticator's calls: a throttled attempt must
// never reach it (nor its password hashing).
type countingUsers struct {
	*testUsers
	calls atomic.Int32
}

func (u *countingUsers) Authenticate(ctx context.Context, name, password string) (User, error) {
	u.calls.Add(1)
	return u.testUsers.Authenticate(ctx, name, password)
}

// throttleAuth returns an Auth over counting test users, on a fake clock.
func throttleAuth(t *testing.T, opts ...Option) (*Auth, *fakeClock, *countingUsers) {
	t.Helper()
	users := &countingUsers{testUsers: newTestUsers()}
	a, clk := newTestAuth(t, append([]Option{WithAuthenticator(users)}, opts...)...)
	return a, clk, users
}

// obtainFrom posts a login from the client address ip.
func obtainFrom(t *testing.T, a *Auth, ip, username, password string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/api/token/", strings.NewReader(`{"username":"`+username+`","password":"`+password+`"}`))
	r.Header.Set("Content-Type", "application/json")
	r.RemoteAddr = addrPort(ip)
	w := httptest.NewRecorder()
	a.ObtainHandler().ServeHTTP(w, r)
	return w
}

// addrPort adds a port to an IP address.
func addrPort(ip string) string {
	if strings.Contains(ip, ":") {
		return "[" + ip + "]:4711"
	}
	return ip + ":4711"
}

// throttledBody is DRF's Throttled body for a wait of n seconds.
func throttledBody(n int) string {
	if n == 1 {
		return `{"detail":"Request was throttled. Expected available in 1 second."}`
	}
	return fmt.Sprintf(`{"detail":"Request was throttled. Expected available in %d seconds."}`, n)
}

// requireThrottled asserts a 429 with DRF's body and Retry-After for a
// wait of n seconds.
func requireThrottled(t *testing.T, w *httptest.ResponseRecorder, n int) {
	t.Helper()
	require.Equal(t, http.StatusTooManyRequests, w.Code, w.Body.String())
	assert.JSONEq(t, throttledBody(n), w.Body.String())
	assert.Equal(t, fmt.Sprint(n), w.Header().Get("Retry-After"))
	assert.Equal(t, "application/json", w.Header().Get("Content-Type"))
	assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
	assert.Empty(t, w.Header().Get("WWW-Authenticate"), "a 429 is no challenge")
}

// TestLoginThrottlePerUserIP: five wrong passwords for one username from
// one address, then 429 for three minutes (5 per 15 minutes), with no call
// to the Authenticator, correct password or not; then one more attempt.
func TestLoginThrottlePerUserIP(t *testing.T) {
	a, clk, users := throttleAuth(t)
	for i := range 5 {
		w := obtainFrom(t, a, "203.0.113.7", "alice", "guess")
		require.Equal(t, http.StatusUnauthorized, w.Code, "attempt %d", i+1)
	}
	requireThrottled(t, obtainFrom(t, a, "203.0.113.7", "alice", "guess"), 180)
	// The right password is not even checked: the throttle is no oracle.
	requireThrottled(t, obtainFrom(t, a, "203.0.113.7", "alice", "wonderland"), 180)
	// Spellings of one username share its count.
	requireThrottled(t, obtainFrom(t, a, "203.0.113.7", " ALICE ", "guess"), 180)
	assert.Equal(t, int32(5), users.calls.Load(), "throttled attempts reached the Authenticator")

	clk.Advance(179 * time.Second)
	requireThrottled(t, obtainFrom(t, a, "203.0.113.7", "alice", "guess"), 1)
	clk.Advance(time.Second)
	assert.Equal(t, http.StatusUnauthorized, obtainFrom(t, a, "203.0.113.7", "alice", "guess").Code)
	requireThrottled(t, obtainFrom(t, a, "203.0.113.7", "alice", "guess"), 180)
}

// TestCorrectLoginResetsItsCount: a correct login gives its username back
// all its attempts from that address.
func TestCorrectLoginResetsItsCount(t *testing.T) {
	a, _, _ := throttleAuth(t)
	for range 4 {
		require.Equal(t, http.StatusUnauthorized, obtainFrom(t, a, "203.0.113.7", "alice", "typo").Code)
	}
	require.Equal(t, http.StatusOK, obtainFrom(t, a, "203.0.113.7", "alice", "wonderland").Code)
	for i := range 5 {
		w := obtainFrom(t, a, "203.0.113.7", "alice", "typo")
		require.Equal(t, http.StatusUnauthorized, w.Code, "attempt %d after the correct login: %s", i+1, w.Body.String())
	}
	requireThrottled(t, obtainFrom(t, a, "203.0.113.7", "alice", "typo"), 180)
}

// TestAttackerCannotLockOutVictim: an attacker hammering the victim's
// username from other addresses, until every one of them is throttled,
// leaves the victim free to log in from the victim's own address, and even
// to mistype a password there.
func TestAttackerCannotLockOutVictim(t *testing.T) {
	a, _, _ := throttleAuth(t)
	attackers := []string{"198.51.100.66", "198.51.100.67", "2001:db8:bad::1"}
	for _, ip := range attackers {
		for range 50 {
			obtainFrom(t, a, ip, "alice", "guess")
		}
		require.Equal(t, http.StatusTooManyRequests, obtainFrom(t, a, ip, "alice", "guess").Code)
	}
	assert.Equal(t, http.StatusUnauthorized, obtainFrom(t, a, "203.0.113.7", "alice", "typo").Code)
	w := obtainFrom(t, a, "203.0.113.7", "alice", "wonderland")
	assert.Equal(t, http.StatusOK, w.Code, "the victim is locked out: %s", w.Body.String())
}

// TestLoginThrottlePerIP: one address trying many usernames gets 20 at
// once, then 10 a minute; another address is not affected.
func TestLoginThrottlePerIP(t *testing.T) {
	a, clk, users := throttleAuth(t)
	for i := range 20 {
		w := obtainFrom(t, a, "203.0.113.7", fmt.Sprint("user", i), "guess")
		require.Equal(t, http.StatusUnauthorized, w.Code, "attempt %d", i+1)
	}
	requireThrottled(t, obtainFrom(t, a, "203.0.113.7", "someone-else", "guess"), 6)
	assert.Equal(t, int32(20), users.calls.Load())
	assert.Equal(t, http.StatusOK, obtainFrom(t, a, "203.0.113.8", "alice", "wonderland").Code)
	clk.Advance(6 * time.Second)
	assert.Equal(t, http.StatusUnauthorized, obtainFrom(t, a, "203.0.113.7", "someone-else", "guess").Code)
}

// TestIPv6ClientsCountedByTheirSlash64: one host can use every address of
// its /64, so the throttles count a /64 as one client.
func TestIPv6ClientsCountedByTheirSlash64(t *testing.T) {
	a, _, _ := throttleAuth(t)
	for i := range 20 {
		w := obtainFrom(t, a, fmt.Sprintf("2001:db8:1:2::%x", i+1), fmt.Sprint("user", i), "guess")
		require.Equal(t, http.StatusUnauthorized, w.Code)
	}
	requireThrottled(t, obtainFrom(t, a, "2001:db8:1:2:ffff:ffff:ffff:ffff", "alice", "wonderland"), 6)
	assert.Equal(t, http.StatusOK, obtainFrom(t, a, "2001:db8:1:3::1", "alice", "wonderland").Code, "another /64")
}

// TestRefreshThrottle: refresh is throttled per address, in both modes,
// before the token is looked at.
func TestRefreshThrottle(t *testing.T) {
	limit := Throttle{RefreshPerIP: Limit{Rate: 1, Period: time.Minute, Burst: 2}}
	for _, mode := range []struct {
		name string
		opts []Option
	}{{"header", nil}, {"cookies", []Option{WithCookies(CookieOptions{})}}} {
		t.Run(mode.name, func(t *testing.T) {
			a, _, _ := throttleAuth(t, append(mode.opts, WithThrottle(limit))...)
			refresh := func(ip string) *httptest.ResponseRecorder {
				r := httptest.NewRequest(http.MethodPost, "/api/token/refresh/", strings.NewReader(`{"refresh":"not.a.token"}`))
				r.Header.Set("Content-Type", "application/json")
				r.RemoteAddr = addrPort(ip)
				w := httptest.NewRecorder()
				a.RefreshHandler().ServeHTTP(w, r)
				return w
			}
			for range 2 {
				require.Equal(t, http.StatusUnauthorized, refresh("203.0.113.7").Code)
			}
			requireThrottled(t, refresh("203.0.113.7"), 60)
			assert.Equal(t, http.StatusUnauthorized, refresh("203.0.113.8").Code, "another address")
		})
	}
}

// TestDefaultRefreshThrottle: 300 refreshes at once per address.
func TestDefaultRefreshThrottle(t *testing.T) {
	a, _, _ := throttleAuth(t)
	h := a.RefreshHandler()
	for i := range 300 {
		w := postJSON(t, h, `{"refresh":"x"}`)
		require.Equal(t, http.StatusUnauthorized, w.Code, "refresh %d", i+1)
	}
	requireThrottled(t, postJSON(t, h, `{"refresh":"x"}`), 1)
}

// TestThrottleOff: WithThrottle(Throttle{}) turns every throttle off.
func TestThrottleOff(t *testing.T) {
	a, _, users := throttleAuth(t, WithThrottle(Throttle{}))
	for range 100 {
		require.Equal(t, http.StatusUnauthorized, obtainFrom(t, a, "203.0.113.7", "alice", "guess").Code)
	}
	assert.Equal(t, int32(100), users.calls.Load())
	assert.Equal(t, http.StatusOK, obtainFrom(t, a, "203.0.113.7", "alice", "wonderland").Code)
	assert.Equal(t, 0, limiterOf(a).(*MemoryLimiter).Len(), "nothing counted")
}

// TestThrottledAnswer: N is DRF's math.ceil of the wait, "second" when it
// is one; a wait of zero says 0 seconds without Retry-After, as DRF; bare
// ErrThrottled says no wait at all.
func TestThrottledAnswer(t *testing.T) {
	for _, tc := range []struct {
		err    error
		detail string
		retry  string
	}{
		{&ThrottledError{RetryAfter: 180 * time.Second}, "Request was throttled. Expected available in 180 seconds.", "180"},
		{&ThrottledError{RetryAfter: time.Nanosecond}, "Request was throttled. Expected available in 1 second.", "1"},
		{&ThrottledError{RetryAfter: time.Second}, "Request was throttled. Expected available in 1 second.", "1"},
		{&ThrottledError{RetryAfter: 1001 * time.Millisecond}, "Request was throttled. Expected available in 2 seconds.", "2"},
		{fmt.Errorf("wrapped: %w", &ThrottledError{RetryAfter: 59500 * time.Millisecond}), "Request was throttled. Expected available in 60 seconds.", "60"},
		{&ThrottledError{}, "Request was throttled. Expected available in 0 seconds.", ""},
		{ErrThrottled, "Request was throttled.", ""},
		{fmt.Errorf("app: %w", ErrThrottled), "Request was throttled.", ""},
	} {
		w := httptest.NewRecorder()
		WriteError(w, httptest.NewRequest(http.MethodPost, "/", nil), tc.err)
		assert.Equal(t, http.StatusTooManyRequests, w.Code, "%v", tc.err)
		assert.Equal(t, `{"detail":"`+tc.detail+`"}`+"\n", w.Body.String(), "%v", tc.err)
		assert.Equal(t, tc.retry, w.Header().Get("Retry-After"), "%v", tc.err)
		assert.ErrorIs(t, tc.err, ErrThrottled)
	}
}

// failingLimiter fails Allow, or only Reset.
type failingLimiter struct {
	*MemoryLimiter
	allow bool
}

var errLimiterDown = errors.New("limiter backend down")

func (l *failingLimiter) Allow(ctx context.Context, key string, limit Limit) (bool, time.Duration, error) {
	if l.allow {
		return false, 0, fmt.Errorf("%w: %w", ErrStoreUnavailable, errLimiterDown)
	}
	return l.MemoryLimiter.Allow(ctx, key, limit)
}

func (l *failingLimiter) Reset(context.Context, string) error { return errLimiterDown }

// TestLimiterFailureFailsClosed: a limiter that cannot count refuses the
// attempt with 503 (the Authenticator is never reached); one that cannot
// reset after a correct login does not undo the login.
func TestLimiterFailureFailsClosed(t *testing.T) {
	logger, logs := recordLogs()
	a, _, users := throttleAuth(t, WithLimiter(&failingLimiter{MemoryLimiter: NewMemoryLimiter(), allow: true}), WithLogger(logger))
	w := obtainFrom(t, a, "203.0.113.7", "alice", "wonderland")
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.JSONEq(t, `{"detail":"Service temporarily unavailable, try again later.","code":"service_unavailable"}`, w.Body.String())
	assert.Zero(t, users.calls.Load())
	assert.NotContains(t, w.Body.String(), errLimiterDown.Error())
	assert.Contains(t, logs.String(), "status=503")
	w = postJSON(t, a.RefreshHandler(), `{"refresh":"x"}`)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)

	logger, logs = recordLogs()
	a, _, _ = throttleAuth(t, WithLimiter(&failingLimiter{MemoryLimiter: NewMemoryLimiter()}), WithLogger(logger))
	assert.Equal(t, http.StatusOK, obtainFrom(t, a, "203.0.113.7", "alice", "wonderland").Code)
	assert.Contains(t, logs.String(), "could not reset a login throttle")
}

// TestThrottledLoggedAs429: a throttled login is logged as a warning at
// status 429, with the throttle and the address, never the username or the
// password.
func TestThrottledLoggedAs429(t *testing.T) {
	logger, logs := recordLogs()
	a, _, _ := throttleAuth(t, WithLogger(logger))
	for range 6 {
		obtainFrom(t, a, "203.0.113.7", "alice", "guess-pw")
	}
	out := logs.String()
	assert.Contains(t, out, `level=WARN msg="jwtpair: request throttled" method=POST path=/api/token/ status=429 client=203.0.113.7 limit="login per user and IP" retry_after_s=180`)
	assert.NotContains(t, out, "ERROR")
	assert.NotContains(t, out, "alice")
	assert.NotContains(t, out, "guess-pw")
}

// errLocked is an application's error for a locked account.
var errLocked = errors.New("account locked by the application")

// TestAuthenticatorErrorsAnsweredAsTheySay: an Authenticator's refusal of
// its own is answered with its status, not wrapped as a store failure, and
// logged at the status written. On 97aed83 each of these was answered (or
// logged) as 503.
func TestAuthenticatorErrorsAnsweredAsTheySay(t *testing.T) {
	authn := func(err error) Option {
		return WithAuthenticator(AuthenticatorFunc(func(context.Context, string, string) (User, error) { return User{}, err }))
	}
	t.Run("Refusal", func(t *testing.T) {
		logger, logs := recordLogs()
		refusal := &Refusal{Status: http.StatusTooManyRequests, Body: map[string]string{"detail": "Slow down."}, Header: http.Header{"Retry-After": {"30"}}, Err: errLocked}
		a, _ := newTestAuth(t, authn(refusal), WithLogger(logger))
		w := postJSON(t, a.ObtainHandler(), `{"username":"alice","password":"x"}`)
		assert.Equal(t, http.StatusTooManyRequests, w.Code)
		assert.JSONEq(t, `{"detail":"Slow down."}`, w.Body.String())
		assert.Equal(t, "30", w.Header().Get("Retry-After"))
		assert.Contains(t, logs.String(), "status=429")
		assert.NotContains(t, logs.String(), "status=503")
	})
	t.Run("ThrottledError", func(t *testing.T) {
		a, _ := newTestAuth(t, authn(fmt.Errorf("%w: %w", errLocked, &ThrottledError{RetryAfter: 30 * time.Second})))
		requireThrottled(t, postJSON(t, a.ObtainHandler(), `{"username":"alice","password":"x"}`), 30)
	})
	t.Run("PermissionDenied", func(t *testing.T) {
		a, _ := newTestAuth(t, authn(fmt.Errorf("%w: %w", errLocked, ErrPermissionDenied)))
		w := postJSON(t, a.ObtainHandler(), `{"username":"alice","password":"x"}`)
		assert.Equal(t, http.StatusForbidden, w.Code)
		assert.JSONEq(t, `{"detail":"You do not have permission to perform this action."}`, w.Body.String())
	})
	t.Run("custom error handler", func(t *testing.T) {
		// The workaround: an error handler answering the
		// application's own error with 429. It is logged at 429.
		logger, logs := recordLogs()
		a, _ := newTestAuth(t, authn(errLocked), WithLogger(logger), WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, errLocked) {
				http.Error(w, "locked", http.StatusTooManyRequests)
				return
			}
			WriteError(w, r, err)
		}))
		w := postJSON(t, a.ObtainHandler(), `{"username":"alice","password":"x"}`)
		assert.Equal(t, http.StatusTooManyRequests, w.Code)
		assert.Contains(t, logs.String(), "level=WARN")
		assert.Contains(t, logs.String(), "status=429")
		assert.NotContains(t, logs.String(), "status=503")
		assert.NotContains(t, logs.String(), "ERROR")
	})
	t.Run("not a store failure to the error handler", func(t *testing.T) {
		for _, err := range []error{&Refusal{Status: 400}, &ThrottledError{RetryAfter: time.Second}, ErrPermissionDenied} {
			var got error
			a, _ := newTestAuth(t, authn(fmt.Errorf("app: %w", err)), WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
				got = err
				WriteError(w, r, err)
			}))
			postJSON(t, a.ObtainHandler(), `{"username":"alice","password":"x"}`)
			assert.ErrorIs(t, got, err)
			assert.NotErrorIs(t, got, ErrStoreUnavailable, "%v", err)
		}
	})
	t.Run("other errors are still 503", func(t *testing.T) {
		logger, logs := recordLogs()
		a, _ := newTestAuth(t, authn(errLocked), WithLogger(logger))
		w := postJSON(t, a.ObtainHandler(), `{"username":"alice","password":"x"}`)
		assert.Equal(t, http.StatusServiceUnavailable, w.Code)
		assert.Contains(t, logs.String(), "level=ERROR")
		assert.Contains(t, logs.String(), "status=503")
	})
}

// TestLoginCheck: the application's hook runs after the throttles and
// before the password is checked; its refusal is answered with the status
// and body it chooses, never 503.
func TestLoginCheck(t *testing.T) {
	var checked []string
	captcha := WithLoginCheck(func(r *http.Request, username string) error {
		checked = append(checked, username)
		if r.Header.Get("X-Captcha") != "solved" {
			return &Refusal{Status: http.StatusBadRequest, Body: map[string]string{"detail": "CAPTCHA required.", "code": "captcha_required"}}
		}
		return nil
	})
	a, _, users := throttleAuth(t, captcha)
	w := postJSON(t, a.ObtainHandler(), `{"username":" alice ","password":"wonderland"}`)
	assert.Equal(t, http.StatusBadRequest, w.Code)
	assert.JSONEq(t, `{"detail":"CAPTCHA required.","code":"captcha_required"}`, w.Body.String())
	assert.Zero(t, users.calls.Load(), "the password was checked")
	assert.Equal(t, []string{"alice"}, checked)

	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"username":"alice","password":"wonderland"}`))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-Captcha", "solved")
	w = httptest.NewRecorder()
	a.ObtainHandler().ServeHTTP(w, r)
	assert.Equal(t, http.StatusOK, w.Code)

	// Throttled attempts never reach the hook.
	checked = nil
	for range 10 {
		postJSON(t, a.ObtainHandler(), `{"username":"bob","password":"x"}`)
	}
	assert.Len(t, checked, 5)

	t.Run("other errors are 500, not 503", func(t *testing.T) {
		logger, logs := recordLogs()
		a, _, _ := throttleAuth(t, WithLogger(logger), WithLoginCheck(func(*http.Request, string) error { return errors.New("captcha provider down") }))
		w := postJSON(t, a.ObtainHandler(), `{"username":"alice","password":"wonderland"}`)
		assert.Equal(t, http.StatusInternalServerError, w.Code)
		assert.JSONEq(t, `{"detail":"A server error occurred.","code":"server_error"}`, w.Body.String())
		assert.Contains(t, logs.String(), "status=500")
	})
}

// TestRefusalAnswer: a Refusal's own answer, and what stands in for a
// status or a body that cannot be sent.
func TestRefusalAnswer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		status int
		body   string
	}{
		{"body", &Refusal{Status: 418, Body: []int{1, 2}}, 418, `[1,2]`},
		{"nil body", &Refusal{Status: http.StatusForbidden}, 403, `{"detail":"Forbidden"}`},
		{"wrapped, over a store error", fmt.Errorf("x: %w", &Refusal{Status: 400, Err: ErrStoreUnavailable}), 400, `{"detail":"Bad Request"}`},
		{"status 200", &Refusal{Status: 200}, 500, `{"detail":"A server error occurred.","code":"server_error"}`},
		{"status 0", &Refusal{}, 500, `{"detail":"A server error occurred.","code":"server_error"}`},
		{"body that does not marshal", &Refusal{Status: 400, Body: func() {}}, 500, `{"detail":"A server error occurred.","code":"server_error"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			WriteError(w, httptest.NewRequest(http.MethodPost, "/", nil), tc.err)
			assert.Equal(t, tc.status, w.Code)
			assert.JSONEq(t, tc.body, w.Body.String())
		})
	}
	err := &Refusal{Status: 400, Err: errLocked}
	assert.ErrorIs(t, err, errLocked)
	assert.Equal(t, "jwtpair: refused with status 400: "+errLocked.Error(), err.Error())
}

// limitingStore is a Store that is also a Limiter.
type limitingStore struct {
	*MemoryStore
	*MemoryLimiter
}

func (s limitingStore) Close() error { return nil }

// limiterOf is the limiter New chose for a, without the deadline it puts
// on each call (WithStoreTimeout).
func limiterOf(a *Auth) Limiter { return a.throttle.limiter.(timedLimiter).l }

// otherStore is a Store that is not a MemoryStore and not a Limiter.
type otherStore struct{ *MemoryStore }

// TestLimiterChoice: New takes a Store that is a Limiter as the limiter;
// with another store that is not a MemoryStore, it counts in memory and
// warns.
func TestLimiterChoice(t *testing.T) {
	s := limitingStore{NewMemoryStore(), NewMemoryLimiter()}
	a, _ := newTestAuth(t, WithStore(s))
	assert.Equal(t, Limiter(s), limiterOf(a))
	obtainFrom(t, a, "203.0.113.7", "alice", "x")
	assert.Equal(t, 2, s.MemoryLimiter.Len(), "the store counted both throttles")

	logger, logs := recordLogs()
	a, _ = newTestAuth(t, WithStore(otherStore{NewMemoryStore()}), WithLogger(logger))
	assert.IsType(t, &MemoryLimiter{}, limiterOf(a))
	assert.Contains(t, logs.String(), "counts attempts in this process only")

	logger, logs = recordLogs()
	newTestAuth(t, WithStore(otherStore{NewMemoryStore()}), WithLogger(logger), WithLimiter(NewMemoryLimiter()))
	newTestAuth(t, WithStore(otherStore{NewMemoryStore()}), WithLogger(logger), WithThrottle(Throttle{}))
	newTestAuth(t, WithLogger(logger))
	assert.Empty(t, logs.String(), "no warning with a limiter, without throttling, or with the memory store")
}

// TestThrottleOptionsChecked: New refuses bad limits and proxy settings.
func TestThrottleOptionsChecked(t *testing.T) {
	for _, tc := range []struct {
		opt  Option
		want string
	}{
		{WithThrottle(Throttle{LoginPerIP: Limit{Rate: 1}}), "throttle LoginPerIP: limit"},
		{WithThrottle(Throttle{RefreshPerIP: Limit{Rate: 2000, Period: time.Second, Burst: 1}}), "throttle RefreshPerIP: limit"},
		{WithThrottle(Throttle{LoginPerUserIP: Limit{Rate: 1, Period: 24 * time.Hour, Burst: 367}}), "over a year"},
		{WithLimiter(nil), "nil Limiter"},
		{WithLimiter((*MemoryLimiter)(nil)), "nil Limiter"},
		{WithTrustedProxies(), "at least one"},
		{WithTrustedProxies("10.0.0.0/8", "proxy.internal"), `"proxy.internal" is neither`},
		{WithTrustedProxies("fe80::1%eth0"), "neither"},
		{WithTrustedProxies("::ffff:10.0.0.0/104"), "IPv4 form"},
		{WithProxyHeader("X-Real-IP"), "want X-Forwarded-For or Forwarded"},
	} {
		_, err := New(WithHMACKey(testSecret), WithAuthenticator(newTestUsers()), tc.opt)
		require.Error(t, err, tc.want)
		assert.Contains(t, err.Error(), tc.want)
	}
	_, err := New(WithHMACKey(testSecret), WithAuthenticator(newTestUsers()),
		WithTrustedProxies("10.0.0.0/8", "2001:db8::/32", "192.0.2.10"), WithProxyHeader("forwarded"))
	assert.NoError(t, err)
}

// TestMemoryLimiterMatchesTokenBucket: the memory limiter decides as a
// token bucket of Burst tokens regaining one per Interval (the algorithm
// of golang.org/x/time/rate's Limiter.Allow, computed here exactly in
// integer nanoseconds), on random attempt times.
func TestMemoryLimiterMatchesTokenBucket(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		limit := Limit{Rate: 1 + rng.IntN(20), Period: time.Duration(1+rng.IntN(60)) * time.Second, Burst: 1 + rng.IntN(10)}
		clk := newFakeClock()
		l := newMemoryLimiter(clk.Now)
		interval := limit.Interval()
		tokens := interval * time.Duration(limit.Burst) // full, in nanoseconds of regained time
		last := clk.Now()
		for i := range 300 {
			clk.Advance(time.Duration(rng.Int64N(int64(2 * interval))))
			now := clk.Now()
			tokens = min(tokens+now.Sub(last), interval*time.Duration(limit.Burst))
			last = now
			want := tokens >= interval
			if want {
				tokens -= interval
			}
			ok, wait, err := l.Allow(t.Context(), "k", limit)
			require.NoError(t, err)
			require.Equal(t, want, ok, "limit %+v, attempt %d", limit, i)
			if !ok {
				require.Equal(t, interval-tokens, wait, "limit %+v, attempt %d: wait", limit, i)
			}
		}
	}
}

// TestMemoryLimiterForgetsKeysAtRest: keys back at rest are dropped as the
// map grows, so it holds at most about twice the keys not at rest.
func TestMemoryLimiterForgetsKeysAtRest(t *testing.T) {
	clk := newFakeClock()
	l := newMemoryLimiter(clk.Now)
	limit := Limit{Rate: 1, Period: time.Second, Burst: 1}
	for i := range 10 * minSweep {
		_, _, err := l.Allow(t.Context(), fmt.Sprint("k", i), limit)
		require.NoError(t, err)
		if i%100 == 99 {
			clk.Advance(time.Second) // every earlier key is at rest
		}
	}
	assert.LessOrEqual(t, l.Len(), minSweep+100)
	require.NoError(t, l.Reset(t.Context(), "k0"))
}

// BenchmarkThrottledLogin measures a login refused by the per-address
// throttle (memory limiter), through the obtain endpoint.
func BenchmarkThrottledLogin(b *testing.B) {
	a, err := New(WithHMACKey(testSecret), WithAuthenticator(newTestUsers()), WithLogger(quietLogger))
	require.NoError(b, err)
	h := a.ObtainHandler()
	body := `{"username":"alice","password":"guess"}`
	serve := func() int {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	for range 5 {
		serve()
	}
	b.ReportAllocs()
	for b.Loop() {
		if code := serve(); code != http.StatusTooManyRequests {
			b.Fatalf("status %d", code)
		}
	}
}

// TestThrottleKeysHoldNoUsername: the per-username count is kept under a
// digest, so the limiter's backend holds no usernames.
func TestThrottleKeysHoldNoUsername(t *testing.T) {
	a, _, _ := throttleAuth(t)
	obtainFrom(t, a, "203.0.113.7", "alice.smith@example.com", "guess")
	l := limiterOf(a).(*MemoryLimiter)
	var keys []string
	for k := range l.tats {
		keys = append(keys, k)
		assert.NotContains(t, strings.ToLower(k), "alice", k)
		assert.LessOrEqual(t, len(k), 64, k)
	}
	assert.ElementsMatch(t, []string{"login:ip:203.0.113.7", a.userKey("alice.smith@example.com", "203.0.113.7")}, keys)
}
