package jwtpair

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/jwtpair/jwtpair/internal/drf"
)

// The token endpoints. Mount them where you like, on exact paths
// (simplejwt's are /api/token/, /api/token/refresh/, /api/token/verify/
// and /api/token/blacklist/; on a ServeMux, "/api/token/{$}"…). They read
// and answer requests as simplejwt's views do on DRF: every answer carries
// Allow: POST, OPTIONS; OPTIONS gets the view's metadata (200); another
// method 405 {"detail":"Method \"GET\" not allowed."}; POST takes a JSON
// object, a urlencoded form or multipart/form-data (415 for anything
// else; Content-Type parameters and wildcards as DRF matches them), a
// body up to WithMaxBodyBytes (413 beyond), with DRF's parse errors (400
// {"detail":"JSON parse error - …"}) and field validation (400
// {"password":["This field may not be blank."]}; values trimmed of
// surrounding white space, as serializers.CharField does). Every answer is
// JSON with Cache-Control: no-store.

// ObtainHandler logs in: {"username","password"} → 200 {"refresh","access"},
// or 401 {"detail":"No active account found with the given credentials"},
// the same for unknown users and wrong passwords. The Authenticator gets
// both fields trimmed of surrounding white space (DRF's CharField).
// Each login starts a session, recorded with what [WithSessionInfo] says of
// the client; past [WithMaxSessionsPerUser], it ends the user's oldest.
// In cookie mode ([WithCookies]) the answer also sets the cookies; with it
// or [WithExpiriesInBody], the body carries the tokens' expiries. Attempts
// are throttled ([WithThrottle]: 429) and may be refused by
// [WithLoginCheck] before the password is checked.
func (a *Auth) ObtainHandler() http.Handler {
	return a.loginEndpoint("Token Obtain Pair", "Takes a set of user credentials and returns an access and refresh JSON web\ntoken pair to prove the authentication of those credentials.",
		func(r *http.Request, u User) (func(http.ResponseWriter), error) {
			g, err := a.issuePair(r.Context(), u, a.clientOf(r))
			if err != nil {
				return nil, err
			}
			return func(w http.ResponseWriter) {
				switch {
				case a.cookies != nil:
					a.writeCookiePair(w, r, g)
				case a.expiriesInBody:
					writeJSON(w, http.StatusOK, expiringBody(g.Pair))
				default:
					writeJSON(w, http.StatusOK, g.Pair)
				}
			}, nil
		})
}

// loginEndpoint is a login endpoint (obtain, sliding obtain): the view
// named name, which takes the credentials fields, logs in, and calls
// issue, which mints and records the session's tokens and returns how to
// answer with them; WithOnLogin's hook runs before the answer is written.
func (a *Auth) loginEndpoint(name, description string, issue func(*http.Request, User) (func(http.ResponseWriter), error)) http.Handler {
	meta := endpointMetadata(name, description, metaField{Name: a.usernameField}, metaField{Name: "password"})
	fields := []string{a.usernameField, "password"}
	return a.endpoint(meta, func(w http.ResponseWriter, r *http.Request) {
		u, ok := a.login(w, r, fields)
		if !ok {
			return
		}
		answer, err := issue(r, u)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if a.onLogin != nil {
			a.onLogin(r, u)
		}
		answer(w)
	})
}

// login serves the part of a login (obtain, and the sliding obtain) before
// any token is issued: it reads the credentials fields, lets the throttles
// and WithLoginCheck refuse the attempt, and checks the password. It
// returns the user, or false once it has answered the request with a
// refusal.
func (a *Auth) login(w http.ResponseWriter, r *http.Request, fields []string) (User, bool) {
	if err := a.checkOrigin(r); err != nil { // cookie mode: no cross-site (login CSRF)
		a.fail(w, r, err)
		return User{}, false
	}
	v, err := a.readFields(w, r, fields)
	if err != nil {
		a.fail(w, r, err)
		return User{}, false
	}
	if a.authn == nil { // WithJWKSURL without an Authenticator: verify only
		a.fail(w, r, ErrVerifyOnly)
		return User{}, false
	}
	username, password := v[0], v[1]
	// Throttles and WithLoginCheck, before the password is checked (throttle.go).
	userKey, err := a.admitLogin(r, username)
	if err != nil {
		a.fail(w, r, err)
		return User{}, false
	}
	u, err := a.authn.Authenticate(r.Context(), username, password)
	if err == nil && u.ID == "" {
		err = errors.New("jwtpair: Authenticator returned a user without an ID")
	}
	switch {
	case errors.Is(err, ErrInvalidCredentials):
		if a.onLoginFailed != nil {
			a.onLoginFailed(r, username, err)
		}
		a.loginEvent(r, EventLoginFailed, username, "")
		a.fail(w, r, ErrInvalidCredentials)
		return User{}, false
	case err != nil:
		a.fail(w, r, a.loginRefused(r, username, "authenticator", authenticatorError(err))) // a refusal of its own, or 503
		return User{}, false
	}
	a.resetLogin(r, userKey)
	return u, true
}

// RefreshHandler exchanges {"refresh"} for {"access"} and, with rotation, a
// new "refresh". Reuse of a rotated token ends its session and gets 401.
// In cookie mode ([WithCookies]) the refresh cookie stands in for a missing
// field, and the answer sets the cookies. Requests are throttled per client
// address ([Throttle].RefreshPerIP: 429).
func (a *Auth) RefreshHandler() http.Handler {
	meta := endpointMetadata("Token Refresh", "Takes a refresh type JSON web token and returns an access type JSON web\ntoken if the refresh token is valid.",
		metaField{Name: "refresh"}, metaField{Name: "access", ReadOnly: true})
	if a.cookies != nil {
		// The throttle inside: a throttled POST is answered, as every
		// answer of the endpoint, with its Allow header (DRF throttles in
		// the view, before dispatching on the method).
		return a.endpoint(meta, a.throttleRefresh(a.cookieEndpoint(false)).ServeHTTP) // cookies.go
	}
	return a.endpoint(meta, a.throttleRefresh(a.tokenHandler("refresh", func(w http.ResponseWriter, r *http.Request, tok string) error {
		p, err := a.Refresh(r.Context(), tok)
		if err != nil {
			return err
		}
		if a.expiriesInBody {
			writeJSON(w, http.StatusOK, expiringBody(p))
			return nil
		}
		writeJSON(w, http.StatusOK, struct {
			Access  string `json:"access"`
			Refresh string `json:"refresh,omitempty"`
		}{p.Access, p.Refresh})
		return nil
	})).ServeHTTP)
}

// pairBody is the JSON body of obtain and refresh in cookie mode, and in
// header mode with WithExpiriesInBody: the tokens (refresh omitted when
// not rotated; both omitted with CookieOptions.OmitBodyTokens) and their
// exp claims in Unix seconds.
type pairBody struct {
	Refresh        string `json:"refresh,omitempty"`
	Access         string `json:"access,omitempty"`
	AccessExpires  int64  `json:"access_expires"`
	RefreshExpires int64  `json:"refresh_expires"`
}

// expiringBody is p's body with its expiries.
func expiringBody(p Pair) pairBody {
	return pairBody{p.Refresh, p.Access, p.AccessExpires.Unix(), p.RefreshExpires.Unix()}
}

// VerifyHandler checks {"token"} of either type: 200 {} when valid. A
// blacklisted or rotated refresh token fails as simplejwt's
// TokenVerifySerializer refuses it: 400 {"non_field_errors":["Token is
// blacklisted"]}.
func (a *Auth) VerifyHandler() http.Handler {
	meta := endpointMetadata("Token Verify", "Takes a token and indicates if it is valid.  This view provides no\ninformation about a token's fitness for a particular use.",
		metaField{Name: "token"})
	return a.tokenEndpoint(meta, "token", func(w http.ResponseWriter, r *http.Request, tok string) error {
		if _, err := a.Verify(r.Context(), tok); err != nil {
			return verifyVerdict(err)
		}
		writeJSON(w, http.StatusOK, struct{}{})
		return nil
	})
}

// BlacklistHandler logs out: it ends the session of {"refresh"} (every
// token of it, as [Auth.Revoke]) and answers 200 {}.
// In cookie mode ([WithCookies]) the refresh cookie stands in for a missing
// field, and the answer clears the cookies.
func (a *Auth) BlacklistHandler() http.Handler {
	meta := endpointMetadata("Token Blacklist", "Takes a token and blacklists it. Must be used with the\n`rest_framework_simplejwt.token_blacklist` app installed.",
		metaField{Name: "refresh"})
	if a.cookies != nil {
		return a.endpoint(meta, a.cookieEndpoint(true)) // cookies.go
	}
	return a.logoutEndpoint(meta, "refresh", kindRefresh) // a sliding token too is Revoke's, not this endpoint's
}

// logoutEndpoint is a logout endpoint that takes a token of kind in
// field: it ends the token's session and answers 200 {}.
func (a *Auth) logoutEndpoint(meta []byte, field string, kind tokenKind) http.Handler {
	return a.tokenEndpoint(meta, field, func(w http.ResponseWriter, r *http.Request, tok string) error {
		c, err := a.verifyAs(tok, kind)
		if err == nil {
			err = a.revoke(r.Context(), c)
		}
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, struct{}{})
		return nil
	})
}

// endpoint is what every token endpoint does before serve, as DRF's
// APIView: Allow: POST, OPTIONS on every answer, the view's metadata for
// OPTIONS, 405 for any method but POST.
func (a *Auth) endpoint(meta []byte, serve http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Allow"] = allowPostOptions
		switch r.Method {
		case http.MethodPost:
			serve(w, a.auditRequest(r))
		case http.MethodOptions:
			writeBody(w, http.StatusOK, meta)
		default:
			a.fail(w, r, methodNotAllowed(r.Method))
		}
	})
}

// allowPostOptions is the Allow header of the token endpoints.
var allowPostOptions = []string{"POST, OPTIONS"}

// tokenEndpoint is the shape shared by the endpoints that take one token
// field.
func (a *Auth) tokenEndpoint(meta []byte, field string, serve func(http.ResponseWriter, *http.Request, string) error) http.Handler {
	return a.endpoint(meta, a.tokenHandler(field, serve))
}

// tokenHandler serves the POST of an endpoint that takes one token field.
func (a *Auth) tokenHandler(field string, serve func(http.ResponseWriter, *http.Request, string) error) http.HandlerFunc {
	fields := []string{field}
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := a.readFields(w, r, fields)
		if err == nil {
			err = serve(w, r, v[0])
		}
		if err != nil {
			a.fail(w, r, err)
		}
	}
}

// maxDrain is the most of a refused body drainDeclared reads: net/http's
// own bound for the unread body it discards after a handler.
const maxDrain = 256 << 10

// drainDeclared reads and discards the body of r, refused unread for its
// Content-Length, when that is at most maxDrain: a client that asked to
// close the connection (Connection: close) is then not reset while it
// still writes, and reads its 413 instead of a network error. A larger
// body is left unread, and net/http closes the connection after the
// answer, as it does for any handler.
func drainDeclared(r *http.Request) {
	if r.ContentLength <= maxDrain {
		_, _ = io.CopyN(io.Discard, r.Body, r.ContentLength)
	}
}

// readFields reads a POST's body as DRF does (internal/drf: the parser
// its Content-Type selects, within the size limit) and returns the named
// fields in order, each validated as a serializers.CharField: trimmed,
// present, neither null nor blank, a string or a number. Every field's
// problems are reported together in one *FieldError.
func (a *Auth) readFields(w http.ResponseWriter, r *http.Request, names []string) ([]string, error) {
	if r.ContentLength > a.maxBodyBytes {
		drainDeclared(r)
		return nil, ErrBodyTooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.maxBodyBytes))
	if err != nil {
		return nil, readError(err)
	}
	data, err := drf.Parse(r.Header.Get("Content-Type"), body)
	if err != nil {
		return nil, bodyVerdict(err)
	}
	vals := make([]string, len(names))
	var problems map[string][]string
	for i, n := range names {
		v, msgs := drf.CharField(data.Get(n))
		if len(msgs) > 0 {
			if problems == nil {
				problems = map[string][]string{}
			}
			problems[n] = msgs
		}
		vals[i] = v
	}
	if problems != nil {
		return nil, &FieldError{Fields: problems}
	}
	return vals, nil
}

// metaField is a field of a view's OPTIONS metadata (DRF's
// SimpleMetadata.get_field_info of a CharField).
type metaField struct {
	Name     string `json:"-"`
	Type     string `json:"type"`
	Required bool   `json:"required"`
	ReadOnly bool   `json:"read_only"`
	Label    string `json:"label"`
}

// endpointMetadata is the OPTIONS body of a token endpoint: DRF's
// SimpleMetadata of simplejwt's view (its name, its docstring, what it
// parses and renders, and its serializer's fields), except that "renders"
// names JSON only: jwtpair has no browsable API.
func endpointMetadata(name, description string, fields ...metaField) []byte {
	var actions bytes.Buffer
	actions.WriteByte('{')
	for i, f := range fields {
		f.Type, f.Required, f.Label = "string", !f.ReadOnly, drf.Label(f.Name)
		if i > 0 {
			actions.WriteByte(',')
		}
		k, _ := json.Marshal(f.Name)
		v, _ := json.Marshal(f)
		actions.Write(k)
		actions.WriteByte(':')
		actions.Write(v)
	}
	actions.WriteByte('}')
	b, err := json.Marshal(struct {
		Name        string   `json:"name"`
		Description string   `json:"description"`
		Renders     []string `json:"renders"`
		Parses      []string `json:"parses"`
		Actions     struct {
			POST json.RawMessage `json:"POST"`
		} `json:"actions"`
	}{
		Name: name, Description: description,
		Renders: []string{"application/json"},
		Parses:  []string{"application/json", "application/x-www-form-urlencoded", "multipart/form-data"},
		Actions: struct {
			POST json.RawMessage `json:"POST"`
		}{actions.Bytes()},
	})
	if err != nil {
		panic(err) // our own constant types; cannot happen
	}
	return append(b, '\n')
}
