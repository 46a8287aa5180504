-- How a session was signed in to: when the password was typed and which factors were
-- used (RFC 8176 values, space-separated). A switch keeps its parent's.
ALTER TABLE sessions ADD COLUMN auth_time INTEGER;
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';

-- The platform's other apps that sign people in through Portcullis (OpenID Connect).
CREATE TABLE oidc_clients (
    id             TEXT    PRIMARY KEY,               -- the public client_id
    account_id     INTEGER NOT NULL REFERENCES accounts (id),
    name           TEXT    NOT NULL,
    secret_hash    BLOB,                              -- SHA-256 of the secret; NULL: a public client
    redirect_uris  TEXT    NOT NULL,                  -- JSON array, matched exactly
    logout_uris    TEXT    NOT NULL DEFAULT '[]',     -- JSON array: post_logout_redirect_uri values
    id_token_alg   TEXT    NOT NULL DEFAULT 'RS256',  -- RS256, ES256 or EdDSA
    created_at     INTEGER NOT NULL,
    deleted_at     INTEGER
);
CREATE INDEX oidc_clients_account ON oidc_clients (account_id);

-- Keys that sign ID tokens; the private half sealed under the server's secret key. A key
-- is published until `retired_at` (when the last token it signed has expired).
CREATE TABLE oidc_keys (
    kid          TEXT    PRIMARY KEY,
    alg          TEXT    NOT NULL,                    -- RS256, ES256, EdDSA
    sealed       BLOB    NOT NULL,                    -- PKCS#8, sealed
    public_jwk   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    retired_at   INTEGER                              -- no longer signs; published until then
);

-- A grant: a client signed in through one Portcullis session. Its refresh tokens are one
-- family; a reused refresh token revokes the grant.
CREATE TABLE oidc_grants (
    id           INTEGER PRIMARY KEY,
    client_id    TEXT    NOT NULL REFERENCES oidc_clients (id),
    session_id   INTEGER NOT NULL REFERENCES sessions (id),
    scope        TEXT    NOT NULL,
    nonce        TEXT,
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER
);
CREATE INDEX oidc_grants_session ON oidc_grants (session_id);
CREATE INDEX oidc_grants_client ON oidc_grants (client_id);

-- Authorization codes (SHA-256), single-use, a minute long. A code used twice revokes the
-- grant it was exchanged for.
CREATE TABLE oidc_codes (
    code_hash      BLOB    PRIMARY KEY,
    client_id      TEXT    NOT NULL REFERENCES oidc_clients (id),
    session_id     INTEGER NOT NULL REFERENCES sessions (id),
    redirect_uri   TEXT    NOT NULL,
    scope          TEXT    NOT NULL,
    nonce          TEXT,
    code_challenge TEXT,                              -- PKCE S256
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER,
    grant_id       INTEGER REFERENCES oidc_grants (id)
);
CREATE INDEX oidc_codes_expiry ON oidc_codes (expires_at);
CREATE INDEX oidc_codes_session ON oidc_codes (session_id);

-- Refresh tokens (SHA-256); each is used once and replaced by the next.
CREATE TABLE oidc_refresh_tokens (
    token_hash   BLOB    PRIMARY KEY,
    grant_id     INTEGER NOT NULL REFERENCES oidc_grants (id),
    created_at   INTEGER NOT NULL,
    used_at      INTEGER
);
CREATE INDEX oidc_refresh_tokens_grant ON oidc_refresh_tokens (grant_id);

-- A person's consent to a client of another company (a client of their own company asks
-- none): given once per scope, until withdrawn.
CREATE TABLE oidc_consents (
    user_id      INTEGER NOT NULL REFERENCES users (id),
    client_id    TEXT    NOT NULL REFERENCES oidc_clients (id),
    scope        TEXT    NOT NULL,
    given_at     INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- Instances starting at once make the signing keys once (see `turns`).
INSERT INTO turns (name) VALUES ('signing_keys');
