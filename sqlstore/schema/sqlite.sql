-- jwtpair refresh-token store: SQLite schema.
--
-- Applied by (*sqlstore.Store).Migrate, which also swaps the "jwtpair_" table
-- prefix for the one configured; idempotent. Times are Unix nanoseconds.
-- No raw token is stored: only jtis and metadata.

-- One row per token family (a login and all its rotations). revoked_at marks
-- a revoked family (RevokeFamily, RevokeUser, reuse detection); expires_at is
-- the latest expiry among its tokens, so the revocation outlives every token
-- it covers.
CREATE TABLE IF NOT EXISTS jwtpair_families (
    family_id  TEXT    PRIMARY KEY,
    user_id    TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
) WITHOUT ROWID;
-- RevokeUser.
CREATE INDEX IF NOT EXISTS jwtpair_families_user_id ON jwtpair_families (user_id);
-- PurgeExpired.
CREATE INDEX IF NOT EXISTS jwtpair_families_expires_at ON jwtpair_families (expires_at);

-- One row per refresh token, by jti. consumed_at is when a rotation consumed
-- it and replays how many replays the reuse grace window has granted it
-- since, both on the database's clock. A logout revokes the family; state
-- 'revoked' marks the token a logout named (PostgreSQL).
CREATE TABLE IF NOT EXISTS jwtpair_tokens (
    jti         TEXT    PRIMARY KEY,
    family_id   TEXT    NOT NULL,
    user_id     TEXT    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('active', 'consumed', 'revoked')),
    parent_jti  TEXT,
    issued_at   INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    consumed_at INTEGER,
    replays     INTEGER NOT NULL DEFAULT 0,
    revoked_at  INTEGER
) WITHOUT ROWID;
-- PurgeExpired.
CREATE INDEX IF NOT EXISTS jwtpair_tokens_expires_at ON jwtpair_tokens (expires_at);
