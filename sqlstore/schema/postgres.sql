-- jwtpair session store: PostgreSQL schema (PostgreSQL 13 or later).
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
    session_id      text   PRIMARY KEY,
    user_id         text   NOT NULL,
    created_at      bigint NOT NULL,
    refreshed_at    bigint NOT NULL,
    expires_at      bigint NOT NULL,
    absolute_expiry bigint,
    client          text,
    ended_at        bigint
);
-- Sessions (newest first), EndSessions, and the per-user cap (oldest first).
CREATE INDEX IF NOT EXISTS jwtpair_sessions_user ON jwtpair_sessions (user_id, created_at DESC);
-- PurgeExpired.
CREATE INDEX IF NOT EXISTS jwtpair_sessions_expires_at ON jwtpair_sessions (expires_at);

-- One row per refresh token, by jti. consumed_at is when a rotation consumed
-- it and replays how many replays the reuse grace window has granted it
-- since. State 'revoked' marks the token a logout named.
CREATE TABLE IF NOT EXISTS jwtpair_tokens (
    jti         text    PRIMARY KEY,
    session_id  text    NOT NULL,
    state       text    NOT NULL CHECK (state IN ('active', 'consumed', 'revoked')),
    expires_at  bigint  NOT NULL,
    consumed_at bigint,
    replays     integer NOT NULL DEFAULT 0
);
-- PurgeExpired.
CREATE INDEX IF NOT EXISTS jwtpair_tokens_expires_at ON jwtpair_tokens (expires_at);
-- The per-user cap, which forgets a session with its tokens.
CREATE INDEX IF NOT EXISTS jwtpair_tokens_session ON jwtpair_tokens (session_id);

-- The revocation feed: one row per ended session, and one with session_id ''
-- per "end all sessions of a user". xid is the writing transaction's id: the
-- feed's cursor is a snapshot, and a row is new to a reader when its
-- transaction was not yet visible in the reader's previous snapshot, in
-- whatever order the transactions committed.
CREATE TABLE IF NOT EXISTS jwtpair_revocations (
    xid        xid8   NOT NULL DEFAULT pg_current_xact_id(),
    at         bigint NOT NULL,
    user_id    text   NOT NULL,
    session_id text   NOT NULL
);
-- Revocations (rows of transactions at or after the cursor's xmin).
CREATE INDEX IF NOT EXISTS jwtpair_revocations_xid ON jwtpair_revocations (xid);
-- Revocations (retention) and PurgeExpired.
CREATE INDEX IF NOT EXISTS jwtpair_revocations_at ON jwtpair_revocations (at);

-- Every session that ends gets its feed row in the statement that ends it,
-- whichever statement that is (the store's, or an administrator's UPDATE);
-- the per-user cap, which deletes sessions, writes theirs itself.
CREATE OR REPLACE FUNCTION jwtpair_sessions_ended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO jwtpair_revocations (at, user_id, session_id) VALUES (NEW.ended_at, NEW.user_id, NEW.session_id);
    RETURN NULL;
END
$$;
-- Every row added to the feed wakes its listeners (LISTEN
-- "jwtpair_revocations") when its transaction commits (one notification
-- per transaction: PostgreSQL folds the same one sent again).
CREATE OR REPLACE FUNCTION jwtpair_revocations_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('jwtpair_revocations', '');
    RETURN NULL;
END
$$;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'jwtpair_sessions'::regclass AND tgname = lower('jwtpair_sessions_ended')) THEN
        CREATE TRIGGER jwtpair_sessions_ended AFTER UPDATE OF ended_at ON jwtpair_sessions
            FOR EACH ROW WHEN (OLD.ended_at IS NULL AND NEW.ended_at IS NOT NULL)
            EXECUTE FUNCTION jwtpair_sessions_ended();
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'jwtpair_revocations'::regclass AND tgname = lower('jwtpair_revocations_notify')) THEN
        CREATE TRIGGER jwtpair_revocations_notify AFTER INSERT ON jwtpair_revocations
            FOR EACH ROW EXECUTE FUNCTION jwtpair_revocations_notify();
    END IF;
END
$$;
