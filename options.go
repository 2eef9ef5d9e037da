package jwtpair

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/textproto"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jwtpair/jwtpair/internal/claimset"
)

// Defaults, as simplejwt's.
const (
	DefaultAccessTTL    = 5 * time.Minute
	DefaultRefreshTTL   = 24 * time.Hour
	DefaultMaxBodyBytes = 64 << 10
	// DefaultMaxTokenBytes bounds the token text the verifier looks at; longer
	// tokens are refused before any decoding.
	DefaultMaxTokenBytes = 8 << 10
)

// Option configures an [Auth]; see [New].
type Option func(*config) error

// config collects options before New validates them as a whole.
type config struct {
	alg        string
	algSet     bool
	hmacKey    []byte
	signingKey any
	signingAlg string
	keyID      string
	previous   []previousKey
	// serverSecret keys CSRF tokens and stamps (secret.go); nil: derived
	// from the HMAC keys.
	serverSecret []byte
	jwks         *jwksConfig
	authn        Authenticator
	store        Store
	accessTTL    time.Duration
	refreshTTL   time.Duration

	rotate, blacklistAfterRotation       bool
	rotateSet, blacklistAfterRotationSet bool
	grace                                time.Duration

	leeway        time.Duration
	audience      []string
	issuer        string
	usernameField string
	userIDClaim   string
	tokenTypeClm  string
	headerName    string
	schemes       []string
	now           func() time.Time
	errorHandler  func(http.ResponseWriter, *http.Request, error)
	logger        *slog.Logger
	onLogin       func(*http.Request, User)
	onLoginFailed func(r *http.Request, username string, err error)
	userCheck     bool
	maxBodyBytes  int64
	maxTokenBytes int
	cookies       *CookieOptions // nil: no cookie mode (cookies.go)
}

// WithHMACKey signs and verifies tokens with an HMAC secret (HS256 unless
// [WithAlgorithm] says HS384 or HS512). The key's bytes are used as they are
// and must be at least [MinHMACKeyBytes] long; use the same secret as a
// simplejwt deployment (its SIGNING_KEY) to accept its tokens. Bytes that
// parse as a public key or certificate (PEM, DER, base64 DER, JWK) are
// refused: with a public key as the HMAC secret, anyone could sign tokens.
// Required unless another key option is given.
func WithHMACKey(secret []byte) Option {
	return func(c *config) error {
		if c.hmacKey != nil {
			return errors.New("jwtpair: WithHMACKey given twice")
		}
		c.hmacKey = append([]byte{}, secret...)
		return nil
	}
}

// WithAlgorithm pins the HMAC algorithm of [WithHMACKey] (HS256, HS384 or
// HS512), or the algorithm of the keys of [WithJWKSURL]. Default "HS256".
// (WithSigningKey names its own algorithm.) Tokens whose header names
// another algorithm are refused.
func WithAlgorithm(alg string) Option {
	return func(c *config) error { c.alg, c.algSet = alg, true; return nil }
}

// WithAuthenticator sets who checks usernames and passwords. Required. If
// the value also implements [UserLoader], refresh reloads the user.
func WithAuthenticator(a Authenticator) Option {
	return func(c *config) error {
		if a == nil || isNil(a) {
			return errors.New("jwtpair: nil Authenticator")
		}
		c.authn = a
		return nil
	}
}

// WithStore sets where refresh-token state lives. Default: a new
// [MemoryStore], which is lost on restart and not shared between processes;
// use a shared store (redisstore, sqlstore) when running more than one
// instance.
func WithStore(s Store) Option {
	return func(c *config) error {
		if s == nil || isNil(s) {
			return errors.New("jwtpair: nil Store")
		}
		c.store = s
		return nil
	}
}

// WithAccessTTL sets the access-token lifetime. Default 5 minutes.
func WithAccessTTL(d time.Duration) Option {
	return func(c *config) error { c.accessTTL = d; return nil }
}

// WithRefreshTTL sets the refresh-token lifetime; each rotation starts a new
// one. Default 24 hours.
func WithRefreshTTL(d time.Duration) Option {
	return func(c *config) error { c.refreshTTL = d; return nil }
}

// WithRotation turns refresh-token rotation on or off. When on (default),
// refresh answers a new refresh token beside the access token. When off, a
// refresh token stays usable until it expires or is blacklisted.
func WithRotation(on bool) Option {
	return func(c *config) error { c.rotate, c.rotateSet = on, true; return nil }
}

// WithBlacklistAfterRotation says whether a rotated refresh token is consumed
// (default true): presenting it again is then reuse, and revokes its whole
// family (RFC 9700 §4.14.2). With false, the old token stays valid beside its
// successor, as simplejwt's BLACKLIST_AFTER_ROTATION=False. Only meaningful
// with rotation on.
func WithBlacklistAfterRotation(on bool) Option {
	return func(c *config) error {
		c.blacklistAfterRotation, c.blacklistAfterRotationSet = on, true
		return nil
	}
}

// WithReuseGrace sets the reuse grace window. Default 0: any second use of a
// rotated refresh token is treated as theft and revokes its family. A small
// window (a few seconds) lets a client retry a refresh whose response it
// lost: the replay gets a fresh sibling pair in the same session, at most
// [MaxGraceReplays] (2) times per rotated token; one more presentation, even
// inside the window, is reuse and revokes the family. The window is measured
// on the store's clock (the backend's, for Redis and SQL stores), never on
// this instance's, so clock skew between instances cannot stretch it. A
// logout with any token of the session (a sibling's included) ends all of
// it. Must be shorter than the refresh TTL.
func WithReuseGrace(d time.Duration) Option {
	return func(c *config) error { c.grace = d; return nil }
}

// WithLeeway allows for clock skew when checking exp and nbf. Default 0.
func WithLeeway(d time.Duration) Option {
	return func(c *config) error { c.leeway = d; return nil }
}

// WithAudience puts aud in issued tokens (the first value) and requires
// verified tokens to name at least one of the values. Default: none, and
// tokens carrying aud are refused (RFC 7519 §4.1.3).
func WithAudience(aud ...string) Option {
	return func(c *config) error {
		for _, a := range aud {
			if a == "" {
				return errors.New("jwtpair: empty audience")
			}
		}
		c.audience = append(c.audience, aud...)
		return nil
	}
}

// WithIssuer puts iss in issued tokens and requires it, equal, in verified
// ones. Default: none, and iss is not checked.
func WithIssuer(iss string) Option {
	return func(c *config) error { c.issuer = iss; return nil }
}

// WithUsernameField names the obtain endpoint's username field. Default
// "username" (simplejwt's USERNAME_FIELD).
func WithUsernameField(name string) Option {
	return func(c *config) error { c.usernameField = name; return nil }
}

// WithUserIDClaim names the claim holding the user id. Default "user_id".
func WithUserIDClaim(name string) Option {
	return func(c *config) error { c.userIDClaim = name; return nil }
}

// WithTokenTypeClaim names the claim holding the token type. Default
// "token_type".
func WithTokenTypeClaim(name string) Option {
	return func(c *config) error { c.tokenTypeClm = name; return nil }
}

// WithHeader sets the request header the middleware reads and the schemes it
// accepts there, matched case-insensitively (RFC 7235). Default
// "Authorization" with scheme "Bearer". A header with another scheme counts
// as no credentials, so other authentication can handle it.
func WithHeader(name string, schemes ...string) Option {
	return func(c *config) error {
		if name == "" || strings.ContainsAny(name, " :\t\r\n") {
			return fmt.Errorf("jwtpair: bad header name %q", name)
		}
		if len(schemes) == 0 {
			return errors.New("jwtpair: WithHeader needs at least one scheme")
		}
		for _, s := range schemes {
			if s == "" || strings.ContainsAny(s, " \t\r\n") {
				return fmt.Errorf("jwtpair: bad scheme %q", s)
			}
		}
		c.headerName, c.schemes = name, schemes
		return nil
	}
}

// WithUserCheck makes the middleware load the user on every request through
// the Authenticator's [UserLoader]: a deleted or inactive user gets 401
// no_active_account, a token whose user stamp changed (a password change, a
// logout everywhere) gets 401 "Token is blacklisted", and [UserFrom] returns
// the user as loaded. This makes revocation immediate for access tokens too,
// at the cost of one UserLoader call (typically a database query) per
// request; without it, an access token stays valid until it expires (the
// access TTL). Default off. Needs a UserLoader, and on a resource server
// (WithJWKSURL) the issuer's [WithServerSecret] to check stamps with.
func WithUserCheck() Option {
	return func(c *config) error { c.userCheck = true; return nil }
}

// WithClock sets the time source. Default time.Now. For tests.
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return errors.New("jwtpair: nil clock")
		}
		c.now = now
		return nil
	}
}

// WithErrorHandler replaces how handlers and the middleware answer errors.
// It receives one of the package's sentinel errors, wrapped, or a
// [*FieldError]. Default [WriteError], which writes the documented JSON.
func WithErrorHandler(h func(http.ResponseWriter, *http.Request, error)) Option {
	return func(c *config) error {
		if h == nil {
			return errors.New("jwtpair: nil error handler")
		}
		c.errorHandler = h
		return nil
	}
}

// WithLogger sets where store and authenticator failures are logged.
// Default slog.Default(). Tokens and passwords are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("jwtpair: nil logger")
		}
		c.logger = l
		return nil
	}
}

// WithOnLogin sets a hook called after each successful obtain, before the
// response is written (simplejwt's UPDATE_LAST_LOGIN). Default none.
func WithOnLogin(f func(r *http.Request, u User)) Option {
	return func(c *config) error { c.onLogin = f; return nil }
}

// WithOnLoginFailed sets a hook called after each obtain refused for bad
// credentials (simplejwt's ON_LOGIN_FAILED), to count failures or lock
// accounts. It gets the username tried, never the password. Default none.
func WithOnLoginFailed(f func(r *http.Request, username string, err error)) Option {
	return func(c *config) error { c.onLoginFailed = f; return nil }
}

// WithMaxBodyBytes bounds request bodies of the token endpoints; larger
// bodies get 413. Default 64 KiB.
func WithMaxBodyBytes(n int64) Option {
	return func(c *config) error { c.maxBodyBytes = n; return nil }
}

// WithMaxTokenBytes bounds the length of a token; longer ones are refused
// before any decoding, and are never minted (issuing a pair whose tokens
// would be longer fails). Default 8 KiB.
func WithMaxTokenBytes(n int) Option {
	return func(c *config) error { c.maxTokenBytes = n; return nil }
}

func defaultConfig() config {
	return config{
		alg:                    "HS256",
		accessTTL:              DefaultAccessTTL,
		refreshTTL:             DefaultRefreshTTL,
		rotate:                 true,
		blacklistAfterRotation: true,
		usernameField:          "username",
		userIDClaim:            "user_id",
		tokenTypeClm:           "token_type",
		headerName:             "Authorization",
		schemes:                []string{"Bearer"},
		now:                    time.Now,
		errorHandler:           WriteError,
		maxBodyBytes:           DefaultMaxBodyBytes,
		maxTokenBytes:          DefaultMaxTokenBytes,
	}
}

// validate checks the configuration as a whole.
func (c *config) validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("jwtpair: "+format, a...)) }
	sources := 0
	for _, set := range []bool{c.hmacKey != nil, c.signingKey != nil, c.jwks != nil} {
		if set {
			sources++
		}
	}
	switch {
	case sources == 0:
		bad("a signing key is required (WithHMACKey or WithSigningKey), or WithJWKSURL to only verify")
	case sources > 1:
		bad("give one of WithHMACKey, WithSigningKey and WithJWKSURL")
	}
	if c.authn == nil && c.jwks == nil {
		bad("an Authenticator is required (WithAuthenticator)")
	}
	if _, ok := c.authn.(UserLoader); c.userCheck && !ok {
		bad("WithUserCheck needs an Authenticator that implements UserLoader")
	}
	if c.signingKey != nil && c.algSet && c.alg != c.signingAlg {
		bad("WithAlgorithm(%q) contradicts WithSigningKey's %q", c.alg, c.signingAlg)
	}
	if c.jwks != nil {
		if !c.algSet || !isAsymmetric(c.alg) {
			bad("WithJWKSURL needs WithAlgorithm naming an asymmetric algorithm")
		}
		if len(c.previous) > 0 {
			bad("WithPreviousKey does not apply to WithJWKSURL: the key set rotates itself")
		}
	}
	// exp is a NumericDate in whole seconds: a lifetime under a second, or
	// with a fraction of one, would make tokens that die early (or at once).
	for _, ttl := range []struct {
		name string
		d    time.Duration
	}{{"access", c.accessTTL}, {"refresh", c.refreshTTL}} {
		switch {
		case ttl.d <= 0:
			bad("%s TTL must be positive, got %v", ttl.name, ttl.d)
		case ttl.d%time.Second != 0:
			bad("%s TTL must be whole seconds (exp counts seconds), got %v", ttl.name, ttl.d)
		}
	}
	if c.accessTTL > 0 && c.refreshTTL > 0 && c.accessTTL > c.refreshTTL {
		bad("access TTL (%v) longer than refresh TTL (%v)", c.accessTTL, c.refreshTTL)
	}
	if c.grace < 0 {
		bad("reuse grace must not be negative, got %v", c.grace)
	}
	if c.grace > 0 && c.grace >= c.refreshTTL {
		bad("reuse grace (%v) must be shorter than the refresh TTL (%v)", c.grace, c.refreshTTL)
	}
	if c.grace > 0 && (!c.rotate || !c.blacklistAfterRotation) {
		bad("reuse grace needs rotation with blacklist-after-rotation")
	}
	if c.blacklistAfterRotationSet && c.blacklistAfterRotation && c.rotateSet && !c.rotate {
		bad("blacklist-after-rotation needs rotation")
	}
	if c.leeway < 0 {
		bad("leeway must not be negative, got %v", c.leeway)
	}
	if c.leeway >= c.accessTTL && c.accessTTL > 0 {
		bad("leeway (%v) must be shorter than the access TTL (%v)", c.leeway, c.accessTTL)
	}
	if c.usernameField == "" || c.usernameField == "password" {
		bad("bad username field %q", c.usernameField)
	}
	switch {
	case c.userIDClaim == "" || c.tokenTypeClm == "":
		bad("claim names must not be empty")
	case c.userIDClaim == c.tokenTypeClm:
		bad("user-id and token-type claims share the name %q", c.userIDClaim)
	case claimset.IsRegistered(c.userIDClaim) || claimset.IsRegistered(c.tokenTypeClm):
		bad("claim names must not be registered claims (%s)", registeredClaims)
	}
	if c.maxBodyBytes <= 0 {
		bad("max body bytes must be positive")
	}
	if c.maxTokenBytes < 64 {
		bad("max token bytes must be at least 64")
	}
	// Tokens carry these strings; encoding/json would rewrite invalid UTF-8
	// in them, and no token minted with the rewritten text would verify.
	for _, s := range append([]string{c.issuer, c.userIDClaim, c.tokenTypeClm, c.keyID}, c.audience...) {
		if !utf8.ValidString(s) {
			bad("%q is not valid UTF-8", s)
		}
	}
	errs = append(errs, c.validateSecret()...)
	errs = append(errs, c.validateCookies()...)
	return errors.Join(errs...)
}

const registeredClaims = "exp, iat, nbf, jti, iss, aud, stamp, sid"

// canonicalHeader returns the canonical form of a header name, so the
// middleware can index r.Header directly.
func canonicalHeader(name string) string { return textproto.CanonicalMIMEHeaderKey(name) }

// isNil reports whether v, an interface value, holds a typed nil (a nil
// pointer, func, map, …), which == nil does not catch.
func isNil(v any) bool {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Func, reflect.Map, reflect.Chan, reflect.Slice, reflect.Interface:
		return rv.IsNil()
	}
	return false
}
