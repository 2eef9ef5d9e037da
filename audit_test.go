package jwtpair

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testClient is the client address of httptest's requests (RemoteAddr
// 192.0.2.1:1234), as Auth.ClientIP reads it.
var testClient = netip.MustParseAddr("192.0.2.1")

// auditRig records the audit events of an Auth, and the secrets its test
// handled (passwords, tokens, CSRF tokens, stamps, keys), which no event
// may carry in any printed form.
type auditRig struct {
	mu      sync.Mutex
	events  []Event
	all     []Event  // every event, for the secrets scan
	lines   []string // every event as the example logs it: one slog JSON line
	secrets []string
}

// newAuditRig returns a rig whose events are checked for secrets when the
// test ends.
func newAuditRig(t *testing.T) *auditRig {
	l := &auditRig{secrets: []string{string(testSecret), "wonderland", "builder"}}
	t.Cleanup(func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		require.NotEmpty(t, l.all, "the test saw events")
		for _, leak := range leaks(l.all, l.lines, l.secrets) {
			t.Errorf("an event carries a secret: %s", leak)
		}
	})
	return l
}

// hook is the rig's WithAuditHook: it keeps the event and logs it as the
// example does.
func (l *auditRig) hook(ctx context.Context, e Event) {
	var buf strings.Builder
	slog.New(slog.NewJSONHandler(&buf, nil)).LogAttrs(ctx, slog.LevelInfo, "audit", slog.Any("event", e))
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
	l.all = append(l.all, e)
	l.lines = append(l.lines, buf.String())
}

// take returns the events since the last take.
func (l *auditRig) take() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.events
	l.events = nil
	return e
}

// secret adds values no event may carry; a token is added whole, and by
// its payload and signature.
func (l *auditRig) secret(values ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, v := range values {
		if v == "" {
			continue
		}
		l.secrets = append(l.secrets, v)
		if parts := strings.Split(v, "."); len(parts) == 3 {
			l.secrets = append(l.secrets, parts[1], parts[2])
		}
	}
}

// pair adds a pair's tokens to the secrets and returns it.
func (l *auditRig) pair(p Pair) Pair {
	l.secret(p.Access, p.Refresh)
	return p
}

// leaks returns the printed forms of events (%v, %+v, %#v, JSON, the slog
// lines) that contain one of secrets.
func leaks(events []Event, lines []string, secrets []string) []string {
	var forms []string
	for _, e := range events {
		j, _ := json.Marshal(e)
		forms = append(forms, fmt.Sprintf("%v", e), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e), string(j))
	}
	forms = append(forms, lines...)
	var out []string
	for _, f := range forms {
		for _, s := range secrets {
			if strings.Contains(f, s) {
				out = append(out, fmt.Sprintf("%q in %s", s, f))
			}
		}
	}
	return out
}

// auditAuth returns an Auth over testUsers reporting to a new rig.
func auditAuth(t *testing.T, opts ...Option) (*Auth, *auditRig, *fakeClock) {
	t.Helper()
	l := newAuditRig(t)
	a, clk := newTestAuth(t, append([]Option{WithAuditHook(l.hook)}, opts...)...)
	return a, l, clk
}

// auditLogin logs alice in through obtain, and returns the pair and its
// session.
func (l *auditRig) login(t *testing.T, a *Auth) (Pair, string) {
	t.Helper()
	p := l.pair(login(t, a))
	return p, mustClaims(t, a, p.Access).SessionID
}

func TestAuditLeaksControl(t *testing.T) {
	// The scan of every test below finds what it looks for.
	tok := "eyJhbGciOiJIUzI1NiJ9.eyJqdGkiOiIxIn0.c2lnbmF0dXJl"
	secrets := []string{"wonderland", tok, "c2lnbmF0dXJl"}
	assert.Empty(t, leaks([]Event{{Kind: EventLoginFailed, Username: "alice"}}, nil, secrets))
	assert.NotEmpty(t, leaks([]Event{{Kind: EventLoginFailed, Username: "wonderland"}}, nil, secrets))
	assert.NotEmpty(t, leaks([]Event{{Kind: EventRefreshed, Reason: "c2lnbmF0dXJl"}}, nil, secrets))
	assert.NotEmpty(t, leaks(nil, []string{`{"token":"` + tok + `"}`}, secrets))
}

// TestAuditLogin: the events of a login, exactly: succeeded (with its
// session), failed (with the username tried), throttled by each throttle,
// refused by WithLoginCheck or the Authenticator; none for an outage.
func TestAuditLogin(t *testing.T) {
	obtain := func(a *Auth, username, password string) int {
		return postJSON(t, a.ObtainHandler(), `{"username":"`+username+`","password":"`+password+`"}`).Code
	}

	t.Run("succeeded", func(t *testing.T) {
		a, l, _ := auditAuth(t)
		_, sid := l.login(t, a)
		assert.Equal(t, []Event{{Kind: EventLoginSucceeded, UserID: "1", SessionID: sid, ClientIP: testClient}}, l.take())

		// IssuePair is a login too, with no request behind it.
		p, err := a.IssuePair(t.Context(), User{ID: "7"})
		require.NoError(t, err)
		l.pair(p)
		assert.Equal(t, []Event{{Kind: EventLoginSucceeded, UserID: "7", SessionID: mustClaims(t, a, p.Access).SessionID}}, l.take())
	})

	t.Run("failed", func(t *testing.T) {
		a, l, _ := auditAuth(t)
		l.secret("wrong-password-1", "the-password")
		assert.Equal(t, http.StatusUnauthorized, obtain(a, "alice", "wrong-password-1"))
		assert.Equal(t, http.StatusUnauthorized, obtain(a, " mallory ", "the-password"))
		assert.Equal(t, []Event{
			{Kind: EventLoginFailed, Username: "alice", ClientIP: testClient},
			{Kind: EventLoginFailed, Username: "mallory", ClientIP: testClient},
		}, l.take())

		long := strings.Repeat("é", 200) // 400 bytes: cut to 256 at a character boundary
		assert.Equal(t, http.StatusUnauthorized, obtain(a, long, "x-password"))
		assert.Equal(t, []Event{{Kind: EventLoginFailed, Username: strings.Repeat("é", 128), ClientIP: testClient}}, l.take())
	})

	t.Run("throttled per user and IP", func(t *testing.T) {
		one := Limit{Rate: 1, Period: time.Hour, Burst: 1}
		a, l, _ := auditAuth(t, WithThrottle(Throttle{LoginPerUserIP: one}))
		l.secret("wrong-password-2")
		assert.Equal(t, http.StatusUnauthorized, obtain(a, "alice", "wrong-password-2"))
		assert.Equal(t, http.StatusTooManyRequests, obtain(a, "alice", "wonderland"))
		assert.Equal(t, []Event{
			{Kind: EventLoginFailed, Username: "alice", ClientIP: testClient},
			{Kind: EventLoginThrottled, Username: "alice", ClientIP: testClient, Reason: "login_per_user_ip"},
		}, l.take())
	})

	t.Run("throttled per IP", func(t *testing.T) {
		one := Limit{Rate: 1, Period: time.Hour, Burst: 1}
		a, l, _ := auditAuth(t, WithThrottle(Throttle{LoginPerIP: one}))
		p, sid := l.login(t, a)
		l.pair(p)
		assert.Equal(t, http.StatusTooManyRequests, obtain(a, "bob", "builder"))
		assert.Equal(t, []Event{
			{Kind: EventLoginSucceeded, UserID: "1", SessionID: sid, ClientIP: testClient},
			{Kind: EventLoginThrottled, Username: "bob", ClientIP: testClient, Reason: "login_per_ip"},
		}, l.take())
	})

	t.Run("refused by WithLoginCheck", func(t *testing.T) {
		var answer error
		a, l, _ := auditAuth(t, WithLoginCheck(func(*http.Request, string) error { return answer }))
		for _, tc := range []struct {
			err    error
			status int
			want   []Event
		}{
			{&Refusal{Status: http.StatusForbidden}, http.StatusForbidden,
				[]Event{{Kind: EventLoginRefused, Username: "alice", ClientIP: testClient, Reason: "login_check"}}},
			{ErrPermissionDenied, http.StatusForbidden,
				[]Event{{Kind: EventLoginRefused, Username: "alice", ClientIP: testClient, Reason: "login_check"}}},
			{&ThrottledError{RetryAfter: time.Minute}, http.StatusTooManyRequests,
				[]Event{{Kind: EventLoginThrottled, Username: "alice", ClientIP: testClient, Reason: "login_check"}}},
			{errors.New("captcha service down"), http.StatusInternalServerError, nil}, // a failure, not a refusal
		} {
			answer = tc.err
			assert.Equal(t, tc.status, obtain(a, "alice", "wonderland"), "%v", tc.err)
			assert.Equal(t, tc.want, l.take(), "%v", tc.err)
		}
	})

	t.Run("refused by the Authenticator, or failing", func(t *testing.T) {
		var answer error
		authn := AuthenticatorFunc(func(context.Context, string, string) (User, error) { return User{}, answer })
		a, l, _ := auditAuth(t, WithAuthenticator(authn), WithLogger(quietLogger))
		answer = &Refusal{Status: http.StatusForbidden, Body: map[string]string{"detail": "Confirm your e-mail address first."}}
		assert.Equal(t, http.StatusForbidden, obtain(a, "alice", "wonderland"))
		assert.Equal(t, []Event{{Kind: EventLoginRefused, Username: "alice", ClientIP: testClient, Reason: "authenticator"}}, l.take())
		answer = errors.New("users database down")
		assert.Equal(t, http.StatusServiceUnavailable, obtain(a, "alice", "wonderland"))
		assert.Empty(t, l.take(), "an outage is logged, not audited")
		answer = ErrInvalidCredentials
		assert.Equal(t, http.StatusUnauthorized, obtain(a, "alice", "wonderland"))
		assert.Equal(t, []Event{{Kind: EventLoginFailed, Username: "alice", ClientIP: testClient}}, l.take())
	})

	t.Run("client address through trusted proxies", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			opts []Option
			want netip.Addr
		}{
			{"trusted", []Option{WithTrustedProxies("192.0.2.0/24")}, netip.MustParseAddr("203.0.113.9")},
			{"untrusted: the header is ignored", nil, testClient},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a, l, _ := auditAuth(t, tc.opts...)
				r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"username":"alice","password":"wonderland"}`))
				r.Header.Set("Content-Type", "application/json")
				r.Header.Set("X-Forwarded-For", "203.0.113.9")
				w := httptest.NewRecorder()
				a.ObtainHandler().ServeHTTP(w, r)
				require.Equal(t, http.StatusOK, w.Code)
				var p Pair
				require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p))
				l.pair(p)
				assert.Equal(t, []Event{{Kind: EventLoginSucceeded, UserID: "1", SessionID: mustClaims(t, a, p.Access).SessionID, ClientIP: tc.want}}, l.take())
			})
		}
	})
}

// TestAuditTokens: the events of a refresh, a reuse, a logout, exactly,
// through the endpoints (with the client's address) and the methods
// (without); none for a refusal that ends nothing.
func TestAuditTokens(t *testing.T) {
	refresh := func(a *Auth, tok string) *httptest.ResponseRecorder {
		return postJSON(t, a.RefreshHandler(), `{"refresh":"`+tok+`"}`)
	}

	t.Run("refresh", func(t *testing.T) {
		a, l, _ := auditAuth(t)
		p, sid := l.login(t, a)
		w := refresh(a, p.Refresh)
		require.Equal(t, http.StatusOK, w.Code)
		l.secret(w.Body.String())
		var next Pair
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &next))
		l.pair(next)
		next2, err := a.Refresh(t.Context(), next.Refresh)
		require.NoError(t, err)
		l.pair(next2)
		assert.Equal(t, []Event{
			{Kind: EventLoginSucceeded, UserID: "1", SessionID: sid, ClientIP: testClient},
			{Kind: EventRefreshed, UserID: "1", SessionID: sid, ClientIP: testClient},
			{Kind: EventRefreshed, UserID: "1", SessionID: sid},
		}, l.take())
	})

	t.Run("reuse", func(t *testing.T) {
		a, l, _ := auditAuth(t)
		p, sid := l.login(t, a)
		w := refresh(a, p.Refresh)
		require.Equal(t, http.StatusOK, w.Code)
		var next Pair
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &next))
		l.pair(next)
		assert.Equal(t, http.StatusUnauthorized, refresh(a, p.Refresh).Code, "reuse")
		assert.Equal(t, http.StatusUnauthorized, refresh(a, next.Refresh).Code, "the session ended")
		assert.Equal(t, []Event{
			{Kind: EventLoginSucceeded, UserID: "1", SessionID: sid, ClientIP: testClient},
			{Kind: EventRefreshed, UserID: "1", SessionID: sid, ClientIP: testClient},
			{Kind: EventReuseDetected, UserID: "1", SessionID: sid, ClientIP: testClient},
		}, l.take())
	})

	t.Run("logout", func(t *testing.T) {
		a, l, _ := auditAuth(t)
		p, sid := l.login(t, a)
		logout := func() int { return postJSON(t, a.BlacklistHandler(), `{"refresh":"`+p.Refresh+`"}`).Code }
		assert.Equal(t, http.StatusOK, logout())
		assert.Equal(t, http.StatusUnauthorized, logout(), "already ended: nothing more")
		p2, sid2 := l.login(t, a)
		require.NoError(t, a.Revoke(t.Context(), p2.Refresh))
		assert.Equal(t, []Event{
			{Kind: EventLoginSucceeded, UserID: "1", SessionID: sid, ClientIP: testClient},
			{Kind: EventLoggedOut, UserID: "1", SessionID: sid, ClientIP: testClient},
			{Kind: EventLoginSucceeded, UserID: "1", SessionID: sid2, ClientIP: testClient},
			{Kind: EventLoggedOut, UserID: "1", SessionID: sid2},
		}, l.take())
	})

	t.Run("cookie mode", func(t *testing.T) {
		l := newAuditRig(t)
		a, _ := cookieAuth(t, CookieOptions{}, WithAuditHook(l.hook))
		j, _ := cookieLogin(t, a)
		l.secret(j[accessCookie], j[refreshCookie], j[csrfCookie])
		sid := mustClaims(t, a, j[accessCookie]).SessionID
		w := serve(a.RefreshHandler(), refreshCookieRequest(j, "/api/token/refresh/", "no body"))
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		j.update(t, w)
		l.secret(j[accessCookie], j[refreshCookie], j[csrfCookie])
		w = serve(a.BlacklistHandler(), refreshCookieRequest(j, "/api/token/blacklist/", "no body"))
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		assert.Equal(t, []Event{
			{Kind: EventLoginSucceeded, UserID: "1", SessionID: sid, ClientIP: testClient},
			{Kind: EventRefreshed, UserID: "1", SessionID: sid, ClientIP: testClient},
			{Kind: EventLoggedOut, UserID: "1", SessionID: sid, ClientIP: testClient},
		}, l.take())
	})
}

// TestAuditSessionEnds: every way a session ends that is not a logout or
// a reuse, exactly: the API, the endpoints, the per-user cap, a changed
// user stamp (at refresh; and the middleware's WithUserCheck, which
// refuses without ending).
func TestAuditSessionEnds(t *testing.T) {
	t.Run("API", func(t *testing.T) {
		a, l, _ := auditAuth(t)
		_, s1 := l.login(t, a)
		_, s2 := l.login(t, a)
		l.take()
		ctx := t.Context()
		require.NoError(t, a.EndSession(ctx, "1", s1))
		require.NoError(t, a.EndOtherSessions(ctx, "1", s2))
		require.NoError(t, a.EndAllSessions(ctx, "1"))
		assert.Equal(t, []Event{
			{Kind: EventSessionEnded, UserID: "1", SessionID: s1, Reason: "end_session"},
			{Kind: EventSessionEnded, UserID: "1", Reason: "end_other_sessions"},
			{Kind: EventSessionEnded, UserID: "1", Reason: "end_all_sessions"},
		}, l.take())
		assert.Error(t, a.EndSession(ctx, "", s1))
		assert.Empty(t, l.take(), "a refused call ends nothing")
	})

	t.Run("endpoints", func(t *testing.T) {
		a, l, _ := auditAuth(t)
		mux := sessionsMux(a)
		_, s1 := l.login(t, a)
		p2, _ := l.login(t, a)
		l.take()
		assert.Equal(t, http.StatusNoContent, call(mux, http.MethodDelete, "/api/sessions/"+s1+"/", p2.Access).Code)
		assert.Equal(t, http.StatusNotFound, call(mux, http.MethodDelete, "/api/sessions/"+s1+"/", p2.Access).Code, "ended already")
		assert.Equal(t, http.StatusOK, call(mux, http.MethodPost, "/api/sessions/end-others/", p2.Access).Code)
		assert.Equal(t, []Event{
			{Kind: EventSessionEnded, UserID: "1", SessionID: s1, ClientIP: testClient, Reason: "user_ended"},
			{Kind: EventSessionEnded, UserID: "1", ClientIP: testClient, Reason: "user_ended_others"},
		}, l.take())
	})

	t.Run("per-user cap", func(t *testing.T) {
		a, l, _ := auditAuth(t, WithMaxSessionsPerUser(2))
		_, s1 := l.login(t, a)
		_, s2 := l.login(t, a)
		_, s3 := l.login(t, a)
		assert.Equal(t, []Event{
			{Kind: EventLoginSucceeded, UserID: "1", SessionID: s1, ClientIP: testClient},
			{Kind: EventLoginSucceeded, UserID: "1", SessionID: s2, ClientIP: testClient},
			{Kind: EventLoginSucceeded, UserID: "1", SessionID: s3, ClientIP: testClient},
			{Kind: EventSessionEnded, UserID: "1", SessionID: s1, ClientIP: testClient, Reason: "session_cap"},
		}, l.take())
	})

	t.Run("stamp changed", func(t *testing.T) {
		users := newTestUsers()
		users.stamps["1"] = "pw-2026-11-01T10:00:00Z"
		a, l, _ := auditAuth(t, WithAuthenticator(loaderUsers{users}), WithUserCheck())
		l.secret("pw-2026-11-01T10:00:00Z", "pw-2026-12-24T18:00:00Z")
		p, sid := l.login(t, a)
		users.set(func(u *testUsers) { u.stamps["1"] = "pw-2026-12-24T18:00:00Z" })
		assert.Equal(t, http.StatusUnauthorized, serveWithHeader(a.Middleware(hello), "Authorization", "Bearer "+p.Access).Code)
		assert.Equal(t, http.StatusUnauthorized, postJSON(t, a.RefreshHandler(), `{"refresh":"`+p.Refresh+`"}`).Code)
		assert.Equal(t, []Event{
			{Kind: EventLoginSucceeded, UserID: "1", SessionID: sid, ClientIP: testClient},
			{Kind: EventStampChanged, UserID: "1", SessionID: sid, ClientIP: testClient, Reason: "user_check"},
			{Kind: EventStampChanged, UserID: "1", SessionID: sid, ClientIP: testClient, Reason: "refresh"},
			{Kind: EventSessionEnded, UserID: "1", SessionID: sid, ClientIP: testClient, Reason: "stamp_changed"},
		}, l.take())
	})
}

// TestAuditKeySetRefreshed: a resource server reports each key set it
// installs, with its kids: at start, and when a token naming a new kid
// makes it fetch the set again.
func TestAuditKeySetRefreshed(t *testing.T) {
	testKeys(t)
	issuer, err := New(WithSigningKey(ecKey, "ES256"), WithAuthenticator(newTestUsers()), WithLogger(quietLogger))
	require.NoError(t, err)
	t.Cleanup(func() { _ = issuer.Close() })
	srv := newJWKSServer(t, issuer)
	l := newAuditRig(t)
	rs, err := New(WithoutRevocationFeed(), WithJWKSURL(srv.URL+"/jwks.json"), WithAlgorithm("ES256"),
		WithLogger(quietLogger), WithAuditHook(l.hook))
	require.NoError(t, err)
	t.Cleanup(func() { _ = rs.Close() })
	kid1, kid2 := mustThumb(t, &ecKey.PublicKey), mustThumb(t, &ecKey2.PublicKey)
	assert.Equal(t, []Event{{Kind: EventKeySetRefreshed, KeyIDs: []string{kid1}}}, l.take())

	rotated, err := New(WithSigningKey(ecKey2, "ES256"), WithPreviousKey(&ecKey.PublicKey, "ES256", "", time.Now().Add(time.Hour)),
		WithAuthenticator(newTestUsers()), WithLogger(quietLogger))
	require.NoError(t, err)
	t.Cleanup(func() { _ = rotated.Close() })
	srv.serve(rotated)
	p := l.pair(login(t, rotated))
	require.Equal(t, http.StatusOK, serveWithHeader(rs.Middleware(hello), "Authorization", "Bearer "+p.Access).Code)
	want := []string{kid1, kid2}
	if kid2 < kid1 {
		want = []string{kid2, kid1}
	}
	assert.Equal(t, []Event{{Kind: EventKeySetRefreshed, KeyIDs: want}}, l.take())
}

// TestAuditHookPanics: a hook that panics is recovered and logged, and
// the request goes on: the login's tokens are answered, the refresh's
// rotated token too, so the client does not end its own session by
// reusing the old one. Without the recover, the test panics.
func TestAuditHookPanics(t *testing.T) {
	logger, logs := recordLogs()
	var calls int
	a, _ := newTestAuth(t, WithLogger(logger), WithAuditHook(func(context.Context, Event) {
		calls++
		panic("audit sink full")
	}))
	p := login(t, a)
	w := postJSON(t, a.RefreshHandler(), `{"refresh":"`+p.Refresh+`"}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var next Pair
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &next))
	_, err := a.Refresh(t.Context(), next.Refresh)
	assert.NoError(t, err, "the rotated token the client got works")
	assert.Equal(t, 3, calls)
	out := logs.String()
	assert.Equal(t, 3, strings.Count(out, `level=ERROR msg="jwtpair: the audit hook panicked; the event is lost"`), out)
	assert.Contains(t, out, "kind=login_succeeded panic=\"audit sink full\"")
	assert.Contains(t, out, "kind=refreshed")
	assert.NotContains(t, out, p.Refresh)
}

// TestAuditWithoutHook: without a hook no event is built into a request:
// auditRequest hands the request on as it is.
func TestAuditWithoutHook(t *testing.T) {
	a, _ := newTestAuth(t)
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	assert.Same(t, r, a.auditRequest(r))
	a.emit(t.Context(), Event{Kind: EventLoginFailed}) // no hook: nothing to call
}

// TestEventLogValue: the slog form names the fields as the JSON form does
// and leaves out the zero ones.
func TestEventLogValue(t *testing.T) {
	var buf strings.Builder
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	for _, e := range []Event{
		{Kind: EventLoginFailed, Username: "alice", ClientIP: testClient},
		{Kind: EventSessionEnded, UserID: "1", SessionID: "s1", Reason: "session_cap"},
		{Kind: EventKeySetRefreshed, KeyIDs: []string{"k1", "k2"}},
	} {
		logger.Info("audit", "event", e)
		j, err := json.Marshal(e)
		require.NoError(t, err)
		var line struct{ Event json.RawMessage }
		require.NoError(t, json.Unmarshal([]byte(buf.String()), &line))
		assert.JSONEq(t, string(j), string(line.Event), "slog and JSON forms agree")
		buf.Reset()
	}
	j, _ := json.Marshal(Event{Kind: EventLoginFailed, Username: "alice", ClientIP: testClient})
	assert.JSONEq(t, `{"kind":"login_failed","username":"alice","client_ip":"192.0.2.1"}`, string(j))
}

func TestAuditSliding(t *testing.T) {
	a, l, _ := auditAuth(t, withSliding)
	tok := loginSliding(t, a)
	l.secret(tok)
	sid := mustClaims(t, a, tok).SessionID
	w := refreshSlidingReq(t, a, tok)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	l.secret(w.Body.String())
	w = postJSON(t, a.SlidingBlacklistHandler(), `{"token":"`+tok+`"}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, []Event{
		{Kind: EventLoginSucceeded, UserID: "1", SessionID: sid, ClientIP: testClient},
		{Kind: EventRefreshed, UserID: "1", SessionID: sid, ClientIP: testClient},
		{Kind: EventLoggedOut, UserID: "1", SessionID: sid, ClientIP: testClient},
	}, l.take())
}
