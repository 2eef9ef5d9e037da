package jwtpair

import (
	"context"
	"crypto"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/httprc/v3"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/jwtpair/jwtpair/internal/jws"
)

// JWK Sets (RFC 7517), both ways: JWKSHandler publishes this Auth's public
// keys; a resource server (WithJWKSURL) verifies with the keys its issuer
// publishes, kept current by remoteKeys.

// Defaults and bounds of WithJWKSURL.
const (
	// defaultJWKSRefresh is how often the key set is fetched again in the
	// background unless WithJWKSRefresh says otherwise.
	defaultJWKSRefresh = 15 * time.Minute
	// jwksKidRetry: a kid that a refetch did not find is not refetched for
	// again before this much time has passed.
	jwksKidRetry = time.Minute
	// jwksRefetchFloor is the least time between two refetches caused by
	// unknown kids, whatever the kids.
	jwksRefetchFloor = 5 * time.Second
	// jwksMissSlots is how many missing kids are remembered. A refetch
	// records at most one and refetches are jwksRefetchFloor apart, so a kid
	// stays remembered for its whole jwksKidRetry.
	jwksMissSlots = int(jwksKidRetry/jwksRefetchFloor) + 1
	// jwksPoll is how often the request path looks at the cache for a new
	// key set (a cheap check; the fetching happens in the background).
	jwksPoll = time.Second
	// jwksFetchTimeout bounds one fetch.
	jwksFetchTimeout = 5 * time.Second
	// jwksStartWait bounds how long New waits for the first key set.
	jwksStartWait = 2 * time.Second
	// jwksMaxRedirects bounds the same-origin redirects one fetch follows
	// (net/http's default).
	jwksMaxRedirects = 10
)

// JWKSHandler serves the public keys (the current signing key and the
// previous keys still accepted) as an RFC 7517 JWK Set, for resource
// servers that verify with [WithJWKSURL]. Only public members are
// published. With HMAC keys there is nothing public, and an Auth that
// only verifies (WithJWKSURL) has no keys of its own: it answers 404.
// Mount it at /.well-known/jwks.json.
func (a *Auth) JWKSHandler() http.Handler {
	var body []byte
	if a.ring != nil {
		body = a.ring.jwks
	}
	return publicHandler("application/jwk-set+json", body, respNoPublicKeys)
}

// jwksConfig is what the options of a resource server set.
type jwksConfig struct {
	url          string
	client       *http.Client
	refresh      time.Duration
	insecureHTTP bool
}

func (c *config) jwksConf() *jwksConfig {
	if c.jwks == nil {
		c.jwks = &jwksConfig{refresh: defaultJWKSRefresh}
	}
	return c.jwks
}

// remoteKeys is the keyring of a JWKS URL, kept current.
type remoteKeys struct {
	url    string
	alg    string
	client *http.Client // the one client the cache fetches with
	cache  *jwk.Cache
	res    *httprc.ResourceBase[jwk.Set]
	cancel context.CancelFunc
	now    func() time.Time
	logger *slog.Logger
	emit   func(context.Context, Event) // the Auth's audit events

	ring     atomic.Pointer[keyring]
	nextPoll atomic.Int64 // unix nanoseconds

	installMu sync.Mutex
	lastSet   jwk.Set // the set ring was built from; under installMu

	// Refetches caused by unknown kids: at most one at a time (refetchMu,
	// never waited for), one per jwksRefetchFloor (nextRefetch), and none
	// for a kid found missing less than jwksKidRetry ago (missing).
	refetchMu   sync.Mutex
	nextRefetch atomic.Int64 // unix nanoseconds
	seed        maphash.Seed
	missMu      sync.RWMutex
	missing     [jwksMissSlots]missingKid // under missMu
	nextSlot    int                       // under missMu

	closeOnce sync.Once
}

// missingKid remembers a kid (by a keyed hash: no kid text is kept) that a
// refetch did not find, until a time in unix nanoseconds.
type missingKid struct {
	hash  uint64
	until int64
}

// checkJWKS checks the options of a resource server (WithJWKSURL). Its key
// set is fetched after every check has passed (newRemoteKeys).
func (c *config) checkJWKS() {
	if c.jwks == nil {
		return
	}
	if !c.algSet || !isAsymmetric(c.alg) {
		c.bad("WithJWKSURL needs WithAlgorithm naming an asymmetric algorithm")
	}
	if len(c.previous) > 0 {
		c.bad("WithPreviousKey does not apply to WithJWKSURL: the key set rotates itself")
	}
	if c.userCheck && c.serverSecret == nil {
		c.bad("WithUserCheck on a resource server (WithJWKSURL) needs WithServerSecret, the issuer's, to check user stamps")
	}
	u, err := url.Parse(c.jwks.url) // checked by WithJWKSURL
	switch {
	case c.jwks.url == "":
		c.bad("JWKS options given without WithJWKSURL")
	case err != nil:
		c.bad("bad JWKS URL %q", c.jwks.url)
	case u.Scheme == "http" && !c.jwks.insecureHTTP && !isLoopback(u.Hostname()):
		c.bad("JWKS URL %q is plain http on a host that is not loopback: use https (or WithJWKSInsecureHTTP, see its doc)", c.jwks.url)
	}
}

// newRemoteKeys starts the key-set client of a checked configuration.
func newRemoteKeys(cfg *jwksConfig, alg string, now func() time.Time, logger *slog.Logger, emit func(context.Context, Event)) (*remoteKeys, error) {
	ctx, cancel := context.WithCancel(context.Background())
	cache, err := jwk.NewCache(ctx, httprc.NewClient())
	if err != nil {
		cancel()
		return nil, fmt.Errorf("jwtpair: JWKS cache: %w", err)
	}
	r := &remoteKeys{url: cfg.url, alg: alg, client: jwksClient(cfg.client), cache: cache, cancel: cancel,
		now: now, logger: logger, emit: emit, seed: maphash.MakeSeed()}
	r.ring.Store(&keyring{})
	// The client goes to Register as jwk.WithHTTPClient: jwx gives every
	// resource a client of its own (its 30-second default unless this
	// option is given), so a client given to httprc.NewClient, or as an
	// httprc resource option, would not be the one that fetches.
	err = cache.Register(ctx, cfg.url,
		jwk.WithHTTPClient(r.client),
		jwk.WithConstantInterval(cfg.refresh),
		jwk.WithWaitReady(false))
	if err == nil {
		r.res, err = cache.LookupResource(ctx, cfg.url)
	}
	if err != nil {
		r.close()
		return nil, fmt.Errorf("jwtpair: JWKS %s: %w", cfg.url, err)
	}
	// Wait for the cache's first fetch, so that the first request finds
	// keys; a server that is down at start is not fatal: requests get 401
	// until it answers.
	fetchCtx, done := context.WithTimeout(ctx, jwksStartWait)
	defer done()
	if r.res.Ready(fetchCtx) != nil {
		logger.Warn("jwtpair: JWKS not available yet", "url", cfg.url)
	}
	r.sync()
	return r, nil
}

// jwksClient returns the client that fetches a key set: a copy of given
// (nil: a new client) with the default timeout and redirect policy where
// given has none (see WithJWKSHTTPClient).
func jwksClient(given *http.Client) *http.Client {
	c := &http.Client{}
	if given != nil {
		*c = *given
	}
	if c.Timeout == 0 {
		c.Timeout = jwksFetchTimeout
	}
	if c.CheckRedirect == nil {
		c.CheckRedirect = sameOriginRedirect
	}
	return c
}

// sameOriginRedirect is the default redirect policy of a key-set fetch:
// follow only within the origin of the first request, at most
// jwksMaxRedirects times. A redirect refused fails the fetch, so no key
// from another origin is ever installed.
func sameOriginRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= jwksMaxRedirects {
		return fmt.Errorf("jwtpair: JWKS fetch stopped after %d redirects", jwksMaxRedirects)
	}
	if from := via[0].URL; originOf(req.URL) != originOf(from) {
		return fmt.Errorf("jwtpair: JWKS redirect from %s://%s to another origin (%s://%s) refused", from.Scheme, from.Host, req.URL.Scheme, req.URL.Host)
	}
	return nil
}

type origin struct{ scheme, host, port string }

func originOf(u *url.URL) origin {
	o := origin{scheme: strings.ToLower(u.Scheme), host: strings.ToLower(u.Hostname()), port: u.Port()}
	if o.port == "" {
		switch o.scheme {
		case "https":
			o.port = "443"
		case "http":
			o.port = "80"
		}
	}
	return o
}

// isLoopback reports whether host (a URL's Hostname) is localhost or a
// loopback address: 127.0.0.0/8, ::1.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// before reports whether now is before deadline, where deadline was set at
// most d ahead of the clock: a deadline further ahead than d means the
// clock was set back since, and counts as passed (so that stepping a wall
// clock back cannot freeze the key set for the size of the step).
func before(now, deadline int64, d time.Duration) bool {
	return now < deadline && deadline-now <= int64(d)
}

// current returns the keyring, looking at most once per jwksPoll whether
// the background refresh brought a new key set.
func (r *remoteKeys) current() *keyring {
	now := r.now().UnixNano()
	if next := r.nextPoll.Load(); !before(now, next, jwksPoll) && r.nextPoll.CompareAndSwap(next, now+int64(jwksPoll)) {
		return r.sync()
	}
	return r.ring.Load()
}

// sync installs the cache's newest key set if it changed, and returns the
// keyring. Reading the set and installing it happen under one lock, so a
// set read earlier never replaces one read later.
func (r *remoteKeys) sync() *keyring {
	r.installMu.Lock()
	defer r.installMu.Unlock()
	if set := r.res.Resource(); set != nil && set != r.lastSet {
		r.install(set)
		r.lastSet = set
	}
	return r.ring.Load()
}

// refetchFor fetches the key set again because a token named a kid the
// keyring lacks, and returns the keyring to use. It does not fetch while
// another refetch is under way, within jwksRefetchFloor of the last one, or
// for a kid a refetch did not find less than jwksKidRetry ago. So one
// unknown kid cannot keep a new kid from being found for longer than
// jwksRefetchFloor, and no stream of kids causes more than one fetch per
// jwksRefetchFloor.
func (r *remoteKeys) refetchFor(kid string) *keyring {
	if before(r.now().UnixNano(), r.nextRefetch.Load(), jwksRefetchFloor) {
		return r.ring.Load()
	}
	h := maphash.String(r.seed, kid)
	if r.missingNow(h) || !r.refetchMu.TryLock() {
		return r.ring.Load()
	}
	defer r.refetchMu.Unlock()
	// Again under the lock: a refetch that ended since the first look has
	// used the floor, and it (or the poll) may have brought the kid.
	now := r.now().UnixNano()
	ring := r.ring.Load()
	if ring.Key(kid) != nil || before(now, r.nextRefetch.Load(), jwksRefetchFloor) {
		return ring
	}
	r.nextRefetch.Store(now + int64(jwksRefetchFloor))
	ctx, done := context.WithTimeout(context.Background(), jwksFetchTimeout)
	defer done()
	if _, err := r.cache.Refresh(ctx, r.url); err != nil {
		r.logger.Warn("jwtpair: JWKS refetch failed", "url", r.url, "kid", kid, "err", err)
		return r.ring.Load()
	}
	ring = r.sync()
	if ring.Key(kid) == nil {
		r.missMu.Lock()
		r.missing[r.nextSlot] = missingKid{hash: h, until: now + int64(jwksKidRetry)}
		r.nextSlot = (r.nextSlot + 1) % len(r.missing)
		r.missMu.Unlock()
	}
	return ring
}

// missingNow reports whether a refetch found the kid of hash h missing
// less than jwksKidRetry ago.
func (r *remoteKeys) missingNow(h uint64) bool {
	now := r.now().UnixNano()
	r.missMu.RLock()
	defer r.missMu.RUnlock()
	for _, m := range r.missing {
		if m.hash == h && before(now, m.until, jwksKidRetry) {
			return true
		}
	}
	return false
}

// install builds a keyring from a key set (under installMu). Keys for
// other uses, operations or algorithms, without kid, private (a JWKS that
// publishes private keys is misconfigured: those keys are not trusted), or
// not acceptable (weak RSA, wrong curve) are left out.
func (r *remoteKeys) install(set jwk.Set) {
	keys := map[string]*jws.Key{} // by kid; of a kid given twice, the last key
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
		k, err := jws.NewAsymmetricKey(r.alg, pub, kid)
		if err != nil {
			r.logger.Warn("jwtpair: JWKS key left out", "url", r.url, "kid", kid, "err", err)
			continue
		}
		keys[kid] = k
	}
	ring := &keyring{}
	kids := make([]string, 0, len(keys))
	for kid, k := range keys {
		_ = ring.Add(k) // distinct kids, none empty: Add cannot refuse
		kids = append(kids, kid)
	}
	ring.Finish()
	r.ring.Store(ring)
	slices.Sort(kids)
	r.emit(context.Background(), Event{Kind: EventKeySetRefreshed, KeyIDs: kids})
}

func (r *remoteKeys) close() {
	r.closeOnce.Do(func() {
		ctx, done := context.WithTimeout(context.Background(), jwksFetchTimeout)
		defer done()
		_ = r.cache.Shutdown(ctx)
		r.cancel()
	})
}
