-- Emails and SMS waiting to be delivered. A message is written in the same transaction
-- as the change that causes it and sent by a worker in any instance, which claims it
-- first (`claimed_until`) so two instances never send it twice. The payload may hold a
-- one-time code, so it is encrypted with the server key.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    channel         TEXT    NOT NULL,                 -- 'email' or 'sms'
    recipient       TEXT    NOT NULL,
    payload         BLOB    NOT NULL,                 -- encrypted JSON
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_until   INTEGER NOT NULL DEFAULT 0,
    sent_at         INTEGER,
    gave_up_at      INTEGER,
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE sent_at IS NULL AND gave_up_at IS NULL;

-- A code sent to confirm that an email address or phone number belongs to its user.
-- Only a keyed hash of the code is kept; a new request replaces the old code.
CREATE TABLE verifications (
    user_id     INTEGER NOT NULL REFERENCES users (id),
    channel     TEXT    NOT NULL,                     -- 'email' or 'sms'
    destination TEXT    NOT NULL,                     -- the address the code went to
    code_hash   BLOB    NOT NULL,
    expires_at  INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (user_id, channel)
);
