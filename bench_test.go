package jwtpair

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// noop is the protected handler of the benchmarks.
var noop = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})

// benchAuth returns an Auth with the real clock and a fresh pair.
func benchAuth(b *testing.B, opts ...Option) (*Auth, Pair) {
	b.Helper()
	a, err := New(append([]Option{WithHMACKey(testSecret), WithAuthenticator(newTestUsers()), WithLogger(quietLogger)}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = a.Close() })
	p, err := a.IssuePair(context.Background(), User{ID: "1"})
	if err != nil {
		b.Fatal(err)
	}
	return a, p
}

// BenchmarkMiddleware: one request with a valid HS256 access token through
// the middleware to a no-op handler (the request hot path), with 0 and
// with 100k ended sessions in the revoked set (a set that follows no feed,
// so that no goroutine runs beside the loop), and with no revoked set at
// all (WithoutRevocationFeed). They present one token again and again, as
// a client does, which the cache of verified tokens holds after its
// second request; cache=off verifies it every time, as a token's first
// request is. BENCHMARKS.md compares them with benchstat.
func BenchmarkMiddleware(b *testing.B) {
	for _, tc := range []struct {
		name    string
		revoked int // -1: no revoked set
		opts    []Option
	}{
		{"revoked=0", 0, nil},
		{"revoked=100k", 100_000, nil},
		{"feed=off", -1, []Option{WithoutRevocationFeed()}},
		{"cache=off", 0, []Option{WithVerifiedTokenCache(0)}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			a, p := benchAuth(b, tc.opts...)
			if tc.revoked >= 0 {
				frozenRevocations(a, tc.revoked)
			}
			middlewareLoop(b, a, []string{p.Access})
		})
	}
}

// BenchmarkMiddlewareTokens: the cache of verified tokens at its worst:
// 65,536 tokens presented in turn to the default cache of 4096 slots, so
// that nearly every request misses it, against the same with the cache
// off. (Each token comes back only after 65,535 others; no token is
// admitted, and a miss costs what a request costs without the cache.)
func BenchmarkMiddlewareTokens(b *testing.B) {
	for _, tc := range []struct {
		name string
		opts []Option
	}{{"cache=on", nil}, {"cache=off", []Option{WithVerifiedTokenCache(0)}}} {
		b.Run(tc.name, func(b *testing.B) {
			a, _ := benchAuth(b, tc.opts...)
			frozenRevocations(a, 0)
			toks := make([]string, 1<<16)
			for i := range toks {
				p, err := a.IssuePair(context.Background(), User{ID: fmt.Sprint(i)})
				if err != nil {
					b.Fatal(err)
				}
				toks[i] = p.Access
			}
			middlewareLoop(b, a, toks)
		})
	}
}

// middlewareLoop is the loop of the middleware benchmarks: one request
// per iteration, with the tokens toks in turn.
func middlewareLoop(b *testing.B, a *Auth, toks []string) {
	reqs := make([]*http.Request, len(toks))
	for i, tok := range toks {
		reqs[i] = httptest.NewRequest(http.MethodGet, "/hello/", nil)
		reqs[i].Header.Set("Authorization", "Bearer "+tok)
	}
	h := a.Middleware(noop)
	w := httptest.NewRecorder()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, reqs[i])
		if i++; i == len(reqs) {
			i = 0
		}
	}
	if w.Code != http.StatusOK {
		b.Fatalf("status %d", w.Code)
	}
}

// BenchmarkBareHMAC: the physical limit of BenchmarkMiddleware, on the
// same token: the signature base64-decoded into a stack buffer and the
// HMAC-SHA256 of the signing input with one reused MAC state, compared
// with hmac.Equal; no allocation, no rule. BenchmarkMiddleware's target
// is 2× this (issue 16).
func BenchmarkBareHMAC(b *testing.B) {
	_, p := benchAuth(b)
	i := strings.LastIndexByte(p.Access, '.')
	input, sigText := []byte(p.Access[:i]), []byte(p.Access[i+1:])
	mac := hmac.New(sha256.New, testSecret)
	sum := make([]byte, 0, sha256.Size)
	b.ReportAllocs()
	for b.Loop() {
		var buf [sha256.Size + 2]byte
		n, err := base64.RawURLEncoding.Decode(buf[:], sigText)
		mac.Reset()
		mac.Write(input)
		if err != nil || !hmac.Equal(mac.Sum(sum[:0]), buf[:n]) {
			b.Fatal("bare verify failed")
		}
	}
}

// BenchmarkVerifyAccess: token verification alone.
func BenchmarkVerifyAccess(b *testing.B) {
	a, p := benchAuth(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.VerifyAccess(ctx, p.Access); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMiddlewareRejects: the cost of refusing bad tokens.
func BenchmarkMiddlewareRejects(b *testing.B) {
	a, p := benchAuth(b)
	h := a.Middleware(noop)
	for name, tok := range map[string]string{
		"garbage-1MiB-dots": strings.Repeat(".", 1<<20),
		"bad-signature":     p.Access[:len(p.Access)-4] + "AAAA",
	} {
		b.Run(name, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodGet, "/hello/", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, r)
				if w.code != http.StatusUnauthorized {
					b.Fatalf("status %d", w.code)
				}
			}
		})
	}
}

// BenchmarkObtain: a login through the handler, with an Authenticator that
// does no password hashing, on the memory store, throttles included (the
// logins come from 65,536 addresses in turn, so that none is throttled).
func BenchmarkObtain(b *testing.B) {
	a, _ := benchAuth(b)
	h := a.ObtainHandler()
	body := `{"username":"alice","password":"wonderland"}`
	addrs := make([]string, 1<<16)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("10.0.%d.%d:4711", i>>8, i&0xff)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r := httptest.NewRequest(http.MethodPost, "/api/token/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.RemoteAddr = addrs[i%len(addrs)]
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// BenchmarkRefresh: one rotation (the programmatic path of the refresh
// endpoint) on the memory store, each iteration refreshing the previous
// iteration's token.
func BenchmarkRefresh(b *testing.B) {
	a, p := benchAuth(b)
	ctx := context.Background()
	tok := p.Refresh
	b.ReportAllocs()
	for b.Loop() {
		next, err := a.Refresh(ctx, tok)
		if err != nil {
			b.Fatal(err)
		}
		tok = next.Refresh
	}
}

// discardWriter is a ResponseWriter that keeps only the status, so that
// benchmarks measure the handler, not a recorder.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }
