package openapitest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
)

// secret is the HMAC key of every HMAC server here, so that a token one
// issues verifies on another (the broken and stale servers issue none).
var secret = []byte("openapitest-0123456789abcdef-0123456789abcdef")

// users: alice logs in; bob logs in too, but the UserLoader finds him
// deactivated since (refresh and WithUserCheck refuse him).
type users struct{}

func (users) Authenticate(_ context.Context, username, password string) (jwtpair.User, error) {
	switch {
	case username == "alice" && password == "alice-pw":
		return jwtpair.User{ID: "1"}, nil
	case username == "bob" && password == "bob-pw":
		return jwtpair.User{ID: "2"}, nil
	}
	return jwtpair.User{}, jwtpair.ErrInvalidCredentials
}

func (users) LoadUser(_ context.Context, id string) (jwtpair.User, error) {
	switch id {
	case "1":
		return jwtpair.User{ID: "1"}, nil
	case "2":
		return jwtpair.User{}, jwtpair.ErrUserInactive
	}
	return jwtpair.User{}, jwtpair.ErrUserNotFound
}

// brokenStore is a memory store whose every call about sessions and tokens
// fails, as a backend that is down; its revocation feed works, so that
// the middleware lets requests through to the handlers.
type brokenStore struct{ *jwtpair.MemoryStore }

var errDown = errors.New("backend down")

func (brokenStore) Issue(context.Context, jwtpair.Record, jwtpair.IssueOptions) ([]string, error) {
	return nil, errDown
}
func (brokenStore) Rotate(context.Context, jwtpair.Token, jwtpair.Record, jwtpair.RotateOptions) error {
	return errDown
}
func (brokenStore) Check(context.Context, jwtpair.Token) error                  { return errDown }
func (brokenStore) Revoke(context.Context, jwtpair.Token) error                 { return errDown }
func (brokenStore) EndSession(context.Context, string, string) error            { return errDown }
func (brokenStore) EndSessions(context.Context, string, string) error           { return errDown }
func (brokenStore) Sessions(context.Context, string) ([]jwtpair.Session, error) { return nil, errDown }

// staleStore is a memory store whose revocation feed cannot be read: the
// Auth's revoked set is never fresh, and protected routes answer 503.
type staleStore struct{ *jwtpair.MemoryStore }

func (staleStore) Revocations(context.Context, string, time.Duration) ([]jwtpair.Revocation, string, error) {
	return nil, "", errDown
}

// server is an Auth with every endpoint mounted at the document's paths,
// behind a real HTTP server.
type server struct {
	url  string
	auth *jwtpair.Auth
}

// newServer starts a server for an Auth made with opts, after the
// defaults of these tests (the HMAC key above, the users above, no
// throttling, a quiet logger). sliding mounts the sliding endpoints (the Auth must have
// WithSlidingTokens).
func newServer(t *testing.T, sliding bool, opts ...jwtpair.Option) *server {
	t.Helper()
	return startServer(t, sliding, jwtpair.WithHMACKey(secret), opts...)
}

// startServer is newServer signing with key.
func startServer(t *testing.T, sliding bool, key jwtpair.Option, opts ...jwtpair.Option) *server {
	t.Helper()
	base := []jwtpair.Option{
		key,
		jwtpair.WithAuthenticator(users{}),
		jwtpair.WithThrottle(jwtpair.Throttle{}),
		jwtpair.WithLogger(slog.New(slog.DiscardHandler)),
	}
	auth, err := jwtpair.New(append(base, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { auth.Close() })
	mux := http.NewServeMux()
	mux.Handle("/api/token/{$}", auth.ObtainHandler())
	mux.Handle("/api/token/refresh/{$}", auth.RefreshHandler())
	mux.Handle("/api/token/verify/{$}", auth.VerifyHandler())
	mux.Handle("/api/token/blacklist/{$}", auth.BlacklistHandler())
	if sliding {
		mux.Handle("/api/token/sliding/{$}", auth.SlidingObtainHandler())
		mux.Handle("/api/token/sliding/refresh/{$}", auth.SlidingRefreshHandler())
		mux.Handle("/api/token/sliding/blacklist/{$}", auth.SlidingBlacklistHandler())
	}
	mux.Handle("/api/sessions/{$}", auth.Middleware(auth.SessionsHandler()))
	mux.Handle("/api/sessions/{sid}/{$}", auth.Middleware(auth.EndSessionHandler()))
	mux.Handle("/api/sessions/end-others/{$}", auth.Middleware(auth.EndOtherSessionsHandler()))
	mux.Handle("/.well-known/jwks.json", auth.JWKSHandler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &server{url: srv.URL, auth: auth}
}

// throttleOne throttles logins per username and address, and refreshes
// per address, to one an hour.
func throttleOne() jwtpair.Option {
	one := jwtpair.Limit{Rate: 1, Period: time.Hour, Burst: 1}
	return jwtpair.WithThrottle(jwtpair.Throttle{LoginPerUserIP: one, RefreshPerIP: one})
}

// keyServer is a server signing with an Ed25519 key, still accepting
// tokens of an earlier P-256 key and an earlier RSA key: its key set
// publishes all three.
func keyServer(t *testing.T) *server {
	t.Helper()
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	rs, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	until := time.Now().Add(time.Hour)
	return startServer(t, false, jwtpair.WithSigningKey(ed, "EdDSA"), jwtpair.WithKeyID("ed-1"),
		jwtpair.WithPreviousKey(ec.Public(), "ES256", "ec-0", until),
		jwtpair.WithPreviousKey(rs.Public(), "RS256", "rsa-0", until),
		jwtpair.WithServerSecret(secret))
}

// Request bodies.

func jsonBody(t testing.TB, v any) (http.Header, []byte) {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return http.Header{"Content-Type": {"application/json"}}, b
}

func formBody(fields map[string]string) (http.Header, []byte) {
	v := url.Values{}
	for k, s := range fields {
		v.Set(k, s)
	}
	return http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, []byte(v.Encode())
}

func multipartBody(t testing.TB, fields map[string]string) (http.Header, []byte) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, s := range fields {
		require.NoError(t, w.WriteField(k, s))
	}
	require.NoError(t, w.Close())
	return http.Header{"Content-Type": {w.FormDataContentType()}}, b.Bytes()
}

func rawBody(contentType, body string) (http.Header, []byte) {
	return http.Header{"Content-Type": {contentType}}, []byte(body)
}

// with returns h with more headers (name, value pairs) added.
func with(h http.Header, kv ...string) http.Header {
	h = h.Clone()
	if h == nil {
		h = http.Header{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

// field returns a string field of a JSON object body.
func field(t testing.TB, body []byte, name string) string {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m), "%s", body)
	s, ok := m[name].(string)
	require.True(t, ok, "no string %q in %s", name, body)
	return s
}

// cookies returns the cookies an answer sets, by name.
func cookies(a answer) map[string]*http.Cookie {
	out := map[string]*http.Cookie{}
	for _, c := range a.Cookies() {
		out[c.Name] = c
	}
	return out
}

// cookieHeader returns a Cookie header carrying cs.
func cookieHeader(cs ...*http.Cookie) http.Header {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.Name + "=" + c.Value
	}
	return http.Header{"Cookie": {strings.Join(parts, "; ")}}
}

// simplejwtAccess mints an access token as simplejwt does with the same
// secret: no sid, so it names no session.
func simplejwtAccess(t testing.TB, userID string) string {
	t.Helper()
	enc := base64.RawURLEncoding
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	now := time.Now().Unix()
	claims, err := json.Marshal(map[string]any{
		"token_type": "access", "exp": now + 300, "iat": now, "jti": hex.EncodeToString(jti), "user_id": userID,
	})
	require.NoError(t, err)
	signing := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString(claims)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(m.Sum(nil))
}
