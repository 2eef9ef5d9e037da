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

// Schema returns the DDL that [Store.Migrate] runs: the store's tables,
// indexes and triggers (and, on PostgreSQL, the triggers' functions) for its
// dialect and table prefix, for applying with a migration tool of your own.
// Every statement is idempotent.
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

// Migrate creates the store's tables, indexes and triggers if they do not
// exist, in one transaction. It is idempotent and safe to run from several
// processes at once (on PostgreSQL they queue on an advisory lock). Run it
// at startup or apply [Store.Schema] with your own migration tool.
//
// It refuses, changing nothing, a database that holds the tables of the
// family schema of jwtpair's development versions before sessions (a
// <prefix>families table, or a <prefix>tokens table with a family_id
// column): the new tables would stand beside them half-working. That schema
// was never released, so Migrate does not convert it; the error says which
// tables to drop (every user then logs in again).
func (s *Store) Migrate(ctx context.Context) error {
	err := s.migrate(ctx, func(tx execQuerier) error {
		if s.dialect == DialectPostgres {
			// Concurrent CREATE … IF NOT EXISTS can still collide in the
			// catalog; serialize migrations of this prefix.
			h := fnv.New64a()
			_, _ = h.Write([]byte("jwtpair/sqlstore:" + s.prefix))
			if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", int64(h.Sum64())); err != nil {
				return err
			}
		}
		if err := s.refuseFamilySchema(ctx, tx); err != nil {
			return err
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

// execQuerier is what *sql.Tx and *sql.Conn share.
type execQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// migrate runs fn in one transaction. On SQLite it is BEGIN IMMEDIATE,
// which takes the write lock first (waiting on busy_timeout): the migration
// reads before it writes, and a reader cannot become a writer once another
// connection has written.
func (s *Store) migrate(ctx context.Context, fn func(tx execQuerier) error) error {
	if s.dialect == DialectPostgres {
		return inTx(ctx, s.db, func(tx *sql.Tx) error { return fn(tx) })
	}
	if err := s.acquireWrite(ctx); err != nil {
		return err
	}
	defer s.releaseWrite()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	if err := fn(conn); err != nil {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		return err
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		return err
	}
	return nil
}

// familySchemaQuery reports whether the database holds the tables of the
// family schema: $1 the families table, $2 the tokens table.
var familySchemaQuery = map[Dialect]string{
	DialectPostgres: `SELECT to_regclass($1) IS NOT NULL OR EXISTS (
	SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($2) AND attname = 'family_id' AND NOT attisdropped)`,
	DialectSQLite: `SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1 COLLATE NOCASE)
	OR EXISTS (SELECT 1 FROM pragma_table_info(?2) WHERE name = 'family_id')`,
}

// refuseFamilySchema fails when the database holds the family schema.
func (s *Store) refuseFamilySchema(ctx context.Context, tx execQuerier) error {
	families, tokens := s.prefix+"families", s.prefix+"tokens"
	var found bool
	if err := tx.QueryRowContext(ctx, familySchemaQuery[s.dialect], families, tokens).Scan(&found); err != nil {
		return err
	}
	if found {
		return fmt.Errorf("the database holds %s and %s of the unreleased family schema, which this version does not convert: "+
			"drop them (DROP TABLE %s, %s; every user then logs in again) and run Migrate again, or choose another WithTablePrefix",
			families, tokens, tokens, families)
	}
	return nil
}

// statements splits a schema file into its statements: each ends with a
// semicolon at the end of a line, outside a dollar-quoted body
// (PostgreSQL's functions and DO blocks) and a trigger's BEGIN … END
// (SQLite); comment lines are dropped.
func statements(schema string) []string {
	var out []string
	var cur strings.Builder
	dollar, block := false, false
	for line := range strings.Lines(schema) {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		if strings.Count(trimmed, "$$")%2 == 1 {
			dollar = !dollar
		}
		switch {
		case trimmed == "BEGIN" && !dollar:
			block = true
		case trimmed == "END;" && block:
			block = false
		}
		if strings.HasSuffix(trimmed, ";") && !dollar && !block {
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		}
	}
	if rest := strings.TrimSpace(cur.String()); rest != "" {
		out = append(out, rest)
	}
	return out
}
