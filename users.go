package jwtpair

import "context"

// User is who a token pair is issued to.
type User struct {
	// ID goes into the user-id claim. It must not be empty, and must be
	// valid UTF-8: tokens carry it unchanged or not at all.
	ID string
	// Claims are custom claims copied into both tokens, as simplejwt's
	// get_token override does (a name, roles…). Registered claim names are
	// refused. Values must marshal to JSON whose strings (names included)
	// are valid UTF-8 (encoding/json would rewrite them: a value whose JSON
	// holds the escape \ufffd or a lone surrogate is refused too), nested
	// at most 32 deep, and the tokens must fit [WithMaxTokenBytes]: what
	// verification would refuse is never minted. [Auth.IssuePair] returns an
	// error for anything else, and obtain answers 500 and logs it.
	//
	// Read back from a token ([Claims.User], and [UserFrom] without
	// [WithUserCheck]), they have the
	// types of JSON decoded with UseNumber, not the Go types put in:
	// string, json.Number, bool, nil, []any, map[string]any (see [Claim],
	// which reads one typed).
	Claims map[string]any
	// Stamp is an opaque value that changes whenever the user's credentials
	// do: a password-changed-at time, a counter bumped on "log out
	// everywhere". Optional. Tokens carry a keyed digest of it (see
	// [WithServerSecret]), which tells nothing about the stamp to whoever
	// reads the token; with a [UserLoader], a refresh whose token carries
	// another stamp than the user's current one is refused and its token
	// revoked, so a password change ends every session at its next refresh
	// (and at once, with [WithUserCheck]). Without a server secret (an
	// asymmetric key and no WithServerSecret), issuing tokens for a user
	// with a Stamp fails.
	Stamp string
}

// Authenticator checks a username and password. It is the one thing every
// application must supply (see [WithAuthenticator]). The obtain endpoint
// passes both fields trimmed of surrounding white space, as DRF's
// serializers.CharField does (a password cannot begin or end with a space
// there either).
//
// For an unknown user, a wrong password or an inactive account it returns an
// error wrapping [ErrInvalidCredentials]; the obtain endpoint then answers
// 401 no_active_account with one body for all three, so accounts cannot be
// enumerated. Any other error (a database outage) is answered with 503 and
// logged. Implementations should take about the same time whether or not
// the user exists (hash a dummy password for unknown users).
type Authenticator interface {
	Authenticate(ctx context.Context, username, password string) (User, error)
}

// AuthenticatorFunc adapts a function to [Authenticator].
type AuthenticatorFunc func(ctx context.Context, username, password string) (User, error)

// Authenticate calls f.
func (f AuthenticatorFunc) Authenticate(ctx context.Context, username, password string) (User, error) {
	return f(ctx, username, password)
}

// UserLoader is an optional interface of the Authenticator value. When
// present, refresh loads the token's user again: a deleted user (an error
// wrapping [ErrUserNotFound]) or an inactive one ([ErrUserInactive]) gets
// 401 {"detail":"No active account found for the given token."}, and the
// new access token carries the custom claims LoadUser returns, so permission
// changes reach clients at the next refresh. [WithUserCheck] tells the two
// apart, as simplejwt does. Any other error is answered with 503.
type UserLoader interface {
	LoadUser(ctx context.Context, id string) (User, error)
}
