-- jwtpair login and refresh throttling: PostgreSQL schema of sqlstore.Limiter.
--
-- Applied by (*sqlstore.Limiter).Migrate, which also swaps the "jwtpair_"
-- table prefix for the one configured; idempotent.

-- One row per throttled key ("login:ip:203.0.113.7", …): tat is when the key
-- is back at rest (GCRA's theoretical arrival time), in Unix nanoseconds on
-- the database's clock; allowed is the verdict of the key's latest attempt,
-- which the attempt's statement returns. A row whose tat has passed holds
-- nothing: PurgeExpired deletes such rows.
CREATE TABLE IF NOT EXISTS jwtpair_limits (
    name    text    PRIMARY KEY,
    tat     bigint  NOT NULL,
    allowed boolean NOT NULL
);
