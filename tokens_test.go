package jwtpair

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair/internal/claimset"
	forgepkg "github.com/jwtpair/jwtpair/internal/forge"
	"github.com/jwtpair/jwtpair/internal/strictjson"
)

// TestVerificationRules builds each hostile or broken token by hand and
// asserts the verdict. Nothing here is minted by the package's own signer.
func TestVerificationRules(t *testing.T) {
	a, clk := newTestAuth(t)
	now := clk.Now().Unix()
	enc := base64.RawURLEncoding
	valid := accessClaims(clk)
	with := func(k string, v any) string {
		c := accessClaims(clk)
		c[k] = v
		return claimsJSON(t, c)
	}
	without := func(k string) string {
		c := accessClaims(clk)
		delete(c, k)
		return claimsJSON(t, c)
	}
	sign := func(header, payload string) string { return handTokenHS256(t, testSecret, header, payload) }
	good := sign(simplejwtHeader, claimsJSON(t, valid))
	parts := strings.Split(good, ".")
	hs512 := func(header, payload string) string {
		input := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
		m := hmac.New(sha512.New, testSecret)
		m.Write([]byte(input))
		return input + "." + enc.EncodeToString(m.Sum(nil))
	}
	unsigned := func(header, payload string) string {
		return enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload)) + "."
	}
	// Validly signed, at and just over the length limit (a large custom claim).
	atLimit, overLimit, err := forgepkg.SignAround("HS256", testSecret, simplejwtHeader, claimsJSON(t, valid), defaultMaxTokenBytes)
	require.NoError(t, err)

	tests := []struct {
		name string
		tok  string
		want error
	}{
		// Form.
		{"empty", "", ErrTokenInvalid},
		{"two segments", parts[0] + "." + parts[1], ErrTokenInvalid},
		{"four segments", good + ".AAAA", ErrTokenInvalid},
		{"five segments (JWE)", good + ".AAAA.AAAA", ErrTokenInvalid},
		{"empty signature", parts[0] + "." + parts[1] + ".", ErrTokenInvalid},
		{"empty header", "." + parts[1] + "." + parts[2], ErrTokenInvalid},
		{"empty payload", parts[0] + ".." + parts[2], ErrTokenInvalid},
		{"padding", parts[0] + "." + parts[1] + "." + parts[2] + "=", ErrTokenInvalid},
		{"standard alphabet", strings.NewReplacer("-", "+", "_", "/").Replace(good) + "+/", ErrTokenInvalid},
		{"leading space", " " + good, ErrTokenInvalid},
		{"inner newline, signed over", func() string {
			input := parts[0] + ".\n" + parts[1]
			sig, err := forgepkg.SignInput("HS256", testSecret, input)
			require.NoError(t, err)
			return input + "." + enc.EncodeToString(sig)
		}(), ErrTokenInvalid},
		{"non-ASCII", parts[0] + "." + parts[1] + "é." + parts[2], ErrTokenInvalid},
		{"JSON serialization", `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`, ErrTokenInvalid},
		{"oversized, validly signed", overLimit, ErrTokenInvalid},
		{"dot flood", strings.Repeat(".", 1<<20), ErrTokenInvalid},
		{"non-canonical signature bits", parts[0] + "." + parts[1] + "." + flipLastBits(parts[2]), ErrTokenInvalid},
		{"truncated signature", parts[0] + "." + parts[1] + "." + parts[2][:20], ErrTokenInvalid},

		// Header.
		{"alg none", unsigned(`{"alg":"none","typ":"JWT"}`, claimsJSON(t, valid)), ErrTokenInvalid},
		{"alg None", unsigned(`{"alg":"None","typ":"JWT"}`, claimsJSON(t, valid)), ErrTokenInvalid},
		{"alg NONE signed", sign(`{"alg":"NONE","typ":"JWT"}`, claimsJSON(t, valid)), ErrTokenInvalid},
		{"alg hs256 lower case", sign(`{"alg":"hs256","typ":"JWT"}`, claimsJSON(t, valid)), ErrTokenInvalid},
		{"alg HS512 with the same secret", hs512(`{"alg":"HS512","typ":"JWT"}`, claimsJSON(t, valid)), ErrTokenInvalid},
		{"alg RS256 header", sign(`{"alg":"RS256","typ":"JWT"}`, claimsJSON(t, valid)), ErrTokenInvalid},
		{"no alg", sign(`{"typ":"JWT"}`, claimsJSON(t, valid)), ErrTokenInvalid},
		{"alg twice", sign(`{"alg":"none","alg":"HS256","typ":"JWT"}`, claimsJSON(t, valid)), ErrTokenInvalid},
		{"alg not a string", sign(`{"alg":["HS256"],"typ":"JWT"}`, claimsJSON(t, valid)), ErrTokenInvalid},
		{"typ JWE", sign(`{"alg":"HS256","typ":"JWE"}`, claimsJSON(t, valid)), ErrTokenInvalid},
		{"embedded jwk", sign(`{"alg":"HS256","typ":"JWT","jwk":{"kty":"oct","k":"AAAA"}}`, claimsJSON(t, valid)), ErrTokenInvalid},
		{"jku", sign(`{"alg":"HS256","jku":"http://127.0.0.1:1/jwks"}`, claimsJSON(t, valid)), ErrTokenInvalid},
		{"x5u", sign(`{"alg":"HS256","x5u":"http://127.0.0.1:1/cert"}`, claimsJSON(t, valid)), ErrTokenInvalid},
		{"x5c", sign(`{"alg":"HS256","x5c":["MIIB"]}`, claimsJSON(t, valid)), ErrTokenInvalid},
		{"crit", sign(`{"alg":"HS256","crit":["exp"]}`, claimsJSON(t, valid)), ErrTokenInvalid},
		{"b64 false", sign(`{"alg":"HS256","b64":false,"crit":["b64"]}`, claimsJSON(t, valid)), ErrTokenInvalid},
		{"zip", sign(`{"alg":"HS256","zip":"DEF"}`, claimsJSON(t, valid)), ErrTokenInvalid},
		{"unknown kid", sign(`{"alg":"HS256","kid":"k1","typ":"JWT"}`, claimsJSON(t, valid)), ErrTokenInvalid},
		{"kid path traversal", sign(`{"alg":"HS256","kid":"../../../../dev/null"}`, claimsJSON(t, valid)), ErrTokenInvalid},
		{"kid injection", sign(`{"alg":"HS256","kid":"x' UNION SELECT 'key"}`, claimsJSON(t, valid)), ErrTokenInvalid},
		{"header not JSON", enc.EncodeToString([]byte("alg=HS256")) + "." + parts[1] + "." + parts[2], ErrTokenInvalid},
		{"header trailing data", sign(`{"alg":"HS256"}x`, claimsJSON(t, valid)), ErrTokenInvalid},

		// Claims.
		{"payload not JSON", sign(simplejwtHeader, "hello"), ErrTokenInvalid},
		{"payload array", sign(simplejwtHeader, "[1]"), ErrTokenInvalid},
		{"payload trailing data", sign(simplejwtHeader, claimsJSON(t, valid)+"{}"), ErrTokenInvalid},
		{"invalid UTF-8", sign(simplejwtHeader, strings.Replace(claimsJSON(t, valid), `"access"`, "\"acc\xffess\"", 1)), ErrTokenInvalid},
		{"missing exp", sign(simplejwtHeader, without("exp")), ErrTokenInvalid},
		{"exp string", sign(simplejwtHeader, with("exp", "9999999999")), ErrTokenInvalid},
		{"exp null", sign(simplejwtHeader, with("exp", nil)), ErrTokenInvalid},
		{"exp 0", sign(simplejwtHeader, with("exp", 0)), ErrTokenExpired},
		{"exp negative", sign(simplejwtHeader, with("exp", -1)), ErrTokenInvalid},
		{"exp huge", sign(simplejwtHeader, with("exp", 1e300)), ErrTokenInvalid},
		{"exp in the past", sign(simplejwtHeader, with("exp", now-1)), ErrTokenExpired},
		{"exp now", sign(simplejwtHeader, with("exp", now)), ErrTokenExpired},
		{"exp twice", sign(simplejwtHeader, strings.Replace(claimsJSON(t, valid), `{`, `{"exp":99999999999,`, 1)), ErrTokenInvalid},
		{"exp twice, escaped", sign(simplejwtHeader, strings.Replace(claimsJSON(t, valid), `{`, `{"\u0065xp":99999999999,`, 1)), ErrTokenInvalid},
		{"nbf in the future", sign(simplejwtHeader, with("nbf", now+60)), ErrTokenInvalid},
		{"iat in the future", sign(simplejwtHeader, with("iat", now+60)), ErrTokenInvalid},
		{"aud present, none expected", sign(simplejwtHeader, with("aud", "other")), ErrTokenInvalid},
		{"missing token_type", sign(simplejwtHeader, without("token_type")), ErrTokenInvalid},
		{"token_type refresh", sign(simplejwtHeader, with("token_type", "refresh")), ErrTokenWrongType},
		{"token_type unknown", sign(simplejwtHeader, with("token_type", "sliding")), ErrTokenWrongType},
		{"token_type ACCESS", sign(simplejwtHeader, with("token_type", "ACCESS")), ErrTokenWrongType},
		{"token_type number", sign(simplejwtHeader, with("token_type", 1)), ErrTokenInvalid},
		{"missing user_id", sign(simplejwtHeader, without("user_id")), ErrTokenInvalid},
		{"user_id null", sign(simplejwtHeader, with("user_id", nil)), ErrTokenInvalid},
		{"user_id empty", sign(simplejwtHeader, with("user_id", "")), ErrTokenInvalid},
		{"user_id float", sign(simplejwtHeader, with("user_id", 1.5)), ErrTokenInvalid},
		{"user_id object", sign(simplejwtHeader, with("user_id", map[string]any{"id": 1})), ErrTokenInvalid},
		{"missing jti", sign(simplejwtHeader, without("jti")), ErrTokenInvalid},
		{"jti number", sign(simplejwtHeader, with("jti", 7)), ErrTokenInvalid},
		{"jti empty", sign(simplejwtHeader, with("jti", "")), ErrTokenInvalid},
		{"jti of 256 bytes", sign(simplejwtHeader, with("jti", strings.Repeat("j", 256))), ErrTokenInvalid},
		{"sid number", sign(simplejwtHeader, with("sid", 7)), ErrTokenInvalid},
		{"sid twice", sign(simplejwtHeader, strings.Replace(with("sid", newID()), `{`, `{"sid":"`+newID()+`",`, 1)), ErrTokenInvalid},
		{"stamp twice", sign(simplejwtHeader, strings.Replace(with("stamp", "digest-a"), `{`, `{"stamp":"digest-b",`, 1)), ErrTokenInvalid},
		{"custom claim nested too deep", sign(simplejwtHeader, with("deep", nest(strictjson.MaxDepth+1))), ErrTokenInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := a.verify(tt.tok, TokenTypeAccess)
			require.ErrorIs(t, err, tt.want)
			if !assert.Nil(t, c) {
				t.Logf("claims: %+v", c)
			}
		})
	}

	t.Run("control: the valid token passes", func(t *testing.T) {
		c, err := a.verify(good, TokenTypeAccess)
		require.NoError(t, err)
		assert.Equal(t, "1", c.UserID)
	})
	t.Run("control: a validly signed token at the length limit passes", func(t *testing.T) {
		require.LessOrEqual(t, len(atLimit), defaultMaxTokenBytes)
		require.Greater(t, len(overLimit), defaultMaxTokenBytes)
		_, err := a.verify(atLimit, TokenTypeAccess)
		require.NoError(t, err)
	})
	t.Run("control: a jti of 255 bytes passes", func(t *testing.T) {
		c, err := a.verify(sign(simplejwtHeader, with("jti", strings.Repeat("j", 255))), TokenTypeAccess)
		require.NoError(t, err)
		assert.Len(t, c.JTI, 255)
	})
	t.Run("escaped claim names are read as themselves", func(t *testing.T) {
		p := strings.Replace(claimsJSON(t, valid), `"user_id"`, `"user\u005fid"`, 1)
		c, err := a.verify(sign(simplejwtHeader, p), TokenTypeAccess)
		require.NoError(t, err)
		assert.Equal(t, "1", c.UserID)
	})
	t.Run("fractional exp, nbf in the past, whitespace", func(t *testing.T) {
		payload := ` { "token_type" : "access", "exp" : ` + itoa(now+60) + `.5, "nbf": ` + itoa(now-10) + `, "jti":"j", "user_id":"u" } `
		c, err := a.verify(sign(`{ "alg" : "HS256" }`, payload), TokenTypeAccess)
		require.NoError(t, err)
		assert.Equal(t, time.Unix(now+60, 5e8), c.ExpiresAt)
	})
}

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

func TestAudienceAndIssuer(t *testing.T) {
	a, clk := newTestAuth(t, WithAudience("api", "legacy-api"), WithIssuer("https://auth.example"))
	p := login(t, a)
	c, err := a.VerifyAccess(context.Background(), p.Access)
	require.NoError(t, err)
	assert.Equal(t, []string{"api"}, c.Audience)
	assert.Equal(t, "https://auth.example", c.Issuer)

	base := func() map[string]any {
		c := accessClaims(clk)
		c["aud"] = "api"
		c["iss"] = "https://auth.example"
		return c
	}
	for _, tc := range []struct {
		name string
		edit func(map[string]any)
		want error
	}{
		{"both right", func(map[string]any) {}, nil},
		{"second audience, in a list", func(c map[string]any) { c["aud"] = []string{"x", "legacy-api"} }, nil},
		{"missing aud", func(c map[string]any) { delete(c, "aud") }, ErrTokenInvalid},
		{"wrong aud", func(c map[string]any) { c["aud"] = "apix" }, ErrTokenInvalid},
		{"empty aud list", func(c map[string]any) { c["aud"] = []string{} }, ErrTokenInvalid},
		{"aud number", func(c map[string]any) { c["aud"] = 1 }, ErrTokenInvalid},
		{"missing iss", func(c map[string]any) { delete(c, "iss") }, ErrTokenInvalid},
		{"wrong iss", func(c map[string]any) { c["iss"] = "https://evil.example" }, ErrTokenInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.edit(c)
			_, err := a.VerifyAccess(context.Background(), handTokenHS256(t, testSecret, simplejwtHeader, claimsJSON(t, c)))
			if tc.want == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tc.want)
			}
		})
	}
}

func TestCustomClaimNames(t *testing.T) {
	a, clk := newTestAuth(t, WithUserIDClaim("uid"), WithTokenTypeClaim("typ"))
	p := login(t, a)
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(p.Access, ".")[1])
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(payload, &m))
	assert.Equal(t, "1", m["uid"])
	assert.Equal(t, "access", m["typ"])
	assert.NotContains(t, m, "user_id")

	simplejwtNames := handTokenHS256(t, testSecret, simplejwtHeader, claimsJSON(t, accessClaims(clk)))
	_, err = a.VerifyAccess(context.Background(), simplejwtNames)
	assert.ErrorIs(t, err, ErrTokenInvalid, "tokens without the configured claims are refused")
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
	assert.Len(t, m, 5, "exactly simplejwt's claim set")

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
			allocs := testing.AllocsPerRun(100, func() {
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
		require.NoError(t, a.store.Issue(t.Context(), Record{JTI: c["jti"].(string), UserID: "admin\uFFFD", FamilyID: "f", ExpiresAt: clk.Now().Add(time.Hour)}))
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
