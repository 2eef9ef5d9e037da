package demo

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/redis/go-redis/v9"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/jwtpair/jwtpair"
	"github.com/jwtpair/jwtpair/redisstore"
	"github.com/jwtpair/jwtpair/sqlstore"
)

// opened is what a -store value opens.
type opened struct {
	store jwtpair.Store
	// limiter is what login throttling counts on: a shared store gets one on
	// the same backend, so that the throttles hold across every instance
	// sharing it; nil for the memory store (the Auth then counts in memory).
	limiter jwtpair.Limiter
	// pool reads the connection pool's figures for -debug-addr; nil for the
	// memory store, which has no pool.
	pool func() *poolStats
	// close releases all of it.
	close func() error
}

// openStore opens the store a -store value names.
func openStore(ctx context.Context, spec string) (opened, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	switch {
	case spec == "memory":
		s := jwtpair.NewMemoryStore()
		return opened{store: s, close: s.Close}, nil

	case strings.HasPrefix(spec, "redis://"), strings.HasPrefix(spec, "rediss://"):
		opt, err := redis.ParseURL(spec)
		if err != nil {
			return opened{}, fmt.Errorf("-store %s: %w", redact(spec), err)
		}
		rdb := redis.NewClient(opt)
		if err := rdb.Ping(ctx).Err(); err != nil {
			rdb.Close()
			return opened{}, fmt.Errorf("-store %s: %w", redact(spec), err)
		}
		return opened{store: redisstore.New(rdb), limiter: redisstore.NewLimiter(rdb), pool: redisPool(rdb), close: rdb.Close}, nil

	case strings.HasPrefix(spec, "postgres://"), strings.HasPrefix(spec, "postgresql://"):
		db, err := sql.Open("pgx", spec)
		if err != nil {
			return opened{}, fmt.Errorf("-store %s: %w", redact(spec), err)
		}
		return openSQL(ctx, db, spec)

	case strings.HasPrefix(spec, "sqlite:"):
		path := strings.TrimPrefix(spec, "sqlite:")
		if path == "" {
			return opened{}, fmt.Errorf("-store sqlite:PATH needs a path")
		}
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
		if err != nil {
			return opened{}, fmt.Errorf("-store %s: %w", spec, err)
		}
		return openSQL(ctx, db, spec)
	}
	return opened{}, usageError{fmt.Errorf("-store %q: want memory, redis://host:port/db, postgres://… or sqlite:PATH", spec)}
}

// openSQL wraps db in a sqlstore with an hourly purge of expired rows and
// a limiter purged every minute, and creates their tables.
func openSQL(ctx context.Context, db *sql.DB, spec string) (opened, error) {
	s, err := sqlstore.New(db, sqlstore.WithJanitor(time.Hour))
	var l *sqlstore.Limiter
	if err == nil {
		err = s.Migrate(ctx)
	}
	if err == nil {
		l, err = sqlstore.NewLimiter(db, sqlstore.WithLimiterJanitor(time.Minute))
	}
	if err == nil {
		err = l.Migrate(ctx)
	}
	release := func() error {
		if l != nil {
			l.Close()
		}
		if s != nil {
			s.Close()
		}
		return db.Close()
	}
	if err != nil {
		release()
		return opened{}, fmt.Errorf("-store %s: %w", redact(spec), err)
	}
	return opened{store: s, limiter: l, pool: sqlPool(db), close: release}, nil
}

// redact hides a password in a store URL, in its user info or in a
// password query parameter (as pgx accepts).
func redact(spec string) string {
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
