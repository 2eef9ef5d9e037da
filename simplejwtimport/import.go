// Package simplejwtimport moves the refresh tokens of a simplejwt
// deployment into a [jwtpair.Store], so that a live service can move from
// djangorestframework-simplejwt to jwtpair without logging anyone out: the
// tokens simplejwt issued refresh against jwtpair, and those it
// blacklisted stay refused.
//
// It reads the two tables of simplejwt's token_blacklist app, as Django's
// migrations create them (the same from simplejwt 5.2 to 5.5.1, on
// PostgreSQL and SQLite):
//
//	token_blacklist_outstandingtoken (id, user_id NULL, jti UNIQUE, token, created_at NULL, expires_at)
//	token_blacklist_blacklistedtoken (id, token_id UNIQUE → outstandingtoken.id, blacklisted_at)
//
// through a *sql.DB the caller opens with the driver of their choice (this
// package needs only the standard library), and writes through the Store
// interface, so any store takes them. Each outstanding refresh token
// becomes a session of its own, named by its jti: simplejwt has no
// sessions, and a token it rotated or blacklisted must not end another
// one it still honours. That is the session jwtpair's adoption window
// (jwtpair.WithSimplejwtAdoption) records for a token it adopts, and the
// sid every token a refresh mints from it carries, so an imported token
// and an adopted one are the same session, and neither is recorded twice.
//
// Import is idempotent (a token already in the store is left as it is,
// and counted), resumable ([Options].After), and streams the table in
// pages of [Options].BatchSize rows, so its memory stays bounded however
// large the table. See the README's "Migrating from simplejwt" for the
// order of the steps.
//
// simplejwt records its sliding tokens there too. A live one is left
// alone: the adoption window takes it on its first renewal. One
// blacklisted there (SlidingToken.blacklist()), or whose user was
// deleted, is recorded ended, until its refresh_exp, so that no window
// renews it, nor a renewal of it (the same jti) simplejwt minted before.
package simplejwtimport

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jwtpair/jwtpair"
)

// The tables Import reads, as Django names them (simplejwt's models set no
// db_table). On PostgreSQL they are found through the connection's
// search_path.
const (
	OutstandingTable = "token_blacklist_outstandingtoken"
	BlacklistedTable = "token_blacklist_blacklistedtoken"
)

// DefaultBatchSize is how many rows one query of Import reads unless
// [Options].BatchSize says otherwise.
const DefaultBatchSize = 500

// Options configures [Import]. The zero value suits a default simplejwt
// and jwtpair.
type Options struct {
	// Leeway is the Auth's jwtpair.WithLeeway (simplejwt's LEEWAY): a
	// token counts as expired, and its record expires, Leeway after its
	// exp (a sliding token's: its refresh_exp). Default 0.
	Leeway time.Duration
	// UserIDClaim and TokenTypeClaim name the claims as the Auth's
	// jwtpair.WithUserIDClaim and jwtpair.WithTokenTypeClaim do
	// (simplejwt's USER_ID_CLAIM and TOKEN_TYPE_CLAIM). Defaults
	// "user_id" and "token_type".
	UserIDClaim, TokenTypeClaim string
	// BatchSize is how many rows one query reads. Default
	// [DefaultBatchSize].
	BatchSize int
	// After resumes an interrupted run: rows whose id is at most After
	// are not read. Pass the LastID of the interrupted run's [Report].
	// Default 0: every row.
	After int64
	// Now is the clock that decides which tokens have expired. Default
	// time.Now.
	Now func() time.Time
}

// Report counts what Import did with the outstanding tokens it read. Each
// row read is counted once, under the first of these that applies, in
// this order.
type Report struct {
	Rows int // outstanding tokens read

	// Unreadable: the token column does not hold a JWT whose payload has
	// the row's jti, an exp, a user id and a token type. Skipped: such a
	// token cannot verify here either.
	Unreadable int
	// NotRefresh: a token of another type than refresh, live: simplejwt's
	// sliding tokens are outstanding too. Skipped: the adoption window
	// takes a sliding token on its first renewal. (A sliding token
	// blacklisted there, or of a deleted user, counts below.)
	NotRefresh int
	// Expired: past its exp, a sliding token past its refresh_exp (plus
	// Leeway). Skipped: refused here anyway.
	Expired int
	// DeletedUser: user_id is NULL, its user was deleted (Django sets
	// NULL). Recorded as an ended session, so that no adoption window
	// brings it back.
	DeletedUser int
	// Blacklisted: blacklisted there. Recorded as an ended session, or,
	// when already in the store (imported by an earlier run, or adopted),
	// its session ended, successors included: refused here.
	Blacklisted int
	// Present: live there, and already in the store. Left as it is.
	Present int
	// Imported: live there, recorded here as a session of its own; it
	// refreshes as it did there.
	Imported int

	// LastID is the id of the last row done: [Options].After resumes
	// after it.
	LastID int64
}

// Import reads every outstanding token of the simplejwt database db and
// records its refresh tokens, and its sliding tokens that have ended, in
// store, as [Report] says. It returns what it did,
// and on an error what it did until then: a run interrupted by a database
// or store failure, or by ctx, resumes with Options.After set to
// Report.LastID (or starts over: what is there is skipped).
//
// It reads db one page at a time and holds no query open while it writes
// to store, so store may live in the same database, even on SQLite with a
// single connection. It issues one store call per token, and two or
// three for a token not yet in the store, or for a blacklisted one that
// is.
func Import(ctx context.Context, db *sql.DB, store jwtpair.Store, opts Options) (Report, error) {
	im := newImporter(store, opts)
	im.report.LastID = opts.After
	for {
		page, err := im.readPage(ctx, db)
		if err != nil {
			return im.report, err
		}
		for _, r := range page {
			if err := ctx.Err(); err != nil {
				return im.report, fmt.Errorf("simplejwtimport: %w", err)
			}
			if err := im.row(ctx, r); err != nil {
				return im.report, fmt.Errorf("simplejwtimport: outstanding token %d (jti %s): %w", r.id, r.jti, err)
			}
			im.report.LastID = r.id
		}
		if len(page) < im.batch {
			return im.report, nil
		}
	}
}

// importer is one run of Import.
type importer struct {
	store       jwtpair.Store
	leeway      time.Duration
	userID, typ string
	batch       int
	now         func() time.Time
	ended       time.Time // the absolute expiry of the sessions recorded ended
	report      Report
}

func newImporter(store jwtpair.Store, opts Options) *importer {
	im := &importer{
		store:  store,
		leeway: opts.Leeway,
		userID: cmp.Or(opts.UserIDClaim, "user_id"),
		typ:    cmp.Or(opts.TokenTypeClaim, "token_type"),
		batch:  opts.BatchSize,
		now:    opts.Now,
	}
	if im.batch <= 0 {
		im.batch = DefaultBatchSize
	}
	if im.now == nil {
		im.now = time.Now
	}
	// An hour before the run: past on the store's clock too, however
	// far behind it runs.
	im.ended = im.now().Add(-time.Hour)
	return im
}

// row is one outstanding token as the page query reads it.
type row struct {
	id          int64
	jti, token  string
	noUser      bool // user_id IS NULL
	blacklisted bool
}

// pageQuery reads the page after an id. It has no placeholders (their
// syntax differs between drivers): the id and the limit are integers the
// importer formats itself. The flags are CASE integers, which every
// database returns alike.
const pageQuery = `SELECT o.id, o.jti, o.token,
 CASE WHEN o.user_id IS NULL THEN 1 ELSE 0 END,
 CASE WHEN b.id IS NULL THEN 0 ELSE 1 END
FROM ` + OutstandingTable + ` o LEFT JOIN ` + BlacklistedTable + ` b ON b.token_id = o.id
WHERE o.id > %d ORDER BY o.id LIMIT %d`

// readPage reads the rows after the last one done, at most a batch, and
// closes the query before returning.
func (im *importer) readPage(ctx context.Context, db *sql.DB) ([]row, error) {
	rows, err := db.QueryContext(ctx, fmt.Sprintf(pageQuery, im.report.LastID, im.batch))
	if err != nil {
		return nil, fmt.Errorf("simplejwtimport: reading %s after id %d: %w", OutstandingTable, im.report.LastID, err)
	}
	defer rows.Close()
	page := make([]row, 0, im.batch)
	for rows.Next() {
		var r row
		var noUser, blacklisted int64
		if err := rows.Scan(&r.id, &r.jti, &r.token, &noUser, &blacklisted); err != nil {
			return nil, fmt.Errorf("simplejwtimport: reading %s after id %d: %w", OutstandingTable, im.report.LastID, err)
		}
		r.noUser, r.blacklisted = noUser != 0, blacklisted != 0
		page = append(page, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("simplejwtimport: reading %s after id %d: %w", OutstandingTable, im.report.LastID, err)
	}
	return page, nil
}

// row records one outstanding token in the store and counts it.
func (im *importer) row(ctx context.Context, r row) error {
	im.report.Rows++
	t, ok := im.parse(r.token)
	ended := r.noUser || r.blacklisted
	switch {
	case !ok || t.jti != r.jti:
		im.report.Unreadable++
		return nil
	case t.typ != jwtpair.TokenTypeRefresh && (t.typ != jwtpair.TokenTypeSliding || !ended):
		im.report.NotRefresh++
		return nil
	case !im.now().Before(t.end.Add(im.leeway)):
		im.report.Expired++
		return nil
	}
	rec := jwtpair.Record{JTI: r.jti, UserID: t.userID, SessionID: r.jti, ExpiresAt: t.end.Add(im.leeway)}
	present, err := im.ensure(ctx, rec, ended)
	if err != nil {
		return err
	}
	if ended && present {
		if err := im.end(ctx, rec); err != nil {
			return err
		}
	}
	switch {
	case r.noUser:
		im.report.DeletedUser++
	case r.blacklisted:
		im.report.Blacklisted++
	case present:
		im.report.Present++
	default:
		im.report.Imported++
	}
	return nil
}

// ensure makes sure the store knows rec, and reports whether it knew it
// already. A token not yet known is recorded as a session of its own:
// live, or, when ended, as a session past its absolute expiry, which the
// store refuses (ErrTokenBlacklisted) until the token expires, without a
// revocation in its feed (no access token of it exists here).
func (im *importer) ensure(ctx context.Context, rec jwtpair.Record, ended bool) (bool, error) {
	known, err := im.known(ctx, rec)
	if err != nil || known {
		return known, err
	}
	var opts jwtpair.IssueOptions
	if ended {
		opts.AbsoluteExpiry = im.ended
	}
	if _, err := im.store.Issue(ctx, rec, opts); err != nil { // no cap: it ends nothing
		// Recorded meanwhile, by an Auth adopting it?
		if known, kerr := im.known(ctx, rec); kerr == nil && known {
			return true, nil
		}
		return false, err
	}
	return false, nil
}

// end ends the session of rec, a token the store knew, when it is live:
// imported or adopted already, and maybe refreshed here since, so that its
// successors are refused too, and their access tokens through the
// store's feed. A session ended already is left as it is, and its end is
// not recorded in the feed again.
func (im *importer) end(ctx context.Context, rec jwtpair.Record) error {
	list, err := im.store.Sessions(ctx, rec.UserID)
	if err != nil || !slices.ContainsFunc(list, func(s jwtpair.Session) bool { return s.ID == rec.SessionID }) {
		return err
	}
	return im.store.EndSession(ctx, rec.UserID, rec.SessionID)
}

// known reports whether the store has rec's token, in any state.
func (im *importer) known(ctx context.Context, rec jwtpair.Record) (bool, error) {
	err := im.store.Check(ctx, jwtpair.Token{JTI: rec.JTI, UserID: rec.UserID, SessionID: rec.SessionID})
	switch {
	case err == nil, errors.Is(err, jwtpair.ErrTokenBlacklisted):
		return true, nil
	case errors.Is(err, jwtpair.ErrTokenNotFound):
		return false, nil
	}
	return false, err
}

// token is what Import reads of a token's payload.
type token struct {
	jti, userID, typ string
	end              time.Time // its exp; a sliding token's refresh_exp, which its renewals keep
}

// parse reads the payload of a compact JWS without verifying it: the
// database is the deployment's own, and a token whose signature does not
// verify is refused here whatever its record says. The user id is kept as
// jwtpair reads it: a string as it is, an integer (simplejwt before 5.5
// writes integer keys as numbers) as its decimal text.
func (im *importer) parse(tok string) (token, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return token{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return token{}, false
	}
	var claims map[string]json.RawMessage
	if json.Unmarshal(payload, &claims) != nil {
		return token{}, false
	}
	var t token
	var exp json.Number
	if json.Unmarshal(claims["jti"], &t.jti) != nil || json.Unmarshal(claims[im.typ], &t.typ) != nil ||
		json.Unmarshal(claims["exp"], &exp) != nil || t.jti == "" {
		return token{}, false
	}
	var ok bool
	if t.end, ok = numericDate(exp); !ok {
		return token{}, false
	}
	var refreshExp json.Number
	if t.typ == jwtpair.TokenTypeSliding && json.Unmarshal(claims["refresh_exp"], &refreshExp) == nil {
		if end, ok := numericDate(refreshExp); ok && end.After(t.end) {
			t.end = end
		}
	}
	if t.userID, ok = userID(claims[im.userID]); !ok {
		return token{}, false
	}
	return t, true
}

// numericDate reads a JWT NumericDate: seconds, maybe with a fraction.
func numericDate(n json.Number) (time.Time, bool) {
	if s, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return time.Unix(s, 0), true
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || f < 0 || f > 1<<40 {
		return time.Time{}, false
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), true
}

// userID reads the user id claim: a non-empty string, or an integer.
func userID(raw json.RawMessage) (string, bool) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, s != ""
	}
	var n json.Number
	if json.Unmarshal(raw, &n) != nil || strings.ContainsAny(string(n), ".eE") {
		return "", false
	}
	return string(n), true
}
