-- jwtpair session store: SQLite schema (SQLite 3.35 or later).
--
-- Applied by (*sqlstore.Store).Migrate, which also swaps the "jwtpair_"
-- prefix of every name for the one configured; idempotent. Times are Unix
-- nanoseconds on the database's clock. No raw token is stored: only jtis
-- and metadata.

-- One row per session (a login and all its rotations). expires_at is the
-- idle expiry, the latest expiry among its tokens, so an ended session is
-- remembered as long as any token it covers; absolute_expiry (NULL: none)
-- is never moved; client is the login's metadata as a JSON object (NULL:
-- none); ended_at marks an ended session (logout, reuse, EndSession,
-- EndSessions). The per-user cap deletes the sessions it ends instead.
CREATE TABLE IF NOT EXISTS jwtpair_sessions (
    session_id      TEXT    PRIMARY KEY,
    user_id         TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    refreshed_at    INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    absolute_expiry INTEGER,
    client          TEXT,
    ended_at        INTEGER
) WITHOUT ROWID;
-- Sessions (newest first), EndSessions, and the per-user cap (oldest first).
CREATE INDEX IF NOT EXISTS jwtpair_sessions_user ON jwtpair_sessions (user_id, created_at DESC);
-- PurgeExpired.
CREATE INDEX IF NOT EXISTS jwtpair_sessions_expires_at ON jwtpair_sessions (expires_at);

-- One row per refresh token, by jti. consumed_at is when a rotation consumed
-- it and replays how many replays the reuse grace window has granted it
-- since.
CREATE TABLE IF NOT EXISTS jwtpair_tokens (
    jti         TEXT    PRIMARY KEY,
    session_id  TEXT    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('active', 'consumed', 'revoked')),
    expires_at  INTEGER NOT NULL,
    consumed_at INTEGER,
    replays     INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
-- PurgeExpired.
CREATE INDEX IF NOT EXISTS jwtpair_tokens_expires_at ON jwtpair_tokens (expires_at);
-- The per-user cap, which forgets a session with its tokens.
CREATE INDEX IF NOT EXISTS jwtpair_tokens_session ON jwtpair_tokens (session_id);

-- The revocation feed: one row per ended session, and one with session_id ''
-- per "end all sessions of a user". SQLite runs one write transaction at a
-- time, so ids grow in commit order and a reader's cursor is the last id it
-- read; AUTOINCREMENT keeps an id from being handed out again once the
-- highest rows are purged.
CREATE TABLE IF NOT EXISTS jwtpair_revocations (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    user_id    TEXT    NOT NULL,
    session_id TEXT    NOT NULL
);
-- Revocations (retention) and PurgeExpired.
CREATE INDEX IF NOT EXISTS jwtpair_revocations_at ON jwtpair_revocations (at);

-- Every session that ends gets its feed row in the statement that ends it,
-- whichever statement that is (the store's, or an administrator's UPDATE);
-- the per-user cap, which deletes sessions, writes theirs itself.
CREATE TRIGGER IF NOT EXISTS jwtpair_sessions_ended AFTER UPDATE OF ended_at ON jwtpair_sessions
FOR EACH ROW WHEN OLD.ended_at IS NULL AND NEW.ended_at IS NOT NULL
BEGIN
    INSERT INTO jwtpair_revocations (at, user_id, session_id) VALUES (NEW.ended_at, NEW.user_id, NEW.session_id);
END;
