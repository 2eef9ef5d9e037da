package jwtpair

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/httprc/v3"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// Defaults of WithJWKSURL.
const (
	DefaultJWKSRefresh = 15 * time.Minute
	// DefaultJWKSRefetch is the least time between two refetches caused by
	// tokens naming a kid the key set does not have.
	DefaultJWKSRefetch = time.Minute
	// jwksPoll is how often the request path looks at the cache for a new
	// key set (a cheap check; the fetching happens in the background).
	jwksPoll = time.Second
	// jwksFetchTimeout bounds one fetch.
	jwksFetchTimeout = 5 * time.Second
	// jwksStartWait bounds how long New waits for the first key set.
	jwksStartWait = 2 * time.Second
)

type jwksConfig struct {
	url     string
	client  *http.Client
	refresh time.Duration
	refetch time.Duration
}

func (c *config) jwksConf() *jwksConfig {
	if c.jwks == nil {
		c.jwks = &jwksConfig{refresh: DefaultJWKSRefresh, refetch: DefaultJWKSRefetch}
	}
	return c.jwks
}

// WithJWKSURL makes the Auth a resource server that only verifies: access
// tokens are checked with the public keys published at u (simplejwt's
// JWK_URL), fetched with jwx's jwk.Cache, refreshed in the background (see
// [WithJWKSRefresh]) and picked by kid. A token naming a kid the set lacks
// causes at most one refetch per [DefaultJWKSRefetch]. Keys are never fetched
// from URLs inside tokens (jku, x5u are refused). Needs [WithAlgorithm]; no
// Authenticator is required, and the token endpoints cannot be used. Call
// [Auth.Close] to stop the background refresh.
func WithJWKSURL(u string) Option {
	return func(c *config) error {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			return fmt.Errorf("jwtpair: bad JWKS URL %q: want an absolute http(s) URL", u)
		}
		c.jwksConf().url = u
		return nil
	}
}

// WithJWKSHTTPClient sets the client that fetches the key set. Default: an
// http.Client with a 5-second timeout.
func WithJWKSHTTPClient(cl *http.Client) Option {
	return func(c *config) error {
		if cl == nil {
			return errors.New("jwtpair: nil JWKS HTTP client")
		}
		c.jwksConf().client = cl
		return nil
	}
}

// WithJWKSRefresh sets how often the key set is fetched again in the
// background. Default 15 minutes; at least one second.
func WithJWKSRefresh(every time.Duration) Option {
	return func(c *config) error {
		if every < time.Second {
			return fmt.Errorf("jwtpair: JWKS refresh %v is under a second", every)
		}
		c.jwksConf().refresh = every
		return nil
	}
}

// remoteKeys is the keyring of a JWKS URL, kept current.
type remoteKeys struct {
	url    string
	alg    string
	cache  *jwk.Cache
	cancel context.CancelFunc
	now    func() time.Time
	logger *slog.Logger

	ring      atomic.Pointer[keyring]
	lastSet   atomic.Pointer[jwk.Set]
	nextPoll  atomic.Int64 // unix nanoseconds
	refetchMu sync.Mutex
	lastFetch atomic.Int64 // unix nanoseconds of the last kid-driven refetch
	refetch   time.Duration
	closeOnce sync.Once
}

func newRemoteKeys(cfg *jwksConfig, alg string, now func() time.Time, logger *slog.Logger) (*remoteKeys, error) {
	if cfg.url == "" {
		return nil, errors.New("jwtpair: JWKS options given without WithJWKSURL")
	}
	client := cfg.client
	if client == nil {
		client = &http.Client{Timeout: jwksFetchTimeout}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cache, err := jwk.NewCache(ctx, httprc.NewClient())
	if err != nil {
		cancel()
		return nil, fmt.Errorf("jwtpair: JWKS cache: %w", err)
	}
	r := &remoteKeys{url: cfg.url, alg: alg, cache: cache, cancel: cancel, now: now, logger: logger, refetch: cfg.refetch}
	r.ring.Store(&keyring{byHeader: map[string]*jwsKey{}, byKID: map[string]*jwsKey{}})
	err = cache.Register(ctx, cfg.url,
		jwk.WithConstantInterval(cfg.refresh),
		jwk.WithHttprcResourceOption(httprc.WithHTTPClient(client)),
		jwk.WithWaitReady(false))
	if err != nil {
		r.close()
		return nil, fmt.Errorf("jwtpair: JWKS %s: %w", cfg.url, err)
	}
	// Wait for the cache's first fetch, so that the first request finds
	// keys; a server that is down at start is not fatal: requests get 401
	// until it answers.
	fetchCtx, done := context.WithTimeout(ctx, jwksStartWait)
	defer done()
	if !cache.Ready(fetchCtx, cfg.url) {
		logger.Warn("jwtpair: JWKS not available yet", "url", cfg.url)
	} else if set, err := cache.Lookup(fetchCtx, cfg.url); err == nil {
		r.install(set)
	}
	return r, nil
}

// current returns the keyring, looking at most once per jwksPoll whether
// the background refresh brought a new key set.
func (r *remoteKeys) current() *keyring {
	now := r.now().UnixNano()
	if next := r.nextPoll.Load(); now >= next && r.nextPoll.CompareAndSwap(next, now+int64(jwksPoll)) {
		ctx, done := context.WithTimeout(context.Background(), jwksFetchTimeout)
		if set, err := r.cache.Lookup(ctx, r.url); err == nil {
			r.install(set)
		}
		done()
	}
	return r.ring.Load()
}

// refetchFor fetches the key set again because a token named an unknown
// kid, unless another refetch is under way or one happened less than
// r.refetch ago. It returns the keyring to use.
func (r *remoteKeys) refetchFor(kid string) *keyring {
	now := r.now().UnixNano()
	if last := r.lastFetch.Load(); last != 0 && now-last < int64(r.refetch) {
		return r.ring.Load()
	}
	if !r.refetchMu.TryLock() {
		return r.ring.Load()
	}
	defer r.refetchMu.Unlock()
	// Again under the lock: a refetch may have ended between the first
	// look and the lock.
	if last := r.lastFetch.Load(); last != 0 && now-last < int64(r.refetch) {
		return r.ring.Load()
	}
	r.lastFetch.Store(now)
	ctx, done := context.WithTimeout(context.Background(), jwksFetchTimeout)
	defer done()
	set, err := r.cache.Refresh(ctx, r.url)
	if err != nil {
		r.logger.Warn("jwtpair: JWKS refetch failed", "url", r.url, "kid", kid, "err", err)
		return r.ring.Load()
	}
	r.install(set)
	return r.ring.Load()
}

// install builds a keyring from a key set, unless it is the set installed
// already. Keys for other uses, operations or algorithms, without kid,
// private (a JWKS that publishes private keys is misconfigured: those keys
// are not trusted), or not acceptable (weak RSA, wrong curve) are left out.
func (r *remoteKeys) install(set jwk.Set) {
	if last := r.lastSet.Load(); last != nil && *last == set {
		return
	}
	ring := &keyring{byHeader: map[string]*jwsKey{}, byKID: map[string]*jwsKey{}}
	for i := range set.Len() {
		jk, ok := set.Key(i)
		if !ok {
			continue
		}
		kid, hasKID := jk.KeyID()
		if !hasKID || kid == "" {
			continue
		}
		if use, ok := jk.KeyUsage(); ok && use != "sig" {
			continue
		}
		if ops, ok := jk.KeyOps(); ok && !slices.Contains(ops, jwk.KeyOpVerify) {
			continue
		}
		if private, err := jwk.IsPrivateKey(jk); err != nil { // not an asymmetric key
			continue
		} else if private {
			r.logger.Warn("jwtpair: JWKS key left out: it is a private key", "url", r.url, "kid", kid)
			continue
		}
		if alg, ok := jk.Algorithm(); ok && alg.String() != r.alg {
			continue
		}
		pubJWK, err := jk.PublicKey()
		if err != nil {
			continue
		}
		var pub crypto.PublicKey
		if err := jwk.Export(pubJWK, &pub); err != nil {
			continue
		}
		k, _, err := newAsymmetricKey(r.alg, pub, kid)
		if err != nil {
			r.logger.Warn("jwtpair: JWKS key left out", "url", r.url, "kid", kid, "err", err)
			continue
		}
		ring.byKID[kid] = k
		ring.byHeader[k.header] = k
	}
	if len(ring.byKID) == 1 {
		for _, k := range ring.byKID {
			ring.only = k
		}
	}
	r.ring.Store(ring)
	r.lastSet.Store(&set)
}

func (r *remoteKeys) close() {
	r.closeOnce.Do(func() {
		ctx, done := context.WithTimeout(context.Background(), jwksFetchTimeout)
		defer done()
		_ = r.cache.Shutdown(ctx)
		r.cancel()
	})
}

// Close stops the background work of an Auth made with WithJWKSURL. It is
// safe to call more than once, and a no-op for other Auths.
func (a *Auth) Close() error {
	if a.remote != nil {
		a.remote.close()
	}
	return nil
}
