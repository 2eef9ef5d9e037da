package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
	"github.com/jwtpair/jwtpair/example/internal/demo"
	"github.com/jwtpair/jwtpair/example/internal/demotest"
	forgepkg "github.com/jwtpair/jwtpair/internal/forge"
	"github.com/jwtpair/jwtpair/simplejwtimport"
	"github.com/jwtpair/jwtpair/sqlstore"
	"github.com/jwtpair/jwtpair/storetest"
)

// simplejwt's token_blacklist tables as Django 3.2's migrations create them
// (simplejwt 5.2.2, Debian's; 5.5.1 creates the same), read back from the
// databases compat/simplejwt migrates (sqlite_master, pg_dump), with a
// stand-in for Django's auth_user, which they reference. compat's
// TestSimplejwtMigration imports from the real Django app's databases.
const (
	djangoSQLite = `
CREATE TABLE auth_user (id integer NOT NULL PRIMARY KEY AUTOINCREMENT);
CREATE TABLE "token_blacklist_outstandingtoken" ("token" text NOT NULL, "created_at" datetime NULL, "expires_at" datetime NOT NULL, "user_id" integer NULL REFERENCES "auth_user" ("id") DEFERRABLE INITIALLY DEFERRED, "jti" varchar(255) NOT NULL UNIQUE, "id" integer NOT NULL PRIMARY KEY AUTOINCREMENT);
CREATE INDEX "token_blacklist_outstandingtoken_user_id_83bc629a" ON "token_blacklist_outstandingtoken" ("user_id");
CREATE TABLE "token_blacklist_blacklistedtoken" ("blacklisted_at" datetime NOT NULL, "token_id" bigint NOT NULL UNIQUE REFERENCES "token_blacklist_outstandingtoken" ("id") DEFERRABLE INITIALLY DEFERRED, "id" integer NOT NULL PRIMARY KEY AUTOINCREMENT);`
	djangoPostgres = `
CREATE TABLE auth_user (id serial PRIMARY KEY);
CREATE TABLE token_blacklist_outstandingtoken (
    id bigserial PRIMARY KEY,
    token text NOT NULL,
    created_at timestamp with time zone,
    expires_at timestamp with time zone NOT NULL,
    user_id integer REFERENCES auth_user(id) DEFERRABLE INITIALLY DEFERRED,
    jti character varying(255) NOT NULL UNIQUE
);
CREATE INDEX token_blacklist_outstandingtoken_user_id_83bc629a ON token_blacklist_outstandingtoken (user_id);
CREATE TABLE token_blacklist_blacklistedtoken (
    id bigserial PRIMARY KEY,
    blacklisted_at timestamp with time zone NOT NULL,
    token_id bigint NOT NULL UNIQUE REFERENCES token_blacklist_outstandingtoken(id) DEFERRABLE INITIALLY DEFERRED
);`
)

// djangoDB is a simplejwt database of a test: its -store style spec (the
// example's jwtpair tables go into the same database, as a deployment
// may have them) and a connection.
type djangoDB struct {
	spec   string
	driver string
	db     *sql.DB
}

// djangoDBs gives each test a new simplejwt database: SQLite always;
// PostgreSQL (a database of its own on JWTPAIR_POSTGRES_URL's server)
// skipping without the URL, failing instead under
// JWTPAIR_REQUIRE_BACKENDS=1.
func djangoDBs() map[string]func(t *testing.T) djangoDB {
	return map[string]func(t *testing.T) djangoDB{
		"sqlite": func(t *testing.T) djangoDB {
			path := filepath.Join(t.TempDir(), "django.sqlite3")
			db := openTestDB(t, "sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
			execAll(t, db, djangoSQLite)
			return djangoDB{spec: "sqlite:" + path, driver: "sqlite", db: db}
		},
		"postgres": func(t *testing.T) djangoDB {
			base := storetest.BackendURL(t, "JWTPAIR_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/jwtpair?sslmode=disable")
			admin := openTestDB(t, "pgx", base)
			name := "simplejwt_" + storetest.NewID()[:12]
			_, err := admin.Exec("CREATE DATABASE " + name)
			require.NoError(t, err)
			u, err := url.Parse(base)
			require.NoError(t, err)
			u.Path = "/" + name
			db := openTestDB(t, "pgx", u.String())
			t.Cleanup(func() {
				_ = db.Close()
				_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
			})
			execAll(t, db, djangoPostgres)
			return djangoDB{spec: u.String(), driver: "pgx", db: db}
		},
	}
}

func openTestDB(t *testing.T, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func execAll(t *testing.T, db *sql.DB, script string) {
	t.Helper()
	for _, stmt := range strings.Split(script, ";") {
		if strings.TrimSpace(stmt) != "" {
			_, err := db.Exec(stmt)
			require.NoError(t, err, stmt)
		}
	}
}

// outstandingRow is one token as simplejwt records it.
type outstandingRow struct {
	user        any // the user_id column: an int, or nil (NULL: the user was deleted)
	token, jti  string
	expires     time.Time
	blacklisted bool
}

// simplejwtToken signs claims as simplejwt does, with the test secret, and
// returns the token and its jti.
func simplejwtToken(t *testing.T, claims map[string]any) (string, string) {
	t.Helper()
	if claims["jti"] == nil {
		claims["jti"] = storetest.NewID()
	}
	b, err := json.Marshal(claims)
	require.NoError(t, err)
	tok, err := forgepkg.Sign("HS256", []byte(testSecret), `{"alg":"HS256","typ":"JWT"}`, string(b))
	require.NoError(t, err)
	return tok, claims["jti"].(string)
}

// refreshRow is a live refresh token of user, as simplejwt 5.2 mints it
// (user_id a number), issued an hour ago.
func refreshRow(t *testing.T, user int) outstandingRow {
	t.Helper()
	now := time.Now()
	tok, jti := simplejwtToken(t, map[string]any{"token_type": "refresh", "exp": now.Add(23 * time.Hour).Unix(), "iat": now.Add(-time.Hour).Unix(), "user_id": user})
	return outstandingRow{user: user, token: tok, jti: jti, expires: now.Add(23 * time.Hour)}
}

// insert writes rows as Django does (for SQLite, its datetime text), and
// a user row for each user id.
func (d djangoDB) insert(t *testing.T, rows ...outstandingRow) {
	t.Helper()
	stamp := func(tm time.Time) any {
		if d.driver == "sqlite" {
			return tm.UTC().Format("2006-01-02 15:04:05.000000")
		}
		return tm
	}
	for _, r := range rows {
		if id, ok := r.user.(int); ok {
			_, err := d.db.Exec(fmt.Sprintf("INSERT INTO auth_user (id) VALUES (%d) ON CONFLICT DO NOTHING", id))
			require.NoError(t, err)
		}
		var id int64
		require.NoError(t, d.db.QueryRow(`INSERT INTO token_blacklist_outstandingtoken (user_id, jti, token, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5) RETURNING id`, r.user, r.jti, r.token, stamp(time.Now()), stamp(r.expires)).Scan(&id))
		if r.blacklisted {
			_, err := d.db.Exec(`INSERT INTO token_blacklist_blacklistedtoken (token_id, blacklisted_at) VALUES ($1, $2)`, id, stamp(time.Now()))
			require.NoError(t, err)
		}
	}
}

// mixedRows are one row of each kind the importer tells apart: two live
// tokens (users 1 and 2), one blacklisted, one of a deleted user (user 2's
// token, user_id NULL: the example still has a user 2, so only the store
// refuses it), one expired, a sliding token and an unreadable one.
func mixedRows(t *testing.T) (live1, live2, blacklisted, deleted outstandingRow, all []outstandingRow) {
	t.Helper()
	live1, live2, blacklisted, deleted = refreshRow(t, 1), refreshRow(t, 2), refreshRow(t, 1), refreshRow(t, 2)
	blacklisted.blacklisted = true
	deleted.user = nil
	now := time.Now()
	expiredTok, expiredJTI := simplejwtToken(t, map[string]any{"token_type": "refresh", "exp": now.Add(-time.Minute).Unix(), "iat": now.Add(-24 * time.Hour).Unix(), "user_id": 1})
	slidingTok, slidingJTI := simplejwtToken(t, map[string]any{"token_type": "sliding", "exp": now.Add(5 * time.Minute).Unix(), "refresh_exp": now.Add(24 * time.Hour).Unix(), "user_id": 1})
	all = []outstandingRow{live1, live2, blacklisted, deleted,
		{user: 1, token: expiredTok, jti: expiredJTI, expires: now.Add(-time.Minute)},
		{user: 1, token: slidingTok, jti: slidingJTI, expires: now.Add(5 * time.Minute)},
		{user: 2, token: "not-a-token", jti: storetest.NewID(), expires: now.Add(time.Hour)},
	}
	return live1, live2, blacklisted, deleted, all
}

// runImportFlag runs the example with -import-simplejwt and returns the
// report it prints.
func runImportFlag(t *testing.T, store, django string) importReport {
	t.Helper()
	var out bytes.Buffer
	require.NoError(t, demo.Run(t.Context(), backends{}, []string{"-store", store, "-import-simplejwt", django}, demotest.Env(map[string]string{"JWTPAIR_SECRET": testSecret}), &out, io.Discard))
	var r importReport
	require.NoError(t, json.Unmarshal(out.Bytes(), &r), out.String())
	return r
}

// TestImportSimplejwt: -import-simplejwt reads a simplejwt database as
// Django creates it, on SQLite and PostgreSQL, into a store in the same
// database; a second run changes nothing; then, with no adoption window,
// the imported tokens refresh, the blacklisted one and the deleted
// user's stay refused.
func TestImportSimplejwt(t *testing.T) {
	for name, newDB := range djangoDBs() {
		t.Run(name, func(t *testing.T) {
			d := newDB(t)
			live1, live2, blacklisted, deleted, all := mixedRows(t)
			d.insert(t, all...)

			first := runImportFlag(t, d.spec, d.spec)
			assert.Equal(t, importReport{Rows: 7, Imported: 2, Blacklisted: 1, DeletedUser: 1, Expired: 1, NotRefresh: 1, Unreadable: 1, LastID: 7}, first)
			again := runImportFlag(t, d.spec, d.spec)
			assert.Equal(t, importReport{Rows: 7, Present: 2, Blacklisted: 1, DeletedUser: 1, Expired: 1, NotRefresh: 1, Unreadable: 1, LastID: 7}, again)

			srv := start(t, "-store", d.spec, "-user", "admin:admin", "-user", "carol:carol")
			for _, r := range []outstandingRow{live1, live2} {
				status, m := call(t, srv, "POST", "/api/token/refresh/", "", `{"refresh":"`+r.token+`"}`)
				assert.Equal(t, http.StatusOK, status, "an imported token refreshes: %v", m)
			}
			for _, r := range []outstandingRow{blacklisted, deleted} {
				status, m := call(t, srv, "POST", "/api/token/refresh/", "", `{"refresh":"`+r.token+`"}`)
				assert.Equal(t, http.StatusUnauthorized, status)
				assert.Equal(t, "Token is blacklisted", m["detail"])
			}
		})
	}
}

// failAfter is a store whose Issue fails after n calls, as a backend that
// goes away during the import.
type failAfter struct {
	jwtpair.Store
	n *int
}

func (s failAfter) Issue(ctx context.Context, first jwtpair.Record, opts jwtpair.IssueOptions) ([]string, error) {
	if *s.n == 0 {
		return nil, fmt.Errorf("%w: connection reset", jwtpair.ErrStoreUnavailable)
	}
	*s.n--
	return s.Store.Issue(ctx, first, opts)
}

// TestImportResumes: Import reads pages of BatchSize rows (one row more
// than two pages here); a run stopped by a store failure reports the last
// row it did, and one resumed after it (Options.After) does the rest,
// each row once.
func TestImportResumes(t *testing.T) {
	for name, newDB := range djangoDBs() {
		t.Run(name, func(t *testing.T) {
			d := newDB(t)
			_, _, _, _, all := mixedRows(t)
			d.insert(t, all...)
			st, err := backends{}.Open(t.Context(), d.spec)
			require.NoError(t, err)
			defer st.Close()

			budget := 2 // live1 and live2; blacklisted, the third row, fails
			r1, err := simplejwtimport.Import(t.Context(), d.db, failAfter{st.Store, &budget}, simplejwtimport.Options{BatchSize: 2})
			require.ErrorIs(t, err, jwtpair.ErrStoreUnavailable)
			assert.Equal(t, simplejwtimport.Report{Rows: 3, Imported: 2, LastID: 2}, r1)

			r2, err := simplejwtimport.Import(t.Context(), d.db, st.Store, simplejwtimport.Options{BatchSize: 2, After: r1.LastID})
			require.NoError(t, err)
			assert.Equal(t, simplejwtimport.Report{Rows: 5, Blacklisted: 1, DeletedUser: 1, Expired: 1, NotRefresh: 1, Unreadable: 1, LastID: 7}, r2)
		})
	}
}

// TestImportOneConnection: with the store in the same SQLite database
// over the very pool the importer reads, limited to one connection, the
// import completes: no query stays open while the store writes.
func TestImportOneConnection(t *testing.T) {
	d := djangoDBs()["sqlite"](t)
	_, _, _, _, all := mixedRows(t)
	d.insert(t, all...)
	d.db.SetMaxOpenConns(1)
	s, err := sqlstore.New(d.db)
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Migrate(t.Context()))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	r, err := simplejwtimport.Import(ctx, d.db, s, simplejwtimport.Options{BatchSize: 3})
	require.NoError(t, err)
	assert.Equal(t, 2, r.Imported)
}
