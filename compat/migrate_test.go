package compat

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL, for the throwaway database
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair/storetest"
)

// TestSimplejwtMigration moves a live simplejwt deployment to jwtpair as
// the README's "Migrating from simplejwt" says, end to end, on a database
// the real Django app wrote (SQLite; PostgreSQL too, on
// JWTPAIR_POSTGRES_URL's server, through Debian's python3-psycopg2).
//
// Users log in on simplejwt, refresh there (rotation, the old token
// blacklisted), log out there, and one of them is deleted there; a
// sliding token is renewed there, another blacklisted. Then comes the
// cutover (what simplejwt issues from then on is never adopted), the
// example's -import-simplejwt copies Django's tables into a jwtpair store
// in the same database, and the example serves that store with the
// adoption window open. Here, then: the tokens simplejwt still honoured
// refresh, imported or adopted, and a second use of one is reuse; those
// it blacklisted, rotated away, or whose user it deleted are refused as
// blacklisted; its live sliding token renews, the blacklisted one does
// not; a token simplejwt, left running, mints after the cutover is
// refused as unknown.
//
// It needs what TestSimplejwtParity needs, and skips without it unless
// JWTPAIR_REQUIRE_BACKENDS=1; its PostgreSQL half skips (or fails) alike
// without JWTPAIR_POSTGRES_URL or python3-psycopg2.
func TestSimplejwtMigration(t *testing.T) {
	requireReference(t)
	bin, err := buildExample(t.TempDir())
	require.NoError(t, err)
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "simplejwt.sqlite3")
		migrateFromSimplejwt(t, bin, "sqlite:///"+path, "sqlite:"+path)
	})
	t.Run("postgres", func(t *testing.T) {
		u := throwawayPostgres(t)
		migrateFromSimplejwt(t, bin, u, u)
	})
}

// throwawayPostgres creates a database on JWTPAIR_POSTGRES_URL's server,
// dropped when the test ends, and returns its URL, once Django can reach
// PostgreSQL (python3-psycopg2).
func throwawayPostgres(t *testing.T) string {
	t.Helper()
	base := storetest.BackendURL(t, "JWTPAIR_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/jwtpair?sslmode=disable")
	if out, err := exec.Command(python, "-c", "import psycopg2").CombinedOutput(); err != nil {
		skipUnlessRequired(t, python+" cannot import psycopg2 ("+lastLine(out)+"): apt-get install python3-psycopg2")
	}
	admin, err := sql.Open("pgx", base)
	require.NoError(t, err)
	t.Cleanup(func() { _ = admin.Close() })
	name := "simplejwt_" + storetest.NewID()[:12]
	_, err = admin.Exec("CREATE DATABASE " + name)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)") })
	u, err := url.Parse(base)
	require.NoError(t, err)
	u.Path = "/" + name
	return u.String()
}

// migrateFromSimplejwt runs the move on one database: django is its
// DATABASE_URL for Django, store the same database as the example's
// -store names it.
func migrateFromSimplejwt(t *testing.T, bin, django, store string) {
	home := t.TempDir()
	ref, err := startSimplejwt(t, home, django)
	require.NoError(t, err)
	djangoShell(t, home, django, `from django.contrib.auth import get_user_model
assert get_user_model().objects.create_user("dave", password="dave").id == 4`)

	// On simplejwt (Debian's 5.2.2, which records a token in the
	// outstanding table when a login mints it, and a rotated one's
	// successor only when it is blacklisted).
	sj := &client{side: "simplejwt", base: ref.base, hc: newHTTPClient(), secret: secret}
	ok := func(label string, r reply) reply {
		t.Helper()
		require.Equal(t, http.StatusOK, r.status, "simplejwt: %s: %v", label, r.json)
		return r
	}
	login := func(user string) (access, refresh string) {
		r := ok("login "+user, sj.do("login", post(pObtain, jsonBody(obj{"username": user, "password": user}))))
		return r.str("access"), r.str("refresh")
	}
	rotate := func(refresh string) string { return ok("rotate", sj.do("rotate", refreshReq(refresh))).str("refresh") }
	logout := func(refresh string) { ok("logout", sj.do("logout", blacklistReq(refresh))) }

	access, live := login("admin") // never used there
	_, carolLive := login("carol") // never used there
	_, rotated := login("admin")   // rotated there: blacklisted, its successor live
	successor := rotate(rotated)   // not in the outstanding table
	_, loggedOut := login("carol")
	logout(loggedOut)
	_, rotatedOut := login("admin") // rotated, and its successor logged out
	successorOut := rotate(rotatedOut)
	logout(successorOut)        // recorded then, with no user (user_id NULL)
	_, deleted := login("dave") // its user deleted below (user_id NULL)
	slidingLogin := func() (token, renewed string) {
		token = ok("sliding login", sj.do("sliding login", post(pSlidingObtain, jsonBody(obj{"username": "admin", "password": "admin"})))).str("token")
		return token, ok("sliding renewal", sj.do("sliding renewal", post(pSlidingRefresh, jsonBody(obj{"token": token})))).str("token")
	}
	_, sliding := slidingLogin()
	slidingOut, slidingOutRenewed := slidingLogin() // blacklisted below: simplejwt has no view for it
	djangoShell(t, home, django, fmt.Sprintf(`from django.contrib.auth import get_user_model
from rest_framework_simplejwt.tokens import SlidingToken
get_user_model().objects.filter(username="dave").delete()
SlidingToken(%q).blacklist()`, slidingOut))

	// The cutover: after every token above was issued (iat counts whole
	// seconds), before any issued from now on.
	cutover := time.Now().Truncate(time.Second).Add(time.Second)
	time.Sleep(time.Until(cutover))

	imp := exec.Command(bin, "-store", store, "-import-simplejwt", store)
	imp.Env = exampleEnv()
	out, err := imp.Output()
	require.NoError(t, err, "-import-simplejwt: %s", out)
	var report map[string]int64
	require.NoError(t, json.Unmarshal(out, &report), "%s", out)
	assert.Equal(t, map[string]int64{
		"rows":         9,
		"imported":     2, // live, carolLive
		"blacklisted":  4, // rotated, loggedOut, rotatedOut, slidingOut
		"deleted_user": 2, // successorOut, deleted: user_id NULL
		"not_refresh":  1, // sliding, live: left to the window
		"present":      0, "expired": 0, "unreadable": 0,
		"last_id": 9,
	}, report, "-import-simplejwt's report")

	_, late := login("admin") // simplejwt, left running, mints one after the cutover

	until := cutover.Add(time.Hour)
	got, err := startServer(t, "jwtpair", exampleCmd(bin, store, "-user", "dave:dave",
		"-adopt-cutover", cutover.Format(time.RFC3339), "-adopt-until", until.Format(time.RFC3339)))
	require.NoError(t, err)
	jp := &client{side: "jwtpair", base: got.base, hc: newHTTPClient(), secret: secret}

	hello := jp.do("hello", helloReq(access))
	assert.Equal(t, http.StatusOK, hello.status, "simplejwt's access token: %v", hello.json)

	refreshes := func(name, tok string) string {
		t.Helper()
		r := jp.do(name, refreshReq(tok))
		if assert.Equal(t, http.StatusOK, r.status, "%s refreshes: %v", name, r.json) {
			assert.NotEmpty(t, r.str("access"), name)
			assert.NotEmpty(t, r.str("refresh"), name)
		}
		return r.str("refresh")
	}
	refused := func(name, tok, detail string) {
		t.Helper()
		r := jp.do(name, refreshReq(tok))
		assert.Equal(t, http.StatusUnauthorized, r.status, "%s is refused", name)
		assert.Equal(t, detail, r.json["detail"], name)
		assert.Equal(t, "token_not_valid", r.json["code"], name)
	}

	next := refreshes("live (imported)", live)
	refused("live, a second use (reuse)", live, "Token is blacklisted")
	refused("live's successor, after the reuse", next, "Token is blacklisted")
	refreshes("carol's live token's successor", refreshes("carol's live token (imported)", carolLive))
	refreshes("the successor of a rotation there (adopted)", successor)
	refused("the successor of a rotation there, a second use (reuse)", successor, "Token is blacklisted")

	refused("rotated there", rotated, "Token is blacklisted")
	refused("logged out there", loggedOut, "Token is blacklisted")
	refused("rotated, then its successor logged out there", rotatedOut, "Token is blacklisted")
	refused("the successor logged out there", successorOut, "Token is blacklisted")
	refused("a deleted user's (the user exists here)", deleted, "Token is blacklisted")
	v := jp.do("verify", verifyReq(loggedOut))
	assert.Equal(t, http.StatusBadRequest, v.status)
	assert.Equal(t, map[string]any{"non_field_errors": []any{"Token is blacklisted"}}, v.json, "verify, as simplejwt's")

	r := jp.do("sliding", post(pSlidingRefresh, jsonBody(obj{"token": sliding})))
	if assert.Equal(t, http.StatusOK, r.status, "simplejwt's sliding token renews (adopted): %v", r.json) {
		assert.Equal(t, payloadOf(sliding)["jti"], payloadOf(r.str("token"))["jti"], "as simplejwt renews it: the same jti")
	}
	r = jp.do("sliding, blacklisted there", post(pSlidingRefresh, jsonBody(obj{"token": slidingOutRenewed})))
	assert.Equal(t, http.StatusUnauthorized, r.status, "a renewal of a sliding token blacklisted there: %v", r.json)
	assert.Equal(t, "Token is blacklisted", r.json["detail"])

	refused("minted by simplejwt after the cutover", late, "Token is invalid")
}

// djangoShell runs code in Django's shell (manage.py shell -c) on the
// database databaseURL.
func djangoShell(t *testing.T, home, databaseURL, code string) {
	t.Helper()
	manage, err := filepath.Abs(filepath.Join("simplejwt", "manage.py"))
	require.NoError(t, err)
	cmd := exec.Command(python, manage, "shell", "-c", code)
	cmd.Env = djangoEnv(home, databaseURL)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "manage.py shell -c %q: %s", code, out)
}
