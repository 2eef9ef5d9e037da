// Command e2e serves one handler twice, for an end-to-end measurement of
// what jwtpair's middleware costs a real server: /hello/ behind
// auth.Middleware and /open/ without it. The handler is the example
// server's /hello/: it reads the user from the context and answers
// {"message":"Hello, World!","user_id":…}.
//
//	JWTPAIR_SECRET=… e2e -addr 127.0.0.1:0
//
// It prints "access-token TOKEN" (a token for user "42", valid for an
// hour) and then "listening on http://ADDR" once it accepts connections;
// it exits on SIGINT or SIGTERM. bench/run.sh drives it with wrk.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jwtpair/jwtpair"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()
	secret := os.Getenv("JWTPAIR_SECRET")
	if len(secret) < jwtpair.MinHMACKeyBytes {
		return fmt.Errorf("JWTPAIR_SECRET must be at least %d bytes", jwtpair.MinHMACKeyBytes)
	}
	auth, err := jwtpair.New(
		jwtpair.WithHMACKey([]byte(secret)),
		jwtpair.WithAuthenticator(jwtpair.AuthenticatorFunc(func(context.Context, string, string) (jwtpair.User, error) {
			return jwtpair.User{}, jwtpair.ErrInvalidCredentials
		})),
		jwtpair.WithAccessTTL(time.Hour),
		jwtpair.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		return err
	}
	pair, err := auth.IssuePair(context.Background(), jwtpair.User{ID: "42"})
	if err != nil {
		return err
	}

	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := jwtpair.UserFrom(r.Context())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"message": "Hello, World!", "user_id": u.ID})
	})
	mux := http.NewServeMux()
	mux.Handle("GET /hello/", auth.Middleware(hello))
	mux.Handle("GET /open/", hello)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	fmt.Printf("access-token %s\nlistening on http://%s\n", pair.Access, ln.Addr())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
