package bench

import (
	"bytes"
	"context"
	"crypto/hmac"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jwtpair/jwtpair"
)

// discardWriter is the reused ResponseWriter of the benchmarks: it keeps
// the status and drops the body, so that they measure the middleware, not
// a recorder.
type discardWriter struct {
	h    http.Header
	code int
}

func newDiscardWriter() *discardWriter { return &discardWriter{h: http.Header{}} }

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return len(b), nil
}
func (w *discardWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *discardWriter) reset() {
	clear(w.h)
	w.code = 0
}

// status is the status the handler answered: 200 when it wrote nothing.
func (w *discardWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// serveLoop runs the benchmark loop: one request with the Authorization
// header auth through h per iteration, each expected to get status want.
func serveLoop(b *testing.B, h http.Handler, auth string, want int) {
	r := httptest.NewRequest(http.MethodGet, "/hello/", nil)
	r.Header.Set("Authorization", auth)
	w := newDiscardWriter()
	b.ReportAllocs()
	for b.Loop() {
		w.reset()
		h.ServeHTTP(w, r)
	}
	if got := w.status(); got != want {
		b.Fatalf("status %d, want %d", got, want)
	}
}

// BenchmarkMiddleware: a valid access token through each middleware to a
// handler that reads the user from the context. Sub-benchmarks are
// <alg>/<lib>.
func BenchmarkMiddleware(b *testing.B) {
	for _, alg := range Algs {
		for _, lib := range Libs {
			b.Run(alg.Name+"/"+lib.Name, func(b *testing.B) {
				ks := keysFor(b, alg) // inside Run: -bench filters skip key generation
				serveLoop(b, handler(b, lib, ks.Key), "Bearer "+ks.Tokens.Valid, http.StatusOK)
			})
		}
	}
}

// BenchmarkReject: what refusing a bad HS256 token costs each middleware.
// Sub-benchmarks are <kind>/<lib>; garbage is 1 MiB of dots.
func BenchmarkReject(b *testing.B) {
	alg, _ := AlgByName("HS256")
	for _, kind := range []struct {
		name string
		tok  func(Tokens) string
	}{
		{"expired", func(t Tokens) string { return t.Expired }},
		{"wrong-signature", func(t Tokens) string { return t.WrongSig }},
		{"garbage", func(t Tokens) string { return t.Garbage }},
	} {
		for _, lib := range Libs {
			b.Run(kind.name+"/"+lib.Name, func(b *testing.B) {
				ks := keysFor(b, alg)
				serveLoop(b, handler(b, lib, ks.Key), "Bearer "+kind.tok(ks.Tokens), http.StatusUnauthorized)
			})
		}
	}
}

// BenchmarkBareVerify: the bare signature verify of each algorithm, the
// physical limit of its row: base64 decoding of the signature, then for
// HMAC the MAC over the signing input with one reused MAC state (Reset,
// Write, Sum into a reused slice, hmac.Equal: no allocation), and for the
// asymmetric algorithms the public-key verify over the precomputed digest
// of the signing input (Ed25519 takes the input itself).
func BenchmarkBareVerify(b *testing.B) {
	for _, alg := range Algs {
		b.Run(alg.Name, func(b *testing.B) {
			ks := keysFor(b, alg)
			k := ks.Key
			tok := ks.Tokens.Valid
			i := strings.LastIndexByte(tok, '.')
			input, sigText := []byte(tok[:i]), tok[i+1:]
			if k.Secret != nil {
				bareHMAC(b, k, input, []byte(sigText))
				return
			}
			digest := k.Digest(input)
			b.ReportAllocs()
			for b.Loop() {
				sig, err := b64.DecodeString(sigText)
				if err != nil || !k.VerifyDigest(input, digest, sig) {
					b.Fatal("bare verify failed")
				}
			}
		})
	}
}

// bareHMAC is BenchmarkBareVerify's loop for an HMAC key: the signature
// decoded into a stack buffer, the MAC of a state made once.
func bareHMAC(b *testing.B, k *Key, input, sigText []byte) {
	mac := hmac.New(k.newMAC, k.Secret)
	sum := make([]byte, 0, mac.Size())
	b.ReportAllocs()
	for b.Loop() {
		var buf [64]byte // the largest HMAC, HS512
		n, err := b64.Decode(buf[:], sigText)
		mac.Reset()
		mac.Write(input)
		if err != nil || !hmac.Equal(mac.Sum(sum[:0]), buf[:n]) {
			b.Fatal("bare verify failed")
		}
	}
}

// plainUsers is an Authenticator without password hashing, so that
// BenchmarkObtain measures jwtpair, not bcrypt.
var plainUsers = jwtpair.AuthenticatorFunc(func(_ context.Context, username, password string) (jwtpair.User, error) {
	if username != "alice" || password != "wonderland" {
		return jwtpair.User{}, jwtpair.ErrInvalidCredentials
	}
	return jwtpair.User{ID: UserID}, nil
})

// benchAuth returns a jwtpair.Auth for k over plainUsers and a fresh memory
// store.
func benchAuth(b *testing.B, k *Key) *jwtpair.Auth {
	b.Helper()
	// Throttling off: every iteration logs in or refreshes from one
	// address, which the default throttle answers 429 after its burst. The
	// root package's BenchmarkObtain measures a throttled login (one
	// limiter call more), from 65,536 addresses in turn.
	opts := append(JWTPairOptions(k), jwtpair.WithAuthenticator(plainUsers), jwtpair.WithStore(jwtpair.NewMemoryStore()), jwtpair.WithThrottle(jwtpair.Throttle{}))
	a, err := jwtpair.New(opts...)
	if err != nil {
		b.Fatal(err)
	}
	return a
}

// bodyWriter is a reused ResponseWriter that keeps the body.
type bodyWriter struct {
	discardWriter
	body []byte
}

func (w *bodyWriter) Write(p []byte) (int, error) {
	w.discardWriter.Write(p)
	w.body = append(w.body, p...)
	return len(p), nil
}

// post serves one JSON POST of body through h, reusing r and w.
func post(h http.Handler, r *http.Request, rd *bytes.Reader, w *bodyWriter, body []byte) {
	rd.Reset(body)
	r.Body = io.NopCloser(rd)
	r.ContentLength = int64(len(body))
	w.reset()
	w.body = w.body[:0]
	h.ServeHTTP(w, r)
}

func jsonPost(path string) (*http.Request, *bytes.Reader) {
	r := httptest.NewRequest(http.MethodPost, path, nil)
	r.Header.Set("Content-Type", "application/json")
	return r, bytes.NewReader(nil)
}

// BenchmarkObtain: a login through the obtain handler (JSON body, an
// Authenticator that does no hashing, the memory store), per algorithm.
func BenchmarkObtain(b *testing.B) {
	for _, alg := range Algs {
		b.Run(alg.Name, func(b *testing.B) {
			ks := keysFor(b, alg)
			h := benchAuth(b, ks.Key).ObtainHandler()
			body := []byte(`{"username":"alice","password":"wonderland"}`)
			r, rd := jsonPost("/api/token/")
			w := &bodyWriter{discardWriter: *newDiscardWriter()}
			b.ReportAllocs()
			for b.Loop() {
				post(h, r, rd, w, body)
				if w.status() != http.StatusOK {
					b.Fatalf("status %d: %s", w.status(), w.body)
				}
			}
		})
	}
}

// BenchmarkRefresh: a refresh with rotation (the default) through the
// refresh handler on the memory store, each iteration presenting the
// refresh token the previous one got, per algorithm.
func BenchmarkRefresh(b *testing.B) {
	for _, alg := range Algs {
		b.Run(alg.Name, func(b *testing.B) {
			ks := keysFor(b, alg)
			a := benchAuth(b, ks.Key)
			p, err := a.IssuePair(context.Background(), jwtpair.User{ID: UserID})
			if err != nil {
				b.Fatal(err)
			}
			h := a.RefreshHandler()
			r, rd := jsonPost("/api/token/refresh/")
			w := &bodyWriter{discardWriter: *newDiscardWriter()}
			body := append([]byte(`{"refresh":"`), p.Refresh...)
			body = append(body, `"}`...)
			b.ReportAllocs()
			for b.Loop() {
				post(h, r, rd, w, body)
				tok := refreshField(w.body)
				if w.status() != http.StatusOK || tok == nil {
					b.Fatalf("status %d: %s", w.status(), w.body)
				}
				body = append(append(append(body[:0], `{"refresh":"`...), tok...), `"}`...)
			}
		})
	}
}

// refreshField returns the "refresh" string of a refresh response, or nil.
func refreshField(body []byte) []byte {
	const key = `"refresh":"`
	i := bytes.Index(body, []byte(key))
	if i < 0 {
		return nil
	}
	rest := body[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return nil
	}
	return rest[:j]
}
