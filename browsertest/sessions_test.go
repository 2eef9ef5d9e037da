package browsertest

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/jwtpair/jwtpair"
)

// markupAgent is the user agent of the second browser context: markup that
// would add an element to the page listing its session if the page wrote
// it as HTML.
const markupAgent = `Mozilla/5.0 (jwtpair browsertest B) <img id="injected" src="x">`

// sessionRow is a row of the page's sessions table.
type sessionRow struct {
	SID     string `json:"sid"`
	Current bool   `json:"current"`
	Client  string `json:"client"`
}

// TestBrowserSessions drives the sessions panel of the demo page
// (-sessions) in two browser contexts of one headless Chromium, each with
// its own cookie jar: the same user logs in in both. A lists both sessions
// (B's user agent, markup, shown as text), ends B's with its "End" button,
// and B is logged out on its next request: its access cookie refused
// within the revocation bound of the server's acknowledgement (no sleeping:
// B asks until refused), then its refresh cookie refused, which logs the
// page out. B logs in again, and A's "End all other sessions" does the
// same to it, leaving A's own session working.
func TestBrowserSessions(t *testing.T) {
	chromium := findChromium(t)
	start := time.Now()
	bin := buildExample(t)
	defer func() { t.Logf("sessions flow took %v", time.Since(start).Round(100*time.Millisecond)) }()
	// Default access TTL (5 minutes): a refused access cookie is an ended
	// session, never an expired token, and no silent refresh interferes.
	exampleURL := startExample(t, bin, "-cookies", "-sessions", "-addr", "127.0.0.1:0")
	rec := newRecorder(t, exampleURL, nil)
	app := rec.url
	browser := newBrowser(t, chromium, nil)
	a := newContextPage(t, browser, "")
	b := newContextPage(t, browser, markupAgent)

	login := func(p *page) {
		t.Helper()
		must(t, chromedp.Do(p.ctx, chromedp.Navigate(app+"/")))
		p.waitText("state", "logged-out")
		p.click("login")
		p.waitText("state", "logged-in")
	}

	// 1. Log in in A, then in B: B lists both sessions, its own marked.
	login(a)
	rowsA := a.waitSessions(1)
	if !rowsA[0].Current {
		t.Fatalf("A's only session is not marked current: %+v", rowsA)
	}
	sidA := rowsA[0].SID
	login(b)
	rowsB := b.waitSessions(2)
	sidB := currentSID(t, rowsB)
	if sidB == sidA || !slices.ContainsFunc(rowsB, func(r sessionRow) bool { return r.SID == sidA }) {
		t.Fatalf("B lists %+v; want B's own session and A's (%s)", rowsB, sidA)
	}

	// 2. A reloads its list: B's session is there, not current, its client
	// text the user agent as B sent it, and no element came of its markup.
	a.click("list-sessions")
	rowsA = a.waitSessions(2)
	if got := currentSID(t, rowsA); got != sidA {
		t.Fatalf("A marks %s current, want %s", got, sidA)
	}
	for _, r := range rowsA {
		if r.SID == sidB && !strings.Contains(r.Client, markupAgent) {
			t.Fatalf("A shows B's client as %q, want it to contain %q", r.Client, markupAgent)
		}
	}
	for _, p := range []*page{a, b} {
		injected, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](`document.getElementById("injected") !== null`))
		must(t, err)
		if injected {
			t.Fatal("a user agent's markup became an element of the page")
		}
	}
	if s := b.callHello("GET"); s != "200" {
		t.Fatalf("B's GET /hello/ before its session ended: %s", s)
	}

	// 3. A ends B's session with its End button.
	deletePath := "/api/sessions/" + sidB + "/"
	must(t, chromedp.Do(a.ctx, chromedp.Click(chromedp.CSS(`#sessions tr[data-sid="`+sidB+`"] button.end-session`))))
	rec.waitNew(t, "DELETE", deletePath, 0)
	ended := rec.latest(t, "DELETE", deletePath)
	if ended.status != http.StatusNoContent {
		t.Fatalf("ending B's session: the server answered %d", ended.status)
	}
	if rows := a.waitSessions(1); rows[0].SID != sidA {
		t.Fatalf("A lists %+v after ending B's session", rows)
	}
	// B is logged out on its next request.
	awaitLoggedOut(t, rec, b, ended.at)
	if s := a.callHello("GET"); s != "200" {
		t.Fatalf("A's GET /hello/ after ending B's session: %s", s)
	}

	// 4. B logs in again; A ends every session but its own.
	login(b)
	a.click("list-sessions")
	a.waitSessions(2)
	a.click("end-others")
	rec.waitNew(t, "POST", "/api/sessions/end-others/", 0)
	ended = rec.latest(t, "POST", "/api/sessions/end-others/")
	if ended.status != http.StatusOK {
		t.Fatalf("ending the other sessions: the server answered %d", ended.status)
	}
	if rows := a.waitSessions(1); rows[0].SID != sidA || !rows[0].Current {
		t.Fatalf("A lists %+v after ending the others", rows)
	}
	awaitLoggedOut(t, rec, b, ended.at)
	if s := a.callHello("GET"); s != "200" {
		t.Fatalf("A's GET /hello/ after ending the others: %s", s)
	}
}

// awaitLoggedOut checks that p's session, ended by an answer given at
// ended, is refused: p's access cookie gets 401 "Token is blacklisted"
// within the revocation bound (jwtpair.DefaultRevocationStaleness) of
// ended, asked as fast as the browser answers, no sleeping; then the page's
// next request, after its 401, tries a refresh, which is refused (401) and
// logs the page out, its cookies cleared.
func awaitLoggedOut(t *testing.T, rec *recorder, p *page, ended time.Time) {
	t.Helper()
	type fetched struct {
		Status int    `json:"status"`
		Body   string `json:"body"`
	}
	for polls := 1; ; polls++ {
		res, err := chromedp.Run(p.ctx, chromedp.Evaluate[fetched](`fetch("/hello/", {cache: "no-store"}).then(async r => ({status: r.status, body: await r.text()}))`, chromedp.EvalAwaitPromise))
		must(t, err)
		if res.Status == http.StatusUnauthorized {
			if !strings.Contains(res.Body, "Token is blacklisted") {
				t.Fatalf("the ended session's access cookie: 401 %s, want Token is blacklisted", res.Body)
			}
			refused, ok := rec.first("GET", "/hello/", http.StatusUnauthorized, ended)
			if !ok {
				t.Fatal("the proxy saw no 401 for GET /hello/")
			}
			after := refused.at.Sub(ended)
			t.Logf("access cookie refused %v after the end was acknowledged (%d request(s))", after.Round(time.Millisecond), polls)
			if after > jwtpair.DefaultRevocationStaleness {
				t.Fatalf("the ended session's access cookie was refused %v after the end, beyond the %v bound", after, jwtpair.DefaultRevocationStaleness)
			}
			break
		}
		if res.Status != http.StatusOK {
			t.Fatalf("the ended session's access cookie: %d %s, want 200 until refused, then 401", res.Status, res.Body)
		}
		if time.Since(ended) > 5*jwtpair.DefaultRevocationStaleness {
			t.Fatalf("the ended session's access cookie still works %v after the end", time.Since(ended))
		}
	}
	refreshes := rec.count("POST", "/api/token/refresh/", -1)
	if s := p.callHello("GET"); s != "401" {
		t.Fatalf("the page's GET /hello/ after its session ended: %s", s)
	}
	p.waitText("state", "logged-out")
	if rec.waitNew(t, "POST", "/api/token/refresh/", refreshes) != http.StatusUnauthorized {
		t.Fatal("the ended session's refresh cookie was not refused")
	}
	docCookie, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.cookie`))
	must(t, err)
	if docCookie != "" {
		t.Fatalf("the logged-out page still has cookies: %q", docCookie)
	}
	if n := p.text("sessions-count"); n != "0" {
		t.Fatalf("the logged-out page lists %s session(s)", n)
	}
}

// newContextPage opens a tab in a new browser context of browser: a cookie
// jar of its own, as in another browser profile. A non-empty userAgent
// replaces the browser's in the tab's requests.
func newContextPage(t *testing.T, browser context.Context, userAgent string) *page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	must(t, chromedp.Do(ctx)) // opens the tab
	if userAgent != "" {
		must(t, chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: userAgent})
			return err
		})))
	}
	return &page{t: t, ctx: ctx}
}

// waitSessions waits until the page lists n sessions and returns them.
func (p *page) waitSessions(n int) []sessionRow {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rows, err := chromedp.Run(p.ctx, chromedp.Evaluate[[]sessionRow](`[...document.querySelectorAll("#sessions tr")].map(tr => ({
			sid: tr.dataset.sid, current: tr.dataset.current === "true", client: tr.querySelector("td.client").textContent}))`))
		must(p.t, err)
		if len(rows) == n {
			return rows
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("the page lists %d session(s), want %d; page log:\n%s", len(rows), n, p.text("log"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// currentSID returns the session rows marks current, exactly one.
func currentSID(t *testing.T, rows []sessionRow) string {
	t.Helper()
	sid := ""
	for _, r := range rows {
		if r.Current {
			if sid != "" {
				t.Fatalf("two sessions marked current: %+v", rows)
			}
			sid = r.SID
		}
	}
	if sid == "" {
		t.Fatalf("no session marked current: %+v", rows)
	}
	return sid
}
