package sqlstore_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtpair/jwtpair"
	"github.com/jwtpair/jwtpair/sqlstore"
	"github.com/jwtpair/jwtpair/storetest"
)

// forEach runs fn as a subtest per backend.
func forEach(t *testing.T, fn func(t *testing.T, be backend)) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			if be.name == postgresBackend.name {
				postgresURL(t) // skip (or fail) once, not in every subtest
			}
			fn(t, be)
		})
	}
}

func TestConformance(t *testing.T) {
	forEach(t, func(t *testing.T, be backend) {
		storetest.Run(t, func(t *testing.T) jwtpair.Store { return newStore(t, be) })
	})
}

// TestShared runs the cross-instance suite: every Opener call is a new
// connection pool (a new process) over the same tables.
func TestShared(t *testing.T) {
	forEach(t, func(t *testing.T, be backend) {
		storetest.RunShared(t, func(t *testing.T) storetest.Opener {
			prefix, open := be.newDB(t)
			storeOn(t, open(t), prefix) // migrate once
			return func(t *testing.T) jwtpair.Store {
				s, err := sqlstore.New(open(t), sqlstore.WithTablePrefix(prefix))
				require.NoError(t, err)
				return s
			}
		})
	})
}

// otherDriver is a database/sql driver sqlstore cannot recognise.
type otherDriver struct{}

func (otherDriver) Open(string) (driver.Conn, error) { return nil, errors.New("not a database") }

func TestNew(t *testing.T) {
	lite, err := sql.Open("sqlite", ":memory:")
	require.NoError(t, err)
	t.Cleanup(func() { _ = lite.Close() })
	pg, err := sql.Open("pgx", "postgres://127.0.0.1:1/none")
	require.NoError(t, err)
	t.Cleanup(func() { _ = pg.Close() })
	other := sql.OpenDB(connector{})
	t.Cleanup(func() { _ = other.Close() })

	s, err := sqlstore.New(lite)
	require.NoError(t, err)
	assert.Equal(t, sqlstore.DialectSQLite, s.Dialect())
	s, err = sqlstore.New(pg)
	require.NoError(t, err)
	assert.Equal(t, sqlstore.DialectPostgres, s.Dialect())
	s, err = sqlstore.New(other, sqlstore.WithDialect(sqlstore.DialectPostgres))
	require.NoError(t, err)
	assert.Equal(t, sqlstore.DialectPostgres, s.Dialect())
	_, err = sqlstore.New(lite, sqlstore.WithTablePrefix(""))
	require.NoError(t, err, "an empty prefix is allowed")

	bad := []struct {
		name string
		db   *sql.DB
		opts []sqlstore.Option
		want string
	}{
		{"nil db", nil, nil, "nil *sql.DB"},
		{"unknown driver", other, nil, "cannot tell the dialect"},
		{"unknown dialect", lite, []sqlstore.Option{sqlstore.WithDialect(sqlstore.Dialect(9))}, "unknown dialect"},
		{"prefix with a quote", lite, []sqlstore.Option{sqlstore.WithTablePrefix(`x"; DROP TABLE y; --`)}, "invalid table prefix"},
		{"prefix with a dot", lite, []sqlstore.Option{sqlstore.WithTablePrefix("auth.jwt_")}, "invalid table prefix"},
		{"prefix starting with a digit", lite, []sqlstore.Option{sqlstore.WithTablePrefix("1x_")}, "invalid table prefix"},
		{"prefix too long", lite, []sqlstore.Option{sqlstore.WithTablePrefix(strings.Repeat("x", 41))}, "invalid table prefix"},
		{"janitor zero", lite, []sqlstore.Option{sqlstore.WithJanitor(0)}, "janitor interval"},
		{"janitor negative", lite, []sqlstore.Option{sqlstore.WithJanitor(-time.Second)}, "janitor interval"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			s, err := sqlstore.New(tc.db, tc.opts...)
			require.ErrorContains(t, err, tc.want)
			require.Nil(t, s)
		})
	}
}

type connector struct{}

func (connector) Connect(context.Context) (driver.Conn, error) {
	return nil, errors.New("not a database")
}
func (connector) Driver() driver.Driver { return otherDriver{} }

func TestSchema(t *testing.T) {
	lite, err := sql.Open("sqlite", ":memory:")
	require.NoError(t, err)
	t.Cleanup(func() { _ = lite.Close() })
	for _, d := range []sqlstore.Dialect{sqlstore.DialectPostgres, sqlstore.DialectSQLite} {
		s, err := sqlstore.New(lite, sqlstore.WithDialect(d), sqlstore.WithTablePrefix("auth_"))
		require.NoError(t, err)
		schema := s.Schema()
		assert.NotContains(t, schema, "jwtpair_", d)
		for _, want := range []string{
			"CREATE TABLE IF NOT EXISTS auth_tokens", "CREATE TABLE IF NOT EXISTS auth_families",
			"auth_families (user_id)", "auth_tokens (expires_at)", "auth_families (expires_at)",
		} {
			assert.Contains(t, schema, want, d)
		}
	}
}

func TestMigrate(t *testing.T) {
	forEach(t, func(t *testing.T, be backend) {
		prefix, open := be.newDB(t)
		db := open(t)
		s, err := sqlstore.New(db, sqlstore.WithTablePrefix(prefix))
		require.NoError(t, err)
		ctx := t.Context()

		// Several processes migrating at once, then again: all succeed.
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() {
				s, err := sqlstore.New(open(t), sqlstore.WithTablePrefix(prefix))
				if err == nil {
					err = s.Migrate(ctx)
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		require.NoError(t, s.Migrate(ctx))

		rec := storetest.Login(t, s)
		require.NoError(t, s.Migrate(ctx), "migrating again keeps the data")
		require.NoError(t, s.Check(ctx, rec.JTI))
	})
}

// age moves every stored expiry of a store's tables d into the past: to
// expiry, the same as the database's clock moving d ahead, which a test
// cannot do.
func age(t *testing.T, db *sql.DB, prefix string, d time.Duration) {
	t.Helper()
	for _, table := range []string{"tokens", "families"} {
		_, err := db.ExecContext(t.Context(), "UPDATE "+prefix+table+" SET expires_at = expires_at - "+strconv.FormatInt(int64(d), 10))
		require.NoError(t, err, "age %s", table)
	}
}

// setColumn overwrites one column of a token's row, as time passing or an
// older record would leave it.
func setColumn(t *testing.T, db *sql.DB, prefix, jti, column string, value any) {
	t.Helper()
	_, err := db.ExecContext(t.Context(), "UPDATE "+prefix+"tokens SET "+column+" = "+placeholder(db, 1)+" WHERE jti = "+placeholder(db, 2), value, jti)
	require.NoError(t, err, "set %s", column)
}

// placeholder returns the n-th parameter placeholder of db's dialect.
func placeholder(db *sql.DB, n int) string {
	if strings.Contains(fmt.Sprintf("%T", db.Driver()), "sqlite") {
		return "?" + strconv.Itoa(n)
	}
	return "$" + strconv.Itoa(n)
}

func TestExpiryOnDatabaseClock(t *testing.T) {
	forEach(t, func(t *testing.T, be backend) {
		s, db, prefix := newStoreDB(t, be)
		ctx := t.Context()

		a := storetest.Login(t, s)
		require.NoError(t, s.Check(ctx, a.JTI))
		setColumn(t, db, prefix, a.JTI, "expires_at", time.Now().Add(-time.Second).UnixNano())
		require.ErrorIs(t, s.Check(ctx, a.JTI), jwtpair.ErrTokenNotFound)
		require.ErrorIs(t, s.Revoke(ctx, a.JTI), jwtpair.ErrTokenNotFound)
		require.ErrorIs(t, s.Rotate(ctx, a.JTI, storetest.NewSuccessor(), jwtpair.RotateOptions{}), jwtpair.ErrTokenNotFound)

		// An expired record's jti may be recorded again, by Issue or as a
		// successor, before it is purged.
		require.NoError(t, s.Issue(ctx, a))
		require.NoError(t, s.Check(ctx, a.JTI))

		b, c := storetest.NewRecord(), storetest.NewRecord()
		require.NoError(t, s.Issue(ctx, b))
		require.NoError(t, s.Issue(ctx, c))
		setColumn(t, db, prefix, c.JTI, "expires_at", time.Now().Add(-time.Second).UnixNano())
		succ := storetest.NewSuccessor()
		succ.JTI = c.JTI
		require.NoError(t, s.Rotate(ctx, b.JTI, succ, jwtpair.RotateOptions{}))
		require.NoError(t, s.Check(ctx, c.JTI), "the successor took the expired jti")
		require.NoError(t, s.RevokeFamily(ctx, b.FamilyID))
		require.ErrorIs(t, s.Check(ctx, c.JTI), jwtpair.ErrTokenBlacklisted, "and joined b's family")
	})
}

// TestGraceWindowOnDatabaseClock moves a token's consumption time, as
// stored, to either side of the window's edge on the database's clock:
// 50 ms inside is a replay, 50 ms outside is reuse. No sleep: the window is
// 10 s.
func TestGraceWindowOnDatabaseClock(t *testing.T) {
	forEach(t, func(t *testing.T, be backend) {
		const grace = 10 * time.Second
		s, db, prefix := newStoreDB(t, be)
		ctx := t.Context()
		opts := jwtpair.RotateOptions{Grace: grace}

		a := storetest.Login(t, s)
		require.NoError(t, s.Rotate(ctx, a.JTI, storetest.NewSuccessor(), opts))
		setColumn(t, db, prefix, a.JTI, "consumed_at", time.Now().Add(-grace+50*time.Millisecond).UnixNano())
		require.NoError(t, s.Rotate(ctx, a.JTI, storetest.NewSuccessor(), opts), "consumed 9.95 s ago")
		setColumn(t, db, prefix, a.JTI, "consumed_at", time.Now().Add(-grace-50*time.Millisecond).UnixNano())
		require.ErrorIs(t, s.Rotate(ctx, a.JTI, storetest.NewSuccessor(), opts), jwtpair.ErrTokenReused, "consumed 10.05 s ago")
	})
}

func TestIssueRefusals(t *testing.T) {
	forEach(t, func(t *testing.T, be backend) {
		s := newStore(t, be)
		ctx := t.Context()
		a := storetest.Login(t, s)

		dup := storetest.NewRecord() // a new family, refused: it must not be created
		dup.JTI = a.JTI
		storetest.RequireUnavailable(t, s.Issue(ctx, dup), "duplicate jti")
		require.NoError(t, s.RevokeUser(ctx, a.UserID))
		require.NoError(t, s.RevokeUser(ctx, dup.UserID))
		fresh := storetest.NewRecord()
		fresh.UserID, fresh.FamilyID = dup.UserID, dup.FamilyID
		require.NoError(t, s.Issue(ctx, fresh), "the refused Issue left no revoked family behind")

		stranger := storetest.NewRecord()
		stranger.FamilyID = fresh.FamilyID
		storetest.RequireUnavailable(t, s.Issue(ctx, stranger), "another user's family")
		require.ErrorIs(t, s.Check(ctx, stranger.JTI), jwtpair.ErrTokenNotFound)

		late := storetest.NewRecord()
		late.UserID, late.FamilyID = a.UserID, a.FamilyID
		require.ErrorIs(t, s.Issue(ctx, late), jwtpair.ErrTokenBlacklisted, "a revoked family")
		require.ErrorIs(t, s.Check(ctx, late.JTI), jwtpair.ErrTokenNotFound)

		// A Rotate successor held by a live record is refused; nothing changes.
		b := storetest.Login(t, s)
		taken := storetest.NewSuccessor()
		taken.JTI = fresh.JTI
		storetest.RequireUnavailable(t, s.Rotate(ctx, b.JTI, taken, jwtpair.RotateOptions{}))
		require.NoError(t, s.Check(ctx, b.JTI), "the presented token stays active")
		require.NoError(t, s.Check(ctx, fresh.JTI))
	})
}

// TestConcurrentRotateAcrossPools: 64 rotations of one token, grace 0, over
// two connection pools (two processes): exactly one wins, every round.
func TestConcurrentRotateAcrossPools(t *testing.T) {
	forEach(t, func(t *testing.T, be backend) {
		const n = 64
		s1, s2 := twoStores(t, be)
		ctx := t.Context()
		for round := range 5 {
			a := storetest.Login(t, s1)
			race := storetest.RotateRace(t, a.JTI, n, s1, s2)
			require.Len(t, race.Won, 1, "round %d: %s", round, race)
			require.GreaterOrEqual(t, race.Reused, 1, "round %d", round)
			for _, next := range race.Successors {
				require.Error(t, s1.Check(ctx, next.JTI), "no successor stays usable after reuse")
			}
		}
	})
}

// TestRevokeFamilyDuringRotations: a family revoked while its chain is being
// rotated leaves no usable token, whichever wins each race.
func TestRevokeFamilyDuringRotations(t *testing.T) {
	forEach(t, func(t *testing.T, be backend) {
		s1, s2 := twoStores(t, be)
		ctx := t.Context()
		for round := range 10 {
			a := storetest.Login(t, s1)
			var mu sync.Mutex
			seen := []string{a.JTI}
			var wg sync.WaitGroup
			wg.Go(func() {
				cur := a.JTI
				for range 20 {
					nx := storetest.NewSuccessor()
					if s1.Rotate(ctx, cur, nx, jwtpair.RotateOptions{}) != nil {
						return
					}
					mu.Lock()
					seen = append(seen, nx.JTI)
					mu.Unlock()
					cur = nx.JTI
				}
			})
			wg.Go(func() {
				time.Sleep(time.Duration(round) * time.Millisecond)
				assert.NoError(t, s2.RevokeFamily(ctx, a.FamilyID))
			})
			wg.Wait()
			for _, jti := range seen {
				require.ErrorIs(t, s1.Check(ctx, jti), jwtpair.ErrTokenBlacklisted, "round %d", round)
			}
		}
	})
}

func TestPurgeExpired(t *testing.T) {
	forEach(t, func(t *testing.T, be backend) {
		t0 := time.Now()
		s, db, prefix := newStoreDB(t, be)
		ctx := t.Context()
		count := func(table string) int {
			t.Helper()
			var n int
			require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM "+prefix+table).Scan(&n))
			return n
		}

		// Family f: a short-lived token and a long-lived successor; revoked.
		f := storetest.NewRecord()
		f.ExpiresAt = t0.Add(time.Minute)
		require.NoError(t, s.Issue(ctx, f))
		fNext := storetest.NewSuccessor()
		fNext.ExpiresAt = t0.Add(time.Hour)
		require.NoError(t, s.Rotate(ctx, f.JTI, fNext, jwtpair.RotateOptions{}))
		require.NoError(t, s.RevokeFamily(ctx, f.FamilyID))
		// Family g: many short-lived tokens, more than one purge batch.
		g := storetest.NewRecord()
		g.ExpiresAt = t0.Add(time.Minute)
		require.NoError(t, s.Issue(ctx, g))
		for range 1500 {
			r := g
			r.JTI = storetest.NewID()
			require.NoError(t, s.Issue(ctx, r))
		}
		require.Equal(t, 1503, count("tokens"))
		require.Equal(t, 2, count("families"))

		n, err := s.PurgeExpired(ctx)
		require.NoError(t, err)
		require.Zero(t, n, "nothing has expired yet")

		age(t, db, prefix, 2*time.Minute)
		n, err = s.PurgeExpired(ctx)
		require.NoError(t, err)
		require.EqualValues(t, 1502, n)
		require.Equal(t, 1, count("tokens"))
		require.Equal(t, 1, count("families"), "g is gone; f still covers a live token")
		require.ErrorIs(t, s.Check(ctx, fNext.JTI), jwtpair.ErrTokenBlacklisted, "the revocation outlives the purge")

		age(t, db, prefix, time.Hour)
		n, err = s.PurgeExpired(ctx)
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		require.Zero(t, count("tokens"))
		require.Zero(t, count("families"))
	})
}

func TestJanitor(t *testing.T) {
	forEach(t, func(t *testing.T, be backend) {
		prefix, open := be.newDB(t)
		db := open(t)
		storeOn(t, db, prefix) // the tables exist before the janitor's first tick
		s, err := sqlstore.New(db, sqlstore.WithTablePrefix(prefix), sqlstore.WithJanitor(5*time.Millisecond))
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		ctx := t.Context()
		held := func(jti string) bool { // whether the tokens table holds jti (hex)
			t.Helper()
			var n int
			require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM "+prefix+"tokens WHERE jti = '"+jti+"'").Scan(&n))
			return n == 1
		}
		rec := storetest.Login(t, s)
		age(t, db, prefix, 2*time.Hour)
		require.Eventually(t, func() bool { return !held(rec.JTI) }, 10*time.Second, 5*time.Millisecond,
			"the janitor purges expired records")

		// Close is idempotent, safe concurrently, and waits for the janitor.
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() { assert.NoError(t, s.Close()) })
		}
		wg.Wait()
		require.NoError(t, s.Close())

		// After Close nothing purges any more; the store still works.
		rec2 := storetest.Login(t, s)
		age(t, db, prefix, 2*time.Hour)
		time.Sleep(50 * time.Millisecond) // ten janitor periods
		require.True(t, held(rec2.JTI), "the janitor stopped at Close")
	})
}

// TestCloseWaitsForJanitorPurge: a purge statement the janitor has sent
// finishes before Close returns. Here the janitor's DELETE waits on a row
// lock held by another transaction while Close is called. Were the statement
// cancelled by Close instead, the client would give up at once but
// PostgreSQL would run the DELETE on, once the lock is released, after Close
// had returned (which made TestJanitor flaky under load).
func TestCloseWaitsForJanitorPurge(t *testing.T) {
	prefix, open := postgresBackend.newDB(t)
	db := open(t)
	ctx := t.Context()
	rec := storetest.NewRecord()
	require.NoError(t, storeOn(t, db, prefix).Issue(ctx, rec))
	age(t, db, prefix, 2*time.Hour)

	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback() })
	var one int
	require.NoError(t, tx.QueryRowContext(ctx, "SELECT 1 FROM "+prefix+"tokens WHERE jti = $1 FOR UPDATE", rec.JTI).Scan(&one))

	s, err := sqlstore.New(db, sqlstore.WithTablePrefix(prefix), sqlstore.WithJanitor(5*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	purging := func() bool { // the janitor's DELETE is waiting for the lock
		var n int
		err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
WHERE wait_event_type = 'Lock' AND query LIKE 'DELETE FROM `+prefix+`tokens%'`).Scan(&n)
		return err == nil && n > 0
	}
	require.Eventually(t, purging, 10*time.Second, 5*time.Millisecond, "the janitor's DELETE waits for the row lock")

	closed := make(chan struct{})
	go func() {
		assert.NoError(t, s.Close())
		close(closed)
	}()
	select {
	case <-closed:
		t.Fatal("Close returned while the janitor's purge was running")
	case <-time.After(200 * time.Millisecond):
	}
	require.NoError(t, tx.Commit())
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return once the purge could finish")
	}
	assert.False(t, purging(), "no purge runs after Close")
	var n int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM "+prefix+"tokens").Scan(&n))
	assert.Zero(t, n, "the purge Close waited for finished")
}

// TestNewStoreValueSeesRevocations: a store opened later over the same
// tables (a restarted process) sees every earlier revocation.
func TestNewStoreValueSeesRevocations(t *testing.T) {
	forEach(t, func(t *testing.T, be backend) {
		prefix, open := be.newDB(t)
		db1 := open(t)
		s1 := storeOn(t, db1, prefix)
		ctx := t.Context()
		a, b, c, d := storetest.NewRecord(), storetest.NewRecord(), storetest.NewRecord(), storetest.NewRecord()
		for _, r := range []jwtpair.Record{a, b, c, d} {
			require.NoError(t, s1.Issue(ctx, r))
		}
		require.NoError(t, s1.Revoke(ctx, a.JTI))
		require.NoError(t, s1.RevokeFamily(ctx, b.FamilyID))
		require.NoError(t, s1.RevokeUser(ctx, c.UserID))
		require.NoError(t, db1.Close())

		s2 := storeOn(t, open(t), prefix)
		for _, r := range []jwtpair.Record{a, b, c} {
			require.ErrorIs(t, s2.Check(ctx, r.JTI), jwtpair.ErrTokenBlacklisted)
		}
		require.NoError(t, s2.Check(ctx, d.JTI))
	})
}

func TestOutageClosedPort(t *testing.T) {
	dsn := withHost(t, "postgres://postgres@127.0.0.1:5432/jwtpair?sslmode=disable", storetest.ClosedAddr(t))
	db, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	s, err := sqlstore.New(db)
	require.NoError(t, err)
	storetest.RequireAllUnavailable(t, s)
	_, err = s.PurgeExpired(t.Context())
	storetest.RequireUnavailable(t, err, "PurgeExpired")
	require.Error(t, s.Migrate(t.Context()))
}

// TestOutageSQLite: a database that cannot be used (here: closed) fails
// every method with ErrStoreUnavailable.
func TestOutageSQLite(t *testing.T) {
	s, db, _ := newStoreDB(t, sqliteBackend)
	require.NoError(t, db.Close())
	storetest.RequireAllUnavailable(t, s)
}

// queryCounter is a pgx tracer counting the statements sent to PostgreSQL,
// BEGIN and COMMIT included.
type queryCounter struct{ n atomic.Int64 }

func (q *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	q.n.Add(1)
	return ctx
}
func (q *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TestOneRoundTripPostgres: on PostgreSQL every method's usual path is one
// statement, with no transaction around it.
func TestOneRoundTripPostgres(t *testing.T) {
	dsn := postgresURL(t)
	cfg, err := pgx.ParseConfig(dsn)
	require.NoError(t, err)
	counter := &queryCounter{}
	cfg.Tracer = counter
	db := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { _ = db.Close() })
	s := storeOn(t, db, postgresPrefix(t, dsn))
	storetest.RequireRoundTrips(t, s, counter.n.Load, 1)
}

// TestHTTPOutage: with PostgreSQL gone, the endpoints of a real Auth answer
// 503 and never accept a revoked token, the middleware keeps serving, and
// all recovers without a restart (storetest.RunOutage).
func TestHTTPOutage(t *testing.T) {
	target := postgresURL(t)
	u, err := urlHost(target)
	require.NoError(t, err)
	p := storetest.StartProxy(t, u)
	prefix := postgresPrefix(t, target)
	db := openDB(t, "pgx", withHost(t, target, p.Addr()))
	storetest.RunOutage(t, storeOn(t, db, prefix), p)
}
