-- Each company's second-factor policy. An account without a row has the default:
-- codes by SMS first with email as the fallback, no contact person, 2FA off for new users.
CREATE TABLE two_factor_policies (
    account_id      INTEGER PRIMARY KEY REFERENCES accounts (id),
    delivery        TEXT    NOT NULL,                 -- 'sms_then_email' or 'email_only'
    contact_name    TEXT    NOT NULL DEFAULT '',      -- shown after 3 wrong codes
    contact_phone   TEXT    NOT NULL DEFAULT '',
    contact_email   TEXT    NOT NULL DEFAULT '',
    default_web     BOOLEAN NOT NULL DEFAULT FALSE,   -- 2FA on for new users in the web app
    default_manager BOOLEAN NOT NULL DEFAULT FALSE,   -- ... and in the manager app
    updated_at      INTEGER NOT NULL
);

-- The second factor a user has on for an app. No row: none.
CREATE TABLE two_factor_settings (
    user_id    INTEGER NOT NULL REFERENCES users (id),
    app        TEXT    NOT NULL,                      -- 'web' or 'manager'
    method     TEXT    NOT NULL,                      -- 'email' or 'sms'
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, app)
);

-- A sign-in waiting for its second factor. The client holds a random handle of which
-- only the SHA-256 is kept; the code is kept as a keyed hash. A new code replaces the
-- old one; a new sign-in of the same user replaces the whole challenge.
CREATE TABLE challenges (
    id              INTEGER PRIMARY KEY,
    handle_hash     BLOB    NOT NULL UNIQUE,
    user_id         INTEGER NOT NULL REFERENCES users (id),
    app             TEXT    NOT NULL,
    remember        BOOLEAN NOT NULL,
    ip              TEXT    NOT NULL,
    user_agent      TEXT    NOT NULL,
    method          TEXT    NOT NULL,                 -- the user's second factor
    channel         TEXT    NOT NULL,                 -- where the current code went
    destination     TEXT    NOT NULL,                 -- masked
    code_hash       BLOB    NOT NULL,
    sent_at         INTEGER NOT NULL,
    code_expires_at INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,                 -- the whole sign-in gives up
    created_at      INTEGER NOT NULL
);
CREATE INDEX challenges_user ON challenges (user_id);
