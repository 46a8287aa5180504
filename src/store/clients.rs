//! Registered apps (OpenID Connect clients) as they are read, and the reads that the
//! SQLite fast path (`sqlite_reads`) shares with the pool: an app by its id, and the
//! session a code was issued to.

use sqlx::FromRow;

use crate::values::AccountId;

#[derive(Debug, Clone, FromRow)]
pub struct ClientRow {
    pub id: String,
    pub account_id: AccountId,
    pub account_name: String,
    pub name: String,
    pub secret_hash: Option<Vec<u8>>,
    /// JSON arrays of URIs.
    pub redirect_uris: String,
    pub logout_uris: String,
    pub id_token_alg: String,
    pub created_at: i64,
}

/// `SELECT` of a client's columns, joined with its account's name.
macro_rules! select_clients {
    () => {
        "SELECT c.id, c.account_id, a.name AS account_name, c.name, c.secret_hash, c.redirect_uris, \
         c.logout_uris, c.id_token_alg, c.created_at FROM oidc_clients c JOIN accounts a ON a.id = c.account_id "
    };
}

pub(super) use select_clients;

/// A live app by its id.
pub(super) const CLIENT_BY_ID: &str = concat!(select_clients!(), "WHERE c.id = $1 AND c.deleted_at IS NULL");

/// The session a code was issued to, used or not.
pub(super) const CODE_SESSION: &str = "SELECT session_id FROM oidc_codes WHERE code_hash = $1";
