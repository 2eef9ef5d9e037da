package jwtpair

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hello is the protected handler of the tests: it echoes the user.
var hello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	u, ok := UserFrom(r.Context())
	if !ok {
		writeJSON(w, http.StatusOK, map[string]any{"anonymous": true})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user_id": u.ID, "claims": u.Claims})
})

func serveWithHeader(h http.Handler, name string, values ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/hello/", nil)
	for _, v := range values {
		r.Header.Add(name, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

const (
	bodyNotAuthenticated = `{"detail":"Authentication credentials were not provided."}`
	bodyBadHeader        = `{"detail":"Authorization header must contain two space-delimited values","code":"bad_authorization_header"}`
	bodyInvalid          = `{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is invalid"}]}`
	bodyExpired          = `{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is expired"}]}`
	bodyWrongType        = `{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token has wrong type"}]}`
)

// tamperSignature changes one character inside tok's signature, to
// another of the alphabet, so that the signature decodes (canonically) to
// other bytes. (Overwriting the last characters with fixed ones leaves the
// token as it was when it already ended with them: one time in 1024.)
func tamperSignature(tok string) string {
	i := len(tok) - 5
	c := byte('A')
	if tok[i] == c {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}

func TestMiddleware401(t *testing.T) {
	a, clk := newTestAuth(t)
	p := login(t, a)
	h := a.Middleware(hello)
	tests := []struct {
		name      string
		values    []string
		body      string
		challenge string
	}{
		{"no header", nil, bodyNotAuthenticated, `Bearer realm="api"`},
		{"other scheme", []string{"Basic YWxpY2U6d29uZGVybGFuZA=="}, bodyNotAuthenticated, `Bearer realm="api"`},
		{"empty header", []string{""}, bodyNotAuthenticated, `Bearer realm="api"`},
		{"scheme only", []string{"Bearer"}, bodyBadHeader, `Bearer realm="api", error="invalid_request"`},
		{"scheme and spaces", []string{"Bearer   "}, bodyBadHeader, `Bearer realm="api", error="invalid_request"`},
		{"three parts", []string{"Bearer " + p.Access + " extra"}, bodyBadHeader, `Bearer realm="api", error="invalid_request"`},
		{"two headers", []string{"Bearer " + p.Access, "Bearer " + p.Access}, bodyBadHeader, `Bearer realm="api", error="invalid_request"`},
		{"garbage token", []string{"Bearer not-a-token"}, bodyInvalid, `Bearer realm="api", error="invalid_token", error_description="Token is invalid"`},
		{"refresh token", []string{"Bearer " + p.Refresh}, bodyWrongType, `Bearer realm="api", error="invalid_token", error_description="Token has wrong type"`},
		{"tampered signature", []string{"Bearer " + tamperSignature(p.Access)}, bodyInvalid, `Bearer realm="api", error="invalid_token", error_description="Token is invalid"`},
		{"oversized token", []string{"Bearer " + strings.Repeat("A", 1<<20)}, bodyInvalid, `Bearer realm="api", error="invalid_token", error_description="Token is invalid"`},
		{"oversized, scheme in another case", []string{" bEaReR " + strings.Repeat("A", 1<<20)}, bodyInvalid, `Bearer realm="api", error="invalid_token", error_description="Token is invalid"`},
		{"oversized, after Unicode and many spaces", []string{"\u00a0" + strings.Repeat(" ", 100) + "Bearer " + strings.Repeat("A", 1<<20)}, bodyInvalid, `Bearer realm="api", error="invalid_token", error_description="Token is invalid"`},
		{"oversized value of another scheme", []string{"Basic " + strings.Repeat("A", 1<<20)}, bodyNotAuthenticated, `Bearer realm="api"`},
		{"oversized, no scheme", []string{strings.Repeat("A", 1<<20)}, bodyNotAuthenticated, `Bearer realm="api"`},
		// The header's own limit: the token after the spaces is valid and
		// short, so only the length of the whole header refuses it.
		{"valid token after 8 KiB of spaces", []string{"Bearer" + strings.Repeat(" ", 8<<10) + p.Access}, bodyInvalid, `Bearer realm="api", error="invalid_token", error_description="Token is invalid"`},
		{"two headers, the first oversized", []string{"Bearer " + strings.Repeat("A", 1<<20), "Bearer " + p.Access}, bodyInvalid, `Bearer realm="api", error="invalid_token", error_description="Token is invalid"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := serveWithHeader(h, "Authorization", tt.values...)
			assert.Equal(t, http.StatusUnauthorized, w.Code)
			assert.JSONEq(t, tt.body, w.Body.String())
			assert.Equal(t, tt.challenge, w.Header().Get("WWW-Authenticate"))
			assert.Equal(t, "application/json", w.Header().Get("Content-Type"))
		})
	}

	t.Run("expired", func(t *testing.T) {
		clk.Advance(DefaultAccessTTL)
		w := serveWithHeader(h, "Authorization", "Bearer "+p.Access)
		assert.Equal(t, http.StatusUnauthorized, w.Code)
		assert.JSONEq(t, bodyExpired, w.Body.String())
		assert.Equal(t, `Bearer realm="api", error="invalid_token", error_description="Token is expired"`, w.Header().Get("WWW-Authenticate"))
	})
}

func TestMiddlewareAccepts(t *testing.T) {
	a, clk := newTestAuth(t)
	p := login(t, a)
	h := a.Middleware(hello)
	for _, v := range []string{"Bearer " + p.Access, "bearer " + p.Access, "BEARER " + p.Access, "  Bearer   " + p.Access + " ", "Bearer\t" + p.Access,
		"Bearer" + strings.Repeat(" ", 16) + p.Access} {
		w := serveWithHeader(h, "Authorization", v)
		require.Equal(t, http.StatusOK, w.Code, "%q: %s", v, w.Body.String())
		assert.JSONEq(t, `{"user_id":"1","claims":null}`, w.Body.String())
	}

	t.Run("valid until the last second", func(t *testing.T) {
		clk.Advance(DefaultAccessTTL - time.Second)
		assert.Equal(t, http.StatusOK, serveWithHeader(h, "Authorization", "Bearer "+p.Access).Code)
		clk.Advance(time.Second)
		assert.Equal(t, http.StatusUnauthorized, serveWithHeader(h, "Authorization", "Bearer "+p.Access).Code)
	})
}

func TestMiddlewareLeeway(t *testing.T) {
	a, clk := newTestAuth(t, WithLeeway(30*time.Second))
	p := login(t, a)
	h := a.Middleware(hello)
	clk.Advance(DefaultAccessTTL + 29*time.Second)
	assert.Equal(t, http.StatusOK, serveWithHeader(h, "Authorization", "Bearer "+p.Access).Code)
	clk.Advance(time.Second)
	assert.Equal(t, http.StatusUnauthorized, serveWithHeader(h, "Authorization", "Bearer "+p.Access).Code)
}

func TestMiddlewareCustomHeaderAndSchemes(t *testing.T) {
	a, _ := newTestAuth(t, WithHeader("X-Api-Token", "JWT", "Token"))
	p := login(t, a)
	h := a.Middleware(hello)
	assert.Equal(t, http.StatusOK, serveWithHeader(h, "X-API-TOKEN", "jwt "+p.Access).Code)
	assert.Equal(t, http.StatusOK, serveWithHeader(h, "x-api-token", "Token "+p.Access).Code)
	w := serveWithHeader(h, "Authorization", "Bearer "+p.Access)
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.JSONEq(t, bodyNotAuthenticated, w.Body.String())
	w = serveWithHeader(h, "X-Api-Token", "Bearer "+p.Access)
	assert.JSONEq(t, bodyNotAuthenticated, w.Body.String(), "Bearer is not accepted on this header")
}

// TestMiddlewareAcceptsSimplejwtTokens feeds tokens built by hand exactly as
// simplejwt (PyJWT) mints them, with user_id as a number and as a string.
func TestMiddlewareAcceptsSimplejwtTokens(t *testing.T) {
	a, clk := newTestAuth(t)
	h := a.Middleware(hello)
	for _, tc := range []struct {
		name   string
		userID any
		want   string
	}{
		{"integer pk", 1, "1"},
		{"big integer pk", 9007199254740993, "9007199254740993"},
		{"uuid pk", "4a1f2c3e-0b6d-4e8a-9f1d-2c3b4a5d6e7f", "4a1f2c3e-0b6d-4e8a-9f1d-2c3b4a5d6e7f"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := accessClaims(clk)
			c["user_id"] = tc.userID
			c["username"] = "alice" // a custom claim, as get_token overrides add
			tok := handTokenHS256(t, testSecret, simplejwtHeader, claimsJSON(t, c))
			w := serveWithHeader(h, "Authorization", "Bearer "+tok)
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			var got struct {
				UserID string         `json:"user_id"`
				Claims map[string]any `json:"claims"`
			}
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
			assert.Equal(t, tc.want, got.UserID)
			assert.Equal(t, map[string]any{"username": "alice"}, got.Claims)
		})
	}

	t.Run("PyJWT spacing and key order", func(t *testing.T) {
		now := clk.Now().Unix()
		payload := `{"token_type": "access", "exp": ` + itoa(now+300) + `, "iat": ` + itoa(now) +
			`, "jti": "0c4a2b8e9d7f4e1a8b3c5d6e7f8a9b0c", "user_id": 42}`
		tok := handTokenHS256(t, testSecret, `{"typ": "JWT", "alg": "HS256"}`, payload)
		w := serveWithHeader(h, "Authorization", "Bearer "+tok)
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		assert.JSONEq(t, `{"user_id":"42","claims":null}`, w.Body.String())
	})

	t.Run("other secret", func(t *testing.T) {
		tok := handTokenHS256(t, []byte("another-secret-another-secret-32b"), simplejwtHeader, claimsJSON(t, accessClaims(clk)))
		assert.Equal(t, http.StatusUnauthorized, serveWithHeader(h, "Authorization", "Bearer "+tok).Code)
	})
}

func TestOptionalMiddleware(t *testing.T) {
	a, _ := newTestAuth(t)
	p := login(t, a)
	h := a.OptionalMiddleware(hello)

	w := serveWithHeader(h, "Authorization")
	require.Equal(t, http.StatusOK, w.Code)
	assert.JSONEq(t, `{"anonymous":true}`, w.Body.String())

	w = serveWithHeader(h, "Authorization", "Basic Zm9vOmJhcg==")
	assert.JSONEq(t, `{"anonymous":true}`, w.Body.String(), "another scheme is left to other authentication")
	w = serveWithHeader(h, "Authorization", "Negotiate "+strings.Repeat("A", 64<<10))
	assert.JSONEq(t, `{"anonymous":true}`, w.Body.String(), "however long its value")

	w = serveWithHeader(h, "Authorization", "Bearer "+p.Access)
	assert.JSONEq(t, `{"user_id":"1","claims":null}`, w.Body.String())

	w = serveWithHeader(h, "Authorization", "Bearer broken")
	assert.Equal(t, http.StatusUnauthorized, w.Code, "a presented bad token is never downgraded to anonymous")
	assert.JSONEq(t, bodyInvalid, w.Body.String())
}

func TestCheckAndContext(t *testing.T) {
	a, clk := newTestAuth(t)
	p := login(t, a)

	r := httptest.NewRequest(http.MethodGet, "/", nil)
	_, err := a.Check(r)
	assert.ErrorIs(t, err, ErrNoCredentials)

	r.Header.Set("Authorization", "Bearer "+p.Access)
	c, err := a.Check(r)
	require.NoError(t, err)
	assert.Equal(t, "1", c.UserID)
	assert.Equal(t, TokenTypeAccess, c.TokenType)
	assert.Len(t, c.JTI, 32)
	assert.Equal(t, clk.Now().Add(DefaultAccessTTL), c.ExpiresAt)
	assert.Equal(t, clk.Now(), c.IssuedAt)

	r.Header.Set("Authorization", "Bearer "+p.Refresh)
	_, err = a.Check(r)
	var te *tokenError
	require.ErrorAs(t, err, &te)
	assert.ErrorIs(t, err, ErrTokenWrongType)

	_, ok := UserFrom(r.Context())
	assert.False(t, ok)
	_, ok = ClaimsFrom(ContextWithClaims(r.Context(), nil))
	assert.False(t, ok, "a nil *Claims is no user")
	ctx := ContextWithClaims(r.Context(), c)
	u, ok := UserFrom(ctx)
	require.True(t, ok)
	assert.Equal(t, "1", u.ID)
}

func TestErrorHandlerHook(t *testing.T) {
	var got error
	a, _ := newTestAuth(t, WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		got = err
		w.WriteHeader(http.StatusTeapot)
	}))
	w := serveWithHeader(a.Middleware(hello), "Authorization", "Bearer x.y.z")
	assert.Equal(t, http.StatusTeapot, w.Code)
	assert.ErrorIs(t, got, ErrTokenInvalid)
}

// TestAuthWriteError: an adapter that calls Check and answers its error
// with Auth.WriteError (gin's recipe) answers as the middleware does, with
// the default and with a custom error handler, and logs what it logs (a
// failing UserLoader: 503, logged at the status the handler wrote).
func TestAuthWriteError(t *testing.T) {
	custom := func(w http.ResponseWriter, r *http.Request, err error) {
		resp := ResponseFor(err)
		w.WriteHeader(resp.Status)
		_, _ = w.Write([]byte(`{"custom":true}`))
	}
	for _, tc := range []struct {
		name string
		opts []Option
		body string // of the 503
	}{
		{"default", nil, bodyUnavailable},
		{"WithErrorHandler", []Option{WithErrorHandler(custom)}, `{"custom":true}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &logRecorder{}
			noTime := func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey {
					return slog.Attr{}
				}
				return a
			}
			logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{ReplaceAttr: noTime}))
			a, users := newLoaderAuth(t, append([]Option{WithUserCheck(), WithLogger(logger)}, tc.opts...)...)
			p := login(t, a)
			adapter := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, err := a.Check(r)
				if err != nil {
					a.WriteError(w, r, err)
					return
				}
				hello.ServeHTTP(w, r.WithContext(ContextWithClaims(r.Context(), c)))
			})
			type answer struct {
				status       int
				header       http.Header
				body, logged string
			}
			serve := func(h http.Handler, auth ...string) answer {
				before := len(logs.String())
				w := serveWithHeader(h, "Authorization", auth...)
				return answer{w.Code, w.Header(), w.Body.String(), logs.String()[before:]}
			}
			assert.Equal(t, serve(a.Middleware(hello)), serve(adapter), "no credentials")
			for _, auth := range []string{"Bearer x.y.z", "Bearer " + p.Access} {
				assert.Equal(t, serve(a.Middleware(hello), auth), serve(adapter, auth), auth)
			}
			users.set(func(u *testUsers) { u.fail = errors.New("loader down") })
			want := serve(a.Middleware(hello), "Bearer "+p.Access)
			assert.Equal(t, http.StatusServiceUnavailable, want.status)
			assert.JSONEq(t, tc.body, want.body)
			assert.Contains(t, want.logged, "status=503")
			assert.Equal(t, want, serve(adapter, "Bearer "+p.Access))
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// FuzzAuthorizationHeader: any header value gets from the middleware the
// answer headerModel predicts (200, or 401 with the predicted code), never
// a panic or a 5xx. The oracle calls none of the package's code: it is the
// header grammar written again, with a reference check of the token
// (refAccessToken) that the standard library does.
func FuzzAuthorizationHeader(f *testing.F) {
	a, p := fuzzAuth(f)
	for _, s := range []string{"", "Bearer", "Bearer " + p.Access, "bearer  " + p.Access, "Bearer a b", "Basic x", "Bearer\t" + p.Refresh, "Bearer ...", "Bearer " + strings.Repeat(".", 100),
		"Bearer" + strings.Repeat(" ", 8<<10) + p.Access, "\u00a0Bearer " + p.Access + "\n", "Bearer\v" + p.Access} {
		f.Add(s)
	}
	h := a.Middleware(hello)
	f.Fuzz(func(t *testing.T, v string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header["Authorization"] = []string{v}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		status, code := headerModel(v, refAccessToken)
		if w.Code != status {
			t.Fatalf("status %d for %q, the model says %d (%s): %s", w.Code, v, status, code, w.Body.String())
		}
		var body struct {
			Code   string `json:"code"`
			UserID string `json:"user_id"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("body %q: %v", w.Body.String(), err)
		}
		if status == http.StatusOK && body.UserID != "1" || status != http.StatusOK && body.Code != code {
			t.Fatalf("body %s for %q, the model says code %q", w.Body.String(), v, code)
		}
	})
}

// headerModel is the credentials grammar of the middleware with the default
// options, written apart from middleware.go, as the fuzz oracle: the value,
// trimmed of white space, is a scheme, then spaces or tabs, then one token.
// Another scheme (case-insensitive) is no credentials; a value longer than
// "Bearer", 16 bytes of white space and an 8 KiB token is refused as an
// invalid token before it is read; an accepted scheme not followed by
// exactly one token is a malformed header. It returns the status and error
// code the middleware must answer; valid says whether a token verifies.
func headerModel(v string, valid func(string) bool) (int, string) {
	trimmed := strings.TrimFunc(v, unicode.IsSpace)
	scheme, rest := trimmed, ""
	if i := strings.IndexFunc(trimmed, func(r rune) bool { return r == ' ' || r == '\t' }); i >= 0 {
		scheme, rest = trimmed[:i], trimmed[i+1:]
	}
	switch {
	case !strings.EqualFold(scheme, "Bearer"):
		return http.StatusUnauthorized, "" // DRF's NotAuthenticated: no code
	case len(v) > len("Bearer")+16+defaultMaxTokenBytes:
		return http.StatusUnauthorized, "token_not_valid"
	}
	tok := strings.TrimLeft(rest, " \t")
	switch {
	case tok == "" || strings.ContainsAny(tok, " \t"):
		return http.StatusUnauthorized, "bad_authorization_header"
	case valid(tok):
		return http.StatusOK, ""
	}
	return http.StatusUnauthorized, "token_not_valid"
}

// refAccessToken reports whether tok is a valid access token of fuzzAuth,
// checked with the standard library alone: three segments, a strict
// base64url HMAC-SHA256 of the first two under testSecret, and, in the
// payload, token_type "access" and exp after the fuzz clock's time. Without
// the key the fuzzer can write no valid signature, so a token passing this
// was minted by fuzzAuth (in this run, or in an earlier one whose token is
// in the corpus), and all of those verify.
func refAccessToken(tok string) bool {
	enc := base64.RawURLEncoding.Strict()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return false
	}
	sig, err := enc.DecodeString(parts[2])
	mac := hmac.New(sha256.New, testSecret)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		return false
	}
	payload, err := enc.DecodeString(parts[1])
	var c struct {
		TokenType string `json:"token_type"`
		Exp       int64  `json:"exp"`
	}
	return err == nil && json.Unmarshal(payload, &c) == nil && c.TokenType == TokenTypeAccess && c.Exp > newFakeClock().Now().Unix()
}

// TestRequestPathAllocations: a valid access token costs the middleware
// one allocation, whatever claims it checks, from the cache of verified
// tokens or not: the claims, their place in the request context and the
// request's copy that carries them (claimsContext), with, for a token
// verified there, the memory of the claims' strings. VerifyAccess costs
// the same.
func TestRequestPathAllocations(t *testing.T) {
	for name, opts := range map[string][]Option{
		"defaults":            nil,
		"issuer and audience": {WithIssuer("https://auth.example.com"), WithAudience("api", "other")},
		"real clock":          {WithClock(time.Now)},
		"no cache":            {WithVerifiedTokenCache(0)},
	} {
		t.Run(name, func(t *testing.T) {
			a, _ := newTestAuth(t, opts...)
			p, err := a.IssuePair(t.Context(), User{ID: "42"})
			require.NoError(t, err)
			h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if u, _ := UserFrom(r.Context()); u.ID != "42" {
					w.WriteHeader(http.StatusInternalServerError)
				}
			}))
			r := httptest.NewRequest(http.MethodGet, "/hello/", nil)
			r.Header.Set("Authorization", "Bearer "+p.Access)
			w := &discardWriter{h: http.Header{}}
			h.ServeHTTP(w, r)
			require.Zero(t, w.code, "200, nothing written")
			if raceEnabled {
				return
			}
			assert.Equal(t, 1.0, allocsPerRun(100, func() { h.ServeHTTP(w, r) }), "the middleware")
			assert.Equal(t, 1.0, allocsPerRun(100, func() { _, _ = a.VerifyAccess(t.Context(), p.Access) }), "VerifyAccess")
		})
	}
}

// TestContextPrintsNoClaims: the request context the middleware hands on
// prints as context.WithValue's does, naming the claims' type: a handler
// that logs its context logs no claim (user id, jti, sid).
func TestContextPrintsNoClaims(t *testing.T) {
	a, _ := newTestAuth(t)
	p, err := a.IssuePair(t.Context(), User{ID: "user-4711"})
	require.NoError(t, err)
	c, err := a.VerifyAccess(t.Context(), p.Access)
	require.NoError(t, err)
	var printed string
	h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		printed = fmt.Sprint(r.Context()) + fmt.Sprintf("%v %+v", r.Context(), r.Context())
	}))
	r := httptest.NewRequest(http.MethodGet, "/hello/", nil)
	r.Header.Set("Authorization", "Bearer "+p.Access)
	h.ServeHTTP(httptest.NewRecorder(), r)
	require.Contains(t, printed, "WithValue(jwtpair claims, *jwtpair.Claims)")
	for _, v := range []string{c.UserID, c.JTI, c.SessionID} {
		assert.NotContains(t, printed, v)
	}
}
