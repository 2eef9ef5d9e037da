package jwtpair

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
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
		return http.StatusUnauthorized, "not_authenticated"
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
		if _, err := c.custom(); err != nil {
			t.Fatalf("custom claims of a verified token: %v", err)
		}
	})
}

// FuzzHandlerBody: any body, of any of the content types, gets from every
// token endpoint one of the answers the README documents for it, the exact
// status and body (documentedAnswers): never a panic, a 5xx or anything
// else. A 200 of obtain or refresh must carry tokens that verify, for a
// user of the fuzz Auth.
func FuzzHandlerBody(f *testing.F) {
	a, p := fuzzAuth(f)
	types := []string{"application/json", "application/x-www-form-urlencoded", "application/json; charset=utf-8", "text/plain", ""}
	seeds := []string{
		`{"username":"alice","password":"wonderland"}`, `{"refresh":"` + p.Refresh + `"}`, `{"token":"` + p.Access + `"}`,
		"username=alice&password=wonderland", "refresh=" + p.Refresh, `{"username":["a"],"password":{}}`, `[]`, `null`, `{`, "%zz=1",
		`{"username":1,"password":2}`, `{"username":" ","password":null}`, "token=" + p.Access,
	}
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	endpoints := []struct {
		name    string
		h       http.Handler
		answers map[int][]string
	}{
		{"obtain", a.ObtainHandler(), documentedAnswers([]string{"username", "password"}, `{"detail":"No active account found with the given credentials","code":"no_active_account"}`)},
		{"refresh", a.RefreshHandler(), documentedAnswers([]string{"refresh"}, tokenVerdicts...)},
		{"verify", a.VerifyHandler(), documentedAnswers([]string{"token"}, tokenVerdicts...)},
		{"blacklist", a.BlacklistHandler(), documentedAnswers([]string{"refresh"}, tokenVerdicts...)},
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
			case !slices.Contains(ep.answers[w.Code], got):
				t.Fatalf("%s: %d %s for %q (%s): not a documented answer", ep.name, w.Code, got, body, ctype)
			}
		}
	})
}

// tokenVerdicts are the documented 401 bodies of the token endpoints.
var tokenVerdicts = []string{
	`{"detail":"Token is invalid","code":"token_not_valid"}`,
	`{"detail":"Token is expired","code":"token_not_valid"}`,
	`{"detail":"Token has wrong type","code":"token_not_valid"}`,
	`{"detail":"Token is blacklisted","code":"token_not_valid"}`,
}

// documentedAnswers lists, by status, the bodies the README documents for
// a token endpoint taking fields, whose 401 bodies are given: 200 {} (the
// obtain and refresh 200s are checked apart), 400 for each combination of
// fields missing or not strings, or a malformed body, 413 and 415.
func documentedAnswers(fields []string, unauthorized ...string) map[int][]string {
	answers := map[int][]string{
		http.StatusOK:                    {`{}`},
		http.StatusBadRequest:            {`{"detail":"Malformed request body.","code":"parse_error"}`},
		http.StatusUnauthorized:          unauthorized,
		http.StatusRequestEntityTooLarge: {`{"detail":"Request body too large.","code":"request_too_large"}`},
		http.StatusUnsupportedMediaType:  {`{"detail":"Unsupported media type in request; send application/json or application/x-www-form-urlencoded.","code":"unsupported_media_type"}`},
	}
	// Each field: fine, missing, or not a string; at least one not fine.
	var combine func(i int, problems map[string][]string)
	combine = func(i int, problems map[string][]string) {
		if i == len(fields) {
			if len(problems) > 0 {
				b, _ := json.Marshal(problems)
				answers[http.StatusBadRequest] = append(answers[http.StatusBadRequest], string(b))
			}
			return
		}
		combine(i+1, problems)
		for _, msg := range []string{"This field is required.", "Not a valid string."} {
			problems[fields[i]] = []string{msg}
			combine(i+1, problems)
			delete(problems, fields[i])
		}
	}
	combine(0, map[string][]string{})
	return answers
}
