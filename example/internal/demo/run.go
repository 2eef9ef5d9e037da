// Package demo is the example server of the two commands that run it:
// ./example, with the memory store, which needs the root module alone and
// so starts fast on a fresh machine, and ./example/backends, which links
// the shared stores' drivers (Redis, PostgreSQL, SQLite) and gives them as
// Backends. Their flags, routes and output are documented on the commands
// (go doc ./example, go doc ./example/backends).
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

// Main runs the example server with backends (nil: the memory store only)
// on the command line and the environment, until SIGINT or SIGTERM, and
// exits: status 2 on a usage error, 1 on another error.
func Main(backends Backends) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first signal starts a graceful shutdown; a second one kills.
	context.AfterFunc(ctx, stop)
	if err := Run(ctx, backends, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
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

// Run is Main's work: it parses args (and JWTPAIR_SECRET from getenv),
// builds the server over the stores of backends, and serves until ctx
// ends; or, with -import-simplejwt, runs the import (backends.Import).
func Run(ctx context.Context, backends Backends, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, getenv, stderr, backends)
	if err != nil {
		return usageError{err}
	}
	if cfg.importFrom != "" {
		return backends.Import(ctx, cfg.importFrom, cfg.store, stdout) // parseConfig checked both
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
		WriteTimeout:      writeTimeout, // -request-timeout ends store work before it
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
	logger.Info("serving", "addr", ln.Addr().String(), "store", Redact(cfg.store), "alg", cfg.alg,
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
