package demo

import (
	"embed"
	"html/template"
	"net/http"

	"github.com/jwtpair/jwtpair"
)

// The browser demo of -cookies: plain HTML, CSS and JavaScript, no build
// step. It logs in, calls GET and POST /hello/ (POST with the CSRF header),
// refreshes the access token before it expires, resumes the session from
// the refresh cookie after a reload, and logs out. With -sessions it also
// lists the user's sessions (the current one marked) and ends another one,
// or all others, through the session endpoints. The element ids are what
// browsertest/ reads.
//
//go:embed web/index.html web/app.js web/app.css
var webFS embed.FS

var indexTemplate = template.Must(template.ParseFS(webFS, "web/index.html"))

// pageSecurityHeaders keep the demo page to its own scripts and styles and
// out of other sites' frames.
func pageSecurityHeaders(h http.Header, contentType string) {
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
}

// mountPage serves the demo page at / and its script and style. The page
// is told the CSRF cookie's and header's names, which depend on the cookie
// options, and whether the session endpoints are mounted (-sessions): its
// sessions panel needs them.
func mountPage(mux *http.ServeMux, auth *jwtpair.Auth, sessions bool) {
	cookie, header := auth.CSRFNames()
	data := struct {
		CSRFCookie, CSRFHeader string
		Sessions               bool
	}{cookie, header, sessions}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		pageSecurityHeaders(w.Header(), "text/html; charset=utf-8")
		_ = indexTemplate.Execute(w, data) // only the connection can fail
	})
	for path, ct := range map[string]string{"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"} {
		mux.HandleFunc("GET /"+path, func(w http.ResponseWriter, r *http.Request) {
			pageSecurityHeaders(w.Header(), ct)
			http.ServeFileFS(w, r, webFS, "web/"+path)
		})
	}
}
