//! An account as the domain works with one: the company, its place in the tree of
//! accounts, its services and the blocking date in force.

use sqlx::FromRow;

use super::ids::AccountId;

/// An account (a company) as the domain works with it.
#[derive(Debug, Clone, FromRow)]
pub struct Account {
    pub id: AccountId,
    pub name: String,
    pub parent_id: Option<AccountId>,
    pub blocking_at: Option<i64>,
    /// The blocking date in force: the earliest of this account's and those above it.
    pub blocked_from: Option<i64>,
    pub sms_enabled: bool,
    pub sms_quota: i64,
    pub email_notifications: bool,
    pub dpa_version: i64,
    pub created_at: i64,
}
