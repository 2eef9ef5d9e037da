package jwtpair

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// The token endpoints. Mount them where you like; simplejwt's paths are
// /api/token/, /api/token/refresh/, /api/token/verify/ and
// /api/token/blacklist/. Each accepts POST only (405 with Allow: POST
// otherwise), a JSON object or a urlencoded form (415 for anything else), a
// body up to WithMaxBodyBytes (413 beyond), and answers JSON with
// Cache-Control: no-store. Missing fields get 400 in DRF's shape.

// ObtainHandler logs in: {"username","password"} → 200 {"refresh","access"},
// or 401 no_active_account, the same for unknown users and wrong passwords.
// Each login starts a session, recorded with what [WithSessionInfo] says of
// the client; past [WithMaxSessionsPerUser], it ends the user's oldest.
// In cookie mode ([WithCookies]) the answer also sets the cookies.
func (a *Auth) ObtainHandler() http.Handler {
	fields := []string{a.usernameField, "password"}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := a.checkOrigin(r); err != nil { // cookie mode: no cross-site (login CSRF)
			a.fail(w, r, err)
			return
		}
		v, err := a.readFields(w, r, fields)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if a.authn == nil { // WithJWKSURL without an Authenticator: verify only
			a.fail(w, r, ErrVerifyOnly)
			return
		}
		username, password := strings.TrimSpace(v[0]), v[1]
		u, err := a.authn.Authenticate(r.Context(), username, password)
		if err == nil && u.ID == "" {
			err = errors.New("jwtpair: Authenticator returned a user without an ID")
		}
		switch {
		case errors.Is(err, ErrInvalidCredentials):
			if a.onLoginFailed != nil {
				a.onLoginFailed(r, username, err)
			}
			a.fail(w, r, ErrInvalidCredentials)
			return
		case err != nil:
			a.fail(w, r, fmt.Errorf("%w: authenticator: %w", ErrStoreUnavailable, err))
			return
		}
		g, err := a.issuePair(r.Context(), u, a.sessionInfo(r))
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if a.onLogin != nil {
			a.onLogin(r, u)
		}
		if a.cookies != nil {
			a.writeCookiePair(w, r, g)
			return
		}
		writeJSON(w, http.StatusOK, g.Pair)
	})
}

// RefreshHandler exchanges {"refresh"} for {"access"} and, with rotation, a
// new "refresh". Reuse of a rotated token ends its session and gets 401.
// In cookie mode ([WithCookies]) the refresh cookie stands in for a missing
// field, and the answer sets the cookies.
func (a *Auth) RefreshHandler() http.Handler {
	if a.cookies != nil {
		return a.cookieEndpoint(false) // cookies.go
	}
	return a.tokenEndpoint("refresh", func(w http.ResponseWriter, r *http.Request, tok string) error {
		p, err := a.Refresh(r.Context(), tok)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, struct {
			Access  string `json:"access"`
			Refresh string `json:"refresh,omitempty"`
		}{p.Access, p.Refresh})
		return nil
	})
}

// VerifyHandler checks {"token"} of either type: 200 {} when valid. A
// blacklisted or rotated refresh token fails.
func (a *Auth) VerifyHandler() http.Handler {
	return a.tokenEndpoint("token", func(w http.ResponseWriter, r *http.Request, tok string) error {
		if _, err := a.Verify(r.Context(), tok); err != nil {
			return err
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
	if a.cookies != nil {
		return a.cookieEndpoint(true) // cookies.go
	}
	return a.tokenEndpoint("refresh", func(w http.ResponseWriter, r *http.Request, tok string) error {
		if err := a.Revoke(r.Context(), tok); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, struct{}{})
		return nil
	})
}

// tokenEndpoint is the shape shared by the endpoints that take one token
// field.
func (a *Auth) tokenEndpoint(field string, serve func(http.ResponseWriter, *http.Request, string) error) http.Handler {
	fields := []string{field}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := a.readFields(w, r, fields)
		if err == nil {
			err = serve(w, r, v[0])
		}
		if err != nil {
			a.fail(w, r, err)
		}
	})
}

const (
	msgRequired  = "This field is required."
	msgNotString = "Not a valid string."
)

// readFields checks method, media type and size, parses a JSON object or a
// form, and returns the named string fields in order. Missing, null or blank
// fields and non-string values are reported together in one *FieldError.
func (a *Auth) readFields(w http.ResponseWriter, r *http.Request, names []string) ([]string, error) {
	if r.Method != http.MethodPost {
		return nil, ErrMethodNotAllowed
	}
	if r.ContentLength > a.maxBodyBytes {
		return nil, ErrBodyTooLarge
	}
	ct := r.Header.Get("Content-Type")
	var mt string
	if ct != "" {
		var err error
		if mt, _, err = mime.ParseMediaType(ct); err != nil {
			return nil, ErrUnsupportedMediaType
		}
	} else if r.ContentLength != 0 {
		return nil, ErrUnsupportedMediaType
	}
	body := http.MaxBytesReader(w, r.Body, a.maxBodyBytes)
	vals := make([]string, len(names))
	problems := map[string][]string{}
	switch mt {
	case "": // no body at all: every field is missing
		for _, n := range names {
			problems[n] = []string{msgRequired}
		}
	case "application/json":
		raw, err := io.ReadAll(body)
		if err != nil {
			return nil, bodyError(err)
		}
		obj := map[string]json.RawMessage{}
		if len(bytes.TrimSpace(raw)) > 0 { // DRF reads an empty body as no fields
			obj = nil
			if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
				return nil, ErrMalformedBody
			}
		}
		for i, n := range names {
			vals[i] = jsonField(obj[n], n, problems)
		}
	case "application/x-www-form-urlencoded":
		r.Body = body
		if err := r.ParseForm(); err != nil {
			return nil, bodyError(err)
		}
		for i, n := range names {
			vals[i] = r.PostForm.Get(n)
			if strings.TrimSpace(vals[i]) == "" {
				problems[n] = []string{msgRequired}
			}
		}
	default:
		return nil, ErrUnsupportedMediaType
	}
	if len(problems) > 0 {
		return nil, &FieldError{Fields: problems}
	}
	return vals, nil
}

// jsonField reads one field of a JSON body as DRF's CharField does:
// strings as they are, numbers as their text, anything else refused.
func jsonField(raw json.RawMessage, name string, problems map[string][]string) string {
	if len(raw) == 0 || string(raw) == "null" {
		problems[name] = []string{msgRequired}
		return ""
	}
	var s string
	switch raw[0] {
	case '"':
		if json.Unmarshal(raw, &s) != nil {
			problems[name] = []string{msgNotString}
			return ""
		}
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		s = string(raw)
	default:
		problems[name] = []string{msgNotString}
		return ""
	}
	if strings.TrimSpace(s) == "" {
		problems[name] = []string{msgRequired}
	}
	return s
}

// bodyError tells a body over the limit from a malformed one.
func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return ErrBodyTooLarge
	}
	return ErrMalformedBody
}
