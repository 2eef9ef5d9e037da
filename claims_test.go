package jwtpair

import (
	"context"
	"crypto/hmac"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	forgepkg "github.com/jwtpair/jwtpair/internal/forge"
	"github.com/jwtpair/jwtpair/internal/strictjson"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTimeClaimBounds: with a leeway, exp is accepted until exp + leeway
// (exclusive), and nbf and iat up to now + leeway (inclusive): each bound
// exactly, and one second past it.
func TestTimeClaimBounds(t *testing.T) {
	const leeway = 30
	a, clk := newTestAuth(t, WithLeeway(leeway*time.Second))
	now := clk.Now().Unix()
	tokenWith := func(k string, v int64) string {
		c := accessClaims(clk)
		c["exp"] = now + 300
		c[k] = v
		return handTokenHS256(t, testSecret, simplejwtHeader, claimsJSON(t, c))
	}
	for _, tc := range []struct {
		claim string
		at    int64
		want  error
	}{
		{"nbf", now + leeway, nil},
		{"nbf", now + leeway + 1, ErrTokenInvalid},
		{"iat", now + leeway, nil},
		{"iat", now + leeway + 1, ErrTokenInvalid},
		{"exp", now - leeway + 1, nil},
		{"exp", now - leeway, ErrTokenExpired},
	} {
		_, err := a.VerifyAccess(t.Context(), tokenWith(tc.claim, tc.at))
		if tc.want == nil {
			assert.NoError(t, err, "%s = now%+d", tc.claim, tc.at-now)
		} else {
			assert.ErrorIs(t, err, tc.want, "%s = now%+d", tc.claim, tc.at-now)
		}
	}
}

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
		// Four line breaks keep the payload's length one base64 text can
		// have: only its decoded length tells them.
		{"four inner line breaks, signed over", func() string {
			input := parts[0] + "." + parts[1][:8] + "\r\n\r\n" + parts[1][8:]
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

// TestAudienceIsTheClaimsOwn: the verified claims' aud is theirs to
// write: the Auth reads a token's aud as one of its configured audiences
// without copying it (claimset.Names.Expect), but hands out a slice of
// the claims' own memory, so that writing it changes neither the
// configuration nor other claims.
func TestAudienceIsTheClaimsOwn(t *testing.T) {
	a, _ := newTestAuth(t, WithAudience("api", "other"))
	p, err := a.IssuePair(t.Context(), User{ID: "1"})
	require.NoError(t, err)
	c1, err := a.VerifyAccess(t.Context(), p.Access)
	require.NoError(t, err)
	c2, err := a.VerifyAccess(t.Context(), p.Access)
	require.NoError(t, err)
	require.Equal(t, []string{"api"}, c1.Audience)
	c1.Audience[0] = "mutated"
	c1.Audience = append(c1.Audience, "more")
	assert.Equal(t, []string{"api"}, c2.Audience, "other claims")
	c3, err := a.VerifyAccess(t.Context(), p.Access)
	require.NoError(t, err, "the configuration")
	assert.Equal(t, []string{"api"}, c3.Audience)
}
