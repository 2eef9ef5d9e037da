// Command example is a runnable jwtpair server: simplejwt's token endpoints
// and a protected /hello/ route, as in the tutorials jwtpair comes from.
//
//	go run ./example                      # admin:admin on http://127.0.0.1:8000
//	JWTPAIR_SECRET=$(openssl rand -base64 48) go run ./example -store redis://127.0.0.1:6379/0
//
// Flags:
//
//	-addr 127.0.0.1:8000   listen address (port 0 picks a free one; the address is printed)
//	-user name:password    demo account, repeatable (default admin:admin); ids are "1", "2", … in flag order
//	-inactive-user name:password
//	                       an inactive account (numbered with -user): it cannot log in, and
//	                       refresh (with -user-check, every request) refuses its tokens
//	-user-check            load the user on every authenticated request (WithUserCheck)
//	-store memory          memory | redis://host:port/db | postgres://… | sqlite:PATH
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
//	-debug-addr ADDR       serve net/http/pprof's profiles (/debug/pprof/NAME) and
//	                       /debug/stats (goroutine count, store pool figures) on this
//	                       loopback address, for the soak test (soak/); default none
//	-import-simplejwt DATABASE
//	                       import the outstanding and blacklisted tokens of a simplejwt
//	                       database (postgres://… or sqlite:PATH) into -store, print the
//	                       counts as JSON and exit (package simplejwtimport)
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
// with the same secret (or -key) and the same shared store behave as one
// service.
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
package demo

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Main runs the example server on the command line and the environment,
// until SIGINT or SIGTERM, and exits: status 2 on a usage error, 1 on
// another error.
func Main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first signal starts a graceful shutdown; a second one kills.
	context.AfterFunc(ctx, stop)
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0) // -h: the usage is printed
		}
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintln(os.Stderr, "example:", err)
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

// usageError is a bad flag or environment value (exit status 2).
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// run parses the flags, builds the server and serves until ctx ends.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return usageError{err}
	}
	if cfg.importFrom != "" {
		return runImport(ctx, cfg, stdout) // simplejwt.go
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	audit := slog.New(slog.NewJSONHandler(stderr, nil)) // one JSON line per audit event
	srv, err := newServer(ctx, cfg, logger, audit)
	if err != nil {
		return err
	}
	defer srv.Close()
	for _, w := range srv.warnings {
		logger.Warn(w)
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           srv.handler,
		TLSConfig:         srv.tls,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	for _, u := range cfg.users {
		state := ""
		if u.inactive {
			state = ", inactive"
		}
		fmt.Fprintf(stdout, "demo user %s (id %s%s)\n", u.name, u.id, state)
	}
	logger.Info("serving", "addr", ln.Addr().String(), "store", redact(cfg.store), "alg", cfg.alg,
		"access_ttl", cfg.accessTTL, "refresh_ttl", cfg.refreshTTL, "rotate", cfg.rotate,
		"reuse_grace", cfg.grace, "user_check", cfg.userCheck, "cookies", cfg.cookies, "open_hello", cfg.openHello, "tls", srv.tls != nil)
	if cfg.debugAddr != "" {
		dln, err := net.Listen("tcp", cfg.debugAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("-debug-addr: %w", err)
		}
		ds := &http.Server{Handler: debugHandler(srv.pool), ReadHeaderTimeout: 5 * time.Second}
		go ds.Serve(dln)
		defer ds.Close()
		fmt.Fprintf(stdout, "debug on http://%s\n", dln.Addr())
	}
	serve, scheme := hs.Serve, "http"
	if srv.tls != nil {
		// ListenAndServeTLS on our listener: the certificate is in TLSConfig.
		serve, scheme = func(ln net.Listener) error { return hs.ServeTLS(ln, "", "") }, "https"
	}
	fmt.Fprintf(stdout, "listening on %s://%s\n", scheme, ln.Addr())

	served := make(chan error, 1)
	go func() { served <- serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("stopped")
	return nil
}
