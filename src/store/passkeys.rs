//! Queries on passkeys, the handle each user's passkeys carry, and the WebAuthn
//! ceremonies waiting for a browser's answer.

use sqlx::FromRow;

use super::db::{Tx, with_tx};
use crate::{error::Result, values::UserId};

#[derive(Debug, Clone, FromRow)]
pub struct PasskeyRow {
    pub id: i64,
    pub user_id: UserId,
    pub credential_id: Vec<u8>,
    pub name: String,
    /// The library's record of the credential (public key, counter, flags), as JSON.
    pub credential: String,
    pub sign_count: i64,
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// A passkey about to be stored.
#[derive(Debug, Clone)]
pub struct NewPasskey<'a> {
    pub user_id: UserId,
    pub credential_id: &'a [u8],
    pub name: &'a str,
    pub credential: &'a str,
    pub sign_count: i64,
    pub backup_eligible: bool,
    pub backup_state: bool,
}

/// A ceremony begun: what the library needs to finish it, for whoever finishes it.
#[derive(Debug, Clone, FromRow)]
pub struct CeremonyRow {
    pub user_id: Option<UserId>,
    pub purpose: String,
    pub state: String,
    pub expires_at: i64,
}

macro_rules! select_passkeys {
    ($where:literal) => {
        concat!(
            "SELECT id, user_id, credential_id, name, credential, sign_count, backup_eligible, backup_state, created_at, \
             last_used_at FROM passkeys ",
            $where
        )
    };
}

impl Tx {
    /// The user's passkey handle, made the first time it is asked for.
    pub async fn passkey_handle(&mut self, user: UserId, fresh: &[u8]) -> Result<Vec<u8>> {
        with_tx!(self, c => sqlx::query(
            "INSERT INTO passkey_handles (user_id, handle) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING",
        )
        .bind(user)
        .bind(fresh)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(with_tx!(self, c => sqlx::query_scalar("SELECT handle FROM passkey_handles WHERE user_id = $1")
            .bind(user)
            .fetch_one(c)
            .await)?)
    }

    /// Whether the user has a passkey.
    pub async fn has_passkey(&mut self, user: UserId) -> Result<bool> {
        let found: Option<i64> = with_tx!(self, c => sqlx::query_scalar(
            "SELECT id FROM passkeys WHERE user_id = $1 LIMIT 1",
        )
        .bind(user)
        .fetch_optional(c)
        .await)?;
        Ok(found.is_some())
    }

    pub async fn passkeys_of(&mut self, user: UserId) -> Result<Vec<PasskeyRow>> {
        Ok(with_tx!(self, c => sqlx::query_as(select_passkeys!("WHERE user_id = $1 ORDER BY id"))
            .bind(user)
            .fetch_all(c)
            .await)?)
    }

    /// The passkey with this credential id, if it is the one whose user carries `handle`.
    pub async fn passkey_by_credential(
        &mut self,
        credential_id: &[u8],
        handle: &[u8],
    ) -> Result<Option<PasskeyRow>> {
        Ok(with_tx!(self, c => sqlx::query_as(select_passkeys!(
            "WHERE credential_id = $1 AND user_id = (SELECT user_id FROM passkey_handles WHERE handle = $2)"
        ))
        .bind(credential_id)
        .bind(handle)
        .fetch_optional(c)
        .await)?)
    }

    /// Whether any user has registered this credential.
    pub async fn credential_taken(&mut self, credential_id: &[u8]) -> Result<bool> {
        let found: Option<i64> = with_tx!(self, c => sqlx::query_scalar(
            "SELECT id FROM passkeys WHERE credential_id = $1",
        )
        .bind(credential_id)
        .fetch_optional(c)
        .await)?;
        Ok(found.is_some())
    }

    pub async fn insert_passkey(&mut self, new: &NewPasskey<'_>, now: i64) -> Result<i64> {
        Ok(with_tx!(self, c => sqlx::query_scalar(
            "INSERT INTO passkeys (user_id, credential_id, name, credential, sign_count, backup_eligible, \
             backup_state, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(new.user_id)
        .bind(new.credential_id)
        .bind(new.name)
        .bind(new.credential)
        .bind(new.sign_count)
        .bind(new.backup_eligible)
        .bind(new.backup_state)
        .bind(now)
        .fetch_one(c)
        .await)?)
    }

    /// Records a use of the passkey, unless another use moved its counter meanwhile:
    /// false then.
    pub async fn passkey_used(
        &mut self,
        id: i64,
        counted_from: i64,
        credential: &str,
        (sign_count, backup_state): (i64, bool),
        now: i64,
    ) -> Result<bool> {
        let updated = with_tx!(self, c => sqlx::query(
            "UPDATE passkeys SET credential = $3, sign_count = $4, backup_state = $5, last_used_at = $6 \
             WHERE id = $1 AND sign_count = $2",
        )
        .bind(id)
        .bind(counted_from)
        .bind(credential)
        .bind(sign_count)
        .bind(backup_state)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(updated == 1)
    }

    /// Deletes one passkey of the user; its name, if it was there.
    pub async fn delete_passkey(&mut self, user: UserId, id: i64) -> Result<Option<String>> {
        Ok(with_tx!(self, c => sqlx::query_scalar(
            "DELETE FROM passkeys WHERE id = $1 AND user_id = $2 RETURNING name",
        )
        .bind(id)
        .bind(user)
        .fetch_optional(c)
        .await)?)
    }

    /// The user has a passkey now: no session of theirs owes one any more.
    pub async fn passkey_no_longer_due(&mut self, user: UserId) -> Result<()> {
        with_tx!(self, c => sqlx::query("UPDATE sessions SET passkey_due = FALSE WHERE user_id = $1 AND passkey_due")
            .bind(user)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Deletes every passkey of the user; how many.
    pub async fn delete_passkeys_of(&mut self, user: UserId) -> Result<u64> {
        Ok(with_tx!(self, c => sqlx::query("DELETE FROM passkeys WHERE user_id = $1")
            .bind(user)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?)
    }

    /// Starts a ceremony under `key_hash`, replacing one begun under the same key.
    pub async fn put_ceremony(&mut self, key_hash: &[u8], row: &CeremonyRow) -> Result<()> {
        with_tx!(self, c => sqlx::query(
            "INSERT INTO passkey_ceremonies (key_hash, user_id, purpose, state, expires_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key_hash) DO UPDATE SET user_id = $2, purpose = $3, \
             state = $4, expires_at = $5",
        )
        .bind(key_hash)
        .bind(row.user_id)
        .bind(&row.purpose)
        .bind(&row.state)
        .bind(row.expires_at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The ceremony under `key_hash`, left in place.
    pub async fn ceremony(&mut self, key_hash: &[u8]) -> Result<Option<CeremonyRow>> {
        Ok(with_tx!(self, c => sqlx::query_as(
            "SELECT user_id, purpose, state, expires_at FROM passkey_ceremonies WHERE key_hash = $1",
        )
        .bind(key_hash)
        .fetch_optional(c)
        .await)?)
    }

    /// Ends a ceremony and hands back its state: once, whoever asks first.
    pub async fn take_ceremony(&mut self, key_hash: &[u8]) -> Result<Option<CeremonyRow>> {
        Ok(with_tx!(self, c => sqlx::query_as(
            "DELETE FROM passkey_ceremonies WHERE key_hash = $1 RETURNING user_id, purpose, state, expires_at",
        )
        .bind(key_hash)
        .fetch_optional(c)
        .await)?)
    }
}
