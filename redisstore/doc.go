// Package redisstore is a [jwtpair.Store] on Redis (github.com/redis/go-redis/v9),
// for applications that run several instances: a logout, a rotation or a
// detected token reuse on one instance holds on every other at once.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	defer rdb.Close() // the store never closes the client
//	auth, err := jwtpair.New(
//		jwtpair.WithHMACKey(secret),
//		jwtpair.WithAuthenticator(users),
//		jwtpair.WithStore(redisstore.New(rdb)),
//	)
//
// # Round trips and atomicity
//
// Every method is one Lua script, run with EVALSHA (go-redis resends it with
// EVAL when the server has not cached it yet, as after a restart), so every
// method is one round trip and atomic. Rotate in particular consumes the
// presented token, tells a replay inside the grace window from reuse
// (revoking the family), and records the successor in one step: of many
// concurrent rotations of one token without a grace window, exactly one
// succeeds, whichever instance sends it.
//
// go-redis retries a command whose reply was lost (a timeout, a dropped
// connection), and the script may already have run. Rotate recognises its own
// retry (the successor exists, active, with the presented token as its
// parent, and neither that token nor its family is revoked) and succeeds
// again instead of taking it for reuse and revoking the family. Issue
// recognises its own (the same active record) and succeeds again. A retried
// Revoke finds the session (the family) revoked and answers
// [jwtpair.ErrTokenBlacklisted], the contract's answer to a second logout.
//
// # Clock
//
// The scripts read Redis's clock (TIME) and judge record expiry and the
// reuse grace window on it, to the microsecond, never on the clock of the
// instance that calls them: instances whose clocks disagree cannot stretch
// or shrink the window. Reading TIME before writing needs effects
// replication of scripts, the default since Redis 5 and the only mode
// since Redis 7, so the store needs Redis 5 or later.
//
// # Keys and expiry
//
// With the default prefix, keys look like this (P = "{jwtpair:}"):
//
//	P t:<jti>     hash  one refresh token: state, family, user, expiry,
//	                    consumption time, replays, parent jti
//	P f:<family>  hash  one family (a session): user, latest token expiry,
//	                    revoked flag (set by a logout, reuse, RevokeFamily,
//	                    RevokeUser)
//	P u:<user>    zset  the user's families, for RevokeUser without SCAN
//
// No raw token is stored, only jtis and metadata. Every key carries a TTL
// (PEXPIREAT): a token record expires with its token; a family, and with it
// its revocation, lives as long as its latest token; a user index as long as
// the user's latest family. Redis thus removes expired records on its own and
// the store runs no goroutine. Revocations are data: configure Redis with
// maxmemory-policy noeviction (every key here has a TTL, so the volatile-*
// policies would evict them too).
//
// # Durability
//
// Whatever Redis loses, the store forgets, and it fails open: a logout, a
// rotation or a reuse revocation lost in a restart or failover makes the
// revoked or consumed tokens usable again until they expire. Without
// persistence a restart loses everything. Restoring an RDB snapshot undoes
// every change since it was taken, minutes of logouts and rotations with the
// usual save intervals, so snapshots alone are not enough. Use AOF:
// appendonly yes with appendfsync everysec loses about the last second of
// writes on a crash; appendfsync always loses no acknowledged write, at a
// cost in write latency. Replication is asynchronous too: a replica promoted
// by Sentinel or Cluster failover lacks whatever it had not yet received,
// the same kind of window. To bound it, min-replicas-to-write with
// min-replicas-max-lag makes the primary refuse writes (the store then
// answers unavailable) unless enough replicas are connected and at most that
// many seconds behind; WAIT, which this store does not send (it would cost a
// second round trip), makes a client wait until its writes reach replicas.
//
// # Redis Cluster
//
// Every key of a store shares one hash tag, the key prefix itself, so every
// script runs on a single slot and the store is fully correct and atomic on a
// single node, with Sentinel and on Redis Cluster alike.
//
// The finer layout, one hash tag per token family, cannot keep Rotate to one
// atomic round trip: Rotate knows only the presented token's jti, the
// family is found by reading that token's record, and on a Cluster a script
// must be routed to the slot of its keys before it runs, so a per-family tag
// would need one round trip to learn the family and a second, non-atomic
// with the first, to rotate. The price of the single tag is that one store's
// keys live on one Cluster shard (its replicas still give failover): refresh
// traffic, one small script per access-token lifetime per client, is far
// below what one Redis shard serves. To spread several applications or
// tenants over shards, give each its own prefix with [WithKeyPrefix].
//
// # Errors and outages
//
// Token states are reported with the sentinels of [jwtpair.Store]. Any Redis
// failure (connection refused, timeout, cancelled context, an error reply) is
// returned wrapping [jwtpair.ErrStoreUnavailable], never as success, and the
// store recovers as soon as the client reconnects. A jti already recorded
// (Issue, or a Rotate successor, other than by the same call retried) and an
// Issue naming another user's family are refused the same way and change
// nothing.
//
// # Throttling
//
// [NewLimiter] makes a [jwtpair.Limiter] on the same Redis, so that login
// and refresh throttling hold across instances: pass it with
// jwtpair.WithLimiter. It counts with go-redis's own
// github.com/go-redis/redis_rate (GCRA, one script per attempt, on Redis's
// clock), under keys "rate:jwtpair:…" apart from the store's.
package redisstore
