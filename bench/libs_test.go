package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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

// TestLibsVerify proves that every middleware benchmarked really checks
// tokens: 200 (with the user read from the context) for the valid token,
// 401 for an expired one, a wrong signature, a refresh token, garbage, and
// no token, in every algorithm.
func TestLibsVerify(t *testing.T) {
	for _, alg := range Algs {
		ks := keysFor(t, alg)
		tt := ks.Tokens
		for _, lib := range Libs {
			h := handler(t, lib, ks.Key)
			for _, c := range []struct {
				name, auth string
				want       int
			}{
				{"valid", "Bearer " + tt.Valid, http.StatusOK},
				{"expired", "Bearer " + tt.Expired, http.StatusUnauthorized},
				{"wrong-signature", "Bearer " + tt.WrongSig, http.StatusUnauthorized},
				{"wrong-type", "Bearer " + tt.WrongType, http.StatusUnauthorized},
				{"garbage", "Bearer " + tt.Garbage, http.StatusUnauthorized},
				{"none", "", http.StatusUnauthorized},
			} {
				t.Run(alg.Name+"/"+lib.Name+"/"+c.name, func(t *testing.T) {
					r := httptest.NewRequest(http.MethodGet, "/hello/", nil)
					if c.auth != "" {
						r.Header.Set("Authorization", c.auth)
					}
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					require.Equal(t, c.want, w.Code, "body: %.200s", w.Body.String())
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
