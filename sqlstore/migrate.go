package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"hash/fnv"
	"strings"
)

// schemaFS holds the schema of each dialect, written for the default table
// prefix. The files can also be applied by hand (psql -f, sqlite3 <).
//
//go:embed schema/postgres.sql schema/sqlite.sql
var schemaFS embed.FS

// Schema returns the DDL that [Store.Migrate] runs: the store's tables and
// indexes for its dialect and table prefix, for applying with a migration
// tool of your own. Every statement is idempotent (IF NOT EXISTS).
func (s *Store) Schema() string {
	name := "schema/postgres.sql"
	if s.dialect == DialectSQLite {
		name = "schema/sqlite.sql"
	}
	b, err := schemaFS.ReadFile(name)
	if err != nil {
		panic("sqlstore: embedded schema missing: " + err.Error()) // cannot happen: embedded at build
	}
	return strings.ReplaceAll(string(b), DefaultTablePrefix, s.prefix)
}

// Migrate creates the store's tables and indexes if they do not exist, in
// one transaction. It is idempotent and safe to run from several processes
// at once (on PostgreSQL they queue on an advisory lock). Run it at startup
// or apply [Store.Schema] with your own migration tool.
func (s *Store) Migrate(ctx context.Context) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if s.dialect == DialectPostgres {
			// Concurrent CREATE … IF NOT EXISTS can still collide in the
			// catalog; serialize migrations of this prefix.
			h := fnv.New64a()
			_, _ = h.Write([]byte("jwtpair/sqlstore:" + s.prefix))
			if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", int64(h.Sum64())); err != nil {
				return err
			}
		}
		for _, stmt := range statements(s.Schema()) {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("%w\n%s", err, stmt)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	return nil
}

// statements splits a schema file into its statements: each ends with a
// semicolon at the end of a line; comment lines are dropped.
func statements(schema string) []string {
	var out []string
	var cur strings.Builder
	for line := range strings.Lines(schema) {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		if strings.HasSuffix(trimmed, ";") {
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		}
	}
	if rest := strings.TrimSpace(cur.String()); rest != "" {
		out = append(out, rest)
	}
	return out
}
