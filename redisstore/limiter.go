package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/jwtpair/jwtpair"
)

// DefaultLimiterPrefix is the key prefix of a [Limiter] unless
// [WithLimiterPrefix] sets another: keys look like
// "rate:jwtpair:login:ip:203.0.113.7" ("rate:" is redis_rate's own).
const DefaultLimiterPrefix = "jwtpair:"

// Limiter is a [jwtpair.Limiter] on Redis, for login and refresh
// throttling that holds across every instance sharing the Redis:
//
//	auth, err := jwtpair.New(…, jwtpair.WithStore(redisstore.New(rdb)),
//		jwtpair.WithLimiter(redisstore.NewLimiter(rdb)))
//
// It counts with go-redis's own limiter, github.com/go-redis/redis_rate:
// GCRA in one Lua script per attempt (EVALSHA), on Redis's clock (TIME),
// so each attempt is one atomic round trip whichever instance makes it,
// and instances whose clocks disagree count alike. A key is one string (its
// theoretical arrival time) with a TTL of its time to come back to rest, so
// Redis forgets keys at rest on its own and no goroutine runs. Each key is
// used alone, so on a Redis Cluster the keys spread over the shards (they
// carry no hash tag unless the prefix has one). Like the store's, these
// keys are data: run Redis with maxmemory-policy noeviction, or an eviction
// gives an attacker back attempts.
//
// Any Redis failure is returned wrapping [jwtpair.ErrStoreUnavailable]: the
// endpoints then answer 503 rather than let an attempt through uncounted.
// A Limiter is safe for concurrent use; the caller owns the client.
type Limiter struct {
	rl     *redis_rate.Limiter
	prefix string
}

var _ jwtpair.Limiter = (*Limiter)(nil)

// LimiterOption configures a [Limiter].
type LimiterOption func(*Limiter)

// WithLimiterPrefix sets the prefix of the limiter's keys, after
// redis_rate's "rate:". Default: [DefaultLimiterPrefix]. Limiters with
// different prefixes on one Redis count apart. An empty prefix means the
// default.
func WithLimiterPrefix(prefix string) LimiterOption {
	return func(l *Limiter) {
		if prefix != "" {
			l.prefix = prefix
		}
	}
}

// NewLimiter returns a Limiter using client (a *redis.Client, a
// *redis.ClusterClient, a failover client or a *redis.Ring), which the
// caller owns: the limiter never closes it. It does no I/O. It panics if
// client is nil, a programming error.
func NewLimiter(client redis.UniversalClient, opts ...LimiterOption) *Limiter {
	if client == nil {
		panic("redisstore: NewLimiter called with a nil client")
	}
	l := &Limiter{rl: redis_rate.NewLimiter(client), prefix: DefaultLimiterPrefix}
	for _, opt := range opts {
		opt(l)
	}
	return l
}

// Allow implements [jwtpair.Limiter.Allow] with redis_rate's Allow: one
// script, one round trip. The limit is checked first ([jwtpair.Limit.Validate]).
func (l *Limiter) Allow(ctx context.Context, key string, limit jwtpair.Limit) (bool, time.Duration, error) {
	if err := limit.Validate(); err != nil {
		return false, 0, err
	}
	res, err := l.rl.Allow(ctx, l.prefix+key, redis_rate.Limit{Rate: limit.Rate, Burst: limit.Burst, Period: limit.Period})
	if err != nil {
		return false, 0, fmt.Errorf("redisstore: limiter: %w: %w", jwtpair.ErrStoreUnavailable, err)
	}
	if res.Allowed > 0 {
		return true, 0, nil
	}
	// The script computes in float seconds: a wait can round to nothing.
	return false, max(res.RetryAfter, time.Microsecond), nil
}

// Reset implements [jwtpair.Limiter.Reset]: one DEL.
func (l *Limiter) Reset(ctx context.Context, key string) error {
	if err := l.rl.Reset(ctx, l.prefix+key); err != nil {
		return fmt.Errorf("redisstore: limiter: %w: %w", jwtpair.ErrStoreUnavailable, err)
	}
	return nil
}
