package main

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

// openStore opens the store a -store value names and returns it with the
// limiter login throttling counts on (nil for the memory store: the Auth
// then counts in memory) and the function that releases them. A shared
// store gets a limiter on the same backend, so that the throttles hold
// across every instance sharing it.
func openStore(ctx context.Context, spec string) (jwtpair.Store, jwtpair.Limiter, func() error, error) {
	nop := func() error { return nil }
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	switch {
	case spec == "memory":
		s := jwtpair.NewMemoryStore()
		return s, nil, s.Close, nil

	case strings.HasPrefix(spec, "redis://"), strings.HasPrefix(spec, "rediss://"):
		opt, err := redis.ParseURL(spec)
		if err != nil {
			return nil, nil, nop, fmt.Errorf("-store %s: %w", redact(spec), err)
		}
		rdb := redis.NewClient(opt)
		if err := rdb.Ping(ctx).Err(); err != nil {
			rdb.Close()
			return nil, nil, nop, fmt.Errorf("-store %s: %w", redact(spec), err)
		}
		return redisstore.New(rdb), redisstore.NewLimiter(rdb), rdb.Close, nil

	case strings.HasPrefix(spec, "postgres://"), strings.HasPrefix(spec, "postgresql://"):
		db, err := sql.Open("pgx", spec)
		if err != nil {
			return nil, nil, nop, fmt.Errorf("-store %s: %w", redact(spec), err)
		}
		return openSQL(ctx, db, spec)

	case strings.HasPrefix(spec, "sqlite:"):
		path := strings.TrimPrefix(spec, "sqlite:")
		if path == "" {
			return nil, nil, nop, fmt.Errorf("-store sqlite:PATH needs a path")
		}
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
		if err != nil {
			return nil, nil, nop, fmt.Errorf("-store %s: %w", spec, err)
		}
		return openSQL(ctx, db, spec)
	}
	return nil, nil, nop, usageError{fmt.Errorf("-store %q: want memory, redis://host:port/db, postgres://… or sqlite:PATH", spec)}
}

// openSQL wraps db in a sqlstore with an hourly purge of expired rows and
// a limiter purged every minute, and creates their tables.
func openSQL(ctx context.Context, db *sql.DB, spec string) (jwtpair.Store, jwtpair.Limiter, func() error, error) {
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
		return nil, nil, func() error { return nil }, fmt.Errorf("-store %s: %w", redact(spec), err)
	}
	return s, l, release, nil
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
