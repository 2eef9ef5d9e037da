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
	// window; its whole family has been revoked. Reported to clients as blacklisted.
	ErrTokenReused = errors.New("jwtpair: refresh token reuse detected")
	// ErrTokenNotFound: the store has no record of the refresh token.
	// Reported to clients as an invalid token.
	ErrTokenNotFound = errors.New("jwtpair: token not found")
	// ErrInvalidCredentials: the Authenticator found no active account for the
	// username and password. Unknown user and wrong password are the same error.
	ErrInvalidCredentials = errors.New("jwtpair: no active account found with the given credentials")
	// ErrUserInactive: the UserLoader found the token's user deleted or inactive.
	ErrUserInactive = errors.New("jwtpair: no active account found for the given token")
	// ErrStoreUnavailable: the store (or another backend) failed. Answered with
	// 503; never treated as success.
	ErrStoreUnavailable = errors.New("jwtpair: store unavailable")
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
		return "Token is expired"
	case errors.Is(err, ErrTokenWrongType):
		return "Token has wrong type"
	case errors.Is(err, ErrTokenBlacklisted), errors.Is(err, ErrTokenReused):
		return "Token is blacklisted"
	}
	return "Token is invalid"
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

// Status returns the HTTP status and body WriteError answers err with,
// and the WWW-Authenticate challenge for 401s (empty otherwise).
func Status(err error) (status int, body any, challenge string) {
	const realm = `Bearer realm="api"`
	invalidToken := func(desc string) string {
		return realm + `, error="invalid_token", error_description="` + desc + `"`
	}
	var fe *FieldError
	var te *TokenError
	switch {
	case errors.As(err, &fe):
		return http.StatusBadRequest, fe.Fields, ""
	case errors.Is(err, ErrStoreUnavailable):
		return http.StatusServiceUnavailable, Problem{Detail: "Service temporarily unavailable, try again later.", Code: "service_unavailable"}, ""
	case errors.As(err, &te):
		msg := tokenMessage(te.Err)
		return http.StatusUnauthorized, Problem{
			Detail:   "Given token not valid for any token type",
			Code:     "token_not_valid",
			Messages: []ProblemMessage{{TokenClass: "AccessToken", TokenType: TokenTypeAccess, Message: msg}},
		}, invalidToken(msg)
	case isTokenVerdict(err):
		msg := tokenMessage(err)
		return http.StatusUnauthorized, Problem{Detail: msg, Code: "token_not_valid"}, invalidToken(msg)
	case errors.Is(err, ErrNoCredentials):
		return http.StatusUnauthorized, Problem{Detail: "Authentication credentials were not provided.", Code: "not_authenticated"}, realm
	case errors.Is(err, ErrBadAuthorizationHeader):
		return http.StatusUnauthorized, Problem{Detail: "Authorization header must contain two space-delimited values", Code: "bad_authorization_header"},
			realm + `, error="invalid_request"`
	case errors.Is(err, ErrInvalidCredentials):
		return http.StatusUnauthorized, Problem{Detail: "No active account found with the given credentials", Code: "no_active_account"}, realm
	case errors.Is(err, ErrUserInactive):
		return http.StatusUnauthorized, Problem{Detail: "No active account found for the given token.", Code: "no_active_account"},
			invalidToken("No active account found for the given token.")
	case errors.Is(err, ErrMethodNotAllowed):
		return http.StatusMethodNotAllowed, Problem{Detail: "Method not allowed.", Code: "method_not_allowed"}, ""
	case errors.Is(err, ErrUnsupportedMediaType):
		return http.StatusUnsupportedMediaType, Problem{Detail: "Unsupported media type in request; send application/json or application/x-www-form-urlencoded.", Code: "unsupported_media_type"}, ""
	case errors.Is(err, ErrBodyTooLarge):
		return http.StatusRequestEntityTooLarge, Problem{Detail: "Request body too large.", Code: "request_too_large"}, ""
	case errors.Is(err, ErrMalformedBody):
		return http.StatusBadRequest, Problem{Detail: "Malformed request body.", Code: "parse_error"}, ""
	}
	return http.StatusInternalServerError, Problem{Detail: "A server error occurred.", Code: "server_error"}, ""
}

// WriteError is the default error handler: it writes the status, JSON body
// and headers Status gives for err. Bodies never carry internal error text.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	status, body, challenge := Status(err)
	h := w.Header()
	if challenge != "" {
		h.Set("WWW-Authenticate", challenge)
	}
	if status == http.StatusMethodNotAllowed {
		h.Set("Allow", http.MethodPost)
	}
	writeJSON(w, status, body)
}

// writeJSON writes v as the JSON response body. Responses that carry or
// refuse credentials must not be cached.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // only our own types reach here; they always marshal
		b, status = []byte(`{"detail":"A server error occurred.","code":"server_error"}`), http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
