//! Queries on accounts (companies).

use super::db::{Tx, is_unique_violation, with_tx};
use crate::{
    error::{Error, Result},
    values::{Account, AccountId},
};

/// Changes to an account's terms; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TermsChanges {
    /// `Some(None)` clears the blocking date.
    pub blocking_at: Option<Option<i64>>,
    /// `Some(None)` turns the `sms` service off; `Some(Some(n))` on, with `n` messages.
    pub sms_quota: Option<Option<i64>>,
    pub email_notifications: Option<bool>,
}

/// An account about to be created, every field checked.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub name: String,
    pub parent_id: Option<AccountId>,
    pub blocking_at: Option<i64>,
    /// `Some(n)`: the `sms` service is on with `n` messages.
    pub sms_quota: Option<i64>,
    pub email_notifications: bool,
}

/// `SELECT <every column> FROM accounts <rest>`.
macro_rules! select {
    ($rest:literal) => {
        concat!(
            "SELECT id, name, parent_id, blocking_at, blocked_from, sms_enabled, sms_quota, \
             email_notifications, dpa_version, created_at FROM accounts ",
            $rest
        )
    };
}

impl Tx {
    pub async fn insert_account(&mut self, a: &NewAccount, now: i64) -> Result<AccountId> {
        let result = with_tx!(self, c => {
            sqlx::query_scalar(
                "INSERT INTO accounts (name, parent_id, blocking_at, sms_enabled, sms_quota, \
                 email_notifications, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(&a.name)
            .bind(a.parent_id)
            .bind(a.blocking_at)
            .bind(a.sms_quota.is_some())
            .bind(a.sms_quota.unwrap_or(0))
            .bind(a.email_notifications)
            .bind(now)
            .fetch_one(c)
            .await
        });
        result.map_err(|e| match is_unique_violation(&e) {
            true => Error::Conflict { field: "name" },
            false => e.into(),
        })
    }

    pub async fn account_by_id(&mut self, id: AccountId) -> Result<Option<Account>> {
        Ok(with_tx!(self, c => sqlx::query_as(select!("WHERE id = $1")).bind(id).fetch_optional(c).await)?)
    }

    pub async fn account_by_name(&mut self, name: &str) -> Result<Option<Account>> {
        Ok(
            with_tx!(self, c => sqlx::query_as(select!("WHERE name = $1")).bind(name).fetch_optional(c).await)?,
        )
    }

    /// Takes the account's row for the rest of the transaction (PostgreSQL locks it;
    /// SQLite's write transactions hold the whole database already).
    pub async fn lock_account(&mut self, id: AccountId) -> Result<()> {
        with_tx!(self, c => sqlx::query("UPDATE accounts SET name = name WHERE id = $1")
            .bind(id)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Writes the changed terms, leaving the others as they are.
    pub async fn update_account_terms(&mut self, id: AccountId, changes: &TermsChanges) -> Result<()> {
        let sms = changes.sms_quota.map(|quota| (quota.is_some(), quota.unwrap_or(0)));
        with_tx!(self, c => sqlx::query(
            "UPDATE accounts SET \
               blocking_at = CASE WHEN $2 THEN $3 ELSE blocking_at END, \
               sms_enabled = COALESCE($4, sms_enabled), sms_quota = COALESCE($5, sms_quota), \
               email_notifications = COALESCE($6, email_notifications) \
             WHERE id = $1",
        )
        .bind(id)
        .bind(changes.blocking_at.is_some())
        .bind(changes.blocking_at.flatten())
        .bind(sms.map(|s| s.0))
        .bind(sms.map(|s| s.1))
        .bind(changes.email_notifications)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Recomputes the blocking date in force for the account and every account below it,
    /// after its own date changed or it was created. Refreshes take turns (on PostgreSQL by
    /// locking a row of `turns` to the end of the transaction: a row lock, which distributed
    /// engines have and advisory locks they lack), so each one reads the dates every earlier
    /// one committed and none leaves a branch stale.
    pub async fn refresh_blocked_from(&mut self, id: AccountId) -> Result<()> {
        self.take_turn("blocking_dates").await?;
        with_tx!(self, c => sqlx::query(
            "WITH RECURSIVE down(id, blocked_from, depth) AS ( \
                SELECT a.id, CASE WHEN a.blocking_at IS NULL THEN p.blocked_from \
                    WHEN p.blocked_from IS NULL OR a.blocking_at < p.blocked_from THEN a.blocking_at \
                    ELSE p.blocked_from END, 0 \
                FROM accounts a LEFT JOIN accounts p ON p.id = a.parent_id WHERE a.id = $1 \
                UNION ALL \
                SELECT a.id, CASE WHEN a.blocking_at IS NULL THEN down.blocked_from \
                    WHEN down.blocked_from IS NULL OR a.blocking_at < down.blocked_from THEN a.blocking_at \
                    ELSE down.blocked_from END, down.depth + 1 \
                FROM accounts a JOIN down ON a.parent_id = down.id WHERE down.depth < 64 \
             ) UPDATE accounts SET blocked_from = (SELECT blocked_from FROM down WHERE down.id = accounts.id) \
             WHERE id IN (SELECT id FROM down)",
        )
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The accounts right below `parent`, by name.
    pub async fn child_accounts(&mut self, parent: AccountId) -> Result<Vec<Account>> {
        Ok(with_tx!(self, c => sqlx::query_as(select!("WHERE parent_id = $1 ORDER BY name"))
            .bind(parent)
            .fetch_all(c)
            .await)?)
    }

    /// Takes one message from the account's SMS quota; false when the service is off or
    /// the quota is used up.
    pub async fn take_sms(&mut self, id: AccountId) -> Result<bool> {
        let taken = with_tx!(self, c => sqlx::query(
            "UPDATE accounts SET sms_quota = sms_quota - 1 WHERE id = $1 AND sms_enabled AND sms_quota > 0",
        )
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(taken == 1)
    }

    /// Returns a message taken by [`Tx::take_sms`] that could not be sent.
    pub async fn give_back_sms(&mut self, id: AccountId) -> Result<()> {
        with_tx!(self, c => sqlx::query("UPDATE accounts SET sms_quota = sms_quota + 1 WHERE id = $1")
            .bind(id)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn account_ids(&mut self) -> Result<Vec<AccountId>> {
        Ok(with_tx!(self, c => sqlx::query_scalar("SELECT id FROM accounts ORDER BY id").fetch_all(c).await)?)
    }

    /// The account itself and every account above it, nearest first.
    pub async fn account_lineage(&mut self, id: AccountId) -> Result<Vec<AccountId>> {
        Ok(with_tx!(self, c => sqlx::query_scalar(
            "WITH RECURSIVE up(id, parent_id, depth) AS ( \
                SELECT id, parent_id, 0 FROM accounts WHERE id = $1 \
                UNION ALL \
                SELECT a.id, a.parent_id, up.depth + 1 FROM accounts a JOIN up ON a.id = up.parent_id \
                WHERE up.depth < 64 \
             ) SELECT id FROM up ORDER BY depth",
        )
        .bind(id)
        .fetch_all(c)
        .await)?)
    }
}
