package jwtpair

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestJWKSConsumerKeyFilter: of a key set, a resource server uses only
// public keys meant for verifying. A published private key (a misconfigured
// issuer) and a key whose key_ops exclude "verify" are left out, so tokens
// naming them fail; a public key with key_ops ["verify"] is used.
func TestJWKSConsumerKeyFilter(t *testing.T) {
	testKeys(t)
	priv, err := jwk.Import(ecKey)
	require.NoError(t, err)
	require.NoError(t, priv.Set(jwk.KeyIDKey, "private"))
	pub := func(kid string, ops ...jwk.KeyOperation) jwk.Key {
		k, err := jwk.Import(&ecKey.PublicKey)
		require.NoError(t, err)
		require.NoError(t, k.Set(jwk.KeyIDKey, kid))
		if ops != nil {
			require.NoError(t, k.Set(jwk.KeyOpsKey, jwk.KeyOperationList(ops)))
		}
		return k
	}
	set := jwk.NewSet()
	for _, k := range []jwk.Key{priv, pub("encrypt-only", jwk.KeyOpEncrypt), pub("verify", jwk.KeyOpVerify)} {
		require.NoError(t, set.AddKey(k))
	}
	body, err := json.Marshal(set)
	require.NoError(t, err)
	require.Contains(t, string(body), `"d":`, "the set really publishes the private key")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)

	clk := newFakeClock()
	rs, err := New(WithoutRevocationFeed(), WithJWKSURL(srv.URL), WithAlgorithm("ES256"), WithClock(clk.Now), WithLogger(quietLogger))
	require.NoError(t, err)
	t.Cleanup(func() { _ = rs.Close() })
	mw := rs.Middleware(hello)
	for kid, want := range map[string]int{"private": http.StatusUnauthorized, "encrypt-only": http.StatusUnauthorized, "verify": http.StatusOK} {
		tok := handSign(t, "ES256", ecKey, `{"alg":"ES256","kid":"`+kid+`","typ":"JWT"}`, claimsJSON(t, accessClaims(clk)))
		assert.Equal(t, want, serveWithHeader(mw, "Authorization", "Bearer "+tok).Code, "kid %s", kid)
	}
}

// recordingTransport counts the requests it carries and keeps the time the
// last one had left before its context's deadline (-1: no deadline).
type recordingTransport struct {
	base     http.RoundTripper
	requests atomic.Int32
	budget   atomic.Int64
}

func (rt *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rt.requests.Add(1)
	rt.budget.Store(-1)
	if dl, ok := req.Context().Deadline(); ok {
		rt.budget.Store(int64(time.Until(dl)))
	}
	return rt.base.RoundTrip(req)
}

// assertFetchTimeout: the last request rt carried had the 5-second fetch
// timeout as its deadline.
func assertFetchTimeout(t *testing.T, rt *recordingTransport) {
	t.Helper()
	budget := time.Duration(rt.budget.Load())
	assert.Greater(t, budget, jwksFetchTimeout-time.Second, "the fetch had no deadline or a short one: %v", budget)
	assert.LessOrEqual(t, budget, jwksFetchTimeout)
}

// newTLSJWKSServer serves issuer's key set over TLS with httptest's own
// certificate, which only the server's Client() trusts.
func newTLSJWKSServer(t *testing.T, issuer *Auth) *jwksServer {
	s := &jwksServer{}
	s.serve(issuer)
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.handle))
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// esToken signs access claims valid at clk's time with key, naming kid.
func esToken(t *testing.T, key *ecdsa.PrivateKey, kid string, clk *fakeClock) string {
	t.Helper()
	return handSign(t, "ES256", key, `{"alg":"ES256","kid":"`+kid+`","typ":"JWT"}`, claimsJSON(t, accessClaims(clk)))
}

// TestJWKSHTTPClient (issue 10, finding 1): the client of
// WithJWKSHTTPClient is the one that fetches the key set. Against a TLS
// server whose certificate only that client's CA pool trusts, the default
// client fails and the given one succeeds, its transport carrying every
// request; the caller's client is not modified, and its copy gets the
// 5-second timeout it lacked.
func TestJWKSHTTPClient(t *testing.T) {
	testKeys(t)
	issuer, err := New(WithSigningKey(ecKey, "ES256"), WithAuthenticator(newTestUsers()))
	require.NoError(t, err)
	srv := newTLSJWKSServer(t, issuer)
	tok := login(t, issuer).Access

	t.Run("default client: the CA is unknown, no key", func(t *testing.T) {
		t.Parallel() // New waits 2 s for a first key set that never comes
		before := srv.fetches.Load()
		rs, err := New(WithoutRevocationFeed(), WithJWKSURL(srv.URL+"/jwks.json"), WithAlgorithm("ES256"), WithLogger(quietLogger))
		require.NoError(t, err)
		t.Cleanup(func() { _ = rs.Close() })
		assert.Equal(t, http.StatusUnauthorized, serveWithHeader(rs.Middleware(hello), "Authorization", "Bearer "+tok).Code)
		assert.Equal(t, before, srv.fetches.Load(), "a fetch got past the TLS handshake")
	})

	t.Run("given client: trusted CA, its transport fetches", func(t *testing.T) {
		rt := &recordingTransport{base: srv.Client().Transport}
		cl := &http.Client{Transport: rt}
		rs, err := New(WithoutRevocationFeed(), WithJWKSURL(srv.URL+"/jwks.json"), WithAlgorithm("ES256"), WithJWKSHTTPClient(cl), WithLogger(quietLogger))
		require.NoError(t, err)
		t.Cleanup(func() { _ = rs.Close() })
		assert.Equal(t, http.StatusOK, serveWithHeader(rs.Middleware(hello), "Authorization", "Bearer "+tok).Code)
		assert.Positive(t, rt.requests.Load())
		assert.Equal(t, srv.fetches.Load(), rt.requests.Load(), "every fetch went through the given transport")
		assertFetchTimeout(t, rt)
		assert.Zero(t, cl.Timeout, "the caller's client is not modified")
		assert.Nil(t, cl.CheckRedirect, "the caller's client is not modified")
	})

	t.Run("given client's own timeout is kept", func(t *testing.T) {
		rt := &recordingTransport{base: srv.Client().Transport}
		rs, err := New(WithoutRevocationFeed(), WithJWKSURL(srv.URL+"/jwks.json"), WithAlgorithm("ES256"), WithJWKSHTTPClient(&http.Client{Transport: rt, Timeout: time.Minute}), WithLogger(quietLogger))
		require.NoError(t, err)
		t.Cleanup(func() { _ = rs.Close() })
		require.Positive(t, rt.requests.Load())
		assert.Greater(t, time.Duration(rt.budget.Load()), jwksFetchTimeout)
	})
}

// TestJWKSDefaultClientTimeout (issue 10, finding 1): without
// WithJWKSHTTPClient, the key set is fetched by a client with a 5-second
// timeout. The client the resource server built gets a recording transport
// after New; a refetch then goes through it with a 5-second deadline.
func TestJWKSDefaultClientTimeout(t *testing.T) {
	_, srv, rs := newJWKSConsumer(t)
	rt := &recordingTransport{base: http.DefaultTransport}
	rs.remote.client.Transport = rt // read by the cache's worker only after the refetch below is sent to it
	before := srv.fetches.Load()
	tok := esToken(t, attackerEC, "unknown", &fakeClock{t: time.Now()})
	assert.Equal(t, http.StatusUnauthorized, serveWithHeader(rs.Middleware(hello), "Authorization", "Bearer "+tok).Code)
	require.Equal(t, int32(1), rt.requests.Load(), "the refetch went through the client the resource server holds")
	assert.Equal(t, before+1, srv.fetches.Load())
	assertFetchTimeout(t, rt)
}

// TestJWKSRedirects (issue 10, finding 1): keys come only from the origin
// of the JWKS URL. A redirect to another origin (here another port, which
// publishes an attacker's key) is refused by the default client and by a
// given client without a CheckRedirect, so the attacker's token fails and
// the other server is never asked; a redirect within the origin works; a
// given client's own CheckRedirect is respected.
func TestJWKSRedirects(t *testing.T) {
	testKeys(t)
	issuer, err := New(WithSigningKey(ecKey, "ES256"), WithAuthenticator(newTestUsers()))
	require.NoError(t, err)
	attacker, err := New(WithSigningKey(attackerEC, "ES256"), WithAuthenticator(newTestUsers()))
	require.NoError(t, err)
	evil, evilAllowed := newJWKSServer(t, attacker), newJWKSServer(t, attacker)
	good := &jwksServer{}
	good.serve(issuer)
	mux := http.NewServeMux()
	mux.HandleFunc("/keys", good.handle)
	mux.Handle("/moved", http.RedirectHandler("/keys", http.StatusFound))
	mux.Handle("/elsewhere", http.RedirectHandler(evil.URL+"/keys", http.StatusFound))
	mux.Handle("/elsewhere-allowed", http.RedirectHandler(evilAllowed.URL+"/keys", http.StatusFound))
	good.Server = httptest.NewServer(mux)
	t.Cleanup(good.Close)

	issuerTok, attackerTok := login(t, issuer).Access, login(t, attacker).Access
	newRS := func(t *testing.T, path string, opts ...Option) http.Handler {
		rs, err := New(append([]Option{WithoutRevocationFeed(), WithJWKSURL(good.URL + path), WithAlgorithm("ES256"), WithLogger(quietLogger)}, opts...)...)
		require.NoError(t, err)
		t.Cleanup(func() { _ = rs.Close() })
		return rs.Middleware(hello)
	}
	code := func(h http.Handler, tok string) int { return serveWithHeader(h, "Authorization", "Bearer "+tok).Code }

	for _, tc := range []struct {
		name string
		opts []Option
	}{{"default client", nil}, {"given client without CheckRedirect", []Option{WithJWKSHTTPClient(&http.Client{})}}} {
		t.Run(tc.name+": another origin is refused", func(t *testing.T) {
			t.Parallel() // New waits 2 s for a first key set that never comes
			h := newRS(t, "/elsewhere", tc.opts...)
			assert.Equal(t, http.StatusUnauthorized, code(h, attackerTok), "a key from the redirect's target was accepted")
			assert.Equal(t, http.StatusUnauthorized, code(h, issuerTok))
			assert.Zero(t, evil.fetches.Load(), "the other origin was asked")
		})
		t.Run(tc.name+": the same origin is followed", func(t *testing.T) {
			h := newRS(t, "/moved", tc.opts...)
			assert.Equal(t, http.StatusOK, code(h, issuerTok))
			assert.Equal(t, http.StatusUnauthorized, code(h, attackerTok))
		})
	}

	t.Run("given client's own CheckRedirect is respected", func(t *testing.T) {
		var asked atomic.Int32
		cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { asked.Add(1); return nil }}
		h := newRS(t, "/elsewhere-allowed", WithJWKSHTTPClient(cl))
		assert.Positive(t, asked.Load())
		assert.Positive(t, evilAllowed.fetches.Load())
		assert.Equal(t, http.StatusOK, code(h, attackerTok), "the caller's policy allowed the other origin")
	})
}

// TestJWKSSameOriginRedirect: the default redirect policy compares scheme,
// host (in any letter case) and port (the scheme's default when absent),
// and stops after 10 redirects.
func TestJWKSSameOriginRedirect(t *testing.T) {
	from := httptest.NewRequest(http.MethodGet, "https://issuer.example/jwks.json", nil)
	for target, same := range map[string]bool{
		"https://issuer.example/keys":              true,
		"https://ISSUER.example:443/keys":          true,
		"http://issuer.example/keys":               false,
		"https://issuer.example:8443/keys":         false,
		"https://evil.example/keys":                false,
		"https://issuer.example.evil.example/keys": false,
		"https://evil.example/issuer.example/keys": false,
	} {
		err := sameOriginRedirect(httptest.NewRequest(http.MethodGet, target, nil), []*http.Request{from})
		assert.Equal(t, same, err == nil, "%s: %v", target, err)
	}
	via := slices.Repeat([]*http.Request{from}, jwksMaxRedirects)
	assert.NoError(t, sameOriginRedirect(from, via[:jwksMaxRedirects-1]))
	assert.Error(t, sameOriginRedirect(from, via))
}

// TestJWKSPlainHTTP (issue 10, finding 12): New refuses an http:// JWKS URL
// unless its host is loopback or WithJWKSInsecureHTTP is given.
func TestJWKSPlainHTTP(t *testing.T) {
	testKeys(t)
	for _, u := range []string{
		"http://issuer.example/jwks.json",
		"http://10.0.0.1/jwks.json",
		"http://[::ffff:10.0.0.1]/jwks.json",
		"http://127.0.0.1.evil.example/jwks.json",
		"http://localhost.evil.example/jwks.json",
		"http://0.0.0.0/jwks.json",
	} {
		_, err := New(WithoutRevocationFeed(), WithJWKSURL(u), WithAlgorithm("ES256"), WithLogger(quietLogger))
		require.Error(t, err, u)
		assert.Contains(t, err.Error(), "plain http", u)
	}
	for host, loopback := range map[string]bool{
		"localhost": true, "LocalHost": true, "127.0.0.1": true, "127.8.9.10": true, "::1": true, "::ffff:127.0.0.1": true,
		"10.0.0.1": false, "0.0.0.0": false, "::": false, "localhost.example": false, "127.0.0.1.example": false, "": false,
	} {
		assert.Equal(t, loopback, isLoopback(host), host)
	}

	issuer, err := New(WithSigningKey(ecKey, "ES256"), WithAuthenticator(newTestUsers()))
	require.NoError(t, err)
	srv := newJWKSServer(t, issuer)
	tok := login(t, issuer).Access
	port := srv.URL[strings.LastIndexByte(srv.URL, ':'):]
	verifies := func(t *testing.T, opts ...Option) {
		t.Helper()
		rs, err := New(append(opts, WithAlgorithm("ES256"), WithLogger(quietLogger), WithoutRevocationFeed())...)
		require.NoError(t, err)
		t.Cleanup(func() { _ = rs.Close() })
		assert.Equal(t, http.StatusOK, serveWithHeader(rs.Middleware(hello), "Authorization", "Bearer "+tok).Code)
	}
	t.Run("loopback by name", func(t *testing.T) { verifies(t, WithJWKSURL("http://localhost"+port+"/jwks.json")) })
	t.Run("loopback by address", func(t *testing.T) { verifies(t, WithJWKSURL(srv.URL+"/jwks.json")) })
	t.Run("another host, opted in", func(t *testing.T) {
		// Any address dials the test server: the name is not loopback.
		dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
		}
		cl := &http.Client{Transport: &http.Transport{DialContext: dial}}
		verifies(t, WithJWKSURL("http://issuer.example/jwks.json"), WithJWKSHTTPClient(cl), WithJWKSInsecureHTTP())
	})
	t.Run("opt-in without a URL", func(t *testing.T) {
		_, err := New(WithJWKSInsecureHTTP(), WithAlgorithm("ES256"))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "without WithJWKSURL")
	})
}

// TestJWKSNotStartedOnBadConfig: New checks every option before it starts
// a key-set client, so a configuration refused for any reason (here a
// limit, checked after the JWKS options) fetches nothing and leaves nothing
// running.
func TestJWKSNotStartedOnBadConfig(t *testing.T) {
	testKeys(t)
	issuer, err := New(WithSigningKey(ecKey, "ES256"), WithAuthenticator(newTestUsers()))
	require.NoError(t, err)
	srv := newJWKSServer(t, issuer)
	rs, err := New(WithoutRevocationFeed(), WithJWKSURL(srv.URL+"/.well-known/jwks.json"), WithAlgorithm("ES256"), WithLogger(quietLogger),
		WithMaxBodyBytes(0))
	require.ErrorContains(t, err, "max body bytes")
	assert.Nil(t, rs)
	assert.Zero(t, srv.fetches.Load(), "no fetch for a refused configuration")
}

// jwksBudgetRig is a resource server on a fake clock and its key server.
type jwksBudgetRig struct {
	clk   *fakeClock
	srv   *jwksServer
	rs    *Auth
	mw    http.Handler
	newID string // the kid of the issuer's next key (ecKey2)
}

func newJWKSBudgetRig(t *testing.T) *jwksBudgetRig {
	t.Helper()
	testKeys(t)
	issuer, err := New(WithSigningKey(ecKey, "ES256"), WithAuthenticator(newTestUsers()))
	require.NoError(t, err)
	g := &jwksBudgetRig{clk: newFakeClock(), srv: newJWKSServer(t, issuer), newID: mustThumb(t, &ecKey2.PublicKey)}
	g.rs, err = New(WithoutRevocationFeed(), WithJWKSURL(g.srv.URL+"/jwks.json"), WithAlgorithm("ES256"), WithClock(g.clk.Now), WithLogger(quietLogger))
	require.NoError(t, err)
	t.Cleanup(func() { _ = g.rs.Close() })
	g.mw = g.rs.Middleware(hello)
	require.Equal(t, int32(1), g.srv.fetches.Load())
	return g
}

// rotate makes the issuer publish its next key (ecKey2) beside the old one.
func (g *jwksBudgetRig) rotate(t *testing.T) {
	rotated, err := New(WithSigningKey(ecKey2, "ES256"), WithPreviousKey(&ecKey.PublicKey, "ES256", "", time.Now().Add(time.Hour)), WithAuthenticator(newTestUsers()))
	require.NoError(t, err)
	g.srv.serve(rotated)
}

// try presents a token of key naming kid; it returns the status and the
// number of fetches it caused.
func (g *jwksBudgetRig) try(t *testing.T, key *ecdsa.PrivateKey, kid string) (int, int32) {
	t.Helper()
	before := g.srv.fetches.Load()
	code := serveWithHeader(g.mw, "Authorization", "Bearer "+esToken(t, key, kid, g.clk)).Code
	return code, g.srv.fetches.Load() - before
}

// gatedRequest is a request stopped in the refetch path, after the floor
// check, by the rig's clock.
type gatedRequest struct {
	reached, gate, done chan struct{}
	code                int
}

// newGatedRig is a rig whose clock stops the first request that asks it
// from missingNow until that request is released.
func newGatedRig(t *testing.T) (*jwksBudgetRig, *gatedRequest) {
	t.Helper()
	testKeys(t)
	issuer, err := New(WithSigningKey(ecKey, "ES256"), WithAuthenticator(newTestUsers()))
	require.NoError(t, err)
	g := &jwksBudgetRig{clk: newFakeClock(), srv: newJWKSServer(t, issuer), newID: mustThumb(t, &ecKey2.PublicKey)}
	b := &gatedRequest{reached: make(chan struct{}), gate: make(chan struct{}), done: make(chan struct{})}
	var stopped atomic.Bool
	clock := func() time.Time {
		if pc, _, _, ok := runtime.Caller(1); ok && strings.HasSuffix(runtime.FuncForPC(pc).Name(), ".missingNow") && stopped.CompareAndSwap(false, true) {
			close(b.reached)
			<-b.gate
		}
		return g.clk.Now()
	}
	g.rs, err = New(WithoutRevocationFeed(), WithJWKSURL(g.srv.URL+"/jwks.json"), WithAlgorithm("ES256"), WithClock(clock), WithLogger(quietLogger))
	require.NoError(t, err)
	t.Cleanup(func() { _ = g.rs.Close() })
	g.mw = g.rs.Middleware(hello)
	return g, b
}

// start sends the request in the background and waits until it stops.
func (b *gatedRequest) start(t *testing.T, g *jwksBudgetRig, key *ecdsa.PrivateKey, kid string) {
	t.Helper()
	tok := esToken(t, key, kid, g.clk)
	go func() {
		defer close(b.done)
		b.code = serveWithHeader(g.mw, "Authorization", "Bearer "+tok).Code
	}()
	select {
	case <-b.reached:
	case <-b.done:
		t.Fatal("the request never looked among the missing kids")
	}
}

// release lets the request go on and returns its status.
func (b *gatedRequest) release() int {
	close(b.gate)
	<-b.done
	return b.code
}

// TestJWKSRefetchBudget (issue 10, finding 8): unknown kids cannot spend
// the refetch budget of a legitimately new kid, nor hammer the issuer.
func TestJWKSRefetchBudget(t *testing.T) {
	t.Run("an attacker's kid does not block the issuer's new kid", func(t *testing.T) {
		g := newJWKSBudgetRig(t)
		code, fetched := g.try(t, attackerEC, "attacker")
		assert.Equal(t, http.StatusUnauthorized, code)
		assert.Equal(t, int32(1), fetched, "an unknown kid refetches")
		g.rotate(t)
		g.clk.Advance(jwksRefetchFloor)
		code, fetched = g.try(t, attackerEC, "attacker")
		assert.Equal(t, http.StatusUnauthorized, code)
		assert.Zero(t, fetched, "a kid found missing is not refetched for again at once")
		code, fetched = g.try(t, ecKey2, g.newID)
		assert.Equal(t, http.StatusOK, code, "the new kid waited for the attacker's minute")
		assert.Equal(t, int32(1), fetched)
	})

	t.Run("a kid found missing is refetched for once a minute", func(t *testing.T) {
		g := newJWKSBudgetRig(t)
		_, fetched := g.try(t, attackerEC, "gone")
		require.Equal(t, int32(1), fetched)
		for range 59 {
			g.clk.Advance(time.Second)
			_, fetched = g.try(t, attackerEC, "gone")
			require.Zero(t, fetched, "refetched within the minute")
		}
		g.clk.Advance(time.Second)
		_, fetched = g.try(t, attackerEC, "gone")
		assert.Equal(t, int32(1), fetched, "after a minute the kid is looked for again")
	})

	t.Run("a flood of distinct kids: one fetch per 5 s at most", func(t *testing.T) {
		g := newJWKSBudgetRig(t)
		var total int32
		for i := range 1000 { // one instant
			code, fetched := g.try(t, attackerEC, fmt.Sprintf("flood-%d", i))
			require.Equal(t, http.StatusUnauthorized, code)
			total += fetched
		}
		assert.Equal(t, int32(1), total)
		g.clk.Advance(time.Minute)
		total = 0
		for i := range 600 { // one minute, a kid every 100 ms
			g.clk.Advance(100 * time.Millisecond)
			_, fetched := g.try(t, attackerEC, fmt.Sprintf("minute-%d", i))
			total += fetched
		}
		assert.LessOrEqual(t, total, int32(time.Minute/jwksRefetchFloor), "more fetches than the stated bound")
		assert.Greater(t, total, int32(1))
	})

	t.Run("concurrent distinct kids at one instant: one fetch", func(t *testing.T) {
		g := newJWKSBudgetRig(t)
		toks := make([]string, 256)
		for i := range toks {
			toks[i] = esToken(t, attackerEC, fmt.Sprintf("burst-%d", i), g.clk)
		}
		before := g.srv.fetches.Load()
		var wg sync.WaitGroup
		for _, tok := range toks {
			wg.Go(func() { serveWithHeader(g.mw, "Authorization", "Bearer "+tok) })
		}
		wg.Wait()
		assert.Equal(t, int32(1), g.srv.fetches.Load()-before, "the floor is checked again under the lock")
	})

	// B passes the floor check, then stops (in the clock, which it asks
	// while looking for its kid among the missing ones) until released. B
	// then gets the lock, and must see what happened meanwhile.
	t.Run("under the lock: the floor of a refetch that ended meanwhile", func(t *testing.T) {
		g, b := newGatedRig(t)
		before := g.srv.fetches.Load()
		b.start(t, g, attackerEC, "b")
		_, fetched := g.try(t, attackerEC, "a")
		require.Equal(t, int32(1), fetched, "A refetched")
		assert.Equal(t, http.StatusUnauthorized, b.release())
		assert.Equal(t, int32(1), g.srv.fetches.Load()-before, "B refetched within A's floor")
	})
	t.Run("under the lock: a kid the poll brought meanwhile", func(t *testing.T) {
		g, b := newGatedRig(t)
		b.start(t, g, ecKey2, g.newID)
		g.rotate(t)
		_, err := g.rs.remote.cache.Refresh(t.Context(), g.rs.remote.url) // as the background refresh would
		require.NoError(t, err)
		g.clk.Advance(jwksPoll)
		require.NotNil(t, g.rs.keys().Key(g.newID), "the poll installed the new set")
		before := g.srv.fetches.Load()
		assert.Equal(t, http.StatusOK, b.release())
		assert.Zero(t, g.srv.fetches.Load()-before, "B refetched for a kid it had")
	})

	t.Run("a clock set back does not freeze refetches", func(t *testing.T) {
		g := newJWKSBudgetRig(t)
		_, fetched := g.try(t, attackerEC, "attacker")
		require.Equal(t, int32(1), fetched)
		g.clk.Advance(-time.Hour)
		g.rotate(t)
		code, _ := g.try(t, ecKey2, g.newID)
		assert.Equal(t, http.StatusOK, code)
	})

	t.Run("a clock set back does not stop the poll", func(t *testing.T) {
		g := newJWKSBudgetRig(t)
		require.Nil(t, g.rs.keys().Key(g.newID))
		g.clk.Advance(-time.Hour)
		g.rotate(t)
		_, err := g.rs.remote.cache.Refresh(t.Context(), g.rs.remote.url) // as the background refresh would
		require.NoError(t, err)
		g.clk.Advance(jwksPoll)
		assert.NotNil(t, g.rs.keys().Key(g.newID), "the refreshed set was not installed")
	})
}

// TestJWKSHotPathAllocs: with a JWKS URL, verifying a token of a known kid
// allocates no more than with the same key configured directly.
func TestJWKSHotPathAllocs(t *testing.T) {
	issuer, _, rs := newJWKSConsumer(t)
	tok := login(t, issuer).Access
	allocs := func(a *Auth) float64 {
		return allocsPerRun(200, func() {
			if _, err := a.verify(tok, TokenTypeAccess); err != nil {
				t.Fatal(err)
			}
		})
	}
	assert.Equal(t, allocs(issuer), allocs(rs))
}

// countingServer counts requests, to prove nothing is fetched.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusNotFound)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestJWKSHandler(t *testing.T) {
	testKeys(t)
	a, err := New(WithSigningKey(rsaKey, "RS256"), WithPreviousKey(&rsaKey2.PublicKey, "RS256", "", time.Now().Add(time.Hour)), WithAuthenticator(newTestUsers()))
	require.NoError(t, err)
	w := httptest.NewRecorder()
	a.JWKSHandler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil))
	require.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "application/jwk-set+json", w.Header().Get("Content-Type"))
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &set))
	require.Len(t, set.Keys, 2)
	kids := []string{}
	for _, k := range set.Keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k", "oth"} {
			assert.NotContains(t, k, private, "private member %q published", private)
		}
		assert.Equal(t, "RSA", k["kty"])
		assert.Equal(t, "RS256", k["alg"])
		assert.Equal(t, "sig", k["use"])
		kids = append(kids, k["kid"].(string))
	}
	assert.ElementsMatch(t, []string{mustThumb(t, &rsaKey.PublicKey), mustThumb(t, &rsaKey2.PublicKey)}, kids)

	w = httptest.NewRecorder()
	a.JWKSHandler().ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", nil))
	assert.Equal(t, http.StatusMethodNotAllowed, w.Code)

	h, _ := newTestAuth(t)
	w = httptest.NewRecorder()
	h.JWKSHandler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.Equal(t, http.StatusNotFound, w.Code, "an HMAC secret is never published")
}

func TestJWKSConsumer(t *testing.T) {
	issuer, srv, rs := newJWKSConsumer(t)
	mw := rs.Middleware(hello)

	p := login(t, issuer)
	w := serveWithHeader(mw, "Authorization", "Bearer "+p.Access)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.JSONEq(t, `{"user_id":"1","claims":null}`, w.Body.String())

	t.Run("resource server cannot issue", func(t *testing.T) {
		_, err := rs.IssuePair(t.Context(), User{ID: "1"})
		assert.ErrorIs(t, err, ErrVerifyOnly)
	})

	t.Run("unknown kid: at most one refetch", func(t *testing.T) {
		before := srv.fetches.Load()
		for range 20 {
			tok := handSign(t, "ES256", attackerEC, `{"alg":"ES256","kid":"unknown-kid","typ":"JWT"}`, claimsJSON(t, accessClaims(newFakeClock())))
			assert.Equal(t, http.StatusUnauthorized, serveWithHeader(mw, "Authorization", "Bearer "+tok).Code)
		}
		assert.LessOrEqual(t, srv.fetches.Load()-before, int32(1))
	})

	// Key URLs inside a token are never fetched: not with the attacker's key
	// and kid (whose key only that URL could supply), nor with the issuer's
	// own key and kid (the same token without the member passes): zero
	// requests reach the URL.
	issuerKid := mustThumb(t, &ecKey.PublicKey)
	realTime := claimsJSON(t, accessClaims(&fakeClock{t: time.Now()})) // rs runs on the real clock
	for _, signer := range []struct {
		name string
		key  *ecdsa.PrivateKey
		kid  string
	}{{"attacker's key", attackerEC, "attacker"}, {"issuer's key", ecKey, issuerKid}} {
		header := `{"alg":"ES256","kid":"` + signer.kid + `","typ":"JWT"`
		if signer.key == ecKey {
			t.Run("control: the issuer's key without a key URL passes", func(t *testing.T) {
				tok := handSign(t, "ES256", ecKey, header+`}`, realTime)
				assert.Equal(t, http.StatusOK, serveWithHeader(mw, "Authorization", "Bearer "+tok).Code)
			})
		}
		for _, member := range []string{"jku", "x5u"} {
			t.Run(member+" in a token is never followed, "+signer.name, func(t *testing.T) {
				evil, evilFetches := countingServer(t)
				tok := handSign(t, "ES256", signer.key, header+`,"`+member+`":"`+evil.URL+`/k"}`, realTime)
				w := serveWithHeader(mw, "Authorization", "Bearer "+tok)
				assert.Equal(t, http.StatusUnauthorized, w.Code)
				assert.JSONEq(t, `{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is invalid"}]}`, w.Body.String())
				assert.Zero(t, evilFetches.Load(), "fetched the %s URL", member)
			})
		}
	}
}

func TestJWKSConsumerFollowsRotation(t *testing.T) {
	_, srv, rs := newJWKSConsumer(t)

	// The issuer rotates: the new key is published, tokens name it.
	rotated, err := New(WithSigningKey(ecKey2, "ES256"), WithPreviousKey(&ecKey.PublicKey, "ES256", "", time.Now().Add(time.Hour)), WithAuthenticator(newTestUsers()))
	require.NoError(t, err)
	srv.serve(rotated)
	p := login(t, rotated)
	w := serveWithHeader(rs.Middleware(hello), "Authorization", "Bearer "+p.Access)
	assert.Equal(t, http.StatusOK, w.Code, "an unknown kid refetches the set once and finds the new key")
}

func TestJWKSConsumerOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
		want string
	}{
		{"relative URL", []Option{WithJWKSURL("/jwks.json"), WithAlgorithm("ES256")}, "bad JWKS URL"},
		{"file URL", []Option{WithJWKSURL("file:///etc/passwd"), WithAlgorithm("ES256")}, "bad JWKS URL"},
		{"no algorithm", []Option{WithJWKSURL("https://issuer.example/jwks.json")}, "needs WithAlgorithm"},
		{"HMAC algorithm", []Option{WithJWKSURL("https://issuer.example/jwks.json"), WithAlgorithm("HS256")}, "asymmetric"},
		{"and a key", []Option{WithJWKSURL("https://issuer.example/jwks.json"), WithAlgorithm("ES256"), WithHMACKey(testSecret)}, "one of"},
		{"refresh too often", []Option{WithJWKSURL("https://issuer.example/jwks.json"), WithAlgorithm("ES256"), WithJWKSRefresh(time.Millisecond)}, "under a second"},
		{"client without URL", []Option{WithJWKSHTTPClient(http.DefaultClient), WithAlgorithm("ES256")}, "without WithJWKSURL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestJWKSUnreachableAtStart: a resource server whose JWKS is down at start
// comes up (with the default logger), refuses tokens, and is closed cleanly.
func TestJWKSUnreachableAtStart(t *testing.T) {
	srv, fetches := countingServer(t) // answers 404 to everything
	rs, err := New(WithoutRevocationFeed(), WithJWKSURL(srv.URL+"/jwks.json"), WithAlgorithm("EdDSA"))
	require.NoError(t, err)
	defer rs.Close()
	testKeys(t)
	tok := handSign(t, "EdDSA", edKey, `{"alg":"EdDSA","kid":"k","typ":"JWT"}`, claimsJSON(t, accessClaims(newFakeClock())))
	assert.Equal(t, http.StatusUnauthorized, serveWithHeader(rs.Middleware(hello), "Authorization", "Bearer "+tok).Code)
	assert.Positive(t, fetches.Load())
}

// jwksServer serves an issuer's JWKS (swappable) and counts fetches.
type jwksServer struct {
	*httptest.Server
	body    atomic.Pointer[[]byte]
	fetches atomic.Int32
}

func newJWKSServer(t *testing.T, issuer *Auth) *jwksServer {
	s := &jwksServer{}
	s.serve(issuer)
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) handle(w http.ResponseWriter, _ *http.Request) {
	s.fetches.Add(1)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(*s.body.Load())
}

func (s *jwksServer) serve(issuer *Auth) {
	b := issuer.keys().jwks
	s.body.Store(&b)
}

// newJWKSConsumer returns an ES256 issuer, the server publishing its key
// set, and a resource server (rs) verifying with that key set only.
func newJWKSConsumer(t *testing.T) (issuer *Auth, srv *jwksServer, rs *Auth) {
	t.Helper()
	testKeys(t)
	issuer, err := New(WithSigningKey(ecKey, "ES256"), WithAuthenticator(newTestUsers()))
	require.NoError(t, err)
	srv = newJWKSServer(t, issuer)
	rs, err = New(WithoutRevocationFeed(), WithJWKSURL(srv.URL+"/.well-known/jwks.json"), WithAlgorithm("ES256"), WithLogger(quietLogger))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, rs.Close()); require.NoError(t, rs.Close()) })
	return issuer, srv, rs
}

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
