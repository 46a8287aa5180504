//! Queries on users' third-party settings: the flespi token.

use sqlx::FromRow;

use super::db::{Tx, with_tx};
use crate::{error::Result, values::UserId};

/// A stored flespi token: sealed, with what the last check learned.
#[derive(Debug, Clone, FromRow)]
pub struct FlespiRow {
    pub user_id: UserId,
    pub token: Vec<u8>,
    pub hint: String,
    pub region: String,
    pub updated_at: i64,
    pub checked_at: Option<i64>,
    pub active: Option<bool>,
    pub expires_at: Option<i64>,
}

impl Tx {
    pub async fn flespi_token(&mut self, user: UserId) -> Result<Option<FlespiRow>> {
        Ok(with_tx!(self, c => sqlx::query_as(
            "SELECT user_id, token, hint, region, updated_at, checked_at, active, expires_at \
             FROM flespi_tokens WHERE user_id = $1",
        )
        .bind(user)
        .fetch_optional(c)
        .await)?)
    }

    /// Stores a new token (or region), forgetting what was checked about the old one.
    pub async fn put_flespi_token(
        &mut self,
        user: UserId,
        sealed: &[u8],
        hint: &str,
        region: &str,
        now: i64,
    ) -> Result<()> {
        with_tx!(self, c => sqlx::query(
            "INSERT INTO flespi_tokens (user_id, token, hint, region, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (user_id) DO UPDATE SET token = $2, hint = $3, region = $4, updated_at = $5, \
             checked_at = NULL, active = NULL, expires_at = NULL",
        )
        .bind(user)
        .bind(sealed)
        .bind(hint)
        .bind(region)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Records a check's answer about the `sealed` token; false when it was replaced or
    /// removed meanwhile.
    pub async fn record_flespi_check(
        &mut self,
        user: UserId,
        sealed: &[u8],
        active: bool,
        expires_at: Option<i64>,
        now: i64,
    ) -> Result<bool> {
        let done = with_tx!(self, c => sqlx::query(
            "UPDATE flespi_tokens SET checked_at = $3, active = $4, expires_at = $5 \
             WHERE user_id = $1 AND token = $2",
        )
        .bind(user)
        .bind(sealed)
        .bind(now)
        .bind(active)
        .bind(expires_at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    pub async fn delete_flespi_token(&mut self, user: UserId) -> Result<bool> {
        let done = with_tx!(self, c => sqlx::query("DELETE FROM flespi_tokens WHERE user_id = $1")
            .bind(user)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }
}
