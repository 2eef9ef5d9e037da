package jwtpair_test

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jwtpair/jwtpair"
)

// users is a toy Authenticator; real ones look up a database and compare
// password hashes.
var users = jwtpair.AuthenticatorFunc(func(ctx context.Context, username, password string) (jwtpair.User, error) {
	if username == "admin" && subtle.ConstantTimeCompare([]byte(password), []byte("s3cret")) == 1 {
		return jwtpair.User{ID: "1", Claims: map[string]any{"name": "Admin"}}, nil
	}
	return jwtpair.User{}, jwtpair.ErrInvalidCredentials
})

var secret = []byte("example-secret-of-at-least-32-bytes!!")

// post sends a JSON body to h and decodes the JSON answer.
func post(h http.Handler, body string) (int, map[string]string) {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var m map[string]string
	_ = json.Unmarshal(w.Body.Bytes(), &m)
	return w.Code, m
}

// The seed flow: log in, call a protected route, refresh, log out.
func Example() {
	auth, err := jwtpair.New(jwtpair.WithHMACKey(secret), jwtpair.WithAuthenticator(users))
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/token/", auth.ObtainHandler())
	mux.Handle("/api/token/refresh/", auth.RefreshHandler())
	mux.Handle("/api/token/blacklist/", auth.BlacklistHandler())
	mux.Handle("/hello/", auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := jwtpair.UserFrom(r.Context())
		fmt.Fprintf(w, "Hello, %s (user %s)", u.Claims["name"], u.ID)
	})))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	call := func(path, body string) (int, map[string]string) {
		resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]string
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}

	status, pair := call("/api/token/", `{"username":"admin","password":"s3cret"}`)
	fmt.Println("login:", status)

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/hello/", nil)
	req.Header.Set("Authorization", "Bearer "+pair["access"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	greeting, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println("hello:", resp.StatusCode, string(greeting))

	status, next := call("/api/token/refresh/", `{"refresh":"`+pair["refresh"]+`"}`)
	fmt.Println("refresh:", status, next["refresh"] != pair["refresh"])

	status, _ = call("/api/token/blacklist/", `{"refresh":"`+next["refresh"]+`"}`)
	fmt.Println("logout:", status)

	// The first refresh token was consumed by the rotation: presenting it
	// again is refused (and would revoke the session if it were still open).
	status, body := call("/api/token/refresh/", `{"refresh":"`+pair["refresh"]+`"}`)
	fmt.Println("reuse:", status, body["detail"])
	// Output:
	// login: 200
	// hello: 200 Hello, Admin (user 1)
	// refresh: 200 true
	// logout: 200
	// reuse: 401 Token is blacklisted
}

// Issuing a pair from your own login view (after a social login, say),
// with its expiries, and verifying an access token without HTTP.
func ExampleAuth_IssuePair() {
	auth, err := jwtpair.New(jwtpair.WithHMACKey(secret), jwtpair.WithAuthenticator(users))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	pair, err := auth.IssuePair(ctx, jwtpair.User{ID: "42", Claims: map[string]any{"plan": "pro"}})
	if err != nil {
		log.Fatal(err)
	}
	claims, err := auth.VerifyAccess(ctx, pair.Access)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(claims.UserID, claims.TokenType, claims.User().Claims["plan"])
	// The pair's expiries are its tokens' exp claims.
	fmt.Println(claims.ExpiresAt.Equal(pair.AccessExpires), pair.RefreshExpires.Sub(pair.AccessExpires))

	_, err = auth.VerifyAccess(ctx, pair.Refresh)
	fmt.Println(errors.Is(err, jwtpair.ErrTokenWrongType))
	// Output:
	// 42 access pro
	// true 23h55m0s
	// true
}

// Logging a user out everywhere, after a password change. The refresh
// tokens are refused at once; the access tokens within the revocation
// bound (WithRevocationStaleness), on every instance sharing the store.
func ExampleAuth_EndAllSessions() {
	auth, err := jwtpair.New(jwtpair.WithHMACKey(secret), jwtpair.WithAuthenticator(users))
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()
	ctx := context.Background()
	laptop, _ := auth.IssuePair(ctx, jwtpair.User{ID: "7"})
	phone, _ := auth.IssuePair(ctx, jwtpair.User{ID: "7"})

	if err := auth.EndAllSessions(ctx, "7"); err != nil {
		log.Fatal(err)
	}
	for _, p := range []jwtpair.Pair{laptop, phone} {
		_, err := auth.Refresh(ctx, p.Refresh)
		fmt.Println(errors.Is(err, jwtpair.ErrTokenBlacklisted))
	}
	// Output:
	// true
	// true
}

// Listing a user's sessions and logging out their other devices: the
// session of an access token is its SessionID.
func ExampleAuth_Sessions() {
	auth, err := jwtpair.New(jwtpair.WithHMACKey(secret), jwtpair.WithAuthenticator(users))
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()
	ctx := context.Background()
	laptop, _ := auth.IssuePair(ctx, jwtpair.User{ID: "7"})
	phone, _ := auth.IssuePair(ctx, jwtpair.User{ID: "7"})
	sessions, _ := auth.Sessions(ctx, "7")
	fmt.Println(len(sessions), "sessions")

	current, err := auth.VerifyAccess(ctx, phone.Access)
	if err != nil {
		log.Fatal(err)
	}
	if err := auth.EndOtherSessions(ctx, "7", current.SessionID); err != nil {
		log.Fatal(err)
	}
	sessions, _ = auth.Sessions(ctx, "7")
	fmt.Println(len(sessions), "session, the phone's:", sessions[0].ID == current.SessionID)
	_, err = auth.Refresh(ctx, laptop.Refresh)
	fmt.Println("the laptop's refresh token:", err)
	// Output:
	// 2 sessions
	// 1 session, the phone's: true
	// the laptop's refresh token: jwtpair: token is blacklisted
}

// What a client sees for common mistakes: simplejwt's status codes and bodies.
func ExampleWriteError() {
	auth, err := jwtpair.New(jwtpair.WithHMACKey(secret), jwtpair.WithAuthenticator(users))
	if err != nil {
		log.Fatal(err)
	}
	status, body := post(auth.ObtainHandler(), `{"username":"admin","password":"wrong"}`)
	fmt.Println(status, body["detail"])
	status, body = post(auth.RefreshHandler(), `{"refresh":"not.a.token"}`)
	fmt.Println(status, body["detail"], body["code"])
	// Output:
	// 401 No active account found with the given credentials
	// 401 Token is invalid token_not_valid
}

// Optional authentication: anonymous requests pass, bad tokens do not.
func ExampleAuth_OptionalMiddleware() {
	auth, err := jwtpair.New(jwtpair.WithHMACKey(secret), jwtpair.WithAuthenticator(users))
	if err != nil {
		log.Fatal(err)
	}
	h := auth.OptionalMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, ok := jwtpair.UserFrom(r.Context()); ok {
			fmt.Fprint(w, "hello ", u.ID)
			return
		}
		fmt.Fprint(w, "hello stranger")
	}))
	for _, header := range []string{"", "Bearer garbage"} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(w.Code, strings.SplitN(w.Body.String(), ",", 2)[0])
	}
	// Output:
	// 200 hello stranger
	// 401 {"detail":"Given token not valid for any token type"
}

// Routes for some users only: Require checks a role claim (403 for the
// others, 401 without a valid token), and Claim reads a custom claim typed.
func ExampleAuth_Require() {
	auth, err := jwtpair.New(jwtpair.WithHMACKey(secret), jwtpair.WithAuthenticator(users))
	if err != nil {
		log.Fatal(err)
	}
	adminOnly := auth.Require(jwtpair.ClaimIncludes("roles", "admin"))
	h := auth.Middleware(adminOnly(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := jwtpair.ClaimsFrom(r.Context())
		roles, _ := jwtpair.Claim[[]string](c, "roles")
		fmt.Fprintf(w, "welcome, user %s %q (untyped: %T)", c.UserID, roles, c.User().Claims["roles"])
	})))

	ctx := context.Background()
	for _, u := range []jwtpair.User{
		{ID: "1", Claims: map[string]any{"roles": []string{"staff", "admin"}}},
		{ID: "2", Claims: map[string]any{"roles": []string{"staff"}}},
	} {
		pair, err := auth.IssuePair(ctx, u)
		if err != nil {
			log.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodGet, "/admin/", nil)
		r.Header.Set("Authorization", "Bearer "+pair.Access)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(w.Code, strings.TrimSpace(w.Body.String()))
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/admin/", nil))
	fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
	// Output:
	// 200 welcome, user 1 ["staff" "admin"] (untyped: []interface {})
	// 403 {"detail":"You do not have permission to perform this action."}
	// 401 Bearer realm="api"
}

// Login throttling is on by default: five wrong passwords for one username
// from one address, then 429 until an attempt comes back (one every three
// minutes), with DRF's body and Retry-After.
func ExampleWithThrottle() {
	auth, err := jwtpair.New(jwtpair.WithHMACKey(secret), jwtpair.WithAuthenticator(users),
		jwtpair.WithLogger(slog.New(slog.DiscardHandler))) // throttled attempts are logged as warnings
	if err != nil {
		log.Fatal(err)
	}
	for range 6 {
		r := httptest.NewRequest(http.MethodPost, "/api/token/", strings.NewReader(`{"username":"admin","password":"guess"}`))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		auth.ObtainHandler().ServeHTTP(w, r)
		if w.Code == http.StatusTooManyRequests {
			fmt.Println(w.Code, "Retry-After:", w.Header().Get("Retry-After"), strings.TrimSpace(w.Body.String()))
		} else {
			fmt.Println(w.Code)
		}
	}
	// Output:
	// 401
	// 401
	// 401
	// 401
	// 401
	// 429 Retry-After: 180 {"detail":"Request was throttled. Expected available in 180 seconds."}
}

// Audit events: one hook gets them all, typed. This one logs each with
// slog as one JSON line (session ids left out here, as they are random),
// at warning level for a reused refresh token.
func ExampleWithAuditHook() {
	audit := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "session_id" {
				return slog.Attr{}
			}
			return a
		},
	}))
	auth, err := jwtpair.New(jwtpair.WithHMACKey(secret), jwtpair.WithAuthenticator(users),
		jwtpair.WithAuditHook(func(ctx context.Context, e jwtpair.Event) {
			level := slog.LevelInfo
			if e.Kind == jwtpair.EventReuseDetected {
				level = slog.LevelWarn
			}
			audit.LogAttrs(ctx, level, "audit", slog.Any("event", e))
		}))
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()
	post(auth.ObtainHandler(), `{"username":"admin","password":"guess"}`)
	_, pair := post(auth.ObtainHandler(), `{"username":"admin","password":"s3cret"}`)
	post(auth.RefreshHandler(), `{"refresh":"`+pair["refresh"]+`"}`)
	post(auth.RefreshHandler(), `{"refresh":"`+pair["refresh"]+`"}`) // again: reuse
	// Output:
	// {"level":"INFO","msg":"audit","event":{"kind":"login_failed","username":"admin","client_ip":"192.0.2.1"}}
	// {"level":"INFO","msg":"audit","event":{"kind":"login_succeeded","user_id":"1","client_ip":"192.0.2.1"}}
	// {"level":"INFO","msg":"audit","event":{"kind":"refreshed","user_id":"1","client_ip":"192.0.2.1"}}
	// {"level":"WARN","msg":"audit","event":{"kind":"reuse_detected","user_id":"1","client_ip":"192.0.2.1"}}
}

// The cache of verified tokens is on by default (4096 slots): from a
// token's second request on, the middleware skips its signature check and
// the parse of its claims. Every other rule still holds on every request:
// a cached token expires as any other.
func ExampleWithVerifiedTokenCache() {
	var clock atomic.Int64 // Unix seconds
	clock.Store(1_800_000_000)
	auth, err := jwtpair.New(jwtpair.WithHMACKey(secret), jwtpair.WithAuthenticator(users),
		jwtpair.WithVerifiedTokenCache(1024), // or 0: verify every request from scratch
		jwtpair.WithClock(func() time.Time { return time.Unix(clock.Load(), 0) }))
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()
	pair, err := auth.IssuePair(context.Background(), jwtpair.User{ID: "1"})
	if err != nil {
		log.Fatal(err)
	}
	h := auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	get := func() int {
		r := httptest.NewRequest(http.MethodGet, "/hello/", nil)
		r.Header.Set("Authorization", "Bearer "+pair.Access)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	fmt.Println(get(), get(), get()) // the second request caches the token, the third finds it there
	clock.Add(int64(jwtpair.DefaultAccessTTL / time.Second))
	fmt.Println(get())
	// Output:
	// 200 200 200
	// 401
}
