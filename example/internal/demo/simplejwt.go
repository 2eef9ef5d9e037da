package demo

import (
	"errors"
	"flag"
	"fmt"
	"time"
)

// Moving from simplejwt: -import-simplejwt copies a Django database's
// outstanding and blacklisted tokens into -store (package
// simplejwtimport; Backends.Import, in example/backends, which has the
// database drivers), and -adopt-cutover with -adopt-until open the
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

// checkSimplejwt checks the flags of a move from simplejwt, given args.
func (c config) checkSimplejwt(args []string) error {
	if c.adoptCutover.IsZero() != c.adoptUntil.IsZero() {
		return errors.New("-adopt-cutover and -adopt-until go together: give both to adopt simplejwt's refresh tokens, or neither")
	}
	if c.importFrom == "" {
		return nil
	}
	if kind := StoreKind(c.importFrom); kind != "postgres" && kind != "sqlite" {
		return fmt.Errorf("-import-simplejwt %q: want postgres://… or sqlite:PATH", Redact(c.importFrom))
	}
	if c.backends == nil {
		return needBackends("-import-simplejwt", args)
	}
	if c.store == "memory" {
		return errors.New("-import-simplejwt needs a shared -store (redis://…, postgres://… or sqlite:PATH): the memory store dies with the import")
	}
	return nil
}
