package jws

import (
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
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair/internal/forge"
)

var secret = []byte("0123456789abcdef0123456789abcdef-test-secret")

// Test keys, generated once per test binary.
var (
	keysOnce             sync.Once
	rsaKey, weakRSA      *rsa.PrivateKey
	ecKey, ecKey2, ec384 *ecdsa.PrivateKey
	ec521                *ecdsa.PrivateKey
	edKey                ed25519.PrivateKey
)

func testKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		must := func(err error) {
			if err != nil {
				panic(err)
			}
		}
		var err error
		rsaKey, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		weakRSA, err = rsa.GenerateKey(rand.Reader, 1024)
		must(err)
		ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		ecKey2, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		ec384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		must(err)
		ec521, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
		must(err)
		_, edKey, err = ed25519.GenerateKey(rand.Reader)
		must(err)
	})
}

// forged is a token signed by internal/forge (the standard library), not
// by this package.
func forged(t *testing.T, alg string, key any, header string) Compact {
	t.Helper()
	tok, err := forge.Sign(alg, key, header, `{"sub":"1"}`)
	require.NoError(t, err)
	c, ok := Split(tok)
	require.True(t, ok)
	return c
}

// signed splits a token k signed.
func signed(t *testing.T, k *Key, payload string) Compact {
	t.Helper()
	tok, err := k.Sign([]byte(payload))
	require.NoError(t, err)
	c, ok := Split(string(tok))
	require.True(t, ok, "%s", tok)
	return c
}

func pemOf(t *testing.T, typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestHMACKey(t *testing.T) {
	k, err := NewHMACKey("HS256", secret, "")
	require.NoError(t, err)
	assert.Equal(t, "HS256", k.Alg())
	assert.Equal(t, "", k.KID())
	assert.True(t, k.CanSign())
	assert.True(t, k.NotAfter().IsZero())

	good := forged(t, "HS256", secret, `{"alg":"HS256","typ":"JWT"}`)
	assert.True(t, k.VerifyCompact(good), "a token the standard library signed")
	assert.Equal(t, enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)), k.Header())
	mine := signed(t, k, `{"a":1}`)
	assert.Equal(t, k.Header(), mine.Header)
	assert.True(t, k.VerifyCompact(mine))
	ref, err := forge.SignInput("HS256", secret, mine.SigningInput)
	require.NoError(t, err)
	assert.Equal(t, enc.EncodeToString(ref), mine.Signature, "plain HMAC-SHA256, as PyJWT computes it")

	for name, c := range map[string]Compact{
		"other key":          forged(t, "HS256", []byte(strings.Repeat("o", 32)), `{"alg":"HS256","typ":"JWT"}`),
		"other payload":      {Header: good.Header, Payload: "e30", Signature: good.Signature, SigningInput: good.Header + ".e30"},
		"truncated":          {Signature: good.Signature[:20], SigningInput: good.SigningInput},
		"empty signature":    {SigningInput: good.SigningInput},
		"stray bits":         {Signature: good.Signature[:len(good.Signature)-1] + "B", SigningInput: good.SigningInput},
		"HS512 same secret":  {Signature: enc.EncodeToString(make([]byte, 64)), SigningInput: good.SigningInput},
		"signature too long": {Signature: strings.Repeat("A", 2000), SigningInput: good.SigningInput},
	} {
		assert.False(t, k.VerifyCompact(c), name)
	}
	if !raceEnabled { // sync.Pool drops items at random under -race
		allocs := testing.AllocsPerRun(100, func() { k.VerifyCompact(good) })
		assert.Zero(t, allocs, "pooled MAC states")
	}

	t.Run("lengths", func(t *testing.T) {
		for alg, n := range map[string]int{"HS256": 32, "HS384": 48, "HS512": 64} {
			_, err := NewHMACKey(alg, make([]byte, n-1), "")
			assert.EqualError(t, err, "HMAC key is "+itoa(n-1)+" bytes, want at least "+itoa(n)+" for "+alg+" (RFC 7518 §3.2); make a random one with: openssl rand -base64 48")
			k, err := NewHMACKey(alg, []byte(strings.Repeat("k", n)), "kid")
			require.NoError(t, err, alg)
			assert.True(t, k.VerifyCompact(signed(t, k, `{}`)), alg)
		}
		_, err := NewHMACKey("HS256", nil, "")
		assert.EqualError(t, err, "HMAC key is 0 bytes (unset?), want at least 32 for HS256 (RFC 7518 §3.2); make a random one with: openssl rand -base64 48")
		// The hint's command makes a secret every HMAC algorithm accepts.
		hinted := []byte(base64.StdEncoding.EncodeToString(make([]byte, 48)))
		assert.Len(t, hinted, 64)
		_, err = NewHMACKey("HS512", hinted, "")
		assert.NoError(t, err)
	})
	t.Run("not HMAC", func(t *testing.T) {
		for _, alg := range []string{"RS256", "hs256", "none", ""} {
			_, err := NewHMACKey(alg, secret, "")
			assert.ErrorContains(t, err, "is not an HMAC algorithm", alg)
		}
	})
	t.Run("the secret is copied", func(t *testing.T) {
		s := append([]byte(nil), secret...)
		k, err := NewHMACKey("HS256", s, "")
		require.NoError(t, err)
		clear(s)
		assert.True(t, k.VerifyCompact(good))
	})
}

func itoa(n int) string { return big.NewInt(int64(n)).String() }

func TestAsymmetricKey(t *testing.T) {
	testKeys(t)
	for alg, key := range map[string]crypto.Signer{
		"RS256": rsaKey, "RS384": rsaKey, "RS512": rsaKey, "PS256": rsaKey, "PS384": rsaKey, "PS512": rsaKey,
		"ES256": ecKey, "ES384": ec384, "ES512": ec521, "EdDSA": edKey,
	} {
		t.Run(alg, func(t *testing.T) {
			k, err := NewAsymmetricKey(alg, key, "")
			require.NoError(t, err)
			kid, err := Thumbprint(key.Public())
			require.NoError(t, err)
			assert.Equal(t, kid, k.KID(), "kid defaults to the thumbprint")
			assert.True(t, k.CanSign())
			c := signed(t, k, `{"a":1}`)
			assert.True(t, k.VerifyCompact(c))
			pub, err := NewAsymmetricKey(alg, key.Public(), "k")
			require.NoError(t, err)
			assert.False(t, pub.CanSign(), "a public key only verifies")
			assert.True(t, pub.VerifyCompact(c))
			_, err = pub.Sign([]byte(`{}`))
			assert.Error(t, err)
			opaque, err := NewAsymmetricKey(alg, struct{ crypto.Signer }{key}, "k")
			require.NoError(t, err, "an HSM or KMS signer")
			assert.True(t, pub.VerifyCompact(signed(t, opaque, `{}`)))
			tampered := c
			tampered.SigningInput += "x"
			assert.False(t, k.VerifyCompact(tampered))
		})
	}
	t.Run("tokens signed elsewhere", func(t *testing.T) {
		for alg, key := range map[string]crypto.Signer{"RS256": rsaKey, "ES256": ecKey, "EdDSA": edKey} {
			k, err := NewAsymmetricKey(alg, key.Public(), "k")
			require.NoError(t, err)
			assert.True(t, k.VerifyCompact(forged(t, alg, key, `{"alg":"`+alg+`"}`)), alg)
		}
	})
	t.Run("ECDSA signatures: r = s = 0, wrong size", func(t *testing.T) {
		k, err := NewAsymmetricKey("ES256", &ecKey.PublicKey, "k")
		require.NoError(t, err)
		c := forged(t, "ES256", ecKey, `{"alg":"ES256"}`)
		sig, err := base64.RawURLEncoding.DecodeString(c.Signature)
		require.NoError(t, err)
		for name, s := range map[string][]byte{"zero": make([]byte, 64), "short": sig[:63], "long": append(sig, 0), "DER-like": append([]byte{0x30}, sig...)} {
			bad := c
			bad.Signature = enc.EncodeToString(s)
			assert.False(t, k.VerifyCompact(bad), name)
		}
	})
	t.Run("refused", func(t *testing.T) {
		for name, tc := range map[string]struct {
			alg  string
			key  any
			want string
		}{
			"weak RSA":            {"RS256", weakRSA, "RSA key is 1024 bits, want at least 2048"},
			"RSA for ES256":       {"ES256", rsaKey, "an RSA key cannot be used with ES256, which needs an EC key on P-256; an RSA key fits RS256, RS384, RS512, PS256, PS384, PS512"},
			"P-384 for ES256":     {"ES256", ec384, "an EC P-384 key cannot be used with ES256, which needs an EC key on P-256; an EC P-384 key fits ES384"},
			"Ed25519 for RS256":   {"RS256", edKey, "an Ed25519 key cannot be used with RS256, which needs an RSA key of at least 2048 bits; an Ed25519 key fits EdDSA"},
			"EC for EdDSA":        {"EdDSA", ecKey, "an EC P-256 key cannot be used with EdDSA, which needs an Ed25519 key; an EC P-256 key fits ES256"},
			"a file name":         {"EdDSA", "key.pem", "a string key cannot be used with EdDSA (a file name is not read): pass the key's PEM bytes, as os.ReadFile(name) returns them, a crypto.Signer (ed25519.PrivateKey, *ecdsa.PrivateKey, *rsa.PrivateKey, or an HSM/KMS signer) or, to verify only, a public key"},
			"a PEM string":        {"ES256", string(pemOf(t, "PUBLIC KEY", derOf(t, &ecKey.PublicKey))), "a string key cannot be used with ES256: pass the PEM as bytes, []byte(pem)"},
			"not a key at all":    {"ES256", struct{}{}, "a struct {} cannot be used with ES256, which needs an EC key on P-256; pass PEM bytes, a crypto.Signer"},
			"unknown alg":         {"ES999", ecKey, `unknown algorithm "ES999" (want one of [HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA])`},
			"HMAC alg":            {"HS256", ecKey, "unknown algorithm"},
			"garbage PEM":         {"ES256", []byte("not a key"), "no PEM block found in key"},
			"trailing PEM":        {"ES256", append(pemOf(t, "PUBLIC KEY", derOf(t, &ecKey.PublicKey)), pemOf(t, "PUBLIC KEY", derOf(t, &ecKey2.PublicKey))...), "key has data after its PEM block"},
			"certificate PEM":     {"ES256", pemOf(t, "CERTIFICATE", []byte{1}), `unsupported PEM block "CERTIFICATE"`},
			"broken PKCS #8":      {"ES256", pemOf(t, "PRIVATE KEY", []byte{1, 2}), "parsing PRIVATE KEY"},
			"encrypted PEM block": {"ES256", pemOf(t, "ENCRYPTED PRIVATE KEY", []byte{1}), "unsupported PEM block"},
		} {
			t.Run(name, func(t *testing.T) {
				_, err := NewAsymmetricKey(tc.alg, tc.key, "")
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.want)
				if s, ok := tc.key.(string); ok {
					assert.NotContains(t, err.Error(), s, "a string that may be a key is never repeated")
				}
			})
		}
	})
	t.Run("PEM forms", func(t *testing.T) {
		pkcs8 := func(k any) []byte {
			der, err := x509.MarshalPKCS8PrivateKey(k)
			require.NoError(t, err)
			return pemOf(t, "PRIVATE KEY", der)
		}
		sec1, err := x509.MarshalECPrivateKey(ecKey)
		require.NoError(t, err)
		for name, tc := range map[string]struct {
			alg     string
			pem     []byte
			pub     crypto.PublicKey
			private bool
		}{
			"PKCS #8 EC":        {"ES256", pkcs8(ecKey), &ecKey.PublicKey, true},
			"PKCS #8 RSA":       {"RS256", pkcs8(rsaKey), &rsaKey.PublicKey, true},
			"PKCS #8 Ed25519":   {"EdDSA", pkcs8(edKey), edKey.Public(), true},
			"PKCS #1 RSA":       {"PS256", pemOf(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), &rsaKey.PublicKey, true},
			"SEC 1 EC":          {"ES256", pemOf(t, "EC PRIVATE KEY", sec1), &ecKey.PublicKey, true},
			"PKIX public":       {"ES256", pemOf(t, "PUBLIC KEY", derOf(t, &ecKey.PublicKey)), &ecKey.PublicKey, false},
			"white space after": {"ES256", append(pemOf(t, "PUBLIC KEY", derOf(t, &ecKey.PublicKey)), "\n\n  "...), &ecKey.PublicKey, false},
		} {
			t.Run(name, func(t *testing.T) {
				k, err := NewAsymmetricKey(tc.alg, tc.pem, "")
				require.NoError(t, err)
				assert.Equal(t, tc.private, k.CanSign())
				kid, err := Thumbprint(tc.pub)
				require.NoError(t, err)
				assert.Equal(t, kid, k.KID(), "the key the PEM holds")
			})
		}
	})
}

func derOf(t *testing.T, pub any) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	return der
}

func TestRetireAndObserved(t *testing.T) {
	k, err := NewHMACKey("HS256", secret, "k")
	require.NoError(t, err)
	c := signed(t, k, `{}`)
	until := time.Unix(1_800_000_000, 0)
	k.Retire(until)
	assert.False(t, k.CanSign())
	assert.Equal(t, until, k.NotAfter())
	assert.True(t, k.VerifyCompact(c), "a retired key still verifies; its end is the caller's to check")
	_, err = k.Sign([]byte(`{}`))
	assert.EqualError(t, err, `the HS256 key "k" does not sign`)

	n := 0
	o := Observed(k, func() { n++ })
	assert.True(t, o.VerifyCompact(c))
	assert.False(t, o.VerifyCompact(Compact{Signature: c.Signature, SigningInput: "x"}))
	assert.Equal(t, 2, n)
	assert.True(t, k.VerifyCompact(c), "the original is unchanged")
	assert.Equal(t, 2, n)
}

func TestRefusePublicKey(t *testing.T) {
	testKeys(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<32, 0)}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ecKey.PublicKey, ecKey)
	require.NoError(t, err)
	jwkOf := func(key any) []byte {
		k, err := jwk.Import(key)
		require.NoError(t, err)
		b, err := json.Marshal(k)
		require.NoError(t, err)
		return b
	}
	ecPub, err := NewAsymmetricKey("ES256", &ecKey.PublicKey, "k")
	require.NoError(t, err)
	set, err := MarshalJWKS([]*Key{ecPub})
	require.NoError(t, err)
	for name, b := range map[string][]byte{
		"PEM PKIX":        pemOf(t, "PUBLIC KEY", derOf(t, &rsaKey.PublicKey)),
		"PEM after text":  append([]byte("our key:\n"), pemOf(t, "PUBLIC KEY", derOf(t, edKey.Public()))...),
		"PEM PKCS #1":     pemOf(t, "RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)),
		"PEM certificate": pemOf(t, "CERTIFICATE", cert),
		"DER PKIX":        derOf(t, &ecKey.PublicKey),
		"DER PKCS #1":     x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey),
		"DER certificate": cert,
		"base64 DER":      []byte(base64.StdEncoding.EncodeToString(derOf(t, &ecKey.PublicKey))),
		"base64 DER, wrapped": []byte(func() string {
			s := base64.StdEncoding.EncodeToString(derOf(t, &ecKey.PublicKey))
			return s[:40] + "\n" + s[40:]
		}()),
		"JWK":     jwkOf(&ecKey.PublicKey),
		"JWK Set": set,
	} {
		err := RefusePublicKey("HMAC key", b)
		require.Error(t, err, name)
		assert.True(t, strings.HasPrefix(err.Error(), "the HMAC key is a public key (PEM, DER or JWK)"), name)
		_, err = NewHMACKey("HS256", append(b, make([]byte, 32)...)[:max(len(b), 32)], "")
		if len(b) >= 32 {
			assert.ErrorContains(t, err, "is a public key", name)
		}
	}
	for name, b := range map[string][]byte{
		"random bytes":    []byte(strings.Repeat("r", 64)),
		"bytes like DER":  []byte(strings.Repeat("\x30", 64)),
		"private key PEM": func() []byte { d, _ := x509.MarshalPKCS8PrivateKey(ecKey); return pemOf(t, "PRIVATE KEY", d) }(),
		"private JWK":     jwkOf(ecKey),
	} {
		assert.NoError(t, RefusePublicKey("HMAC key", b), name)
	}
}

func TestSameKey(t *testing.T) {
	testKeys(t)
	key := func(alg string, material any, kid string) *Key {
		t.Helper()
		var k *Key
		var err error
		if b, ok := material.([]byte); ok && IsHMAC(alg) {
			k, err = NewHMACKey(alg, b, kid)
		} else {
			k, err = NewAsymmetricKey(alg, material, kid)
		}
		require.NoError(t, err)
		return k
	}
	other := append([]byte("another "), secret...)
	for name, tc := range map[string]struct {
		a, b *Key
		same bool
	}{
		"one secret, two kids":         {key("HS256", secret, "a"), key("HS256", secret, "b"), true},
		"one secret, two algorithms":   {key("HS256", other, ""), key("HS384", other, "x"), true},
		"two secrets":                  {key("HS256", secret, "a"), key("HS256", other, "a"), false},
		"a private key and its public": {key("ES256", ecKey, "new"), key("ES256", &ecKey.PublicKey, "old"), true},
		"two EC keys":                  {key("ES256", ecKey, ""), key("ES256", ecKey2, ""), false},
		"a secret and a key pair":      {key("HS256", secret, ""), key("ES256", ecKey, ""), false},
		"RSA, PKCS1 and PSS":           {key("RS256", rsaKey, ""), key("PS256", &rsaKey.PublicKey, ""), true},
		"Ed25519 and RSA":              {key("EdDSA", edKey, ""), key("RS256", rsaKey, ""), false},
	} {
		assert.Equal(t, tc.same, tc.a.SameKey(tc.b), name)
		assert.Equal(t, tc.same, tc.b.SameKey(tc.a), name)
	}
	assert.True(t, IsHMAC("HS512"))
	assert.False(t, IsHMAC("EdDSA"))
}

// TestOpen: Open returns the payload of a token whose signature verifies,
// and reads the payload, then the signature, before any signature check:
// a token with a byte outside the base64url alphabet in either costs no
// MAC and no public-key verify, even when the signature covers it.
func TestOpen(t *testing.T) {
	hk, err := NewHMACKey("HS256", secret, "")
	require.NoError(t, err)
	_, edPriv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	ek, err := NewAsymmetricKey("EdDSA", edPriv, "ed")
	require.NoError(t, err)
	for name, k := range map[string]*Key{"HMAC": hk, "EdDSA": ek} {
		t.Run(name, func(t *testing.T) {
			c := signed(t, k, `{"a":1}`)
			var buf [64]byte
			got, ok := k.Open(c, buf[:])
			require.True(t, ok)
			assert.Equal(t, `{"a":1}`, string(got))
			assert.Same(t, &buf[0], &got[0], "decoded into the buffer")

			n := 0
			o := Observed(k, func() { n++ })
			_, ok = o.Open(c, buf[:])
			require.True(t, ok)
			require.Equal(t, 1, n, "control: the check is observed")

			// Signed over as they are: only the alphabet refuses these.
			resign := func(input string) Compact {
				sig, err := k.sign([]byte(input))
				require.NoError(t, err)
				h, p, _ := strings.Cut(input, ".")
				return Compact{Header: h, Payload: p, Signature: enc.EncodeToString(sig), SigningInput: input}
			}
			for bname, bad := range map[string]Compact{
				"payload with a newline":   resign(c.Header + "." + c.Payload[:4] + "\n" + c.Payload[4:]),
				"payload with CRLF":        resign(c.Header + "." + c.Payload[:4] + "\r\n" + c.Payload[4:]),
				"payload padded":           resign(c.Header + "." + c.Payload + "=="),
				"payload, std alphabet":    resign(c.Header + "." + c.Payload + "+/"),
				"payload not base64":       resign(c.Header + "." + c.Payload + "*"),
				"signature with a newline": {Header: c.Header, Payload: c.Payload, Signature: c.Signature[:4] + "\n" + c.Signature[4:], SigningInput: c.SigningInput},
				"signature padded":         {Header: c.Header, Payload: c.Payload, Signature: c.Signature + "=", SigningInput: c.SigningInput},
			} {
				n = 0
				_, ok := o.Open(bad, buf[:])
				assert.False(t, ok, bname)
				assert.Zero(t, n, "%s: refused before the signature check", bname)
			}
		})
	}
}

// TestOpenLargePayload: a payload too large for the caller's buffer is
// checked piece by piece in it before the signature, so that a forged one
// costs no allocation and a malformed one no signature check, wherever its
// bad byte is; a genuine one is decoded whole.
func TestOpenLargePayload(t *testing.T) {
	k, err := NewHMACKey("HS256", secret, "")
	require.NoError(t, err)
	big := `{"a":"` + strings.Repeat("x", 5000) + `"}`
	c := signed(t, k, big)
	var buf [64]byte
	got, ok := k.Open(c, buf[:])
	require.True(t, ok)
	assert.Equal(t, big, string(got))
	for _, small := range [][]byte{nil, make([]byte, 2), make([]byte, 5)} {
		got, ok := k.Open(c, small)
		require.True(t, ok, "a buffer of %d bytes", len(small))
		assert.Equal(t, big, string(got))
	}

	forged := c
	forged.Signature = enc.EncodeToString(make([]byte, 32))
	if !raceEnabled { // sync.Pool drops items at random under -race
		allocs := testing.AllocsPerRun(100, func() {
			if _, ok := k.Open(forged, buf[:]); ok {
				t.Fatal("a forged signature verified")
			}
		})
		assert.Zero(t, allocs, "a forged large payload allocates nothing")
	}

	n := 0
	o := Observed(k, func() { n++ })
	for _, at := range []int{0, 100, 2000, len(c.Payload) - 1} {
		for name, bad := range map[string]string{"*": "*", "newline": "\n", "CRLF": "\r\n", "four line breaks": "\n\n\n\n"} {
			input := c.Header + "." + c.Payload[:at] + bad + c.Payload[at:]
			sig, err := k.sign([]byte(input))
			require.NoError(t, err)
			h, p, _ := strings.Cut(input, ".")
			n = 0
			_, ok := o.Open(Compact{Header: h, Payload: p, Signature: enc.EncodeToString(sig), SigningInput: input}, buf[:])
			assert.False(t, ok, "%s at %d", name, at)
			assert.Zero(t, n, "%s at %d: refused before the signature check", name, at)
		}
	}
}
