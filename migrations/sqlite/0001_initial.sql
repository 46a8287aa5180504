-- The first schema. Timestamps are Unix seconds (INTEGER) on both databases, so
-- comparisons are plain integer comparisons and the same SQL runs on both.

-- A company (tenant). Child accounts are blocked when a parent is.
CREATE TABLE accounts (
    id                  INTEGER PRIMARY KEY,
    name                TEXT    NOT NULL UNIQUE,
    parent_id           INTEGER REFERENCES accounts (id),
    blocking_at         INTEGER,                          -- sign-in refused from then on
    sms_enabled         BOOLEAN NOT NULL DEFAULT FALSE,   -- the `sms` service
    sms_quota           INTEGER NOT NULL DEFAULT 0,       -- messages left
    email_notifications BOOLEAN NOT NULL DEFAULT FALSE,   -- the `email_notifications` service
    dpa_version         INTEGER NOT NULL DEFAULT 1,       -- 0: no agreement to accept
    audit_seq           INTEGER NOT NULL DEFAULT 0,       -- last audit event's number
    audit_head          BLOB,                             -- last audit event's hash
    created_at          INTEGER NOT NULL
);
CREATE INDEX accounts_parent ON accounts (parent_id);

-- A person. `creator_id` forms the management hierarchy; `top_user` marks the
-- account's administrators (its creator first of all).
CREATE TABLE users (
    id                      INTEGER PRIMARY KEY,
    account_id              INTEGER NOT NULL REFERENCES accounts (id),
    username                TEXT    NOT NULL UNIQUE,      -- case-sensitive
    creator_id              INTEGER REFERENCES users (id),
    top_user                BOOLEAN NOT NULL DEFAULT FALSE,
    email                   TEXT,
    email_verified          BOOLEAN NOT NULL DEFAULT FALSE,
    phone                   TEXT,
    phone_verified          BOOLEAN NOT NULL DEFAULT FALSE,
    password_hash           TEXT    NOT NULL,             -- Argon2id PHC string
    can_change_password     BOOLEAN NOT NULL DEFAULT FALSE,
    can_send_sms            BOOLEAN NOT NULL DEFAULT FALSE,
    must_change_password    BOOLEAN NOT NULL DEFAULT FALSE,
    language                TEXT    NOT NULL DEFAULT 'en',
    dpa_accepted_version    INTEGER NOT NULL DEFAULT 0,
    notify_account_blocking BOOLEAN NOT NULL DEFAULT FALSE,
    created_at              INTEGER NOT NULL
);
CREATE INDEX users_account ON users (account_id);
CREATE INDEX users_creator ON users (creator_id);

-- User `holder_id` holds `right_name` ('act_as' or 'manage') on user `target_id`.
CREATE TABLE grants (
    holder_id  INTEGER NOT NULL REFERENCES users (id),
    target_id  INTEGER NOT NULL REFERENCES users (id),
    right_name TEXT    NOT NULL,
    granted_by INTEGER REFERENCES users (id),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (holder_id, target_id, right_name)
);
CREATE INDEX grants_target ON grants (target_id);

-- A signed-in client. Only the SHA-256 of the token is kept. A session that is not
-- remembered also ends after an idle period past `last_seen_at`.
CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY,
    token_hash   BLOB    NOT NULL UNIQUE,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    acting_as_id INTEGER REFERENCES users (id),           -- set while impersonating
    app          TEXT    NOT NULL,                        -- 'web' or 'manager'
    ip           TEXT    NOT NULL,                        -- where it was created
    user_agent   TEXT    NOT NULL DEFAULT '',
    remember     BOOLEAN NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,                        -- absolute end
    ended_at     INTEGER
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Failure counters for lock-outs, shared by every instance. `scope` is what is counted
-- ('password' or 'code'), `subject` the username or client address.
CREATE TABLE throttles (
    scope        TEXT    NOT NULL,
    subject      TEXT    NOT NULL,
    failures     INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    locked_until INTEGER NOT NULL DEFAULT 0,
    lockouts     INTEGER NOT NULL DEFAULT 0,              -- consecutive, for growing waits
    PRIMARY KEY (scope, subject)
);

-- The audit trail: one hash chain per account. `hash` covers `prev_hash` and the
-- event's own content, so a changed, removed or reordered row breaks the chain.
CREATE TABLE audit_events (
    id           INTEGER PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    seq          INTEGER NOT NULL,
    at           INTEGER NOT NULL,
    actor_id     INTEGER REFERENCES users (id),           -- who did it (NULL: the operator)
    acting_as_id INTEGER REFERENCES users (id),           -- as whom, when impersonating
    subject_id   INTEGER REFERENCES users (id),           -- for whom
    action       TEXT    NOT NULL,
    details      TEXT    NOT NULL,                        -- JSON
    ip           TEXT,
    prev_hash    BLOB,
    hash         BLOB    NOT NULL,
    UNIQUE (account_id, seq)
);
CREATE INDEX audit_events_action ON audit_events (account_id, action, id);
CREATE INDEX audit_events_subject ON audit_events (subject_id, action, id);
