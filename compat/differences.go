package compat

// Difference is one documented way in which jwtpair's answer may differ
// from the reference's (Debian's djangorestframework-simplejwt 5.2.2 with
// DRF 3.14 and Django 3.2, configured as the seed tutorials).
//
// An entry does one of two things:
//
//   - It relaxes one aspect. Where an aspect of a step differs (its name
//     matches Aspect), the reference's value matches Simplejwt and jwtpair's
//     matches Jwtpair, the difference is documented.
//   - It replaces the reference's answer. Want is what simplejwt would answer
//     where the reference cannot stand for it: the newest upstream release's
//     answer (Kind Version), the answer of a deliberate improvement (Kind
//     Deliberate), or a sound answer where every simplejwt release crashes
//     (Kind ReferenceBug). jwtpair is then compared with Want, and the
//     aspect entries still apply.
//
// Aspects are named as the test prints them: "status", "header Allow",
// "body" (the body's JSON type, "(empty)" or "text: …"), "body.detail",
// "body.messages[0].message", and for a token "body.access" ("jwt"),
// "body.access.header.alg" and "body.access.claims.user_id". Values are
// JSON literals ("\"Token is invalid\"", "1"), "(absent)", "time(now+5m)"
// for time claims, "hex(32)" for a jti.
type Difference struct {
	ID   string // stable name
	Kind Kind

	Scenarios    string // regexp over scenario ids; "" matches every scenario
	NotScenarios string // regexp over scenario ids the entry never covers

	Aspect    string // regexp over aspect names
	Simplejwt string // regexp the reference's value matches
	Jwtpair   string // regexp jwtpair's value matches; $S stands for the reference's value (quoted for the regexp)

	Step string  // label of the step whose answer Want replaces
	Want *Answer // the answer simplejwt's newest release, or the deliberate design, gives instead

	What     string // what differs, in a line
	Why      string // why jwtpair answers so
	Upstream string // Kind Version: the upstream change that explains it
}

// Kind says why a Difference exists.
type Kind string

// Kinds of Difference.
const (
	// Deliberate: an improvement a frontend cannot trip over (DESIGN.md §3, §4, §8).
	Deliberate Kind = "deliberate"
	// Version: Debian's simplejwt 5.2.2 and upstream's newest release, 5.5.1,
	// answer differently; jwtpair follows 5.5.1 (or its main branch where
	// 5.5.1 crashes).
	Version Kind = "version"
	// ReferenceBug: every simplejwt release, main included, crashes (HTML
	// 500); jwtpair answers what simplejwt's own checks say elsewhere.
	ReferenceBug Kind = "reference-bug"
)

// Pending is a part of issue 12 not built yet, and the scenarios that
// differ from simplejwt until it is. The test reports them (loudly), and
// fails when an entry no longer matches a differing scenario: then the
// work is done, and the entry must go.
type Pending struct {
	Section   string // "issue 12 §3"
	Scenarios string // regexp over scenario ids
	What      string // what is missing
}

// PendingWork is every Pending part.
var PendingWork = []Pending{}

// Answer is a replacement answer: its status, its JSON body (sent as
// application/json), and the compared headers it sets ("" removes one).
// Headers it does not name keep the reference's values.
type Answer struct {
	Status int
	Body   string
	Header map[string]string
}

// invalidAccess is simplejwt 5.5.1's answer on a protected route to a token
// that fails verification.
const invalidAccess = `{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is invalid"}]}`

// realm is simplejwt's challenge on every 401.
var realm = map[string]string{"WWW-Authenticate": `Bearer realm="api"`}

// Documented is the list of every difference the differential test accepts.
// Anything else fails it.
var Documented = []Difference{
	// Deliberate improvements (DESIGN.md §3 and §4; README "Differences from simplejwt").
	{
		ID: "cache-control", Kind: Deliberate,
		Aspect: `^header Cache-Control$`, Simplejwt: `^\(absent\)$`, Jwtpair: `^no-store$`,
		What: "jwtpair's answers carry Cache-Control: no-store; simplejwt's carry none.",
		Why:  "Answers that carry or refuse credentials must not be cached (RFC 6749 §5.1); DESIGN.md §3.",
	},
	{
		ID: "rfc6750-error", Kind: Deliberate,
		// No token presented (no credentials, another scheme, a login):
		// RFC 6750 §3.1 wants no error code, so the entry does not cover them.
		NotScenarios: `^(hello/nocred-|obtain/|sliding/obtain)`,
		Aspect:       `^header WWW-Authenticate$`, Simplejwt: `^Bearer realm="api"$`,
		Jwtpair: `^Bearer realm="api", error="(invalid_token|invalid_request)"(, error_description="[^"]*")?$`,
		What:    `A 401 for a presented token adds RFC 6750's error="invalid_token" (error="invalid_request" for a malformed header) to simplejwt's Bearer realm="api".`,
		Why:     "RFC 6750 §3.1; clients that read only the realm see no change. DESIGN.md §3.",
	},
	{
		ID: "hello-user-id-string", Kind: Deliberate,
		Aspect: `^body\.user_id$`, Simplejwt: `^[0-9]+$`, Jwtpair: `^"$S"$`,
		What: `/hello/ answers "user_id":"1" where the Django view answers 1.`,
		Why:  "The example's view writes jwtpair's user id, a string (DESIGN.md §8); the Django view writes request.user.id, the integer primary key.",
	},
	{
		ID: "sid-claim", Kind: Deliberate,
		Aspect: `^body\.(access|refresh|token)\.claims\.(sid|auth_time)$`, Simplejwt: `^(\(absent\)|hex\(32\)|time\(.*\))$`, Jwtpair: `^(\(absent\)|hex\(32\)|string\([0-9]+\)|time\(.*\))$`,
		What: "jwtpair's tokens, access, refresh and sliding, carry the login session: sid (its id) and auth_time (the login's time); simplejwt's have neither, and copies both, as every claim of a refresh token it refreshes (or of a sliding token), into the token it mints.",
		Why:  "Sessions: one sid per login, carried by every token of it, so that ending a session reaches its access tokens (DESIGN.md §4, §10; OpenID Connect's claim names). Unknown claims are ignored by simplejwt and frontends.",
	},
	{
		ID: "logout-ends-access", Kind: Deliberate,
		Scenarios: `^flow/hello-after-blacklist$`, Step: "hello",
		Want: &Answer{Status: 401, Body: `{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is blacklisted"}]}`, Header: realm},
		What: "After a logout, the session's access token is refused (401, Token is blacklisted) by every instance within a second; simplejwt accepts it until it expires.",
		Why:  "Sessions (DESIGN.md §10): logout reaches access tokens, with no I/O per request (each instance follows its store's revocation feed).",
	},
	{
		ID: "sliding-logout", Kind: Deliberate,
		Scenarios: `^sliding/logout$`, Step: "logout",
		Want: &Answer{Status: 200, Body: `{}`, Header: map[string]string{"Allow": "POST, OPTIONS"}},
		What: "jwtpair serves a logout for sliding tokens (POST {\"token\"} to /api/token/sliding/blacklist/ in the example: 200 {}, shaped as the blacklist endpoint); simplejwt has no such view (404), only SlidingToken.blacklist() in code.",
		Why:  "A sliding login is a session (DESIGN.md §4, §10): a client must be able to end it. The path is the application's choice; no simplejwt frontend calls it.",
	},
	{
		ID: "sliding-logout-ends-session", Kind: Deliberate,
		Scenarios: `^sliding/logout$`, Step: "refresh after logout",
		Want: &Answer{Status: 401, Body: `{"detail":"Token is blacklisted","code":"token_not_valid"}`, Header: realm},
		What: "After that logout the sliding token is refused: its refresh with simplejwt's blacklisted answer (401 Token is blacklisted), and within a second on every instance, by the middleware.",
		Why:  "As simplejwt refuses a blacklisted sliding token (BlacklistMixin.check_blacklist); the logout ends the token's session, which every instance learns from its store's revocation feed.",
	},
	{
		ID: "no-browsable-api", Kind: Deliberate,
		Scenarios: `/method-options$`, Aspect: `^body\.renders(\[1\])?$`, Simplejwt: `^(array\(2\)|"text/html")$`, Jwtpair: `^(array\(1\)|\(absent\))$`,
		What: `OPTIONS metadata lists "renders": ["application/json"]; DRF's lists "text/html" too.`,
		Why:  "DRF renders its browsable API as text/html; jwtpair answers JSON only and does not claim otherwise. Frontends read neither.",
	},
	{
		ID: "strict-token-rules", Kind: Deliberate,
		Scenarios: `^token/(aud|typ-at-jwt|header-kid|duplicate-claims|user-id-null)$`, Step: "hello",
		Want: &Answer{Status: 401, Body: invalidAccess, Header: realm},
		What: "Tokens PyJWT and simplejwt accept are refused: an aud claim when no audience is configured, a typ other than JWT, a kid where the keys have none, a claim given twice, a user_id that is neither a string nor an integer (null).",
		Why:  "Stricter verification a frontend cannot meet: neither server mints such tokens. An aud meant for another service, a typ of another kind of token (RFC 8725 §3.11), a kid naming a key this server does not have, and duplicate names (read differently by different parsers, RFC 8259 §4) are refused rather than guessed at (DESIGN.md §4; SECURITY.md).",
	},
	{
		ID: "typed-verify", Kind: Deliberate,
		Scenarios: `^verify/handmade-no-type$`, Step: "post",
		Want: &Answer{Status: 401, Body: `{"detail":"Token has no type","code":"token_not_valid"}`, Header: realm},
		What: `The verify endpoint refuses a token without token_type ("Token has no type"); simplejwt's verifies an UntypedToken and answers 200.`,
		Why:  "A token this server would accept nowhere is not valid: verify tells a client whether to use it. Neither server mints such tokens.",
	},
	{
		ID: "verify-unknown-type", Kind: Deliberate,
		Scenarios: `^verify/handmade-type-unknown$`, Step: "post",
		Want: &Answer{Status: 401, Body: `{"detail":"Token has wrong type","code":"token_not_valid"}`, Header: realm},
		What: `The verify endpoint refuses a token whose token_type is neither access nor refresh ("Token has wrong type"); simplejwt's answers 200.`,
		Why:  "As typed-verify: no endpoint or route of this server accepts it.",
	},
	{
		ID: "user-id-required", Kind: Deliberate,
		Scenarios: `^(verify|refresh)/handmade-no-user-id$`, Step: "post",
		Want: &Answer{Status: 401, Body: `{"detail":"Token contained no recognizable user identification","code":"token_not_valid"}`, Header: realm},
		What: "A token without user_id is refused by every endpoint, with simplejwt's own message for it; simplejwt's verify endpoint accepts it, and its refresh endpoint mints an access token without user_id from it.",
		Why:  "simplejwt's authentication refuses such an access token on every protected route (the same message); jwtpair refuses it where it is presented, rather than minting tokens no route accepts.",
	},
	{
		ID: "router-not-found", Kind: Deliberate,
		Scenarios: `^path/`, Aspect: `^(body|header Content-Type)$`, Simplejwt: `^(text: <!doctype html>.*|text/html)$`, Jwtpair: `^(text: 404 page not found|text/plain; charset=utf-8)$`,
		What: `A path no route matches gets the router's 404 page: Go's ServeMux answers text/plain "404 page not found", Django an HTML page.`,
		Why:  "The application's router answers, not jwtpair: the status is the same, and no frontend reads a 404 page. The routes are exact paths in both (\"/api/token/{$}\"), so /api/token/anything/ is 404 in both.",
	},
	{
		ID: "router-trailing-slash", Kind: Deliberate,
		Scenarios: `^path/(obtain|hello)-no-slash$`, Aspect: `^(status|header Content-Type|body)$`,
		Simplejwt: `^(301|text/html; charset=utf-8|\(empty\))$`, Jwtpair: `^(307|\(absent\)|text/html; charset=utf-8|text: <a href="/[a-z/]+">Temporary Redirect</a>\.)$`,
		What: "A route's path without its trailing slash is redirected to it with 307 (Go's ServeMux) where Django's APPEND_SLASH answers 301, with another body.",
		Why:  "The application's router answers, not jwtpair. A 307 keeps the method and body, so a login POSTed to /api/token still logs in; after Django's 301 a browser sends a GET (405).",
	},
	{
		ID: "router-clean-path", Kind: Deliberate,
		Scenarios: `^path/obtain-(double-slash|dot-segment)$`, Aspect: `^(status|header Content-Type|header Location|body)$`,
		Simplejwt: `^(404|text/html|\(absent\)|text: <!doctype html>.*)$`, Jwtpair: `^(307|\(absent\)|/api/token/|\(empty\))$`,
		What: "A path with an empty or dot segment (/api/token//, /api/token/refresh/../) is redirected (307) to its clean form by Go's ServeMux; Django answers 404.",
		Why:  "The application's router answers, not jwtpair; the clean path is the route the client meant.",
	},
	{
		ID: "reuse-detection", Kind: Deliberate,
		Scenarios: `^flow/(reuse|logout-rotated)-revokes-successor$`, Step: "refresh successor",
		Want: &Answer{Status: 401, Body: `{"detail":"Token is blacklisted","code":"token_not_valid"}`, Header: realm},
		What: "After a rotated refresh token is presented again (refresh or logout), its successor is refused too; simplejwt keeps honouring the successor.",
		Why:  "Refresh-token reuse detection with family revocation (RFC 9700 §4.14.2; DESIGN.md §3, §6): a replayed token means it was stolen, so the whole session ends.",
	},
	{
		ID: "header-allowlist", Kind: Deliberate,
		Scenarios: `^token/header-(jku|x5u|jwk|x5c|crit|b64|zip|custom)$`, Step: "hello",
		Want: &Answer{Status: 401, Body: invalidAccess, Header: realm},
		What: "Tokens whose JOSE header has members other than alg, typ and kid (jku, x5u, jwk, x5c, crit, b64, zip, custom ones) are refused; PyJWT ignores them and simplejwt accepts the token.",
		Why:  "Key-injection and critical-extension headers must never be honoured silently (RFC 7515 §4.1.11); DESIGN.md §3, §4. (PyJWT 2.12.0, newer than Debian's 2.6, refuses an unsupported crit too: GHSA-752w-5fwx-jx9f.)",
	},
	{
		ID: "scheme-case", Kind: Deliberate,
		Scenarios: `^hello/scheme-(lowercase|uppercase)$`, Step: "hello",
		Want: &Answer{Status: 200, Body: `{"message":"Hello, World!","user_id":1}`, Header: map[string]string{"WWW-Authenticate": ""}},
		What: `"bearer TOKEN" and "BEARER TOKEN" authenticate; simplejwt compares the scheme case-sensitively and answers "credentials were not provided".`,
		Why:  "RFC 7235 §2.1: the auth scheme is case-insensitive; DESIGN.md §3.",
	},
	{
		ID: "body-limit", Kind: Deliberate,
		Scenarios: `/oversize-body$`, Step: "post",
		Want: &Answer{Status: 413, Body: `{"detail":"Request body too large."}`, Header: map[string]string{"WWW-Authenticate": ""}},
		What: "A body over 64 KiB is refused with 413 before it is parsed (one whose Content-Length says so is discarded, up to 256 KiB, so that the client reads the answer); Django reads it and answers the request.",
		Why:  "Bounded work per request (DESIGN.md §3). The body keeps DRF's error shape, {\"detail\"}.",
	},
	{
		ID: "token-limit", Kind: Deliberate,
		Scenarios: `^token/oversize$`, Step: "hello",
		Want: &Answer{Status: 401, Body: invalidAccess, Header: realm},
		What: "A token over 8 KiB is refused before it is parsed, even when validly signed; simplejwt accepts it.",
		Why:  "Garbage and oversized tokens are rejected before any parsing (DESIGN.md §3, §9).",
	},

	// Debian's 5.2.2 against upstream's 5.5.1: jwtpair answers as 5.5.1.
	{
		ID: "token-invalid-message", Kind: Version, NotScenarios: `expired`,
		Aspect: `^body\.(detail|messages\[[0-9]+\]\.message)$`, Simplejwt: `^"Token is invalid or expired"$`, Jwtpair: `^"Token is invalid"$`,
		What:     `"Token is invalid or expired" is "Token is invalid" for a token that is not expired.`,
		Why:      "5.5.0 tells an expired token from an invalid one.",
		Upstream: `5.5.0, "Add specific 'token expired' exceptions" (jazzband/djangorestframework-simplejwt#830): TokenBackendExpiredToken / ExpiredTokenError, messages "Token is invalid" and "Token is expired".`,
	},
	{
		ID: "token-expired-message", Kind: Version, Scenarios: `expired`,
		Aspect: `^body\.(detail|messages\[[0-9]+\]\.message)$`, Simplejwt: `^"Token is invalid or expired"$`, Jwtpair: `^"Token is expired"$`,
		What:     `"Token is invalid or expired" is "Token is expired" for a token whose exp has passed.`,
		Why:      "5.5.0 tells an expired token from an invalid one.",
		Upstream: `5.5.0, "Add specific 'token expired' exceptions" (#830).`,
	},
	{
		ID: "user-id-claim-string", Kind: Version,
		Aspect: `^body\.(access|refresh|token)\.claims\.user_id$`, Simplejwt: `^[0-9]+$`, Jwtpair: `^"$S"$`,
		What:     `Tokens carry "user_id":"1" where 5.2.2 mints an integer primary key as 1.`,
		Why:      "5.5.1 always mints user_id as a string; jwtpair accepts both on the way in.",
		Upstream: `5.5.1, "fix: always stringify user_id claim" (#887, #897): Token.for_user does user_id = str(user_id).`,
	},
	{
		ID: "refreshed-access-iat", Kind: Version,
		Aspect: `^body\.access\.claims\.iat$`, Simplejwt: `^time\(now-`, Jwtpair: `^time\(now\)$`,
		What:     "The access token a refresh returns has a fresh iat; 5.2.2 copies the refresh token's.",
		Why:      "An access token is issued when it is minted.",
		Upstream: `5.5.1, "fix: Do not copy iat claim from refresh token" (#888): "iat" joined RefreshToken.no_copy_claims.`,
	},
	{
		ID: "jti-string", Kind: Version,
		Scenarios: `^token/jti-number$`, Step: "hello",
		Want:     &Answer{Status: 401, Body: invalidAccess, Header: realm},
		What:     "A token whose jti is not a string is refused; with Debian's PyJWT 2.6, simplejwt accepts it.",
		Why:      "simplejwt 5.5.1 runs on the newest PyJWT, which requires a string jti.",
		Upstream: `5.5.1 lifts the PyJWT<2.10 cap that 5.5.0 added (#843), in the change that stringifies user_id (#887); PyJWT 2.10.0 validates that jti is a string ("Added validation for 'sub' and 'jti' claims", jpadilla/pyjwt#1005).`,
	},
	{
		ID: "refresh-inactive-user", Kind: Version,
		Scenarios: `^refresh/handmade-inactive-user$`, Step: "post",
		Want:     &Answer{Status: 401, Body: `{"detail":"No active account found for the given token."}`, Header: realm},
		What:     "A refresh for an inactive user is refused (401, no code key); 5.2.2 refreshes it.",
		Why:      "An account that cannot log in must not keep a session.",
		Upstream: `5.4.0, "Fix: Disable refresh token for inactive user" (#814): TokenRefreshSerializer checks USER_AUTHENTICATION_RULE and raises rest_framework's AuthenticationFailed("No active account found for the given token.").`,
	},
	{
		ID: "refresh-deleted-user", Kind: Version,
		Scenarios: `^refresh/handmade-deleted-user$`, Step: "post",
		Want:     &Answer{Status: 401, Body: `{"detail":"No active account found for the given token."}`, Header: realm},
		What:     "A refresh for a user that does not exist is refused as for an inactive one; 5.2.2 refreshes it, 5.5.1 crashes (User.DoesNotExist, HTML 500).",
		Why:      "Follows upstream's main branch, where 5.5.1 has a bug.",
		Upstream: `main after 5.5.1, "fix: Avoid DoesNotExist exception in TokenRefreshSerializer" (#861).`,
	},

	// Where every simplejwt release crashes.
	{
		ID: "json-recursion", Kind: ReferenceBug,
		Scenarios: `^obtain/json-deep$`, Step: "post",
		Want: &Answer{Status: 400, Body: `{"detail":"JSON parse error - maximum recursion depth exceeded while decoding a JSON array from a unicode string"}`,
			Header: map[string]string{"Allow": "POST, OPTIONS"}},
		What: "A JSON body nested deeper than Python's recursion limit allows is refused with Python's message for it, as a parse error; DRF does not catch the RecursionError, and Django answers an HTML 500.",
		Why:  "Error paths answer a documented status and JSON, never a 500. Every document Python decodes, jwtpair decodes (the bound stands where Debian's stack hits the limit).",
	},
	{
		ID: "refresh-without-jti", Kind: ReferenceBug,
		Scenarios: `^(refresh|blacklist)/handmade-no-jti$`, Step: "post",
		Want: &Answer{Status: 401, Body: `{"detail":"Token has no id","code":"token_not_valid"}`,
			Header: map[string]string{"WWW-Authenticate": `Bearer realm="api"`, "Allow": "POST, OPTIONS"}},
		What: "A signed refresh token without jti is refused with simplejwt's own message for it; simplejwt crashes (KeyError in BlacklistMixin.check_blacklist, HTML 500) in 5.2.2, 5.5.1 and main.",
		Why:  "Error paths answer a documented status and JSON, never a 500. Token.verify's \"Token has no id\" is what simplejwt says of such a token where it does not crash (an access token).",
	},
}
