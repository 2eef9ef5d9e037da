// Package browsertest drives the example server's cookie-mode demo page
// in a real, headless Chromium: login, silent refresh, resume after a
// reload, logout, HttpOnly cookies out of the page's reach, and cross-site
// requests refused. The flow runs twice, in parallel: over plain HTTP on
// loopback (the development cookies, neither Secure nor prefixed) and over
// HTTPS with a throwaway certificate (-tls-cert, -tls-key: the production
// cookies, Secure with __Host-/__Secure- names), which Chromium is told to
// trust by its public key, not by ignoring certificate errors. A third
// flow (sessions_test.go) drives the page's sessions panel (-sessions) in
// two browser contexts, two cookie jars: one ends the other's session, and
// the other is logged out on its next request.
//
// It uses Debian's chromium (apt-get install chromium), never a downloaded
// browser. Without one the test skips, unless JWTPAIR_REQUIRE_BROWSER=1
// (CI), which makes a missing browser a failure. JWTPAIR_CHROMIUM names
// another binary.
package browsertest

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/storage"
	"github.com/chromedp/chromedp"
	"github.com/jwtpair/jwtpair/internal/testcert"
)

// accessTTL is the example's access-token lifetime here: short, so that
// the test sees the page refresh it.
const accessTTL = 3 * time.Second

// setup is one way of serving the example to the browser.
type setup struct {
	name string
	cert *testcert.Cert // HTTPS with this certificate; nil: plain HTTP
	// The cookies the browser must hold after login, and nothing else.
	access, refresh, csrf string
}

func TestBrowser(t *testing.T) {
	chromium := findChromium(t)
	start := time.Now()
	bin := buildExample(t)
	// Cleanup, not defer: the subtests run after this function returns.
	t.Cleanup(func() { t.Logf("browser test took %v", time.Since(start).Round(100*time.Millisecond)) })
	for _, s := range []setup{
		// Loopback over plain HTTP: the example sets CookieOptions.Insecure,
		// which drops Secure and with it the name prefixes.
		{name: "http", access: "jwtpair-access", refresh: "jwtpair-refresh", csrf: "jwtpair-csrf"},
		// HTTPS: the production cookies, as with CookieOptions{}.
		{name: "https", cert: testcert.New(t), access: "__Host-jwtpair-access", refresh: "__Secure-jwtpair-refresh", csrf: "__Host-jwtpair-csrf"},
	} {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			testFlow(t, chromium, bin, s)
		})
	}
}

// testFlow runs the whole flow in a fresh browser against a fresh example
// served as s says.
func testFlow(t *testing.T, chromium, bin string, s setup) {
	start := time.Now()
	defer func() { t.Logf("%s flow took %v", s.name, time.Since(start).Round(100*time.Millisecond)) }()
	// A reload that aborts a silent refresh in flight leaves the browser
	// with the rotated refresh cookie: the grace window forgives its replay,
	// as a cookie-mode deployment should (docs/cookies.md).
	args := []string{"-cookies", "-access-ttl", accessTTL.String(), "-reuse-grace", "10s", "-addr", "127.0.0.1:0"}
	if s.cert != nil {
		args = append(args, "-tls-cert", s.cert.CertFile, "-tls-key", s.cert.KeyFile)
	}
	exampleURL := startExample(t, bin, args...)
	if !strings.HasPrefix(exampleURL, s.name+"://") {
		t.Fatalf("the example serves %s, want %s", exampleURL, s.name)
	}

	// Every request the browser makes to the app goes through a recording
	// reverse proxy, so the test sees what the server answered. Over HTTPS
	// the proxy serves the example's certificate and reaches the example
	// over TLS.
	rec := newRecorder(t, exampleURL, s.cert)
	app := rec.url // http:// or https://127.0.0.1:PORT

	// The attacker: a page on another site (localhost is not 127.0.0.1)
	// that auto-submits a form to the app.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.URL.Query().Get("target")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><form id="f" method="POST" action="%s%s"><input name="refresh" value="x"></form>
<script>document.getElementById("f").submit()</script>`, app, target)
	}))
	defer evil.Close()
	_, evilPort, _ := net.SplitHostPort(evil.Listener.Addr().String())
	evilURL := "http://localhost:" + evilPort

	ctx := newBrowser(t, chromium, s.cert)

	p := &page{t: t, ctx: ctx}

	// 1. Log in.
	must(t, chromedp.Do(ctx, chromedp.Navigate(app+"/")))
	p.waitText("state", "logged-out")
	p.click("login")
	p.waitText("state", "logged-in")
	if got := p.text("user"); got == "" {
		t.Fatal("no user id shown after login")
	}
	if s := rec.last(t, "POST", "/api/token/"); s != http.StatusOK {
		t.Fatalf("login: server answered %d", s)
	}

	// 2. The protected API works, GET and POST (with the CSRF header).
	if s := p.callHello("GET"); s != "200" {
		t.Fatalf("GET /hello/ after login: %s", s)
	}
	if s := p.callHello("POST"); s != "200" {
		t.Fatalf("POST /hello/ after login: %s", s)
	}
	if s := rec.last(t, "POST", "/hello/"); s != http.StatusOK {
		t.Fatalf("POST /hello/: server answered %d", s)
	}

	// 3. The browser holds the three cookies of this setup, with their
	// attributes, and the page sees the CSRF cookie only.
	docCookie, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie`))
	must(t, err)
	if names := cookieNames(docCookie); len(names) != 1 || names[0] != s.csrf {
		t.Fatalf("document.cookie shows %q, want only %s", docCookie, s.csrf)
	}
	checkJar(t, ctx, s)

	// 4. Same-origin POST without the CSRF header: 403.
	type fetched struct {
		Status int    `json:"status"`
		Body   string `json:"body"`
	}
	res, err := chromedp.Run(ctx, chromedp.Evaluate[fetched](`fetch("/hello/", {method: "POST"}).then(async r => ({status: r.status, body: await r.text()}))`, chromedp.EvalAwaitPromise))
	must(t, err)
	if res.Status != http.StatusForbidden || !strings.Contains(res.Body, "CSRF token missing.") {
		t.Fatalf("POST /hello/ without the CSRF header: %d %s", res.Status, res.Body)
	}

	// 5. Wait past the access TTL: the page refreshed silently, on schedule,
	// and the API still works on the first try.
	time.Sleep(accessTTL + 1500*time.Millisecond)
	if n := p.text("refreshes"); n == "0" {
		t.Fatalf("no silent refresh after %v; page log:\n%s", accessTTL, p.text("log"))
	}
	if s := p.callHello("GET"); s != "200" {
		t.Fatalf("GET /hello/ after the TTL: %s", s)
	}
	if s := p.callHello("POST"); s != "200" {
		t.Fatalf("POST /hello/ after the TTL: %s", s)
	}
	if n := p.text("recoveries"); n != "0" {
		t.Fatalf("the page needed %s refresh(es) after a 401: the silent refresh did not keep the session; log:\n%s", n, p.text("log"))
	}
	if rec.count("POST", "/api/token/refresh/", http.StatusOK) == 0 {
		t.Fatal("server saw no successful refresh")
	}

	// 6. A reload keeps the session: the page resumes from the refresh cookie.
	refreshesBefore := rec.count("POST", "/api/token/refresh/", http.StatusOK)
	must(t, chromedp.Do(ctx, chromedp.Reload()))
	p.waitText("state", "logged-in")
	if rec.count("POST", "/api/token/refresh/", http.StatusOK) <= refreshesBefore {
		t.Fatal("the reload did not resume through a refresh")
	}
	if s := p.callHello("GET"); s != "200" {
		t.Fatalf("GET /hello/ after reload: %s", s)
	}

	// 7. Cross-site form POSTs from another site are refused, and the
	// session survives them.
	for _, target := range []string{"/hello/", "/api/token/refresh/", "/api/token/blacklist/"} {
		seenBefore := rec.count("POST", target, -1)
		must(t, chromedp.Do(ctx, chromedp.Navigate(evilURL+"/?target="+url.QueryEscape(target))))
		status := rec.waitNew(t, "POST", target, seenBefore)
		if status != http.StatusForbidden {
			t.Fatalf("cross-site form POST to %s: server answered %d, want 403", target, status)
		}
		body := waitBody(t, ctx, "CSRF Failed")
		if !strings.Contains(body, `"CSRF Failed: Origin checking failed."`) {
			t.Fatalf("cross-site form POST to %s: the browser shows %q", target, body)
		}
	}
	must(t, chromedp.Do(ctx, chromedp.Navigate(app+"/")))
	p.waitText("state", "logged-in")
	if s := p.callHello("POST"); s != "200" {
		t.Fatalf("POST /hello/ after the cross-site attempts: %s", s)
	}

	// 8. Logout clears the cookies; the API is then 401.
	p.click("logout")
	p.waitText("state", "logged-out")
	if s := rec.last(t, "POST", "/api/token/blacklist/"); s != http.StatusOK {
		t.Fatalf("logout: server answered %d", s)
	}
	if s := p.callHello("GET"); s != "401" {
		t.Fatalf("GET /hello/ after logout: %s", s)
	}
	if s := rec.last(t, "GET", "/hello/"); s != http.StatusUnauthorized {
		t.Fatalf("GET /hello/ after logout: server answered %d", s)
	}
	docCookie, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie`))
	must(t, err)
	if docCookie != "" {
		t.Fatalf("cookies left after logout: %q", docCookie)
	}
	if jar := browserCookies(t, ctx); len(jar) != 0 {
		t.Fatalf("the browser still holds %v after logout", slices.Sorted(maps.Keys(jar)))
	}
	// And a reload stays logged out.
	must(t, chromedp.Do(ctx, chromedp.Reload()))
	p.waitText("state", "logged-out")
}

// page is a tab showing the demo page, and the helpers that read it and
// click its buttons.
type page struct {
	t   *testing.T
	ctx context.Context
}

// text returns the text of the element with id.
func (p *page) text(id string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.TextContent(chromedp.ID(id)))
	must(p.t, err)
	return strings.TrimSpace(s)
}

// waitText waits until the element with id reads want.
func (p *page) waitText(id, want string) {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := p.text(id)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("#%s is %q, want %q; page log:\n%s", id, got, want, p.text("log"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// click clicks the element with id.
func (p *page) click(id string) {
	p.t.Helper()
	must(p.t, chromedp.Do(p.ctx, chromedp.Click(chromedp.ID(id))))
}

// callHello clicks a hello button and returns the status the page shows.
func (p *page) callHello(method string) string {
	p.t.Helper()
	_, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.getElementById("hello-status").textContent = ""`))
	must(p.t, err)
	p.click(strings.ToLower(method) + "-hello")
	deadline := time.Now().Add(10 * time.Second)
	for p.text("hello-status") == "" {
		if time.Now().After(deadline) {
			p.t.Fatalf("%s /hello/: no answer; page log:\n%s", method, p.text("log"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return p.text("hello-status")
}

// browserCookies returns every cookie the browser holds, by name.
func browserCookies(t *testing.T, ctx context.Context) map[string]*network.Cookie {
	t.Helper()
	jar, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) ([]*network.Cookie, error) {
		r, err := cdp.Call(ctx, tg, storage.GetCookies, storage.GetCookiesParams{})
		return r.Cookies, err
	})
	must(t, err)
	byName := map[string]*network.Cookie{}
	for _, c := range jar {
		byName[c.Name] = c
	}
	return byName
}

// checkJar checks that the browser holds exactly the access, refresh and
// CSRF cookies of s, as the server set them: host-only on 127.0.0.1,
// persistent, SameSite=Lax, the tokens HttpOnly, the refresh cookie on
// /api/token/ only, and over HTTPS Secure and recorded as set by a secure
// origin (Chromium keeps a __Host-/__Secure- cookie only if it is).
func checkJar(t *testing.T, ctx context.Context, s setup) {
	t.Helper()
	jar := browserCookies(t, ctx)
	want := map[string]struct {
		path     string
		httpOnly bool
	}{s.access: {"/", true}, s.refresh: {"/api/token/", true}, s.csrf: {"/", false}}
	if len(jar) != len(want) {
		t.Fatalf("the browser holds %v, want %s, %s and %s", slices.Sorted(maps.Keys(jar)), s.access, s.refresh, s.csrf)
	}
	secure := s.cert != nil
	source := network.CookieSourceSchemeNonSecure
	if secure {
		source = network.CookieSourceSchemeSecure
	}
	for name, w := range want {
		c := jar[name]
		if c == nil || c.Value == "" || c.Domain != "127.0.0.1" || c.Session ||
			c.Path != w.path || c.HTTPOnly != w.httpOnly || c.Secure != secure ||
			c.SameSite != network.CookieSameSiteLax || c.SourceScheme != source {
			t.Fatalf("the browser holds %s as %+v; want it on 127.0.0.1, persistent, Path=%s, HttpOnly %v, Secure %v, SameSite=Lax, source scheme %s",
				name, c, w.path, w.httpOnly, secure, source)
		}
	}
}

// waitBody waits until the page's body text contains want (a navigation
// may still be landing) and returns it.
func waitBody(t *testing.T, ctx context.Context, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		body, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		if err == nil && strings.Contains(body, want) || time.Now().After(deadline) {
			return body
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// findChromium returns the browser to drive, or skips (fails in CI).
func findChromium(t *testing.T) string {
	t.Helper()
	if env := os.Getenv("JWTPAIR_CHROMIUM"); env != "" {
		p, err := exec.LookPath(env)
		if err != nil {
			t.Fatalf("JWTPAIR_CHROMIUM=%s: %v", env, err)
		}
		return p
	}
	for _, c := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	msg := "no Chromium found (apt-get install chromium, or set JWTPAIR_CHROMIUM)"
	if os.Getenv("JWTPAIR_REQUIRE_BROWSER") == "1" {
		t.Fatal(msg + "; JWTPAIR_REQUIRE_BROWSER=1 requires one")
	}
	t.Skip(msg + "; skipping the browser test")
	return ""
}

// newBrowser starts a headless Chromium with a fresh profile and no
// background traffic, and returns a tab's context. With a cert, Chromium
// trusts that certificate's public key (and only it) for HTTPS.
func newBrowser(t *testing.T, path string, cert *testcert.Cert) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // CI runs as root
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	}
	if cert != nil {
		// Honoured because the profile is in UserDataDir; unlike
		// ignore-certificate-errors, any other certificate still fails.
		opts = append(opts, chromedp.Flag("ignore-certificate-errors-spki-list", cert.SPKIHash))
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelTab(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("starting %s: %v", path, err)
	}
	return ctx
}

// buildExample builds the example server into a temporary directory.
func buildExample(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "example")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Join("..", "example")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the example: %v\n%s", err, out)
	}
	return bin
}

var listeningRE = regexp.MustCompile(`listening on (https?://\S+)`)

// startExample runs the example and returns its URL once it listens; it is
// stopped when the test ends.
func startExample(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout // one stream, in order
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan string, 1)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			t.Log("example: " + line)
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		// SIGINT: the example shuts down cleanly. Read its output to the end
		// (the pipe closes when it exits) before Wait, as os/exec requires.
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-scanned:
		case <-time.After(10 * time.Second):
			t.Error("the example did not exit within 10s of SIGINT; killing it")
			_ = cmd.Process.Kill()
			<-scanned
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("the example exited with %v", err)
		}
	})
	select {
	case u := <-found:
		return u
	case <-time.After(30 * time.Second):
		t.Fatal("the example did not print `listening on http(s)://…` within 30s")
		return ""
	}
}

// recorder is a reverse proxy in front of the example that records the
// status of every answer, for assertions on what the server did. With a
// cert it serves HTTPS with it and trusts it (only) to reach the example.
type recorder struct {
	url string
	mu  sync.Mutex
	log []exchange
	srv *httptest.Server
}

type exchange struct {
	method, path string
	status       int
	at           time.Time // when the answer reached the proxy
}

func newRecorder(t *testing.T, target string, cert *testcert.Cert) *recorder {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host // the app compares Origin with Host
		},
		ModifyResponse: func(resp *http.Response) error {
			rec.mu.Lock()
			rec.log = append(rec.log, exchange{resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, time.Now()})
			rec.mu.Unlock()
			return nil
		},
	}
	rec.srv = httptest.NewUnstartedServer(proxy)
	if cert != nil {
		transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cert.Pool}}
		t.Cleanup(transport.CloseIdleConnections)
		proxy.Transport = transport
		rec.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert.Pair}}
		rec.srv.StartTLS()
	} else {
		rec.srv.Start()
	}
	t.Cleanup(rec.srv.Close)
	rec.url = rec.srv.URL
	return rec
}

// count counts answers to method path with status (-1: any).
func (r *recorder) count(method, path string, status int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.log {
		if e.method == method && e.path == path && (status < 0 || e.status == status) {
			n++
		}
	}
	return n
}

// last returns the status of the latest answer to method path.
func (r *recorder) last(t *testing.T, method, path string) int {
	t.Helper()
	return r.latest(t, method, path).status
}

// first returns the first answer to method path with status given at or
// after since.
func (r *recorder) first(method, path string, status int, since time.Time) (exchange, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.log {
		if e.method == method && e.path == path && e.status == status && !e.at.Before(since) {
			return e, true
		}
	}
	return exchange{}, false
}

// latest returns the latest answer to method path.
func (r *recorder) latest(t *testing.T, method, path string) exchange {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.log) - 1; i >= 0; i-- {
		if e := r.log[i]; e.method == method && e.path == path {
			return e
		}
	}
	t.Fatalf("the server saw no %s %s", method, path)
	return exchange{}
}

// waitNew waits for an answer to method path beyond the first seen and
// returns its status.
func (r *recorder) waitNew(t *testing.T, method, path string, seen int) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for r.count(method, path, -1) <= seen {
		if time.Now().After(deadline) {
			t.Fatalf("the server saw no new %s %s", method, path)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return r.last(t, method, path)
}

// cookieNames lists the names in a document.cookie string.
func cookieNames(s string) []string {
	var names []string
	for _, part := range strings.Split(s, ";") {
		if name, _, _ := strings.Cut(strings.TrimSpace(part), "="); name != "" {
			names = append(names, name)
		}
	}
	return names
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
