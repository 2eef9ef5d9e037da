package demo

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jwtpair/jwtpair/internal/testcert"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTLSFlagErrors: -tls-cert and -tls-key come together, and a file that
// is missing or wrong is an error naming its flag.
func TestTLSFlagErrors(t *testing.T) {
	cert, other := testcert.New(t), testcert.New(t)
	missing := filepath.Join(t.TempDir(), "missing.pem")

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"cert without key", []string{"-tls-cert", cert.CertFile}},
		{"key without cert", []string{"-tls-key", cert.KeyFile}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig(tc.args, env(nil), io.Discard, nil)
			assert.ErrorContains(t, err, "-tls-cert and -tls-key go together")
			err = Run(t.Context(), nil, tc.args, env(nil), io.Discard, io.Discard)
			assert.ErrorAs(t, err, new(usageError), "exits 2")
		})
	}

	for _, tc := range []struct {
		name, cert, key string
		want            []string
	}{
		{"missing cert", missing, cert.KeyFile, []string{"-tls-cert: open " + missing, "no such file"}},
		{"missing key", cert.CertFile, missing, []string{"-tls-key: open " + missing, "no such file"}},
		{"key as cert", cert.KeyFile, cert.KeyFile, []string{"-tls-cert " + cert.KeyFile + ": no PEM CERTIFICATE block"}},
		{"cert as key", cert.CertFile, cert.CertFile, []string{"-tls-key " + cert.CertFile, "key"}},
		{"key of another cert", cert.CertFile, other.KeyFile, []string{"-tls-key " + other.KeyFile, "does not match"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parseConfig([]string{"-tls-cert", tc.cert, "-tls-key", tc.key}, env(nil), io.Discard, nil)
			require.NoError(t, err)
			_, err = newServer(t.Context(), cfg, discard, discard)
			require.Error(t, err)
			for _, want := range tc.want {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}

// TestTLSServes: with -tls-cert and -tls-key the example serves HTTPS on
// its listener and says so, and cookie mode sets the production cookies
// (Secure, __Host-/__Secure- names) even on a loopback address, which a
// client trusting the certificate keeps and sends back.
func TestTLSServes(t *testing.T) {
	cert := testcert.New(t)
	url, stop := startRun(t, "-addr", "127.0.0.1:0", "-cookies", "-tls-cert", cert.CertFile, "-tls-key", cert.KeyFile)
	defer stop()
	require.True(t, strings.HasPrefix(url, "https://127.0.0.1:"), url)

	_, err := http.Get(url + "/")
	require.Error(t, err, "a client that does not trust the certificate")
	assert.ErrorContains(t, err, "certificate")
	resp, err := http.Get("http://" + strings.TrimPrefix(url, "https://") + "/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "plain HTTP to the HTTPS port")

	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	client := &http.Client{Jar: jar, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: cert.Pool},
		ForceAttemptHTTP2: true,
	}}
	defer client.CloseIdleConnections()

	resp, err = client.Post(url+"/api/token/", "application/json", strings.NewReader(`{"username":"admin","password":"admin"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotNil(t, resp.TLS)
	assert.Equal(t, "HTTP/2.0", resp.Proto, "ServeTLS offers HTTP/2")
	type attrs struct {
		Path             string
		HttpOnly, Secure bool
		SameSite         http.SameSite
	}
	got := map[string]attrs{}
	for _, c := range resp.Cookies() {
		got[c.Name] = attrs{c.Path, c.HttpOnly, c.Secure, c.SameSite}
	}
	assert.Equal(t, map[string]attrs{
		"__Host-jwtpair-access":    {"/", true, true, http.SameSiteLaxMode},
		"__Secure-jwtpair-refresh": {"/api/token/", true, true, http.SameSiteLaxMode},
		"__Host-jwtpair-csrf":      {"/", false, true, http.SameSiteLaxMode},
	}, got)

	resp, err = client.Get(url + "/hello/")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the jar sends the Secure access cookie back over HTTPS: %s", b)

	resp, err = client.Get(url + "/")
	require.NoError(t, err)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(b), `data-csrf-cookie="__Host-jwtpair-csrf"`, "the page reads the prefixed CSRF cookie")
}

// TestTLSCookieWarnings: over HTTPS the plain-HTTP cookie warnings do not
// apply, on a loopback address or any other.
func TestTLSCookieWarnings(t *testing.T) {
	cert := testcert.New(t)
	for _, addr := range []string{"127.0.0.1:0", "0.0.0.0:0"} {
		s := newTestServer(t, nil, "-cookies", "-addr", addr, "-tls-cert", cert.CertFile, "-tls-key", cert.KeyFile)
		assert.Empty(t, s.warnings, addr)
		assert.NotNil(t, s.tls, addr)
		require.NoError(t, s.Close())
	}
}
