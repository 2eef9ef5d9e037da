package jwtpair

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
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
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lestrrat-go/jwx/v3/jwk"

	forgepkg "github.com/jwtpair/jwtpair/internal/forge"
	"github.com/jwtpair/jwtpair/internal/jws"
)

// Test keys, generated once per test binary.
var (
	keysOnce                  sync.Once
	rsaKey, rsaKey2           *rsa.PrivateKey
	ecKey, ecKey2, attackerEC *ecdsa.PrivateKey
	edKey, edKey2             ed25519.PrivateKey
	weakRSA                   *rsa.PrivateKey
	ec384Key                  *ecdsa.PrivateKey
)

func testKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		must := func(e error) {
			if e != nil {
				panic(e)
			}
		}
		rsaKey, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		rsaKey2, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		weakRSA, err = rsa.GenerateKey(rand.Reader, 1024)
		must(err)
		ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		ecKey2, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		attackerEC, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		ec384Key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		must(err)
		_, edKey, err = ed25519.GenerateKey(rand.Reader)
		must(err)
		_, edKey2, err = ed25519.GenerateKey(rand.Reader)
		must(err)
	})
}

// handSign builds a compact JWS by hand (internal/forge: the standard
// library only): header and payload are raw JSON text, alg picks the
// primitive (independent of the header's alg, so that lies can be told).
func handSign(t testing.TB, alg string, key any, header, payload string) string {
	t.Helper()
	tok, err := forgepkg.Sign(alg, key, header, payload)
	require.NoError(t, err)
	return tok
}

// mode is one signing configuration the hostile tokens are tried against.
type mode struct {
	alg    string
	key    any    // what handSign signs with to forge a *valid* token
	public any    // the public key (nil for HMAC)
	kid    string // the kid our tokens carry ("" for HMAC)
	opts   []Option
	// lies are header algs a token signed with key (by the configured
	// algorithm's primitive) may claim: a verifier that does not pin the
	// algorithm accepts them, as the kid (or the only key) picks the key.
	lies []string
}

func modes(t *testing.T) []mode {
	testKeys(t)
	kidOf := func(pub any) string {
		kid, err := jws.Thumbprint(pub)
		require.NoError(t, err)
		return kid
	}
	return []mode{
		{alg: "HS256", key: testSecret, opts: []Option{WithHMACKey(testSecret)}, lies: []string{"HS512", "hs256"}},
		{alg: "RS256", key: rsaKey, public: &rsaKey.PublicKey, kid: kidOf(&rsaKey.PublicKey), opts: []Option{WithSigningKey(rsaKey, "RS256")}, lies: []string{"RS512", "PS256"}},
		{alg: "ES256", key: ecKey, public: &ecKey.PublicKey, kid: kidOf(&ecKey.PublicKey), opts: []Option{WithSigningKey(ecKey, "ES256")}, lies: []string{"ES384", "es256"}},
		{alg: "EdDSA", key: edKey, public: edKey.Public(), kid: kidOf(edKey.Public()), opts: []Option{WithSigningKey(edKey, "EdDSA")}, lies: []string{"Ed25519", "EdDSA "}},
	}
}

func (m mode) header(extra string) string { return m.headerAlg(m.alg, extra) }

// headerAlg is our header (with our kid) claiming alg.
func (m mode) headerAlg(alg, extra string) string {
	h := `{"alg":"` + alg + `"`
	if m.kid != "" {
		h += `,"kid":"` + m.kid + `"`
	}
	return h + `,"typ":"JWT"` + extra + `}`
}

func (m mode) newAuth(t *testing.T, extra ...Option) (*Auth, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	opts := append([]Option{WithAuthenticator(newTestUsers()), WithClock(clk.Now), WithLogger(quietLogger)}, m.opts...)
	a, err := New(append(opts, extra...)...)
	require.NoError(t, err)
	return a, clk
}

// pemPublic and derPublic are the public key as an attacker would find it.
func derPublic(t *testing.T, pub any) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	return der
}

func pemPublic(t *testing.T, pub any) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: derPublic(t, pub)})
}

// countingServer counts requests, to prove nothing is fetched.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusNotFound)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
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
			{name: "missing exp", tok: forge(m.header(""), func(c map[string]any) { delete(c, "exp") })},
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
			{name: "missing token_type", tok: forge(m.header(""), func(c map[string]any) { delete(c, "token_type") })},
			{name: "unknown token_type", tok: forge(m.header(""), func(c map[string]any) { c["token_type"] = "id" }), msg: "Token has wrong type"},
			{name: "missing user_id", tok: forge(m.header(""), func(c map[string]any) { delete(c, "user_id") })},
			{name: "non-base64url characters", tok: parts[0] + "." + parts[1] + "*." + parts[2]},
			{name: "base64 padding", tok: parts[0] + "=." + parts[1] + "." + parts[2]},
			{name: "standard alphabet", tok: strings.NewReplacer("-", "+", "_", "/").Replace(parts[0]+"."+parts[1]+"."+parts[2]) + "+/"},
			{name: "whitespace inside", tok: parts[0] + ". " + parts[1] + "." + parts[2], body: true},
			{name: "tab inside", tok: parts[0] + "." + parts[1] + "\t." + parts[2], body: true},
			{name: "trailing newline", tok: valid + "\n", body: true},
			// base64 decoders skip CR and LF: signed over, only the
			// alphabet check refuses these.
			{name: "newline inside, signed over", tok: signedInput(parts[0] + ".\n" + parts[1]), body: true},
			{name: "carriage return inside, signed over", tok: signedInput(parts[0] + "\r." + parts[1]), body: true},
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
					assert.JSONEq(t, `{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"`+msg+`"}]}`, w.Body.String())
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

// cryptoSignerOnly hides the concrete key type, as an HSM or KMS signer would.
type cryptoSignerOnly struct{ crypto.Signer }

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
		{"Ed25519 key for RS256", []Option{WithSigningKey(edKey, "RS256")}, "cannot be used"},
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
// enforces.
func TestKeyLimits(t *testing.T) {
	assert.Equal(t, jws.MinHMACKeyBytes, MinHMACKeyBytes)
	assert.Equal(t, jws.MinRSABits, MinRSABits)
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

// headerOf decodes a token's JOSE header.
func headerOf(t *testing.T, tok string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	require.NoError(t, err)
	return string(raw)
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
		_, err := New(users, WithSigningKey(ecKey, "ES256"), WithKeyID("k2"), WithPreviousKey(published["PEM EC"], "ES256", "k1", time.Now().Add(time.Hour)))
		assert.NoError(t, err, "a public key as a previous asymmetric key")
		_, err = New(users, WithHMACKey(testSecret), WithServerSecret(pkcs8PEM(t, ecKey)))
		assert.NoError(t, err, "a private key's PEM is secret")
		_, err = New(users, WithHMACKey(bytes.Repeat([]byte{0x30}, 64)))
		assert.NoError(t, err, "bytes that only look like DER")
	})
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

func TestJWKSHandler(t *testing.T) {
	testKeys(t)
	a, err := New(WithSigningKey(rsaKey, "RS256"), WithPreviousKey(&rsaKey2.PublicKey, "RS256", "", time.Now().Add(time.Hour)), WithAuthenticator(newTestUsers()))
	require.NoError(t, err)
	w := httptest.NewRecorder()
	a.JWKSHandler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil))
	require.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "application/jwk-set+json", w.Header().Get("Content-Type"))
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &set))
	require.Len(t, set.Keys, 2)
	kids := []string{}
	for _, k := range set.Keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k", "oth"} {
			assert.NotContains(t, k, private, "private member %q published", private)
		}
		assert.Equal(t, "RSA", k["kty"])
		assert.Equal(t, "RS256", k["alg"])
		assert.Equal(t, "sig", k["use"])
		kids = append(kids, k["kid"].(string))
	}
	assert.ElementsMatch(t, []string{mustThumb(t, &rsaKey.PublicKey), mustThumb(t, &rsaKey2.PublicKey)}, kids)

	w = httptest.NewRecorder()
	a.JWKSHandler().ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", nil))
	assert.Equal(t, http.StatusMethodNotAllowed, w.Code)

	h, _ := newTestAuth(t)
	w = httptest.NewRecorder()
	h.JWKSHandler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.Equal(t, http.StatusNotFound, w.Code, "an HMAC secret is never published")
}

// jwksServer serves an issuer's JWKS (swappable) and counts fetches.
type jwksServer struct {
	*httptest.Server
	body    atomic.Pointer[[]byte]
	fetches atomic.Int32
}

func newJWKSServer(t *testing.T, issuer *Auth) *jwksServer {
	s := &jwksServer{}
	s.serve(issuer)
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) handle(w http.ResponseWriter, _ *http.Request) {
	s.fetches.Add(1)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(*s.body.Load())
}

func (s *jwksServer) serve(issuer *Auth) {
	b := issuer.keys().jwks
	s.body.Store(&b)
}

// newJWKSConsumer returns an ES256 issuer, the server publishing its key
// set, and a resource server (rs) verifying with that key set only.
func newJWKSConsumer(t *testing.T) (issuer *Auth, srv *jwksServer, rs *Auth) {
	t.Helper()
	testKeys(t)
	issuer, err := New(WithSigningKey(ecKey, "ES256"), WithAuthenticator(newTestUsers()))
	require.NoError(t, err)
	srv = newJWKSServer(t, issuer)
	rs, err = New(WithJWKSURL(srv.URL+"/.well-known/jwks.json"), WithAlgorithm("ES256"), WithLogger(quietLogger))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, rs.Close()); require.NoError(t, rs.Close()) })
	return issuer, srv, rs
}

func TestJWKSConsumer(t *testing.T) {
	issuer, srv, rs := newJWKSConsumer(t)
	mw := rs.Middleware(hello)

	p := login(t, issuer)
	w := serveWithHeader(mw, "Authorization", "Bearer "+p.Access)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.JSONEq(t, `{"user_id":"1","claims":null}`, w.Body.String())

	t.Run("resource server cannot issue", func(t *testing.T) {
		_, err := rs.IssuePair(t.Context(), User{ID: "1"})
		assert.ErrorIs(t, err, ErrVerifyOnly)
	})

	t.Run("unknown kid: at most one refetch", func(t *testing.T) {
		before := srv.fetches.Load()
		for range 20 {
			tok := handSign(t, "ES256", attackerEC, `{"alg":"ES256","kid":"unknown-kid","typ":"JWT"}`, claimsJSON(t, accessClaims(newFakeClock())))
			assert.Equal(t, http.StatusUnauthorized, serveWithHeader(mw, "Authorization", "Bearer "+tok).Code)
		}
		assert.LessOrEqual(t, srv.fetches.Load()-before, int32(1))
	})

	// Key URLs inside a token are never fetched: not with the attacker's key
	// and kid (whose key only that URL could supply), nor with the issuer's
	// own key and kid (the same token without the member passes): zero
	// requests reach the URL.
	issuerKid := mustThumb(t, &ecKey.PublicKey)
	realTime := claimsJSON(t, accessClaims(&fakeClock{t: time.Now()})) // rs runs on the real clock
	for _, signer := range []struct {
		name string
		key  *ecdsa.PrivateKey
		kid  string
	}{{"attacker's key", attackerEC, "attacker"}, {"issuer's key", ecKey, issuerKid}} {
		header := `{"alg":"ES256","kid":"` + signer.kid + `","typ":"JWT"`
		if signer.key == ecKey {
			t.Run("control: the issuer's key without a key URL passes", func(t *testing.T) {
				tok := handSign(t, "ES256", ecKey, header+`}`, realTime)
				assert.Equal(t, http.StatusOK, serveWithHeader(mw, "Authorization", "Bearer "+tok).Code)
			})
		}
		for _, member := range []string{"jku", "x5u"} {
			t.Run(member+" in a token is never followed, "+signer.name, func(t *testing.T) {
				evil, evilFetches := countingServer(t)
				tok := handSign(t, "ES256", signer.key, header+`,"`+member+`":"`+evil.URL+`/k"}`, realTime)
				w := serveWithHeader(mw, "Authorization", "Bearer "+tok)
				assert.Equal(t, http.StatusUnauthorized, w.Code)
				assert.JSONEq(t, `{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is invalid"}]}`, w.Body.String())
				assert.Zero(t, evilFetches.Load(), "fetched the %s URL", member)
			})
		}
	}
}

func TestJWKSConsumerFollowsRotation(t *testing.T) {
	_, srv, rs := newJWKSConsumer(t)

	// The issuer rotates: the new key is published, tokens name it.
	rotated, err := New(WithSigningKey(ecKey2, "ES256"), WithPreviousKey(&ecKey.PublicKey, "ES256", "", time.Now().Add(time.Hour)), WithAuthenticator(newTestUsers()))
	require.NoError(t, err)
	srv.serve(rotated)
	p := login(t, rotated)
	w := serveWithHeader(rs.Middleware(hello), "Authorization", "Bearer "+p.Access)
	assert.Equal(t, http.StatusOK, w.Code, "an unknown kid refetches the set once and finds the new key")
}

func TestJWKSConsumerOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
		want string
	}{
		{"relative URL", []Option{WithJWKSURL("/jwks.json"), WithAlgorithm("ES256")}, "bad JWKS URL"},
		{"file URL", []Option{WithJWKSURL("file:///etc/passwd"), WithAlgorithm("ES256")}, "bad JWKS URL"},
		{"no algorithm", []Option{WithJWKSURL("https://issuer.example/jwks.json")}, "needs WithAlgorithm"},
		{"HMAC algorithm", []Option{WithJWKSURL("https://issuer.example/jwks.json"), WithAlgorithm("HS256")}, "asymmetric"},
		{"and a key", []Option{WithJWKSURL("https://issuer.example/jwks.json"), WithAlgorithm("ES256"), WithHMACKey(testSecret)}, "one of"},
		{"refresh too often", []Option{WithJWKSURL("https://issuer.example/jwks.json"), WithAlgorithm("ES256"), WithJWKSRefresh(time.Millisecond)}, "under a second"},
		{"client without URL", []Option{WithJWKSHTTPClient(http.DefaultClient), WithAlgorithm("ES256")}, "without WithJWKSURL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestJWKSUnreachableAtStart: a resource server whose JWKS is down at start
// comes up (with the default logger), refuses tokens, and is closed cleanly.
func TestJWKSUnreachableAtStart(t *testing.T) {
	srv, fetches := countingServer(t) // answers 404 to everything
	rs, err := New(WithJWKSURL(srv.URL+"/jwks.json"), WithAlgorithm("EdDSA"))
	require.NoError(t, err)
	defer rs.Close()
	testKeys(t)
	tok := handSign(t, "EdDSA", edKey, `{"alg":"EdDSA","kid":"k","typ":"JWT"}`, claimsJSON(t, accessClaims(newFakeClock())))
	assert.Equal(t, http.StatusUnauthorized, serveWithHeader(rs.Middleware(hello), "Authorization", "Bearer "+tok).Code)
	assert.Positive(t, fetches.Load())
}
