-- Each account's audit trail is sealed in several chains (lanes), so events of different
-- people of one company are written side by side instead of queueing on the account row.
-- The existing trail becomes lane 0; `accounts.audit_seq` and `audit_head` are kept, unused.
CREATE TABLE audit_chains (
    account_id BIGINT  NOT NULL REFERENCES accounts (id),
    lane       INTEGER NOT NULL,
    seq        BIGINT  NOT NULL,                  -- the lane's last event's number
    head       BYTEA,                             -- the lane's last event's MAC
    PRIMARY KEY (account_id, lane)
);
INSERT INTO audit_chains (account_id, lane, seq, head)
    SELECT id, 0, audit_seq, audit_head FROM accounts WHERE audit_seq > 0;

ALTER TABLE audit_events ADD COLUMN lane INTEGER NOT NULL DEFAULT 0;
ALTER TABLE audit_events DROP CONSTRAINT audit_events_account_id_seq_key;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_lane_seq UNIQUE (account_id, lane, seq);
-- Newest first by time, not by id: ids need not grow with time (sequence caches of
-- distributed engines hand them out in blocks per connection).
CREATE INDEX audit_events_account_at ON audit_events (account_id, at, id);
CREATE INDEX audit_events_subject_at ON audit_events (subject_id, at, id);

-- Rows to lock when work must take turns across instances (instead of advisory locks,
-- which distributed engines lack).
CREATE TABLE turns (name TEXT PRIMARY KEY);
INSERT INTO turns (name) VALUES ('blocking_dates');
