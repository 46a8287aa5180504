//! Queries on second factors: company policies, each user's setting per app, and sign-ins
//! waiting for their code (challenges).

use sqlx::FromRow;

use super::db::{Tx, with_tx};
use crate::{
    error::Result,
    values::{AccountId, UserId},
};

#[derive(Debug, Clone, FromRow)]
pub struct PolicyRow {
    pub delivery: String,
    pub contact_name: String,
    pub contact_phone: String,
    pub contact_email: String,
    pub default_web: bool,
    pub default_manager: bool,
    pub allow_trusted_devices: bool,
    pub passkey_web: String,
    pub passkey_manager: String,
}

#[derive(Debug, Clone, FromRow)]
pub struct ChallengeRow {
    pub id: i64,
    pub user_id: UserId,
    pub app: String,
    pub remember: bool,
    pub acting_as_id: Option<UserId>,
    pub ip: String,
    pub user_agent: String,
    pub method: String,
    pub channel: String,
    pub destination: String,
    pub code_hash: Vec<u8>,
    pub sent_at: i64,
    pub code_expires_at: i64,
    pub expires_at: i64,
}

/// A challenge about to be stored.
#[derive(Debug, Clone)]
pub struct NewChallenge<'a> {
    pub handle_hash: &'a [u8],
    pub user_id: UserId,
    pub app: &'a str,
    pub remember: bool,
    pub acting_as_id: Option<UserId>,
    pub ip: &'a str,
    pub user_agent: &'a str,
    pub method: &'a str,
    pub expires_at: i64,
}

/// A code just sent for a challenge.
#[derive(Debug, Clone)]
pub struct ChallengeCode<'a> {
    pub channel: &'static str,
    /// Masked.
    pub destination: String,
    pub code_hash: &'a [u8],
    pub sent_at: i64,
    pub code_expires_at: i64,
}

impl Tx {
    pub async fn two_factor_policy(&mut self, account: AccountId) -> Result<Option<PolicyRow>> {
        Ok(with_tx!(self, c => sqlx::query_as(
            "SELECT delivery, contact_name, contact_phone, contact_email, default_web, default_manager, \
             allow_trusted_devices, passkey_web, passkey_manager FROM two_factor_policies WHERE account_id = $1",
        )
        .bind(account)
        .fetch_optional(c)
        .await)?)
    }

    pub async fn put_two_factor_policy(&mut self, account: AccountId, p: &PolicyRow, now: i64) -> Result<()> {
        with_tx!(self, c => sqlx::query(
            "INSERT INTO two_factor_policies (account_id, delivery, contact_name, contact_phone, \
             contact_email, default_web, default_manager, updated_at, allow_trusted_devices, passkey_web, \
             passkey_manager) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (account_id) DO UPDATE SET delivery = $2, contact_name = $3, contact_phone = $4, \
             contact_email = $5, default_web = $6, default_manager = $7, updated_at = $8, \
             allow_trusted_devices = $9, passkey_web = $10, passkey_manager = $11",
        )
        .bind(account)
        .bind(&p.delivery)
        .bind(&p.contact_name)
        .bind(&p.contact_phone)
        .bind(&p.contact_email)
        .bind(p.default_web)
        .bind(p.default_manager)
        .bind(now)
        .bind(p.allow_trusted_devices)
        .bind(&p.passkey_web)
        .bind(&p.passkey_manager)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The user's second factor per app, as `(app, method)` pairs.
    pub async fn two_factor_settings(&mut self, user: UserId) -> Result<Vec<(String, String)>> {
        Ok(with_tx!(self, c => sqlx::query_as(
            "SELECT app, method FROM two_factor_settings WHERE user_id = $1 ORDER BY app",
        )
        .bind(user)
        .fetch_all(c)
        .await)?)
    }

    /// Sets the user's second factor for an app; `None` turns it off.
    pub async fn set_two_factor(
        &mut self,
        user: UserId,
        app: &str,
        method: Option<&str>,
        now: i64,
    ) -> Result<()> {
        match method {
            Some(method) => with_tx!(self, c => sqlx::query(
                "INSERT INTO two_factor_settings (user_id, app, method, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (user_id, app) DO UPDATE SET method = $3, updated_at = $4",
            )
            .bind(user)
            .bind(app)
            .bind(method)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())),
            None => {
                with_tx!(self, c => sqlx::query("DELETE FROM two_factor_settings WHERE user_id = $1 AND app = $2")
                .bind(user)
                .bind(app)
                .execute(c)
                .await
                .map(|r| r.rows_affected()))
            }
        }?;
        Ok(())
    }

    /// Stores a challenge with its first code, replacing any other of the same user and
    /// clearing away those that have run out.
    pub async fn insert_challenge(
        &mut self,
        new: &NewChallenge<'_>,
        code: &ChallengeCode<'_>,
        now: i64,
    ) -> Result<i64> {
        with_tx!(self, c => sqlx::query("DELETE FROM challenges WHERE user_id = $1 OR expires_at <= $2")
            .bind(new.user_id)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(with_tx!(self, c => sqlx::query_scalar(
            "INSERT INTO challenges (handle_hash, user_id, app, remember, ip, user_agent, method, channel, \
             destination, code_hash, sent_at, code_expires_at, expires_at, created_at, acting_as_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id",
        )
        .bind(new.handle_hash)
        .bind(new.user_id)
        .bind(new.app)
        .bind(new.remember)
        .bind(new.ip)
        .bind(new.user_agent)
        .bind(new.method)
        .bind(code.channel)
        .bind(&code.destination)
        .bind(code.code_hash)
        .bind(code.sent_at)
        .bind(code.code_expires_at)
        .bind(new.expires_at)
        .bind(now)
        .bind(new.acting_as_id)
        .fetch_one(c)
        .await)?)
    }

    pub async fn challenge_by_handle(&mut self, handle_hash: &[u8]) -> Result<Option<ChallengeRow>> {
        Ok(with_tx!(self, c => sqlx::query_as(
            "SELECT id, user_id, app, remember, acting_as_id, ip, user_agent, method, channel, destination, \
             code_hash, sent_at, code_expires_at, expires_at FROM challenges WHERE handle_hash = $1",
        )
        .bind(handle_hash)
        .fetch_optional(c)
        .await)?)
    }

    /// Replaces a challenge's code: the old one stops working.
    pub async fn set_challenge_code(&mut self, id: i64, code: &ChallengeCode<'_>) -> Result<()> {
        with_tx!(self, c => sqlx::query(
            "UPDATE challenges SET channel = $2, destination = $3, code_hash = $4, sent_at = $5, \
             code_expires_at = $6 WHERE id = $1",
        )
        .bind(id)
        .bind(code.channel)
        .bind(&code.destination)
        .bind(code.code_hash)
        .bind(code.sent_at)
        .bind(code.code_expires_at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Removes every challenge of the user: a sign-in started before a password change or
    /// a second-factor reset cannot be finished after it.
    pub async fn delete_challenges_of(&mut self, user: UserId) -> Result<()> {
        with_tx!(self, c => sqlx::query("DELETE FROM challenges WHERE user_id = $1")
            .bind(user)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Removes a challenge; false if it was gone already (used by a concurrent request).
    pub async fn delete_challenge(&mut self, id: i64) -> Result<bool> {
        let deleted = with_tx!(self, c => sqlx::query("DELETE FROM challenges WHERE id = $1")
            .bind(id)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(deleted == 1)
    }
}

impl Tx {
    /// The user's current challenge, if any.
    pub async fn challenge_of_user(&mut self, user: UserId) -> Result<Option<ChallengeRow>> {
        Ok(with_tx!(self, c => sqlx::query_as(
            "SELECT id, user_id, app, remember, acting_as_id, ip, user_agent, method, channel, destination, \
             code_hash, sent_at, code_expires_at, expires_at FROM challenges WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1",
        )
        .bind(user)
        .fetch_optional(c)
        .await)?)
    }

    /// Hands a challenge to a new sign-in of the same user: a new handle (the old one
    /// stops working) and the new client's details, with the code unchanged.
    pub async fn hand_over_challenge(&mut self, id: i64, new: &NewChallenge<'_>) -> Result<()> {
        with_tx!(self, c => sqlx::query(
            "UPDATE challenges SET handle_hash = $2, app = $3, remember = $4, ip = $5, user_agent = $6, \
             acting_as_id = $7 WHERE id = $1",
        )
        .bind(id)
        .bind(new.handle_hash)
        .bind(new.app)
        .bind(new.remember)
        .bind(new.ip)
        .bind(new.user_agent)
        .bind(new.acting_as_id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }
}
