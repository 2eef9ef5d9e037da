// Command example is a runnable jwtpair server: simplejwt's token endpoints
// and a protected /hello/ route, as in the tutorials jwtpair comes from.
//
//	go run ./example                      # admin:admin on http://127.0.0.1:8000
//	JWTPAIR_SECRET=$(openssl rand -base64 48) go run ./example/backends -store redis://127.0.0.1:6379/0
//
// It keeps its state in the memory store, and needs the root module alone
// (jwx), so that its first run on a fresh machine downloads and compiles
// little. The shared stores (Redis, PostgreSQL, SQLite), whose drivers are
// large, are in the command example/backends, which takes every flag below
// and serves the same routes; given one of them (or -import-simplejwt),
// this command exits with status 2 and prints that command with your
// arguments.
//
// Flags:
//
//	-addr 127.0.0.1:8000   listen address (port 0 picks a free one; the address is printed)
//	-user name:password    demo account, repeatable (default admin:admin); ids are "1", "2", … in flag order
//	-inactive-user name:password
//	                       an inactive account (numbered with -user): it cannot log in, and
//	                       refresh (with -user-check, every request) refuses its tokens
//	-user-check            load the user on every authenticated request (WithUserCheck)
//	-store memory          memory; example/backends: redis://host:port/db | postgres://… | sqlite:PATH
//	-access-ttl 5m  -refresh-ttl 24h  -rotate=true  -reuse-grace 0s
//	-max-session-age 0     end every session this long after its login, however often
//	                       it refreshes (0: no limit)
//	-sessions              mount the session endpoints of the signed-in user:
//	                       GET /api/sessions/, DELETE /api/sessions/{sid}/,
//	                       POST /api/sessions/end-others/
//	-alg HS256             HS256|HS384|HS512|RS256…RS512|PS256…PS512|ES256…ES512|EdDSA
//	-key PATH              PEM private key (PKCS#8) for the asymmetric algorithms;
//	                       without it a key is generated for this run
//	-cookies               cookie mode, for browser apps (demo page at /; with -sessions
//	                       it lists your sessions and ends them)
//	-tls-cert PATH -tls-key PATH
//	                       serve HTTPS with this PEM certificate (chain) and key; cookie
//	                       mode then sets its Secure, __Host-/__Secure- cookies on any
//	                       address, loopback included
//	-open-hello            also serve the /hello/ handler without authentication at
//	                       GET /open/hello/, for benchmarks (bench/run.sh); never deploy it
//	-store-timeout 5s      deadline of each store call (jwtpair.WithStoreTimeout): a store
//	                       that does not answer costs the request a 503
//	-request-timeout 10s   deadline of each request to the token and session endpoints,
//	                       below the server's 15 s write timeout, so that a slow store
//	                       answers 503 JSON rather than a connection closed with no answer
//	-debug-addr ADDR       serve net/http/pprof's profiles (/debug/pprof/NAME) and
//	                       /debug/stats (goroutine count, store pool figures) on this
//	                       loopback address, for the soak test (soak/); default none
//	-import-simplejwt DATABASE
//	                       (example/backends) import the outstanding and blacklisted tokens
//	                       of a simplejwt database (postgres://… or sqlite:PATH) into
//	                       -store, print the counts as JSON and exit (package simplejwtimport)
//	-adopt-cutover TIME -adopt-until TIME
//	                       adopt, until -adopt-until, simplejwt refresh tokens issued
//	                       before -adopt-cutover (RFC 3339 times; WithSimplejwtAdoption)
//
// The log goes to stderr; each audit event (logins, refreshes, reuse,
// logouts, sessions ended…; jwtpair.Event) is one JSON line of it,
// {"time":…,"level":"INFO","msg":"audit","event":{"kind":"login_succeeded",…}}.
//
// JWTPAIR_SECRET is the HMAC secret, its bytes used as they are (at least 32;
// 48 for HS384, 64 for HS512);
// when unset a random one is made for this run, with a warning. Two processes
// with the same secret (or -key) and the same shared store (example/backends)
// behave as one service.
//
// Routes, each on its exact path (/api/token/x/ is 404, as in Django): POST
// /api/token/, /api/token/refresh/, /api/token/verify/,
// /api/token/blacklist/; GET and POST /hello/ (protected), answering as the
// tutorials' Django view does (HEAD, OPTIONS, 405 for other methods); GET
// /.well-known/jwks.json for asymmetric keys; the session endpoints with
// -sessions; GET /open/hello/ with
// -open-hello. The process prints
// "listening on http://ADDR" ("https://" with -tls-cert) once it accepts
// connections (after "debug on http://ADDR" with -debug-addr) and exits
// cleanly on SIGINT or SIGTERM.
package main

import "github.com/jwtpair/jwtpair/example/internal/demo"

func main() { demo.Main(nil) }
