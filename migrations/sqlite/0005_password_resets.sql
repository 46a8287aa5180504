-- A password reset link on its way to a user: only the SHA-256 of its token is kept.
-- A newer request replaces the row (voiding the older link); following the link marks
-- it used.
CREATE TABLE password_resets (
    user_id    INTEGER PRIMARY KEY REFERENCES users (id),
    token_hash BLOB    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
