package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jwtpair/jwtpair"
)

// pollInterval is how often Revocations reads the feed while it waits with
// no notification to wake it: always on SQLite, and on PostgreSQL while the
// LISTEN connection is down (or the driver is not pgx).
const pollInterval = 100 * time.Millisecond

// Listener reconnection backoff, PostgreSQL.
const (
	minListenBackoff = 50 * time.Millisecond
	maxListenBackoff = 2 * time.Second
)

// RevocationRetention implements [jwtpair.RevocationFeed]: see
// [WithRevocationRetention].
func (s *Store) RevocationRetention() time.Duration { return s.retention }

// Revocations implements [jwtpair.RevocationFeed]. The revocations are rows
// of the revocations table, written by the statement that ends each session
// (the schema's trigger), so an end and its entry commit together; an entry
// older than the retention is never returned.
//
// On PostgreSQL the cursor is a snapshot (pg_current_snapshot, as text),
// the one the query that returned the previous entries ran on; the next
// query returns the rows whose transaction was not visible in that snapshot
// and is visible in its own (a row's xid column is its transaction's id).
// That is commit-order safe, which no "highest id seen" is: ids are taken
// when a transaction inserts, not when it commits, so a row that commits
// after a higher one would fall behind such a cursor. Here a row is returned
// by the first query that sees it, however late it commits, and a row of a
// transaction that rolls back by none. Waiting, the store LISTENs on a
// connection of its own (pgx only: through [sql.Conn.Raw]), which the
// feed's trigger notifies at each commit that adds entries, and reads again
// when woken; with another driver, or while that connection is down, it
// polls every 100 ms. The LISTEN connection is taken from the pool at the
// first call and held until [Store.Close] (not from a pool limited to one
// connection, see [sql.DB.SetMaxOpenConns]: the store then polls).
//
// On SQLite the cursor is the last id read: SQLite runs one write
// transaction at a time, so ids grow in commit order. Waiting, it polls
// every 100 ms.
//
// A cursor from a database whose counters went back (a restore from a
// backup) restarts the reader at every retained entry. An invalid cursor is
// refused with an error wrapping [jwtpair.ErrStoreUnavailable].
func (s *Store) Revocations(ctx context.Context, cursor string, wait time.Duration) ([]jwtpair.Revocation, string, error) {
	if !s.validCursor(cursor) {
		return nil, "", fmt.Errorf("sqlstore: revocations: %w: invalid cursor %q", jwtpair.ErrStoreUnavailable, cursor)
	}
	if s.dialect == DialectPostgres {
		s.startListener()
	}
	deadline := time.Now().Add(wait)
	for {
		// The wake channel is taken before the read: a notification of a
		// commit the read does not see closes it.
		wake, up := s.listen.state()
		var revs []jwtpair.Revocation
		var next string
		err := s.retry(ctx, func(q querier) (err error) {
			revs, next, err = s.readFeed(ctx, q, cursor)
			return err
		})
		if err != nil {
			return nil, cursor, s.fail("revocations", err)
		}
		cursor = next
		left := time.Until(deadline)
		if len(revs) > 0 || left <= 0 {
			return revs, cursor, nil
		}
		if !up {
			wake, left = nil, min(left, pollInterval)
		}
		timer := time.NewTimer(left)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, cursor, s.fail("revocations", ctx.Err())
		case <-wake:
		case <-timer.C:
		}
		timer.Stop()
		if time.Until(deadline) <= 0 {
			return nil, cursor, nil
		}
	}
}

// Cursor forms: a pg_snapshot's text, or an id.
var (
	snapshotCursor = regexp.MustCompile(`^[0-9]{1,20}:[0-9]{1,20}:(?:[0-9]{1,20}(?:,[0-9]{1,20})*)?$`)
	idCursor       = regexp.MustCompile(`^[0-9]{1,19}$`)
)

func (s *Store) validCursor(c string) bool {
	switch {
	case c == "":
		return true
	case s.dialect == DialectPostgres:
		return snapshotCursor.MatchString(c)
	}
	return idCursor.MatchString(c)
}

// readFeed runs one query of the feed: the entries after cursor ("" for
// all retained) and the cursor that follows them.
func (s *Store) readFeed(ctx context.Context, q querier, cursor string) ([]jwtpair.Revocation, string, error) {
	revs, next, err := s.queryFeed(ctx, q, cursor)
	if err == nil && cursor != "" && s.dialect == DialectPostgres && xmax(next) < xmax(cursor) {
		// Transaction ids went back: a restored database. Its rows may
		// carry ids the old snapshot counts as seen; read them all again.
		return s.queryFeed(ctx, q, "")
	}
	return revs, next, err
}

func (s *Store) queryFeed(ctx context.Context, q querier, cursor string) ([]jwtpair.Revocation, string, error) {
	var rows *sql.Rows
	var err error
	if cursor == "" {
		rows, err = q.QueryContext(ctx, s.q.feedAll, int64(s.retention))
	} else {
		var after any = cursor
		if s.dialect == DialectSQLite {
			after, _ = strconv.ParseInt(cursor, 10, 64) // validCursor checked it
		}
		rows, err = q.QueryContext(ctx, s.q.feedSince, int64(s.retention), after)
	}
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var revs []jwtpair.Revocation
	var next string
	for rows.Next() {
		var at, id sql.NullInt64
		var user, session sql.NullString
		if err := rows.Scan(&next, &at, &user, &session, &id); err != nil {
			return nil, "", err
		}
		if !at.Valid { // no entry: the row carries only the cursor
			continue
		}
		revs = append(revs, jwtpair.Revocation{UserID: user.String, SessionID: session.String, At: time.Unix(0, at.Int64)})
		if id.Valid {
			next = strconv.FormatInt(id.Int64, 10)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	return revs, next, nil
}

// xmax returns the xmax of a snapshot cursor ("xmin:xmax:xip,…"); 0 when
// it has none.
func xmax(snapshot string) uint64 {
	_, rest, _ := strings.Cut(snapshot, ":")
	v, _, _ := strings.Cut(rest, ":")
	n, _ := strconv.ParseUint(v, 10, 64)
	return n
}

// listener tracks the store's LISTEN connection on PostgreSQL.
type listener struct {
	mu      sync.Mutex
	started bool
	up      bool          // LISTEN is in force on a live connection
	wake    chan struct{} // closed, and replaced, at each notification and each change of up
}

// state returns the channel the next notification closes, and whether
// notifications are being received.
func (l *listener) state() (<-chan struct{}, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.wake, l.up
}

// signal wakes every waiter and records whether LISTEN is in force.
func (l *listener) signal(up bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.up = up
	close(l.wake)
	l.wake = make(chan struct{})
}

// startListener starts the LISTEN goroutine once, unless the store is
// closed. Close cancels done under the same lock, so the goroutine is
// either counted before Close waits or never started.
func (s *Store) startListener() {
	s.listen.mu.Lock()
	defer s.listen.mu.Unlock()
	if s.listen.started || s.done.Err() != nil {
		return
	}
	if s.db.Stats().MaxOpenConnections == 1 {
		return // the listener would hold the pool's only connection: poll
	}
	s.listen.started = true
	s.wg.Add(1)
	go s.runListener()
}

// errNoListen reports a driver through which the store cannot LISTEN.
var errNoListen = errors.New("sqlstore: the driver is not pgx: the revocation feed polls")

// runListener keeps a connection LISTENing until Close, reconnecting after
// a failure with a growing pause.
func (s *Store) runListener() {
	defer s.wg.Done()
	backoff := minListenBackoff
	for s.done.Err() == nil {
		listened, err := s.listenOnce()
		if errors.Is(err, errNoListen) {
			return
		}
		if listened {
			backoff = minListenBackoff
		}
		select {
		case <-s.done.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxListenBackoff)
	}
}

// listenOnce takes a connection from the pool, LISTENs on it and signals
// each notification until the connection fails or the store closes. The
// connection never goes back to the pool, which would hand out a LISTENing
// connection: its end is reported as driver.ErrBadConn, which discards it.
func (s *Store) listenOnce() (listened bool, err error) {
	conn, err := s.db.Conn(s.done)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		pc, ok := dc.(interface{ Conn() *pgx.Conn })
		if !ok {
			return errNoListen
		}
		c := pc.Conn()
		if _, err := c.Exec(s.done, `LISTEN "`+s.prefix+`revocations"`); err != nil {
			return driver.ErrBadConn
		}
		listened = true
		s.listen.signal(true)
		defer s.listen.signal(false)
		for {
			if _, err := c.WaitForNotification(s.done); err != nil {
				return driver.ErrBadConn
			}
			s.listen.signal(true)
		}
	})
	return listened, err
}
