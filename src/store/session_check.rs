//! What the session check reads: one row joining the session, its user and account and
//! the user it acts as, by the token's hash. Both the sqlx path and the SQLite fast path
//! (`sqlite_reads`) run this one query.

use sqlx::FromRow;

use crate::values::{AccountId, UserId};

/// A session with the people and account it answers for. `user_*` is the person who
/// signed in; `acting_*` the user being impersonated, if any.
#[derive(Debug, Clone, FromRow)]
pub struct SessionView {
    pub id: i64,
    pub app: String,
    pub ip: String,
    pub remember: bool,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub user_id: UserId,
    pub username: String,
    pub account_id: AccountId,
    pub account_name: String,
    /// The blocking date in force for the account (its own or one above it).
    pub blocked_from: Option<i64>,
    pub dpa_version: i64,
    pub dpa_accepted_version: i64,
    pub must_change_password: bool,
    pub language: String,
    pub acting_id: Option<UserId>,
    pub acting_username: Option<String>,
    pub acting_account_id: Option<AccountId>,
    pub acting_account_name: Option<String>,
    pub acting_blocked_from: Option<i64>,
}

/// The session check's one query; the column order is what `sqlite_reads` reads.
pub(super) const SESSION_BY_HASH: &str = "SELECT s.id, s.app, s.ip, s.remember, s.last_seen_at, s.expires_at, \
        u.id AS user_id, u.username, a.id AS account_id, a.name AS account_name, \
        a.blocked_from, a.dpa_version, u.dpa_accepted_version, u.must_change_password, u.language, \
        e.id AS acting_id, e.username AS acting_username, \
        ea.id AS acting_account_id, ea.name AS acting_account_name, ea.blocked_from AS acting_blocked_from \
     FROM sessions s \
     JOIN users u ON u.id = s.user_id \
     JOIN accounts a ON a.id = u.account_id \
     LEFT JOIN users e ON e.id = s.acting_as_id \
     LEFT JOIN accounts ea ON ea.id = e.account_id \
     WHERE s.token_hash = $1 AND s.ended_at IS NULL";
