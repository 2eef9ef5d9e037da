package demo

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jwtpair/jwtpair/simplejwtimport"
)

// Moving from simplejwt: -import-simplejwt copies a Django database's
// outstanding and blacklisted tokens into -store (package
// simplejwtimport), and -adopt-cutover with -adopt-until open the
// adoption window (jwtpair.WithSimplejwtAdoption).

// simplejwtFlags registers the flags of a move from simplejwt.
func (c *config) simplejwtFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.importFrom, "import-simplejwt", "", "import the outstanding and blacklisted tokens of this simplejwt database (postgres://… or sqlite:PATH) into -store, print the counts as JSON, and exit")
	fs.Func("adopt-cutover", "with -adopt-until: adopt simplejwt refresh tokens issued before this time (RFC 3339; when simplejwt stops issuing them)", timeFlag(&c.adoptCutover))
	fs.Func("adopt-until", "with -adopt-cutover: adopt them until this time (RFC 3339)", timeFlag(&c.adoptUntil))
}

// timeFlag parses an RFC 3339 time into t.
func timeFlag(t *time.Time) func(string) error {
	return func(v string) (err error) {
		*t, err = time.Parse(time.RFC3339, v)
		return err
	}
}

// checkSimplejwt checks the flags of a move from simplejwt.
func (c config) checkSimplejwt() error {
	if c.adoptCutover.IsZero() != c.adoptUntil.IsZero() {
		return errors.New("-adopt-cutover and -adopt-until go together: give both to adopt simplejwt's refresh tokens, or neither")
	}
	if c.importFrom != "" && c.store == "memory" {
		return errors.New("-import-simplejwt needs a shared -store (redis://…, postgres://… or sqlite:PATH): the memory store dies with the import")
	}
	return nil
}

// runImport imports the tokens of the simplejwt database cfg.importFrom
// into cfg.store and prints the report, as JSON, on stdout; on an error
// too, with what was done until then (rerun to resume).
func runImport(ctx context.Context, cfg config, stdout io.Writer) error {
	db, err := openDjango(cfg.importFrom)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := openStore(ctx, cfg.store)
	if err != nil {
		return err
	}
	defer st.close()
	r, err := simplejwtimport.Import(ctx, db, st.store, simplejwtimport.Options{})
	b, _ := json.Marshal(importReport{r.Rows, r.Imported, r.Blacklisted, r.Present, r.Expired, r.DeletedUser, r.NotRefresh, r.Unreadable, r.LastID})
	fmt.Fprintf(stdout, "%s\n", b)
	if err != nil {
		return fmt.Errorf("-import-simplejwt: %w (run it again to resume)", err)
	}
	return nil
}

// importReport is simplejwtimport.Report as the example prints it.
type importReport struct {
	Rows        int   `json:"rows"`
	Imported    int   `json:"imported"`
	Blacklisted int   `json:"blacklisted"`
	Present     int   `json:"present"`
	Expired     int   `json:"expired"`
	DeletedUser int   `json:"deleted_user"`
	NotRefresh  int   `json:"not_refresh"`
	Unreadable  int   `json:"unreadable"`
	LastID      int64 `json:"last_id"`
}

// openDjango opens the simplejwt database named as -store names one:
// postgres://… (pgx) or sqlite:PATH (modernc.org/sqlite).
func openDjango(spec string) (*sql.DB, error) {
	switch {
	case strings.HasPrefix(spec, "postgres://"), strings.HasPrefix(spec, "postgresql://"):
		return sql.Open("pgx", spec)
	case strings.HasPrefix(spec, "sqlite:") && len(spec) > len("sqlite:"):
		return sql.Open("sqlite", "file:"+strings.TrimPrefix(spec, "sqlite:")+"?_pragma=busy_timeout(5000)")
	}
	return nil, usageError{fmt.Errorf("-import-simplejwt %q: want postgres://… or sqlite:PATH", redact(spec))}
}
