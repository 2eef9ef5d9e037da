package jwtpair

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Sessions. A login starts a session: every token it issues, and every
// token its refreshes issue, carries its id (the sid claim). The store
// keeps each session with the client metadata captured at login
// (WithSessionInfo); a user lists theirs and ends them through the methods
// and handlers of this file, an admin through the methods. Ending a session
// refuses its refresh tokens at once, in the store, and its access tokens
// on every instance within the revocation bound (revocations.go).

// Sessions lists the live sessions of userID (not ended, not expired), the
// most recent login first. One store round trip.
func (a *Auth) Sessions(ctx context.Context, userID string) ([]Session, error) {
	if userID == "" {
		return nil, errEmptyUser
	}
	list, err := a.store.Sessions(ctx, userID)
	if err != nil {
		return nil, storeError(err)
	}
	return list, nil
}

// EndSession ends the session sessionID of userID: its refresh tokens are
// refused at once, its access tokens within the revocation bound
// ([WithRevocationStaleness]). A session that is unknown, already ended, or
// another user's is left as it is, and no error says which: ending is
// idempotent. One store round trip.
func (a *Auth) EndSession(ctx context.Context, userID, sessionID string) error {
	switch {
	case userID == "":
		return errEmptyUser
	case sessionID == "":
		return errors.New("jwtpair: empty session ID")
	}
	return a.endSession(ctx, userID, sessionID, "end_session")
}

// endSession is EndSession, reported (EventSessionEnded) with reason.
func (a *Auth) endSession(ctx context.Context, userID, sessionID, reason string) error {
	if err := a.store.EndSession(ctx, userID, sessionID); err != nil {
		return storeError(err)
	}
	a.emit(ctx, Event{Kind: EventSessionEnded, UserID: userID, SessionID: sessionID, Reason: reason})
	return nil
}

// EndOtherSessions ends every session of userID except keep: "log out my
// other devices". keep must name one (see [Auth.EndAllSessions]). One store
// round trip.
func (a *Auth) EndOtherSessions(ctx context.Context, userID, keep string) error {
	switch {
	case userID == "":
		return errEmptyUser
	case keep == "":
		return errors.New("jwtpair: EndOtherSessions needs the session to keep (EndAllSessions ends them all)")
	}
	return a.endSessions(ctx, userID, keep, "end_other_sessions")
}

// EndAllSessions ends every session of userID: "log out everywhere".
// Sessions started afterwards are unaffected. Call it when the user's
// password changes: with a [UserLoader] and a [User.Stamp], a session is
// also ended at its next refresh once the stamp changed, but its access
// tokens live until then; EndAllSessions reaches them within the
// revocation bound ([WithRevocationStaleness]). One store round trip.
func (a *Auth) EndAllSessions(ctx context.Context, userID string) error {
	if userID == "" {
		return errEmptyUser
	}
	return a.endSessions(ctx, userID, "", "end_all_sessions")
}

// endSessions is EndSessions, reported (EventSessionEnded, no session
// named) with reason.
func (a *Auth) endSessions(ctx context.Context, userID, keep, reason string) error {
	if err := a.store.EndSessions(ctx, userID, keep); err != nil {
		return storeError(err)
	}
	a.emit(ctx, Event{Kind: EventSessionEnded, UserID: userID, Reason: reason})
	return nil
}

var errEmptyUser = errors.New("jwtpair: empty user ID")

// The session endpoints, for the signed-in user. They sit behind
// [Auth.Middleware], whose claims name the user and the current session,
// and answer 401 not_authenticated without them. Mount them on exact
// paths, without a method in the pattern so that they answer other
// methods with their own JSON 405:
//
//	mux.Handle("/api/sessions/{$}", auth.Middleware(auth.SessionsHandler()))
//	mux.Handle("/api/sessions/{sid}/{$}", auth.Middleware(auth.EndSessionHandler()))
//	mux.Handle("/api/sessions/end-others/{$}", auth.Middleware(auth.EndOtherSessionsHandler()))
//
// (The literal end-others path is more specific than {sid}, so the two do
// not conflict.) In cookie mode the middleware's CSRF checks apply to the
// DELETE and the POST. A user can only ever see and end their own
// sessions: an admin uses [Auth.Sessions], [Auth.EndSession] and
// [Auth.EndAllSessions].

// sessionJSON is one session in the listing's JSON. Times are RFC 3339, in
// UTC, to the second.
type sessionJSON struct {
	ID             string            `json:"id"`
	Created        string            `json:"created"`
	LastRefreshed  string            `json:"last_refreshed"`
	Expires        string            `json:"expires"`
	AbsoluteExpiry *string           `json:"absolute_expiry"` // null: none
	Client         map[string]string `json:"client"`          // {} for none
	Current        bool              `json:"current"`
}

// SessionsHandler answers GET with the signed-in user's live sessions,
// the most recent login first (200):
//
//	[{"id":"…","created":"2025-01-02T15:04:05Z","last_refreshed":"…",
//	  "expires":"…","absolute_expiry":null,
//	  "client":{"ip":"203.0.113.7","user_agent":"…"},"current":true}]
//
// expires is the idle expiry (the session ends unless refreshed by then),
// absolute_expiry the end [WithMaxSessionAge] sets (null without it),
// client what [WithSessionInfo] recorded ({} for nothing), and current
// marks the session of the access token the request carries. Other
// methods get 405 with Allow: GET.
func (a *Auth) SessionsHandler() http.Handler {
	return a.sessionEndpoint(http.MethodGet, func(w http.ResponseWriter, r *http.Request, c *Claims) error {
		list, err := a.Sessions(r.Context(), c.UserID)
		if err != nil {
			return err
		}
		out := make([]sessionJSON, len(list))
		for i, s := range list {
			out[i] = sessionJSON{
				ID:            s.ID,
				Created:       rfc3339(s.Created),
				LastRefreshed: rfc3339(s.LastRefreshed),
				Expires:       rfc3339(s.ExpiresAt),
				Client:        s.Client,
				Current:       s.ID == c.SessionID,
			}
			if !s.AbsoluteExpiry.IsZero() {
				t := rfc3339(s.AbsoluteExpiry)
				out[i].AbsoluteExpiry = &t
			}
			if out[i].Client == nil {
				out[i].Client = map[string]string{}
			}
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	})
}

// EndSessionHandler answers DELETE by ending the signed-in user's session
// named by the path's {sid} wildcard: 204 and no body, as DRF's destroy.
// A sid that is not one of the user's live sessions, unknown or another
// user's alike, gets 404 {"detail":"Not found."} (ErrSessionNotFound), so
// the answer never tells whether another user's session exists. Ending
// the current session is allowed (a logout; in cookie mode the answer
// clears the cookies). Other methods get 405 with Allow: DELETE. Two store
// round trips: the user's sessions, then the end.
func (a *Auth) EndSessionHandler() http.Handler {
	return a.sessionEndpoint(http.MethodDelete, func(w http.ResponseWriter, r *http.Request, c *Claims) error {
		sid := r.PathValue("sid")
		list, err := a.Sessions(r.Context(), c.UserID)
		if err != nil {
			return err
		}
		if sid == "" || !slices.ContainsFunc(list, func(s Session) bool { return s.ID == sid }) {
			return ErrSessionNotFound
		}
		if err := a.endSession(r.Context(), c.UserID, sid, "user_ended"); err != nil {
			return err
		}
		if sid == c.SessionID && a.cookies != nil {
			a.clearCookies(w)
		}
		w.Header()["Cache-Control"] = cacheNoStore
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// EndOtherSessionsHandler answers POST by ending every session of the
// signed-in user but the current one: 200 {}. The body, if any, is not
// read. A token that names no session (one minted by simplejwt) gets 403
// (ErrNoSession): there would be no session to keep. Other methods get 405
// with Allow: POST.
func (a *Auth) EndOtherSessionsHandler() http.Handler {
	return a.sessionEndpoint(http.MethodPost, func(w http.ResponseWriter, r *http.Request, c *Claims) error {
		if c.SessionID == "" {
			return ErrNoSession
		}
		if err := a.endSessions(r.Context(), c.UserID, c.SessionID, "user_ended_others"); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, struct{}{})
		return nil
	})
}

// sessionEndpoint is the shape of the session endpoints: one method
// (every answer carries it as Allow; another gets DRF's 405), the claims
// Middleware put in the context, errors through the error handler.
func (a *Auth) sessionEndpoint(method string, serve func(http.ResponseWriter, *http.Request, *Claims) error) http.Handler {
	allow := []string{method}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Allow"] = allow
		var err error
		if c, ok := ClaimsFrom(r.Context()); !ok {
			err = ErrNoCredentials
		} else if r.Method != method {
			err = methodNotAllowed(r.Method)
		} else {
			err = serve(w, a.auditRequest(r), c)
		}
		if err != nil {
			a.fail(w, r, err)
		}
	})
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// The bounds of a session's client metadata (WithSessionInfo).
const (
	maxClientPairs = 8
	maxClientName  = 32
	maxClientValue = 256
)

// defaultSessionInfo is what a login records about the client unless
// [WithSessionInfo] says otherwise: the request's User-Agent as
// "user_agent" and the client's address as "ip", as [Auth.ClientIP] reads
// it (through the trusted proxies of [WithTrustedProxies]), each left out
// when empty.
func (a *Auth) defaultSessionInfo(r *http.Request) map[string]string {
	m := make(map[string]string, 2)
	if ua := r.UserAgent(); ua != "" {
		m["user_agent"] = ua
	}
	if ip := a.ClientIP(r); ip.IsValid() {
		m["ip"] = ip.String()
	}
	return m
}

// clientOf returns the client metadata of a login request, as
// WithSessionInfo's hook says and bounded, or nil.
func (a *Auth) clientOf(r *http.Request) map[string]string {
	switch {
	case !a.sessionInfoSet:
		return boundClient(a.defaultSessionInfo(r))
	case a.sessionInfo == nil:
		return nil
	}
	return boundClient(a.sessionInfo(r))
}

// boundClient returns what the store may keep of m: at most
// maxClientPairs pairs (the first names in byte order), names of 1 to
// maxClientName bytes of valid UTF-8, values cut to maxClientValue bytes
// at a character boundary with invalid UTF-8 replaced. Values are copies,
// never slices of a larger string the store would keep alive (a 1 MB
// header).
func boundClient(m map[string]string) map[string]string {
	names := make([]string, 0, len(m))
	for k := range m {
		if k != "" && len(k) <= maxClientName && utf8.ValidString(k) {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return nil
	}
	slices.Sort(names)
	names = names[:min(len(names), maxClientPairs)]
	out := make(map[string]string, len(names))
	for _, k := range names {
		v := strings.ToValidUTF8(cutUTF8(m[k], maxClientValue), "\uFFFD")
		out[strings.Clone(k)] = strings.Clone(cutUTF8(v, maxClientValue))
	}
	return out
}

// cutUTF8 returns the longest prefix of s of at most n bytes that does not
// end inside a UTF-8 sequence.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
