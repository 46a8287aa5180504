-- A user's authenticator app (RFC 6238). The secret is encrypted with the server key;
-- a new one waits in `pending_secret` until a code from it confirms it, while the old one
-- (if any) keeps working. `last_step` is the newest time step accepted, so no code is
-- accepted twice.
CREATE TABLE authenticators (
    user_id        INTEGER PRIMARY KEY REFERENCES users (id),
    secret         BLOB,                              -- sealed; NULL until confirmed
    pending_secret BLOB,                              -- sealed; NULL when none pending
    last_step      INTEGER NOT NULL DEFAULT 0,
    confirmed_at   INTEGER,
    created_at     INTEGER NOT NULL
);

-- Single-use codes for when the authenticator is out of reach; only keyed hashes.
CREATE TABLE backup_codes (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    code_hash  BLOB    NOT NULL,
    used_at    INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX backup_codes_user ON backup_codes (user_id);

-- Browsers where a user chose not to be asked for a code again for a while. The browser
-- holds a random token; only its SHA-256 is kept.
CREATE TABLE trusted_devices (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    token_hash BLOB    NOT NULL UNIQUE,
    user_agent TEXT    NOT NULL,
    ip         TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX trusted_devices_user ON trusted_devices (user_id);

-- Whether the company lets users skip the code on a trusted browser.
ALTER TABLE two_factor_policies ADD COLUMN allow_trusted_devices BOOLEAN NOT NULL DEFAULT TRUE;
