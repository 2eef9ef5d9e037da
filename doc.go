// Package jwtpair adds JWT access/refresh-pair authentication to any
// net/http application, as djangorestframework-simplejwt does for Django
// REST Framework, with the same JSON on the wire so frontends written for
// simplejwt work unchanged: the token endpoints read requests as DRF does
// (JSON, forms, multipart; DRF's field, parse and method errors) and answer
// as simplejwt 5.5.1 does, which a differential test against the real
// simplejwt checks (the README lists every difference).
//
// A user logs in with a username and password and receives a short-lived
// access token and a longer-lived refresh token. The [Auth.Middleware]
// checks the access token on every request without any I/O and puts the
// user in the request context; a token presented again and again skips
// the signature check and the parse from its third request on, every other
// rule still applied ([WithVerifiedTokenCache]). The refresh endpoint trades a refresh token
// for a new access token and, with rotation (the default), a new refresh
// token; presenting a rotated refresh token again, to refresh or to log out,
// ends its whole session (reuse detection). The blacklist endpoint logs
// out, ending the whole session: every token of the login.
//
//	auth, err := jwtpair.New(
//		jwtpair.WithHMACKey(secret),        // ≥ 32 bytes
//		jwtpair.WithAuthenticator(users),   // checks username + password
//	)
//	if err != nil {
//		log.Fatal(err)
//	}
//	mux.Handle("/api/token/{$}", auth.ObtainHandler()) // exact paths, not subtrees
//	mux.Handle("/api/token/refresh/{$}", auth.RefreshHandler())
//	mux.Handle("/api/token/verify/{$}", auth.VerifyHandler())
//	mux.Handle("/api/token/blacklist/{$}", auth.BlacklistHandler())
//	mux.Handle("/hello/{$}", auth.Middleware(http.HandlerFunc(hello)))
//
// The patterns are exact, as Django's path() routes are: "/api/token/"
// alone would be a subtree, issuing tokens at /api/token/anything/ and
// shadowing every route under it.
//
// Inside hello, a func(http.ResponseWriter, *http.Request), [UserFrom]
// returns the user:
//
//	u, ok := jwtpair.UserFrom(r.Context())
//
// # Tokens
//
// Tokens are compact JWS with simplejwt's claims (token_type, exp, iat, jti,
// user_id) plus any custom claims the [Authenticator] returns. Verification
// is strict: the algorithm is pinned, the header may only hold alg, typ and
// kid, exp is required, types are never confused, and malformed or
// oversized input is refused before it is decoded. Tokens simplejwt minted
// with the same key verify; to move a live simplejwt deployment without
// logging anyone out, import its token tables (package simplejwtimport)
// and open an adoption window ([WithSimplejwtAdoption]) for its refresh
// and sliding tokens the tables do not hold.
//
// # Sessions
//
// A login starts a session: every token of it carries its id (the sid
// claim) and the login time (auth_time). Users list and end their sessions
// ([Auth.SessionsHandler], [Auth.EndSessionHandler],
// [Auth.EndOtherSessionsHandler]); admins and password changes use
// [Auth.Sessions], [Auth.EndSession], [Auth.EndOtherSessions] and
// [Auth.EndAllSessions]. [WithMaxSessionAge] bounds a session's life,
// [WithMaxSessionsPerUser] how many a user has.
//
// Ending a session refuses its refresh tokens at once, in the store, and
// its access tokens on every instance within a bound (1 second by default,
// [WithRevocationStaleness]), still without I/O per request: each Auth
// follows its store's [RevocationFeed] into an in-memory set of ended
// sessions, and answers 503 rather than trust a set it could not keep
// fresh.
//
// # Sliding tokens
//
// With [WithSlidingTokens], a client may log in for simplejwt's sliding
// token instead of a pair ([Auth.SlidingObtainHandler]): one token that
// the middleware accepts as an access token and that
// [Auth.SlidingRefreshHandler] renews, keeping its jti, until its
// refresh_exp. Each such login is a session like any other: the store
// records it, a refresh asks whether it lives, and ending it
// ([Auth.SlidingBlacklistHandler], [Auth.Revoke], the session API) reaches
// the token on every instance through the revoked set. [Auth.AccessMiddleware]
// keeps a route to access tokens.
//
// # State
//
// Sessions and refresh tokens are recorded in a [Store] (by jti, never the
// token): the default [MemoryStore] suits one process; the redisstore and
// sqlstore modules share state between instances and survive restarts.
// When the store fails, the endpoints answer 503 and never accept a token
// they could not check; a store that does not answer fails the call at its
// deadline ([WithStoreTimeout], 5 s by default), so a request gets its 503
// rather than hang.
//
// # Authorization and throttling
//
// [Auth.Require] protects a route by a predicate on the verified claims
// (roles, scopes: [ClaimIncludes], [Claim]) with DRF's 403, and never lets
// an unauthenticated request through. Logins are throttled by default, per
// username and client address and per address, and refresh per address
// ([WithThrottle], [DefaultThrottle]), with DRF's 429; a [Limiter] on a
// shared backend ([WithLimiter]) makes the limits hold across instances.
//
// # Audit events
//
// [WithAuditHook] receives an [Event] for each login (succeeded, failed,
// throttled, refused), refresh, reuse detected, logout, session ended,
// user stamp changed and key set installed: a Kind to switch on, the user,
// session and client address, never a token or a password. An Event logs
// with slog as it is.
//
// # Errors
//
// Every failure is one of the documented sentinel errors, answered in one
// place ([WriteError], replaceable with [WithErrorHandler]) with simplejwt's
// status codes and JSON bodies; an adapter for another router's middleware
// answers with [Auth.WriteError], as the middleware does.
//
// # OpenAPI
//
// [OpenAPI] returns the OpenAPI 3.1 description of every endpoint, embedded
// in the package: each status each answers with its JSON body and headers,
// for every configuration. [OpenAPIHandler] serves it; both move its paths
// to where the application mounts the endpoints.
package jwtpair
