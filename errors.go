package jwtpair

import (
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
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
	// cookie either. 401 not_authenticated; [Auth.OptionalMiddleware] lets
	// such a request through anonymously.
	ErrNoCredentials = errors.New("jwtpair: authentication credentials were not provided")
	// ErrBadAuthorizationHeader is returned by [Auth.Check] when an accepted
	// scheme is not followed by exactly one token (or the header is sent
	// twice). 401 bad_authorization_header, error="invalid_request".
	ErrBadAuthorizationHeader = errors.New("jwtpair: authorization header must contain two space-delimited values")
	// ErrTokenInvalid is returned when a token is malformed, too long,
	// badly signed, signed by an unknown or retired key, or fails a claim
	// check (nbf, iat, iss, aud, a missing claim). 401 token_not_valid,
	// "Token is invalid".
	ErrTokenInvalid = errors.New("jwtpair: token is invalid")
	// ErrTokenExpired is returned when a token's exp (plus the leeway) has
	// passed. 401 token_not_valid, "Token is expired".
	ErrTokenExpired = errors.New("jwtpair: token is expired")
	// ErrTokenWrongType is returned when an access token is presented
	// where a refresh token is expected, or the reverse. 401
	// token_not_valid, "Token has wrong type".
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
	// endpoint answers all three alike: 401 no_active_account, "No active
	// account found with the given credentials".
	ErrInvalidCredentials = errors.New("jwtpair: no active account found with the given credentials")
	// ErrUserInactive is what a UserLoader returns, wrapped, for a deleted
	// or inactive user; refresh (and the middleware with [WithUserCheck])
	// then answers 401 no_active_account, "No active account found for
	// the given token.".
	ErrUserInactive = errors.New("jwtpair: no active account found for the given token")
	// ErrVerifyOnly is returned when an Auth made with [WithJWKSURL], which
	// only verifies, is asked to issue tokens (obtain and refresh,
	// [Auth.IssuePair], [Auth.Refresh]). 500 server_error: a mounting
	// mistake.
	ErrVerifyOnly = errors.New("jwtpair: this Auth only verifies tokens (WithJWKSURL); it cannot issue them")
	// ErrStoreUnavailable is returned, wrapping the cause, when the store,
	// the Authenticator or the UserLoader fails, and by the middleware
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

// Request errors of the token endpoints.
var (
	// ErrMethodNotAllowed: a token endpoint got a method other than POST.
	// 405 method_not_allowed, with Allow: POST.
	ErrMethodNotAllowed = errors.New("jwtpair: method not allowed")
	// ErrUnsupportedMediaType: a body that is neither JSON nor a form. 415
	// unsupported_media_type.
	ErrUnsupportedMediaType = errors.New("jwtpair: unsupported media type")
	// ErrBodyTooLarge: a body over the limit of WithMaxBodyBytes. 413
	// request_too_large.
	ErrBodyTooLarge = errors.New("jwtpair: request body too large")
	// ErrMalformedBody: a body that does not parse as a JSON object or a
	// form. 400 parse_error.
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

// methodError is a wrong method, with the one the endpoint allows. It
// matches ErrMethodNotAllowed.
type methodError struct{ allow string }

func (e *methodError) Error() string        { return "jwtpair: method not allowed; allowed: " + e.allow }
func (e *methodError) Is(target error) bool { return target == ErrMethodNotAllowed }

// FieldError reports request fields that are missing or not strings (400),
// in DRF's shape: {"password":["This field is required."]}. A custom error
// handler ([WithErrorHandler]) gets it as it is, to answer in its own
// shape.
type FieldError struct {
	Fields map[string][]string
}

func (e *FieldError) Error() string {
	names := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		names = append(names, k)
	}
	sort.Strings(names)
	return "jwtpair: invalid fields: " + strings.Join(names, ", ")
}

// tokenError is what the middleware reports when the token a request
// presented fails verification. err is ErrTokenInvalid, ErrTokenExpired,
// ErrTokenWrongType or ErrTokenBlacklisted. It is answered with simplejwt's
// authentication-class body ("Given token not valid for any token type"),
// where the token endpoints answer the bare message.
type tokenError struct {
	err error
}

func (e *tokenError) Error() string { return e.err.Error() }
func (e *tokenError) Unwrap() error { return e.err }

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

// problem is the JSON body of an error response.
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
)

// tokenMessage is the client-facing text for a token verdict.
func tokenMessage(err error) string {
	switch {
	case errors.Is(err, ErrTokenExpired):
		return msgTokenExpired
	case errors.Is(err, ErrTokenWrongType):
		return msgTokenWrongType
	case errors.Is(err, ErrTokenBlacklisted), errors.Is(err, ErrTokenReused):
		return msgTokenBlacklisted
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

// Response is how [WriteError] answers an error: status, JSON body, and
// the WWW-Authenticate challenge of a 401 (empty otherwise).
type Response struct {
	Status    int
	Body      []byte
	Challenge string
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

// Every fixed answer, built once.
var (
	respUnavailable = newResponse(http.StatusServiceUnavailable, problem{Detail: "Service temporarily unavailable, try again later.", Code: "service_unavailable"}, "")
	respNoCreds     = newResponse(http.StatusUnauthorized, problem{Detail: "Authentication credentials were not provided.", Code: "not_authenticated"}, realm)
	respBadHeader   = newResponse(http.StatusUnauthorized, problem{Detail: "Authorization header must contain two space-delimited values", Code: "bad_authorization_header"},
		realm+`, error="invalid_request"`)
	respBadCreds    = newResponse(http.StatusUnauthorized, problem{Detail: "No active account found with the given credentials", Code: "no_active_account"}, realm)
	respInactive    = newResponse(http.StatusUnauthorized, problem{Detail: "No active account found for the given token.", Code: "no_active_account"}, invalidToken("No active account found for the given token."))
	respMethod      = newResponse(http.StatusMethodNotAllowed, problem{Detail: "Method not allowed.", Code: "method_not_allowed"}, "")
	respMediaType   = newResponse(http.StatusUnsupportedMediaType, problem{Detail: "Unsupported media type in request; send application/json or application/x-www-form-urlencoded.", Code: "unsupported_media_type"}, "")
	respTooLarge    = newResponse(http.StatusRequestEntityTooLarge, problem{Detail: "Request body too large.", Code: "request_too_large"}, "")
	respMalformed   = newResponse(http.StatusBadRequest, problem{Detail: "Malformed request body.", Code: "parse_error"}, "")
	respServerError = newResponse(http.StatusInternalServerError, problem{Detail: "A server error occurred.", Code: "server_error"}, "")

	respNotFound  = newResponse(http.StatusNotFound, problem{Detail: "Not found."}, "")
	respNoSession = newResponse(http.StatusForbidden, problem{Detail: "This token belongs to no session; sign in again.", Code: "no_session"}, "")

	// respNoPublicKeys is Auth.JWKSHandler's answer when there is no public
	// key to publish (HMAC keys, or an Auth that only verifies).
	respNoPublicKeys = newResponse(http.StatusNotFound, problem{Detail: "No public keys: this server signs no tokens with a key pair.", Code: "not_found"}, "")

	// The answers to token verdicts, by message: the middleware's
	// (simplejwt's authentication class) and the token endpoints'.
	middlewareTokenResponses = map[string]*Response{}
	endpointTokenResponses   = map[string]*Response{}

	// csrfResponses are the 403 answers, by reason; "" is for a bare ErrCSRF.
	csrfResponses = map[string]*Response{}
)

func init() {
	for _, msg := range []string{msgTokenInvalid, msgTokenExpired, msgTokenWrongType, msgTokenBlacklisted} {
		middlewareTokenResponses[msg] = newResponse(http.StatusUnauthorized, problem{
			Detail:   "Given token not valid for any token type",
			Code:     "token_not_valid",
			Messages: []problemMessage{{TokenClass: "AccessToken", TokenType: TokenTypeAccess, Message: msg}},
		}, invalidToken(msg))
		endpointTokenResponses[msg] = newResponse(http.StatusUnauthorized, problem{Detail: msg, Code: "token_not_valid"}, invalidToken(msg))
	}
	for _, reason := range []string{"", errCSRFOrigin.reason, errCSRFNoCookie.reason, errCSRFMissing.reason, errCSRFIncorrect.reason} {
		detail := "CSRF Failed: " + reason
		if reason == "" {
			detail = "CSRF Failed."
		}
		csrfResponses[reason] = newResponse(http.StatusForbidden, problem{Detail: detail, Code: "csrf_failed"}, "")
	}
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
// and JSON for every sentinel of this package, 500 with a generic body for
// anything else. Bodies never carry internal error text. A custom error
// handler can use it to keep the wire contract while adding to it. The
// Body of a returned Response is shared: do not modify it.
func ResponseFor(err error) Response {
	var fe *FieldError
	var te *tokenError
	switch {
	case errors.As(err, &fe):
		b, _ := json.Marshal(fe.Fields) // map[string][]string always marshals
		return Response{Status: http.StatusBadRequest, Body: append(b, '\n')}
	case errors.Is(err, ErrStoreUnavailable):
		return *respUnavailable
	case errors.Is(err, ErrCSRF):
		return csrfResponse(err)
	case errors.As(err, &te):
		return *middlewareTokenResponses[tokenMessage(te.err)]
	case isTokenVerdict(err):
		return *endpointTokenResponses[tokenMessage(err)]
	case errors.Is(err, ErrNoCredentials):
		return *respNoCreds
	case errors.Is(err, ErrBadAuthorizationHeader):
		return *respBadHeader
	case errors.Is(err, ErrInvalidCredentials):
		return *respBadCreds
	case errors.Is(err, ErrUserInactive):
		return *respInactive
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

// WriteError is the default error handler: it writes the status, JSON body
// and headers ResponseFor gives for err.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	resp := ResponseFor(err)
	h := w.Header()
	if resp.Challenge != "" {
		h.Set("WWW-Authenticate", resp.Challenge)
	}
	if resp.Status == http.StatusMethodNotAllowed {
		allow := http.MethodPost // the token endpoints'
		var me *methodError
		if errors.As(err, &me) {
			allow = me.allow
		}
		h.Set("Allow", allow)
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
