package demo

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/jwtpair/jwtpair"
)

// demoUser is one -user (or -inactive-user) account.
type demoUser struct {
	id, name, password string
	inactive           bool // cannot log in; loading it answers ErrUserInactive
}

// demoUsers authenticates the -user accounts. Passwords are compared as
// SHA-256 digests in constant time, and unknown names cost the same
// comparison, so timing tells nothing. (A real Authenticator compares
// bcrypt or argon2id hashes from its database.)
type demoUsers struct {
	byName map[string]demoUser
	byID   map[string]demoUser
}

func newDemoUsers(users []demoUser) *demoUsers {
	d := &demoUsers{byName: map[string]demoUser{}, byID: map[string]demoUser{}}
	for _, u := range users {
		d.byName[u.name], d.byID[u.id] = u, u
	}
	return d
}

var dummyDigest = sha256.Sum256([]byte("no such user"))

func (d *demoUsers) Authenticate(_ context.Context, username, password string) (jwtpair.User, error) {
	u, ok := d.byName[username]
	want := dummyDigest
	if ok {
		want = sha256.Sum256([]byte(u.password))
	}
	got := sha256.Sum256([]byte(password))
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 || !ok || u.inactive {
		return jwtpair.User{}, jwtpair.ErrInvalidCredentials
	}
	// simplejwt's claims and nothing else: a frontend reads the same
	// tokens from either.
	return jwtpair.User{ID: u.id}, nil
}

// LoadUser lets refresh (and, with -user-check, every request) re-read the
// user: a removed or inactive account cannot refresh.
func (d *demoUsers) LoadUser(_ context.Context, id string) (jwtpair.User, error) {
	u, ok := d.byID[id]
	switch {
	case !ok:
		return jwtpair.User{}, jwtpair.ErrUserNotFound
	case u.inactive:
		return jwtpair.User{}, jwtpair.ErrUserInactive
	}
	return jwtpair.User{ID: u.id}, nil
}

// server is the example's handler and what must be released with it.
type server struct {
	handler  http.Handler
	auth     *jwtpair.Auth
	tls      *tls.Config       // -tls-cert and -tls-key; nil for plain HTTP
	pool     func() *PoolStats // the store's pool figures for -debug-addr; nil for the memory store
	warnings []string
	closers  []func() error
}

func (s *server) Close() error {
	var first error
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i](); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// newServer builds the Auth, the store and the routes for cfg. It logs to
// logger, and every audit event to audit (see auditHook).
func newServer(ctx context.Context, cfg config, logger, audit *slog.Logger) (*server, error) {
	s := &server{}
	tlsConfig, err := cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	s.tls = tlsConfig
	keyOpt, _, warning, err := cfg.signingOption()
	if err != nil {
		return nil, err
	}
	if warning != "" {
		s.warnings = append(s.warnings, warning)
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, st.Close)
	s.pool = st.Pool

	opts := []jwtpair.Option{
		keyOpt,
		jwtpair.WithAuthenticator(newDemoUsers(cfg.users)),
		jwtpair.WithStore(st.Store),
		jwtpair.WithAccessTTL(cfg.accessTTL),
		jwtpair.WithRefreshTTL(cfg.refreshTTL),
		jwtpair.WithRotation(cfg.rotate),
		jwtpair.WithReuseGrace(cfg.grace),
		jwtpair.WithLogger(logger),
		jwtpair.WithAuditHook(auditHook(audit)),
	}
	if st.Limiter != nil {
		opts = append(opts, jwtpair.WithLimiter(st.Limiter)) // login throttling across instances
	}
	if !cfg.throttle {
		opts = append(opts, jwtpair.WithThrottle(jwtpair.Throttle{}))
		s.warnings = append(s.warnings, "-throttle=false: logins and refreshes are not throttled; it is for load and differential tests, never for a deployment")
	}
	if cfg.userCheck {
		opts = append(opts, jwtpair.WithUserCheck())
	}
	opts = append(opts, jwtpair.WithMaxSessionsPerUser(cfg.maxSess), jwtpair.WithStoreTimeout(cfg.storeTimeout))
	if cfg.maxAge != 0 {
		opts = append(opts, jwtpair.WithMaxSessionAge(cfg.maxAge))
	}
	if cfg.sliding {
		opts = append(opts, jwtpair.WithSlidingTokens(jwtpair.DefaultSlidingTTL, jwtpair.DefaultSlidingRefreshTTL))
	}
	if !cfg.adoptUntil.IsZero() {
		opts = append(opts, jwtpair.WithSimplejwtAdoption(cfg.adoptCutover, cfg.adoptUntil))
	}
	if cfg.openHello {
		s.warnings = append(s.warnings, "-open-hello: GET /open/hello/ answers without authentication; it is for benchmarks, never for a deployment")
	}
	if cfg.cookies {
		// A browser-only demo: tokens only in HttpOnly cookies, never in bodies.
		co := jwtpair.CookieOptions{OmitBodyTokens: true}
		switch {
		case s.tls != nil:
			// HTTPS: the production cookies (Secure, prefixed names), loopback or not.
		case loopback(cfg.addr):
			co.Insecure = true
			s.warnings = append(s.warnings, "cookie mode on a loopback address over plain HTTP: cookies are not Secure (development only)")
		default:
			s.warnings = append(s.warnings, "cookie mode over plain HTTP on a non-loopback address: cookies are Secure, so browsers keep them only through an HTTPS proxy in front of this server or with -tls-cert and -tls-key")
		}
		opts = append(opts, jwtpair.WithCookies(co))
	}
	if !strings.HasPrefix(cfg.alg, "HS") {
		// No HMAC secret to derive the CSRF and stamp keys from: the server
		// secret. Instances sharing -key share it (jwtpair derives the keys
		// with HKDF); a key made for this run gets a secret for this run.
		secret := make([]byte, 32)
		_, _ = rand.Read(secret)
		if cfg.keyPath != "" {
			if secret, err = os.ReadFile(cfg.keyPath); err != nil {
				s.Close()
				return nil, err
			}
		}
		opts = append(opts, jwtpair.WithServerSecret(secret))
	}
	auth, err := jwtpair.New(opts...)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.auth = auth
	s.closers = append(s.closers, auth.Close)
	s.handler = routes(auth, cfg)
	return s, nil
}

// routes mounts the token endpoints at simplejwt's paths and the protected
// /hello/ route, each on its exact path ("{$}"), as Django's path() routes
// match: a pattern ending in "/" alone is a subtree, and "/api/token/"
// would issue tokens at /api/token/anything/ too (and swallow every other
// /api/token/… route). The token handlers answer OPTIONS and 405
// themselves, so they are mounted without a method.
func routes(auth *jwtpair.Auth, cfg config) http.Handler {
	mux := http.NewServeMux()
	// The routes that call the store, each under -request-timeout.
	stored := func(pattern string, h http.Handler) { mux.Handle(pattern, withDeadline(cfg.requestTimeout, h)) }
	stored("/api/token/{$}", auth.ObtainHandler())
	stored("/api/token/refresh/{$}", auth.RefreshHandler())
	stored("/api/token/verify/{$}", auth.VerifyHandler())
	stored("/api/token/blacklist/{$}", auth.BlacklistHandler())
	protect := auth.Middleware
	if cfg.sliding {
		// simplejwt's sliding views at the paths of its docs, and a logout
		// of jwtpair's (simplejwt has none). /hello/ stays the tutorials'
		// view, for access tokens only; /sliding/hello/ takes sliding
		// tokens too (simplejwt's AUTH_TOKEN_CLASSES = (AccessToken,
		// SlidingToken)), as does the Middleware of an Auth with them.
		stored("/api/token/sliding/{$}", auth.SlidingObtainHandler())
		stored("/api/token/sliding/refresh/{$}", auth.SlidingRefreshHandler())
		stored("/api/token/sliding/blacklist/{$}", auth.SlidingBlacklistHandler())
		mux.Handle("/sliding/hello/{$}", allow(helloMethods, auth.Middleware(http.HandlerFunc(hello))))
		protect = auth.AccessMiddleware
	}
	mux.Handle("/hello/{$}", allow(helloMethods, protect(http.HandlerFunc(hello))))
	if cfg.sessions {
		stored("/api/sessions/{$}", auth.Middleware(auth.SessionsHandler()))
		stored("/api/sessions/{sid}/{$}", auth.Middleware(auth.EndSessionHandler()))
		stored("/api/sessions/end-others/{$}", auth.Middleware(auth.EndOtherSessionsHandler()))
	}
	if cfg.openHello {
		// The view of /hello/ as mounted there, Allow header included,
		// without the middleware: bench/run.sh measures what the
		// middleware costs against it, so nothing else may differ. It
		// answers user_id "".
		mux.Handle("GET /open/hello/", allow(helloMethods, http.HandlerFunc(hello)))
	}
	if !strings.HasPrefix(cfg.alg, "HS") {
		mux.Handle("/.well-known/jwks.json", auth.JWKSHandler())
	}
	// The OpenAPI 3.1 description of jwtpair's endpoints, at the paths above
	// (those of flags not given are described too).
	mux.Handle("/openapi.json", jwtpair.OpenAPIHandler(nil))
	if cfg.cookies {
		mountPage(mux, auth, cfg.sessions) // page.go: the browser demo at /
	}
	return mux
}

// writeTimeout is the server's WriteTimeout: a response not written by
// then is cut off, and the client sees the connection close with no answer.
const writeTimeout = 15 * time.Second

// defaultRequestTimeout is -request-timeout's default: two store calls of
// the default store timeout (5 s) fit, and the 503 comes 5 s before
// writeTimeout would cut the answer off.
const defaultRequestTimeout = 10 * time.Second

// withDeadline gives the requests h serves a context that ends d after
// they arrive. The store calls made for them (each also bounded by
// -store-timeout) end by then at the latest, and jwtpair answers their
// failure with its 503 JSON, Content-Type and all, long before the
// server's writeTimeout would drop the connection. (http.TimeoutHandler
// would answer with its own body instead, buffer every response and run
// each request in a goroutine of its own.) The protected /hello/ does no
// I/O and goes without.
func withDeadline(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// helloMethods are the methods of the tutorials' Django view (GET and
// POST; DRF adds HEAD and OPTIONS).
const helloMethods = "GET, POST, HEAD, OPTIONS"

// allow sets the Allow header on every answer of h, as DRF's views do
// (also when the middleware refuses the request).
func allow(methods string, h http.Handler) http.Handler {
	v := []string{methods}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Allow"] = v
		h.ServeHTTP(w, r)
	})
}

// helloMetadata is the OPTIONS answer of /hello/, DRF's metadata of the
// tutorials' view (its name and docstring; no browsable API).
var helloMetadata = map[string]any{
	"name":        "Hello",
	"description": "The seed tutorials' protected view, answering the user's id too.",
	"renders":     []string{"application/json"},
	"parses":      []string{"application/json", "application/x-www-form-urlencoded", "multipart/form-data"},
}

// hello is the protected route of the tutorials, answering as their
// Django view: GET and POST (and HEAD) greet the user, OPTIONS describes
// the view, any other method is refused in DRF's words.
func hello(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost:
		u, _ := jwtpair.UserFrom(r.Context())
		writeJSON(w, http.StatusOK, map[string]string{"message": "Hello, World!", "user_id": u.ID})
	case http.MethodOptions:
		writeJSON(w, http.StatusOK, helloMetadata)
	default:
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"detail": `Method "` + r.Method + `" not allowed.`})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// loopback reports whether addr listens on a loopback address only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// auditHook logs each audit event as one line of audit (a JSON handler's
// logger in run): {"time":…,"level":"INFO","msg":"audit","event":{"kind":
// "login_succeeded","user_id":"1","session_id":…,"client_ip":…}}. What may
// be an attack (a reused refresh token, a throttled login, a token of a
// user whose password changed) is a warning. slog is fast enough to run on
// the request; a hook that ships events over the network would hand them
// to a goroutine instead (see jwtpair.WithAuditHook).
func auditHook(audit *slog.Logger) func(context.Context, jwtpair.Event) {
	return func(ctx context.Context, e jwtpair.Event) {
		level := slog.LevelInfo
		switch e.Kind {
		case jwtpair.EventReuseDetected, jwtpair.EventLoginThrottled, jwtpair.EventStampChanged:
			level = slog.LevelWarn
		}
		audit.LogAttrs(ctx, level, "audit", slog.Any("event", e))
	}
}
