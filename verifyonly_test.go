package jwtpair

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestVerifyOnlyHandlers: every handler mounted on a resource server that
// only verifies (WithJWKSURL, no Authenticator, no signing key) answers
// with JSON, never a panic: the issuing endpoints a 500 server_error, the
// JWKS endpoint 404, verification as usual.
func TestVerifyOnlyHandlers(t *testing.T) {
	issuer, _, rs := newJWKSConsumer(t)
	p := login(t, issuer)

	serverError := `{"detail":"A server error occurred.","code":"server_error"}`
	for _, tt := range []struct {
		name   string
		h      http.Handler
		body   string
		status int
		want   string
	}{
		{"obtain", rs.ObtainHandler(), `{"username":"alice","password":"wonderland"}`, http.StatusInternalServerError, serverError},
		{"refresh", rs.RefreshHandler(), refreshBody(p.Refresh), http.StatusInternalServerError, serverError},
		{"verify access", rs.VerifyHandler(), `{"token":"` + p.Access + `"}`, http.StatusOK, `{}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := postJSON(t, tt.h, tt.body)
			assert.Equal(t, tt.status, w.Code)
			assert.JSONEq(t, tt.want, w.Body.String())
		})
	}

	t.Run("jwks", func(t *testing.T) {
		w := httptest.NewRecorder()
		rs.JWKSHandler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil))
		assert.Equal(t, http.StatusNotFound, w.Code)
		assert.JSONEq(t, `{"detail":"No public keys: this server signs no tokens with a key pair.","code":"not_found"}`, w.Body.String())
	})

	t.Run("middleware", func(t *testing.T) {
		w := serveWithHeader(rs.Middleware(hello), "Authorization", "Bearer "+p.Access)
		assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
	})
}
