-- Passkeys (WebAuthn credentials): a second factor, and a way to sign in without a
-- password.

-- The random handle a user's passkeys carry as WebAuthn's user id: 16 bytes that say
-- nothing of the user, so an authenticator never learns a row id.
CREATE TABLE passkey_handles (
    user_id INTEGER PRIMARY KEY REFERENCES users (id),
    handle  BLOB    NOT NULL UNIQUE
);

-- One row per credential. `credential` is the verifier's record of it (public key, sign
-- counter, flags) as JSON; the columns beside it are what the pages and checks read.
CREATE TABLE passkeys (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users (id),
    credential_id   BLOB    NOT NULL UNIQUE,
    name            TEXT    NOT NULL,
    credential      TEXT    NOT NULL,
    sign_count      INTEGER NOT NULL,
    backup_eligible BOOLEAN NOT NULL,                 -- may be synced to other devices
    backup_state    BOOLEAN NOT NULL,                 -- is synced, as of its last use
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER
);
CREATE INDEX passkeys_user ON passkeys (user_id);

-- Ceremonies begun and not yet finished, so that any instance can finish what another
-- began. Keyed by the SHA-256 of the handle the client holds (or of the session, for a
-- registration); each is taken once.
CREATE TABLE passkey_ceremonies (
    key_hash   BLOB    PRIMARY KEY,
    user_id    INTEGER REFERENCES users (id),
    purpose    TEXT    NOT NULL,                      -- registration, sign_in, second_factor
    state      TEXT    NOT NULL,                      -- the verifier's state, JSON
    expires_at INTEGER NOT NULL
);
CREATE INDEX passkey_ceremonies_expiry ON passkey_ceremonies (expires_at);

-- Who must sign in with a passkey, per app: nobody, administrators (top users) or
-- everyone. Someone it covers who has none is led to add one right after signing in.
ALTER TABLE two_factor_policies ADD COLUMN passkey_web TEXT NOT NULL DEFAULT 'nobody';
ALTER TABLE two_factor_policies ADD COLUMN passkey_manager TEXT NOT NULL DEFAULT 'nobody';

-- A session whose user must add a passkey before anything else (the duty
-- `register_passkey`); cleared on all their sessions when they add one.
ALTER TABLE sessions ADD COLUMN passkey_due BOOLEAN NOT NULL DEFAULT FALSE;
