package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite"

	"github.com/jwtpair/jwtpair"
	"github.com/jwtpair/jwtpair/sqlstore"
)

// A store on a SQLite file: create the tables, start a session, rotate its
// token, see the consumed token refused and its reuse end the session, and
// read the end from the revocation feed.
func Example() {
	dir, err := os.MkdirTemp("", "sqlstore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "auth.db")+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	store, err := sqlstore.New(db, sqlstore.WithJanitor(time.Hour))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	if err := store.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	_, cursor, err := store.Revocations(ctx, "", 0)
	if err != nil {
		log.Fatal(err)
	}

	exp := time.Now().Add(24 * time.Hour)
	login := jwtpair.Record{JTI: "0123456789abcdef0123456789abcdef", UserID: "42", SessionID: "s1", ExpiresAt: exp}
	evicted, err := store.Issue(ctx, login, jwtpair.IssueOptions{
		Client:      map[string]string{"user_agent": "curl/8.5.0"},
		MaxSessions: 10,
	})
	fmt.Println("issue:", len(evicted), err)
	presented := jwtpair.Token{JTI: login.JTI, UserID: "42", SessionID: "s1"}
	next := jwtpair.Record{JTI: "fedcba9876543210fedcba9876543210", ExpiresAt: exp}
	fmt.Println("rotate:", store.Rotate(ctx, presented, next, jwtpair.RotateOptions{}))
	fmt.Println("check old:", errors.Is(store.Check(ctx, presented), jwtpair.ErrTokenBlacklisted))
	sessions, _ := store.Sessions(ctx, "42")
	fmt.Println("sessions:", len(sessions), sessions[0].ID, sessions[0].Client["user_agent"])

	again := jwtpair.Record{JTI: "00000000000000000000000000000001", ExpiresAt: exp}
	err = store.Rotate(ctx, presented, again, jwtpair.RotateOptions{})
	fmt.Println("reuse detected:", errors.Is(err, jwtpair.ErrTokenReused))
	fmt.Println("session ended:", errors.Is(store.Check(ctx, jwtpair.Token{JTI: next.JTI, UserID: "42", SessionID: "s1"}), jwtpair.ErrTokenBlacklisted))
	revs, _, err := store.Revocations(ctx, cursor, time.Second)
	fmt.Println("feed:", len(revs), revs[0].UserID, revs[0].SessionID, err)
	// Output:
	// issue: 0 <nil>
	// rotate: <nil>
	// check old: true
	// sessions: 1 s1 curl/8.5.0
	// reuse detected: true
	// session ended: true
	// feed: 1 42 s1 <nil>
}
