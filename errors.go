package jwtpair

import "errors"

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
