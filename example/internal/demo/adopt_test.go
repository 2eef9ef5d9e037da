package demo

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	forgepkg "github.com/jwtpair/jwtpair/internal/forge"
	"github.com/jwtpair/jwtpair/storetest"
)

// TestAdoptFlags: -adopt-cutover and -adopt-until open the adoption
// window; without them a simplejwt token the store does not know is
// refused.
func TestAdoptFlags(t *testing.T) {
	// A live refresh token of user 1 as simplejwt 5.2 mints it (user_id
	// a number), issued an hour ago, with the test secret.
	now := time.Now()
	claims, err := json.Marshal(map[string]any{"token_type": "refresh", "exp": now.Add(23 * time.Hour).Unix(), "iat": now.Add(-time.Hour).Unix(), "user_id": 1, "jti": storetest.NewID()})
	require.NoError(t, err)
	tok, err := forgepkg.Sign("HS256", []byte(testSecret), `{"alg":"HS256","typ":"JWT"}`, string(claims))
	require.NoError(t, err)

	closed := startServer(t)
	status, _ := call(t, closed, "POST", "/api/token/refresh/", "", `{"refresh":"`+tok+`"}`)
	assert.Equal(t, http.StatusUnauthorized, status, "no window")

	open := startServer(t, "-adopt-cutover", now.Format(time.RFC3339), "-adopt-until", now.Add(time.Hour).Format(time.RFC3339))
	status, m := call(t, open, "POST", "/api/token/refresh/", "", `{"refresh":"`+tok+`"}`)
	assert.Equal(t, http.StatusOK, status, m)
	status, _ = call(t, open, "POST", "/api/token/refresh/", "", `{"refresh":"`+tok+`"}`)
	assert.Equal(t, http.StatusUnauthorized, status, "adopted once: a second use is reuse")
}

// TestSimplejwtFlagErrors: what parseConfig refuses of the flags, with
// the shared stores at hand (example/backends).
func TestSimplejwtFlagErrors(t *testing.T) {
	for name, args := range map[string][]string{
		"cutover alone":          {"-adopt-cutover", "2030-01-01T00:00:00Z"},
		"until alone":            {"-adopt-until", "2030-01-01T00:00:00Z"},
		"not a time":             {"-adopt-cutover", "tomorrow", "-adopt-until", "2030-01-01T00:00:00Z"},
		"import into memory":     {"-import-simplejwt", "sqlite:/tmp/x.sqlite3"},
		"import from a bad spec": {"-store", "sqlite:/tmp/y.db", "-import-simplejwt", "mysql://db"},
		"import from no path":    {"-store", "sqlite:/tmp/y.db", "-import-simplejwt", "sqlite:"},
	} {
		t.Run(name, func(t *testing.T) {
			b := &fakeBackends{}
			err := Run(t.Context(), b, args, env(map[string]string{"JWTPAIR_SECRET": testSecret}), io.Discard, io.Discard)
			require.Error(t, err)
			var ue usageError
			assert.ErrorAs(t, err, &ue, "a usage error (exit status 2): %v", err)
			assert.Empty(t, b.opened, "nothing opened")
			assert.Empty(t, b.imported, "nothing imported")
		})
	}
}
