package main

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/redis/go-redis/v9"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/jwtpair/jwtpair/example/internal/demo"
	"github.com/jwtpair/jwtpair/redisstore"
	"github.com/jwtpair/jwtpair/sqlstore"
)

// backends opens the shared stores for the example (demo.Backends).
type backends struct{}

// Open opens the shared store a -store value names: Redis, PostgreSQL or
// SQLite (demo.StoreKind), within 10 s.
func (backends) Open(ctx context.Context, spec string) (demo.Opened, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	switch demo.StoreKind(spec) {
	case "redis":
		opt, err := redis.ParseURL(spec)
		if err != nil {
			return demo.Opened{}, fmt.Errorf("-store %s: %w", demo.Redact(spec), err)
		}
		opt.ContextTimeoutEnabled = true // calls end at -store-timeout's deadline
		rdb := redis.NewClient(opt)
		if err := rdb.Ping(ctx).Err(); err != nil {
			rdb.Close()
			return demo.Opened{}, fmt.Errorf("-store %s: %w", demo.Redact(spec), err)
		}
		return demo.Opened{Store: redisstore.New(rdb), Limiter: redisstore.NewLimiter(rdb), Pool: redisPool(rdb), Close: rdb.Close}, nil

	case "postgres", "sqlite":
		db, err := openSQL(spec, "&_pragma=journal_mode(WAL)")
		if err != nil {
			return demo.Opened{}, fmt.Errorf("-store %s: %w", demo.Redact(spec), err)
		}
		return openSQLStore(ctx, db, spec)
	}
	return demo.Opened{}, fmt.Errorf("-store %s: not a shared store", demo.Redact(spec))
}

// openSQL opens the database of a postgres://… (pgx) or sqlite:PATH
// (modernc.org/sqlite, with a 5 s busy timeout and the pragmas in
// sqlitePragmas) value.
func openSQL(spec, sqlitePragmas string) (*sql.DB, error) {
	if demo.StoreKind(spec) == "sqlite" {
		return sql.Open("sqlite", "file:"+strings.TrimPrefix(spec, "sqlite:")+"?_pragma=busy_timeout(5000)"+sqlitePragmas)
	}
	return sql.Open("pgx", spec)
}

// openSQLStore wraps db in a sqlstore with an hourly purge of expired rows
// and a limiter purged every minute, and creates their tables.
func openSQLStore(ctx context.Context, db *sql.DB, spec string) (demo.Opened, error) {
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
		return demo.Opened{}, fmt.Errorf("-store %s: %w", demo.Redact(spec), err)
	}
	return demo.Opened{Store: s, Limiter: l, Pool: sqlPool(db), Close: release}, nil
}

// redisPool reads go-redis's pool figures.
func redisPool(rdb *redis.Client) func() *demo.PoolStats {
	max := rdb.Options().PoolSize
	return func() *demo.PoolStats {
		s := rdb.PoolStats()
		open, idle := int(s.TotalConns), int(s.IdleConns)
		return &demo.PoolStats{Open: open, InUse: open - idle, Idle: idle, Max: max}
	}
}

// sqlPool reads database/sql's pool figures.
func sqlPool(db *sql.DB) func() *demo.PoolStats {
	return func() *demo.PoolStats {
		s := db.Stats()
		return &demo.PoolStats{Open: s.OpenConnections, InUse: s.InUse, Idle: s.Idle, Max: s.MaxOpenConnections}
	}
}
