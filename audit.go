package jwtpair

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
)

// Audit events. An Auth set up with WithAuditHook reports what happens to
// logins and sessions as Events, to one hook, synchronously, from the
// request (or the background work) that caused them. An Event names who
// and what (user, session, client address, reason), never a credential:
// no token, password, CSRF token, stamp or key material.

// EventKind says what an [Event] reports. Its values are the Event…
// constants; it is a string, so that it logs and marshals as written.
type EventKind string

// The kinds of [Event], in the order a session meets them. Reason is
// empty unless the kind lists its values.
const (
	// EventLoginSucceeded: a login started session SessionID of UserID
	// (the obtain endpoint, or [Auth.IssuePair]). When the per-user cap
	// ([WithMaxSessionsPerUser]) ended older sessions, an
	// EventSessionEnded with reason "session_cap" follows for each.
	EventLoginSucceeded EventKind = "login_succeeded"
	// EventLoginFailed: obtain refused Username's credentials (unknown
	// user, wrong password, inactive account: the Authenticator's
	// ErrInvalidCredentials).
	EventLoginFailed EventKind = "login_failed"
	// EventLoginThrottled: obtain answered 429 before the password was
	// checked. Reason: "login_per_ip" or "login_per_user_ip" (the
	// throttle of [Throttle] that refused), or "login_check" (a
	// [*ThrottledError] of the [WithLoginCheck] hook).
	EventLoginThrottled EventKind = "login_throttled"
	// EventLoginRefused: the application refused the login (a [*Refusal]
	// or [ErrPermissionDenied]). Reason: "login_check" (the
	// [WithLoginCheck] hook, before the password was checked) or
	// "authenticator" (the Authenticator, after).
	EventLoginRefused EventKind = "login_refused"
	// EventRefreshed: a refresh token of session SessionID was exchanged
	// (rotated, or checked when rotation is off).
	EventRefreshed EventKind = "refreshed"
	// EventReuseDetected: a rotated refresh token of session SessionID was
	// presented again (a stolen token, or a client that lost a rotation):
	// the store ended the session, which this event reports (no
	// EventSessionEnded follows).
	EventReuseDetected EventKind = "reuse_detected"
	// EventLoggedOut: the blacklist endpoint or [Auth.Revoke] ended
	// session SessionID (no EventSessionEnded follows).
	EventLoggedOut EventKind = "logged_out"
	// EventSessionEnded: a session ended otherwise than by a logout or
	// reuse. Reason:
	//   - "session_cap": a login of the user ended it, the oldest beyond
	//     [WithMaxSessionsPerUser];
	//   - "stamp_changed": a refresh found the user's stamp changed (see
	//     EventStampChanged, which comes first);
	//   - "user_ended": the signed-in user ended it ([Auth.EndSessionHandler]);
	//   - "user_ended_others": the signed-in user ended every session but
	//     the current one ([Auth.EndOtherSessionsHandler]); SessionID is "";
	//   - "end_session", "end_other_sessions", "end_all_sessions": the
	//     application called [Auth.EndSession], [Auth.EndOtherSessions],
	//     [Auth.EndAllSessions]; SessionID is "" for the last two.
	//
	// A call that ends a session already ended (or unknown, or another
	// user's) is reported all the same: the store does not say.
	EventSessionEnded EventKind = "session_ended"
	// EventStampChanged: a token of session SessionID carries another
	// user stamp than the user's current one ([User.Stamp]: a password
	// change). Reason: "refresh" (the refresh is refused and the session
	// ended: EventSessionEnded follows) or "user_check" (the middleware
	// refused a request, [WithUserCheck]; once per request refused).
	EventStampChanged EventKind = "stamp_changed"
	// EventKeySetRefreshed: a resource server ([WithJWKSURL]) installed a
	// key set fetched from its JWKS URL, at start, at each background
	// refresh, or on a refetch for an unknown kid. KeyIDs lists the kids it
	// verifies with from then on (empty: none usable). Its context is
	// context.Background(): no request caused it (the one that noticed a
	// new set, or named an unknown kid, only triggered the fetch).
	EventKeySetRefreshed EventKind = "key_set_refreshed"
)

// Event is one audit event: what happened (Kind, Reason), to whom
// (UserID, SessionID, or Username for a login that found no user), and
// from where (ClientIP). Fields that do not apply are zero. It never holds
// a token, a password, a CSRF token or a stamp.
//
// Switch on Kind to act on some events; log all of them with slog as
// they are (Event is a [slog.LogValuer] that leaves out the zero fields):
//
//	jwtpair.WithAuditHook(func(ctx context.Context, e jwtpair.Event) {
//		logger.LogAttrs(ctx, slog.LevelInfo, "audit", slog.Any("event", e))
//	})
//
// It also marshals to JSON with the same field names, for a sink of its
// own.
type Event struct {
	Kind EventKind `json:"kind"`
	// UserID is the user the event concerns; "" for a login that found
	// no user (failed, throttled, refused) and for EventKeySetRefreshed.
	UserID string `json:"user_id,omitempty"`
	// SessionID is the session (the sid claim) the event concerns; "" when
	// it names several (see EventSessionEnded) and for a token minted
	// without one (by simplejwt).
	SessionID string `json:"session_id,omitempty"`
	// Username is the username a failed, throttled or refused login tried,
	// as the Authenticator got it (trimmed), cut to 256 bytes; "" in every
	// other event. It is personal data, and sometimes a password typed
	// into the wrong field: a hook that must not keep it clears it (or
	// keeps a keyed hash of it) before logging.
	Username string `json:"username,omitempty"`
	// ClientIP is the client's address as [Auth.ClientIP] reads it (through
	// [WithTrustedProxies]), for an event caused by a request to one of the
	// Auth's handlers or its middleware; zero for one caused by a method
	// called without them (Auth.IssuePair, Auth.EndSession…) or by
	// the background.
	ClientIP netip.Addr `json:"client_ip,omitzero"`
	// Reason tells apart the causes of one kind; each kind lists its own.
	Reason string `json:"reason,omitempty"`
	// KeyIDs are the kids of an EventKeySetRefreshed.
	KeyIDs []string `json:"key_ids,omitempty"`
}

// LogValue implements [slog.LogValuer]: a group of the fields that are not
// zero, under the names of the JSON form.
func (e Event) LogValue() slog.Value {
	attrs := make([]slog.Attr, 1, 7)
	attrs[0] = slog.String("kind", string(e.Kind))
	for _, f := range [...]struct{ key, val string }{
		{"user_id", e.UserID}, {"session_id", e.SessionID}, {"username", e.Username}, {"reason", e.Reason},
	} {
		if f.val != "" {
			attrs = append(attrs, slog.String(f.key, f.val))
		}
	}
	if e.ClientIP.IsValid() {
		attrs = append(attrs, slog.String("client_ip", e.ClientIP.String()))
	}
	if e.KeyIDs != nil {
		attrs = append(attrs, slog.Any("key_ids", e.KeyIDs))
	}
	return slog.GroupValue(attrs...)
}

// emit hands e to the audit hook, if any, with the client address of the
// request the Auth's handlers are serving (auditRequest) unless e has one.
// A hook that panics is recovered and logged: the event is lost, the
// request goes on (see WithAuditHook).
func (a *Auth) emit(ctx context.Context, e Event) {
	if a.audit == nil {
		return
	}
	if !e.ClientIP.IsValid() {
		e.ClientIP, _ = ctx.Value(auditClientKey).(netip.Addr)
	}
	defer func() {
		if p := recover(); p != nil {
			a.logger.ErrorContext(ctx, "jwtpair: the audit hook panicked; the event is lost", "kind", e.Kind, "panic", p, "stack", string(debug.Stack()))
		}
	}()
	a.audit(ctx, e)
}

// auditClientKey is where auditRequest keeps the client's address in a
// request's context, for the events emitted deeper down (refresh, logout,
// session ends), which see only the context.
var auditClientKey = &contextKey{"jwtpair audit client address"}

// auditRequest returns r with its client's address in its context, for
// emit; r itself when there is no audit hook (no cost then).
func (a *Auth) auditRequest(r *http.Request) *http.Request {
	if a.audit == nil {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), auditClientKey, a.ClientIP(r)))
}

// maxAuditUsername bounds Event.Username: a login body may hold a
// 64 KiB username, which an attacker could otherwise have logged at will.
const maxAuditUsername = 256

// loginEvent emits an event of a login attempt that found no user.
func (a *Auth) loginEvent(r *http.Request, kind EventKind, username, reason string) {
	if a.audit == nil {
		return
	}
	username = strings.ToValidUTF8(cutUTF8(username, maxAuditUsername), "\uFFFD")
	a.emit(r.Context(), Event{Kind: kind, Username: strings.Clone(username), Reason: reason})
}

// loginRefused reports a login that err refuses before a user is issued
// tokens, from source (see EventLoginThrottled, EventLoginRefused), and
// returns err: a throttle's 429 as EventLoginThrottled, an application's
// refusal as EventLoginRefused, and a failure (an outage, 5xx) as nothing.
func (a *Auth) loginRefused(r *http.Request, username, source string, err error) error {
	var rf *Refusal
	switch {
	case errors.Is(err, ErrThrottled):
		a.loginEvent(r, EventLoginThrottled, username, source)
	case errors.As(err, &rf), errors.Is(err, ErrPermissionDenied):
		a.loginEvent(r, EventLoginRefused, username, source)
	}
	return err
}

// emitLogin reports a login: the session it started, then those the
// per-user cap ended.
func (a *Auth) emitLogin(ctx context.Context, userID, sessionID string, ended []string) {
	a.emit(ctx, Event{Kind: EventLoginSucceeded, UserID: userID, SessionID: sessionID})
	a.emitCapEnded(ctx, userID, ended)
}

// emitCapEnded reports the sessions of userID the per-user cap ended.
func (a *Auth) emitCapEnded(ctx context.Context, userID string, ended []string) {
	for _, sid := range ended {
		a.emit(ctx, Event{Kind: EventSessionEnded, UserID: userID, SessionID: sid, Reason: "session_cap"})
	}
}

// emitStampChanged reports a refresh refused for a changed user stamp,
// and the end of its session when the refresh ended it.
func (a *Auth) emitStampChanged(ctx context.Context, c *Claims, ended bool) {
	a.emit(ctx, Event{Kind: EventStampChanged, UserID: c.UserID, SessionID: c.SessionID, Reason: "refresh"})
	if ended {
		a.emit(ctx, Event{Kind: EventSessionEnded, UserID: c.UserID, SessionID: c.SessionID, Reason: "stamp_changed"})
	}
}
