package jwtpair

import (
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jwtpair/jwtpair/internal/drf"
)

// CookieOptions configures cookie mode (see [WithCookies]). Its zero value
// gives the defaults each field documents: prefixed, host-only, HttpOnly,
// Secure, SameSite=Lax cookies, the refresh cookie sent only to /api/token/,
// and tokens kept in JSON bodies too. CSRF tokens are keyed with the server
// secret ([WithServerSecret]; by default derived from the HMAC key).
type CookieOptions struct {
	// AccessName, RefreshName and CSRFName name the access-token cookie,
	// the refresh-token cookie and the JS-readable CSRF cookie. Defaults:
	// "jwtpair-access", "jwtpair-refresh" and "jwtpair-csrf" behind the
	// strongest prefix the other attributes allow: "__Host-" (Secure,
	// Path=/, no Domain), else "__Secure-" (Secure), else none (Insecure).
	// With the default RefreshPath that is "__Host-jwtpair-access",
	// "__Secure-jwtpair-refresh" and "__Host-jwtpair-csrf". Names given
	// here with one of those prefixes are checked against the prefix's rules
	// at New.
	AccessName, RefreshName, CSRFName string

	// Path is the Path of the access and CSRF cookies. Default "/".
	Path string

	// RefreshPath is the Path of the refresh cookie: browsers send it only
	// to URLs under it, so it never travels with ordinary API requests.
	// Default "/api/token/", where simplejwt mounts the refresh and blacklist
	// endpoints; set it to a common prefix of your refresh and blacklist
	// routes, or the refresh cookie never reaches them.
	RefreshPath string

	// Domain is the Domain of every cookie. Default none: host-only
	// cookies, which subdomains can neither read nor overwrite. Setting it
	// rules out the "__Host-" prefix, sends the tokens to every host under
	// the domain, and lets each of those hosts set cookies of these names
	// (see SECURITY.md, cookie tossing): trust them all before setting it.
	Domain string

	// SameSite is the SameSite attribute of every cookie: http.SameSiteLaxMode
	// (the default, also for the zero value), SameSiteStrictMode, or
	// SameSiteNoneMode, which needs Secure cookies (not Insecure). It is
	// defence in depth: the CSRF checks do not depend on it.
	SameSite http.SameSite

	// Insecure drops the Secure attribute (and with it the cookie-name
	// prefixes) so that browsers keep the cookies over plain HTTP. For local
	// development on a loopback address only; never in production, where
	// the tokens would travel in clear text. Default false.
	Insecure bool

	// OmitBodyTokens leaves the tokens out of the JSON bodies of obtain and
	// refresh, so that scripts on the page (and XSS) never see them: the
	// body is then {"access_expires":…,"refresh_expires":…} only. Default
	// false: bodies keep simplejwt's "access" and "refresh" beside those
	// fields, so header-based clients of the same endpoints keep working.
	// Browser-only APIs should set it.
	OmitBodyTokens bool

	// CSRFHeader is the request header that must echo the CSRF cookie.
	// Default "X-CSRF-Token".
	CSRFHeader string

	// TrustedOrigins are origins ("https://app.example.com") whose
	// cross-origin unsafe requests are let through the origin check, for a
	// frontend served from another origin than the API (it still needs the
	// CSRF token, and CORS with credentials). Default none.
	TrustedOrigins []string
}

// Defaults of CookieOptions.
const (
	defaultCookiePath  = "/"
	defaultRefreshPath = "/api/token/"
	defaultCSRFHeader  = "X-CSRF-Token"
)

// cookieMode is cookie mode as New resolved it; nil on an Auth without it.
type cookieMode struct {
	access, refresh, csrf http.Cookie // templates: name, path, domain, flags
	omitBodyTokens        bool
	csrfHeader            string // canonical
	csrfHeaderName        string // as configured, for pages
	csrfKeys              []derivedKey
	origins               *http.CrossOriginProtection
	plainHTTPWarned       atomic.Bool // warnPlainHTTP has logged its warning
}

// Cookie-name prefixes (RFC 6265bis §4.1.3), matched case-insensitively as
// browsers do.
const (
	hostPrefix   = "__Host-"
	securePrefix = "__Secure-"
)

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// resolved returns o with its defaults filled in.
func (o CookieOptions) resolved() CookieOptions {
	if o.Path == "" {
		o.Path = defaultCookiePath
	}
	if o.RefreshPath == "" {
		o.RefreshPath = defaultRefreshPath
	}
	if o.SameSite == 0 {
		o.SameSite = http.SameSiteLaxMode
	}
	if o.CSRFHeader == "" {
		o.CSRFHeader = defaultCSRFHeader
	}
	prefix := func(path string) string {
		switch {
		case o.Insecure:
			return ""
		case path == "/" && o.Domain == "":
			return hostPrefix
		}
		return securePrefix
	}
	if o.AccessName == "" {
		o.AccessName = prefix(o.Path) + "jwtpair-access"
	}
	if o.RefreshName == "" {
		o.RefreshName = prefix(o.RefreshPath) + "jwtpair-refresh"
	}
	if o.CSRFName == "" {
		o.CSRFName = prefix(o.Path) + "jwtpair-csrf"
	}
	return o
}

// buildCookies checks the cookie options, against each other and the rest
// of the configuration, and builds cookie mode from them; nil without
// WithCookies.
func (c *config) buildCookies() *cookieMode {
	if c.cookies == nil {
		return nil
	}
	o := c.cookies.resolved()
	bad := func(format string, a ...any) { c.bad("cookies: "+format, a...) }
	o.checkNames(bad)
	o.checkAttributes(bad)
	if c.serverSecret == nil && c.hmacKey == nil {
		bad("CSRF tokens need WithServerSecret when tokens are not signed with WithHMACKey (no shared secret to derive their key from)")
	}
	tmpl := func(name, path string, httpOnly bool) http.Cookie {
		return http.Cookie{Name: name, Path: path, Domain: o.Domain, Secure: !o.Insecure, HttpOnly: httpOnly, SameSite: o.SameSite}
	}
	m := &cookieMode{
		access:         tmpl(o.AccessName, o.Path, true),
		refresh:        tmpl(o.RefreshName, o.RefreshPath, true),
		csrf:           tmpl(o.CSRFName, o.Path, false),
		omitBodyTokens: o.OmitBodyTokens,
		csrfHeader:     canonicalHeader(o.CSRFHeader),
		csrfHeaderName: o.CSRFHeader,
		origins:        http.NewCrossOriginProtection(),
	}
	for _, origin := range o.TrustedOrigins {
		if err := m.origins.AddTrustedOrigin(origin); err != nil {
			bad("trusted origin: %v", err)
		}
	}
	var err error
	m.csrfKeys, err = c.deriveKeys(csrfInfo)
	c.fail(err)
	return m
}

// checkNames checks the names and paths of the three cookies (o resolved),
// against each other and the rules of their prefixes.
func (o *CookieOptions) checkNames(bad func(format string, a ...any)) {
	names := map[string]bool{}
	for _, ck := range []struct{ role, name, path string }{
		{"access", o.AccessName, o.Path},
		{"refresh", o.RefreshName, o.RefreshPath},
		{"CSRF", o.CSRFName, o.Path},
	} {
		if names[strings.ToLower(ck.name)] {
			bad("the %s cookie's name %q is taken by another cookie", ck.role, ck.name)
		}
		names[strings.ToLower(ck.name)] = true
		if !strings.HasPrefix(ck.path, "/") {
			bad("the %s cookie's path %q must start with /", ck.role, ck.path)
		}
		if err := (&http.Cookie{Name: ck.name, Value: "x", Path: ck.path, Domain: o.Domain}).Valid(); err != nil {
			bad("%s cookie: %v", ck.role, err)
		}
		switch {
		case hasPrefixFold(ck.name, hostPrefix):
			if o.Insecure || ck.path != "/" || o.Domain != "" {
				bad("the %s cookie %q needs Secure, Path=/ and no Domain (the __Host- prefix rules)", ck.role, ck.name)
			}
		case hasPrefixFold(ck.name, securePrefix):
			if o.Insecure {
				bad("the %s cookie %q needs Secure (the __Secure- prefix rule); Insecure drops it", ck.role, ck.name)
			}
		}
	}
}

// checkAttributes checks the domain, SameSite and CSRF header of o
// (resolved).
func (o *CookieOptions) checkAttributes(bad func(format string, a ...any)) {
	if o.Domain != "" && (strings.ContainsAny(o.Domain, "/:; \t") || o.Domain == ".") {
		bad("bad domain %q", o.Domain)
	}
	switch o.SameSite {
	case http.SameSiteLaxMode, http.SameSiteStrictMode:
	case http.SameSiteNoneMode:
		if o.Insecure {
			bad("SameSite=None needs Secure cookies; it cannot be combined with Insecure")
		}
	default:
		bad("SameSite must be http.SameSiteLaxMode, SameSiteStrictMode or SameSiteNoneMode")
	}
	if o.CSRFHeader == "" || strings.ContainsAny(o.CSRFHeader, " :\t\r\n") {
		bad("bad CSRF header name %q", o.CSRFHeader)
	}
}

// maxCookieBytes is the size browsers guarantee to keep for one cookie
// (name, value and attributes; RFC 6265 §6.1).
const maxCookieBytes = 4096

// setCookie sets a cookie from template t with value v expiring at exp.
func (a *Auth) setCookie(w http.ResponseWriter, r *http.Request, t http.Cookie, v string, exp, now time.Time) {
	t.Value = v
	t.Expires = exp
	t.MaxAge = int(exp.Unix() - now.Unix())
	if t.MaxAge <= 0 {
		t.MaxAge = 1 // never 0, which would mean "no Max-Age"; exp is in the future
	}
	s := t.String()
	if len(s) > maxCookieBytes {
		// Browsers drop such a cookie silently; say so where someone looks.
		a.logger.ErrorContext(r.Context(), "jwtpair: cookie over 4096 bytes, browsers will drop it; make custom claims smaller", "cookie", t.Name, "bytes", len(s))
	}
	w.Header().Add("Set-Cookie", s)
}

// warnPlainHTTP logs, once per Auth, that cookie mode sets Secure cookies
// in answer to a request that came over plain HTTP to a host that is not
// loopback. Browsers drop Secure (and __Host-/__Secure-) cookies set over
// http:// (localhost excepted), so logins do not stick and nothing else
// says why. A request is plain HTTP when it has no TLS; once trusted
// proxies can be configured, a request from one saying https is not.
func (a *Auth) warnPlainHTTP(r *http.Request) {
	m := a.cookies
	if !m.access.Secure || r.TLS != nil || m.plainHTTPWarned.Load() {
		return
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if isLoopback(strings.Trim(host, "[]")) || !m.plainHTTPWarned.CompareAndSwap(false, true) {
		return
	}
	a.logger.WarnContext(r.Context(), "jwtpair: cookie mode set Secure cookies in answer to plain HTTP on a host that is not loopback; browsers drop them, so logins will not stick: serve HTTPS (or TLS at a proxy), or use CookieOptions.Insecure on a loopback address for development (logged once)",
		"host", r.Host, "path", r.URL.Path)
}

// clearCookies expires every cookie cookie mode sets.
func (a *Auth) clearCookies(w http.ResponseWriter) {
	for _, t := range []http.Cookie{a.cookies.access, a.cookies.refresh, a.cookies.csrf} {
		t.MaxAge = -1                     // "Max-Age=0"
		t.Expires = time.Unix(0, 0).UTC() // for clients that only know Expires
		w.Header().Add("Set-Cookie", t.String())
	}
}

// writeCookiePair answers a successful obtain or refresh in cookie mode:
// the access cookie, the refresh cookie when g has a new refresh token, a
// fresh CSRF token for g's session, and the body. Nothing is verified
// again: g says what was minted.
func (a *Auth) writeCookiePair(w http.ResponseWriter, r *http.Request, g grant) {
	a.warnPlainHTTP(r)
	now := a.now()
	m := a.cookies
	a.setCookie(w, r, m.access, g.Access, g.AccessExpires, now)
	if g.Refresh != "" {
		a.setCookie(w, r, m.refresh, g.Refresh, g.RefreshExpires, now)
	}
	a.setCookie(w, r, m.csrf, m.newCSRFToken(g.session, g.RefreshExpires), g.RefreshExpires, now)
	body := expiringBody(g.Pair)
	if m.omitBodyTokens {
		body.Access, body.Refresh = "", ""
	}
	writeJSON(w, http.StatusOK, body)
}

// isBodyError reports whether err is the verdict on a POST's body (fields
// missing or wrong, malformed, too large, of another media type). Logout
// clears the cookies on those too: the page meant to log out. A wrong
// method (a GET a cross-site link can make) and a CSRF failure clear
// nothing.
func isBodyError(err error) bool {
	var fe *FieldError
	return errors.As(err, &fe) || errors.Is(err, ErrMalformedBody) ||
		errors.Is(err, ErrBodyTooLarge) || errors.Is(err, ErrUnsupportedMediaType)
}

// cookieEndpoint is the refresh (logout false) or blacklist (logout true)
// endpoint in cookie mode. The token is the body's "refresh" field or,
// when the body has none (or there is no body), the refresh cookie of the
// session the CSRF token names (refreshFromCookies). Cross-origin requests
// are refused either way, since the answer sets or clears the browser's
// cookies. The token is verified once, and the claims that passed the CSRF
// check are the ones refreshed or revoked.
func (a *Auth) cookieEndpoint(logout bool) http.HandlerFunc {
	fields := []string{"refresh"}
	return func(w http.ResponseWriter, r *http.Request) {
		if err := a.checkOrigin(r); err != nil {
			a.fail(w, r, err)
			return
		}
		var v []string
		var err error
		if r.ContentLength == 0 {
			// fetch(url, {method: "POST"}): no body, whatever its Content-Type.
			err = &FieldError{Fields: map[string][]string{"refresh": {drf.MsgRequired}}}
		} else {
			v, err = a.readFields(w, r, fields)
		}
		var c *Claims
		fromCookie := false
		switch {
		case err == nil: // the body's token: no CSRF token needed
			c, err = a.verify(v[0], TokenTypeRefresh)
		case onlyMissing(err, "refresh"):
			if tokens := a.cookies.refreshCookies(r); len(tokens) > 0 {
				fromCookie = true
				c, err = a.refreshFromCookies(r, tokens)
			}
		}
		if err != nil {
			// A token that failed verification is a dead session: logout
			// clears the cookies, as it does for bodies it cannot read (the
			// page meant to log out); refresh clears them when the token
			// came from them. A CSRF failure or a wrong method clears nothing.
			if logout && (isBodyError(err) || isTokenVerdict(err)) || !logout && fromCookie && isTokenVerdict(err) {
				a.clearCookies(w)
			}
			a.fail(w, r, err)
			return
		}

		if logout {
			err := a.revoke(r.Context(), c)
			if err == nil || isTokenVerdict(err) {
				a.clearCookies(w)
			}
			if err != nil {
				a.fail(w, r, err)
				return
			}
			writeJSON(w, http.StatusOK, struct{}{})
			return
		}
		g, err := a.refresh(r.Context(), c)
		if err != nil {
			if fromCookie && (isTokenVerdict(err) || errors.Is(err, ErrUserInactive) || errors.Is(err, ErrUserNotFound)) {
				// The session is over: stop the browser sending a dead token.
				a.clearCookies(w)
			}
			a.fail(w, r, err)
			return
		}
		a.writeCookiePair(w, r, g)
	}
}

// refreshCookies returns the values of the refresh cookies a request
// carries, at most maxCookieCandidates, in the order sent.
func (m *cookieMode) refreshCookies(r *http.Request) []string {
	var out []string
	for _, ck := range r.CookiesNamed(m.refresh.Name) {
		if ck.Value != "" && !slices.Contains(out, ck.Value) {
			out = append(out, ck.Value)
			if len(out) == maxCookieCandidates {
				break
			}
		}
	}
	return out
}

// refreshFromCookies picks, among the refresh cookies of a request
// (tokens, in the order sent), the one of the session its CSRF token
// names, and returns its verified claims.
//
// The refresh cookie cannot be __Host- (its Path is the refresh path), so
// a host that can set cookies for a parent domain (a sibling or child
// subdomain) can plant cookies of its name, with a longer Path: browsers
// send them first. None of them may stand in for the victim's token, nor
// keep it from being used. The CSRF token decides: it is signed and bound
// to one session (user, stamp, sid), and its cookie is __Host- by default,
// out of those hosts' reach; a token that verifies but whose session the
// CSRF token does not name is someone else's and is passed over. Each
// candidate costs one signature check, and they stop at the first match.
//
// When no candidate is the session's token: with a sound double submit
// (the header echoes a CSRF cookie, so the request comes from the page),
// a token that failed verification is the page's own dead one, whose
// verdict (401) is answered and the cookies cleared; if every candidate
// verified for another session, 403. Without a sound double submit, any
// candidate that verifies makes it a CSRF failure (403, nothing cleared:
// no request the page did not make can log it out), and only dead tokens
// get their verdict.
func (a *Auth) refreshFromCookies(r *http.Request, tokens []string) (*Claims, error) {
	m := a.cookies
	proof, perr := m.csrfProof(r)
	now := a.now()
	var verdict error // of the first candidate that failed verification
	foreign := false  // a candidate verified, for another session
	for _, tok := range tokens {
		c, err := a.verify(tok, TokenTypeRefresh)
		switch {
		case err != nil:
			if verdict == nil {
				verdict = err
			}
		case perr == nil && m.validCSRFToken(proof, sessionOf(c), now):
			return c, nil
		default:
			foreign = true
		}
	}
	switch {
	case perr != nil && foreign:
		return nil, perr
	case verdict != nil:
		return nil, verdict
	}
	return nil, errCSRFIncorrect
}

// onlyMissing reports whether err is a *FieldError saying that field, and
// nothing else, is missing, null or blank.
func onlyMissing(err error, field string) bool {
	var fe *FieldError
	if !errors.As(err, &fe) || len(fe.Fields) != 1 {
		return false
	}
	msgs := fe.Fields[field]
	return len(msgs) == 1 && (msgs[0] == drf.MsgRequired || msgs[0] == drf.MsgNull || msgs[0] == drf.MsgBlank)
}

// cookieCredentials is the middleware's second source of an access token,
// used when the request has no Authorization header: the access cookie.
// Unsafe requests reaching it are origin-checked first, cookie or not.
func (a *Auth) cookieCredentials(r *http.Request) (string, error) {
	if !isSafeMethod(r.Method) {
		if err := a.checkOrigin(r); err != nil {
			return "", err
		}
	}
	ck, err := r.Cookie(a.cookies.access.Name)
	if err != nil || ck.Value == "" {
		return "", ErrNoCredentials
	}
	if len(ck.Value) > a.maxTokenBytes {
		return "", &tokenError{err: ErrTokenInvalid}
	}
	return ck.Value, nil
}
