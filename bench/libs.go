package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	jwtmiddleware "github.com/auth0/go-jwt-middleware/v3"
	"github.com/auth0/go-jwt-middleware/v3/validator"
	"github.com/go-chi/jwtauth/v5"
	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtpair/jwtpair"
	jwxjwt "github.com/lestrrat-go/jwx/v2/jwt"
)

// Lib is one middleware under test: a row of [Libs].
type Lib struct {
	Name string
	// New builds the middleware for tokens signed by k, checking what
	// jwtpair checks as far as the library allows: algorithm pinned,
	// signature; exp required and not past; nbf and iat, when present, not
	// in the future; iss and aud required and equal to Issuer and Audience;
	// token_type "access"; jti of 1 to 255 bytes; user_id a non-empty
	// string. It puts the claims in the request context, and answers 401
	// otherwise. The exceptions (what a library cannot be made to refuse)
	// are tested by TestLibsVerify and listed by bench/cmd/report.
	New func(k *Key) (func(http.Handler) http.Handler, error)
	// User reads the user id from the request context inside the
	// middleware, as the application's handler would.
	User func(r *http.Request) string
}

// Libs are the middlewares benchmarked, jwtpair first.
var Libs = []Lib{
	{"jwtpair", newJWTPair, userJWTPair},
	{"jwtpair-uncached", newJWTPairUncached, userJWTPair},
	{"jwtauth", newJWTAuth, userJWTAuth},
	{"auth0", newAuth0, userAuth0},
	{"golangjwt", newGolangJWT, userGolangJWT},
	{"floor", newFloor, userFloor},
}

// Handler returns lib's middleware for k around the protected handler of
// the benchmarks: it reads the user from the context and does nothing else
// (answering 500 if the user is not the token's, which never happens on the
// benchmark path).
func Handler(lib Lib, k *Key) (http.Handler, error) {
	mw, err := lib.New(k)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", lib.Name, k.Alg, err)
	}
	user := lib.User
	return mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user(r) != UserID {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})), nil
}

// --- jwtpair ---

// JWTPairOptions are the options of the benchmarked jwtpair.Auth for k.
func JWTPairOptions(k *Key) []jwtpair.Option {
	opts := []jwtpair.Option{
		jwtpair.WithAuthenticator(jwtpair.AuthenticatorFunc(func(context.Context, string, string) (jwtpair.User, error) {
			return jwtpair.User{}, jwtpair.ErrInvalidCredentials
		})),
		jwtpair.WithIssuer(Issuer),
		jwtpair.WithAudience(Audience),
		jwtpair.WithLogger(slog.New(slog.DiscardHandler)),
	}
	if k.Secret != nil {
		return append(opts, jwtpair.WithHMACKey(k.Secret), jwtpair.WithAlgorithm(k.Alg))
	}
	return append(opts, jwtpair.WithSigningKey(k.Private, k.Alg), jwtpair.WithKeyID(KeyID))
}

func newJWTPair(k *Key) (func(http.Handler) http.Handler, error) {
	a, err := jwtpair.New(JWTPairOptions(k)...)
	if err != nil {
		return nil, err
	}
	return a.Middleware, nil
}

// newJWTPairUncached is jwtpair with its cache of verified tokens off
// (jwtpair.WithVerifiedTokenCache(0)): every request verifies its token
// as a token's first request does, as the other rows do on every request.
func newJWTPairUncached(k *Key) (func(http.Handler) http.Handler, error) {
	a, err := jwtpair.New(append(JWTPairOptions(k), jwtpair.WithVerifiedTokenCache(0))...)
	if err != nil {
		return nil, err
	}
	return a.Middleware, nil
}

func userJWTPair(r *http.Request) string {
	u, _ := jwtpair.UserFrom(r.Context())
	return u.ID
}

// validJTI reports whether a jti is as jwtpair wants it: 1 to 255 bytes.
func validJTI(jti string) bool { return jti != "" && len(jti) <= 255 }

var errClaims = errors.New("not an access token of ours")

// --- go-chi/jwtauth (jwx v2) ---

func newJWTAuth(k *Key) (func(http.Handler) http.Handler, error) {
	// jwx v2 reads exp, iat and nbf given as strings too: strings of digits
	// always, and RFC 3339 strings unless this process-wide setting is on.
	jwxjwt.Settings(jwxjwt.WithNumericDateParsePedantic(true))
	ja := jwtauth.New(k.Alg, nil, k.VerifyKey(),
		// jwt.Validate checks exp, iat and nbf when present by default.
		jwxjwt.WithRequiredClaim("exp"),
		jwxjwt.WithIssuer(Issuer),
		jwxjwt.WithAudience(Audience),
		jwxjwt.WithClaimValue("token_type", "access"),
		jwxjwt.WithValidator(jwxjwt.ValidatorFunc(checkJWTAuth)),
	)
	verify, authenticate := jwtauth.Verifier(ja), jwtauth.Authenticator(ja)
	return func(next http.Handler) http.Handler { return verify(authenticate(next)) }, nil
}

// checkJWTAuth checks the claims jwtauth has no option for: jti and user_id.
func checkJWTAuth(_ context.Context, t jwxjwt.Token) jwxjwt.ValidationError {
	u, _ := t.Get("user_id")
	if id, _ := u.(string); id == "" || !validJTI(t.JwtID()) {
		return jwxjwt.NewValidationError(errClaims)
	}
	return nil
}

func userJWTAuth(r *http.Request) string {
	_, claims, _ := jwtauth.FromContext(r.Context())
	id, _ := claims["user_id"].(string)
	return id
}

// --- auth0/go-jwt-middleware v3 (jwx v3) ---

// auth0Claims are the custom claims auth0's validator decodes (with
// encoding/json) beside the registered ones, which jwx v3 has checked: exp,
// iat and nbf in time, iss and aud.
type auth0Claims struct {
	TokenType string `json:"token_type"`
	UserID    string `json:"user_id"`
	JTI       string `json:"jti"`
	// The time claims raw, to refuse strings, which jwx v3 reads as dates.
	Exp json.RawMessage `json:"exp"`
	Iat json.RawMessage `json:"iat"`
	Nbf json.RawMessage `json:"nbf"`
}

func (c *auth0Claims) Validate(context.Context) error {
	if c.TokenType != "access" || c.UserID == "" || !validJTI(c.JTI) ||
		!isNumber(c.Exp) || c.Iat != nil && !isNumber(c.Iat) || c.Nbf != nil && !isNumber(c.Nbf) {
		return errClaims
	}
	return nil
}

// isNumber reports whether a raw JSON value is a number.
func isNumber(v json.RawMessage) bool {
	return len(v) > 0 && (v[0] == '-' || v[0] >= '0' && v[0] <= '9')
}

func newAuth0(k *Key) (func(http.Handler) http.Handler, error) {
	key := k.VerifyKey()
	v, err := validator.New(
		validator.WithKeyFunc(func(context.Context) (any, error) { return key, nil }),
		validator.WithAlgorithm(validator.SignatureAlgorithm(k.Alg)),
		validator.WithIssuer(Issuer),
		validator.WithAudience(Audience),
		validator.WithCustomClaims(func() *auth0Claims { return &auth0Claims{} }),
	)
	if err != nil {
		return nil, err
	}
	m, err := jwtmiddleware.New(jwtmiddleware.WithValidator(v))
	if err != nil {
		return nil, err
	}
	return m.CheckJWT, nil
}

func userAuth0(r *http.Request) string {
	vc, err := jwtmiddleware.GetClaims[*validator.ValidatedClaims](r.Context())
	if err != nil {
		return ""
	}
	c, _ := vc.CustomClaims.(*auth0Claims)
	if c == nil {
		return ""
	}
	return c.UserID
}

// --- golang-jwt v5: the middleware its README leads you to write, with the
// claims struct checking what jwtpair checks ---

// golangJWTClaims are the registered claims and ours. The parser calls
// Validate after its own checks.
type golangJWTClaims struct {
	TokenType string `json:"token_type"`
	UserID    string `json:"user_id"`
	// The time claims shadow RegisteredClaims' (and the Get methods below
	// its methods), to refuse strings, which jwt.NumericDate reads.
	Exp *numericDate `json:"exp,omitempty"`
	Iat *numericDate `json:"iat,omitempty"`
	Nbf *numericDate `json:"nbf,omitempty"`
	jwt.RegisteredClaims
}

func (c *golangJWTClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.Exp.get(), nil }
func (c *golangJWTClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.Iat.get(), nil }
func (c *golangJWTClaims) GetNotBefore() (*jwt.NumericDate, error)      { return c.Nbf.get(), nil }

func (c *golangJWTClaims) Validate() error {
	if c.TokenType != "access" || c.UserID == "" || !validJTI(c.ID) {
		return errClaims
	}
	return nil
}

// numericDate is a jwt.NumericDate that must be a JSON number.
type numericDate struct{ jwt.NumericDate }

func (d *numericDate) UnmarshalJSON(b []byte) error {
	if !isNumber(b) {
		return errors.New("not a NumericDate")
	}
	return d.NumericDate.UnmarshalJSON(b)
}

func (d *numericDate) get() *jwt.NumericDate {
	if d == nil {
		return nil
	}
	return &d.NumericDate
}

type ctxKey struct{ name string }

var golangJWTKey = &ctxKey{"golang-jwt claims"}

func newGolangJWT(k *Key) (func(http.Handler) http.Handler, error) {
	key := k.VerifyKey()
	p := jwt.NewParser(jwt.WithValidMethods([]string{k.Alg}), jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(), jwt.WithIssuer(Issuer), jwt.WithAudience(Audience))
	keyFunc := func(*jwt.Token) (any, error) { return key, nil }
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			c := &golangJWTClaims{}
			if !ok {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			if _, err := p.ParseWithClaims(tok, c, keyFunc); err != nil {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), golangJWTKey, c)))
		})
	}, nil
}

func userGolangJWT(r *http.Request) string {
	c, _ := r.Context().Value(golangJWTKey).(*golangJWTClaims)
	if c == nil {
		return ""
	}
	return c.UserID
}

// --- the floor: the standard library, written the obvious way ---

// floorClaims is the fixed claims struct of the floor.
type floorClaims struct {
	TokenType string `json:"token_type"`
	Exp       int64  `json:"exp"`
	Iat       int64  `json:"iat"`
	Nbf       int64  `json:"nbf"`
	JTI       string `json:"jti"`
	UserID    string `json:"user_id"`
	Aud       string `json:"aud"`
	Iss       string `json:"iss"`
}

var floorKey = &ctxKey{"floor claims"}

// newFloor is a middleware of the standard library alone: the header
// segment must be the one expected (this pins alg and refuses every other
// header member), then crypto/hmac (a new MAC per request) or the
// public-key verify over the digest, encoding/base64 and encoding/json into
// a fixed struct, and the claim checks (an absent iat or nbf reads as 0,
// which is in the past).
func newFloor(k *Key) (func(http.Handler) http.Handler, error) {
	switch k.Public.(type) {
	case nil, *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
	default:
		return nil, fmt.Errorf("floor: unsupported key %T", k.Public)
	}
	header := k.Header()
	fail := func(w http.ResponseWriter) { http.Error(w, "unauthorized", http.StatusUnauthorized) }
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok {
				fail(w)
				return
			}
			h, rest, _ := strings.Cut(tok, ".")
			p, s, ok := strings.Cut(rest, ".")
			if !ok || h != header {
				fail(w)
				return
			}
			sig, err := base64.RawURLEncoding.DecodeString(s)
			if err != nil || !k.Verify([]byte(tok[:len(h)+1+len(p)]), sig) {
				fail(w)
				return
			}
			payload, err := base64.RawURLEncoding.DecodeString(p)
			if err != nil {
				fail(w)
				return
			}
			c := &floorClaims{}
			now := time.Now().Unix()
			if err := json.Unmarshal(payload, c); err != nil || c.Exp == 0 || now >= c.Exp || c.Iat > now || c.Nbf > now ||
				c.TokenType != "access" || !validJTI(c.JTI) || c.UserID == "" || c.Iss != Issuer || c.Aud != Audience {
				fail(w)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), floorKey, c)))
		})
	}, nil
}

func userFloor(r *http.Request) string {
	c, _ := r.Context().Value(floorKey).(*floorClaims)
	if c == nil {
		return ""
	}
	return c.UserID
}
