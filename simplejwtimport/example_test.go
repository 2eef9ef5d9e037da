package simplejwtimport_test

import (
	"context"
	"database/sql"
	"log"
	"os"

	"github.com/jwtpair/jwtpair"
	"github.com/jwtpair/jwtpair/simplejwtimport"
)

// The Django database is opened with the driver the application registers
// (here pgx's stdlib driver, imported as _ "github.com/jackc/pgx/v5/stdlib";
// for SQLite, modernc.org/sqlite's "sqlite"); store is the jwtpair store
// the service will use, shared by its instances. The example server with
// the shared stores does this with -import-simplejwt
// (go run ./example/backends).
func Example() {
	ctx := context.Background()
	db, err := sql.Open("pgx", os.Getenv("DJANGO_DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	var store jwtpair.Store = jwtpair.NewMemoryStore() // redisstore.New(…), sqlstore.New(…)

	report, err := simplejwtimport.Import(ctx, db, store, simplejwtimport.Options{})
	if err != nil {
		// Run it again to resume: with Options{After: report.LastID}, or
		// from the start (what is there is skipped).
		log.Fatalf("import stopped after outstanding token %d: %v", report.LastID, err)
	}
	log.Printf("%d imported, %d blacklisted, %d already there, %d expired, %d of deleted users, %d not refresh tokens, %d unreadable",
		report.Imported, report.Blacklisted, report.Present, report.Expired, report.DeletedUser, report.NotRefresh, report.Unreadable)
}
