package jwtpair

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestClientIP: RemoteAddr is the client unless it is a trusted proxy;
// then the proxies' header is walked from the right, past trusted hops.
func TestClientIP(t *testing.T) {
	proxied, _ := newTestAuth(t, WithTrustedProxies("10.0.0.0/8", "2001:db8:ffff::/48"))
	forwarded, _ := newTestAuth(t, WithTrustedProxies("10.0.0.0/8"), WithProxyHeader("Forwarded"))
	direct, _ := newTestAuth(t)
	for _, tc := range []struct {
		name    string
		a       *Auth
		remote  string
		headers map[string][]string
		want    string
	}{
		// No trusted proxies: the headers are the client's own words.
		{"direct", direct, "198.51.100.66:4711", nil, "198.51.100.66"},
		{"direct ignores X-Forwarded-For", direct, "198.51.100.66:4711", map[string][]string{"X-Forwarded-For": {"203.0.113.7"}}, "198.51.100.66"},
		{"direct ignores Forwarded", direct, "198.51.100.66:4711", map[string][]string{"Forwarded": {"for=203.0.113.7"}}, "198.51.100.66"},
		{"direct IPv6", direct, "[2001:db8::1%eth0]:4711", nil, "2001:db8::1"},
		{"direct IPv4-mapped", direct, "[::ffff:198.51.100.66]:4711", nil, "198.51.100.66"},
		{"no IP in RemoteAddr", direct, "@", nil, "invalid IP"},

		// A peer that is not a trusted proxy: its headers are ignored.
		{"untrusted peer with a spoofed header", proxied, "198.51.100.66:4711", map[string][]string{"X-Forwarded-For": {"203.0.113.7, 10.0.0.1"}}, "198.51.100.66"},

		// Through trusted proxies.
		{"one proxy", proxied, "10.0.0.1:4711", map[string][]string{"X-Forwarded-For": {"203.0.113.7"}}, "203.0.113.7"},
		{"client-sent entries left of the real one", proxied, "10.0.0.1:4711", map[string][]string{"X-Forwarded-For": {"1.2.3.4, 5.6.7.8, 203.0.113.7"}}, "203.0.113.7"},
		{"chain of proxies", proxied, "10.0.0.1:4711", map[string][]string{"X-Forwarded-For": {"1.2.3.4, 203.0.113.7, 10.1.1.1, 10.2.2.2"}}, "203.0.113.7"},
		{"header lines in order", proxied, "10.0.0.1:4711", map[string][]string{"X-Forwarded-For": {"1.2.3.4, 203.0.113.7", "10.1.1.1"}}, "203.0.113.7"},
		{"every entry a proxy: the leftmost", proxied, "10.0.0.1:4711", map[string][]string{"X-Forwarded-For": {"10.3.3.3, 10.2.2.2"}}, "10.3.3.3"},
		{"no header: the proxy itself", proxied, "10.0.0.1:4711", nil, "10.0.0.1"},
		{"garbage where the client should be: the last trusted hop", proxied, "10.0.0.1:4711", map[string][]string{"X-Forwarded-For": {"203.0.113.7, unknown, 10.2.2.2"}}, "10.2.2.2"},
		{"empty entries skipped", proxied, "10.0.0.1:4711", map[string][]string{"X-Forwarded-For": {"203.0.113.7,, "}}, "203.0.113.7"},
		{"entries with ports", proxied, "10.0.0.1:4711", map[string][]string{"X-Forwarded-For": {"[2001:db8::7]:443, 10.2.2.2:80"}}, "2001:db8::7"},
		{"bracketed IPv6 without port", proxied, "10.0.0.1:4711", map[string][]string{"X-Forwarded-For": {"[2001:db8::7]"}}, "2001:db8::7"},
		{"IPv6 proxy", proxied, "[2001:db8:ffff::1]:4711", map[string][]string{"X-Forwarded-For": {"203.0.113.7"}}, "203.0.113.7"},
		{"X-Forwarded-For proxies ignore Forwarded", proxied, "10.0.0.1:4711", map[string][]string{"Forwarded": {"for=1.2.3.4"}, "X-Forwarded-For": {"203.0.113.7"}}, "203.0.113.7"},

		// RFC 7239 Forwarded.
		{"Forwarded", forwarded, "10.0.0.1:4711", map[string][]string{"Forwarded": {"for=203.0.113.7;proto=https;by=10.0.0.1"}}, "203.0.113.7"},
		{"Forwarded quoted IPv6 with port", forwarded, "10.0.0.1:4711", map[string][]string{"Forwarded": {`for="[2001:db8:cafe::17]:4711"`}}, "2001:db8:cafe::17"},
		{"Forwarded chain, FOR in capitals", forwarded, "10.0.0.1:4711", map[string][]string{"Forwarded": {"for=1.2.3.4, FOR=203.0.113.7, for=10.9.9.9"}}, "203.0.113.7"},
		{"Forwarded obfuscated node", forwarded, "10.0.0.1:4711", map[string][]string{"Forwarded": {"for=203.0.113.7, for=_hidden"}}, "10.0.0.1"},
		{"Forwarded element without for", forwarded, "10.0.0.1:4711", map[string][]string{"Forwarded": {"for=203.0.113.7, proto=https"}}, "10.0.0.1"},
		{"Forwarded proxies ignore X-Forwarded-For", forwarded, "10.0.0.1:4711", map[string][]string{"X-Forwarded-For": {"1.2.3.4"}, "Forwarded": {"for=203.0.113.7"}}, "203.0.113.7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			r.RemoteAddr = tc.remote
			for k, v := range tc.headers {
				r.Header[k] = v
			}
			assert.Equal(t, tc.want, tc.a.ClientIP(r).String())
		})
	}
}

// TestSpoofedForwardingHeadersDoNotEvadeThrottle: a client that is not a
// trusted proxy sends a new X-Forwarded-For and Forwarded with every
// attempt; it is still counted by its own address, and throttled.
func TestSpoofedForwardingHeadersDoNotEvadeThrottle(t *testing.T) {
	for _, opts := range [][]Option{nil, {WithTrustedProxies("10.0.0.0/8")}} {
		a, _, users := throttleAuth(t, opts...)
		for i := range 30 {
			r := httptest.NewRequest(http.MethodPost, "/api/token/", strings.NewReader(`{"username":"alice","password":"guess"}`))
			r.Header.Set("Content-Type", "application/json")
			r.RemoteAddr = "198.51.100.66:4711"
			r.Header.Set("X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i))
			r.Header.Set("Forwarded", fmt.Sprintf("for=203.0.113.%d", i))
			w := httptest.NewRecorder()
			a.ObtainHandler().ServeHTTP(w, r)
			if i >= 5 {
				require.Equal(t, http.StatusTooManyRequests, w.Code, "attempt %d", i+1)
			}
		}
		assert.Equal(t, int32(5), users.calls.Load())
	}
}

// TestTrustedProxyCountsClients: behind a trusted proxy, clients are
// counted apart, by the address the proxy names; what a client prepends
// to the header does not change it.
func TestTrustedProxyCountsClients(t *testing.T) {
	a, _, _ := throttleAuth(t, WithTrustedProxies("10.0.0.1"))
	obtain := func(xff, password string) int {
		r := httptest.NewRequest(http.MethodPost, "/api/token/", strings.NewReader(`{"username":"alice","password":"`+password+`"}`))
		r.Header.Set("Content-Type", "application/json")
		r.RemoteAddr = "10.0.0.1:4711"
		r.Header.Set("X-Forwarded-For", xff)
		w := httptest.NewRecorder()
		a.ObtainHandler().ServeHTTP(w, r)
		return w.Code
	}
	for i := range 10 {
		obtain(fmt.Sprintf("1.1.1.%d, 198.51.100.66", i), "guess")
	}
	assert.Equal(t, http.StatusTooManyRequests, obtain("9.9.9.9, 198.51.100.66", "guess"), "the attacker")
	assert.Equal(t, http.StatusOK, obtain("203.0.113.7", "wonderland"), "the victim, through the same proxy")
}
