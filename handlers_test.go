package jwtpair

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	bodyNoAccount      = `{"detail":"No active account found with the given credentials"}`
	bodyNoAccountToken = `{"detail":"No active account found for the given token."}`
	bodyTokenInvalid   = `{"detail":"Token is invalid","code":"token_not_valid"}`
	bodyTokenExpired   = `{"detail":"Token is expired","code":"token_not_valid"}`
	bodyBlacklisted    = `{"detail":"Token is blacklisted","code":"token_not_valid"}`
	bodyWrongTypeBare  = `{"detail":"Token has wrong type","code":"token_not_valid"}`
	bodyUnavailable    = `{"detail":"Service temporarily unavailable, try again later.","code":"service_unavailable"}`
	bodyServerError    = `{"detail":"A server error occurred.","code":"server_error"}`
	// simplejwt's JWTAuthentication with CHECK_REVOKE_TOKEN, for the
	// middleware with WithUserCheck.
	bodyPasswordChanged = `{"detail":"The user's password has been changed.","code":"password_changed"}`
)

// TestEndpointRequests: every token endpoint reads requests as simplejwt's
// views on DRF 3.14 do (compat's TestSimplejwtParity compares them with the
// real one): the method, the media type, the size, the parse, the fields.
func TestEndpointRequests(t *testing.T) {
	a, _ := newTestAuth(t, WithMaxBodyBytes(1024))
	endpoints := map[string]struct {
		h      http.Handler
		fields []string
		name   string // of the view, in the OPTIONS metadata
	}{
		"obtain":    {a.ObtainHandler(), []string{"username", "password"}, "Token Obtain Pair"},
		"refresh":   {a.RefreshHandler(), []string{"refresh"}, "Token Refresh"},
		"verify":    {a.VerifyHandler(), []string{"token"}, "Token Verify"},
		"blacklist": {a.BlacklistHandler(), []string{"refresh"}, "Token Blacklist"},
	}
	fieldErrors := func(msg string, fields ...string) string {
		m := map[string][]string{}
		for _, f := range fields {
			m[f] = []string{msg}
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	for name, ep := range endpoints {
		t.Run(name, func(t *testing.T) {
			required := fieldErrors("This field is required.", ep.fields...)
			first, last := ep.fields[0], ep.fields[len(ep.fields)-1]
			blankAndNull := `{"` + first + `":["This field may not be blank."],"` + last + `":["This field may not be null."]}`
			if first == last { // one field, given twice: the last wins
				blankAndNull = fieldErrors("This field may not be null.", first)
			}
			tests := []struct {
				name, method, ctype, body string
				status                    int
				want                      string
			}{
				{"GET", http.MethodGet, "", "", 405, `{"detail":"Method \"GET\" not allowed."}`},
				{"PUT", http.MethodPut, "application/json", "{}", 405, `{"detail":"Method \"PUT\" not allowed."}`},
				{"other method", "PROPFIND", "", "", 405, `{"detail":"Method \"PROPFIND\" not allowed."}`},
				{"text/plain", http.MethodPost, "text/plain", "hi", 415, `{"detail":"Unsupported media type \"text/plain\" in request."}`},
				{"bad content type", http.MethodPost, "application/", "{}", 415, `{"detail":"Unsupported media type \"application/\" in request."}`},
				{"body without type", http.MethodPost, "", "{}", 415, `{"detail":"Unsupported media type \"\" in request."}`},
				{"too large", http.MethodPost, "application/json", `{"x":"` + strings.Repeat("a", 2000) + `"}`, 413, `{"detail":"Request body too large."}`},
				{"too large form", http.MethodPost, "application/x-www-form-urlencoded", "x=" + strings.Repeat("a", 2000), 413, ""},
				{"too large multipart", http.MethodPost, "multipart/form-data; boundary=x", "--x\r\n" + strings.Repeat("a", 2000), 413, ""},
				{"malformed JSON", http.MethodPost, "application/json", `{"refresh":`, 400, `{"detail":"JSON parse error - Expecting value: line 1 column 12 (char 11)"}`},
				{"JSON array", http.MethodPost, "application/json", `["a"]`, 400, `{"non_field_errors":["Invalid data. Expected a dictionary, but got list."]}`},
				{"JSON string", http.MethodPost, "application/json", `"a"`, 400, `{"non_field_errors":["Invalid data. Expected a dictionary, but got str."]}`},
				{"JSON null", http.MethodPost, "application/json", `null`, 400, `{"non_field_errors":["No data provided"]}`},
				{"blank JSON body", http.MethodPost, "application/json", " \n", 400, `{"detail":"JSON parse error - Expecting value: line 2 column 1 (char 2)"}`},
				{"bad multipart", http.MethodPost, "multipart/form-data", "x", 400, `{"detail":"Multipart form parse error - Invalid boundary in multipart: None"}`},
				{"empty object", http.MethodPost, "application/json", `{}`, 400, required},
				{"empty JSON body", http.MethodPost, "application/json", ``, 400, required},
				{"no body", http.MethodPost, "", "", 400, required},
				{"empty form", http.MethodPost, "application/x-www-form-urlencoded", "", 400, required},
				{"empty multipart", http.MethodPost, "multipart/form-data; boundary=x", "--x--", 400, required},
				{"JSON, any type", http.MethodPost, "*/*", `{}`, 400, required},
				{"JSON, bare parameter", http.MethodPost, "application/json; charset", `{}`, 400, required},
				{"blank and null", http.MethodPost, "application/json; charset=utf-8", `{"` + first + `":"  ","` + last + `":null}`, 400, blankAndNull},
				{"blank form field", http.MethodPost, "application/x-www-form-urlencoded", first + "=+&" + last + "=%09", 400, fieldErrors("This field may not be blank.", ep.fields...)},
				{"not strings", http.MethodPost, "application/json", `{"` + first + `":true,"` + last + `":[]}`, 400, fieldErrors("Not a valid string.", ep.fields...)},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					r := httptest.NewRequest(tt.method, "/", strings.NewReader(tt.body))
					if tt.ctype != "" {
						r.Header.Set("Content-Type", tt.ctype)
					}
					w := httptest.NewRecorder()
					ep.h.ServeHTTP(w, r)
					assert.Equal(t, tt.status, w.Code, w.Body.String())
					assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
					assert.Equal(t, "application/json", w.Header().Get("Content-Type"))
					assert.Equal(t, "POST, OPTIONS", w.Header().Get("Allow"), "on every answer, as DRF's views")
					if tt.want != "" {
						assert.JSONEq(t, tt.want, w.Body.String())
					}
				})
			}
			t.Run("OPTIONS", func(t *testing.T) {
				w := httptest.NewRecorder()
				ep.h.ServeHTTP(w, httptest.NewRequest(http.MethodOptions, "/", nil))
				require.Equal(t, http.StatusOK, w.Code)
				assert.Equal(t, "POST, OPTIONS", w.Header().Get("Allow"))
				var meta struct {
					Name    string
					Renders []string
					Parses  []string
					Actions struct{ POST map[string]map[string]any }
				}
				require.NoError(t, json.Unmarshal(w.Body.Bytes(), &meta))
				assert.Equal(t, ep.name, meta.Name)
				assert.Equal(t, []string{"application/json"}, meta.Renders)
				assert.Equal(t, []string{"application/json", "application/x-www-form-urlencoded", "multipart/form-data"}, meta.Parses)
				for _, f := range ep.fields {
					assert.Equal(t, map[string]any{"type": "string", "required": true, "read_only": false, "label": strings.ToUpper(f[:1]) + f[1:]}, meta.Actions.POST[f])
				}
			})
		})
	}
}

func TestObtain(t *testing.T) {
	var logins, failures []string
	a, clk := newTestAuth(t,
		WithOnLogin(func(r *http.Request, u User) { logins = append(logins, u.ID) }),
		WithOnLoginFailed(func(r *http.Request, username string, err error) { failures = append(failures, username) }),
	)
	h := a.ObtainHandler()

	t.Run("JSON", func(t *testing.T) {
		w := postJSON(t, h, `{"username":"alice","password":"wonderland"}`)
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
		body := w.Body.String()
		assert.Less(t, strings.Index(body, `"refresh"`), strings.Index(body, `"access"`), "simplejwt's key order")
		var p Pair
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p))
		ac, err := a.VerifyAccess(context.Background(), p.Access)
		require.NoError(t, err)
		assert.Equal(t, "1", ac.UserID)
		rc, err := a.verify(p.Refresh, TokenTypeRefresh)
		require.NoError(t, err)
		assert.Equal(t, clk.Now().Add(DefaultRefreshTTL), rc.ExpiresAt)
		assert.NotEqual(t, ac.JTI, rc.JTI)
	})
	t.Run("form", func(t *testing.T) {
		w := postForm(t, h, url.Values{"username": {"bob"}, "password": {"builder"}})
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	})
	t.Run("both fields trimmed, as DRF's CharField", func(t *testing.T) {
		assert.Equal(t, http.StatusOK, postJSON(t, h, `{"username":" alice ","password":"wonderland"}`).Code)
		assert.Equal(t, http.StatusOK, postJSON(t, h, `{"username":"alice","password":"\u001c wonderland\t\n"}`).Code)
	})
	t.Run("multipart (a browser's FormData)", func(t *testing.T) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		require.NoError(t, mw.WriteField("username", "alice"))
		require.NoError(t, mw.WriteField("password", "wonderland"))
		require.NoError(t, mw.Close())
		r := httptest.NewRequest(http.MethodPost, "/api/token/", &b)
		r.Header.Set("Content-Type", mw.FormDataContentType())
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
	})
	t.Run("repeated form key: the last wins, as Django's QueryDict", func(t *testing.T) {
		w := postForm(t, h, url.Values{"username": {"mallory", "alice"}, "password": {"wonderland"}})
		assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
	})
	for _, tc := range []struct{ name, body string }{
		{"wrong password", `{"username":"alice","password":"nope"}`},
		{"unknown user", `{"username":"mallory","password":"wonderland"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := postJSON(t, h, tc.body)
			assert.Equal(t, http.StatusUnauthorized, w.Code)
			assert.JSONEq(t, bodyNoAccount, w.Body.String())
			assert.Equal(t, `Bearer realm="api"`, w.Header().Get("WWW-Authenticate"))
		})
	}
	t.Run("missing password", func(t *testing.T) {
		w := postJSON(t, h, `{"username":"alice"}`)
		assert.Equal(t, http.StatusBadRequest, w.Code)
		assert.JSONEq(t, `{"password":["This field is required."]}`, w.Body.String())
	})
	t.Run("non-string field", func(t *testing.T) {
		w := postJSON(t, h, `{"username":["alice"],"password":true}`)
		assert.Equal(t, http.StatusBadRequest, w.Code)
		assert.JSONEq(t, `{"username":["Not a valid string."],"password":["Not a valid string."]}`, w.Body.String())
	})
	assert.Equal(t, []string{"1", "2", "1", "1", "1", "1"}, logins)
	assert.Equal(t, []string{"alice", "mallory"}, failures)
}

func TestObtainCustomUsernameField(t *testing.T) {
	a, _ := newTestAuth(t, WithUsernameField("email"))
	h := a.ObtainHandler()
	assert.Equal(t, http.StatusOK, postJSON(t, h, `{"email":"alice","password":"wonderland"}`).Code)
	w := postJSON(t, h, `{"username":"alice","password":"wonderland"}`)
	assert.JSONEq(t, `{"email":["This field is required."]}`, w.Body.String())
}

func TestObtainAuthenticatorFailure(t *testing.T) {
	a, err := New(WithHMACKey(testSecret), WithLogger(quietLogger), WithAuthenticator(AuthenticatorFunc(
		func(context.Context, string, string) (User, error) {
			return User{}, errors.New("dial tcp 10.0.0.5:5432: connection refused")
		})))
	require.NoError(t, err)
	w := postJSON(t, a.ObtainHandler(), `{"username":"alice","password":"wonderland"}`)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.JSONEq(t, bodyUnavailable, w.Body.String())
	assert.NotContains(t, w.Body.String(), "10.0.0.5")
}

func refreshBody(tok string) string { return `{"refresh":"` + tok + `"}` }

func TestRefreshRotation(t *testing.T) {
	a, clk := newTestAuth(t)
	h := a.RefreshHandler()
	p := login(t, a)

	w := postJSON(t, h, refreshBody(p.Refresh))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	body := w.Body.String()
	assert.Less(t, strings.Index(body, `"access"`), strings.Index(body, `"refresh"`), "simplejwt's key order")
	var next Pair
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &next))
	require.NotEmpty(t, next.Refresh)
	require.NotEqual(t, p.Refresh, next.Refresh)
	_, err := a.VerifyAccess(context.Background(), next.Access)
	require.NoError(t, err)

	// The successor works and has a fresh lifetime.
	clk.Advance(time.Hour)
	w = postJSON(t, h, refreshBody(next.Refresh))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var third Pair
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &third))

	// The first token, consumed an hour ago, is reuse: 401, and the family is gone.
	w = postJSON(t, h, refreshBody(p.Refresh))
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.JSONEq(t, bodyBlacklisted, w.Body.String())
	w = postJSON(t, h, refreshBody(third.Refresh))
	assert.Equal(t, http.StatusUnauthorized, w.Code, "reuse revoked the family's live token")
	assert.JSONEq(t, bodyBlacklisted, w.Body.String())
	assert.Contains(t, w.Header().Get("WWW-Authenticate"), `error="invalid_token"`)

	// Another login is another family.
	p2 := login(t, a)
	assert.Equal(t, http.StatusOK, postJSON(t, h, refreshBody(p2.Refresh)).Code)
}

func TestRefreshReuseGrace(t *testing.T) {
	a, clk := newTestAuth(t, WithReuseGrace(10*time.Second))
	h := a.RefreshHandler()
	p := login(t, a)
	first := postJSON(t, h, refreshBody(p.Refresh))
	require.Equal(t, http.StatusOK, first.Code)
	clk.Advance(5 * time.Second)
	replay := postJSON(t, h, refreshBody(p.Refresh))
	require.Equal(t, http.StatusOK, replay.Code, "a retry inside the window gets a sibling pair")
	var a1, a2 Pair
	require.NoError(t, json.Unmarshal(first.Body.Bytes(), &a1))
	require.NoError(t, json.Unmarshal(replay.Body.Bytes(), &a2))
	assert.NotEqual(t, a1.Refresh, a2.Refresh)
	assert.Equal(t, http.StatusOK, postJSON(t, h, refreshBody(a1.Refresh)).Code)

	clk.Advance(6 * time.Second)
	w := postJSON(t, h, refreshBody(p.Refresh))
	assert.Equal(t, http.StatusUnauthorized, w.Code, "after the window it is reuse")
	assert.Equal(t, http.StatusUnauthorized, postJSON(t, h, refreshBody(a2.Refresh)).Code)
}

func TestRefreshWithoutRotation(t *testing.T) {
	a, _ := newTestAuth(t, WithRotation(false))
	h := a.RefreshHandler()
	p := login(t, a)
	for range 3 {
		w := postJSON(t, h, refreshBody(p.Refresh))
		require.Equal(t, http.StatusOK, w.Code)
		assert.NotContains(t, w.Body.String(), `"refresh"`)
	}
	require.Equal(t, http.StatusOK, postJSON(t, a.BlacklistHandler(), refreshBody(p.Refresh)).Code)
	w := postJSON(t, h, refreshBody(p.Refresh))
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.JSONEq(t, bodyBlacklisted, w.Body.String())

	t.Run("a token the store never issued", func(t *testing.T) {
		// Well signed, unknown to the store (ErrTokenNotFound from Check):
		// refused as invalid, never refreshed.
		c := accessClaims(newFakeClock())
		c["token_type"], c["jti"] = "refresh", "0123456789abcdef0123456789abcdef"
		w := postJSON(t, h, refreshBody(handTokenHS256(t, testSecret, simplejwtHeader, claimsJSON(t, c))))
		assert.Equal(t, http.StatusUnauthorized, w.Code)
		assert.JSONEq(t, bodyTokenInvalid, w.Body.String())
	})
}

// TestPairBodies: obtain and refresh answer simplejwt's bodies, byte for
// byte, unless WithExpiriesInBody adds the tokens' exp claims (Unix
// seconds, as cookie mode's access_expires and refresh_expires), on a
// clock between two seconds; without rotation refresh_expires is the
// presented token's exp, and WithMaxSessionAge's end shortens it.
func TestPairBodies(t *testing.T) {
	// The login at 1_800_000_000.7 (newFakeClock, then 0.7 s), the refresh
	// at 1_800_000_091.3.
	tests := []struct {
		name    string
		opts    []Option
		obtain  string // with R and A for the tokens
		refresh string // with R2 and A2 for the new ones
	}{
		{"default", nil,
			`{"refresh":"R","access":"A"}`, `{"access":"A2","refresh":"R2"}`},
		{"default without rotation", []Option{WithRotation(false)},
			`{"refresh":"R","access":"A"}`, `{"access":"A2"}`},
		{"expiries", []Option{WithExpiriesInBody()},
			`{"refresh":"R","access":"A","access_expires":1800000300,"refresh_expires":1800086400}`,
			`{"refresh":"R2","access":"A2","access_expires":1800000391,"refresh_expires":1800086491}`},
		{"expiries without rotation", []Option{WithExpiriesInBody(), WithRotation(false)},
			`{"refresh":"R","access":"A","access_expires":1800000300,"refresh_expires":1800086400}`,
			`{"access":"A2","access_expires":1800000391,"refresh_expires":1800086400}`},
		{"expiries with a max session age", []Option{WithExpiriesInBody(), WithMaxSessionAge(time.Hour)},
			`{"refresh":"R","access":"A","access_expires":1800000300,"refresh_expires":1800003600}`,
			`{"refresh":"R2","access":"A2","access_expires":1800000391,"refresh_expires":1800003600}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, clk := newTestAuth(t, tc.opts...)
			clk.Advance(700 * time.Millisecond)
			w := postJSON(t, a.ObtainHandler(), `{"username":"alice","password":"wonderland"}`)
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			var p Pair
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p))
			want := strings.NewReplacer(`"R"`, `"`+p.Refresh+`"`, `"A"`, `"`+p.Access+`"`).Replace(tc.obtain)
			assert.Equal(t, want+"\n", w.Body.String())
			requireExpiries(t, a, w, p.Access, p.Refresh)

			clk.Advance(90*time.Second + 600*time.Millisecond)
			w = postJSON(t, a.RefreshHandler(), refreshBody(p.Refresh))
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			var next Pair
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &next))
			want = strings.NewReplacer(`"R2"`, `"`+next.Refresh+`"`, `"A2"`, `"`+next.Access+`"`).Replace(tc.refresh)
			assert.Equal(t, want+"\n", w.Body.String())
			requireExpiries(t, a, w, next.Access, cmp.Or(next.Refresh, p.Refresh))
		})
	}
}

// requireExpiries requires a body's access_expires and refresh_expires,
// when it has them, to be the exp claims of the access token and of the
// refresh token in force.
func requireExpiries(t *testing.T, a *Auth, w *httptest.ResponseRecorder, access, refresh string) {
	t.Helper()
	body := decodeBody(t, w)
	if _, ok := body["access_expires"]; !ok {
		assert.NotContains(t, body, "refresh_expires")
		return
	}
	for field, tok := range map[string]string{"access_expires": access, "refresh_expires": refresh} {
		c, err := a.verify(tok, "")
		require.NoError(t, err)
		assert.Equal(t, float64(c.ExpiresAt.Unix()), body[field], field)
	}
}

// TestPairExpiries: the Pair of IssuePair and Refresh carries the exp
// claims of its tokens, in whole seconds (a clock between two seconds);
// without rotation, RefreshExpires is the presented token's exp; the
// default body carries neither.
func TestPairExpiries(t *testing.T) {
	for _, rotate := range []bool{true, false} {
		t.Run(fmt.Sprint("rotate=", rotate), func(t *testing.T) {
			a, clk := newTestAuth(t, WithRotation(rotate))
			ctx := context.Background()
			clk.Advance(700 * time.Millisecond)
			expOf := func(tok string) time.Time {
				t.Helper()
				c, err := a.Verify(ctx, tok)
				require.NoError(t, err)
				return c.ExpiresAt
			}
			check := func(p Pair, refresh string) {
				t.Helper()
				assert.True(t, p.AccessExpires.Equal(expOf(p.Access)), "AccessExpires %v", p.AccessExpires)
				assert.True(t, p.RefreshExpires.Equal(expOf(refresh)), "RefreshExpires %v", p.RefreshExpires)
				assert.Zero(t, p.AccessExpires.Nanosecond())
				assert.Zero(t, p.RefreshExpires.Nanosecond())
				assert.Equal(t, clk.Now().Add(DefaultAccessTTL).Unix(), p.AccessExpires.Unix())
				b, err := json.Marshal(p)
				require.NoError(t, err)
				assert.NotContains(t, string(b), "xpires", "the expiries are not in Pair's JSON")
			}
			p, err := a.IssuePair(ctx, User{ID: "1"})
			require.NoError(t, err)
			check(p, p.Refresh)
			assert.Equal(t, int64(1_800_086_400), p.RefreshExpires.Unix())

			clk.Advance(90*time.Second + 600*time.Millisecond)
			next, err := a.Refresh(ctx, p.Refresh)
			require.NoError(t, err)
			if rotate {
				require.NotEmpty(t, next.Refresh)
				check(next, next.Refresh)
				assert.Equal(t, clk.Now().Add(DefaultRefreshTTL).Unix(), next.RefreshExpires.Unix())
			} else {
				require.Empty(t, next.Refresh)
				check(next, p.Refresh)
				assert.True(t, next.RefreshExpires.Equal(p.RefreshExpires), "the presented token's exp")
			}
		})
	}
}

// countingBody is a request body of n bytes (prefix, then filler) that
// counts how many of them were read.
type countingBody struct {
	r    io.Reader
	read atomic.Int64
}

func newCountingBody(prefix string, filler byte, n int) *countingBody {
	return &countingBody{r: io.MultiReader(strings.NewReader(prefix), io.LimitReader(repeatByte(filler), int64(n-len(prefix))))}
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read.Add(int64(n))
	return n, err
}

func (b *countingBody) Close() error { return nil }

// repeatByte is an endless reader of one byte.
type repeatByte byte

func (c repeatByte) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c)
	}
	return len(p), nil
}

// TestDeclaredOversizeBodyDrained: a body whose Content-Length is over
// the limit is refused with 413 before it is parsed, and read to its end
// when that is within maxDrain (so that a client closing the connection
// reads the 413 rather than a reset), not at all beyond.
func TestDeclaredOversizeBodyDrained(t *testing.T) {
	a, _ := newTestAuth(t)
	for _, tc := range []struct {
		size     int
		wantRead int64
	}{
		{70 << 10, 70 << 10},
		{maxDrain, maxDrain},
		{maxDrain + 1, 0},
		{10 << 20, 0},
	} {
		body := newCountingBody(`{"username":"`, 'a', tc.size)
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Body, r.ContentLength = body, int64(tc.size)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		a.ObtainHandler().ServeHTTP(w, r)
		assert.Equal(t, http.StatusRequestEntityTooLarge, w.Code, "%d bytes", tc.size)
		assert.Equal(t, tc.wantRead, body.read.Load(), "%d bytes", tc.size)
	}
}

// TestBodyLimitWithoutContentLength: a body sent without Content-Length
// (chunked), over the limit, gets 413 from every endpoint, JSON, form or
// multipart,
// and is read no further than the limit: reads are bounded by the body
// reader, not only by the Content-Length check.
func TestBodyLimitWithoutContentLength(t *testing.T) {
	const limit = 1024
	a, _ := newTestAuth(t, WithMaxBodyBytes(limit))
	for name, h := range map[string]http.Handler{"obtain": a.ObtainHandler(), "refresh": a.RefreshHandler(), "verify": a.VerifyHandler(), "blacklist": a.BlacklistHandler()} {
		for _, tc := range []struct{ ctype, prefix string }{
			{"application/json", `{"username":"`},
			{"application/x-www-form-urlencoded", "username="},
			{"multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\n"},
		} {
			t.Run(name+" "+tc.ctype, func(t *testing.T) {
				body := newCountingBody(tc.prefix, 'a', 64*limit)
				r := httptest.NewRequest(http.MethodPost, "/", nil)
				r.Body, r.ContentLength, r.TransferEncoding = body, -1, []string{"chunked"}
				r.Header.Set("Content-Type", tc.ctype)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				assert.Equal(t, http.StatusRequestEntityTooLarge, w.Code, w.Body.String())
				assert.JSONEq(t, `{"detail":"Request body too large."}`, w.Body.String())
				assert.LessOrEqual(t, body.read.Load(), int64(limit+1), "read past the limit")
			})
		}
	}
	t.Run("over HTTP, chunked", func(t *testing.T) {
		var sawLength atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sawLength.Store(r.ContentLength)
			a.ObtainHandler().ServeHTTP(w, r)
		}))
		defer srv.Close()
		resp, err := srv.Client().Post(srv.URL, "application/json", io.LimitReader(repeatByte(' '), 64*limit))
		require.NoError(t, err)
		defer resp.Body.Close()
		assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
		assert.Equal(t, int64(-1), sawLength.Load(), "the body came without Content-Length")
	})
}

func TestRefreshRotationWithoutBlacklist(t *testing.T) {
	a, _ := newTestAuth(t, WithBlacklistAfterRotation(false))
	h := a.RefreshHandler()
	p := login(t, a)
	for range 3 {
		w := postJSON(t, h, refreshBody(p.Refresh))
		require.Equal(t, http.StatusOK, w.Code, "the old token stays valid, as simplejwt's BLACKLIST_AFTER_ROTATION=False")
		assert.Contains(t, w.Body.String(), `"refresh"`)
	}
}

func TestRefreshFailures(t *testing.T) {
	a, clk := newTestAuth(t)
	h := a.RefreshHandler()
	p := login(t, a)
	assert.JSONEq(t, bodyWrongTypeBare, postJSON(t, h, refreshBody(p.Access)).Body.String())
	assert.JSONEq(t, bodyTokenInvalid, postJSON(t, h, refreshBody("a.b.c")).Body.String())

	// Well signed, but never issued by this store (a restart of a memory store).
	unknown := handTokenHS256(t, testSecret, simplejwtHeader, claimsJSON(t, map[string]any{
		"token_type": "refresh", "exp": clk.Now().Unix() + 60, "iat": clk.Now().Unix(),
		"jti": "00000000000000000000000000000000", "user_id": 1,
	}))
	w := postJSON(t, h, refreshBody(unknown))
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.JSONEq(t, bodyTokenInvalid, w.Body.String())

	clk.Advance(DefaultRefreshTTL)
	w = postJSON(t, h, refreshBody(p.Refresh))
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.JSONEq(t, bodyTokenExpired, w.Body.String())
}

func TestRefreshUserLoader(t *testing.T) {
	users := newTestUsers()
	users.claims["1"] = map[string]any{"role": "reader"}
	clk := newFakeClock()
	a, err := New(WithHMACKey(testSecret), WithAuthenticator(loaderUsers{users}), WithClock(clk.Now))
	require.NoError(t, err)
	h := a.RefreshHandler()
	p := login(t, a)
	c, err := a.VerifyAccess(context.Background(), p.Access)
	require.NoError(t, err)
	_, err = c.custom() // decodes without error
	require.NoError(t, err)
	custom := c.User().Claims
	assert.Equal(t, map[string]any{"role": "reader"}, custom)

	// A permission change reaches the next access token.
	users.mu.Lock()
	users.claims["1"] = map[string]any{"role": "admin"}
	users.mu.Unlock()
	w := postJSON(t, h, refreshBody(p.Refresh))
	require.Equal(t, http.StatusOK, w.Code)
	var next Pair
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &next))
	c, err = a.VerifyAccess(context.Background(), next.Access)
	require.NoError(t, err)
	_, err = c.custom() // decodes without error
	require.NoError(t, err)
	custom = c.User().Claims
	assert.Equal(t, map[string]any{"role": "admin"}, custom)

	// A deactivated user cannot refresh.
	users.mu.Lock()
	users.inactive["1"] = true
	users.mu.Unlock()
	w = postJSON(t, h, refreshBody(next.Refresh))
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.JSONEq(t, bodyNoAccountToken, w.Body.String())
	assert.Contains(t, w.Header().Get("WWW-Authenticate"), `realm="api"`)
}

func TestRefreshCarriesCustomClaimsWithoutLoader(t *testing.T) {
	users := newTestUsers()
	users.claims["1"] = map[string]any{"name": "Alice", "roles": []any{"a", "b"}}
	a, err := New(WithHMACKey(testSecret), WithAuthenticator(users))
	require.NoError(t, err)
	p := login(t, a)
	w := postJSON(t, a.RefreshHandler(), refreshBody(p.Refresh))
	require.Equal(t, http.StatusOK, w.Code)
	var next Pair
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &next))
	for _, tok := range []string{next.Access, next.Refresh} {
		c, err := a.verify(tok, "")
		require.NoError(t, err)
		_, err = c.custom() // decodes without error
		require.NoError(t, err)
		custom := c.User().Claims
		assert.Equal(t, map[string]any{"name": "Alice", "roles": []any{"a", "b"}}, custom)
	}
}

func TestVerifyEndpoint(t *testing.T) {
	a, clk := newTestAuth(t)
	h := a.VerifyHandler()
	p := login(t, a)
	tokenBody := func(tok string) string { return `{"token":"` + tok + `"}` }
	for _, tok := range []string{p.Access, p.Refresh} {
		w := postJSON(t, h, tokenBody(tok))
		assert.Equal(t, http.StatusOK, w.Code)
		assert.JSONEq(t, `{}`, w.Body.String())
	}
	simplejwtAccess := handTokenHS256(t, testSecret, simplejwtHeader, claimsJSON(t, accessClaims(clk)))
	assert.Equal(t, http.StatusOK, postJSON(t, h, tokenBody(simplejwtAccess)).Code)

	assert.JSONEq(t, bodyTokenInvalid, postJSON(t, h, tokenBody("x")).Body.String())
	// A rotated or blacklisted refresh token: simplejwt's
	// TokenVerifySerializer refuses it as a validation error (400).
	p2 := login(t, a)
	_, err := a.Refresh(context.Background(), p2.Refresh)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, postJSON(t, a.BlacklistHandler(), refreshBody(p.Refresh)).Code)
	for _, tok := range []string{p.Refresh, p2.Refresh} {
		w := postJSON(t, h, tokenBody(tok))
		assert.Equal(t, http.StatusBadRequest, w.Code)
		assert.JSONEq(t, `{"non_field_errors":["Token is blacklisted"]}`, w.Body.String())
		assert.Empty(t, w.Header().Get("WWW-Authenticate"))
	}
	// Not found in the store (never issued here): 401.
	_, err = a.verify(p.Access, "")
	require.NoError(t, err)
	clk.Advance(DefaultAccessTTL)
	assert.JSONEq(t, bodyTokenExpired, postJSON(t, h, tokenBody(p.Access)).Body.String())
}

func TestBlacklistEndpoint(t *testing.T) {
	a, _ := newTestAuth(t)
	h := a.BlacklistHandler()
	p := login(t, a)
	assert.JSONEq(t, bodyWrongTypeBare, postJSON(t, h, refreshBody(p.Access)).Body.String())
	w := postJSON(t, h, refreshBody(p.Refresh))
	require.Equal(t, http.StatusOK, w.Code)
	assert.JSONEq(t, `{}`, w.Body.String())
	w = postJSON(t, h, refreshBody(p.Refresh))
	assert.Equal(t, http.StatusUnauthorized, w.Code, "already blacklisted")
	assert.JSONEq(t, bodyBlacklisted, w.Body.String())
	w = postJSON(t, a.RefreshHandler(), refreshBody(p.Refresh))
	assert.JSONEq(t, bodyBlacklisted, w.Body.String())
	w = postForm(t, h, url.Values{"refresh": {"garbage"}})
	assert.JSONEq(t, bodyTokenInvalid, w.Body.String())
}

func TestEndAllSessions(t *testing.T) {
	a, _ := newTestAuth(t)
	p1, p2 := login(t, a), login(t, a)
	bob := postJSON(t, a.ObtainHandler(), `{"username":"bob","password":"builder"}`)
	var pb Pair
	require.NoError(t, json.Unmarshal(bob.Body.Bytes(), &pb))
	require.NoError(t, a.EndAllSessions(context.Background(), "1"))
	for _, tok := range []string{p1.Refresh, p2.Refresh} {
		assert.JSONEq(t, bodyBlacklisted, postJSON(t, a.RefreshHandler(), refreshBody(tok)).Body.String())
	}
	assert.Equal(t, http.StatusOK, postJSON(t, a.RefreshHandler(), refreshBody(pb.Refresh)).Code, "other users keep their sessions")
	assert.Error(t, a.EndAllSessions(context.Background(), ""))
}

func TestProgrammaticAPI(t *testing.T) {
	a, _ := newTestAuth(t)
	ctx := context.Background()
	p, err := a.IssuePair(ctx, User{ID: "u-7", Claims: map[string]any{"plan": "pro"}})
	require.NoError(t, err)
	c, err := a.VerifyAccess(ctx, p.Access)
	require.NoError(t, err)
	assert.Equal(t, "u-7", c.UserID)
	_, err = a.VerifyAccess(ctx, p.Refresh)
	assert.ErrorIs(t, err, ErrTokenWrongType)
	c, err = a.Verify(ctx, p.Refresh)
	require.NoError(t, err)
	assert.Equal(t, TokenTypeRefresh, c.TokenType)

	next, err := a.Refresh(ctx, p.Refresh)
	require.NoError(t, err)
	require.NoError(t, a.Revoke(ctx, next.Refresh))
	assert.ErrorIs(t, a.Revoke(ctx, next.Refresh), ErrTokenBlacklisted)
	_, err = a.Refresh(ctx, next.Refresh)
	assert.ErrorIs(t, err, ErrTokenBlacklisted)

	_, err = a.IssuePair(ctx, User{})
	assert.Error(t, err)
	for _, reserved := range []string{"exp", "jti", "user_id", "token_type", "aud"} {
		_, err = a.IssuePair(ctx, User{ID: "1", Claims: map[string]any{reserved: 1}})
		assert.Error(t, err, reserved)
	}
	_, err = a.IssuePair(ctx, User{ID: "1", Claims: map[string]any{"f": func() {}}})
	assert.Error(t, err)
}

// TestParallelRefresh: many clients refresh one token at once, with no
// grace window; exactly one gets a pair.
func TestParallelRefresh(t *testing.T) {
	a, _ := newTestAuth(t)
	srv := httptest.NewServer(a.RefreshHandler())
	defer srv.Close()
	p := login(t, a)
	const n = 64
	var ok, unauthorized atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := srv.Client().Post(srv.URL, "application/json", strings.NewReader(refreshBody(p.Refresh)))
			if !assert.NoError(t, err) {
				return
			}
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusOK:
				ok.Add(1)
			case http.StatusUnauthorized:
				unauthorized.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	assert.Equal(t, int32(1), ok.Load())
	assert.Equal(t, int32(n-1), unauthorized.Load())
}

// failingStore fails every call, as a backend that is down. It has no
// revocation feed: Auths over it need WithoutRevocationFeed.
type failingStore struct{ err error }

func (s failingStore) Issue(context.Context, Record, IssueOptions) ([]string, error) {
	return nil, s.err
}
func (s failingStore) Rotate(context.Context, Token, Record, RotateOptions) error { return s.err }
func (s failingStore) Check(context.Context, Token) error                         { return s.err }
func (s failingStore) Revoke(context.Context, Token) error                        { return s.err }
func (s failingStore) EndSession(context.Context, string, string) error           { return s.err }
func (s failingStore) EndSessions(context.Context, string, string) error          { return s.err }
func (s failingStore) Sessions(context.Context, string) ([]Session, error)        { return nil, s.err }

// switchStore delegates to a memory store, its feed included, until it is
// switched off.
type switchStore struct {
	*MemoryStore
	down atomic.Bool
}

var errSwitchedOff = errors.New("redis: connection pool timeout")

func (s *switchStore) get() Store {
	if s.down.Load() {
		return failingStore{errSwitchedOff}
	}
	return s.MemoryStore
}
func (s *switchStore) Issue(ctx context.Context, r Record, o IssueOptions) ([]string, error) {
	return s.get().Issue(ctx, r, o)
}
func (s *switchStore) Rotate(ctx context.Context, t Token, r Record, o RotateOptions) error {
	return s.get().Rotate(ctx, t, r, o)
}
func (s *switchStore) Check(ctx context.Context, t Token) error  { return s.get().Check(ctx, t) }
func (s *switchStore) Revoke(ctx context.Context, t Token) error { return s.get().Revoke(ctx, t) }
func (s *switchStore) EndSession(ctx context.Context, u, id string) error {
	return s.get().EndSession(ctx, u, id)
}
func (s *switchStore) EndSessions(ctx context.Context, u, keep string) error {
	return s.get().EndSessions(ctx, u, keep)
}
func (s *switchStore) Sessions(ctx context.Context, u string) ([]Session, error) {
	return s.get().Sessions(ctx, u)
}
func (s *switchStore) Revocations(ctx context.Context, cursor string, wait time.Duration) ([]Revocation, string, error) {
	if s.down.Load() {
		return nil, "", fmt.Errorf("%w: %w", ErrStoreUnavailable, errSwitchedOff)
	}
	return s.MemoryStore.Revocations(ctx, cursor, wait)
}

// TestStoreOutageFailsClosed: with the store down, every stateful endpoint
// answers 503 (never 200, never internal text), a revoked token is never
// accepted, and the middleware, which needs no store but a fresh revoked
// set, answers 503 once the feed has been down for the staleness bound.
// When the store is back, all of it recovers without a restart.
func TestStoreOutageFailsClosed(t *testing.T) {
	st := &switchStore{MemoryStore: NewMemoryStore()}
	a, _ := newTestAuth(t, WithStore(st), WithRevocationStaleness(200*time.Millisecond))
	p := login(t, a)
	revoked := login(t, a)
	require.NoError(t, a.Revoke(context.Background(), revoked.Refresh))

	st.down.Store(true)
	for name, tc := range map[string]struct {
		h    http.Handler
		body string
	}{
		"obtain":            {a.ObtainHandler(), `{"username":"alice","password":"wonderland"}`},
		"refresh":           {a.RefreshHandler(), refreshBody(p.Refresh)},
		"refresh revoked":   {a.RefreshHandler(), refreshBody(revoked.Refresh)},
		"verify refresh":    {a.VerifyHandler(), `{"token":"` + revoked.Refresh + `"}`},
		"blacklist":         {a.BlacklistHandler(), refreshBody(p.Refresh)},
		"blacklist revoked": {a.BlacklistHandler(), refreshBody(revoked.Refresh)},
	} {
		t.Run(name, func(t *testing.T) {
			w := postJSON(t, tc.h, tc.body)
			assert.Equal(t, http.StatusServiceUnavailable, w.Code)
			assert.JSONEq(t, bodyUnavailable, w.Body.String())
			assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
		})
	}
	protected := func() *httptest.ResponseRecorder {
		return serveWithHeader(a.Middleware(hello), "Authorization", "Bearer "+p.Access)
	}
	require.Eventually(t, func() bool { return protected().Code == http.StatusServiceUnavailable }, 5*time.Second, 10*time.Millisecond)
	assert.JSONEq(t, bodyUnavailable, protected().Body.String())

	st.down.Store(false)
	require.Eventually(t, func() bool { return protected().Code == http.StatusOK }, 5*time.Second, 10*time.Millisecond, "the middleware recovers")
	assert.Equal(t, http.StatusOK, postJSON(t, a.RefreshHandler(), refreshBody(p.Refresh)).Code, "recovers without restart")
	assert.Equal(t, http.StatusUnauthorized, postJSON(t, a.RefreshHandler(), refreshBody(revoked.Refresh)).Code)
}

// TestStoreErrorsAlwaysUnavailable: a store returning an unwrapped error is
// still a 503, not a 500 or a success.
func TestStoreErrorsAlwaysUnavailable(t *testing.T) {
	a, _ := newTestAuth(t, WithStore(failingStore{errors.New("boom")}), WithoutRevocationFeed())
	_, err := a.IssuePair(context.Background(), User{ID: "1"})
	assert.ErrorIs(t, err, ErrStoreUnavailable)
	w := postJSON(t, a.ObtainHandler(), `{"username":"alice","password":"wonderland"}`)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.NotContains(t, w.Body.String(), "boom")
}

// FuzzHandlerBody: any body, of any of the content types, gets from every
// token endpoint one of the answers the README documents for it
// (documentedAnswer): never a panic, a 5xx or anything else. A 200 of
// obtain or refresh must carry tokens that verify, for a user of the fuzz
// Auth.
func FuzzHandlerBody(f *testing.F) {
	a, p := fuzzAuth(f)
	types := []string{"application/json", "application/x-www-form-urlencoded", "application/json; charset=utf-8", "text/plain", "", "multipart/form-data; boundary=b", "*/*"}
	seeds := []string{
		`{"username":"alice","password":"wonderland"}`, `{"refresh":"` + p.Refresh + `"}`, `{"token":"` + p.Access + `"}`,
		"username=alice&password=wonderland", "refresh=" + p.Refresh, `{"username":["a"],"password":{}}`, `[]`, `null`, `{`, "%zz=1",
		`{"username":1,"password":2}`, `{"username":" ","password":null}`, "token=" + p.Access, `{"username":"a\u0000","password":"\ud800"}`,
		"--b\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nalice\r\n--b\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\nwonderland\r\n--b--\r\n",
	}
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	endpoints := []struct {
		name         string
		h            http.Handler
		fields       []string
		unauthorized []string
	}{
		{"obtain", a.ObtainHandler(), []string{"username", "password"}, []string{bodyNoAccount}},
		{"refresh", a.RefreshHandler(), []string{"refresh"}, tokenVerdicts},
		{"verify", a.VerifyHandler(), []string{"token"}, tokenVerdicts},
		{"blacklist", a.BlacklistHandler(), []string{"refresh"}, tokenVerdicts},
	}
	f.Fuzz(func(t *testing.T, kind uint8, body string) {
		ctype := types[int(kind)%len(types)]
		for _, ep := range endpoints {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
			if ctype != "" {
				r.Header.Set("Content-Type", ctype)
			}
			ctx, cancel := context.WithTimeout(r.Context(), time.Second)
			w := httptest.NewRecorder()
			ep.h.ServeHTTP(w, r.WithContext(ctx))
			cancel()
			got := strings.TrimSuffix(w.Body.String(), "\n")
			switch {
			case w.Code == http.StatusOK && (ep.name == "obtain" || ep.name == "refresh"):
				var pair map[string]string
				if err := json.Unmarshal([]byte(got), &pair); err != nil || len(pair) != 2 {
					t.Fatalf("%s: 200 with %s", ep.name, got)
				}
				c, err := a.VerifyAccess(ctx, pair["access"])
				if err != nil || c.UserID != "1" && c.UserID != "2" {
					t.Fatalf("%s: 200 with an access token that does not verify: %v", ep.name, err)
				}
				if _, err := a.verify(pair["refresh"], TokenTypeRefresh); err != nil {
					t.Fatalf("%s: 200 with a refresh token that does not verify: %v", ep.name, err)
				}
			case !documentedAnswer(ep.fields, ep.unauthorized, ctype, w.Code, got):
				t.Fatalf("%s: %d %s for %q (%s): not a documented answer", ep.name, w.Code, got, body, ctype)
			}
		}
	})
}

// fieldMessages are the messages a token endpoint's field can get (DRF's
// CharField and its validators).
var fieldMessages = regexp.MustCompile(`^(This field is required\.|This field may not be null\.|This field may not be blank\.|Not a valid string\.|Null characters are not allowed\.|Surrogate characters are not allowed: U\+D[89A-F][0-9A-F]{2}\.)$`)

// documentedAnswer reports whether status and body are an answer the README
// documents for a token endpoint taking fields, whose 401 bodies are
// given, to a POST sent with Content-Type ctype: 200 {} (the obtain and
// refresh 200s are checked apart); 400 with the fields' DRF messages, a
// non_field_errors message, or a parse error; 413; 415 naming ctype.
func documentedAnswer(fields, unauthorized []string, ctype string, status int, body string) bool {
	var m map[string]any
	if json.Unmarshal([]byte(body), &m) != nil {
		return false
	}
	detail, _ := m["detail"].(string)
	switch status {
	case http.StatusOK:
		return body == `{}`
	case http.StatusUnauthorized:
		return slices.Contains(unauthorized, body)
	case http.StatusRequestEntityTooLarge:
		return body == `{"detail":"Request body too large."}`
	case http.StatusUnsupportedMediaType:
		return len(m) == 1 && detail == `Unsupported media type "`+ctype+`" in request.`
	case http.StatusBadRequest:
	default:
		return false
	}
	if len(m) == 1 && (strings.HasPrefix(detail, "JSON parse error - ") || strings.HasPrefix(detail, "Multipart form parse error - ")) {
		return true
	}
	if errs, ok := m["non_field_errors"].([]any); ok {
		return len(m) == 1 && len(errs) == 1 && slices.Contains([]any{"No data provided", "Token is blacklisted"}, errs[0]) ||
			strings.HasPrefix(errs[0].(string), "Invalid data. Expected a dictionary, but got ")
	}
	for k, v := range m {
		msgs, ok := v.([]any)
		if !slices.Contains(fields, k) || !ok || len(msgs) == 0 {
			return false
		}
		for _, msg := range msgs {
			if s, ok := msg.(string); !ok || !fieldMessages.MatchString(s) {
				return false
			}
		}
	}
	return len(m) > 0
}

// tokenVerdicts are the documented 401 bodies of the token endpoints.
var tokenVerdicts = []string{
	`{"detail":"Token is invalid","code":"token_not_valid"}`,
	`{"detail":"Token is expired","code":"token_not_valid"}`,
	`{"detail":"Token has wrong type","code":"token_not_valid"}`,
	`{"detail":"Token is blacklisted","code":"token_not_valid"}`,
}
