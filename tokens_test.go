package jwtpair

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair/internal/claimset"
	forgepkg "github.com/jwtpair/jwtpair/internal/forge"
	"github.com/jwtpair/jwtpair/internal/strictjson"
)

// nest returns a JSON value nested n arrays deep.
func nest(n int) any {
	var v any = 1
	for range n {
		v = []any{v}
	}
	return v
}

// flipLastBits changes the unused low bits of a base64url segment's last
// character, giving a non-canonical encoding of the same bytes.
func flipLastBits(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[last|1])
}

func TestMintedTokenShape(t *testing.T) {
	a, clk := newTestAuth(t)
	p := login(t, a)
	segs := strings.Split(p.Access, ".")
	require.Len(t, segs, 3)
	header, err := base64.RawURLEncoding.DecodeString(segs[0])
	require.NoError(t, err)
	assert.Equal(t, simplejwtHeader, string(header))
	payload, err := base64.RawURLEncoding.DecodeString(segs[1])
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(payload, &m))
	assert.Equal(t, "access", m["token_type"])
	assert.Equal(t, float64(clk.Now().Add(DefaultAccessTTL).Unix()), m["exp"])
	assert.Equal(t, float64(clk.Now().Unix()), m["iat"])
	assert.Regexp(t, "^[0-9a-f]{32}$", m["jti"])
	assert.Equal(t, "1", m["user_id"])
	// Its session, in header mode too (simplejwt ignores claims it does
	// not know): the sid the revoked set is looked up by, and the login.
	assert.Regexp(t, "^[0-9a-f]{32}$", m["sid"])
	assert.Equal(t, float64(clk.Now().Unix()), m["auth_time"])
	assert.Len(t, m, 7, "exactly simplejwt's claim set, sid and auth_time")
	refresh, err := a.verify(p.Refresh, TokenTypeRefresh)
	require.NoError(t, err)
	assert.Equal(t, m["sid"], refresh.SessionID, "the access token's session is the refresh token's")

	// The signature is plain HMAC-SHA256 over the signing input, as PyJWT computes it.
	mac := hmac.New(sha256.New, testSecret)
	mac.Write([]byte(segs[0] + "." + segs[1]))
	assert.Equal(t, base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), segs[2])
}

// TestRejectionBeforeParsing: oversized input and dot floods are refused by
// the length and form checks, allocating nothing, whatever their size. The
// oversized tokens include validly signed ones of three segments, in every
// mode, which only the length check refuses: past it, decoding and parsing
// them allocates and accepts them.
func TestRejectionBeforeParsing(t *testing.T) {
	a, clk := newTestAuth(t)
	payload := claimsJSON(t, accessClaims(clk))
	type tc struct {
		name string
		a    *Auth
		tok  string
	}
	cases := []tc{
		{"1 MiB of dots", a, strings.Repeat(".", 1<<20)},
		{"1 MiB of A", a, strings.Repeat("A", 1<<20)},
		{"8 KiB + 1 of A", a, strings.Repeat("A", defaultMaxTokenBytes+1)},
		{"many dots, short", a, strings.Repeat("a.", 100)},
		{"bad byte early", a, "eyJ!" + strings.Repeat("A", 4000)},
	}
	_, mebibyte, err := forgepkg.SignAround("HS256", testSecret, simplejwtHeader, payload, 1<<20)
	require.NoError(t, err)
	cases = append(cases, tc{"1 MiB, three segments, validly signed HS256", a, mebibyte})
	for _, m := range modes(t) {
		ma, _ := m.newAuth(t)
		_, over, err := forgepkg.SignAround(m.alg, m.key, m.header(""), payload, defaultMaxTokenBytes)
		require.NoError(t, err)
		cases = append(cases, tc{"just over 8 KiB, validly signed " + m.alg, ma, over})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			accepted := false
			allocs := allocsPerRun(100, func() {
				if _, err := c.a.verify(c.tok, TokenTypeAccess); err == nil {
					accepted = true
				}
			})
			assert.False(t, accepted, "accepted")
			assert.Zero(t, allocs)
		})
	}
}

// textOf is a custom claim value that marshals through MarshalText, which
// encoding/json writes as a JSON string (rewriting invalid UTF-8).
type textOf string

func (t textOf) MarshalText() ([]byte, error) { return []byte(t), nil }

// usersByName authenticates any password for the users it maps; LoadUser
// looks them up by id.
type usersByName map[string]User

func (u usersByName) Authenticate(_ context.Context, name, _ string) (User, error) {
	if v, ok := u[name]; ok {
		return v, nil
	}
	return User{}, ErrInvalidCredentials
}

func (u usersByName) LoadUser(_ context.Context, id string) (User, error) {
	if v, ok := u["loaded:"+id]; ok {
		return v, nil
	}
	for _, v := range u {
		if v.ID == id {
			return v, nil
		}
	}
	return User{}, ErrUserInactive
}

// obtainAs posts a login for name to a's obtain endpoint.
func obtainAs(t *testing.T, a *Auth, name string) *httptest.ResponseRecorder {
	t.Helper()
	return postJSON(t, a.ObtainHandler(), `{"username":"`+name+`","password":"x"}`)
}

// TestInvalidUTF8IsNeverRewritten (issue 10, finding 5): encoding/json
// writes invalid UTF-8 as U+FFFD, so ids "admin\xff" and "admin\xfe" would
// both become the identity of user "admin\uFFFD". Such ids, and invalid
// strings anywhere in custom claims (values, nested values, map keys,
// MarshalText and raw JSON), are refused: obtain answers 500 and logs why,
// IssuePair returns the error, refresh with a UserLoader returning them
// answers 500. Valid text, U+FFFD itself included, goes through unchanged.
func TestInvalidUTF8IsNeverRewritten(t *testing.T) {
	bad := map[string]User{
		"id xff":                  {ID: "admin\xff"},
		"id xfe":                  {ID: "admin\xfe"},
		"claim value":             {ID: "1", Claims: map[string]any{"name": "x\xff"}},
		"value in a list":         {ID: "1", Claims: map[string]any{"roles": []any{"ok", "a\xfe"}}},
		"nested map key":          {ID: "1", Claims: map[string]any{"org": map[string]any{"team": map[string]any{"k\xff": 1}}}},
		"claim name":              {ID: "1", Claims: map[string]any{"bad\xffname": 1}},
		"struct field":            {ID: "1", Claims: map[string]any{"p": struct{ Name string }{"n\xff"}}},
		"MarshalText":             {ID: "1", Claims: map[string]any{"t": textOf("x\xff")}},
		"raw JSON, invalid bytes": {ID: "1", Claims: map[string]any{"raw": json.RawMessage("\"a\xffb\"")}},
		"raw JSON, lone high":     {ID: "1", Claims: map[string]any{"raw": json.RawMessage(`"\ud800x"`)}},
		"raw JSON, lone low":      {ID: "1", Claims: map[string]any{"raw": json.RawMessage(`"\udc00"`)}},
		"raw JSON, high at end":   {ID: "1", Claims: map[string]any{"raw": json.RawMessage(`["\ud800"]`)}},
	}
	good := map[string]User{
		"id U+FFFD":                 {ID: "admin\uFFFD"},
		"U+FFFD and accents":        {ID: "1", Claims: map[string]any{"name": "é\uFFFD", "html": "<&>"}},
		"backslash text ufffd":      {ID: "1", Claims: map[string]any{"s": `\ufffd`}},
		"raw JSON, surrogate pair":  {ID: "1", Claims: map[string]any{"raw": json.RawMessage(`"\ud83d\ude00"`)}},
		"raw JSON, escaped letters": {ID: "1", Claims: map[string]any{"raw": json.RawMessage(`"\u0041\\u"`)}},
	}
	users := usersByName{}
	for name, u := range bad {
		users[name] = u
	}
	for name, u := range good {
		users[name] = u
	}
	logger, logs := recordLogs()
	a, clk := newTestAuth(t, WithAuthenticator(users), WithLogger(logger))

	for name, u := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := a.IssuePair(t.Context(), u)
			require.Error(t, err)
			assert.Regexp(t, "not valid UTF-8|surrogate", err.Error())
			w := obtainAs(t, a, name)
			assert.Equal(t, http.StatusInternalServerError, w.Code)
			assert.JSONEq(t, bodyServerError, w.Body.String())
			assert.Contains(t, logs.String(), "err="+strconv.Quote(err.Error()), "logged")
		})
	}
	for name, u := range good {
		t.Run(name, func(t *testing.T) {
			w := obtainAs(t, a, name)
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			var p Pair
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p))
			c, err := a.VerifyAccess(t.Context(), p.Access)
			require.NoError(t, err)
			assert.Equal(t, u.ID, c.UserID, "the identity as given")
			_, err = c.custom() // decodes without error
			require.NoError(t, err)
			custom := c.User().Claims
			want := map[string]any(nil)
			if u.Claims != nil {
				var err error
				want, err = roundTrip(u.Claims)
				require.NoError(t, err)
			}
			assert.Equal(t, want, custom)
		})
	}

	t.Run("refresh with a UserLoader returning invalid UTF-8", func(t *testing.T) {
		users["loaded:1"] = User{ID: "1", Claims: map[string]any{"name": "x\xff"}}
		refresh := mustPair(t, a, User{ID: "1"}).Refresh
		w := postJSON(t, a.RefreshHandler(), refreshBody(refresh))
		assert.Equal(t, http.StatusInternalServerError, w.Code)
		assert.JSONEq(t, bodyServerError, w.Body.String())

		users["loaded:admin\uFFFD"] = User{ID: "admin\xff"}
		c := accessClaims(clk)
		c["token_type"], c["user_id"] = "refresh", "admin\uFFFD"
		require.NoError(t, issueErr(a.store.Issue(t.Context(), Record{JTI: c["jti"].(string), UserID: "admin\uFFFD", SessionID: "f", ExpiresAt: clk.Now().Add(time.Hour)}, IssueOptions{})))
		w = postJSON(t, a.RefreshHandler(), refreshBody(handTokenHS256(t, testSecret, simplejwtHeader, claimsJSON(t, c))))
		assert.Equal(t, http.StatusInternalServerError, w.Code, "the loader's id is no identity a token can carry")
		assert.JSONEq(t, bodyServerError, w.Body.String())
		assert.Contains(t, logs.String(), "UserLoader returned a user ID that is not valid UTF-8")
	})
}

// roundTrip is what custom claims look like after a token: JSON, decoded
// with UseNumber.
func roundTrip(claims map[string]any) (map[string]any, error) {
	b, err := json.Marshal(claims)
	if err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	return m, d.Decode(&m)
}

func mustPair(t *testing.T, a *Auth, u User) Pair {
	t.Helper()
	p, err := a.IssuePair(t.Context(), u)
	require.NoError(t, err)
	return p
}

// TestMintRespectsVerificationLimits (issue 10, finding 6): minting applies
// the limits verification enforces, so nothing is issued that could never
// verify: obtain answers 500 (logged) for a 6 KB custom claim, a claim
// nested 40 deep or a 10 KB id, where it answered 200. Around each limit,
// every pair that is issued verifies, and both outcomes occur.
func TestMintRespectsVerificationLimits(t *testing.T) {
	users := usersByName{
		"big claim": {ID: "1", Claims: map[string]any{"blob": strings.Repeat("x", 6<<10)}},
		"deep":      {ID: "1", Claims: map[string]any{"deep": nest(40)}},
		"long id":   {ID: strings.Repeat("i", 10<<10)},
	}
	logger, logs := recordLogs()
	a, clk := newTestAuth(t, WithAuthenticator(users), WithLogger(logger))
	for name := range users {
		t.Run(name, func(t *testing.T) {
			w := obtainAs(t, a, name)
			assert.Equal(t, http.StatusInternalServerError, w.Code)
			assert.JSONEq(t, bodyServerError, w.Body.String())
		})
	}
	assert.Contains(t, logs.String(), "over the 8192 that verification accepts")
	assert.Contains(t, logs.String(), "nested deeper than 32 levels")

	// issuedVerifies issues a pair for u; it reports whether one was issued,
	// and checks that what was issued verifies.
	issuedVerifies := func(t *testing.T, a *Auth, u User) bool {
		t.Helper()
		p, err := a.IssuePair(t.Context(), u)
		if err != nil {
			return false
		}
		_, err = a.VerifyAccess(t.Context(), p.Access)
		require.NoError(t, err, "issued, so it must verify")
		_, err = a.verify(p.Refresh, TokenTypeRefresh)
		require.NoError(t, err, "issued, so it must verify")
		return true
	}
	t.Run("length", func(t *testing.T) {
		for _, limit := range []int{defaultMaxTokenBytes, 1024} {
			a, _ := newTestAuth(t, WithMaxTokenBytes(limit))
			outcomes := map[bool]int{}
			for n := limit*3/4 - 300; n < limit*3/4; n++ {
				outcomes[issuedVerifies(t, a, User{ID: "1", Claims: map[string]any{"blob": strings.Repeat("x", n)}})]++
				outcomes[issuedVerifies(t, a, User{ID: strings.Repeat("i", n)})]++
			}
			assert.Positive(t, outcomes[true], "limit %d", limit)
			assert.Positive(t, outcomes[false], "limit %d", limit)
		}
	})
	t.Run("depth", func(t *testing.T) {
		for depth := strictjson.MaxDepth - 2; depth <= strictjson.MaxDepth+2; depth++ {
			ok := issuedVerifies(t, a, User{ID: "1", Claims: map[string]any{"deep": nest(depth)}})
			assert.Equal(t, depth <= strictjson.MaxDepth, ok, "depth %d", depth)
			ok = issuedVerifies(t, a, User{ID: "1", Claims: map[string]any{"deep": map[string]any{"in": nest(depth - 1)}}})
			assert.Equal(t, depth <= strictjson.MaxDepth, ok, "depth %d, in an object", depth)
		}
	})
	t.Run("clock outside NumericDate", func(t *testing.T) {
		for _, at := range []time.Time{time.Unix(-1, 0), time.Unix(claimset.MaxNumericDate, 0)} {
			a, err := New(WithHMACKey(testSecret), WithAuthenticator(newTestUsers()), WithClock(func() time.Time { return at }))
			require.NoError(t, err)
			_, err = a.IssuePair(t.Context(), User{ID: "1"})
			assert.ErrorContains(t, err, "NumericDate", "at %v", at)
		}
	})
	t.Run("refresh: the presented token survives a failed mint", func(t *testing.T) {
		loaded := usersByName{"a": {ID: "1"}}
		a, _ := newTestAuth(t, WithAuthenticator(loaded))
		p := mustPair(t, a, User{ID: "1"})
		loaded["loaded:1"] = User{ID: "1", Claims: map[string]any{"blob": strings.Repeat("x", 6<<10)}}
		w := postJSON(t, a.RefreshHandler(), refreshBody(p.Refresh))
		assert.Equal(t, http.StatusInternalServerError, w.Code)
		assert.JSONEq(t, bodyServerError, w.Body.String())
		delete(loaded, "loaded:1")
		w = postJSON(t, a.RefreshHandler(), refreshBody(p.Refresh))
		assert.Equal(t, http.StatusOK, w.Code, "not consumed by the refresh that failed: %s", w.Body.String())
	})
	_ = clk
}

// TestLoneSurrogateEscapesAreRefused (issue 10): encoding/json decodes a
// lone UTF-16 surrogate escape as U+FFFD, so a validly signed token whose
// user_id is "a\ud800" (a Python minter writes one for the string
// "a\ud800") verified as user "a\uFFFD", as did "a\udbff" and "a\udc00":
// distinct ids collapsed into one identity. Every string the claims
// scanner accepts (values, names, custom claims at any depth) must now
// pair a high surrogate escape with a low one, and such tokens get 401.
// Valid pairs, in either case of hex, still decode.
func TestLoneSurrogateEscapesAreRefused(t *testing.T) {
	a, clk := newTestAuth(t)
	now := itoa(clk.Now().Unix())
	// payload puts raw JSON text (escapes as written) into a valid claim set.
	payload := func(userID, extra string) string {
		return `{"token_type":"access","exp":` + now + `0,"iat":` + now + `,"jti":"7f5997b7150d46579dc2b49167097e7b","user_id":` + userID + extra + `}`
	}
	sign := func(p string) string { return handTokenHS256(t, testSecret, simplejwtHeader, p) }
	for name, p := range map[string]string{
		"user_id lone high":                 payload(`"a\ud800"`, ""),
		"user_id lone high, upper case":     payload(`"a\uDBFF"`, ""),
		"user_id lone low":                  payload(`"a\udc00"`, ""),
		"user_id high then text":            payload(`"a\ud800b"`, ""),
		"user_id high then other escape":    payload(`"a\ud800\u0041"`, ""),
		"user_id high then high":            payload(`"\ud800\ud800"`, ""),
		"user_id low then high":             payload(`"\udc00\ud800"`, ""),
		"user_id high then escaped newline": payload(`"\ud800\n"`, ""),
		"jti":                               strings.Replace(payload(`"1"`, ""), `"7f5997b7150d46579dc2b49167097e7b"`, `"j\ud800"`, 1),
		"sid":                               payload(`"1"`, `,"sid":"s\udfff"`),
		"stamp":                             payload(`"1"`, `,"stamp":"\ud800"`),
		"custom claim value":                payload(`"1"`, `,"name":"x\ud800"`),
		"custom claim, nested":              payload(`"1"`, `,"org":{"team":["ok","\udc00"]}`),
		"custom claim name":                 payload(`"1"`, `,"\ud800":1`),
		"name beside a registered one":      payload(`"1"`, `,"user_id\ud800":"2"`),
	} {
		t.Run(name, func(t *testing.T) {
			tok := sign(p)
			c, err := a.verify(tok, TokenTypeAccess)
			require.ErrorIs(t, err, ErrTokenInvalid, "claims: %+v", c)
			w := serveWithHeader(a.Middleware(hello), "Authorization", "Bearer "+tok)
			assert.Equal(t, http.StatusUnauthorized, w.Code)
			assert.JSONEq(t, `{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is invalid"}]}`, w.Body.String())
		})
	}
	for name, tc := range map[string]struct{ raw, want string }{
		"pair":                {`"a\ud83d\ude00"`, "a\U0001F600"},
		"pair, upper case":    {`"\uD83D\uDE00b"`, "\U0001F600b"},
		"U+FFFD escaped":      {`"a\ufffd"`, "a\uFFFD"},
		"pair after a letter": {`"\u0041\udbff\udfff"`, "A\U0010FFFF"},
	} {
		t.Run("control: "+name, func(t *testing.T) {
			c, err := a.verify(sign(payload(tc.raw, `,"custom":"`+tc.raw[1:])), TokenTypeAccess)
			require.NoError(t, err)
			assert.Equal(t, tc.want, c.UserID)
			_, err = c.custom() // decodes without error
			require.NoError(t, err)
			custom := c.User().Claims
			assert.Equal(t, tc.want, custom["custom"])
		})
	}
}

// TestMintReturnsWhatItWrote: mint returns the jti and exp its token
// carries (exp in whole seconds, as written), so that callers (the grant of
// cookie mode) need not read the token again.
func TestMintReturnsWhatItWrote(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_800_000_000, 700_000_000)}
	a, err := New(WithHMACKey(testSecret), WithAuthenticator(newTestUsers()), WithClock(clk.Now))
	require.NoError(t, err)
	for _, typ := range []string{TokenTypeAccess, TokenTypeRefresh} {
		m, err := a.mint(typ, subject{id: "1", sid: "s"}, clk.Now(), time.Minute)
		require.NoError(t, err)
		c, err := a.verify(m.token, typ)
		require.NoError(t, err)
		assert.Equal(t, c.JTI, m.jti)
		assert.Equal(t, c.ExpiresAt, m.exp)
		assert.Equal(t, time.Unix(1_800_000_060, 0), m.exp, "whole seconds")
	}
}

// TestHostileTokens: every verification rule, one named subtest each, in
// every mode; each token is forged by hand and must get 401 from the
// middleware with the documented body.
func TestHostileTokens(t *testing.T) {
	fetches, fetched := countingServer(t)
	for _, m := range modes(t) {
		a, clk := m.newAuth(t)
		aa, _ := m.newAuth(t, WithAudience("api"), WithIssuer("https://issuer.example"))
		mw, mwAud := a.Middleware(hello), aa.Middleware(hello)
		enc := base64.RawURLEncoding
		now := clk.Now().Unix()
		claims := func(edit func(map[string]any)) string {
			c := accessClaims(clk)
			if edit != nil {
				edit(c)
			}
			return claimsJSON(t, c)
		}
		valid := handSign(t, m.alg, m.key, m.header(""), claims(nil))
		parts := strings.Split(valid, ".")
		forge := func(header string, edit func(map[string]any)) string {
			return handSign(t, m.alg, m.key, header, claims(edit))
		}
		unsigned := func(header string) string {
			return enc.EncodeToString([]byte(header)) + "." + parts[1] + "."
		}
		hmacWith := func(secret []byte, header string) string {
			return handSign(t, "HS256", secret, header, claims(nil))
		}
		// Validly signed tokens at and just over the length limit.
		atLimit, overLimit, err := forgepkg.SignAround(m.alg, m.key, m.header(""), claims(nil), defaultMaxTokenBytes)
		require.NoError(t, err)
		audIss := func(c map[string]any) { c["aud"] = "api"; c["iss"] = "https://issuer.example" }
		// signedInput signs a signing input as it is, white space and all.
		signedInput := func(input string) string {
			sig, err := forgepkg.SignInput(m.alg, m.key, input)
			require.NoError(t, err)
			return input + "." + enc.EncodeToString(sig)
		}

		type rule struct {
			name string
			tok  string
			h    http.Handler
			msg  string // message of the 401 body; "Token is invalid" when empty
			// body: send the token in a verify-endpoint body rather than the
			// header (where white space splits it into a bad header).
			body bool
			// bare: the middleware answers the endpoints' body (simplejwt's
			// JWTAuthentication.get_user), not "Given token not valid…".
			bare bool
		}
		rules := []rule{
			{name: "alg none", tok: unsigned(`{"alg":"none","typ":"JWT"}`)},
			{name: "alg None", tok: unsigned(`{"alg":"None","typ":"JWT"}`)},
			{name: "alg NONE", tok: unsigned(`{"alg":"NONE","typ":"JWT"}`)},
			// Signed with our key and primitive over this very header: only
			// the algorithm pin refuses it.
			{name: "alg nOnE with signature", tok: forge(m.headerAlg("nOnE", ""), nil)},
			{name: "stripped signature", tok: parts[0] + "." + parts[1] + "."},
			{name: "signature of another token", tok: parts[0] + "." + enc.EncodeToString([]byte(claims(func(c map[string]any) { c["user_id"] = 2 }))) + "." + parts[2]},
			{name: "embedded jwk", tok: handSign(t, "ES256", attackerEC, `{"alg":"ES256","typ":"JWT","jwk":`+jwkJSON(t, &attackerEC.PublicKey)+`}`, claims(nil))},
			{name: "jku", tok: forge(m.header(`,"jku":"`+fetches.URL+`/jwks.json"`), nil)},
			{name: "x5u", tok: forge(m.header(`,"x5u":"`+fetches.URL+`/cert.pem"`), nil)},
			{name: "x5c", tok: forge(m.header(`,"x5c":["MIIBszCCAVmgAwIBAgIU"]`), nil)},
			{name: "kid path traversal", tok: forge(`{"alg":"`+m.alg+`","kid":"../../../../../../dev/null","typ":"JWT"}`, nil)},
			{name: "kid SQL injection", tok: forge(`{"alg":"`+m.alg+`","kid":"x' UNION SELECT 'secret' --","typ":"JWT"}`, nil)},
			{name: "kid command injection", tok: forge(`{"alg":"`+m.alg+`","kid":"|/usr/bin/touch /tmp/pwned","typ":"JWT"}`, nil)},
			{name: "crit", tok: forge(m.header(`,"crit":["exp"]`), nil)},
			{name: "b64 false", tok: forge(m.header(`,"b64":false,"crit":["b64"]`), nil)},
			{name: "zip", tok: forge(m.header(`,"zip":"DEF"`), nil)},
			{name: "JSON serialization", tok: `{"protected":"` + parts[0] + `","payload":"` + parts[1] + `","signature":"` + parts[2] + `"}`},
			{name: "five segments (JWE)", tok: parts[0] + ".AAAA.AAAA." + parts[1] + "." + parts[2]},
			{name: "missing exp", tok: forge(m.header(""), func(c map[string]any) { delete(c, "exp") }), msg: "Token has no 'exp' claim"},
			{name: "missing jti", tok: forge(m.header(""), func(c map[string]any) { delete(c, "jti") }), msg: "Token has no id"},
			{name: "empty jti", tok: forge(m.header(""), func(c map[string]any) { c["jti"] = "" })},
			{name: "jti over 255 bytes", tok: forge(m.header(""), func(c map[string]any) { c["jti"] = strings.Repeat("a", 256) })},
			{name: "missing exp, expired otherwise: exp first", tok: forge(m.header(""), func(c map[string]any) { delete(c, "exp"); delete(c, "jti") }), msg: "Token has no 'exp' claim"},
			{name: "missing jti, expired: PyJWT's exp check first", tok: forge(m.header(""), func(c map[string]any) { delete(c, "jti"); c["exp"] = now - 1 }), msg: "Token is expired"},
			{name: "expired, nbf in the future: PyJWT's nbf check first", tok: forge(m.header(""), func(c map[string]any) { c["exp"] = now - 1; c["nbf"] = now + 3600 })},
			{name: "exp 0", tok: forge(m.header(""), func(c map[string]any) { c["exp"] = 0 }), msg: "Token is expired"},
			{name: "exp as a string", tok: forge(m.header(""), func(c map[string]any) { c["exp"] = "99999999999" })},
			{name: "expired", tok: forge(m.header(""), func(c map[string]any) { c["exp"] = now - 1 }), msg: "Token is expired"},
			{name: "nbf in the future", tok: forge(m.header(""), func(c map[string]any) { c["nbf"] = now + 3600 })},
			{name: "aud when none configured", tok: forge(m.header(""), func(c map[string]any) { c["aud"] = "api" })},
			{name: "wrong aud", tok: forge(m.header(""), func(c map[string]any) { audIss(c); c["aud"] = "other" }), h: mwAud},
			{name: "missing aud", tok: forge(m.header(""), func(c map[string]any) { c["iss"] = "https://issuer.example" }), h: mwAud},
			{name: "wrong iss", tok: forge(m.header(""), func(c map[string]any) { audIss(c); c["iss"] = "https://evil.example" }), h: mwAud},
			{name: "missing iss", tok: forge(m.header(""), func(c map[string]any) { c["aud"] = "api" }), h: mwAud},
			{name: "refresh token as access", tok: forge(m.header(""), func(c map[string]any) { c["token_type"] = "refresh" }), msg: "Token has wrong type"},
			{name: "missing token_type", tok: forge(m.header(""), func(c map[string]any) { delete(c, "token_type") }), msg: "Token has no type"},
			{name: "refresh token without user_id: the type first", tok: forge(m.header(""), func(c map[string]any) { c["token_type"] = "refresh"; delete(c, "user_id") }), msg: "Token has wrong type"},
			{name: "unknown token_type", tok: forge(m.header(""), func(c map[string]any) { c["token_type"] = "id" }), msg: "Token has wrong type"},
			{name: "missing user_id", tok: forge(m.header(""), func(c map[string]any) { delete(c, "user_id") }), msg: "Token contained no recognizable user identification", bare: true},
			{name: "non-base64url characters", tok: parts[0] + "." + parts[1] + "*." + parts[2]},
			{name: "base64 padding", tok: parts[0] + "=." + parts[1] + "." + parts[2]},
			{name: "standard alphabet", tok: strings.NewReplacer("-", "+", "_", "/").Replace(parts[0]+"."+parts[1]+"."+parts[2]) + "+/"},
			{name: "whitespace inside", tok: parts[0] + ". " + parts[1] + "." + parts[2], body: true},
			{name: "tab inside", tok: parts[0] + "." + parts[1] + "\t." + parts[2], body: true},
			// base64 decoders skip CR and LF: signed over, only the
			// alphabet check refuses these.
			{name: "newline inside, signed over", tok: signedInput(parts[0] + ".\n" + parts[1]), body: true},
			{name: "carriage return inside, signed over", tok: signedInput(parts[0] + "\r." + parts[1]), body: true},
			{name: "four line breaks inside, signed over", tok: signedInput(parts[0] + "." + parts[1][:8] + "\n\n\n\n" + parts[1][8:]), body: true},
			{name: "oversized", tok: overLimit},
			{name: "dot flood", tok: strings.Repeat(".", 1<<20)},
		}
		for _, lie := range m.lies {
			// Our key and primitive under a header claiming another
			// algorithm: only the algorithm pin refuses it.
			rules = append(rules, rule{name: "header alg differs from configured: " + lie, tok: forge(m.headerAlg(lie, ""), nil)})
		}
		if m.public != nil {
			// HS256 signed with the public key as the HMAC secret, in every
			// encoding an attacker might try, with and without our kid.
			for _, secret := range []struct {
				name string
				b    []byte
			}{{"PEM", pemPublic(t, m.public)}, {"DER", derPublic(t, m.public)}} {
				rules = append(rules,
					rule{name: "key confusion HS256 with public key " + secret.name, tok: hmacWith(secret.b, `{"alg":"HS256","typ":"JWT"}`)},
					rule{name: "key confusion HS256 with public key " + secret.name + " and our kid", tok: hmacWith(secret.b, `{"alg":"HS256","kid":"`+m.kid+`","typ":"JWT"}`)},
				)
			}
		}
		if m.alg == "ES256" {
			zero := enc.EncodeToString(make([]byte, 64))
			rules = append(rules, rule{name: "ECDSA r = s = 0", tok: parts[0] + "." + parts[1] + "." + zero})
		}

		t.Run(m.alg, func(t *testing.T) {
			t.Run("control: the forged valid token passes", func(t *testing.T) {
				w := serveWithHeader(mw, "Authorization", "Bearer "+valid)
				require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			})
			t.Run("control: a token at the length limit passes", func(t *testing.T) {
				require.LessOrEqual(t, len(atLimit), defaultMaxTokenBytes)
				require.Greater(t, len(overLimit), defaultMaxTokenBytes)
				w := serveWithHeader(mw, "Authorization", "Bearer "+atLimit)
				require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			})
			t.Run("control: surrounding white space is trimmed from a body's token (DRF's CharField)", func(t *testing.T) {
				body, err := json.Marshal(map[string]string{"token": " \t" + valid + "\n"})
				require.NoError(t, err)
				w := postJSON(t, a.VerifyHandler(), string(body))
				require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			})
			t.Run("control: audience mode accepts the right aud and iss", func(t *testing.T) {
				w := serveWithHeader(mwAud, "Authorization", "Bearer "+forge(m.header(""), audIss))
				require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			})
			for _, r := range rules {
				t.Run(r.name, func(t *testing.T) {
					h := r.h
					if h == nil {
						h = mw
					}
					msg := r.msg
					if msg == "" {
						msg = "Token is invalid"
					}
					if r.body {
						body, err := json.Marshal(map[string]string{"token": r.tok})
						require.NoError(t, err)
						w := postJSON(t, a.VerifyHandler(), string(body))
						assert.Equal(t, http.StatusUnauthorized, w.Code)
						assert.JSONEq(t, `{"detail":"`+msg+`","code":"token_not_valid"}`, w.Body.String())
						return
					}
					w := serveWithHeader(h, "Authorization", "Bearer "+r.tok)
					assert.Equal(t, http.StatusUnauthorized, w.Code)
					if r.bare {
						assert.JSONEq(t, `{"detail":"`+msg+`","code":"token_not_valid"}`, w.Body.String())
					} else {
						assert.JSONEq(t, `{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"`+msg+`"}]}`, w.Body.String())
					}
					assert.Contains(t, w.Header().Get("WWW-Authenticate"), `error="invalid_token"`)
				})
			}
		})
	}
	assert.Zero(t, fetched.Load(), "no key may be fetched from a URL inside a token")
}

// jwkJSON renders an attacker's public key as a JWK for an embedded-jwk header.
func jwkJSON(t *testing.T, pub *ecdsa.PublicKey) string {
	k, err := jwk.Import(pub)
	require.NoError(t, err)
	require.NoError(t, k.Set(jwk.KeyIDKey, "attacker"))
	require.NoError(t, k.Set(jwk.AlgorithmKey, "ES256"))
	b, err := json.Marshal(k)
	require.NoError(t, err)
	return string(b)
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

// TestPayloadWhiteSpace: a payload with white space between its members
// (as other issuers write JSON) verifies, whether the claims parser's fast
// path for jwtpair's own payloads reads its first members or none.
func TestPayloadWhiteSpace(t *testing.T) {
	a, clk := newTestAuth(t)
	now := clk.Now().Unix()
	for _, payload := range []string{
		fmt.Sprintf(`{"token_type":"access", "exp":%d, "iat":%d, "jti":"j1", "user_id":1}`, now+300, now),
		fmt.Sprintf("{\"token_type\":\"access\",\n  \"exp\":%d,\n  \"iat\":%d,\n  \"jti\":\"j2\",\n  \"user_id\":1\n}", now+300, now),
		fmt.Sprintf(`{ "token_type" : "access" , "exp" : %d , "jti" : "j3" , "user_id" : "1" }`, now+300),
	} {
		c, err := a.VerifyAccess(t.Context(), handTokenHS256(t, testSecret, simplejwtHeader, payload))
		if assert.NoError(t, err, payload) {
			assert.Equal(t, "1", c.UserID)
		}
	}
}
