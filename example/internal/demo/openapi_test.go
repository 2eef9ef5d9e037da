package demo

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOpenAPIRoute: the example serves jwtpair's OpenAPI description.
func TestOpenAPIRoute(t *testing.T) {
	srv := startServer(t)
	status, doc := call(t, srv, "GET", "/openapi.json", "", "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "3.1.1", doc["openapi"])
	assert.Contains(t, doc["paths"], "/api/token/")
}
