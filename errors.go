package jwtpair

import (
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/jwtpair/jwtpair/internal/drf"
)

// Sentinel errors. Functions of this package return them wrapped with %w;
// test with errors.Is. Each is answered in one way, by [WriteError] (see
// [ResponseFor]): the status and body named here. Every 401 carries
// WWW-Authenticate: Bearer realm="api", with RFC 6750's error= when a token
// was presented.
var (
	// ErrNoCredentials is returned by [Auth.Check] (and answered by the
	// middleware) when the request carries no credentials of an accepted
	// scheme: no header, another scheme, and in cookie mode no access
	// cookie either. 401 {"detail":"Authentication credentials were not
	// provided."} (DRF's NotAuthenticated, without a code);
	// [Auth.OptionalMiddleware] lets such a request through anonymously.
	ErrNoCredentials = errors.New("jwtpair: authentication credentials were not provided")
	// ErrBadAuthorizationHeader is returned by [Auth.Check] when an accepted
	// scheme is not followed by exactly one token (or the header is sent
	// twice). 401 bad_authorization_header, error="invalid_request".
	ErrBadAuthorizationHeader = errors.New("jwtpair: authorization header must contain two space-delimited values")
	// ErrTokenInvalid is returned when a token is malformed, too long,
	// badly signed, signed by an unknown or retired key, or fails a claim
	// check (nbf, iat, iss, aud, a missing claim). 401 token_not_valid,
	// "Token is invalid"; a token missing a claim simplejwt requires gets
	// simplejwt's message for it ("Token has no 'exp' claim", "Token has no
	// id", "Token has no type", "Token contained no recognizable user
	// identification", and at the sliding refresh "Token has no
	// 'refresh_exp' claim").
	ErrTokenInvalid = errors.New("jwtpair: token is invalid")
	// ErrTokenExpired is returned when a token's exp (plus the leeway) has
	// passed. 401 token_not_valid, "Token is expired"; at the sliding
	// refresh, a token whose refresh_exp has passed gets "Token
	// 'refresh_exp' claim has expired".
	ErrTokenExpired = errors.New("jwtpair: token is expired")
	// ErrTokenWrongType is returned when an access token is presented
	// where a refresh token is expected, or the reverse; and a sliding
	// token where it is not accepted (anywhere without WithSlidingTokens;
	// where a refresh token is expected; behind [Auth.AccessMiddleware]),
	// or another token where a sliding one is. 401 token_not_valid, "Token
	// has wrong type".
	ErrTokenWrongType = errors.New("jwtpair: token has wrong type")
	// ErrTokenBlacklisted is returned when a token's session has ended
	// (logout, reuse detection, an end by the user or an admin, the
	// per-user cap), for access tokens as soon as the revoked set knows
	// it; for a refresh token also when a rotation consumed it; and when
	// the user's stamp changed since the token was issued (refresh, and
	// [WithUserCheck]). 401 token_not_valid, "Token is blacklisted".
	ErrTokenBlacklisted = errors.New("jwtpair: token is blacklisted")
	// ErrTokenReused is returned by refresh when a consumed refresh token
	// is presented after the grace window, or more often than
	// [MaxGraceReplays] within it; its session has been ended.
	// Answered as blacklisted: 401 token_not_valid, "Token is blacklisted".
	ErrTokenReused = errors.New("jwtpair: refresh token reuse detected")
	// ErrTokenNotFound is returned when the store has no record of a
	// validly signed refresh token (never issued here, or forgotten after
	// its expiry). Answered as invalid: 401 token_not_valid, "Token is
	// invalid".
	ErrTokenNotFound = errors.New("jwtpair: token not found")
	// ErrInvalidCredentials is what an Authenticator returns, wrapped, for
	// an unknown user, a wrong password or an inactive account; the obtain
	// endpoint answers all three alike: 401 {"detail":"No active account
	// found with the given credentials"}.
	ErrInvalidCredentials = errors.New("jwtpair: no active account found with the given credentials")
	// ErrUserInactive is what a UserLoader returns, wrapped, for an
	// inactive user (and may return for a deleted one). Refresh then
	// answers 401 {"detail":"No active account found for the given
	// token."}; the middleware with [WithUserCheck] answers 401 user_inactive,
	// "User is inactive".
	ErrUserInactive = errors.New("jwtpair: no active account found for the given token")
	// ErrUserNotFound is what a UserLoader returns, wrapped, for a user
	// that no longer exists. Refresh answers it as ErrUserInactive; the
	// middleware with [WithUserCheck] answers 401 user_not_found, "User not
	// found".
	ErrUserNotFound = errors.New("jwtpair: user not found")
	// ErrVerifyOnly is returned when an Auth made with [WithJWKSURL], which
	// only verifies, is asked to issue tokens (obtain and refresh,
	// [Auth.IssuePair], [Auth.Refresh]). 500 server_error: a mounting
	// mistake.
	ErrVerifyOnly = errors.New("jwtpair: this Auth only verifies tokens (WithJWKSURL); it cannot issue them")
	// ErrStoreUnavailable is returned, wrapping the cause, when the store,
	// the Authenticator or the UserLoader fails, when a store call runs past
	// its deadline ([WithStoreTimeout]), and by the middleware
	// while the revoked set is stale ([WithRevocationStaleness]). 503
	// service_unavailable, logged; never treated as success.
	ErrStoreUnavailable = errors.New("jwtpair: store unavailable")
	// ErrCSRF is matched by the errors of cookie mode's CSRF checks: an
	// unsafe request authenticated by a cookie without a valid CSRF token,
	// or one the browser reports as cross-origin. 403 csrf_failed, with
	// DRF's reason: "CSRF token missing.", "CSRF token incorrect.", "CSRF
	// cookie not set.", "Origin checking failed.".
	ErrCSRF = errors.New("jwtpair: CSRF check failed")
)

// Errors of authorization and throttling (authz.go, throttle.go).
var (
	// ErrPermissionDenied is what [Auth.Require] answers a request whose
	// verified claims its predicate refuses. 403, DRF's PermissionDenied
	// body: {"detail":"You do not have permission to perform this action."}.
	ErrPermissionDenied = errors.New("jwtpair: you do not have permission to perform this action")
	// ErrThrottled is matched by a [*ThrottledError]: a login or refresh
	// refused by a throttle ([WithThrottle]). 429 with Retry-After and
	// DRF's Throttled body: {"detail":"Request was throttled. Expected
	// available in N seconds."}; bare, without a wait, {"detail":"Request
	// was throttled."}. Logged as a warning.
	ErrThrottled = errors.New("jwtpair: request was throttled")
	// ErrClaimMissing is returned by [Claim] for a custom claim the token
	// does not carry. (Not an answer of the handlers: passed to
	// WriteError, it gets 500.)
	ErrClaimMissing = errors.New("jwtpair: claim missing")
)

// Request errors of the token endpoints, answered with DRF's bodies: a
// "detail" and no "code". The errors the endpoints return carry the
// detail (the method, the Content-Type, the parser's message); a bare
// sentinel gets a generic one.
var (
	// ErrMethodNotAllowed: a token endpoint got a method other than POST
	// or OPTIONS. 405 {"detail":"Method \"GET\" not allowed."}.
	ErrMethodNotAllowed = errors.New("jwtpair: method not allowed")
	// ErrUnsupportedMediaType: a body that is neither JSON, nor a
	// urlencoded form, nor multipart/form-data. 415 {"detail":"Unsupported
	// media type \"text/plain\" in request."}.
	ErrUnsupportedMediaType = errors.New("jwtpair: unsupported media type")
	// ErrBodyTooLarge: a body over the limit of WithMaxBodyBytes. 413
	// {"detail":"Request body too large."}.
	ErrBodyTooLarge = errors.New("jwtpair: request body too large")
	// ErrMalformedBody: a body its parser refuses. 400 with DRF's parse
	// error, {"detail":"JSON parse error - Expecting value: line 1 column
	// 12 (char 11)"}.
	ErrMalformedBody = errors.New("jwtpair: malformed request body")
)

// Errors of the session endpoints (sessions.go).
var (
	// ErrSessionNotFound: [Auth.EndSessionHandler] was asked to end a
	// session that is not one of the signed-in user's live sessions,
	// unknown or another user's alike. 404 {"detail":"Not found."}, DRF's
	// answer.
	ErrSessionNotFound = errors.New("jwtpair: session not found")
	// ErrNoSession: [Auth.EndOtherSessionsHandler] got a token that names
	// no session (no sid: minted by simplejwt), so there is none to keep.
	// 403 no_session.
	ErrNoSession = errors.New("jwtpair: the token names no session")
)

// requestError is a request error with its detail: a sentinel above, and
// the text DRF answers for it.
type requestError struct {
	err    error
	detail string
}

func (e *requestError) Error() string { return e.err.Error() + ": " + e.detail }
func (e *requestError) Unwrap() error { return e.err }

// methodNotAllowed is the refusal of method, in DRF's words.
func methodNotAllowed(method string) error {
	return &requestError{ErrMethodNotAllowed, `Method "` + method + `" not allowed.`}
}

// readError tells a body over the limit from one that could not be read.
func readError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return ErrBodyTooLarge
	}
	return &requestError{ErrMalformedBody, "Malformed request body."}
}

// bodyVerdict is the request error for internal/drf's refusal of a body.
func bodyVerdict(err error) error {
	var ume *drf.UnsupportedMediaTypeError
	var pe *drf.ParseError
	var nae *drf.NotAnObjectError
	switch {
	case errors.As(err, &ume):
		return &requestError{ErrUnsupportedMediaType, ume.Error()}
	case errors.As(err, &pe):
		return &requestError{ErrMalformedBody, pe.Detail}
	case errors.As(err, &nae):
		return nonFieldError(nae.Message, ErrMalformedBody)
	}
	return &requestError{ErrMalformedBody, "Malformed request body."}
}

// verifyVerdict is the verify endpoint's error for Auth.Verify's: a
// blacklisted (or rotated) refresh token is a validation error there, as
// simplejwt's TokenVerifySerializer raises it.
func verifyVerdict(err error) error {
	if errors.Is(err, ErrTokenBlacklisted) {
		return nonFieldError(msgTokenBlacklisted, err)
	}
	return err
}

// FieldError reports request fields that fail validation (400), in DRF's
// shape: {"password":["This field may not be blank."]}, or
// {"non_field_errors":["…"]} for what concerns no one field. A custom error
// handler ([WithErrorHandler]) gets it as it is, to answer in its own
// shape.
type FieldError struct {
	Fields map[string][]string

	cause error // what the fields say, when it is a verdict (the verify endpoint's blacklisted token)
}

func (e *FieldError) Error() string {
	names := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		names = append(names, k)
	}
	sort.Strings(names)
	return "jwtpair: invalid fields: " + strings.Join(names, ", ")
}

// Unwrap returns the verdict the fields report, if any.
func (e *FieldError) Unwrap() error { return e.cause }

// nonFieldError is DRF's serializer error that concerns no one field.
func nonFieldError(msg string, cause error) *FieldError {
	return &FieldError{Fields: map[string][]string{"non_field_errors": {msg}}, cause: cause}
}

// tokenError is what the middleware reports when the token a request
// presented fails verification. err is ErrTokenInvalid (or a claimError),
// ErrTokenExpired, ErrTokenWrongType or ErrTokenBlacklisted. It is
// answered with simplejwt's authentication-class body ("Given token not
// valid for any token type"), where the token endpoints answer the bare
// message: one message per token class the route accepts (route; 0 is
// access tokens only), each the verdict, except that a verdict reached
// once the token's type matched one class (kind: a blacklisted sliding
// token) is "Token has wrong type" for the other.
type tokenError struct {
	err         error
	route, kind tokenKind
}

func (e *tokenError) Error() string { return e.err.Error() }
func (e *tokenError) Unwrap() error { return e.err }

// claimError is the verdict on a token, valid otherwise, that lacks a
// claim simplejwt requires, or whose refresh_exp has passed: simplejwt's
// message for it. It matches ErrTokenInvalid, or, expired, ErrTokenExpired.
type claimError struct {
	msg     string
	expired bool
}

func (e *claimError) Error() string { return "jwtpair: " + strings.ToLower(e.msg[:1]) + e.msg[1:] }
func (e *claimError) Is(target error) bool {
	return target == ErrTokenInvalid && !e.expired || target == ErrTokenExpired && e.expired
}

// The missing-claim verdicts, in the order simplejwt checks them
// (Token.verify, then JWTAuthentication.get_user for the user id).
var (
	errNoExp    = &claimError{msg: "Token has no 'exp' claim"}
	errNoJTI    = &claimError{msg: "Token has no id"}
	errNoType   = &claimError{msg: "Token has no type"}
	errNoUserID = &claimError{msg: msgNoUserID}

	// The sliding refresh's (TokenRefreshSlidingSerializer's check_exp of
	// refresh_exp).
	errNoRefreshExp      = &claimError{msg: "Token has no 'refresh_exp' claim"}
	errRefreshExpExpired = &claimError{msg: "Token 'refresh_exp' claim has expired", expired: true}
)

// userCheckError is the middleware's verdict, with [WithUserCheck], on the
// user a valid token names: err is ErrUserNotFound, ErrUserInactive or
// errStampMismatch. It is answered as simplejwt's JWTAuthentication.get_user
// refuses.
type userCheckError struct{ err error }

func (e *userCheckError) Error() string { return e.err.Error() }
func (e *userCheckError) Unwrap() error { return e.err }

// csrfError is a CSRF refusal with the reason given to the client, DRF's
// wording. It matches ErrCSRF.
type csrfError struct{ reason string }

func (e *csrfError) Error() string        { return "jwtpair: CSRF failed: " + e.reason }
func (e *csrfError) Is(target error) bool { return target == ErrCSRF }

// The CSRF refusals (csrf.go).
var (
	errCSRFOrigin    = &csrfError{"Origin checking failed."}
	errCSRFNoCookie  = &csrfError{"CSRF cookie not set."}
	errCSRFMissing   = &csrfError{"CSRF token missing."}
	errCSRFIncorrect = &csrfError{"CSRF token incorrect."}
)

// problem is the JSON body of an error response: DRF's {"detail"}, with
// simplejwt's "code" (and "messages") where simplejwt sends them.
type problem struct {
	Detail   string           `json:"detail"`
	Code     string           `json:"code,omitempty"`
	Messages []problemMessage `json:"messages,omitempty"`
}

// problemMessage is one entry of problem.Messages (simplejwt's shape).
type problemMessage struct {
	TokenClass string `json:"token_class"`
	TokenType  string `json:"token_type"`
	Message    string `json:"message"`
}

// The client-facing texts of token verdicts, simplejwt's.
const (
	msgTokenInvalid     = "Token is invalid"
	msgTokenExpired     = "Token is expired"
	msgTokenWrongType   = "Token has wrong type"
	msgTokenBlacklisted = "Token is blacklisted"
	msgNoUserID         = "Token contained no recognizable user identification"
)

// tokenMessage is the client-facing text for a token verdict.
func tokenMessage(err error) string {
	if ce, ok := err.(*claimError); ok { // as verify returns it: no allocation
		return ce.msg
	}
	var ce *claimError
	switch {
	case errors.Is(err, ErrTokenExpired):
		return msgTokenExpired
	case errors.Is(err, ErrTokenWrongType):
		return msgTokenWrongType
	case errors.Is(err, ErrTokenBlacklisted), errors.Is(err, ErrTokenReused):
		return msgTokenBlacklisted
	case errors.As(err, &ce):
		return ce.msg
	}
	return msgTokenInvalid
}

// isTokenVerdict reports whether err is a verdict on a presented token.
func isTokenVerdict(err error) bool {
	for _, s := range []error{ErrTokenInvalid, ErrTokenExpired, ErrTokenWrongType, ErrTokenBlacklisted, ErrTokenReused, ErrTokenNotFound} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// Response is how [WriteError] answers an error: status, JSON body, the
// WWW-Authenticate challenge of a 401 (empty otherwise), and any further
// headers.
type Response struct {
	Status    int
	Body      []byte
	Challenge string
	Header    http.Header // further headers (the Retry-After of a 429); nil for none
}

const realm = `Bearer realm="api"`

// invalidToken is the RFC 6750 challenge for a presented token that failed.
func invalidToken(desc string) string {
	return realm + `, error="invalid_token", error_description="` + desc + `"`
}

func newResponse(status int, p problem, challenge string) *Response {
	b, err := json.Marshal(p)
	if err != nil {
		panic(err) // our own constant types; cannot happen
	}
	return &Response{Status: status, Body: append(b, '\n'), Challenge: challenge}
}

// Every fixed answer, built once. Where DRF raises its own exceptions
// (NotAuthenticated, MethodNotAllowed, UnsupportedMediaType, ParseError,
// rest_framework's AuthenticationFailed in the obtain and refresh
// serializers) the body is {"detail"} alone; simplejwt's own exceptions add
// a "code".
var (
	respUnavailable = newResponse(http.StatusServiceUnavailable, problem{Detail: "Service temporarily unavailable, try again later.", Code: "service_unavailable"}, "")
	respNoCreds     = newResponse(http.StatusUnauthorized, problem{Detail: "Authentication credentials were not provided."}, realm)
	respBadHeader   = newResponse(http.StatusUnauthorized, problem{Detail: "Authorization header must contain two space-delimited values", Code: "bad_authorization_header"},
		realm+`, error="invalid_request"`)
	respBadCreds    = newResponse(http.StatusUnauthorized, problem{Detail: "No active account found with the given credentials"}, realm)
	respInactive    = newResponse(http.StatusUnauthorized, problem{Detail: "No active account found for the given token."}, invalidToken("No active account found for the given token."))
	respMethod      = newResponse(http.StatusMethodNotAllowed, problem{Detail: "Method not allowed."}, "")
	respMediaType   = newResponse(http.StatusUnsupportedMediaType, problem{Detail: "Unsupported media type in request."}, "")
	respTooLarge    = newResponse(http.StatusRequestEntityTooLarge, problem{Detail: "Request body too large."}, "")
	respMalformed   = newResponse(http.StatusBadRequest, problem{Detail: "Malformed request body."}, "")
	respServerError = newResponse(http.StatusInternalServerError, problem{Detail: "A server error occurred.", Code: "server_error"}, "")

	// The middleware's answers with WithUserCheck (simplejwt's
	// JWTAuthentication.get_user).
	respUserNotFound    = newResponse(http.StatusUnauthorized, problem{Detail: "User not found", Code: "user_not_found"}, invalidToken("User not found"))
	respUserInactive    = newResponse(http.StatusUnauthorized, problem{Detail: "User is inactive", Code: "user_inactive"}, invalidToken("User is inactive"))
	respPasswordChanged = newResponse(http.StatusUnauthorized, problem{Detail: "The user's password has been changed.", Code: "password_changed"}, invalidToken("The user's password has been changed."))

	respNotFound  = newResponse(http.StatusNotFound, problem{Detail: "Not found."}, "")
	respNoSession = newResponse(http.StatusForbidden, problem{Detail: "This token belongs to no session; sign in again.", Code: "no_session"}, "")

	// respNoPublicKeys is Auth.JWKSHandler's answer when there is no public
	// key to publish (HMAC keys, or an Auth that only verifies).
	respNoPublicKeys = newResponse(http.StatusNotFound, problem{Detail: "No public keys: this server signs no tokens with a key pair.", Code: "not_found"}, "")

	// The answers to token verdicts, by message: the middleware's
	// (simplejwt's authentication class) and the token endpoints'.
	middlewareTokenResponses = map[string]*Response{}
	endpointTokenResponses   = map[string]*Response{}
	// slidingRouteResponses are the middleware's answers on a route that
	// accepts sliding tokens too: a message per token class.
	slidingRouteResponses = map[slidingVerdict]*Response{}

	// csrfResponses are the 403 answers, by reason; "" is for a bare ErrCSRF.
	csrfResponses = map[string]*Response{}
)

func init() {
	for _, msg := range []string{msgTokenInvalid, msgTokenExpired, msgTokenWrongType, msgTokenBlacklisted, errNoExp.msg, errNoJTI.msg, errNoType.msg, msgNoUserID,
		errNoRefreshExp.msg, errRefreshExpExpired.msg} {
		endpointTokenResponses[msg] = newResponse(http.StatusUnauthorized, problem{Detail: msg, Code: "token_not_valid"}, invalidToken(msg))
		if msg == msgNoUserID { // JWTAuthentication.get_user, after the token verified: the bare message
			middlewareTokenResponses[msg] = endpointTokenResponses[msg]
			for _, k := range []tokenKind{0, kindAccess, kindSliding} {
				slidingRouteResponses[slidingVerdict{msg, k}] = endpointTokenResponses[msg]
			}
			continue
		}
		middlewareTokenResponses[msg] = newResponse(http.StatusUnauthorized, problem{
			Detail:   "Given token not valid for any token type",
			Code:     "token_not_valid",
			Messages: []problemMessage{{TokenClass: "AccessToken", TokenType: TokenTypeAccess, Message: msg}},
		}, invalidToken(msg))
		for _, k := range []tokenKind{0, kindAccess, kindSliding} {
			access, sliding := msg, msg
			switch k {
			case kindAccess:
				sliding = msgTokenWrongType
			case kindSliding:
				access = msgTokenWrongType
			}
			slidingRouteResponses[slidingVerdict{msg, k}] = newResponse(http.StatusUnauthorized, problem{
				Detail: "Given token not valid for any token type",
				Code:   "token_not_valid",
				Messages: []problemMessage{
					{TokenClass: "AccessToken", TokenType: TokenTypeAccess, Message: access},
					{TokenClass: "SlidingToken", TokenType: TokenTypeSliding, Message: sliding},
				},
			}, invalidToken(msg))
		}
	}
	for _, reason := range []string{"", errCSRFOrigin.reason, errCSRFNoCookie.reason, errCSRFMissing.reason, errCSRFIncorrect.reason} {
		detail := "CSRF Failed: " + reason
		if reason == "" {
			detail = "CSRF Failed."
		}
		csrfResponses[reason] = newResponse(http.StatusForbidden, problem{Detail: detail, Code: "csrf_failed"}, "")
	}
}

// slidingVerdict keys slidingRouteResponses: the verdict's message, and the
// kind of the token when the verdict came after its type matched.
type slidingVerdict struct {
	msg  string
	kind tokenKind
}

// response is the middleware's answer to e.
func (e *tokenError) response() *Response {
	msg := tokenMessage(e.err)
	if e.route&kindSliding == 0 {
		return middlewareTokenResponses[msg]
	}
	if resp, ok := slidingRouteResponses[slidingVerdict{msg, e.kind}]; ok {
		return resp
	}
	return slidingRouteResponses[slidingVerdict{msg, 0}]
}

// csrfResponse is ResponseFor's answer to an error matching ErrCSRF.
func csrfResponse(err error) Response {
	var ce *csrfError
	if errors.As(err, &ce) {
		if resp, ok := csrfResponses[ce.reason]; ok {
			return *resp
		}
	}
	return *csrfResponses[""]
}

// ResponseFor returns the answer WriteError gives err: documented status
// and JSON for every sentinel of this package, a [*Refusal]'s own answer,
// 500 with a generic body for anything else. Bodies never carry internal
// error text (a Refusal's is the application's choice). A custom error
// handler can use it to keep the wire contract while adding to it. The
// Body of a returned Response is shared: do not modify it.
func ResponseFor(err error) Response {
	// The middleware's refusals, as it returns them, without the
	// allocations of errors.As: refusing garbage stays cheap.
	if te, ok := err.(*tokenError); ok {
		return *te.response()
	}
	if err == ErrNoCredentials {
		return *respNoCreds
	}
	if resp, ok := appResponse(err); ok { // throttle.go: refusals, throttling, 403
		return resp
	}
	var fe *FieldError
	var te *tokenError
	var ue *userCheckError
	var re *requestError
	switch {
	case errors.As(err, &fe):
		b, _ := json.Marshal(fe.Fields) // map[string][]string always marshals
		return Response{Status: http.StatusBadRequest, Body: append(b, '\n')}
	case errors.Is(err, ErrStoreUnavailable):
		return *respUnavailable
	case errors.Is(err, ErrCSRF):
		return csrfResponse(err)
	case errors.As(err, &te):
		return *te.response()
	case errors.As(err, &ue):
		return userCheckResponse(ue.err)
	case isTokenVerdict(err):
		return *endpointTokenResponses[tokenMessage(err)]
	case errors.Is(err, ErrNoCredentials):
		return *respNoCreds
	case errors.Is(err, ErrBadAuthorizationHeader):
		return *respBadHeader
	case errors.Is(err, ErrInvalidCredentials):
		return *respBadCreds
	case errors.Is(err, ErrUserInactive), errors.Is(err, ErrUserNotFound):
		return *respInactive
	case errors.As(err, &re):
		return detailResponse(re.err, re.detail)
	case errors.Is(err, ErrMethodNotAllowed):
		return *respMethod
	case errors.Is(err, ErrUnsupportedMediaType):
		return *respMediaType
	case errors.Is(err, ErrBodyTooLarge):
		return *respTooLarge
	case errors.Is(err, ErrMalformedBody):
		return *respMalformed
	case errors.Is(err, ErrSessionNotFound):
		return *respNotFound
	case errors.Is(err, ErrNoSession):
		return *respNoSession
	}
	return *respServerError
}

// detailResponse answers a request error with its detail text.
func detailResponse(sentinel error, detail string) Response {
	status := http.StatusBadRequest
	switch sentinel {
	case ErrMethodNotAllowed:
		status = http.StatusMethodNotAllowed
	case ErrUnsupportedMediaType:
		status = http.StatusUnsupportedMediaType
	case ErrBodyTooLarge:
		status = http.StatusRequestEntityTooLarge
	}
	return *newResponse(status, problem{Detail: detail}, "")
}

// userCheckResponse answers the middleware's verdict on the loaded user.
func userCheckResponse(err error) Response {
	switch {
	case errors.Is(err, ErrUserNotFound):
		return *respUserNotFound
	case errors.Is(err, errStampMismatch):
		return *respPasswordChanged
	}
	return *respUserInactive
}

// WriteError is the default error handler: it writes the status, JSON body
// and headers ResponseFor gives for err. It logs nothing; [Auth.WriteError]
// answers as an Auth is configured to (its error handler, its logging).
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	writeResponse(w, ResponseFor(err))
}

// writeResponse writes resp.
func writeResponse(w http.ResponseWriter, resp Response) {
	h := w.Header()
	if resp.Challenge != "" {
		h.Set("WWW-Authenticate", resp.Challenge)
	}
	for k, vs := range resp.Header {
		h.Del(k)
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	writeBody(w, resp.Status, resp.Body)
}

// writeJSON writes v as the JSON response body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // only our own types reach here; they always marshal
		writeBody(w, respServerError.Status, respServerError.Body)
		return
	}
	writeBody(w, status, append(b, '\n'))
}

// writeBody writes a JSON body. Responses that carry or refuse credentials
// must not be cached.
func writeBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = contentTypeJSON
	h["Cache-Control"] = cacheNoStore
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Shared header values (net/http does not modify them).
var (
	contentTypeJSON = []string{"application/json"}
	cacheNoStore    = []string{"no-store"}
)
