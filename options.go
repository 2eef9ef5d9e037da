package jwtpair

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/textproto"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jwtpair/jwtpair/internal/claimset"
)

// Defaults of the options (each option's doc states its own).
const (
	// DefaultAccessTTL and DefaultRefreshTTL are the token lifetimes,
	// simplejwt's: [WithAccessTTL] and [WithRefreshTTL] change them.
	DefaultAccessTTL  = 5 * time.Minute
	DefaultRefreshTTL = 24 * time.Hour

	// DefaultSlidingTTL and DefaultSlidingRefreshTTL are simplejwt's
	// SLIDING_TOKEN_LIFETIME and SLIDING_TOKEN_REFRESH_LIFETIME, for
	// [WithSlidingTokens].
	DefaultSlidingTTL        = 5 * time.Minute
	DefaultSlidingRefreshTTL = 24 * time.Hour

	// DefaultStoreTimeout bounds each store call an Auth makes
	// ([WithStoreTimeout]).
	DefaultStoreTimeout = 5 * time.Second

	// maxAccessTTL bounds WithAccessTTL: an access token outliving a day is
	// a long-lived credential nobody can revoke.
	maxAccessTTL = 24 * time.Hour

	defaultMaxBodyBytes = 64 << 10
	// defaultMaxTokenBytes bounds the token text the verifier looks at;
	// longer tokens are refused before any decoding.
	defaultMaxTokenBytes = 8 << 10
)

// Option configures an [Auth]; see [New]. The With… functions of this
// package make them.
type Option interface {
	// apply writes the option into c; an error is a problem New reports
	// together with every other one.
	apply(c *config) error
}

// option is an Option made of a function.
type option func(*config) error

func (o option) apply(c *config) error { return o(c) }

// settings are an Auth's plain settings: the options write them, New
// checks and completes them, and the Auth keeps them as they are (it embeds
// them). Nothing changes them after New.
type settings struct {
	authn  Authenticator
	loader UserLoader // authn, when it implements it; set by New
	store  Store      // set by New when no option did; New bounds its calls (timedStore)

	storeTimeout time.Duration // WithStoreTimeout: the deadline of each Store and Limiter call

	accessTTL, refreshTTL          time.Duration
	rotate, blacklistAfterRotation bool
	grace                          time.Duration
	leeway                         time.Duration
	audience                       []string
	issuer                         string
	usernameField                  string
	expiriesInBody                 bool           // WithExpiriesInBody
	userIDClaim, tokenTypeClaim    string         // the claim names, as the options set them
	names                          claimset.Names // built from them by New

	header  string   // the credentials header; New makes it canonical
	schemes []string // the accepted schemes; New lower-cases them
	// maxHeaderBytes bounds the credentials header: the longest scheme,
	// some white space, and the longest token. maxSchemeBytes is the
	// longest accepted scheme. Both built by New.
	maxHeaderBytes, maxSchemeBytes int

	now func() time.Time
	// monotonic: now is time.Now (WithClock not given), whose readings
	// carry the monotonic clock, so that one reading serves the claims'
	// times and the revoked set's freshness.
	monotonic     bool
	onError       func(http.ResponseWriter, *http.Request, error) // nil: WriteError
	logger        *slog.Logger
	onLogin       func(*http.Request, User)
	onLoginFailed func(*http.Request, string, error)
	audit         func(context.Context, Event) // WithAuditHook's; nil: none (audit.go)
	userCheck     bool
	maxBodyBytes  int64
	maxTokenBytes int

	throttle throttle // login and refresh throttling, client addresses (throttle.go)

	// Sessions (sessions.go) and the revocation feed (revocations.go).
	maxSessionAge  time.Duration // 0: none
	maxSessions    int
	sessionInfo    func(*http.Request) map[string]string // WithSessionInfo's hook; nil: none
	sessionInfoSet bool                                  // WithSessionInfo given; unset: defaultSessionInfo
	staleness      time.Duration
	noFeed         bool // WithoutRevocationFeed

	verifiedSlots int // WithVerifiedTokenCache (verified.go)

	// Sliding tokens (sliding.go): both 0 without WithSlidingTokens.
	slidingTTL, slidingRefreshTTL time.Duration
	// The token kinds verify(tok, "") accepts (the verify endpoint) and
	// those the middleware accepts; set by New.
	anyKind, bearerKind tokenKind
	adopt               adoption // WithSimplejwtAdoption (adopt.go); zero: none
}

// bearerTTL is the longest a token the middleware accepts lives: an
// access token, or a sliding token.
func (s *settings) bearerTTL() time.Duration { return max(s.accessTTL, s.slidingTTL) }

// config is what New works on: the settings, and the options from which
// New builds the rest of the Auth (keys, cookie mode, a JWKS client), with
// every problem found on the way.
type config struct {
	settings

	alg        string
	algSet     bool
	hmacKey    []byte
	signingKey any
	signingAlg string
	keyID      string
	previous   []previousKey
	// serverSecret keys CSRF tokens and stamps (keys.go); nil: derived
	// from the HMAC keys.
	serverSecret []byte
	jwks         *jwksConfig
	cookies      *CookieOptions // nil: no cookie mode (cookies.go)

	rotateSet, blacklistAfterRotationSet bool
	slidingSet                           bool // WithSlidingTokens given

	errs     []error  // every problem, reported together by New
	warnings []string // what New logs when it succeeds: accepted, but surely not meant
}

// Keys.

// WithHMACKey signs and verifies tokens with an HMAC secret (HS256 unless
// [WithAlgorithm] says HS384 or HS512). The key's bytes are used as they are
// and must be at least [MinHMACKeyBytes] long; use the same secret as a
// simplejwt deployment (its SIGNING_KEY) to accept its tokens. Bytes that
// parse as a public key or certificate (PEM, DER, base64 DER, JWK) are
// refused: with a public key as the HMAC secret, anyone could sign tokens.
// Required unless another key option is given. Make a secret with
// `openssl rand -base64 48` (64 bytes of text, enough for HS512).
func WithHMACKey(secret []byte) Option {
	return option(func(c *config) error {
		if c.hmacKey != nil {
			return errors.New("jwtpair: WithHMACKey given twice")
		}
		c.hmacKey = append([]byte{}, secret...)
		return nil
	})
}

// WithAlgorithm pins the HMAC algorithm of [WithHMACKey] (HS256, HS384 or
// HS512), or the algorithm of the keys of [WithJWKSURL]. Default "HS256".
// (WithSigningKey names its own algorithm.) Tokens whose header names
// another algorithm are refused.
func WithAlgorithm(alg string) Option {
	return option(func(c *config) error { c.alg, c.algSet = alg, true; return nil })
}

// WithSigningKey signs with an asymmetric private key: a crypto.Signer
// (*rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey, or an HSM/KMS
// signer) or PEM bytes (PKCS#8, PKCS#1, SEC 1). alg is one of RS256…RS512,
// PS256…PS512, ES256…ES512 (on the matching curve) or EdDSA (Ed25519). RSA
// keys under 2048 bits are refused. The key's id (kid) is its RFC 7638
// thumbprint unless [WithKeyID] says otherwise; tokens carry it, and
// [Auth.JWKSHandler] publishes the public key. Default: none (one of
// [WithHMACKey], WithSigningKey and [WithJWKSURL] is required).
func WithSigningKey(key any, alg string) Option {
	return option(func(c *config) error {
		if key == nil {
			return errors.New("jwtpair: nil signing key")
		}
		if !isAsymmetric(alg) {
			return fmt.Errorf("jwtpair: WithSigningKey takes an asymmetric algorithm, not %q (use WithHMACKey for HS*)", alg)
		}
		if c.signingKey != nil {
			return errors.New("jwtpair: WithSigningKey given twice")
		}
		c.signingKey, c.signingAlg = key, alg
		return nil
	})
}

// WithKeyID sets the kid of the signing key. Default: the RFC 7638
// thumbprint for asymmetric keys, none for HMAC keys. An HMAC key needs one
// when [WithPreviousKey] is used, so that its tokens name their key.
func WithKeyID(kid string) Option {
	return option(func(c *config) error {
		if kid == "" {
			return errors.New("jwtpair: empty key ID")
		}
		c.keyID = kid
		return nil
	})
}

// WithPreviousKey keeps accepting tokens signed by an earlier key, found by
// their kid, until the given time (set it to the rotation time plus the
// refresh TTL). key is an HMAC secret ([]byte, with an HS* alg), or an
// asymmetric public or private key or PEM (kid "" means its thumbprint).
// The key never signs. Repeatable.
//
// An HMAC key with kid "" is the key of tokens without a kid: the one a
// default deployment (WithHMACKey without WithKeyID) signed with. To rotate
// from there, give the new key a kid and the old one none:
//
//	WithHMACKey(newSecret), WithKeyID("k2"),
//	WithPreviousKey(oldSecret, "HS256", "", rotatedAt.Add(refreshTTL))
//
// and tokens minted before the rotation keep verifying, and refreshing,
// until that time. At most one key may lack a kid (a token without one
// could not say which it is), and such a token still needs the key's alg.
// HMAC secrets that parse as a public key are refused, as for WithHMACKey,
// and so is the signing key itself (the same secret or key pair, whatever
// the kid). A key whose until has passed verifies nothing: New accepts it
// (a configuration must not start failing as time passes) and logs a
// warning to remove it. Default: none.
func WithPreviousKey(key any, alg, kid string, until time.Time) Option {
	return option(func(c *config) error {
		if key == nil {
			return errors.New("jwtpair: nil previous key")
		}
		if until.IsZero() {
			return errors.New("jwtpair: a previous key needs an end of validity")
		}
		c.previous = append(c.previous, previousKey{material: key, alg: alg, kid: kid, until: until})
		return nil
	})
}

// WithServerSecret sets the secret that CSRF tokens (cookie mode) and the
// stamp claim ([User.Stamp]) are keyed with, through HKDF-SHA256 with a
// separate label for each. At least 32 random bytes, the same on every
// instance; bytes that parse as a public key are refused.
//
// Default: derived from the WithHMACKey secret, and from each HMAC
// [WithPreviousKey] until its end, so that a key rotation keeps CSRF tokens
// and stamps valid as long as it keeps the old key's tokens. With
// WithSigningKey or WithJWKSURL there is no shared secret to derive from:
// set this option on the issuer and on every resource server that checks
// stamps or CSRF tokens. New refuses cookie mode without a secret, and
// WithUserCheck on a resource server (WithJWKSURL) without one. An issuer
// without a secret refuses to issue tokens for a user with a Stamp (obtain
// answers 500 and logs it); it never falls back to an unkeyed digest.
//
// When set, it is the only source of those keys (the HMAC keys are not
// used). Changing it voids outstanding CSRF tokens and ends, at their next
// refresh, the sessions of users with a Stamp.
func WithServerSecret(secret []byte) Option {
	return option(func(c *config) error {
		if c.serverSecret != nil {
			return errors.New("jwtpair: WithServerSecret given twice")
		}
		if secret == nil {
			return errors.New("jwtpair: nil server secret")
		}
		c.serverSecret = append([]byte{}, secret...)
		return nil
	})
}

// Users and the store.

// WithAuthenticator sets who checks usernames and passwords. Required,
// except with [WithJWKSURL], which refuses it unless [WithUserCheck] needs
// its [UserLoader]. If the value also implements UserLoader, refresh
// reloads the user.
func WithAuthenticator(a Authenticator) Option {
	return option(func(c *config) error {
		if a == nil || isNil(a) {
			return errors.New("jwtpair: nil Authenticator")
		}
		c.authn = a
		return nil
	})
}

// WithStore sets where sessions and refresh-token state live. Default: a
// new [MemoryStore], which is lost on restart and not shared between
// processes; use a shared store (redisstore, sqlstore) when running more
// than one instance. The Auth follows the store's [RevocationFeed] (see
// [WithRevocationStaleness]); New refuses a store without one unless
// [WithoutRevocationFeed] is given.
func WithStore(s Store) Option {
	return option(func(c *config) error {
		if s == nil || isNil(s) {
			return errors.New("jwtpair: nil Store")
		}
		c.store = s
		return nil
	})
}

// WithStoreTimeout bounds each call the Auth makes to its [Store] and its
// [Limiter]: a login's throttle counts and its Issue, a refresh's Rotate
// (or Check), a logout's Revoke, the verify endpoint's Check of a refresh
// token, the session methods and endpoints. The call's context gets a
// deadline d after the call starts (a sooner deadline of the caller's
// stays), and a call that runs past it fails as the store being down:
// ErrStoreUnavailable, which the handlers answer 503
// {"detail":"…","code":"service_unavailable"}. So a stalled backend (a
// network partition that drops packets, a database lock held by another
// process, a paused server) costs a request a 503 within d instead of a
// hang, or a connection dropped by the server's WriteTimeout or a proxy's.
//
// Default [DefaultStoreTimeout], 5 seconds: a healthy store answers in
// milliseconds (a rotation is one round trip), 5 s rides out a brief stall
// (a reconnect after a failover, a checkpoint, SQLite writers queued
// behind one another) rather than failing the request, and the 503 still
// comes well within the write timeouts servers and proxies usually allow a
// request (10 to 60 s). d must be positive: New refuses 0 and below, as
// a call with no bound at all is what this option prevents.
//
// Each call gets its own d, and a request makes several in a row when
// each succeeds (a login: two throttle counts, Issue, and the reset of the
// username's count), so to bound a whole request's answer, put a deadline
// on the request's context below the server's WriteTimeout: the store
// calls then end at the sooner of the two (the example server's
// -request-timeout does so).
//
// The deadline reaches the backend through a store that honours its
// context, as the [Store] contract requires: sqlstore does, a wait for
// SQLite's write lock included; a go-redis client does only with
// ContextTimeoutEnabled set (otherwise its ReadTimeout, 3 s by default,
// bounds a read). The Authenticator and the UserLoader are the
// application's code: they get the request's context unchanged. The
// revocation feed's follower bounds its own calls
// ([WithRevocationStaleness]), and the middleware makes no store call.
func WithStoreTimeout(d time.Duration) Option {
	return option(func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("jwtpair: store timeout %v is not positive", d)
		}
		c.storeTimeout = d
		return nil
	})
}

// WithUserCheck makes the middleware load the user on every request through
// the Authenticator's [UserLoader], as simplejwt's JWTAuthentication does: a
// deleted user gets 401 {"detail":"User not found","code":"user_not_found"}
// ([ErrUserNotFound]), an inactive one 401 {"detail":"User is
// inactive","code":"user_inactive"} ([ErrUserInactive]), a token whose user
// stamp changed (a password change, a logout everywhere) 401
// {"detail":"The user's password has been changed.","code":
// "password_changed"}, and [UserFrom] returns the user as loaded. This makes revocation immediate for access tokens too,
// at the cost of one UserLoader call (typically a database query) per
// request; without it, an access token stays valid until it expires (the
// access TTL). Default off. Needs a UserLoader, and on a resource server
// (WithJWKSURL) the issuer's [WithServerSecret] to check stamps with.
func WithUserCheck() Option {
	return option(func(c *config) error { c.userCheck = true; return nil })
}

// WithOnLogin sets a hook called after each successful obtain, before the
// response is written (simplejwt's UPDATE_LAST_LOGIN). Default none.
func WithOnLogin(f func(r *http.Request, u User)) Option {
	return option(func(c *config) error { c.onLogin = f; return nil })
}

// WithOnLoginFailed sets a hook called after each obtain refused for bad
// credentials (simplejwt's ON_LOGIN_FAILED). It only observes (to count
// failures, say, for a rule of [WithLoginCheck]): it refuses nothing, and
// throttling is [WithThrottle]'s. It gets the username tried, never the
// password. Default none.
func WithOnLoginFailed(f func(r *http.Request, username string, err error)) Option {
	return option(func(c *config) error { c.onLoginFailed = f; return nil })
}

// WithAuditHook sets the hook that receives the audit events: logins
// succeeded, failed, throttled and refused, refreshes, reuse detected,
// logouts, sessions ended, user stamps changed, key sets refreshed (see
// [Event] and its kinds). Events carry no token, password or CSRF token;
// a failed login's carries the username tried (see Event.Username).
//
// The hook runs synchronously, on the request that caused the event
// (after the store has acted, before the answer is written), with that
// request's context, and from several goroutines at once: it must be safe
// for concurrent use, fast, and must not block. Logging with slog is fast
// enough; a hook that ships events over the network hands them to a
// buffered channel that another goroutine drains (and drops or counts what
// does not fit) rather than wait on the network. A hook that panics is
// recovered: the panic is logged with its stack (WithLogger) and the
// event lost, and the request goes on as if the hook had returned. Unlike
// a handler's panic, a hook's comes after the store has acted (a refresh
// token rotated, a session started or ended): unwinding the request would
// lose the answer the client needs, and a client that missed its rotated
// token then ends its own session by reusing the old one.
//
// Default: none (nothing is built or reported).
func WithAuditHook(f func(ctx context.Context, e Event)) Option {
	return option(func(c *config) error { c.audit = f; return nil })
}

// Lifetimes and rotation.

// WithAccessTTL sets the access-token lifetime: whole seconds, at most 24
// hours (an access token is checked without I/O, so it stays valid until it
// expires; long sessions come from refresh tokens). Default 5 minutes.
func WithAccessTTL(d time.Duration) Option {
	return option(func(c *config) error { c.accessTTL = d; return nil })
}

// WithRefreshTTL sets the refresh-token lifetime; each rotation starts a new
// one. Default 24 hours.
func WithRefreshTTL(d time.Duration) Option {
	return option(func(c *config) error { c.refreshTTL = d; return nil })
}

// WithRotation turns refresh-token rotation on or off. When on (default),
// refresh answers a new refresh token beside the access token. When off, a
// refresh token stays usable until it expires or is blacklisted.
func WithRotation(on bool) Option {
	return option(func(c *config) error { c.rotate, c.rotateSet = on, true; return nil })
}

// WithBlacklistAfterRotation says whether a rotated refresh token is consumed
// (default true): presenting it again is then reuse, and revokes its whole
// family (RFC 9700 §4.14.2). With false, the old token stays valid beside its
// successor, as simplejwt's BLACKLIST_AFTER_ROTATION=False. Only meaningful
// with rotation on.
func WithBlacklistAfterRotation(on bool) Option {
	return option(func(c *config) error {
		c.blacklistAfterRotation, c.blacklistAfterRotationSet = on, true
		return nil
	})
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
	return option(func(c *config) error { c.grace = d; return nil })
}

// WithSlidingTokens enables simplejwt's sliding tokens: one token, of type
// "sliding", that authenticates requests as an access token does and is
// refreshed, keeping its jti, until its refresh_exp. Each login through
// [Auth.SlidingObtainHandler] starts a session, which the token carries (sid)
// and the store records until refresh_exp; [Auth.SlidingRefreshHandler]
// renews its exp (lifetime ttl from then) for as long as the session lives
// and refresh_exp (refreshTTL after the login) has not passed; logout
// ([Auth.SlidingBlacklistHandler], [Auth.Revoke]) ends the session, and
// with it the token on every instance within [WithRevocationStaleness],
// as for access tokens. The middleware, [Auth.Check] and
// [Auth.VerifyAccess] then accept sliding tokens beside access tokens
// (simplejwt's AUTH_TOKEN_CLASSES = (AccessToken, SlidingToken));
// [Auth.AccessMiddleware] keeps a route to access tokens. A sliding token
// is never accepted where a refresh token is wanted, nor the reverse.
//
// ttl and refreshTTL are whole seconds, ttl at most refreshTTL and at most
// 24 hours (like an access token, a sliding token is checked with no I/O).
// simplejwt's defaults are [DefaultSlidingTTL] (5 minutes) and
// [DefaultSlidingRefreshTTL] (24 hours). The sliding endpoints answer the
// token in the body and set no cookie, also in cookie mode; New refuses
// the option with CookieOptions.OmitBodyTokens. Default: off; the sliding
// handlers cannot be mounted, and sliding tokens are refused everywhere
// ("Token has wrong type").
func WithSlidingTokens(ttl, refreshTTL time.Duration) Option {
	return option(func(c *config) error {
		c.slidingTTL, c.slidingRefreshTTL = ttl, refreshTTL
		c.slidingSet = true
		return nil
	})
}

// WithLeeway allows for clock skew when checking exp, nbf and iat. Default 0.
func WithLeeway(d time.Duration) Option {
	return option(func(c *config) error { c.leeway = d; return nil })
}

// Sessions (sessions.go) and the revocation feed (revocations.go).

// DefaultMaxSessionsPerUser is the default of [WithMaxSessionsPerUser].
const DefaultMaxSessionsPerUser = 50

// WithMaxSessionAge ends every session d after its login, whatever its
// refreshes: every token of the session expires by then (a refresh
// token's exp is the earlier of its refresh TTL and the session's end, an
// access token's too), the store refuses to rotate past it, and no
// rotation moves it. Without it a session refreshed within every refresh
// TTL lives for ever. d must be whole seconds, at least the access TTL.
// Default 0: no absolute expiry.
func WithMaxSessionAge(d time.Duration) Option {
	return option(func(c *config) error {
		if d <= 0 || d%time.Second != 0 {
			return fmt.Errorf("jwtpair: max session age must be a positive whole number of seconds, got %v", d)
		}
		c.maxSessionAge = d
		return nil
	})
}

// WithMaxSessionsPerUser caps how many live sessions one user may have: a
// login that would exceed n ends the user's oldest sessions (by login
// time), atomically with recording the new one, however many logins run
// at once; their refresh tokens stop working at once and their access
// tokens within the revocation bound ([WithRevocationStaleness]), as for
// any ended session. n must be at least 1.
//
// Default 50 ([DefaultMaxSessionsPerUser]): more than the devices and
// browsers one person is signed in on at once, with room for those forgotten
// in a drawer, so that no real user meets it; and few enough that one
// account, logging in as fast as it can, cannot fill the store: it never
// holds more than n live sessions of a user, and a store may forget the
// sessions the cap ends at once ([Store.Issue]; [MemoryStore] does).
// Service accounts that sign in from many workers may need more.
func WithMaxSessionsPerUser(n int) Option {
	return option(func(c *config) error {
		if n < 1 {
			return fmt.Errorf("jwtpair: max sessions per user must be at least 1, got %d", n)
		}
		c.maxSessions = n
		return nil
	})
}

// WithSessionInfo sets what the Auth records about the client at each
// login, for the user's session listing ([Auth.Sessions],
// [Auth.SessionsHandler]): f gets the obtain request and returns
// name/value pairs. nil records nothing (for privacy). Whatever f returns is
// bounded before the store sees it: at most 8 pairs (the first 8 names in
// byte order), names of 1 to 32 bytes of valid UTF-8 (others are dropped),
// values cut to 256 bytes at a character boundary, invalid UTF-8 replaced
// by U+FFFD. [Auth.IssuePair], which has no request, records nothing.
//
// Default: the user agent as "user_agent" and the client's address as
// "ip", as [Auth.ClientIP] reads it (behind a proxy, through
// [WithTrustedProxies]).
func WithSessionInfo(f func(r *http.Request) map[string]string) Option {
	return option(func(c *config) error { c.sessionInfo, c.sessionInfoSet = f, true; return nil })
}

// DefaultRevocationStaleness is the default of [WithRevocationStaleness].
const DefaultRevocationStaleness = time.Second

// WithRevocationStaleness bounds how long an ended session's access tokens
// may still be accepted. Each Auth follows its store's [RevocationFeed] in
// the background, into an in-memory set of ended sessions that the
// middleware (and [Auth.Check], [Auth.VerifyAccess], [Auth.Verify]) looks
// up with no I/O; when the set was last known complete more than d ago
// (the feed failing, the backend down), they answer 503 (ErrStoreUnavailable)
// rather than accept a token that may have been revoked, and recover by
// themselves when the feed works again. A starting Auth answers 503 until
// it has read the feed once ([New] waits up to 2 seconds for that). d is
// measured on the monotonic clock, never on [WithClock]'s. At least 100 ms.
// Default 1 second.
func WithRevocationStaleness(d time.Duration) Option {
	return option(func(c *config) error {
		if d < minStaleness {
			return fmt.Errorf("jwtpair: revocation staleness %v is under %v", d, minStaleness)
		}
		c.staleness = d
		return nil
	})
}

// WithoutRevocationFeed makes the Auth follow no revocation feed: ended
// sessions' access tokens (logout, reuse detection, a session ended by the
// user or an admin, a password change) then stay valid until they expire,
// at most the access TTL; refresh tokens are refused at once as always.
// It is required with a [Store] that has no [RevocationFeed], and with
// [WithJWKSURL] unless [WithStore] names the issuer's store. Default off:
// the feed is followed.
func WithoutRevocationFeed() Option {
	return option(func(c *config) error { c.noFeed = true; return nil })
}

// Claims, the credentials header and limits.

// WithAudience puts aud in issued tokens (the first value) and requires
// verified tokens to name at least one of the values. Default: none, and
// tokens carrying aud are refused (RFC 7519 §4.1.3).
func WithAudience(aud ...string) Option {
	return option(func(c *config) error {
		for _, a := range aud {
			if a == "" {
				return errors.New("jwtpair: empty audience")
			}
		}
		c.audience = append(c.audience, aud...)
		return nil
	})
}

// WithIssuer puts iss in issued tokens and requires it, equal, in verified
// ones. Default: none, and iss is not checked.
func WithIssuer(iss string) Option {
	return option(func(c *config) error { c.issuer = iss; return nil })
}

// WithUsernameField names the obtain endpoint's username field. Default
// "username" (simplejwt's USERNAME_FIELD).
func WithUsernameField(name string) Option {
	return option(func(c *config) error { c.usernameField = name; return nil })
}

// WithExpiriesInBody adds "access_expires" and "refresh_expires", the
// tokens' exp claims in Unix seconds, to the 200 bodies of obtain and
// refresh, as cookie mode has them, so that a client can schedule its
// refresh without decoding a token: {"refresh","access","access_expires",
// "refresh_expires"} from both (refresh without "refresh" when not
// rotating; "refresh_expires" is then the presented token's exp).
// simplejwt's bodies have no such fields: a client written for it ignores
// them. Cookie mode ([WithCookies]) has them either way. Default off:
// the bodies are simplejwt's, {"refresh","access"} and {"access"} (with
// "refresh" when rotating).
func WithExpiriesInBody() Option {
	return option(func(c *config) error { c.expiriesInBody = true; return nil })
}

// WithUserIDClaim names the claim holding the user id. Default "user_id".
func WithUserIDClaim(name string) Option {
	return option(func(c *config) error { c.userIDClaim = name; return nil })
}

// WithTokenTypeClaim names the claim holding the token type. Default
// "token_type".
func WithTokenTypeClaim(name string) Option {
	return option(func(c *config) error { c.tokenTypeClaim = name; return nil })
}

// WithHeader sets the request header the middleware reads and the schemes it
// accepts there, matched case-insensitively (RFC 7235). Default
// "Authorization" with scheme "Bearer". A header with another scheme counts
// as no credentials, so other authentication can handle it.
func WithHeader(name string, schemes ...string) Option {
	return option(func(c *config) error {
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
		c.header, c.schemes = name, schemes
		return nil
	})
}

// WithMaxBodyBytes bounds request bodies of the token endpoints; larger
// bodies get 413. Default 64 KiB.
func WithMaxBodyBytes(n int64) Option {
	return option(func(c *config) error { c.maxBodyBytes = n; return nil })
}

// WithMaxTokenBytes bounds the length of a token; longer ones are refused
// before any decoding, and are never minted (issuing a pair whose tokens
// would be longer fails). Default 8 KiB.
func WithMaxTokenBytes(n int) Option {
	return option(func(c *config) error { c.maxTokenBytes = n; return nil })
}

// WithVerifiedTokenCache sets how many verified access (and sliding)
// tokens each Auth remembers, so that a token presented again and again (a
// client's every request, for the token's lifetime) skips the signature
// check and the claims' parsing from its third request on (it is cached
// on its second): the middleware's cost of a valid token then falls from
// about 3–4× a bare HMAC-SHA256 verify to under 2× (BENCHMARKS.md). What it
// skips does not change while the keys stay: a token is found only as the
// same string, verified by the same keys, and a previous key past its end
// of validity or a JWKS refresh forgets it. Every other rule is applied on
// every request, as to a token seen for the first time: expiry, not-before
// and issued-at with the leeway, the issuer and audience, the token type
// the route wants, the revoked set, the user check.
//
// n is a number of slots (rounded up to a power of two), each holding at
// most one token, its claims and a copy of it (about 800 bytes with
// simplejwt's claims). A token takes its slot, in the place of the one
// there, on its second request in a row there, so that tokens presented
// once push out no token in use. 0 turns the cache off. At most
// 1,048,576. Default 4096: at most about 3 MiB.
func WithVerifiedTokenCache(n int) Option {
	return option(func(c *config) error {
		if n < 0 || n > maxVerified {
			return fmt.Errorf("jwtpair: verified token cache of %d slots is outside 0..%d", n, maxVerified)
		}
		c.verifiedSlots = n
		return nil
	})
}

// Plumbing.

// WithClock sets the time source. Default time.Now. For tests.
func WithClock(now func() time.Time) Option {
	return option(func(c *config) error {
		if now == nil {
			return errors.New("jwtpair: nil clock")
		}
		c.now, c.monotonic = now, false
		return nil
	})
}

// WithErrorHandler replaces how handlers and the middleware answer errors.
// It receives one of the package's sentinel errors, wrapped, or a
// [*FieldError]. Default [WriteError], which writes the documented JSON.
func WithErrorHandler(h func(http.ResponseWriter, *http.Request, error)) Option {
	return option(func(c *config) error {
		if h == nil {
			return errors.New("jwtpair: nil error handler")
		}
		c.onError = h
		return nil
	})
}

// WithLogger sets where store and authenticator failures are logged.
// Default slog.Default(). Tokens and passwords are never logged.
func WithLogger(l *slog.Logger) Option {
	return option(func(c *config) error {
		if l == nil {
			return errors.New("jwtpair: nil logger")
		}
		c.logger = l
		return nil
	})
}

// Cookie mode (cookies.go).

// WithCookies turns on cookie mode, for browser apps: obtain and refresh
// also set an HttpOnly access-token cookie, an HttpOnly refresh-token cookie
// (scoped to o.RefreshPath) and a JS-readable CSRF cookie, each living as
// long as its token; the JSON body gains "access_expires" and
// "refresh_expires" (Unix seconds) so the page can schedule its refresh.
// The middleware reads the access cookie when a request has no
// Authorization header (a header always wins); refresh and blacklist read
// the refresh cookie when the body has no "refresh" field (of several sent
// under its name, the one of the session the CSRF token names: another
// host of the site may have planted the others); blacklist clears the
// cookies, also when the token was already dead.
//
// A request authenticated by a cookie with an unsafe method (anything but
// GET, HEAD and OPTIONS) must carry the CSRF cookie's value in o.CSRFHeader,
// and every unsafe request without an Authorization header, like every
// cookie-mode token endpoint, is refused when the browser reports it
// cross-origin (Sec-Fetch-Site, Origin; net/http's CrossOriginProtection).
// Those failures are answered 403 csrf_failed (ErrCSRF). Requests with an
// Authorization header need no CSRF token and are not origin-checked.
//
// Browsers drop Secure cookies set over plain HTTP (localhost excepted):
// the first time cookies are set in answer to a request without TLS for a
// host that is not loopback, a warning is logged.
//
// Default: off. Every setting is checked at New; see [CookieOptions].
func WithCookies(o CookieOptions) Option {
	return option(func(c *config) error {
		if c.cookies != nil {
			return errors.New("jwtpair: WithCookies given twice")
		}
		o.TrustedOrigins = slices.Clone(o.TrustedOrigins)
		c.cookies = &o
		return nil
	})
}

// Resource servers: keys from a JWKS URL (jwks.go).

// WithJWKSURL makes the Auth a resource server that only verifies: access
// tokens are checked with the public keys published at u (simplejwt's
// JWK_URL), fetched with jwx's jwk.Cache, refreshed in the background (see
// [WithJWKSRefresh]) and picked by kid. u must be https, or http on a
// loopback host (localhost, 127.0.0.0/8, ::1); see [WithJWKSInsecureHTTP].
// A token naming a kid the set lacks may cause a refetch: at most one per
// 5 seconds whatever the kids, and, for a kid a refetch did not find, none
// for that kid during the next minute. So other tokens' kids cannot keep a
// newly published kid from being found for more than 5 seconds (plus the
// fetch); a kid that tokens named in the minute before it was published
// may take up to that minute: publish keys before signing with them. Keys
// are only fetched from u's origin (see [WithJWKSHTTPClient] on redirects),
// never from URLs inside tokens (jku, x5u are refused). Needs [WithAlgorithm]; the
// token endpoints cannot be used, so [WithAuthenticator] is refused unless
// [WithUserCheck] loads users through its UserLoader. Call
// [Auth.Close] to stop the background refresh. Default: none; the Auth
// verifies with its own keys.
func WithJWKSURL(u string) Option {
	return option(func(c *config) error {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			return fmt.Errorf("jwtpair: bad JWKS URL %q: want an absolute http(s) URL", u)
		}
		c.jwksConf().url = u
		return nil
	})
}

// WithJWKSInsecureHTTP lets [WithJWKSURL] name an http:// URL on a host that
// is not loopback. Default: such a URL is refused by New. Over plain HTTP
// anyone on the network path (a shared network, a proxy, a spoofed DNS
// answer) can replace the key set with keys of their own and then sign
// tokens this Auth accepts as genuine. Use it only where the network itself
// authenticates and encrypts (a service mesh with mTLS, a private link), and
// never across the internet.
func WithJWKSInsecureHTTP() Option {
	return option(func(c *config) error {
		c.jwksConf().insecureHTTP = true
		return nil
	})
}

// WithJWKSHTTPClient sets the client that fetches the key set: a custom CA
// pool, mTLS, a proxy or a dialer that guards against SSRF. The client is
// not modified: a copy of it is used, which keeps its Transport, Jar,
// Timeout and CheckRedirect, except that a zero Timeout becomes 5 seconds
// (a fetch that never ends would stall every later refresh) and a nil
// CheckRedirect becomes the default policy below. A CheckRedirect of the
// client's own is used as it is, not wrapped: setting one is a decision
// about redirects (for example a key set that moved to a CDN on another
// host), which wrapping it in the default policy would overrule.
//
// Default: an http.Client with a 5-second timeout whose redirect policy
// follows at most 10 redirects and only within the origin (scheme, host
// and port) of the JWKS URL, so that keys come only from that origin.
func WithJWKSHTTPClient(cl *http.Client) Option {
	return option(func(c *config) error {
		if cl == nil {
			return errors.New("jwtpair: nil JWKS HTTP client")
		}
		c.jwksConf().client = cl
		return nil
	})
}

// WithJWKSRefresh sets how often the key set is fetched again in the
// background. Default 15 minutes; at least one second.
func WithJWKSRefresh(every time.Duration) Option {
	return option(func(c *config) error {
		if every < time.Second {
			return fmt.Errorf("jwtpair: JWKS refresh %v is under a second", every)
		}
		c.jwksConf().refresh = every
		return nil
	})
}

// Throttling and client addresses (throttle.go, limiter.go, clientip.go).

// WithThrottle sets the limits of login and refresh throttling: per client
// address, and per username and client address (see [Throttle]). A zero
// Limit turns its throttle off; WithThrottle(jwtpair.Throttle{}) turns
// throttling off. Default: [DefaultThrottle] (5 logins at once per
// username and address, then 5 per 15 minutes; 20 at once per address,
// then 10 a minute; refresh 300 a minute per address).
func WithThrottle(t Throttle) Option {
	return option(func(c *config) error {
		c.throttle.Throttle = t
		return nil
	})
}

// WithLimiter sets where throttling counts attempts. Give every instance
// of a service a limiter on the backend they share
// (redisstore.NewLimiter(rdb), sqlstore.NewLimiter(db)), so that a
// limit holds across instances. Default: the [Store] when it implements
// [Limiter], else a [MemoryLimiter] of this Auth's own, which counts per
// process (New logs a warning when the store is not a MemoryStore).
func WithLimiter(l Limiter) Option {
	return option(func(c *config) error {
		if l == nil || isNil(l) {
			return errors.New("jwtpair: nil Limiter")
		}
		c.throttle.limiter = l
		return nil
	})
}

// WithTrustedProxies names the reverse proxies (load balancers, CDNs) in
// front of the service, by address or CIDR ("10.0.0.0/8",
// "2001:db8::/32", "192.0.2.10"): a request whose peer (RemoteAddr) is one
// of them is counted under the client address their header names (see
// [Auth.ClientIP] and [WithProxyHeader]). Name exactly the proxies that
// set that header: a header that reaches a trusted address unchanged from
// a client would let it pick its address. Default: none; the client is
// RemoteAddr, and X-Forwarded-For and Forwarded are ignored.
func WithTrustedProxies(cidrs ...string) Option {
	return option(func(c *config) error {
		p, err := parseProxies(cidrs)
		if err != nil {
			return err
		}
		c.throttle.proxies.trusted = append(c.throttle.proxies.trusted, p...)
		return nil
	})
}

// WithProxyHeader names the header the trusted proxies write the client's
// address in: "X-Forwarded-For" (nginx, HAProxy, AWS and Google load
// balancers) or "Forwarded" (RFC 7239). Only that header is read, and only
// from a trusted proxy: a proxy that sets one passes the other through as
// the client sent it. Default "X-Forwarded-For".
func WithProxyHeader(name string) Option {
	return option(func(c *config) error {
		switch h := canonicalHeader(name); h {
		case headerXFF, headerForwarded:
			c.throttle.proxies.header = h
			return nil
		}
		return fmt.Errorf("jwtpair: proxy header %q: want X-Forwarded-For or Forwarded", name)
	})
}

// WithLoginCheck sets a hook that can refuse a login before the password
// is checked, for an application's own rules (a CAPTCHA to solve, a
// maintenance window): obtain calls it after the throttles let the
// attempt through and before the Authenticator. nil lets the login go on.
// An error is handed to the error handler as it is: a [*Refusal] is
// answered with the status, body and headers it carries, a
// [*ThrottledError] as a throttle's 429, [ErrPermissionDenied] with 403;
// any other error with 500, logged. The endpoint has read the body by
// then: r.PostForm holds a form's fields, but a JSON body's other fields
// are gone, so send what the check needs (a CAPTCHA answer) in a header.
// Default: none.
func WithLoginCheck(f func(r *http.Request, username string) error) Option {
	return option(func(c *config) error {
		c.throttle.loginCheck = f
		return nil
	})
}

func defaultConfig() config {
	return config{
		alg: "HS256",
		settings: settings{
			accessTTL:              DefaultAccessTTL,
			refreshTTL:             DefaultRefreshTTL,
			rotate:                 true,
			blacklistAfterRotation: true,
			usernameField:          "username",
			userIDClaim:            "user_id",
			tokenTypeClaim:         "token_type",
			header:                 "Authorization",
			schemes:                []string{"Bearer"},
			now:                    time.Now,
			monotonic:              true,
			logger:                 slog.Default(),
			maxBodyBytes:           defaultMaxBodyBytes,
			maxTokenBytes:          defaultMaxTokenBytes,
			throttle:               throttle{Throttle: DefaultThrottle()},
			maxSessions:            DefaultMaxSessionsPerUser,
			staleness:              DefaultRevocationStaleness,
			storeTimeout:           DefaultStoreTimeout,
			verifiedSlots:          keepVerified,
		},
	}
}

// bad records a problem of the configuration.
func (c *config) bad(format string, a ...any) {
	c.errs = append(c.errs, fmt.Errorf("jwtpair: "+format, a...))
}

// fail records err, if any.
func (c *config) fail(err error) {
	if err != nil {
		c.errs = append(c.errs, err)
	}
}

// The checks of New, one per concern. Each checks its part of the
// configuration, records every problem it finds, and builds what its part
// gives the Auth. The key material has its own: buildKeys here, checkJWKS
// (jwks.go), checkSecret (keys.go), buildStampKeys (stamp.go) and
// buildCookies (cookies.go).

// buildKeys checks where the keys come from and builds the keyring: none
// with a JWKS URL, whose key set is fetched once all is known to be right.
func (c *config) buildKeys() *keyring {
	if !utf8.ValidString(c.keyID) {
		c.bad("%q is not valid UTF-8", c.keyID)
	}
	if c.signingKey != nil && c.algSet && c.alg != c.signingAlg {
		c.bad("WithAlgorithm(%q) contradicts WithSigningKey's %q", c.alg, c.signingAlg)
	}
	sources := 0
	for _, set := range []bool{c.hmacKey != nil, c.signingKey != nil, c.jwks != nil} {
		if set {
			sources++
		}
	}
	switch {
	case sources == 0:
		c.bad("a signing key is required (WithHMACKey or WithSigningKey), or WithJWKSURL to only verify")
	case sources > 1:
		c.bad("give one of WithHMACKey, WithSigningKey and WithJWKSURL")
	case c.jwks == nil:
		ring, err := c.buildKeyring()
		c.fail(err)
		return ring
	}
	return nil
}

// checkUsers checks who authenticates users, and sets the UserLoader and
// the default store.
func (c *config) checkUsers() {
	if c.authn == nil && c.jwks == nil {
		c.bad("an Authenticator is required (WithAuthenticator)")
	}
	if c.authn != nil && c.jwks != nil && !c.userCheck {
		c.bad("WithAuthenticator is unused with WithJWKSURL: a resource server issues no tokens (its token endpoints answer ErrVerifyOnly); remove it, or add WithUserCheck to load users through its UserLoader")
	}
	c.loader, _ = c.authn.(UserLoader)
	if c.userCheck && c.loader == nil {
		c.bad("WithUserCheck needs an Authenticator that implements UserLoader")
	}
	if c.store == nil {
		if c.jwks != nil && !c.noFeed {
			c.bad("a resource server (WithJWKSURL) learns of ended sessions from the issuer's store: give it WithStore with that store, or WithoutRevocationFeed to accept access tokens of ended sessions until they expire")
		}
		// Its feed keeps revocations as long as the access tokens they
		// cover live, however long that is.
		c.store = NewMemoryStore(WithMemoryClock(c.now),
			WithMemoryRevocationRetention(max(DefaultRevocationRetention, c.bearerTTL()+c.leeway+revocationMargin)))
	}
}

// checkLifetimes checks the token lifetimes and the leeway.
func (c *config) checkLifetimes() {
	// exp is a NumericDate in whole seconds: a lifetime under a second, or
	// with a fraction of one, would make tokens that die early (or at once).
	for _, ttl := range []struct {
		name string
		d    time.Duration
	}{{"access", c.accessTTL}, {"refresh", c.refreshTTL}} {
		switch {
		case ttl.d <= 0:
			c.bad("%s TTL must be positive, got %v", ttl.name, ttl.d)
		case ttl.d%time.Second != 0:
			c.bad("%s TTL must be whole seconds (exp counts seconds), got %v", ttl.name, ttl.d)
		}
	}
	if c.accessTTL > maxAccessTTL {
		c.bad("access TTL %v is over %v: an access token cannot be revoked before it expires; keep it short (default %v) and let refresh tokens (WithRefreshTTL) make sessions long", c.accessTTL, maxAccessTTL, DefaultAccessTTL)
	}
	if c.accessTTL > 0 && c.refreshTTL > 0 && c.accessTTL > c.refreshTTL {
		c.bad("access TTL (%v) longer than refresh TTL (%v)", c.accessTTL, c.refreshTTL)
	}
	if c.leeway < 0 {
		c.bad("leeway must not be negative, got %v", c.leeway)
	}
	if c.leeway >= c.accessTTL && c.accessTTL > 0 {
		c.bad("leeway (%v) must be shorter than the access TTL (%v)", c.leeway, c.accessTTL)
	}
	if c.maxSessionAge > 0 && c.maxSessionAge < c.accessTTL {
		c.bad("max session age (%v) shorter than the access TTL (%v)", c.maxSessionAge, c.accessTTL)
	}
}

// checkRotation checks rotation, blacklist-after-rotation and the reuse
// grace window against each other.
func (c *config) checkRotation() {
	if c.grace < 0 {
		c.bad("reuse grace must not be negative, got %v", c.grace)
	}
	if c.grace > 0 && c.grace >= c.refreshTTL {
		c.bad("reuse grace (%v) must be shorter than the refresh TTL (%v)", c.grace, c.refreshTTL)
	}
	if c.grace > 0 && (!c.rotate || !c.blacklistAfterRotation) {
		c.bad("reuse grace needs rotation with blacklist-after-rotation")
	}
	if c.blacklistAfterRotationSet && c.blacklistAfterRotation && c.rotateSet && !c.rotate {
		c.bad("blacklist-after-rotation needs rotation")
	}
}

// buildClaims checks the claim names and values tokens carry, and builds
// the JSON keys minting writes.
func (c *config) buildClaims() {
	if c.usernameField == "" || c.usernameField == "password" {
		c.bad("bad username field %q", c.usernameField)
	}
	userID, tokenType := c.userIDClaim, c.tokenTypeClaim
	switch {
	case userID == "" || tokenType == "":
		c.bad("claim names must not be empty")
	case userID == tokenType:
		c.bad("user-id and token-type claims share the name %q", userID)
	case claimset.IsRegistered(userID) || claimset.IsRegistered(tokenType):
		c.bad("claim names must not be registered claims (%s)", registeredClaims)
	}
	// Tokens carry these strings; encoding/json would rewrite invalid UTF-8
	// in them, and no token minted with the rewritten text would verify.
	for _, s := range append([]string{c.issuer, userID, tokenType}, c.audience...) {
		if !utf8.ValidString(s) {
			c.bad("%q is not valid UTF-8", s)
		}
	}
	c.names = claimset.NewNames(userID, tokenType)
	c.names.Expect(c.issuer, c.audience)
}

// buildHeader builds what the middleware reads the credentials header
// with: its canonical name, the schemes in lower case, and the bounds
// derived from them. (WithHeader checked the names.)
func (c *config) buildHeader() {
	c.header = canonicalHeader(c.header)
	schemes := make([]string, len(c.schemes))
	for i, s := range c.schemes {
		schemes[i] = strings.ToLower(s)
		c.maxSchemeBytes = max(c.maxSchemeBytes, len(s))
	}
	c.schemes = schemes
	c.maxHeaderBytes = c.maxSchemeBytes + 16 + c.maxTokenBytes
}

// checkLimits checks the size limits.
func (c *config) checkLimits() {
	if c.maxBodyBytes <= 0 {
		c.bad("max body bytes must be positive")
	}
	if c.maxTokenBytes < 64 {
		c.bad("max token bytes must be at least 64")
	}
}

const registeredClaims = "exp, iat, nbf, auth_time, refresh_exp, jti, iss, aud, stamp, sid"

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
