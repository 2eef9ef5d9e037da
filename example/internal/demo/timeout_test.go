package demo

import (
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
)

// TestTimeoutFlags: -request-timeout must end before the server's write
// timeout cuts an answer off; -store-timeout reaches jwtpair.New, which
// refuses one that is not positive; the defaults are 10 s and 5 s.
func TestTimeoutFlags(t *testing.T) {
	cfg, err := parseConfig(nil, env(nil), io.Discard, nil)
	require.NoError(t, err)
	assert.Equal(t, 10*time.Second, cfg.requestTimeout)
	assert.Equal(t, jwtpair.DefaultStoreTimeout, cfg.storeTimeout)
	for _, v := range []string{"0s", "-1s", "15s", "1m"} {
		_, err := parseConfig([]string{"-request-timeout", v}, env(nil), io.Discard, nil)
		assert.ErrorContains(t, err, "-request-timeout "+v, v)
	}
	cfg, err = parseConfig([]string{"-store-timeout", "0s"}, env(nil), io.Discard, nil)
	require.NoError(t, err)
	_, err = newServer(t.Context(), cfg, discard, discard)
	assert.ErrorContains(t, err, "store timeout 0s is not positive")
}
