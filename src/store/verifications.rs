//! Queries on pending confirmations of email addresses and phone numbers.

use sqlx::FromRow;

use super::db::{Tx, with_tx};
use crate::{error::Result, values::UserId};

#[derive(Debug, Clone, FromRow)]
pub struct VerificationRow {
    pub destination: String,
    pub code_hash: Vec<u8>,
    pub expires_at: i64,
    pub attempts: i64,
    pub created_at: i64,
}

impl Tx {
    pub async fn verification(&mut self, user: UserId, channel: &str) -> Result<Option<VerificationRow>> {
        Ok(with_tx!(self, c => sqlx::query_as(
            "SELECT destination, code_hash, expires_at, attempts, created_at FROM verifications \
             WHERE user_id = $1 AND channel = $2",
        )
        .bind(user)
        .bind(channel)
        .fetch_optional(c)
        .await)?)
    }

    /// Stores a new code for the user and channel, replacing any earlier one.
    pub async fn put_verification(
        &mut self,
        user: UserId,
        channel: &str,
        destination: &str,
        code_hash: &[u8],
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        with_tx!(self, c => sqlx::query(
            "INSERT INTO verifications (user_id, channel, destination, code_hash, expires_at, attempts, created_at) \
             VALUES ($1, $2, $3, $4, $5, 0, $6) \
             ON CONFLICT (user_id, channel) DO UPDATE SET destination = $3, code_hash = $4, \
             expires_at = $5, attempts = 0, created_at = $6",
        )
        .bind(user)
        .bind(channel)
        .bind(destination)
        .bind(code_hash)
        .bind(expires_at)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn count_verification_attempt(&mut self, user: UserId, channel: &str) -> Result<()> {
        with_tx!(self, c => sqlx::query(
            "UPDATE verifications SET attempts = attempts + 1 WHERE user_id = $1 AND channel = $2",
        )
        .bind(user)
        .bind(channel)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn delete_verification(&mut self, user: UserId, channel: &str) -> Result<()> {
        with_tx!(self, c => sqlx::query("DELETE FROM verifications WHERE user_id = $1 AND channel = $2")
            .bind(user)
            .bind(channel)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }
}
