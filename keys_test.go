package jwtpair

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jwtpair/jwtpair/internal/jws"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pemPublic and derPublic are the public key as an attacker would find it.
func derPublic(t *testing.T, pub any) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	return der
}

func pemPublic(t *testing.T, pub any) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: derPublic(t, pub)})
}

// TestAlgorithmsRoundTrip: every supported algorithm issues tokens that its
// own middleware accepts and that name the key's thumbprint.
func TestAlgorithmsRoundTrip(t *testing.T) {
	testKeys(t)
	ps := func(bits int) *rsa.PrivateKey { return rsaKey }
	p384 := ec384Key
	p521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	require.NoError(t, err)
	cases := map[string]any{
		"RS256": rsaKey, "RS384": rsaKey, "RS512": rsaKey,
		"PS256": ps(2048), "PS384": rsaKey, "PS512": rsaKey,
		"ES256": ecKey, "ES384": p384, "ES512": p521, "EdDSA": edKey,
	}
	for alg, key := range cases {
		t.Run(alg, func(t *testing.T) {
			a, err := New(WithSigningKey(key, alg), WithAuthenticator(newTestUsers()))
			require.NoError(t, err)
			p := login(t, a)
			w := serveWithHeader(a.Middleware(hello), "Authorization", "Bearer "+p.Access)
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			hdr, err := base64.RawURLEncoding.DecodeString(strings.Split(p.Access, ".")[0])
			require.NoError(t, err)
			var h map[string]string
			require.NoError(t, json.Unmarshal(hdr, &h))
			assert.Equal(t, alg, h["alg"])
			kid, err := jws.Thumbprint(key.(crypto.Signer).Public())
			require.NoError(t, err)
			assert.Equal(t, kid, h["kid"])
			w = postJSON(t, a.RefreshHandler(), refreshBody(p.Refresh))
			assert.Equal(t, http.StatusOK, w.Code)
		})
	}
	for alg, size := range map[string]int{"HS384": 48, "HS512": 64} {
		_, err := New(WithHMACKey(make([]byte, size-1)), WithAlgorithm(alg), WithAuthenticator(newTestUsers()))
		require.ErrorContains(t, err, fmt.Sprintf("want at least %d for %s", size, alg), "RFC 7518 §3.2: a key as long as the hash")
		a, err := New(WithHMACKey(longSecret), WithAlgorithm(alg), WithAuthenticator(newTestUsers()))
		require.NoError(t, err)
		p := login(t, a)
		assert.Equal(t, http.StatusOK, serveWithHeader(a.Middleware(hello), "Authorization", "Bearer "+p.Access).Code, alg)
	}
}

func TestOpaqueCryptoSigner(t *testing.T) {
	testKeys(t)
	for alg, key := range map[string]crypto.Signer{"ES256": ecKey, "PS256": rsaKey, "RS256": rsaKey, "EdDSA": edKey} {
		a, err := New(WithSigningKey(cryptoSignerOnly{key}, alg), WithAuthenticator(newTestUsers()))
		require.NoError(t, err, alg)
		p := login(t, a)
		assert.Equal(t, http.StatusOK, serveWithHeader(a.Middleware(hello), "Authorization", "Bearer "+p.Access).Code, alg)
	}
}

func TestSigningKeyValidation(t *testing.T) {
	testKeys(t)
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		require.NoError(t, err)
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	users := WithAuthenticator(newTestUsers())
	for _, tc := range []struct {
		name string
		opts []Option
		want string
	}{
		{"RSA under 2048 bits", []Option{WithSigningKey(weakRSA, "RS256")}, "at least 2048"},
		{"RSA key for ES256", []Option{WithSigningKey(rsaKey, "ES256")}, "cannot be used with ES256"},
		{"P-384 key for ES256", []Option{WithSigningKey(ec384Key, "ES256")}, "needs an EC key on P-256"},
		{"Ed25519 key for RS256", []Option{WithSigningKey(edKey, "RS256")}, "jwtpair: an Ed25519 key cannot be used with RS256, which needs an RSA key of at least 2048 bits; an Ed25519 key fits EdDSA"},
		{"a file name as the key", []Option{WithSigningKey("key.pem", "EdDSA")}, "jwtpair: a string key cannot be used with EdDSA (a file name is not read): pass the key's PEM bytes, as os.ReadFile(name) returns them, a crypto.Signer"},
		{"previous HMAC secret as a string", []Option{WithHMACKey(testSecret), WithKeyID("k2"), WithPreviousKey(string(longSecret), "HS256", "k1", time.Now().Add(time.Hour))}, "jwtpair: previous key: an HS256 key is the secret's bytes ([]byte), not a string"},
		{"previous key is the signing secret", []Option{WithHMACKey(testSecret), WithKeyID("k2"), WithPreviousKey(testSecret, "HS256", "k1", time.Now().Add(time.Hour))}, "jwtpair: previous key: it is the signing key itself"},
		{"previous key is the signing secret, other alg", []Option{WithHMACKey(longSecret), WithKeyID("k2"), WithPreviousKey(longSecret, "HS512", "k1", time.Now().Add(time.Hour))}, "jwtpair: previous key: it is the signing key itself"},
		{"previous key is the signing key's public key", []Option{WithSigningKey(ecKey, "ES256"), WithPreviousKey(&ecKey.PublicKey, "ES256", "old", time.Now().Add(time.Hour))}, "jwtpair: previous key: it is the signing key itself"},
		{"previous key is the signing key, same kid", []Option{WithSigningKey(ecKey, "ES256"), WithPreviousKey(pemPublic(t, &ecKey.PublicKey), "ES256", "", time.Now().Add(time.Hour))}, "jwtpair: previous key: it is the signing key itself"},
		{"public key to sign", []Option{WithSigningKey(pemPublic(t, &ecKey.PublicKey), "ES256")}, "needs a private key"},
		{"garbage PEM", []Option{WithSigningKey([]byte("not a key"), "ES256")}, "no PEM block"},
		{"HMAC alg", []Option{WithSigningKey(ecKey, "HS256")}, "asymmetric algorithm"},
		{"unknown alg", []Option{WithSigningKey(ecKey, "ES999")}, "asymmetric algorithm"},
		{"two key sources", []Option{WithSigningKey(ecKey, "ES256"), WithHMACKey(testSecret)}, "one of"},
		{"contradicting WithAlgorithm", []Option{WithSigningKey(ecKey, "ES256"), WithAlgorithm("RS256")}, "contradicts"},
		{"two previous HMAC keys without kid", []Option{WithHMACKey(testSecret), WithKeyID("k3"), WithPreviousKey([]byte(strings.Repeat("x", 32)), "HS256", "", time.Now().Add(time.Hour)), WithPreviousKey([]byte(strings.Repeat("y", 32)), "HS256", "", time.Now().Add(time.Hour))}, "two keys without a kid"},
		{"two previous keys without kid, other algs", []Option{WithHMACKey(longSecret), WithKeyID("k3"), WithPreviousKey([]byte(strings.Repeat("x", 32)), "HS256", "", time.Now().Add(time.Hour)), WithPreviousKey([]byte(strings.Repeat("y", 64)), "HS512", "", time.Now().Add(time.Hour))}, "two keys without a kid"},
		{"previous key without kid, HMAC signer without kid", []Option{WithHMACKey(testSecret), WithPreviousKey([]byte(strings.Repeat("x", 32)), "HS256", "", time.Now().Add(time.Hour))}, "needs a kid (WithKeyID)"},
		{"previous keys, HMAC signer without kid", []Option{WithHMACKey(testSecret), WithPreviousKey([]byte(strings.Repeat("x", 32)), "HS256", "k1", time.Now().Add(time.Hour))}, "needs a kid (WithKeyID)"},
		{"duplicate kid", []Option{WithSigningKey(ecKey, "ES256"), WithKeyID("k"), WithPreviousKey(&ecKey2.PublicKey, "ES256", "k", time.Now().Add(time.Hour))}, "share the kid"},
		{"previous key without end", []Option{WithSigningKey(ecKey, "ES256"), WithPreviousKey(&ecKey2.PublicKey, "ES256", "", time.Time{})}, "end of validity"},
		{"previous HMAC key too short", []Option{WithHMACKey(testSecret), WithKeyID("k2"), WithPreviousKey([]byte("short"), "HS256", "k1", time.Now().Add(time.Hour))}, "jwtpair: previous key: HMAC key is 5 bytes, want at least 32 for HS256"},
		{"previous key, weak RSA", []Option{WithSigningKey(rsaKey, "RS256"), WithPreviousKey(&weakRSA.PublicKey, "RS256", "old", time.Now().Add(time.Hour))}, "jwtpair: previous key: RSA key is 1024 bits, want at least 2048"},
		{"previous key, unknown alg", []Option{WithSigningKey(ecKey, "ES256"), WithPreviousKey(&ecKey2.PublicKey, "XX256", "old", time.Now().Add(time.Hour))}, `jwtpair: previous key: unknown algorithm "XX256"`},
		{"HMAC key, unknown alg", []Option{WithHMACKey(testSecret), WithAlgorithm("HS999")}, `jwtpair: algorithm "HS999" is not an HMAC algorithm`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(append([]Option{users}, tc.opts...)...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			// Each problem on a line of its own, prefixed once (issue 11:
			// a previous key's errors read "previous key: jwtpair: …").
			for _, line := range strings.Split(err.Error(), "\n") {
				assert.True(t, strings.HasPrefix(line, "jwtpair: "), "%q", line)
				assert.Equal(t, 1, strings.Count(line, "jwtpair:"), "%q", line)
			}
		})
	}
	t.Run("PKCS#8 PEM", func(t *testing.T) {
		for alg, k := range map[string]any{"ES256": ecKey, "RS256": rsaKey, "EdDSA": edKey} {
			a, err := New(users, WithSigningKey(pkcs8(k), alg))
			require.NoError(t, err, alg)
			login(t, a)
		}
	})
}

// TestKeyLimits: the documented limits are the ones internal/jws
// enforces: MinHMACKeyBytes, and the 2048-bit RSA floor WithSigningKey's
// doc states.
func TestKeyLimits(t *testing.T) {
	assert.Equal(t, jws.MinHMACKeyBytes, MinHMACKeyBytes)
	assert.Equal(t, 2048, jws.MinRSABits)
}

// TestKeyRotation: after a rotation, tokens of the previous key verify by
// their kid until the key's end of validity; unknown kids never verify.
func TestKeyRotation(t *testing.T) {
	testKeys(t)
	old, err := New(WithSigningKey(ecKey, "ES256"), WithAuthenticator(newTestUsers()))
	require.NoError(t, err)
	oldPair := login(t, old)

	clk := newFakeClock()
	until := clk.Now().Add(time.Hour)
	cur, err := New(WithSigningKey(ecKey2, "ES256"), WithPreviousKey(pemPublic(t, &ecKey.PublicKey), "ES256", "", until),
		WithAuthenticator(newTestUsers()), WithClock(clk.Now), WithAccessTTL(24*time.Hour), WithRefreshTTL(48*time.Hour))
	require.NoError(t, err)
	newPair := login(t, cur)
	mw := cur.Middleware(hello)

	// Tokens minted by the old instance at real time: re-mint them at the fake time.
	tok := handSign(t, "ES256", ecKey, `{"alg":"ES256","kid":"`+mustThumb(t, &ecKey.PublicKey)+`","typ":"JWT"}`, claimsJSON(t, accessClaims(clk)))
	assert.Equal(t, http.StatusOK, serveWithHeader(mw, "Authorization", "Bearer "+tok).Code, "previous key, by kid")
	assert.Equal(t, http.StatusOK, serveWithHeader(mw, "Authorization", "Bearer "+newPair.Access).Code, "current key")
	_ = oldPair

	noKid := handSign(t, "ES256", ecKey, `{"alg":"ES256","typ":"JWT"}`, claimsJSON(t, accessClaims(clk)))
	assert.Equal(t, http.StatusUnauthorized, serveWithHeader(mw, "Authorization", "Bearer "+noKid).Code, "with two keys, a token must name its key")
	unknown := handSign(t, "ES256", ecKey, `{"alg":"ES256","kid":"no-such-key","typ":"JWT"}`, claimsJSON(t, accessClaims(clk)))
	assert.Equal(t, http.StatusUnauthorized, serveWithHeader(mw, "Authorization", "Bearer "+unknown).Code)
	wrongKey := handSign(t, "ES256", attackerEC, `{"alg":"ES256","kid":"`+mustThumb(t, &ecKey.PublicKey)+`","typ":"JWT"}`, claimsJSON(t, accessClaims(clk)))
	assert.Equal(t, http.StatusUnauthorized, serveWithHeader(mw, "Authorization", "Bearer "+wrongKey).Code, "a kid does not lend its trust to another key")

	clk.Advance(time.Hour)
	tok = handSign(t, "ES256", ecKey, `{"alg":"ES256","kid":"`+mustThumb(t, &ecKey.PublicKey)+`","typ":"JWT"}`, claimsJSON(t, accessClaims(clk)))
	assert.Equal(t, http.StatusUnauthorized, serveWithHeader(mw, "Authorization", "Bearer "+tok).Code, "previous key past its end")
	assert.Equal(t, http.StatusOK, serveWithHeader(mw, "Authorization", "Bearer "+newPair.Access).Code)
}

func TestHMACKeyRotation(t *testing.T) {
	oldSecret := []byte(strings.Repeat("o", 32))
	clk := newFakeClock()
	a, err := New(WithHMACKey(testSecret), WithKeyID("2026-11"), WithPreviousKey(oldSecret, "HS256", "2026-10", clk.Now().Add(time.Hour)),
		WithAuthenticator(newTestUsers()), WithClock(clk.Now))
	require.NoError(t, err)
	mw := a.Middleware(hello)
	old := handTokenHS256(t, oldSecret, `{"alg":"HS256","kid":"2026-10","typ":"JWT"}`, claimsJSON(t, accessClaims(clk)))
	assert.Equal(t, http.StatusOK, serveWithHeader(mw, "Authorization", "Bearer "+old).Code)
	p := login(t, a)
	assert.Equal(t, http.StatusOK, serveWithHeader(mw, "Authorization", "Bearer "+p.Access).Code)
	noKid := handTokenHS256(t, oldSecret, simplejwtHeader, claimsJSON(t, accessClaims(clk)))
	assert.Equal(t, http.StatusUnauthorized, serveWithHeader(mw, "Authorization", "Bearer "+noKid).Code)
}

// TestHMACRotationFromDefaultKeepsSessions (issue 10, finding 7): a
// deployment on the default setup (WithHMACKey alone: tokens without kid)
// moves to a new key with a kid and keeps the old one, kid-less, as a
// previous key. Access and refresh tokens the old Auth minted keep working
// on the new one, refresh included (the stamp, keyed with the old secret,
// too), until the previous key's end; then they stop. A kid-less token still
// needs the old key's alg, and the new key's tokens name theirs.
func TestHMACRotationFromDefaultKeepsSessions(t *testing.T) {
	oldSecret, newSecret := testSecret, []byte(strings.Repeat("n", 32))
	clk := newFakeClock()
	store := NewMemoryStore(WithMemoryClock(clk.Now))
	users := newTestUsers()
	users.stamps["1"] = "pw-1"
	common := []Option{WithAuthenticator(loaderUsers{users}), WithStore(store), WithClock(clk.Now), WithLogger(quietLogger)}
	before, err := New(append([]Option{WithHMACKey(oldSecret)}, common...)...)
	require.NoError(t, err)
	first, second := login(t, before), login(t, before)
	assert.Equal(t, simplejwtHeader, headerOf(t, first.Access), "the default setup signs without kid")

	until := clk.Now().Add(time.Hour)
	after, err := New(append([]Option{WithHMACKey(newSecret), WithKeyID("k2"), WithPreviousKey(oldSecret, "HS256", "", until), WithUserCheck()}, common...)...)
	require.NoError(t, err)
	mw := after.Middleware(hello)

	w := serveWithHeader(mw, "Authorization", "Bearer "+first.Access)
	assert.Equal(t, http.StatusOK, w.Code, "an old access token, stamp checked: %s", w.Body.String())
	w = postJSON(t, after.RefreshHandler(), refreshBody(first.Refresh))
	require.Equal(t, http.StatusOK, w.Code, "an old refresh token refreshes: %s", w.Body.String())
	var next Pair
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &next))
	assert.Equal(t, `{"alg":"HS256","kid":"k2","typ":"JWT"}`, headerOf(t, next.Access))
	assert.Equal(t, http.StatusOK, serveWithHeader(mw, "Authorization", "Bearer "+next.Access).Code)

	claims := claimsJSON(t, accessClaims(clk))
	_, err = after.VerifyAccess(t.Context(), handTokenHS256(t, oldSecret, `{"typ":"JWT","alg":"HS256"}`, claims))
	assert.NoError(t, err, "control: a kid-less token of the old key, in another header order")
	_, err = after.VerifyAccess(t.Context(), handTokenHS256(t, oldSecret, `{"typ":"JWT","alg":"HS512"}`, claims))
	assert.ErrorIs(t, err, ErrTokenInvalid, "the kid-less key keeps its alg")
	_, err = after.VerifyAccess(t.Context(), handTokenHS256(t, newSecret, simplejwtHeader, claims))
	assert.ErrorIs(t, err, ErrTokenInvalid, "a kid-less token is the old key's, not the new one's")

	clk.Advance(time.Hour) // the previous key's end
	w = serveWithHeader(mw, "Authorization", "Bearer "+handTokenHS256(t, oldSecret, simplejwtHeader, claimsJSON(t, accessClaims(clk))))
	assert.Equal(t, http.StatusUnauthorized, w.Code, "old key past its end")
	w = postJSON(t, after.RefreshHandler(), refreshBody(second.Refresh))
	assert.Equal(t, http.StatusUnauthorized, w.Code, "an old refresh token past the old key's end")
	assert.JSONEq(t, `{"detail":"Token is invalid","code":"token_not_valid"}`, w.Body.String())
	w = postJSON(t, after.RefreshHandler(), refreshBody(next.Refresh))
	assert.Equal(t, http.StatusOK, w.Code, "the session moved to the new key lives on: %s", w.Body.String())
}

// TestPublicKeyIsNoHMACSecret (issue 10, finding 10): bytes that parse as a
// public key or certificate, in any of the forms they are published in,
// are refused as an HMAC secret (WithHMACKey, WithPreviousKey) and as the
// server secret: with a public key as the secret, whoever has the key can
// sign HS256 tokens. The same bytes as an asymmetric key work (control), as
// do random bytes and a private key's PEM as the server secret.
func TestPublicKeyIsNoHMACSecret(t *testing.T) {
	testKeys(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<32, 0)}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ecKey.PublicKey, ecKey)
	require.NoError(t, err)
	pkcs1 := x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)
	jwkOf := func(pub any) []byte {
		k, err := jwk.Import(pub)
		require.NoError(t, err)
		b, err := json.Marshal(k)
		require.NoError(t, err)
		return b
	}
	jwkSet, err := New(WithSigningKey(ecKey, "ES256"), WithAuthenticator(newTestUsers()))
	require.NoError(t, err)
	published := map[string][]byte{
		"PEM RSA":            pemPublic(t, &rsaKey.PublicKey),
		"PEM EC":             pemPublic(t, &ecKey.PublicKey),
		"PEM Ed25519":        pemPublic(t, edKey.Public()),
		"PEM after text":     append([]byte("our public key:\n"), pemPublic(t, &ecKey.PublicKey)...),
		"PEM RSA PUBLIC KEY": pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: pkcs1}),
		"PEM certificate":    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER}),
		"DER PKIX":           derPublic(t, &rsaKey.PublicKey),
		"DER PKCS#1":         pkcs1,
		"DER certificate":    certDER,
		"base64 DER":         []byte(base64.StdEncoding.EncodeToString(derPublic(t, &ecKey.PublicKey))),
		"JWK":                jwkOf(&ecKey.PublicKey),
		"JWK Set":            jwkSet.keys().jwks,
	}
	users := WithAuthenticator(newTestUsers())
	for name, b := range published {
		t.Run(name, func(t *testing.T) {
			require.GreaterOrEqual(t, len(b), MinHMACKeyBytes, "long enough to pass the length rule")
			for _, opts := range [][]Option{
				{WithHMACKey(b)},
				{WithHMACKey(testSecret), WithKeyID("k2"), WithPreviousKey(b, "HS256", "k1", time.Now().Add(time.Hour))},
				{WithHMACKey(testSecret), WithServerSecret(b)},
			} {
				_, err := New(append(opts, users)...)
				require.Error(t, err)
				assert.Contains(t, err.Error(), "is a public key")
				assert.Contains(t, err.Error(), "algorithm confusion")
			}
		})
	}
	t.Run("controls", func(t *testing.T) {
		_, err := New(users, WithSigningKey(ecKey2, "ES256"), WithKeyID("k2"), WithPreviousKey(published["PEM EC"], "ES256", "k1", time.Now().Add(time.Hour)))
		assert.NoError(t, err, "a public key as a previous asymmetric key")
		_, err = New(users, WithHMACKey(testSecret), WithServerSecret(pkcs8PEM(t, ecKey)))
		assert.NoError(t, err, "a private key's PEM is secret")
		_, err = New(users, WithHMACKey(bytes.Repeat([]byte{0x30}, 64)))
		assert.NoError(t, err, "bytes that only look like DER")
	})
}

// cryptoSignerOnly hides the concrete key type, as an HSM or KMS signer would.
type cryptoSignerOnly struct{ crypto.Signer }

// headerOf decodes a token's JOSE header.
func headerOf(t *testing.T, tok string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	require.NoError(t, err)
	return string(raw)
}

func pkcs8PEM(t *testing.T, k any) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func mustThumb(t *testing.T, pub any) string {
	kid, err := jws.Thumbprint(pub)
	require.NoError(t, err)
	return kid
}
