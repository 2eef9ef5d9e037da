package sqlstore

// Listening reports whether s receives the feed's notifications now
// (PostgreSQL, pgx): Revocations then waits for them and does not poll.
func Listening(s *Store) bool {
	_, up := s.listen.state()
	return up
}
