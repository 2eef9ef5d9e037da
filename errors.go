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
// test with errors.Is. Each maps to one HTTP answer (see [WriteError]).
var (
	// ErrNoCredentials: the request carried no credentials of an accepted scheme.
	ErrNoCredentials = errors.New("jwtpair: authentication credentials were not provided")
	// ErrBadAuthorizationHeader: an accepted scheme without exactly one token after it.
	ErrBadAuthorizationHeader = errors.New("jwtpair: authorization header must contain two space-delimited values")
	// ErrTokenInvalid: the token is malformed, badly signed, or fails a claim check.
	ErrTokenInvalid = errors.New("jwtpair: token is invalid")
	// ErrTokenExpired: the token's exp (plus leeway) has passed.
	ErrTokenExpired = errors.New("jwtpair: token is expired")
	// ErrTokenWrongType: an access token where a refresh token is expected, or the reverse.
	ErrTokenWrongType = errors.New("jwtpair: token has wrong type")
	// ErrTokenBlacklisted: the refresh token (or its family or user) was revoked, or consumed.
	ErrTokenBlacklisted = errors.New("jwtpair: token is blacklisted")
	// ErrTokenReused: a consumed refresh token was presented after the grace
	// window, or more often than [MaxGraceReplays] within it; its whole
	// family has been revoked. Reported to clients as blacklisted.
	ErrTokenReused = errors.New("jwtpair: refresh token reuse detected")
	// ErrTokenNotFound: the store has no record of the refresh token.
	// Reported to clients as an invalid token.
	ErrTokenNotFound = errors.New("jwtpair: token not found")
	// ErrInvalidCredentials: the Authenticator found no active account for the
	// username and password. Unknown user and wrong password are the same error.
	ErrInvalidCredentials = errors.New("jwtpair: no active account found with the given credentials")
	// ErrUserInactive: the UserLoader found the token's user deleted or inactive.
	ErrUserInactive = errors.New("jwtpair: no active account found for the given token")
	// ErrVerifyOnly: the Auth verifies tokens from a JWKS URL and cannot
	// issue any (answered with 500: a mounting mistake).
	ErrVerifyOnly = errors.New("jwtpair: this Auth only verifies tokens (WithJWKSURL); it cannot issue them")
	// ErrStoreUnavailable: the store (or another backend) failed. Answered with
	// 503; never treated as success.
	ErrStoreUnavailable = errors.New("jwtpair: store unavailable")
	// ErrCSRF: in cookie mode, an unsafe request authenticated by a cookie
	// without a valid CSRF token, or one the browser reports as cross-origin
	// (403 csrf_failed, with DRF's reason: "CSRF token missing.", "CSRF
	// token incorrect.", "CSRF cookie not set.", "Origin checking failed.").
	ErrCSRF = errors.New("jwtpair: CSRF check failed")
)

// Request errors of the token endpoints.
var (
	// ErrMethodNotAllowed: a token endpoint got a method other than POST (405).
	ErrMethodNotAllowed = errors.New("jwtpair: method not allowed")
	// ErrUnsupportedMediaType: a body that is neither JSON nor a form (415).
	ErrUnsupportedMediaType = errors.New("jwtpair: unsupported media type")
	// ErrBodyTooLarge: a body over the limit of WithMaxBodyBytes (413).
	ErrBodyTooLarge = errors.New("jwtpair: request body too large")
	// ErrMalformedBody: a body that does not parse as a JSON object or a form (400).
	ErrMalformedBody = errors.New("jwtpair: malformed request body")
)

// FieldError reports request fields that are missing or not strings (400),
// in DRF's shape: {"password":["This field is required."]}.
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

// TokenError is what the middleware reports when the token a request
// presented fails verification. Err is ErrTokenInvalid, ErrTokenExpired,
// ErrTokenWrongType or ErrTokenBlacklisted. It is answered with simplejwt's
// authentication-class body ("Given token not valid for any token type"),
// where the token endpoints answer the bare message.
type TokenError struct {
	Err error
}

func (e *TokenError) Error() string { return e.Err.Error() }
func (e *TokenError) Unwrap() error { return e.Err }

// Problem is the JSON body of an error response.
type Problem struct {
	Detail   string           `json:"detail"`
	Code     string           `json:"code"`
	Messages []ProblemMessage `json:"messages,omitempty"`
}

// ProblemMessage is one entry of Problem.Messages (simplejwt's shape).
type ProblemMessage struct {
	TokenClass string `json:"token_class"`
	TokenType  string `json:"token_type"`
	Message    string `json:"message"`
}

// tokenMessage is the client-facing text for a token verdict.
func tokenMessage(err error) string {
	switch {
	case errors.Is(err, ErrTokenExpired):
		return tokenMessages[1]
	case errors.Is(err, ErrTokenWrongType):
		return tokenMessages[2]
	case errors.Is(err, ErrTokenBlacklisted), errors.Is(err, ErrTokenReused):
		return tokenMessages[3]
	}
	return tokenMessages[0]
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

func newResponse(status int, p Problem, challenge string) *Response {
	b, err := json.Marshal(p)
	if err != nil {
		panic(err) // our own constant types; cannot happen
	}
	return &Response{Status: status, Body: append(b, '\n'), Challenge: challenge}
}

// tokenMessages are the client-facing texts of token verdicts.
var tokenMessages = []string{"Token is invalid", "Token is expired", "Token has wrong type", "Token is blacklisted"}

// Every fixed answer, built once.
var (
	middlewareTokenResponses = map[string]*Response{}
	endpointTokenResponses   = map[string]*Response{}

	respUnavailable = newResponse(http.StatusServiceUnavailable, Problem{Detail: "Service temporarily unavailable, try again later.", Code: "service_unavailable"}, "")
	respNoCreds     = newResponse(http.StatusUnauthorized, Problem{Detail: "Authentication credentials were not provided.", Code: "not_authenticated"}, realm)
	respBadHeader   = newResponse(http.StatusUnauthorized, Problem{Detail: "Authorization header must contain two space-delimited values", Code: "bad_authorization_header"},
		realm+`, error="invalid_request"`)
	respBadCreds    = newResponse(http.StatusUnauthorized, Problem{Detail: "No active account found with the given credentials", Code: "no_active_account"}, realm)
	respInactive    = newResponse(http.StatusUnauthorized, Problem{Detail: "No active account found for the given token.", Code: "no_active_account"}, invalidToken("No active account found for the given token."))
	respMethod      = newResponse(http.StatusMethodNotAllowed, Problem{Detail: "Method not allowed.", Code: "method_not_allowed"}, "")
	respMediaType   = newResponse(http.StatusUnsupportedMediaType, Problem{Detail: "Unsupported media type in request; send application/json or application/x-www-form-urlencoded.", Code: "unsupported_media_type"}, "")
	respTooLarge    = newResponse(http.StatusRequestEntityTooLarge, Problem{Detail: "Request body too large.", Code: "request_too_large"}, "")
	respMalformed   = newResponse(http.StatusBadRequest, Problem{Detail: "Malformed request body.", Code: "parse_error"}, "")
	respServerError = newResponse(http.StatusInternalServerError, Problem{Detail: "A server error occurred.", Code: "server_error"}, "")
)

func init() {
	for _, msg := range tokenMessages {
		middlewareTokenResponses[msg] = newResponse(http.StatusUnauthorized, Problem{
			Detail:   "Given token not valid for any token type",
			Code:     "token_not_valid",
			Messages: []ProblemMessage{{TokenClass: "AccessToken", TokenType: TokenTypeAccess, Message: msg}},
		}, invalidToken(msg))
		endpointTokenResponses[msg] = newResponse(http.StatusUnauthorized, Problem{Detail: msg, Code: "token_not_valid"}, invalidToken(msg))
	}
}

// ResponseFor returns the answer WriteError gives err: documented status
// and JSON for every sentinel of this package, 500 with a generic body for
// anything else. Bodies never carry internal error text. A custom error
// handler can use it to keep the wire contract while adding to it. The
// Body of a returned Response is shared: do not modify it.
func ResponseFor(err error) Response {
	var fe *FieldError
	var te *TokenError
	switch {
	case errors.As(err, &fe):
		b, _ := json.Marshal(fe.Fields) // map[string][]string always marshals
		return Response{Status: http.StatusBadRequest, Body: append(b, '\n')}
	case errors.Is(err, ErrStoreUnavailable):
		return *respUnavailable
	case errors.Is(err, ErrCSRF):
		return csrfResponse(err)
	case errors.As(err, &te):
		return *middlewareTokenResponses[tokenMessage(te.Err)]
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
		h.Set("Allow", http.MethodPost)
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
