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

// A store on a SQLite file: create the tables, record a login, rotate it,
// and see the consumed token refused, then its reuse revoke the family.
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

	exp := time.Now().Add(24 * time.Hour)
	login := jwtpair.Record{JTI: "0123456789abcdef0123456789abcdef", UserID: "42", FamilyID: "f1", ExpiresAt: exp}
	next := jwtpair.Record{JTI: "fedcba9876543210fedcba9876543210", ExpiresAt: exp}
	fmt.Println("issue:", store.Issue(ctx, login))
	fmt.Println("rotate:", store.Rotate(ctx, login.JTI, next, jwtpair.RotateOptions{}))
	fmt.Println("check old:", errors.Is(store.Check(ctx, login.JTI), jwtpair.ErrTokenBlacklisted))
	fmt.Println("check new:", store.Check(ctx, next.JTI))

	again := jwtpair.Record{JTI: "00000000000000000000000000000001", ExpiresAt: exp}
	err = store.Rotate(ctx, login.JTI, again, jwtpair.RotateOptions{})
	fmt.Println("reuse detected:", errors.Is(err, jwtpair.ErrTokenReused))
	fmt.Println("family revoked:", errors.Is(store.Check(ctx, next.JTI), jwtpair.ErrTokenBlacklisted))
	// Output:
	// issue: <nil>
	// rotate: <nil>
	// check old: true
	// check new: <nil>
	// reuse detected: true
	// family revoked: true
}
