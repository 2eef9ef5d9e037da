// Command backends is the example server (go doc ./example) with the shared
// stores: every flag, route and output of ./example, and -store takes
// redis://host:port/db (or rediss://), postgres://… (pgx's stdlib driver)
// and sqlite:PATH (modernc.org/sqlite, no cgo) besides memory; and
// -import-simplejwt imports a simplejwt database into that store. From
// the repository root:
//
//	JWTPAIR_SECRET=$(openssl rand -base64 48) go run ./example/backends -store redis://127.0.0.1:6379/0
//	go run ./example/backends -store sqlite:auth.db -import-simplejwt postgres://django@db/app
//
// It is its own module, so that ./example, the README's first command,
// needs none of these drivers (go-redis, pgx, modernc.org/sqlite: hundreds
// of megabytes of modules to download and compile on a fresh machine).
//
// A shared store gets a login limiter on the same backend (redisstore's or
// sqlstore's), so that throttling holds across the instances sharing it;
// a SQL store creates its tables at start (Migrate) and purges expired
// rows (hourly; the limiter's every minute). -debug-addr's /debug/stats
// reports the store's connection pool.
package main

import "github.com/jwtpair/jwtpair/example/internal/demo"

func main() { demo.Main(backends{}) }
