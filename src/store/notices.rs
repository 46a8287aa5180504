//! Queries for the notices sent before an account is blocked.

use sqlx::FromRow;

use super::db::{Tx, with_tx};
use crate::{
    error::Result,
    values::{AccountId, UserId},
};

/// A user who asked to hear that their account's blocking date is near.
#[derive(Debug, Clone, FromRow)]
pub struct NoticeRecipient {
    pub user_id: UserId,
    pub account_id: AccountId,
    pub username: String,
    pub email: String,
    pub language: String,
    pub account_name: String,
    pub blocked_from: i64,
}

impl Tx {
    /// The users who opted in, with a confirmed email address, in an account with the
    /// `email_notifications` service on that is blocked from within `[from, until)`, and
    /// who got no notice on `day` yet.
    pub async fn notice_recipients(
        &mut self,
        (from, until): (i64, i64),
        day: i64,
    ) -> Result<Vec<NoticeRecipient>> {
        Ok(with_tx!(self, c => sqlx::query_as(
            "SELECT u.id AS user_id, a.id AS account_id, u.username, u.email, u.language, a.name AS account_name, a.blocked_from \
             FROM accounts a JOIN users u ON u.account_id = a.id \
             WHERE a.blocked_from >= $1 AND a.blocked_from < $2 AND a.email_notifications \
               AND u.notify_account_blocking AND u.email IS NOT NULL AND u.email_verified \
               AND NOT EXISTS (SELECT 1 FROM blocking_notices n WHERE n.user_id = u.id AND n.day = $3) \
             ORDER BY u.id",
        )
        .bind(from)
        .bind(until)
        .bind(day)
        .fetch_all(c)
        .await)?)
    }

    /// Claims the user's notice of `day`; false when it was claimed already (by this or
    /// another instance).
    pub async fn claim_notice(
        &mut self,
        user: UserId,
        day: i64,
        blocked_from: i64,
        now: i64,
    ) -> Result<bool> {
        let claimed = with_tx!(self, c => sqlx::query(
            "INSERT INTO blocking_notices (user_id, day, blocked_from, sent_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id, day) DO NOTHING",
        )
        .bind(user)
        .bind(day)
        .bind(blocked_from)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(claimed == 1)
    }
}
