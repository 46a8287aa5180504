//! Queries on password reset links.

use sqlx::FromRow;

use super::db::{Tx, with_tx};
use crate::{error::Result, values::UserId};

#[derive(Debug, Clone, FromRow)]
pub struct ResetRow {
    pub user_id: UserId,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

impl Tx {
    /// Stores the user's new link, replacing (and so voiding) any older one.
    pub async fn put_password_reset(
        &mut self,
        user: UserId,
        token_hash: &[u8],
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        with_tx!(self, c => sqlx::query(
            "INSERT INTO password_resets (user_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id) DO UPDATE SET token_hash = $2, created_at = $3, expires_at = $4, used_at = NULL",
        )
        .bind(user)
        .bind(token_hash)
        .bind(now)
        .bind(expires_at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn password_reset(&mut self, token_hash: &[u8]) -> Result<Option<ResetRow>> {
        Ok(with_tx!(self, c => sqlx::query_as(
            "SELECT user_id, expires_at, used_at FROM password_resets WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(c)
        .await)?)
    }

    /// Marks a link used; false if it was used already (perhaps by a concurrent request)
    /// or has expired.
    pub async fn use_password_reset(&mut self, token_hash: &[u8], now: i64) -> Result<bool> {
        let used = with_tx!(self, c => sqlx::query(
            "UPDATE password_resets SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(used == 1)
    }
}
