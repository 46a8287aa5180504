//! Queries on authenticator apps, backup codes and trusted devices.

use sqlx::FromRow;

use super::db::{Tx, with_tx};
use crate::{error::Result, values::UserId};

#[derive(Debug, Clone, FromRow)]
pub struct AuthenticatorRow {
    pub secret: Option<Vec<u8>>,
    pub pending_secret: Option<Vec<u8>>,
    pub last_step: i64,
}

#[derive(Debug, Clone, FromRow)]
pub struct DeviceRow {
    pub id: i64,
    pub user_agent: String,
    pub ip: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl Tx {
    pub async fn authenticator(&mut self, user: UserId) -> Result<Option<AuthenticatorRow>> {
        Ok(with_tx!(self, c => sqlx::query_as(
            "SELECT secret, pending_secret, last_step FROM authenticators WHERE user_id = $1",
        )
        .bind(user)
        .fetch_optional(c)
        .await)?)
    }

    /// Stores a new secret waiting for its first code; a confirmed one stays in use.
    pub async fn put_pending_secret(&mut self, user: UserId, sealed: &[u8], now: i64) -> Result<()> {
        with_tx!(self, c => sqlx::query(
            "INSERT INTO authenticators (user_id, pending_secret, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO UPDATE SET pending_secret = $2",
        )
        .bind(user)
        .bind(sealed)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Makes the pending secret the one in use, with the step its first code came from.
    pub async fn confirm_secret(&mut self, user: UserId, step: i64, now: i64) -> Result<()> {
        with_tx!(self, c => sqlx::query(
            "UPDATE authenticators SET secret = pending_secret, pending_secret = NULL, last_step = $2, \
             confirmed_at = $3 WHERE user_id = $1",
        )
        .bind(user)
        .bind(step)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Records the step of an accepted code, unless a later or equal one was accepted
    /// already; false then (a replay, perhaps from a concurrent request).
    pub async fn advance_step(&mut self, user: UserId, step: i64) -> Result<bool> {
        let advanced = with_tx!(self, c => sqlx::query(
            "UPDATE authenticators SET last_step = $2 WHERE user_id = $1 AND last_step < $2",
        )
        .bind(user)
        .bind(step)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(advanced == 1)
    }

    pub async fn delete_authenticator(&mut self, user: UserId) -> Result<bool> {
        let deleted = with_tx!(self, c => sqlx::query("DELETE FROM authenticators WHERE user_id = $1")
            .bind(user)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(deleted == 1)
    }

    /// Replaces every backup code of the user.
    pub async fn replace_backup_codes(&mut self, user: UserId, hashes: &[[u8; 32]], now: i64) -> Result<()> {
        self.delete_backup_codes(user).await?;
        for hash in hashes {
            with_tx!(self, c => sqlx::query(
                "INSERT INTO backup_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)",
            )
            .bind(user)
            .bind(&hash[..])
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        }
        Ok(())
    }

    pub async fn delete_backup_codes(&mut self, user: UserId) -> Result<()> {
        with_tx!(self, c => sqlx::query("DELETE FROM backup_codes WHERE user_id = $1")
            .bind(user)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The unused backup codes of the user, as `(id, hash)`.
    pub async fn unused_backup_codes(&mut self, user: UserId) -> Result<Vec<(i64, Vec<u8>)>> {
        Ok(with_tx!(self, c => sqlx::query_as(
            "SELECT id, code_hash FROM backup_codes WHERE user_id = $1 AND used_at IS NULL ORDER BY id",
        )
        .bind(user)
        .fetch_all(c)
        .await)?)
    }

    pub async fn backup_codes_left(&mut self, user: UserId) -> Result<i64> {
        Ok(with_tx!(self, c => sqlx::query_scalar(
            "SELECT COUNT(*) FROM backup_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user)
        .fetch_one(c)
        .await)?)
    }

    /// Spends a backup code; false if it was spent already.
    pub async fn use_backup_code(&mut self, id: i64, now: i64) -> Result<bool> {
        let used = with_tx!(self, c => sqlx::query(
            "UPDATE backup_codes SET used_at = $2 WHERE id = $1 AND used_at IS NULL",
        )
        .bind(id)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(used == 1)
    }

    pub async fn insert_trusted_device(
        &mut self,
        user: UserId,
        token_hash: &[u8],
        user_agent: &str,
        ip: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        with_tx!(self, c => sqlx::query(
            "INSERT INTO trusted_devices (user_id, token_hash, user_agent, ip, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(user)
        .bind(token_hash)
        .bind(user_agent)
        .bind(ip)
        .bind(now)
        .bind(expires_at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Whether the token stands for a device the user trusts now.
    pub async fn is_trusted_device(&mut self, user: UserId, token_hash: &[u8], now: i64) -> Result<bool> {
        let found: Option<i64> = with_tx!(self, c => sqlx::query_scalar(
            "SELECT id FROM trusted_devices WHERE token_hash = $1 AND user_id = $2 AND revoked_at IS NULL \
             AND expires_at > $3",
        )
        .bind(token_hash)
        .bind(user)
        .bind(now)
        .fetch_optional(c)
        .await)?;
        Ok(found.is_some())
    }

    /// The devices the user trusts now, newest first.
    pub async fn trusted_devices(&mut self, user: UserId, now: i64) -> Result<Vec<DeviceRow>> {
        Ok(with_tx!(self, c => sqlx::query_as(
            "SELECT id, user_agent, ip, created_at, expires_at FROM trusted_devices \
             WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY created_at DESC, id DESC",
        )
        .bind(user)
        .bind(now)
        .fetch_all(c)
        .await)?)
    }

    /// Stops trusting one device of the user (`Some(id)`) or all of them; how many.
    pub async fn revoke_trusted_devices(&mut self, user: UserId, id: Option<i64>, now: i64) -> Result<u64> {
        Ok(with_tx!(self, c => sqlx::query(
            "UPDATE trusted_devices SET revoked_at = $3 WHERE user_id = $1 AND revoked_at IS NULL \
             AND ($2 IS NULL OR id = $2)",
        )
        .bind(user)
        .bind(id)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?)
    }
}
