package sqlstore_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
	"github.com/jwtpair/jwtpair/sqlstore"
	"github.com/jwtpair/jwtpair/storetest"
)

// otherDriver is a database/sql driver sqlstore cannot recognise.
type otherDriver struct{}

func (otherDriver) Open(string) (driver.Conn, error) { return nil, errors.New("not a database") }

type connector struct{}

func (connector) Connect(context.Context) (driver.Conn, error) {
	return nil, errors.New("not a database")
}
func (connector) Driver() driver.Driver { return otherDriver{} }

func TestNew(t *testing.T) {
	lite, err := sql.Open("sqlite", ":memory:")
	require.NoError(t, err)
	t.Cleanup(func() { _ = lite.Close() })
	pg, err := sql.Open("pgx", "postgres://127.0.0.1:1/none")
	require.NoError(t, err)
	t.Cleanup(func() { _ = pg.Close() })
	other := sql.OpenDB(connector{})
	t.Cleanup(func() { _ = other.Close() })

	s, err := sqlstore.New(lite)
	require.NoError(t, err)
	assert.Equal(t, sqlstore.DialectSQLite, s.Dialect())
	assert.Equal(t, time.Hour, s.RevocationRetention(), "the default retention")
	s, err = sqlstore.New(pg, sqlstore.WithRevocationRetention(2*time.Hour))
	require.NoError(t, err)
	assert.Equal(t, sqlstore.DialectPostgres, s.Dialect())
	assert.Equal(t, 2*time.Hour, s.RevocationRetention())
	s, err = sqlstore.New(other, sqlstore.WithDialect(sqlstore.DialectPostgres))
	require.NoError(t, err)
	assert.Equal(t, sqlstore.DialectPostgres, s.Dialect())
	_, err = sqlstore.New(lite, sqlstore.WithTablePrefix(""))
	require.NoError(t, err, "an empty prefix is allowed")

	bad := []struct {
		name string
		db   *sql.DB
		opts []sqlstore.Option
		want string
	}{
		{"nil db", nil, nil, "nil *sql.DB"},
		{"unknown driver", other, nil, "cannot tell the dialect"},
		{"unknown dialect", lite, []sqlstore.Option{sqlstore.WithDialect(sqlstore.Dialect(9))}, "unknown dialect"},
		{"prefix with a quote", lite, []sqlstore.Option{sqlstore.WithTablePrefix(`x"; DROP TABLE y; --`)}, "invalid table prefix"},
		{"prefix with a dot", lite, []sqlstore.Option{sqlstore.WithTablePrefix("auth.jwt_")}, "invalid table prefix"},
		{"prefix starting with a digit", lite, []sqlstore.Option{sqlstore.WithTablePrefix("1x_")}, "invalid table prefix"},
		{"prefix too long", lite, []sqlstore.Option{sqlstore.WithTablePrefix(strings.Repeat("x", 41))}, "invalid table prefix"},
		{"janitor zero", lite, []sqlstore.Option{sqlstore.WithJanitor(0)}, "janitor interval"},
		{"janitor negative", lite, []sqlstore.Option{sqlstore.WithJanitor(-time.Second)}, "janitor interval"},
		{"retention zero", lite, []sqlstore.Option{sqlstore.WithRevocationRetention(0)}, "revocation retention"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			s, err := sqlstore.New(tc.db, tc.opts...)
			require.ErrorContains(t, err, tc.want)
			require.Nil(t, s)
		})
	}
}

func TestSchema(t *testing.T) {
	lite, err := sql.Open("sqlite", ":memory:")
	require.NoError(t, err)
	t.Cleanup(func() { _ = lite.Close() })
	for _, d := range []sqlstore.Dialect{sqlstore.DialectPostgres, sqlstore.DialectSQLite} {
		s, err := sqlstore.New(lite, sqlstore.WithDialect(d), sqlstore.WithTablePrefix("auth_"))
		require.NoError(t, err)
		schema := s.Schema()
		assert.NotContains(t, schema, "jwtpair_", d)
		for _, want := range []string{
			"CREATE TABLE IF NOT EXISTS auth_sessions", "CREATE TABLE IF NOT EXISTS auth_tokens",
			"CREATE TABLE IF NOT EXISTS auth_revocations",
			"auth_sessions (user_id, created_at DESC)", "auth_sessions (expires_at)",
			"auth_tokens (expires_at)", "auth_revocations (at)",
			"AFTER UPDATE OF ended_at ON auth_sessions",
		} {
			assert.Contains(t, schema, want, d)
		}
	}
}

func TestMigrate(t *testing.T) {
	forEach(t, func(t *testing.T, be backend) {
		prefix, open := be.newDB(t)
		db := open(t)
		s, err := sqlstore.New(db, sqlstore.WithTablePrefix(prefix))
		require.NoError(t, err)
		ctx := t.Context()

		// Several processes migrating at once, then again: all succeed.
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() {
				s, err := sqlstore.New(open(t), sqlstore.WithTablePrefix(prefix))
				if err == nil {
					err = s.Migrate(ctx)
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		require.NoError(t, s.Migrate(ctx))

		rec := login(t, s, newUser(), jwtpair.IssueOptions{})
		require.NoError(t, s.Migrate(ctx), "migrating again keeps the data")
		require.NoError(t, s.Check(ctx, tokenOf(rec)))
		require.NoError(t, s.EndSession(ctx, rec.UserID, rec.SessionID))
		revs, _ := drain(t, s, "")
		require.Equal(t, []string{rec.SessionID}, sessionIDs(revs), "one trigger, however often migrated")
	})
}

// familySchema is the schema of the development versions before sessions
// (commit 97aed83), which Migrate refuses.
var familySchema = map[string][]string{
	"postgres": {
		`CREATE TABLE {p}families (family_id text PRIMARY KEY, user_id text NOT NULL, created_at bigint NOT NULL, expires_at bigint NOT NULL, revoked_at bigint)`,
		`CREATE TABLE {p}tokens (jti text PRIMARY KEY, family_id text NOT NULL, user_id text NOT NULL, state text NOT NULL, parent_jti text, issued_at bigint NOT NULL, expires_at bigint NOT NULL, consumed_at bigint, replays integer NOT NULL DEFAULT 0, revoked_at bigint)`,
	},
	"sqlite": {
		`CREATE TABLE {p}families (family_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, revoked_at INTEGER) WITHOUT ROWID`,
		`CREATE TABLE {p}tokens (jti TEXT PRIMARY KEY, family_id TEXT NOT NULL, user_id TEXT NOT NULL, state TEXT NOT NULL, parent_jti TEXT, issued_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, consumed_at INTEGER, replays INTEGER NOT NULL DEFAULT 0, revoked_at INTEGER) WITHOUT ROWID`,
	},
}

// TestMigrateRefusesFamilySchema: a database holding the family schema's
// tables (both, or only the tokens table) is refused with an error that
// says what to do, and left as it was; once they are dropped, Migrate
// creates the session schema.
func TestMigrateRefusesFamilySchema(t *testing.T) {
	forEach(t, func(t *testing.T, be backend) {
		for _, tables := range [][]int{{0, 1}, {1}} {
			prefix, open := be.newDB(t)
			db := open(t)
			for _, i := range tables {
				exec(t, db, strings.ReplaceAll(familySchema[be.name][i], "{p}", prefix))
			}
			s, err := sqlstore.New(db, sqlstore.WithTablePrefix(prefix))
			require.NoError(t, err)
			err = s.Migrate(t.Context())
			require.ErrorContains(t, err, "unreleased family schema")
			require.ErrorContains(t, err, "DROP TABLE "+prefix+"tokens, "+prefix+"families")
			_, err = db.ExecContext(t.Context(), "SELECT 1 FROM "+prefix+"sessions")
			require.Error(t, err, "nothing was created")

			exec(t, db, "DROP TABLE IF EXISTS "+prefix+"tokens")
			exec(t, db, "DROP TABLE IF EXISTS "+prefix+"families")
			require.NoError(t, s.Migrate(t.Context()))
			require.NoError(t, s.Check(t.Context(), tokenOf(login(t, s, newUser(), jwtpair.IssueOptions{}))))
		}
	})
}

// TestSessions: what Issue records, Rotate moves and Sessions lists.
func TestSessions(t *testing.T) {
	forEach(t, func(t *testing.T, be backend) {
		s, db, prefix := newStoreDB(t, be)
		ctx := t.Context()
		user := newUser()
		abs := time.Now().Add(48 * time.Hour).Truncate(time.Microsecond)
		client := map[string]string{"user_agent": "curl/8 \u00e9", "ip": "192.0.2.1"}
		before := time.Now().Add(-time.Second)
		a := login(t, s, user, jwtpair.IssueOptions{AbsoluteExpiry: abs, Client: client})
		time.Sleep(5 * time.Millisecond) // a later Created, at SQLite's millisecond
		b := login(t, s, user, jwtpair.IssueOptions{})
		login(t, s, newUser(), jwtpair.IssueOptions{}) // another user's

		list, err := s.Sessions(ctx, user)
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Equal(t, []string{b.SessionID, a.SessionID}, []string{list[0].ID, list[1].ID}, "newest first")
		sa := list[1]
		assert.Equal(t, user, sa.UserID)
		assert.Equal(t, client, sa.Client)
		assert.Nil(t, list[0].Client)
		assert.True(t, sa.AbsoluteExpiry.Equal(abs), "%v", sa.AbsoluteExpiry)
		assert.True(t, list[0].AbsoluteExpiry.IsZero())
		assert.True(t, sa.Created.After(before) && sa.Created.Before(time.Now().Add(time.Second)), "%v", sa.Created)
		assert.Equal(t, sa.Created, sa.LastRefreshed, "before the first refresh")
		assert.Equal(t, a.ExpiresAt.UnixNano(), sa.ExpiresAt.UnixNano())

		// A rotation moves LastRefreshed and ExpiresAt (only forward).
		time.Sleep(5 * time.Millisecond)
		next := successor()
		next.ExpiresAt = a.ExpiresAt.Add(time.Hour)
		require.NoError(t, s.Rotate(ctx, tokenOf(a), next, jwtpair.RotateOptions{}))
		list, err = s.Sessions(ctx, user)
		require.NoError(t, err)
		sa = list[1]
		assert.True(t, sa.LastRefreshed.After(sa.Created), "%v after %v", sa.LastRefreshed, sa.Created)
		assert.Equal(t, next.ExpiresAt.UnixNano(), sa.ExpiresAt.UnixNano())
		earlier := successor()
		earlier.ExpiresAt = a.ExpiresAt
		require.NoError(t, s.Rotate(ctx, jwtpair.Token{JTI: next.JTI, UserID: user}, earlier, jwtpair.RotateOptions{}))
		list, err = s.Sessions(ctx, user)
		require.NoError(t, err)
		assert.Equal(t, next.ExpiresAt.UnixNano(), list[1].ExpiresAt.UnixNano(), "the idle expiry never moves back")

		// Ended, idle-expired and absolutely expired sessions are not listed.
		require.NoError(t, s.EndSession(ctx, user, b.SessionID))
		require.Equal(t, []string{a.SessionID}, live(t, s, user))
		c, d := login(t, s, user, jwtpair.IssueOptions{}), login(t, s, user, jwtpair.IssueOptions{})
		exec(t, db, "UPDATE "+prefix+"sessions SET expires_at = $1 WHERE session_id = $2", time.Now().Add(-time.Second).UnixNano(), c.SessionID)
		exec(t, db, "UPDATE "+prefix+"sessions SET absolute_expiry = $1 WHERE session_id = $2", time.Now().Add(-time.Second).UnixNano(), d.SessionID)
		require.Equal(t, []string{a.SessionID}, live(t, s, user))
		require.ErrorIs(t, s.Rotate(ctx, tokenOf(d), successor(), jwtpair.RotateOptions{}), jwtpair.ErrTokenBlacklisted,
			"past its absolute expiry")
		require.ErrorIs(t, s.Check(ctx, tokenOf(d)), jwtpair.ErrTokenBlacklisted)

		none, err := s.Sessions(ctx, newUser())
		require.NoError(t, err)
		require.Empty(t, none, "an unknown user has none")
	})
}

// TestTokenOwnership: a token presented with another user or session than
// its record's is unknown to Check, Rotate and Revoke, and changes nothing;
// a token without sid finds its session from its record.
func TestTokenOwnership(t *testing.T) {
	forEach(t, func(t *testing.T, be backend) {
		s := newStore(t, be)
		ctx := t.Context()
		a := login(t, s, newUser(), jwtpair.IssueOptions{})
		b := login(t, s, newUser(), jwtpair.IssueOptions{})
		for name, tok := range map[string]jwtpair.Token{
			"another user":             {JTI: a.JTI, UserID: b.UserID, SessionID: a.SessionID},
			"another user, no sid":     {JTI: a.JTI, UserID: b.UserID},
			"another session":          {JTI: a.JTI, UserID: a.UserID, SessionID: b.SessionID},
			"another user and session": {JTI: a.JTI, UserID: b.UserID, SessionID: b.SessionID},
		} {
			require.ErrorIs(t, s.Check(ctx, tok), jwtpair.ErrTokenNotFound, name)
			require.ErrorIs(t, s.Rotate(ctx, tok, successor(), jwtpair.RotateOptions{}), jwtpair.ErrTokenNotFound, name)
			require.ErrorIs(t, s.Revoke(ctx, tok), jwtpair.ErrTokenNotFound, name)
		}
		require.NoError(t, s.Check(ctx, tokenOf(a)), "untouched")
		require.Equal(t, []string{a.SessionID}, live(t, s, a.UserID))

		// EndSession of another user's session changes nothing.
		require.NoError(t, s.EndSession(ctx, b.UserID, a.SessionID))
		require.NoError(t, s.EndSession(ctx, a.UserID, "s-unknown"))
		require.NoError(t, s.Check(ctx, tokenOf(a)))

		noSID := jwtpair.Token{JTI: a.JTI, UserID: a.UserID}
		require.NoError(t, s.Check(ctx, noSID))
		require.NoError(t, s.Revoke(ctx, noSID))
		require.ErrorIs(t, s.Check(ctx, tokenOf(a)), jwtpair.ErrTokenBlacklisted)
	})
}

// TestEndSessions: ending one session, all but one, and all; each end
// once in the feed, idempotent; sessions started afterwards unaffected.
func TestEndSessions(t *testing.T) {
	forEach(t, func(t *testing.T, be backend) {
		s := newStore(t, be)
		ctx := t.Context()
		user, other := newUser(), newUser()
		_, cursor := drain(t, s, "")
		a, b, c := login(t, s, user, jwtpair.IssueOptions{}), login(t, s, user, jwtpair.IssueOptions{}), login(t, s, user, jwtpair.IssueOptions{})
		o := login(t, s, other, jwtpair.IssueOptions{})

		require.NoError(t, s.EndSession(ctx, user, a.SessionID))
		require.NoError(t, s.EndSession(ctx, user, a.SessionID), "idempotent")
		require.ErrorIs(t, s.Check(ctx, tokenOf(a)), jwtpair.ErrTokenBlacklisted)
		revs, cursor := drain(t, s, cursor)
		require.Equal(t, []string{a.SessionID}, sessionIDs(revs))
		require.Equal(t, user, revs[0].UserID)

		require.NoError(t, s.EndSessions(ctx, user, c.SessionID))
		require.ErrorIs(t, s.Check(ctx, tokenOf(b)), jwtpair.ErrTokenBlacklisted)
		require.NoError(t, s.Check(ctx, tokenOf(c)), "the session kept")
		revs, cursor = drain(t, s, cursor)
		require.Equal(t, []string{b.SessionID}, sessionIDs(revs), "no user-wide entry when one is kept")

		require.NoError(t, s.EndSessions(ctx, user, ""))
		require.ErrorIs(t, s.Check(ctx, tokenOf(c)), jwtpair.ErrTokenBlacklisted)
		require.NoError(t, s.Check(ctx, tokenOf(o)), "another user's session")
		revs, cursor = drain(t, s, cursor)
		require.ElementsMatch(t, []string{c.SessionID, "*"}, sessionIDs(revs))

		d := login(t, s, user, jwtpair.IssueOptions{})
		require.NoError(t, s.Check(ctx, tokenOf(d)), "a session started afterwards")
		require.NoError(t, s.EndSessions(ctx, newUser(), ""), "an unknown user")
		revs, _ = drain(t, s, cursor)
		require.Equal(t, []string{"*"}, sessionIDs(revs), "the user-wide entry covers tokens without a session")
	})
}

// TestEveryEndInFeed: logout, logout with a consumed token, reuse detected
// by Rotate and eviction by the cap each record the session's revocation.
func TestEveryEndInFeed(t *testing.T) {
	forEach(t, func(t *testing.T, be backend) {
		s := newStore(t, be)
		ctx := t.Context()
		_, cursor := drain(t, s, "")
		user := newUser()

		logout := login(t, s, user, jwtpair.IssueOptions{})
		require.NoError(t, s.Revoke(ctx, tokenOf(logout)))
		stale := login(t, s, user, jwtpair.IssueOptions{})
		require.NoError(t, s.Rotate(ctx, tokenOf(stale), successor(), jwtpair.RotateOptions{}))
		require.ErrorIs(t, s.Revoke(ctx, tokenOf(stale)), jwtpair.ErrTokenBlacklisted)
		reused := login(t, s, user, jwtpair.IssueOptions{})
		require.NoError(t, s.Rotate(ctx, tokenOf(reused), successor(), jwtpair.RotateOptions{}))
		require.ErrorIs(t, s.Rotate(ctx, tokenOf(reused), successor(), jwtpair.RotateOptions{}), jwtpair.ErrTokenReused)
		evicted := login(t, s, user, jwtpair.IssueOptions{})
		time.Sleep(2 * time.Millisecond)
		kept := login(t, s, user, jwtpair.IssueOptions{MaxSessions: 1})

		revs, _ := drain(t, s, cursor)
		require.Equal(t, []string{logout.SessionID, stale.SessionID, reused.SessionID, evicted.SessionID}, sessionIDs(revs))
		for _, r := range revs {
			assert.Equal(t, user, r.UserID)
			assert.WithinDuration(t, time.Now(), r.At, 10*time.Second)
		}
		require.Equal(t, []string{kept.SessionID}, live(t, s, user))
	})
}

// TestCapEvictsOldest: the cap ends the oldest sessions by Created, never
// the new one, counts only live sessions, and forgets those it ends.
func TestCapEvictsOldest(t *testing.T) {
	forEach(t, func(t *testing.T, be backend) {
		s, db, prefix := newStoreDB(t, be)
		ctx := t.Context()
		user := newUser()
		var ids []string
		var recs []jwtpair.Record
		for range 4 {
			recs = append(recs, login(t, s, user, jwtpair.IssueOptions{}))
			ids = append(ids, recs[len(recs)-1].SessionID)
			time.Sleep(2 * time.Millisecond)
		}
		first, second := recs[0], recs[1]
		require.NoError(t, s.EndSession(ctx, user, ids[1]))
		e := login(t, s, user, jwtpair.IssueOptions{MaxSessions: 3})
		require.Equal(t, []string{e.SessionID, ids[3], ids[2]}, live(t, s, user), "the oldest live one went")
		require.ErrorIs(t, s.Check(ctx, tokenOf(first)), jwtpair.ErrTokenNotFound, "forgotten, tokens and all")
		var rows int
		require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM "+prefix+"tokens WHERE session_id = '"+first.SessionID+"'").Scan(&rows))
		require.Zero(t, rows)
		require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM "+prefix+"sessions WHERE session_id = '"+first.SessionID+"'").Scan(&rows))
		require.Zero(t, rows)
		require.ErrorIs(t, s.Check(ctx, tokenOf(second)), jwtpair.ErrTokenBlacklisted, "an ended session is no live one: kept")
		f := login(t, s, user, jwtpair.IssueOptions{MaxSessions: 1})
		require.Equal(t, []string{f.SessionID}, live(t, s, user))
		g := login(t, s, user, jwtpair.IssueOptions{MaxSessions: 5})
		require.Equal(t, []string{g.SessionID, f.SessionID}, live(t, s, user), "under the cap nothing ends")

		// A session stamped later than the new one (a clock stepped back,
		// or a tie at SQLite's millisecond) still goes before the new one.
		exec(t, db, "UPDATE "+prefix+"sessions SET created_at = $1 WHERE session_id = $2", time.Now().Add(time.Hour).UnixNano(), g.SessionID)
		h := login(t, s, user, jwtpair.IssueOptions{MaxSessions: 1})
		require.Equal(t, []string{h.SessionID}, live(t, s, user), "the new session is never the one ended")
	})
}

// TestCapConcurrentLogins: 48 logins of one user at once over two
// connection pools (two processes), cap 3: no reader ever sees more than 3
// live sessions, 3 are left, and each of the others is in the feed. On
// PostgreSQL this holds only because Issue takes the user's advisory lock
// before the statement that counts: without it, each concurrent Issue
// counts on a snapshot without the others' sessions.
func TestCapConcurrentLogins(t *testing.T) {
	forEach(t, func(t *testing.T, be backend) {
		const n, limit = 48, 3
		prefix, open := be.newDB(t)
		db := open(t)
		s1, s2 := storeOn(t, db, prefix), storeOn(t, open(t), prefix)
		ctx := t.Context()
		_, cursor := drain(t, s1, "")
		for round := range 3 {
			user := newUser()
			var most atomic.Int64
			stop := make(chan struct{})
			var watch sync.WaitGroup
			watch.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if got := int64(len(live(t, s2, user))); got > most.Load() {
						most.Store(got)
					}
				}
			})
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				wg.Go(func() {
					<-start
					s := []*sqlstore.Store{s1, s2}[i%2]
					assert.NoError(t, issueErr(s.Issue(ctx, record(user), jwtpair.IssueOptions{MaxSessions: limit})))
				})
			}
			close(start)
			wg.Wait()
			close(stop)
			watch.Wait()
			require.Len(t, live(t, s1, user), limit, "round %d", round)
			var rows int
			require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM "+prefix+"sessions WHERE user_id = '"+user+"'").Scan(&rows))
			require.Equal(t, limit, rows, "round %d: the user's rows stay bounded by the cap", round)
			require.LessOrEqual(t, most.Load(), int64(limit), "round %d: a reader saw more live sessions than the cap", round)
			var revs []jwtpair.Revocation
			revs, cursor = drain(t, s1, cursor)
			require.Len(t, revs, n-limit, "round %d: every evicted session is in the feed", round)
		}
	})
}

// TestExpiryOnDatabaseClock: a token past its expiry, as stored, is unknown,
// and its jti (and its session's id, once the session expired) may be
// recorded again before the purge.
func TestExpiryOnDatabaseClock(t *testing.T) {
	forEach(t, func(t *testing.T, be backend) {
		s, db, prefix := newStoreDB(t, be)
		ctx := t.Context()
		past := time.Now().Add(-time.Second).UnixNano()

		a := login(t, s, newUser(), jwtpair.IssueOptions{})
		require.NoError(t, s.Check(ctx, tokenOf(a)))
		exec(t, db, "UPDATE "+prefix+"tokens SET expires_at = $1 WHERE jti = $2", past, a.JTI)
		require.ErrorIs(t, s.Check(ctx, tokenOf(a)), jwtpair.ErrTokenNotFound)
		require.ErrorIs(t, s.Revoke(ctx, tokenOf(a)), jwtpair.ErrTokenNotFound)
		require.ErrorIs(t, s.Rotate(ctx, tokenOf(a), successor(), jwtpair.RotateOptions{}), jwtpair.ErrTokenNotFound)

		storetest.RequireUnavailable(t, issueErr(s.Issue(ctx, a, jwtpair.IssueOptions{})), "the session is live")
		exec(t, db, "UPDATE "+prefix+"sessions SET expires_at = $1, ended_at = $1 WHERE session_id = $2", past, a.SessionID)
		require.NoError(t, issueErr(s.Issue(ctx, a, jwtpair.IssueOptions{})), "an expired session's id and jti")
		require.NoError(t, s.Check(ctx, tokenOf(a)), "the session starts afresh, not ended")

		b, c := login(t, s, newUser(), jwtpair.IssueOptions{}), login(t, s, newUser(), jwtpair.IssueOptions{})
		exec(t, db, "UPDATE "+prefix+"tokens SET expires_at = $1 WHERE jti = $2", past, c.JTI)
		next := successor()
		next.JTI = c.JTI
		require.NoError(t, s.Rotate(ctx, tokenOf(b), next, jwtpair.RotateOptions{}))
		require.NoError(t, s.Check(ctx, jwtpair.Token{JTI: c.JTI, UserID: b.UserID, SessionID: b.SessionID}),
			"the successor took the expired jti, in b's session")
	})
}

// TestGraceWindowOnDatabaseClock moves a token's consumption time, as
// stored, to either side of the window's edge on the database's clock:
// 50 ms inside is a replay, 50 ms outside is reuse. No sleep: the window is
// 10 s.
func TestGraceWindowOnDatabaseClock(t *testing.T) {
	forEach(t, func(t *testing.T, be backend) {
		const grace = 10 * time.Second
		s, db, prefix := newStoreDB(t, be)
		ctx := t.Context()
		opts := jwtpair.RotateOptions{Grace: grace}
		set := func(jti string, at time.Time) {
			exec(t, db, "UPDATE "+prefix+"tokens SET consumed_at = $1 WHERE jti = $2", at.UnixNano(), jti)
		}

		a := login(t, s, newUser(), jwtpair.IssueOptions{})
		require.NoError(t, s.Rotate(ctx, tokenOf(a), successor(), opts))
		set(a.JTI, time.Now().Add(-grace+50*time.Millisecond))
		require.NoError(t, s.Rotate(ctx, tokenOf(a), successor(), opts), "consumed 9.95 s ago")
		set(a.JTI, time.Now().Add(-grace-50*time.Millisecond))
		require.ErrorIs(t, s.Rotate(ctx, tokenOf(a), successor(), opts), jwtpair.ErrTokenReused, "consumed 10.05 s ago")
	})
}

func TestIssueRefusals(t *testing.T) {
	forEach(t, func(t *testing.T, be backend) {
		s, db, prefix := newStoreDB(t, be)
		ctx := t.Context()
		a := login(t, s, newUser(), jwtpair.IssueOptions{})
		sessions := count(t, db, prefix+"sessions")

		for _, capped := range []int{0, 2} {
			dup := record(newUser()) // a new session, refused: it must not be created
			dup.JTI = a.JTI
			storetest.RequireUnavailable(t, issueErr(s.Issue(ctx, dup, jwtpair.IssueOptions{MaxSessions: capped})), "duplicate jti")
			require.Empty(t, live(t, s, dup.UserID), "the refused Issue left no session behind")

			stranger := record(newUser())
			stranger.SessionID = a.SessionID
			storetest.RequireUnavailable(t, issueErr(s.Issue(ctx, stranger, jwtpair.IssueOptions{MaxSessions: capped})), "another user's session")
			require.ErrorIs(t, s.Check(ctx, tokenOf(stranger)), jwtpair.ErrTokenNotFound)
			same := record(a.UserID)
			same.SessionID = a.SessionID
			storetest.RequireUnavailable(t, issueErr(s.Issue(ctx, same, jwtpair.IssueOptions{MaxSessions: capped})), "a live session")
		}
		require.Equal(t, sessions, count(t, db, prefix+"sessions"))
		require.NoError(t, s.Check(ctx, tokenOf(a)))

		// A Rotate successor held by a live record is refused; nothing changes.
		b := login(t, s, newUser(), jwtpair.IssueOptions{})
		taken := successor()
		taken.JTI = a.JTI
		storetest.RequireUnavailable(t, s.Rotate(ctx, tokenOf(b), taken, jwtpair.RotateOptions{}))
		require.NoError(t, s.Check(ctx, tokenOf(b)), "the presented token stays active")
		require.NoError(t, s.Check(ctx, tokenOf(a)))
	})
}

// TestConcurrentRotateAcrossPools: 64 rotations of one token, grace 0, over
// two connection pools (two processes): exactly one wins, every round, and
// the session ends (reuse).
func TestConcurrentRotateAcrossPools(t *testing.T) {
	forEach(t, func(t *testing.T, be backend) {
		const n = 64
		s1, s2 := twoStores(t, be)
		ctx := t.Context()
		for round := range 5 {
			a := login(t, s1, newUser(), jwtpair.IssueOptions{})
			race := storetest.RotateRace(t, a, n, s1, s2)
			require.Len(t, race.Won, 1, "round %d: %s", round, race)
			require.GreaterOrEqual(t, race.Reused, 1, "round %d", round)
			for _, next := range race.Successors {
				require.Error(t, s1.Check(ctx, tokenOf(next)), "no successor stays usable after reuse")
			}
		}
	})
}

// TestEndSessionDuringRotations: a session ended while its chain is being
// rotated leaves no usable token, whichever wins each race.
func TestEndSessionDuringRotations(t *testing.T) {
	forEach(t, func(t *testing.T, be backend) {
		s1, s2 := twoStores(t, be)
		ctx := t.Context()
		for round := range 10 {
			a := login(t, s1, newUser(), jwtpair.IssueOptions{})
			var mu sync.Mutex
			seen := []string{a.JTI}
			var wg sync.WaitGroup
			wg.Go(func() {
				cur := tokenOf(a)
				for range 20 {
					nx := successor()
					if s1.Rotate(ctx, cur, nx, jwtpair.RotateOptions{}) != nil {
						return
					}
					mu.Lock()
					seen = append(seen, nx.JTI)
					mu.Unlock()
					cur.JTI = nx.JTI
				}
			})
			wg.Go(func() {
				time.Sleep(time.Duration(round) * time.Millisecond)
				assert.NoError(t, s2.EndSession(ctx, a.UserID, a.SessionID))
			})
			wg.Wait()
			for _, jti := range seen {
				require.ErrorIs(t, s1.Check(ctx, jwtpair.Token{JTI: jti, UserID: a.UserID, SessionID: a.SessionID}),
					jwtpair.ErrTokenBlacklisted, "round %d", round)
			}
		}
	})
}

// TestNewStoreValueSeesEnds: a store opened later over the same tables (a
// restarted process) sees every earlier end, and its feed catches up.
func TestNewStoreValueSeesEnds(t *testing.T) {
	forEach(t, func(t *testing.T, be backend) {
		prefix, open := be.newDB(t)
		db1 := open(t)
		s1 := storeOn(t, db1, prefix)
		ctx := t.Context()
		var recs []jwtpair.Record
		for range 4 {
			recs = append(recs, login(t, s1, newUser(), jwtpair.IssueOptions{}))
		}
		a, b, c, d := recs[0], recs[1], recs[2], recs[3]
		require.NoError(t, s1.Revoke(ctx, tokenOf(a)))
		require.NoError(t, s1.EndSession(ctx, b.UserID, b.SessionID))
		require.NoError(t, s1.EndSessions(ctx, c.UserID, ""))
		require.NoError(t, db1.Close())

		s2 := storeOn(t, open(t), prefix)
		for _, r := range []jwtpair.Record{a, b, c} {
			require.ErrorIs(t, s2.Check(ctx, tokenOf(r)), jwtpair.ErrTokenBlacklisted)
		}
		require.NoError(t, s2.Check(ctx, tokenOf(d)))
		revs, _ := drain(t, s2, "")
		ids := sessionIDs(revs)
		require.Len(t, ids, 4)
		require.Equal(t, []string{a.SessionID, b.SessionID}, ids[:2], "oldest first")
		require.ElementsMatch(t, []string{c.SessionID, "*"}, ids[2:], "one statement's entries, in any order")
	})
}

// TestPurgeExpired: expired tokens and sessions (ended or not) go, in
// batches; an ended session stays while a token it covers lives; feed
// entries go after the retention.
func TestPurgeExpired(t *testing.T) {
	forEach(t, func(t *testing.T, be backend) {
		t0 := time.Now()
		prefix, open := be.newDB(t)
		db := open(t)
		s := storeOn(t, db, prefix, sqlstore.WithRevocationRetention(30*time.Minute))
		ctx := t.Context()
		tokens, sessions, revocations := prefix+"tokens", prefix+"sessions", prefix+"revocations"

		// Session f: a short-lived token and a long-lived successor; ended.
		f := record(newUser())
		f.ExpiresAt = t0.Add(time.Minute)
		require.NoError(t, issueErr(s.Issue(ctx, f, jwtpair.IssueOptions{})))
		fNext := successor()
		fNext.ExpiresAt = t0.Add(time.Hour)
		require.NoError(t, s.Rotate(ctx, tokenOf(f), fNext, jwtpair.RotateOptions{}))
		require.NoError(t, s.EndSession(ctx, f.UserID, f.SessionID))
		fTok := jwtpair.Token{JTI: fNext.JTI, UserID: f.UserID, SessionID: f.SessionID}
		// 1500 short sessions, more than one purge batch, and as many feed
		// entries (each ended).
		for range 1500 {
			r := record(newUser())
			r.ExpiresAt = t0.Add(time.Minute)
			require.NoError(t, issueErr(s.Issue(ctx, r, jwtpair.IssueOptions{})))
			require.NoError(t, s.EndSession(ctx, r.UserID, r.SessionID))
		}
		require.Equal(t, 1502, count(t, db, tokens))
		require.Equal(t, 1501, count(t, db, sessions))
		require.Equal(t, 1501, count(t, db, revocations))

		n, err := s.PurgeExpired(ctx)
		require.NoError(t, err)
		require.Zero(t, n, "nothing has expired yet")
		require.Equal(t, 1501, count(t, db, revocations))

		age(t, db, prefix, 2*time.Minute)
		n, err = s.PurgeExpired(ctx)
		require.NoError(t, err)
		require.EqualValues(t, 1501, n)
		require.Equal(t, 1, count(t, db, tokens))
		require.Equal(t, 1, count(t, db, sessions), "f stays: its end covers a live token")
		require.Equal(t, 1501, count(t, db, revocations), "within the retention")
		require.ErrorIs(t, s.Check(ctx, fTok), jwtpair.ErrTokenBlacklisted, "the end outlives the purge")

		age(t, db, prefix, time.Hour)
		revs, _ := drain(t, s, "")
		require.Empty(t, revs, "the feed returns nothing past the retention, purged or not")
		n, err = s.PurgeExpired(ctx)
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		require.Zero(t, count(t, db, tokens))
		require.Zero(t, count(t, db, sessions))
		require.Zero(t, count(t, db, revocations))
	})
}

func TestJanitor(t *testing.T) {
	forEach(t, func(t *testing.T, be backend) {
		prefix, open := be.newDB(t)
		db := open(t)
		storeOn(t, db, prefix) // the tables exist before the janitor's first tick
		s, err := sqlstore.New(db, sqlstore.WithTablePrefix(prefix), sqlstore.WithJanitor(5*time.Millisecond))
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		ctx := t.Context()
		held := func(jti string) bool { // whether the tokens table holds jti (hex)
			t.Helper()
			var n int
			require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM "+prefix+"tokens WHERE jti = '"+jti+"'").Scan(&n))
			return n == 1
		}
		rec := login(t, s, newUser(), jwtpair.IssueOptions{})
		require.NoError(t, s.EndSession(ctx, rec.UserID, rec.SessionID))
		age(t, db, prefix, 2*time.Hour)
		require.Eventually(t, func() bool {
			return !held(rec.JTI) && count(t, db, prefix+"sessions") == 0 && count(t, db, prefix+"revocations") == 0
		}, 10*time.Second, 5*time.Millisecond, "the janitor purges expired records and old feed entries")

		// Close is idempotent, safe concurrently, and waits for the janitor.
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() { assert.NoError(t, s.Close()) })
		}
		wg.Wait()
		require.NoError(t, s.Close())

		// After Close nothing purges any more; the store still works.
		rec2 := login(t, s, newUser(), jwtpair.IssueOptions{})
		age(t, db, prefix, 2*time.Hour)
		time.Sleep(50 * time.Millisecond) // ten janitor periods
		require.True(t, held(rec2.JTI), "the janitor stopped at Close")
	})
}

// TestCloseWaitsForJanitorPurge: a purge statement the janitor has sent
// finishes before Close returns. Here the janitor's DELETE waits on a row
// lock held by another transaction while Close is called. Were the statement
// cancelled by Close instead, the client would give up at once but
// PostgreSQL would run the DELETE on, once the lock is released, after Close
// had returned.
func TestCloseWaitsForJanitorPurge(t *testing.T) {
	prefix, open := postgresBackend.newDB(t)
	db := open(t)
	ctx := t.Context()
	rec := login(t, storeOn(t, db, prefix), newUser(), jwtpair.IssueOptions{})
	age(t, db, prefix, 2*time.Hour)

	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback() })
	var one int
	require.NoError(t, tx.QueryRowContext(ctx, "SELECT 1 FROM "+prefix+"tokens WHERE jti = $1 FOR UPDATE", rec.JTI).Scan(&one))

	s, err := sqlstore.New(db, sqlstore.WithTablePrefix(prefix), sqlstore.WithJanitor(5*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	purging := func() bool { // the janitor's DELETE is waiting for the lock
		var n int
		err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
WHERE wait_event_type = 'Lock' AND query LIKE 'DELETE FROM `+prefix+`tokens%'`).Scan(&n)
		return err == nil && n > 0
	}
	require.Eventually(t, purging, 10*time.Second, 5*time.Millisecond, "the janitor's DELETE waits for the row lock")

	closed := make(chan struct{})
	go func() {
		assert.NoError(t, s.Close())
		close(closed)
	}()
	select {
	case <-closed:
		t.Fatal("Close returned while the janitor's purge was running")
	case <-time.After(200 * time.Millisecond):
	}
	require.NoError(t, tx.Commit())
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return once the purge could finish")
	}
	assert.False(t, purging(), "no purge runs after Close")
	assert.Zero(t, count(t, db, prefix+"tokens"), "the purge Close waited for finished")
}

// requireAllUnavailable asserts that every method of s, the feed's and
// PurgeExpired included, reports a store failure.
func requireAllUnavailable(t *testing.T, s *sqlstore.Store) {
	t.Helper()
	storetest.RequireAllUnavailable(t, s)
	storetest.RequireUnavailable(t, issueErr(s.Issue(t.Context(), storetest.NewRecord(), jwtpair.IssueOptions{})), "Issue without a cap")
	_, err := s.PurgeExpired(t.Context())
	storetest.RequireUnavailable(t, err, "PurgeExpired")
}

func TestOutageClosedPort(t *testing.T) {
	dsn := withHost(t, "postgres://postgres@127.0.0.1:5432/jwtpair?sslmode=disable", storetest.ClosedAddr(t))
	db, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	s, err := sqlstore.New(db)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	requireAllUnavailable(t, s)
	require.Error(t, s.Migrate(t.Context()))
}

// TestOutageSQLite: a database that cannot be used (here: closed) fails
// every method with ErrStoreUnavailable.
func TestOutageSQLite(t *testing.T) {
	s, db, _ := newStoreDB(t, sqliteBackend)
	require.NoError(t, db.Close())
	requireAllUnavailable(t, s)
}

// queryCounter is a pgx tracer counting the statements sent to PostgreSQL,
// BEGIN and COMMIT included, but the feed listener's LISTEN, which its own
// connection sends once, whenever it connects.
type queryCounter struct{ n atomic.Int64 }

func (q *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if !strings.HasPrefix(data.SQL, "LISTEN ") {
		q.n.Add(1)
	}
	return ctx
}
func (q *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TestOneRoundTripPostgres: on PostgreSQL every method's usual path is one
// statement, with no transaction around it, but Issue with a cap: BEGIN,
// the user's lock, the statement, COMMIT.
func TestOneRoundTripPostgres(t *testing.T) {
	dsn := postgresURL(t)
	cfg, err := pgx.ParseConfig(dsn)
	require.NoError(t, err)
	counter := &queryCounter{}
	cfg.Tracer = counter
	db := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { _ = db.Close() })
	s := storeOn(t, db, postgresPrefix(t, dsn))
	storetest.RequireRoundTrips(t, s, counter.n.Load, map[string]int64{
		"Issue": 4, "Check": 1, "Rotate": 1, "Revoke": 1, "EndSession": 1, "EndSessions": 1, "Sessions": 1,
	})

	ctx := t.Context()
	_, cursor := drain(t, s, "")
	a := record(newUser())
	before := counter.n.Load()
	require.NoError(t, issueErr(s.Issue(ctx, a, jwtpair.IssueOptions{})))
	assert.EqualValues(t, 1, counter.n.Load()-before, "Issue without a cap: round trips")
	require.NoError(t, s.EndSession(ctx, a.UserID, a.SessionID))
	before = counter.n.Load()
	revs, _, err := s.Revocations(ctx, cursor, 0)
	require.NoError(t, err)
	require.Len(t, revs, 1)
	assert.EqualValues(t, 1, counter.n.Load()-before, "Revocations: round trips")
}

// TestConformance runs the store contract's suite on each backend.
func TestConformance(t *testing.T) {
	forEach(t, func(t *testing.T, be backend) {
		storetest.Run(t, func(t *testing.T) jwtpair.Store { return newStore(t, be) })
	})
}

// TestShared runs the cross-instance suite: every Opener call is a new
// connection pool (a new process) over the same tables.
func TestShared(t *testing.T) {
	forEach(t, func(t *testing.T, be backend) {
		storetest.RunShared(t, func(t *testing.T) storetest.Opener {
			prefix, open := be.newDB(t)
			storeOn(t, open(t), prefix) // migrate once
			return func(t *testing.T) jwtpair.Store {
				s, err := sqlstore.New(open(t), sqlstore.WithTablePrefix(prefix))
				require.NoError(t, err)
				t.Cleanup(func() { _ = s.Close() })
				return s
			}
		})
	})
}

// TestHTTPOutage: with PostgreSQL gone, the endpoints of a real Auth answer
// 503 and never accept an ended token, protected requests fail closed once
// the feed is stale, and all recovers without a restart, with no access
// token of a session ended before or during the outage accepted
// (storetest.RunOutage).
func TestHTTPOutage(t *testing.T) {
	p, direct, through, _ := proxied(t)
	storetest.RunOutage(t, through, p, direct)
}

// TestHTTPStall: with a stalled backend, the endpoints of an Auth with a
// store timeout answer 503 within it, and all recovers
// (storetest.RunStall). PostgreSQL is stalled by a proxy that holds every
// byte; SQLite by a write lock held by another connection (reads go on),
// which its busy handler would otherwise wait out for its busy timeout.
func TestHTTPStall(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		p, _, through, _ := proxied(t)
		storetest.RunStall(t, through, p.Stall, p.Resume)
	})
	t.Run("sqlite", func(t *testing.T) {
		dsn := busyDSN(filepath.Join(t.TempDir(), "jwtpair.db"))
		s := storeOn(t, openDB(t, "sqlite", dsn), sqlstore.DefaultTablePrefix)
		var release func()
		storetest.RunStall(t, s, func() { release = holdWriteLock(t, dsn) }, func() {
			if release != nil {
				release()
			}
		})
	})
}
