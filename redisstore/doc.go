// Package redisstore is a [jwtpair.Store] and [jwtpair.RevocationFeed] on
// Redis (github.com/redis/go-redis/v9), for applications that run several
// instances: a logout, a rotation, an ended session or a detected token
// reuse on one instance holds on every other at once, and reaches their
// access tokens through the revocation feed.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
//	defer rdb.Close() // the store never closes the client
//	auth, err := jwtpair.New(
//		jwtpair.WithHMACKey(secret),
//		jwtpair.WithAuthenticator(users),
//		jwtpair.WithStore(redisstore.New(rdb)),
//	)
//
// It needs Redis 6.2 or later (XADD … MINID).
//
// Set ContextTimeoutEnabled on the client: go-redis then ends a call at
// its context's deadline, the one jwtpair.WithStoreTimeout gives every
// call an Auth makes (5 s by default), so a Redis that stops answering
// costs a request a 503 within it (TestHTTPStall). Without it, go-redis
// ignores the deadline and its ReadTimeout (3 s by default) bounds a read.
//
// # Round trips and atomicity
//
// Every method is one Lua script, run with EVALSHA (go-redis resends it with
// EVAL when the server has not cached it yet, as after a restart), atomic on
// the server. Rotate in particular consumes the presented token, tells a
// replay inside the grace window from reuse, and records the successor in
// one step and one round trip: of many concurrent rotations of one token
// without a grace window, exactly one succeeds, whichever instance sends it.
//
// A method that ends sessions adds two round trips after its script: the
// feed entries, then their acknowledgement (see Revocation feed). Round
// trips per call:
//
//	Rotate, Check, Sessions      1
//	Rotate detecting reuse       3
//	Issue                        1; 3 when the per-user cap evicts
//	Revoke                       3; 1 when the session had ended or the token is unknown
//	EndSession                   3; 1 when there is nothing to end
//	EndSessions                  3; 1 when a session is kept and there is nothing to end
//	Revocations                  1 per 1000 entries
//
// (Any of them adds the two when the user has entries pending from a
// failed append, see below, except Check, Sessions and a successful
// Rotate.)
//
// go-redis retries a command whose reply was lost (a timeout, a dropped
// connection), and the script may already have run. Rotate recognises its own
// retry (the successor exists, active, with the presented token as its
// parent, and the session is live) and succeeds again instead of taking it
// for reuse. Issue recognises its own (the same active record) and succeeds
// again. A retried Revoke finds the session ended and answers
// [jwtpair.ErrTokenBlacklisted], the contract's answer to a second logout.
//
// # Clock
//
// The scripts read Redis's clock (TIME) and judge record expiry, absolute
// expiry, session times and the reuse grace window on it, to the
// microsecond, never on the clock of the instance that calls them: instances
// whose clocks disagree cannot stretch or shrink the window. The feed's
// times and cursors are Redis's clock too.
//
// # Keys and Redis Cluster
//
// Keys carry a hash tag per user (the layout is documented in scripts.go):
//
//	jwtpair:{u:42}:t:<jti>   a refresh token
//	jwtpair:{u:42}:s:<sid>   a session
//	jwtpair:{u:42}:m:<sid>   its client metadata (JSON)
//	jwtpair:{u:42}:i         the user's sessions, by creation
//	jwtpair:{u:42}:p         the user's revocations not yet in the feed
//	jwtpair:{feed}           the revocation feed (a stream)
//
// A user id that is longer than 64 bytes, or has a brace, a space or
// anything but printable ASCII, is replaced in the tag by a hash of it
// ("{h:<32 hex>}"). So every script touches one slot, the user's (the feed
// script the feed's), and on a Redis Cluster users spread over every shard:
// one rotation, one session and one user's index stay together while the
// cluster adds capacity as well as availability. What spreads is all of it
// but the feed: tokens, sessions, client metadata, indexes, pending sets,
// and with them every login, refresh, logout and listing, each on the shard
// of its user (10k users came out 3336, 3339 and 3325 on the three masters
// of TestCluster). The feed is one stream in one slot ("jwtpair:{feed}"):
// every instance reads it and every ending writes it, which is traffic in
// proportion to logouts and ended sessions, not to refreshes.
// [WithKeyPrefix] separates applications sharing a Redis; it must not
// contain braces. The limiter's keys ([NewLimiter]) carry no tag: each is
// one key, and they spread too.
//
// TestCluster starts a three-master Cluster and runs every suite of package
// storetest that applies through redis.ClusterClients (the conformance
// suite, two Auth instances sharing it, the limiter's, an outage of every
// node), the per-user slots and TTLs, the feed across masters, and the
// spread.
//
// No raw token is stored, only jtis and metadata. Every key carries a TTL
// (PEXPIREAT): a token record expires with its token; a session, and with it
// its end, lives as long as its latest token; the index as long as the
// user's longest session; the pending set and the stream one retention
// after their last write. Redis thus removes expired records on its own and
// the store runs no goroutine. Revocations are data: configure Redis with
// maxmemory-policy noeviction (every key here has a TTL, so the volatile-*
// policies would evict them too).
//
// # Moving from the single-slot layout
//
// Before sessions, redisstore kept every key under one hash tag, its
// prefix's ("{jwtpair:}t:<jti>", "{jwtpair:}f:<family>",
// "{jwtpair:}u:<user>"), so that a Cluster held them all in one slot, on
// one shard. This version does not read them. [Store.MigrateKeys] moves
// them, once, at the upgrade:
//
//  1. stop every instance of the earlier version;
//  2. run store.MigrateKeys(ctx, oldPrefix, maxSessionAge) with the new
//     store (oldPrefix as the earlier version's WithKeyPrefix, "" for its
//     default);
//  3. start the new instances.
//
// Each token family becomes a session of the same id, the sid its refresh
// tokens carry, and each token record keeps its state, consumption time,
// replay count and expiry: live tokens refresh as before, consumed ones are
// reuse, those of families the earlier version revoked stay refused, none
// becomes unknown (which the simplejwt adoption window could take in). A
// run that fails leaves the rest to the next, which picks up where it
// stopped; running it again is harmless. Without it the old records are
// never read, and their refresh tokens are unknown until they expire: their
// users log in again. The CHANGELOG lists what else changes for a
// deployment of an earlier checkout.
//
// # Sessions
//
// Issue records a session (user, created, last refreshed, idle expiry,
// absolute expiry, client metadata as one JSON field) with its first token
// and adds it to the user's index. With a per-user cap, the same script
// evicts the user's oldest live sessions beyond it, atomically with the
// login, whichever instances log the user in at once; it forgets them (the
// session and the tokens of its rotation chain are deleted, so their tokens
// become unknown), which keeps one user's keys bounded by the cap however
// fast they log in, and records them in the feed. Rotate moves the session's
// last refresh and idle expiry; Rotate and Check refuse a session past its
// absolute expiry. Sessions reads the index newest first.
//
// # Revocation feed
//
// Every ended session (Revoke, EndSession, EndSessions, reuse detected by
// Rotate, eviction by the cap) is one entry of a Redis stream, and
// EndSessions with no session kept adds a user-wide one. Since the stream
// cannot share every user's slot, the script that ends sessions records
// them in the user's pending set and returns them; the store then appends
// them to the stream (one script on the stream's slot, which trims entries
// older than the retention by Redis's clock) and finally removes them from
// the pending set. If the append fails, the method returns an error wrapping
// [jwtpair.ErrStoreUnavailable], not success and not a token verdict; the
// sessions stay ended and their entries pending, and the user's next
// Issue, Revoke, EndSession or EndSessions (the caller's retry), or Rotate
// meeting an ended session, appends them. If only the acknowledgement fails, an entry is appended
// twice; readers apply entries idempotently. The normal rotation path never
// touches the feed.
//
// Revocations reads the stream: the empty cursor reads every entry retained
// (XRANGE, the catch-up of a starting instance), a cursor blocks on XREAD
// BLOCK for up to wait and returns as soon as an entry arrives (push, no
// polling). Cursors are stream ids, milliseconds of Redis's clock: the
// stream orders entries as Redis appended them, so a reader that passes
// back its cursor misses nothing appended after it, across reconnections,
// Redis restarts with AOF, and outages of any length shorter than the
// retention ([WithRevocationRetention], one hour by default).
//
// Each blocked read holds one connection of the client's pool for up to
// wait (go-redis allows it wait plus 10 s to answer). So an application
// whose Auth follows the feed needs one connection beyond what its requests
// use: PoolSize (go-redis's default is 10 per GOMAXPROCS) ≥ concurrent store
// calls + 1, and Redis's maxclients ≥ instances × PoolSize. On a Cluster
// that connection goes to the shard holding the feed's slot. go-redis does
// not interrupt a blocked read when its context is cancelled unless the
// client sets ContextTimeoutEnabled; the read then ends after wait.
//
// # Durability
//
// Whatever Redis loses, the store forgets, and it fails open: a logout, a
// rotation, an ended session or a reuse detection lost in a restart or
// failover makes the tokens it stopped usable again until they expire, and
// drops its feed entry. Without persistence a restart loses everything.
// Restoring an RDB snapshot undoes every change since it was taken, minutes
// of logouts and rotations with the usual save intervals, so snapshots alone
// are not enough. Use AOF: appendonly yes with appendfsync everysec loses
// about the last second of writes on a crash; appendfsync always loses no
// acknowledged write, at a cost in write latency. Replication is
// asynchronous too: a replica promoted by Sentinel or Cluster failover lacks
// whatever it had not yet received, the same kind of window. To bound it,
// min-replicas-to-write with min-replicas-max-lag makes the primary refuse
// writes (the store then answers unavailable) unless enough replicas are
// connected and at most that many seconds behind; WAIT, which this store
// does not send (it would cost a round trip), makes a client wait until its
// writes reach replicas. A promoted replica whose clock runs behind the old
// primary's may give new feed entries ids below a reader's cursor if it
// lacked the latest entries: restart the instances after such a failover
// (their catch-up reads the whole stream).
//
// # Errors and outages
//
// Token states are reported with the sentinels of [jwtpair.Store]. Any Redis
// failure (connection refused, timeout, cancelled context, an error reply) is
// returned wrapping [jwtpair.ErrStoreUnavailable], never as success, and the
// store recovers as soon as the client reconnects. A jti or session id
// already recorded (Issue, or a Rotate successor, other than by the same
// call retried) is refused the same way and changes nothing.
//
// # Throttling
//
// [NewLimiter] makes a [jwtpair.Limiter] on the same Redis, so that login
// and refresh throttling hold across instances: pass it with
// jwtpair.WithLimiter. It counts with go-redis's own
// github.com/go-redis/redis_rate (GCRA, one script per attempt, on Redis's
// clock), under keys "rate:jwtpair:…" apart from the store's.
package redisstore
