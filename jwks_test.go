package jwtpair

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestJWKSConsumerKeyFilter: of a key set, a resource server uses only
// public keys meant for verifying. A published private key (a misconfigured
// issuer) and a key whose key_ops exclude "verify" are left out, so tokens
// naming them fail; a public key with key_ops ["verify"] is used.
func TestJWKSConsumerKeyFilter(t *testing.T) {
	testKeys(t)
	priv, err := jwk.Import(ecKey)
	require.NoError(t, err)
	require.NoError(t, priv.Set(jwk.KeyIDKey, "private"))
	pub := func(kid string, ops ...jwk.KeyOperation) jwk.Key {
		k, err := jwk.Import(&ecKey.PublicKey)
		require.NoError(t, err)
		require.NoError(t, k.Set(jwk.KeyIDKey, kid))
		if ops != nil {
			require.NoError(t, k.Set(jwk.KeyOpsKey, jwk.KeyOperationList(ops)))
		}
		return k
	}
	set := jwk.NewSet()
	for _, k := range []jwk.Key{priv, pub("encrypt-only", jwk.KeyOpEncrypt), pub("verify", jwk.KeyOpVerify)} {
		require.NoError(t, set.AddKey(k))
	}
	body, err := json.Marshal(set)
	require.NoError(t, err)
	require.Contains(t, string(body), `"d":`, "the set really publishes the private key")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)

	clk := newFakeClock()
	rs, err := New(WithJWKSURL(srv.URL), WithAlgorithm("ES256"), WithClock(clk.Now), WithLogger(quietLogger))
	require.NoError(t, err)
	t.Cleanup(func() { _ = rs.Close() })
	mw := rs.Middleware(hello)
	for kid, want := range map[string]int{"private": http.StatusUnauthorized, "encrypt-only": http.StatusUnauthorized, "verify": http.StatusOK} {
		tok := handSign(t, "ES256", ecKey, `{"alg":"ES256","kid":"`+kid+`","typ":"JWT"}`, claimsJSON(t, accessClaims(clk)))
		assert.Equal(t, want, serveWithHeader(mw, "Authorization", "Bearer "+tok).Code, "kid %s", kid)
	}
}
