package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jwtpair/jwtpair"
	"github.com/stretchr/testify/require"
)

// keysFor is KeysFor for tests and benchmarks.
func keysFor(tb testing.TB, a Alg) *KeySet {
	tb.Helper()
	ks, err := KeysFor(a)
	require.NoError(tb, err)
	return ks
}

// handler is Handler for tests and benchmarks.
func handler(tb testing.TB, lib Lib, k *Key) http.Handler {
	tb.Helper()
	h, err := Handler(lib, k)
	require.NoError(tb, err)
	return h
}

// claim is one member of a hand-made payload: its name and raw JSON value.
type claim struct{ name, value string }

type claims []claim

// handMade are the claims of [Key.Mint] one by one, valid for an hour from
// now, so that a test can change, drop or repeat one.
func handMade(now time.Time) claims {
	unix := func(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }
	return claims{
		{"token_type", `"access"`},
		{"exp", unix(now.Add(time.Hour))},
		{"iat", unix(now)},
		{"jti", `"0123456789abcdef0123456789abcdef"`},
		{"user_id", `"` + UserID + `"`},
		{"aud", `"` + Audience + `"`},
		{"iss", `"` + Issuer + `"`},
	}
}

// set replaces the value of name, or adds the claim.
func (cs claims) set(name, value string) claims {
	cs = slices.Clone(cs)
	for i := range cs {
		if cs[i].name == name {
			cs[i].value = value
			return cs
		}
	}
	return append(cs, claim{name, value})
}

func (cs claims) drop(name string) claims {
	return slices.DeleteFunc(slices.Clone(cs), func(c claim) bool { return c.name == name })
}

// add appends a member, even one already there (a duplicate key).
func (cs claims) add(name, value string) claims { return append(slices.Clone(cs), claim{name, value}) }

func (cs claims) json() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, c := range cs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(c.name) + ":" + c.value)
	}
	b.WriteByte('}')
	return b.String()
}

// claimCases are the hand-made tokens of TestLibsVerify, correctly signed,
// each breaking one rule of jwtpair's claims (but the first). accepted
// names the rows that answer 200; every other row must answer 401. Each exception is documented in "What each row
// checks" of bench/cmd/report: when a peer changes, this test fails before
// the prose goes stale.
var claimCases = []struct {
	name     string
	edit     func(cs claims, now time.Time) claims
	accepted []string
}{
	{"hand-made valid", func(cs claims, _ time.Time) claims { return cs }, libNames()},
	{"wrong iss", func(cs claims, _ time.Time) claims { return cs.set("iss", `"https://evil.example.com"`) }, nil},
	{"no iss", func(cs claims, _ time.Time) claims { return cs.drop("iss") }, nil},
	{"wrong aud", func(cs claims, _ time.Time) claims { return cs.set("aud", `"other"`) }, nil},
	{"no aud", func(cs claims, _ time.Time) claims { return cs.drop("aud") }, nil},
	{"no exp", func(cs claims, _ time.Time) claims { return cs.drop("exp") }, nil},
	{"no jti", func(cs claims, _ time.Time) claims { return cs.drop("jti") }, nil},
	{"empty jti", func(cs claims, _ time.Time) claims { return cs.set("jti", `""`) }, nil},
	{"jti over 255 bytes", func(cs claims, _ time.Time) claims { return cs.set("jti", `"`+strings.Repeat("j", 256)+`"`) }, nil},
	{"no user_id", func(cs claims, _ time.Time) claims { return cs.drop("user_id") }, nil},
	{"empty user_id", func(cs claims, _ time.Time) claims { return cs.set("user_id", `""`) }, nil},
	{"no token_type", func(cs claims, _ time.Time) claims { return cs.drop("token_type") }, nil},
	{"nbf in the future", func(cs claims, now time.Time) claims {
		return cs.set("nbf", strconv.FormatInt(now.Add(time.Minute).Unix(), 10))
	}, nil},
	{"iat in the future", func(cs claims, now time.Time) claims {
		return cs.set("iat", strconv.FormatInt(now.Add(time.Minute).Unix(), 10))
	}, nil},
	{"exp as a string of digits", func(cs claims, now time.Time) claims {
		return cs.set("exp", `"`+strconv.FormatInt(now.Add(time.Hour).Unix(), 10)+`"`)
	}, []string{"jwtauth"}}, // jwx v2 reads such strings as numbers
	{"exp as an RFC 3339 string", func(cs claims, now time.Time) claims {
		return cs.set("exp", `"`+now.Add(time.Hour).UTC().Format(time.RFC3339)+`"`)
	}, nil},
	{"iat as a string of digits", func(cs claims, now time.Time) claims {
		return cs.set("iat", `"`+strconv.FormatInt(now.Unix(), 10)+`"`)
	}, []string{"jwtauth"}},
	{"nbf as a string of digits", func(cs claims, now time.Time) claims {
		return cs.set("nbf", `"`+strconv.FormatInt(now.Unix(), 10)+`"`)
	}, []string{"jwtauth"}},
	{"token_type repeated, refresh then access", func(cs claims, _ time.Time) claims {
		return cs.set("token_type", `"refresh"`).add("token_type", `"access"`)
	}, []string{"jwtauth", "auth0", "golangjwt", "floor"}}, // the last one wins
	{"token_type, then TOKEN_TYPE access", func(cs claims, _ time.Time) claims {
		return cs.set("token_type", `"refresh"`).add("TOKEN_TYPE", `"access"`)
	}, []string{"auth0", "golangjwt", "floor"}}, // encoding/json matches names case-insensitively
	// Values jwtpair accepts and a row's claims struct types otherwise.
	{"aud an array", func(cs claims, _ time.Time) claims { return cs.set("aud", `["other","`+Audience+`"]`) },
		[]string{"jwtpair", "jwtpair-uncached", "jwtauth", "auth0", "golangjwt"}}, // the floor's aud is a string
	{"exp a fraction", func(cs claims, now time.Time) claims {
		return cs.set("exp", strconv.FormatInt(now.Add(time.Hour).Unix(), 10)+".5")
	}, []string{"jwtpair", "jwtpair-uncached", "jwtauth", "auth0", "golangjwt"}}, // the floor's exp is an int64
	// simplejwt issues integer ids; every other row types user_id as a string.
	{"user_id an integer", func(cs claims, _ time.Time) claims { return cs.set("user_id", UserID) }, []string{"jwtpair", "jwtpair-uncached"}},
}

func libNames() []string {
	var names []string
	for _, l := range Libs {
		names = append(names, l.Name)
	}
	return names
}

// TestLibsVerify proves that every middleware benchmarked really checks
// tokens, in every algorithm: 200 (with the user read from the context) for
// the valid token; 401 for an expired one, a wrong signature, a refresh
// token, garbage and no token; and, on the hand-made tokens of claimCases,
// the answers listed there; each three times over.
func TestLibsVerify(t *testing.T) {
	type verifyCase struct {
		name, auth string
		want       func(lib string) int
	}
	status := func(code int) func(string) int { return func(string) int { return code } }
	now := time.Now()
	for _, alg := range Algs {
		ks := keysFor(t, alg)
		tt := ks.Tokens
		cases := []verifyCase{
			{"valid", "Bearer " + tt.Valid, status(http.StatusOK)},
			{"expired", "Bearer " + tt.Expired, status(http.StatusUnauthorized)},
			{"wrong-signature", "Bearer " + tt.WrongSig, status(http.StatusUnauthorized)},
			{"wrong-type", "Bearer " + tt.WrongType, status(http.StatusUnauthorized)},
			{"garbage", "Bearer " + tt.Garbage, status(http.StatusUnauthorized)},
			{"none", "", status(http.StatusUnauthorized)},
		}
		for _, c := range claimCases {
			tok, err := ks.Key.Sign(c.edit(handMade(now), now).json())
			require.NoError(t, err)
			cases = append(cases, verifyCase{c.name, "Bearer " + tok, func(lib string) int {
				if slices.Contains(c.accepted, lib) {
					return http.StatusOK
				}
				return http.StatusUnauthorized
			}})
		}
		for _, lib := range Libs {
			h := handler(t, lib, ks.Key)
			for _, c := range cases {
				t.Run(alg.Name+"/"+lib.Name+"/"+c.name, func(t *testing.T) {
					// Three times: the same answer to a token seen before
					// (jwtpair caches the tokens it verified).
					for range 3 {
						r := httptest.NewRequest(http.MethodGet, "/hello/", nil)
						if c.auth != "" {
							r.Header.Set("Authorization", c.auth)
						}
						w := httptest.NewRecorder()
						h.ServeHTTP(w, r)
						require.Equal(t, c.want(lib.Name), w.Code, "body: %.200s", w.Body.String())
					}
				})
			}
		}
	}
}

// TestTokensAreJWTPairShaped checks that the benchmark tokens carry the
// header jwtpair itself emits, so jwtpair is measured on its own tokens'
// path, and that a token jwtpair issues passes the other middlewares.
func TestTokensAreJWTPairShaped(t *testing.T) {
	for _, alg := range Algs {
		t.Run(alg.Name, func(t *testing.T) {
			ks := keysFor(t, alg)
			a, err := jwtpair.New(JWTPairOptions(ks.Key)...)
			require.NoError(t, err)
			p, err := a.IssuePair(context.Background(), jwtpair.User{ID: UserID})
			require.NoError(t, err)
			header, _, _ := strings.Cut(p.Access, ".")
			require.Equal(t, ks.Key.Header(), header)
			for _, lib := range Libs {
				r := httptest.NewRequest(http.MethodGet, "/hello/", nil)
				r.Header.Set("Authorization", "Bearer "+p.Access)
				w := httptest.NewRecorder()
				handler(t, lib, ks.Key).ServeHTTP(w, r)
				require.Equal(t, http.StatusOK, w.Code, "%s: %.200s", lib.Name, w.Body.String())
			}
		})
	}
}

// TestBareVerify checks the bare crypto verify of the asymmetric keys.
func TestBareVerify(t *testing.T) {
	for _, alg := range Algs {
		ks := keysFor(t, alg)
		if !ks.Key.HasBareVerify() {
			continue
		}
		input, sig := splitSig(t, ks.Tokens.Valid)
		require.True(t, ks.Key.VerifyDigest(input, ks.Key.Digest(input), sig), alg.Name)
		_, bad := splitSig(t, ks.Tokens.WrongSig)
		require.False(t, ks.Key.VerifyDigest(input, ks.Key.Digest(input), bad), alg.Name)
	}
}

// splitSig returns a token's signing input and decoded signature.
func splitSig(tb testing.TB, tok string) ([]byte, []byte) {
	tb.Helper()
	i := strings.LastIndexByte(tok, '.')
	sig, err := b64.DecodeString(tok[i+1:])
	require.NoError(tb, err)
	return []byte(tok[:i]), sig
}
