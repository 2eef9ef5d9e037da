package jwtpair

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewRefusesBadConfiguration(t *testing.T) {
	users := newTestUsers()
	base := []Option{WithHMACKey(testSecret), WithAuthenticator(users)}
	tests := []struct {
		name string
		opts []Option
		want string
	}{
		{"no key", []Option{WithAuthenticator(users)}, "signing key is required"},
		{"no authenticator", []Option{WithHMACKey(testSecret)}, "Authenticator is required"},
		{"short key", []Option{WithHMACKey(make([]byte, 31)), WithAuthenticator(users)}, "at least 32"},
		{"key twice", append(base, WithHMACKey(testSecret)), "twice"},
		{"nil authenticator", append(base, WithAuthenticator(nil)), "nil Authenticator"},
		{"nil store", append(base, WithStore(nil)), "nil Store"},
		{"typed nil store", append(base, WithStore((*MemoryStore)(nil))), "nil Store"},
		{"typed nil authenticator", append(base, WithAuthenticator((*testUsers)(nil))), "nil Authenticator"},
		{"nil AuthenticatorFunc", append(base, WithAuthenticator(AuthenticatorFunc(nil))), "nil Authenticator"},
		{"user-id claim sid", append(base, WithUserIDClaim("sid")), "stamp, sid"},
		{"nil option", append(base, nil), "nil Option"},
		{"unknown algorithm", append(base, WithAlgorithm("HS1024")), "not an HMAC algorithm"},
		{"alg none", append(base, WithAlgorithm("none")), "not an HMAC algorithm"},
		{"zero access TTL", append(base, WithAccessTTL(0)), "access TTL must be positive"},
		{"negative refresh TTL", append(base, WithRefreshTTL(-time.Second)), "refresh TTL must be positive"},
		{"sub-second access TTL", append(base, WithAccessTTL(500*time.Millisecond)), "access TTL must be whole seconds"},
		{"fractional refresh TTL", append(base, WithRefreshTTL(90*time.Minute+time.Millisecond)), "refresh TTL must be whole seconds"},
		{"access longer than refresh", append(base, WithAccessTTL(2*time.Hour), WithRefreshTTL(time.Hour)), "longer than refresh"},
		{"negative grace", append(base, WithReuseGrace(-time.Second)), "must not be negative"},
		{"grace as long as refresh", append(base, WithRefreshTTL(time.Hour), WithReuseGrace(time.Hour)), "shorter than the refresh TTL"},
		{"grace without rotation", append(base, WithRotation(false), WithReuseGrace(time.Second)), "needs rotation"},
		{"grace without blacklist", append(base, WithBlacklistAfterRotation(false), WithReuseGrace(time.Second)), "needs rotation"},
		{"blacklist-after-rotation without rotation", append(base, WithRotation(false), WithBlacklistAfterRotation(true)), "needs rotation"},
		{"negative leeway", append(base, WithLeeway(-time.Second)), "leeway must not be negative"},
		{"leeway as long as access TTL", append(base, WithLeeway(DefaultAccessTTL)), "shorter than the access TTL"},
		{"empty username field", append(base, WithUsernameField("")), "username field"},
		{"username field password", append(base, WithUsernameField("password")), "username field"},
		{"empty claim name", append(base, WithUserIDClaim("")), "must not be empty"},
		{"same claim names", append(base, WithUserIDClaim("t"), WithTokenTypeClaim("t")), "share the name"},
		{"registered claim name", append(base, WithUserIDClaim("exp")), "registered claims"},
		{"empty audience", append(base, WithAudience("")), "empty audience"},
		{"bad header name", append(base, WithHeader("X Token", "Bearer")), "bad header name"},
		{"no schemes", append(base, WithHeader("X-Token")), "at least one scheme"},
		{"scheme with space", append(base, WithHeader("X-Token", "Be arer")), "bad scheme"},
		{"nil clock", append(base, WithClock(nil)), "nil clock"},
		{"nil error handler", append(base, WithErrorHandler(nil)), "nil error handler"},
		{"nil logger", append(base, WithLogger(nil)), "nil logger"},
		{"zero body limit", append(base, WithMaxBodyBytes(0)), "max body bytes"},
		{"tiny token limit", append(base, WithMaxTokenBytes(10)), "max token bytes"},
		{"issuer not UTF-8", append(base, WithIssuer("https://a\xff")), "not valid UTF-8"},
		{"audience not UTF-8", append(base, WithAudience("api", "b\xfe")), "not valid UTF-8"},
		{"claim name not UTF-8", append(base, WithUserIDClaim("uid\xff")), "not valid UTF-8"},
		{"key ID not UTF-8", append(base, WithKeyID("k\xff")), "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := New(tt.opts...)
			require.Error(t, err)
			assert.Nil(t, a)
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, err.Error(), "jwtpair: ")
		})
	}
}

func TestNewReportsEveryProblem(t *testing.T) {
	_, err := New(WithAccessTTL(0), WithRefreshTTL(0))
	require.Error(t, err)
	for _, want := range []string{"Authenticator", "signing key", "access TTL", "refresh TTL"} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestNewAcceptsGoodConfiguration(t *testing.T) {
	a, err := New(WithHMACKey(longSecret), WithAuthenticator(newTestUsers()),
		WithAlgorithm("HS512"), WithAccessTTL(time.Minute), WithRefreshTTL(time.Hour),
		WithReuseGrace(5*time.Second), WithLeeway(10*time.Second), WithRotation(false), WithRotation(true),
		WithHeader("X-Token", "Token"), WithOnLogin(func(*http.Request, User) {}))
	require.NoError(t, err)
	p := login(t, a)
	c, err := a.VerifyAccess(t.Context(), p.Access)
	require.NoError(t, err)
	assert.Equal(t, time.Minute, c.ExpiresAt.Sub(c.IssuedAt))
}

func TestKeyCopied(t *testing.T) {
	key := append([]byte(nil), testSecret...)
	a, err := New(WithHMACKey(key), WithAuthenticator(newTestUsers()))
	require.NoError(t, err)
	p := login(t, a)
	for i := range key {
		key[i] = 0
	}
	_, err = a.VerifyAccess(t.Context(), p.Access)
	assert.NoError(t, err, "New keeps its own copy of the key")
}
