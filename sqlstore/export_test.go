package sqlstore

import "context"

// Listening reports whether s receives the feed's notifications now
// (PostgreSQL, pgx): Revocations then waits for them and does not poll.
func Listening(s *Store) bool {
	_, up := s.listen.state()
	return up
}

// HoldWrites takes s's write slot (SQLite) as a write in progress would,
// until the function it returns is called.
func HoldWrites(s *Store) (release func()) {
	if err := s.acquireWrite(context.Background()); err != nil {
		panic(err)
	}
	return s.releaseWrite
}

// PurgeStatements returns the statements of PurgeExpired: tokens,
// sessions, revocations ($1 the batch size; the last also $2, the
// retention).
func PurgeStatements(s *Store) []string {
	return []string{s.q.purgeTokens, s.q.purgeSessions, s.q.purgeRevocations}
}
