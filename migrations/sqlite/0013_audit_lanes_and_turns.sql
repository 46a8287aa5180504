-- Each account's audit trail is sealed in several chains (lanes), so events of different
-- people of one company are written side by side instead of queueing on the account row.
-- The existing trail becomes lane 0; `accounts.audit_seq` and `audit_head` are kept, unused.
CREATE TABLE audit_chains (
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    lane       INTEGER NOT NULL,
    seq        INTEGER NOT NULL,                  -- the lane's last event's number
    head       BLOB,                              -- the lane's last event's MAC
    PRIMARY KEY (account_id, lane)
);
INSERT INTO audit_chains (account_id, lane, seq, head)
    SELECT id, 0, audit_seq, audit_head FROM accounts WHERE audit_seq > 0;

-- SQLite cannot change a table's unique constraint: the table is made again.
CREATE TABLE audit_events_laned (
    id           INTEGER PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    lane         INTEGER NOT NULL DEFAULT 0,
    seq          INTEGER NOT NULL,
    at           INTEGER NOT NULL,
    actor_id     INTEGER REFERENCES users (id),
    acting_as_id INTEGER REFERENCES users (id),
    subject_id   INTEGER REFERENCES users (id),
    action       TEXT    NOT NULL,
    details      TEXT    NOT NULL,
    ip           TEXT,
    prev_hash    BLOB,
    hash         BLOB    NOT NULL,
    UNIQUE (account_id, lane, seq)
);
INSERT INTO audit_events_laned (id, account_id, lane, seq, at, actor_id, acting_as_id, subject_id,
        action, details, ip, prev_hash, hash)
    SELECT id, account_id, 0, seq, at, actor_id, acting_as_id, subject_id, action, details, ip,
        prev_hash, hash FROM audit_events;
DROP TABLE audit_events;
ALTER TABLE audit_events_laned RENAME TO audit_events;
CREATE INDEX audit_events_action ON audit_events (account_id, action, id);
CREATE INDEX audit_events_subject ON audit_events (subject_id, action, id);
CREATE INDEX audit_events_account_at ON audit_events (account_id, at, id);
CREATE INDEX audit_events_subject_at ON audit_events (subject_id, at, id);

-- Rows to lock when work must take turns across instances (on PostgreSQL; SQLite has one
-- writer at a time anyway).
CREATE TABLE turns (name TEXT PRIMARY KEY);
INSERT INTO turns (name) VALUES ('blocking_dates');
