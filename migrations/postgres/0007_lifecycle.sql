-- Account lifecycle and the flespi integration.

-- The blocking date in force: the earliest of the account's own and those of every
-- account above it. Kept on each row (and refreshed for a whole branch whenever a date
-- changes) so the session check reads it in its one indexed lookup.
ALTER TABLE accounts ADD COLUMN blocked_from BIGINT;
WITH RECURSIVE down(id, blocked_from, depth) AS (
    SELECT id, blocking_at, 0 FROM accounts WHERE parent_id IS NULL
    UNION ALL
    SELECT a.id,
           CASE WHEN a.blocking_at IS NULL THEN down.blocked_from
                WHEN down.blocked_from IS NULL OR a.blocking_at < down.blocked_from THEN a.blocking_at
                ELSE down.blocked_from END,
           down.depth + 1
    FROM accounts a JOIN down ON a.parent_id = down.id WHERE down.depth < 64
)
UPDATE accounts SET blocked_from = (SELECT blocked_from FROM down WHERE down.id = accounts.id);

-- One row per user and UTC day on which a notice of the coming blocking was sent: the
-- claim that keeps every instance from sending the same day's notice again.
CREATE TABLE blocking_notices (
    user_id      BIGINT NOT NULL REFERENCES users (id),
    day          BIGINT NOT NULL,                       -- days since 1970-01-01, UTC
    blocked_from BIGINT NOT NULL,                       -- the date the notice announced
    sent_at      BIGINT NOT NULL,
    PRIMARY KEY (user_id, day)
);

-- A top user's flespi token, encrypted with the server key, with its region and what
-- the last check learned.
CREATE TABLE flespi_tokens (
    user_id    BIGINT PRIMARY KEY REFERENCES users (id),
    token      BYTEA   NOT NULL,                      -- sealed
    hint       TEXT    NOT NULL,                      -- its last characters, for the masked view
    region     TEXT    NOT NULL,                      -- 'eu' or 'ru'
    updated_at BIGINT NOT NULL,
    checked_at BIGINT,
    active     BOOLEAN,                               -- as flespi answered at checked_at
    expires_at BIGINT
);

-- The daily notice job looks for accounts whose blocking date is near.
CREATE INDEX accounts_blocked_from ON accounts (blocked_from);
