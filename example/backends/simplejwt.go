package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/jwtpair/jwtpair/example/internal/demo"
	"github.com/jwtpair/jwtpair/simplejwtimport"
)

// Import imports the tokens of the simplejwt database from into the store
// spec and prints the report, as JSON, on stdout; on an error too, with
// what was done until then (rerun to resume).
func (b backends) Import(ctx context.Context, from, spec string, stdout io.Writer) error {
	db, err := openSQL(from, "")
	if err != nil {
		return fmt.Errorf("-import-simplejwt %s: %w", demo.Redact(from), err)
	}
	defer db.Close()
	st, err := b.Open(ctx, spec)
	if err != nil {
		return err
	}
	defer st.Close()
	r, err := simplejwtimport.Import(ctx, db, st.Store, simplejwtimport.Options{})
	out, _ := json.Marshal(importReport{r.Rows, r.Imported, r.Blacklisted, r.Present, r.Expired, r.DeletedUser, r.NotRefresh, r.Unreadable, r.LastID})
	fmt.Fprintf(stdout, "%s\n", out)
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
