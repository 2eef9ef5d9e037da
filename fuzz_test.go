package jwtpair

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// fuzzAuth is an Auth with a fixed clock, so a valid seed token stays valid.
func fuzzAuth(f *testing.F) (*Auth, Pair) {
	f.Helper()
	clk := newFakeClock()
	a, err := New(WithHMACKey(testSecret), WithAuthenticator(newTestUsers()), WithClock(clk.Now), WithLogger(quietLogger))
	if err != nil {
		f.Fatal(err)
	}
	p, err := a.IssuePair(context.Background(), User{ID: "1", Claims: map[string]any{"n": []any{1, "é"}}})
	if err != nil {
		f.Fatal(err)
	}
	return a, p
}

// FuzzAuthorizationHeader: any header value gets 200 or 401 from the
// middleware, never a panic or a 5xx, and 200 only for a valid token.
func FuzzAuthorizationHeader(f *testing.F) {
	a, p := fuzzAuth(f)
	for _, s := range []string{"", "Bearer", "Bearer " + p.Access, "bearer  " + p.Access, "Bearer a b", "Basic x", "Bearer\t" + p.Refresh, "Bearer ...", "Bearer " + strings.Repeat(".", 100)} {
		f.Add(s)
	}
	h := a.Middleware(hello)
	f.Fuzz(func(t *testing.T, v string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header["Authorization"] = []string{v}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch w.Code {
		case http.StatusOK:
			if _, err := a.Check(r); err != nil {
				t.Fatalf("200 for a request Check refuses: %v", err)
			}
		case http.StatusUnauthorized:
		default:
			t.Fatalf("status %d for %q", w.Code, v)
		}
	})
}

// FuzzVerify: any token text is refused or verified without panicking; a
// token that verifies has the required claims.
func FuzzVerify(f *testing.F) {
	a, p := fuzzAuth(f)
	for _, s := range []string{p.Access, p.Refresh, "", ".", "..", "a.b.c", p.Access + ".x", strings.ToUpper(p.Access)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := a.verify(tok, "")
		if err != nil {
			if c != nil {
				t.Fatal("claims returned with an error")
			}
			return
		}
		if c.UserID == "" || c.JTI == "" || c.ExpiresAt.IsZero() || (c.TokenType != TokenTypeAccess && c.TokenType != TokenTypeRefresh) {
			t.Fatalf("verified token lacks claims: %+v", c)
		}
		if _, err := c.Custom(); err != nil {
			t.Fatalf("custom claims of a verified token: %v", err)
		}
	})
}

// FuzzHandlerBody: any body, of any of the content types, gets a 2xx or a
// documented 4xx from every token endpoint: never a panic or a 5xx.
func FuzzHandlerBody(f *testing.F) {
	a, p := fuzzAuth(f)
	types := []string{"application/json", "application/x-www-form-urlencoded", "application/json; charset=utf-8", "text/plain", ""}
	seeds := []string{
		`{"username":"alice","password":"wonderland"}`, `{"refresh":"` + p.Refresh + `"}`, `{"token":"` + p.Access + `"}`,
		"username=alice&password=wonderland", "refresh=" + p.Refresh, `{"username":["a"],"password":{}}`, `[]`, `null`, `{`, "%zz=1",
	}
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	handlers := []http.Handler{a.ObtainHandler(), a.RefreshHandler(), a.VerifyHandler(), a.BlacklistHandler()}
	f.Fuzz(func(t *testing.T, kind uint8, body string) {
		ctype := types[int(kind)%len(types)]
		for _, h := range handlers {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
			if ctype != "" {
				r.Header.Set("Content-Type", ctype)
			}
			ctx, cancel := context.WithTimeout(r.Context(), time.Second)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r.WithContext(ctx))
			cancel()
			if w.Code >= 500 {
				t.Fatalf("status %d for %q (%s): %s", w.Code, body, ctype, w.Body.String())
			}
		}
	})
}
