package demo

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	forgepkg "github.com/jwtpair/jwtpair/internal/forge"
)

var b64 = base64.RawURLEncoding

// forge signs header.payload by hand (internal/forge: the standard library
// only); alg picks the primitive, whatever the header says.
func forge(t *testing.T, alg string, key any, header, payload string) string {
	t.Helper()
	tok, err := forgepkg.Sign(alg, key, header, payload)
	require.NoError(t, err)
	return tok
}

// TestExampleRefusesHostileTokens starts the example in each mode, with a
// key the test knows, checks a forged valid token passes, then sends every
// hostile token to GET /hello/ (and the whitespace and token-type cases to
// the token endpoints) and expects the documented 401 body.
func TestExampleRefusesHostileTokens(t *testing.T) {
	urls, fetched := func() (string, *atomic.Int32) {
		var n atomic.Int32
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1) }))
		t.Cleanup(s.Close)
		return s.URL, &n
	}()
	attacker, err := ecdsa.GenerateKey(ecdsaCurve("ES256"), rand.Reader)
	require.NoError(t, err)

	for _, alg := range []string{"HS256", "RS256", "ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			var key any = []byte(testSecret)
			args := []string{"-alg", alg}
			if alg != "HS256" {
				k, err := generateKey(alg)
				require.NoError(t, err)
				key = k
				der, err := x509.MarshalPKCS8PrivateKey(k)
				require.NoError(t, err)
				path := filepath.Join(t.TempDir(), "key.pem")
				require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
				args = append(args, "-key", path)
			}
			srv := startServer(t, args...)

			// Our header, as the server emits it (with its kid).
			access, _ := obtain(t, srv)
			parts := strings.Split(access, ".")
			hdr, err := b64.DecodeString(parts[0])
			require.NoError(t, err)
			header := string(hdr)
			withMember := func(m string) string { return strings.TrimSuffix(header, "}") + "," + m + "}" }
			now := time.Now().Unix()
			claims := func(edit func(map[string]any)) string {
				c := map[string]any{"token_type": "access", "exp": now + 300, "iat": now, "jti": "0123456789abcdef0123456789abcdef", "user_id": "1"}
				if edit != nil {
					edit(c)
				}
				b, _ := json.Marshal(c)
				return string(b)
			}
			sign := func(header string, edit func(map[string]any)) string { return forge(t, alg, key, header, claims(edit)) }
			valid := sign(header, nil)
			vp := strings.Split(valid, ".")

			// Validly signed tokens at and just over the 8 KiB length limit
			// (jwtpair's default; the server does not set WithMaxTokenBytes).
			atLimit, overLimit, err := forgepkg.SignAround(alg, key, header, claims(nil), 8<<10)
			require.NoError(t, err)
			// Our key and primitive under a header claiming another
			// algorithm: only the algorithm pin refuses these.
			lie := map[string]string{"HS256": "HS512", "RS256": "RS512", "ES256": "ES384", "EdDSA": "Ed25519"}[alg]
			claimAlg := func(a string) string { return strings.Replace(header, `"alg":"`+alg+`"`, `"alg":"`+a+`"`, 1) }
			// signedInput signs a signing input as it is: base64 decoders
			// skip CR and LF, so only the alphabet check refuses a newline
			// that the signature covers.
			signedInput := func(input string) string {
				sig, err := forgepkg.SignInput(alg, key, input)
				require.NoError(t, err)
				return input + "." + b64.EncodeToString(sig)
			}

			status, _ := call(t, srv, "GET", "/hello/", valid, "")
			require.Equal(t, http.StatusOK, status, "control: a forged valid token passes")
			status, _ = call(t, srv, "GET", "/hello/", atLimit, "")
			require.Equal(t, http.StatusOK, status, "control: a validly signed token at the length limit passes")
			status, _ = call(t, srv, "POST", "/api/token/verify/", "", tokenBody(t, "token", valid))
			require.Equal(t, http.StatusOK, status, "control: the verify endpoint accepts the forged valid token")
			status, _ = call(t, srv, "POST", "/api/token/verify/", "", tokenBody(t, "token", " "+valid+"\n"))
			require.Equal(t, http.StatusOK, status, "control: surrounding white space is trimmed (DRF's CharField)")

			hostile := map[string]string{
				"alg none":                  b64.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + vp[1] + ".",
				"alg NoNe":                  b64.EncodeToString([]byte(`{"alg":"NoNe","typ":"JWT"}`)) + "." + vp[1] + ".",
				"alg nOnE, signed":          sign(claimAlg("nOnE"), nil),
				"stripped signature":        vp[0] + "." + vp[1] + ".",
				"other payload":             vp[0] + "." + b64.EncodeToString([]byte(claims(func(c map[string]any) { c["user_id"] = "2" }))) + "." + vp[2],
				"embedded jwk":              forge(t, "ES256", attacker, `{"alg":"ES256","typ":"JWT","jwk":{"kty":"EC","crv":"P-256","x":"`+b64.EncodeToString(attacker.X.Bytes())+`","y":"`+b64.EncodeToString(attacker.Y.Bytes())+`"}}`, claims(nil)),
				"jku":                       sign(withMember(`"jku":"`+urls+`"`), nil),
				"x5u":                       sign(withMember(`"x5u":"`+urls+`"`), nil),
				"kid traversal":             sign(`{"alg":"`+alg+`","kid":"../../../dev/null","typ":"JWT"}`, nil),
				"kid injection":             sign(`{"alg":"`+alg+`","kid":"' OR '1'='1","typ":"JWT"}`, nil),
				"crit":                      sign(withMember(`"crit":["exp"]`), nil),
				"b64":                       sign(withMember(`"b64":false`), nil),
				"b64 with crit":             sign(withMember(`"b64":false,"crit":["b64"]`), nil),
				"JSON serialization":        `{"protected":"` + vp[0] + `","payload":"` + vp[1] + `","signature":"` + vp[2] + `"}`,
				"JWE":                       vp[0] + ".a.b." + vp[1] + "." + vp[2],
				"missing exp":               sign(header, func(c map[string]any) { delete(c, "exp") }),
				"exp 0":                     sign(header, func(c map[string]any) { c["exp"] = 0 }),
				"exp string":                sign(header, func(c map[string]any) { c["exp"] = "9999999999" }),
				"nbf future":                sign(header, func(c map[string]any) { c["nbf"] = now + 3600 }),
				"aud, none configured":      sign(header, func(c map[string]any) { c["aud"] = "api" }),
				"refresh as access":         sign(header, func(c map[string]any) { c["token_type"] = "refresh" }),
				"missing token_type":        sign(header, func(c map[string]any) { delete(c, "token_type") }),
				"unknown token_type":        sign(header, func(c map[string]any) { c["token_type"] = "id" }),
				"missing user_id":           sign(header, func(c map[string]any) { delete(c, "user_id") }),
				"padding":                   vp[0] + "." + vp[1] + "." + vp[2] + "==",
				"standard alphabet":         strings.NewReplacer("-", "+", "_", "/").Replace(valid) + "/+",
				"non-base64url":             vp[0] + "." + vp[1] + "!." + vp[2],
				"oversized":                 vp[0] + "." + strings.Repeat("A", 64<<10) + "." + vp[2],
				"oversized, validly signed": overLimit,
				"dot flood":                 strings.Repeat(".", 16<<10),
				"header alg mismatch":       sign(claimAlg(lie), nil),
			}
			if alg == "ES256" {
				hostile["ECDSA r=s=0"] = vp[0] + "." + vp[1] + "." + b64.EncodeToString(make([]byte, 64))
			}
			if alg != "HS256" {
				pub := key.(crypto.Signer).Public()
				der, err := x509.MarshalPKIXPublicKey(pub)
				require.NoError(t, err)
				pemPub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
				hostile["key confusion: HS256 with the public key (PEM)"] = forge(t, "HS256", pemPub, `{"alg":"HS256","typ":"JWT"}`, claims(nil))
				hostile["key confusion: HS256 with the public key (DER)"] = forge(t, "HS256", der, `{"alg":"HS256","typ":"JWT"}`, claims(nil))
				hostile["key confusion: HS256 with the public key and our kid"] = forge(t, "HS256", pemPub, strings.Replace(header, `"alg":"`+alg+`"`, `"alg":"HS256"`, 1), claims(nil))

				status, m := call(t, srv, "GET", "/.well-known/jwks.json", "", "")
				require.Equal(t, http.StatusOK, status)
				for _, k := range m["keys"].([]any) {
					for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
						assert.NotContains(t, k, private)
					}
				}
			}
			// The middleware's documented body: "Token is invalid", unless
			// the token is only expired, of the wrong type, or without a
			// claim simplejwt names in its message.
			message := map[string]string{"exp 0": "Token is expired", "refresh as access": "Token has wrong type", "unknown token_type": "Token has wrong type",
				"missing exp": "Token has no 'exp' claim", "missing token_type": "Token has no type"}
			for name, tok := range hostile {
				t.Run(name, func(t *testing.T) {
					msg := message[name]
					if msg == "" {
						msg = "Token is invalid"
					}
					want := `{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"` + msg + `"}]}`
					if name == "missing user_id" { // JWTAuthentication.get_user's answer
						want = `{"detail":"Token contained no recognizable user identification","code":"token_not_valid"}`
					}
					status, m := call(t, srv, "GET", "/hello/", tok, "")
					assert.Equal(t, http.StatusUnauthorized, status)
					assert.Equal(t, jsonBody(t, want), m)
				})
			}

			// White space cannot reach the verifier through the header (it
			// splits the value), so those tokens go in a verify request's
			// body, whose field is trimmed of surrounding white space (DRF's
			// CharField): white space inside is refused; access tokens
			// presented to the refresh endpoint.
			for _, tc := range []struct{ name, path, field, tok, detail string }{
				{"whitespace: space inside", "/api/token/verify/", "token", vp[0] + ". " + vp[1] + "." + vp[2], "Token is invalid"},
				{"whitespace: tab inside", "/api/token/verify/", "token", vp[0] + "." + vp[1] + "\t." + vp[2], "Token is invalid"},
				{"whitespace: newline inside", "/api/token/verify/", "token", signedInput(vp[0] + ".\n" + vp[1]), "Token is invalid"},
				{"access as refresh", "/api/token/refresh/", "refresh", valid, "Token has wrong type"},
				{"access as refresh, as issued", "/api/token/refresh/", "refresh", access, "Token has wrong type"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					status, m := call(t, srv, "POST", tc.path, "", tokenBody(t, tc.field, tc.tok))
					assert.Equal(t, http.StatusUnauthorized, status)
					assert.Equal(t, jsonBody(t, `{"detail":"`+tc.detail+`","code":"token_not_valid"}`), m)
				})
			}
			t.Run("whitespace in the Authorization header", func(t *testing.T) {
				status, m := call(t, srv, "GET", "/hello/", vp[0]+". "+vp[1]+"."+vp[2], "")
				assert.Equal(t, http.StatusUnauthorized, status)
				assert.Equal(t, jsonBody(t, `{"detail":"Authorization header must contain two space-delimited values","code":"bad_authorization_header"}`), m)
			})
		})
	}
	assert.Zero(t, fetched.Load(), "no key fetched from a URL in a token")
}

// tokenBody is a token endpoint's JSON body {field: tok}.
func tokenBody(t *testing.T, field, tok string) string {
	b, err := json.Marshal(map[string]string{field: tok})
	require.NoError(t, err)
	return string(b)
}

// jsonBody decodes a documented JSON body, to compare with call's answer.
func jsonBody(t *testing.T, s string) map[string]any {
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(s), &m))
	return m
}

func ecdsaCurve(alg string) elliptic.Curve {
	return map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}[alg]
}
