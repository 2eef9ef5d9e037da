package demo

import (
	"context"
	"io"
	"net/url"
	"strings"

	"github.com/jwtpair/jwtpair"
)

// BackendsCommand is the command that runs the example with the shared
// stores (example/backends), from the repository root. ./example leaves
// their drivers out so that its first run downloads and compiles the root
// module's dependencies only; given a shared -store it says to run this.
const BackendsCommand = "go run ./example/backends"

// Backends are the shared stores a command links beside the memory store:
// Redis, PostgreSQL and SQLite, with their drivers (example/backends). The
// ./example command has none (nil).
type Backends interface {
	// Open opens a -store value of a shared store: of StoreKind "redis",
	// "postgres" or "sqlite". Its errors show the value through Redact.
	Open(ctx context.Context, spec string) (Opened, error)
	// Import runs -import-simplejwt: it copies the outstanding and
	// blacklisted tokens of the simplejwt database from (of StoreKind
	// "postgres" or "sqlite") into the shared store spec, and prints its
	// report on stdout.
	Import(ctx context.Context, from, spec string, stdout io.Writer) error
}

// Opened is what a -store value opens.
type Opened struct {
	Store jwtpair.Store
	// Limiter is what login throttling counts on: a shared store gets one
	// on the same backend, so that the throttles hold across every
	// instance sharing it; nil for the memory store (the Auth then counts
	// in memory).
	Limiter jwtpair.Limiter
	// Pool reads the connection pool's figures for -debug-addr; nil for
	// the memory store, which has no pool.
	Pool func() *PoolStats
	// Close releases all of it.
	Close func() error
}

// StoreKind names the kind of store a -store value opens: "memory",
// "redis" (redis://… or rediss://…), "postgres" (postgres://… or
// postgresql://…) or "sqlite" (sqlite:PATH); "" for none of them.
func StoreKind(spec string) string {
	switch {
	case spec == "memory":
		return "memory"
	case strings.HasPrefix(spec, "redis://"), strings.HasPrefix(spec, "rediss://"):
		return "redis"
	case strings.HasPrefix(spec, "postgres://"), strings.HasPrefix(spec, "postgresql://"):
		return "postgres"
	case strings.HasPrefix(spec, "sqlite:") && len(spec) > len("sqlite:"):
		return "sqlite"
	}
	return ""
}

// openStore opens the store of cfg: the memory store here, a shared one
// through cfg.backends (parseConfig refuses a shared one without them).
func openStore(ctx context.Context, cfg config) (Opened, error) {
	if cfg.store == "memory" {
		s := jwtpair.NewMemoryStore()
		return Opened{Store: s, Close: s.Close}, nil
	}
	return cfg.backends.Open(ctx, cfg.store)
}

// Redact hides a password in a store URL, in its user info or in a
// password query parameter (as pgx accepts).
func Redact(spec string) string {
	u, err := url.Parse(spec)
	if err != nil {
		return "(unparseable URL)"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
