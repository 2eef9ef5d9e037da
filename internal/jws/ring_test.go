package jws

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func hdr(s string) string { return enc.EncodeToString([]byte(s)) }

func TestRing(t *testing.T) {
	testKeys(t)
	hs, err := NewHMACKey("HS256", secret, "")
	require.NoError(t, err)
	es, err := NewAsymmetricKey("ES256", ecKey, "es")
	require.NoError(t, err)
	es2, err := NewAsymmetricKey("ES256", &ecKey2.PublicKey, "es2")
	require.NoError(t, err)

	t.Run("one key without kid", func(t *testing.T) {
		var r Ring
		require.NoError(t, r.Add(hs))
		r.Finish()
		for name, tc := range map[string]struct {
			header string
			want   *Key
		}{
			"as the key emits it":    {hs.Header(), hs},
			"another member order":   {hdr(`{"typ":"JWT","alg":"HS256"}`), hs},
			"no typ":                 {hdr(`{"alg":"HS256"}`), hs},
			"another alg":            {hdr(`{"alg":"HS512","typ":"JWT"}`), nil},
			"alg none":               {hdr(`{"alg":"none"}`), nil},
			"alg in lower case":      {hdr(`{"alg":"hs256"}`), nil},
			"a kid the ring lacks":   {hdr(`{"alg":"HS256","kid":"k1"}`), nil},
			"header not allowlisted": {hdr(`{"alg":"HS256","jku":"http://x"}`), nil},
			"not base64url":          {"eyJ!", nil},
			"padded":                 {hs.Header() + "=", nil},
			"too long":               {hdr(`{"alg":"HS256","typ":"JWT"` + strings.Repeat(" ", MaxHeaderBytes) + `}`), nil},
		} {
			k, unknown := r.Lookup(tc.header)
			assert.Same(t, tc.want, k, name)
			if name == "a kid the ring lacks" {
				assert.Equal(t, Header{Alg: "HS256", KID: "k1"}, unknown, "reported, for a refetch")
			} else {
				assert.Equal(t, Header{}, unknown, name)
			}
		}
		allocs := testing.AllocsPerRun(100, func() { r.Lookup(hs.Header()) })
		assert.Zero(t, allocs)
	})
	t.Run("keys with kids", func(t *testing.T) {
		var r Ring
		require.NoError(t, r.Add(es))
		require.NoError(t, r.Add(es2))
		r.Finish()
		assert.Same(t, es, r.Key("es"))
		assert.Nil(t, r.Key("nope"))
		k, _ := r.Lookup(es2.Header())
		assert.Same(t, es2, k)
		k, _ = r.Lookup(hdr(`{"kid":"es","alg":"ES256"}`))
		assert.Same(t, es, k)
		k, unknown := r.Lookup(hdr(`{"alg":"ES256"}`))
		assert.Nil(t, k, "with two keys, a token must name its key")
		assert.Equal(t, Header{}, unknown)
		k, _ = r.Lookup(hdr(`{"alg":"ES384","kid":"es"}`))
		assert.Nil(t, k, "the kid's key keeps its alg")
		assert.Same(t, es, r.Match(Header{Alg: "ES256", KID: "es"}))
		assert.Nil(t, r.Match(Header{Alg: "HS256", KID: "es"}))
		assert.Nil(t, r.Match(Header{Alg: "ES256"}))
	})
	t.Run("a single key with a kid also takes tokens without", func(t *testing.T) {
		var r Ring
		require.NoError(t, r.Add(es))
		r.Finish()
		k, _ := r.Lookup(hdr(`{"alg":"ES256"}`))
		assert.Same(t, es, k)
		assert.Nil(t, r.Match(Header{Alg: "ES256", KID: "other"}), "a kid never falls back to the only key")
	})
	t.Run("a kid-less key beside keys with kids", func(t *testing.T) {
		var r Ring
		require.NoError(t, r.Add(es))
		require.NoError(t, r.Add(hs))
		r.Finish()
		k, _ := r.Lookup(hdr(`{"alg":"HS256"}`))
		assert.Same(t, hs, k)
		k, _ = r.Lookup(hdr(`{"alg":"ES256"}`))
		assert.Nil(t, k, "a token without kid is the kid-less key's, with its alg")
	})
	t.Run("refused", func(t *testing.T) {
		var r Ring
		require.NoError(t, r.Add(es))
		assert.EqualError(t, r.Add(es), `two keys share the kid "es"`)
		require.NoError(t, r.Add(hs))
		hs2, err := NewHMACKey("HS512", []byte(strings.Repeat("s", 64)), "")
		require.NoError(t, err)
		assert.ErrorContains(t, r.Add(hs2), "two keys without a kid")
	})
	t.Run("the zero ring", func(t *testing.T) {
		var r Ring
		r.Finish()
		k, _ := r.Lookup(hs.Header())
		assert.Nil(t, k)
		assert.Nil(t, r.Key("es"))
		assert.Nil(t, r.Match(Header{Alg: "HS256"}))
	})
}

func TestMarshalJWKS(t *testing.T) {
	testKeys(t)
	hs, err := NewHMACKey("HS256", secret, "h")
	require.NoError(t, err)
	b, err := MarshalJWKS([]*Key{hs})
	require.NoError(t, err)
	assert.Nil(t, b, "nothing public in an HMAC key")

	rs, err := NewAsymmetricKey("RS256", rsaKey, "")
	require.NoError(t, err)
	ed, err := NewAsymmetricKey("EdDSA", edKey.Public(), "ed")
	require.NoError(t, err)
	b, err = MarshalJWKS([]*Key{hs, rs, ed})
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(string(b), "}\n"))
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(b, &set))
	require.Len(t, set.Keys, 2)
	for i, want := range []struct{ kty, alg, kid string }{{"RSA", "RS256", rs.KID()}, {"OKP", "EdDSA", "ed"}} {
		k := set.Keys[i]
		assert.Equal(t, want.kty, k["kty"])
		assert.Equal(t, want.alg, k["alg"])
		assert.Equal(t, want.kid, k["kid"])
		assert.Equal(t, "sig", k["use"])
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k", "oth"} {
			assert.NotContains(t, k, private)
		}
	}
}
