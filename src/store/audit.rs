//! Queries on the audit trail.

use sqlx::FromRow;

use super::db::{Tx, with_tx};
use crate::{
    error::Result,
    values::{AccountId, UserId},
};

/// The fields of an event that its seal covers, as they are stored.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub account_id: AccountId,
    pub lane: i32,
    pub seq: i64,
    pub at: i64,
    pub actor_id: Option<UserId>,
    pub acting_as_id: Option<UserId>,
    pub subject_id: Option<UserId>,
    pub action: String,
    pub details: String,
    pub ip: Option<String>,
}

#[derive(Debug, Clone, FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub account_id: AccountId,
    pub lane: i32,
    pub seq: i64,
    pub at: i64,
    pub actor_id: Option<UserId>,
    pub acting_as_id: Option<UserId>,
    pub subject_id: Option<UserId>,
    pub action: String,
    pub details: String,
    pub ip: Option<String>,
    pub prev_hash: Option<Vec<u8>>,
    pub hash: Vec<u8>,
}

/// The time of the event a page starts before (a list is newest first by time, then id:
/// ids need not grow with time), or the end of time for the first page.
macro_rules! before {
    ($id:literal) => {
        concat!("COALESCE((SELECT b.at FROM audit_events b WHERE b.id = ", $id, "), 9223372036854775807)")
    };
}

impl Tx {
    /// Takes the next number in one lane of the account's chain and the MAC before it. The
    /// upsert locks the lane's row, so concurrent events of one lane queue here, and only
    /// those: the people of one company are spread over the lanes.
    pub async fn advance_audit_chain(
        &mut self,
        account: AccountId,
        lane: i32,
    ) -> Result<(i64, Option<Vec<u8>>)> {
        Ok(with_tx!(self, c => sqlx::query_as(
            "INSERT INTO audit_chains (account_id, lane, seq) VALUES ($1, $2, 1) \
             ON CONFLICT (account_id, lane) DO UPDATE SET seq = audit_chains.seq + 1 RETURNING seq, head",
        )
        .bind(account)
        .bind(lane)
        .fetch_one(c)
        .await)?)
    }

    pub async fn insert_audit_event(&mut self, e: &Sealed, prev: Option<&[u8]>, hash: &[u8]) -> Result<()> {
        with_tx!(self, c => {
            sqlx::query(
                "INSERT INTO audit_events (account_id, lane, seq, at, actor_id, acting_as_id, subject_id, \
                 action, details, ip, prev_hash, hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(e.account_id)
            .bind(e.lane)
            .bind(e.seq)
            .bind(e.at)
            .bind(e.actor_id)
            .bind(e.acting_as_id)
            .bind(e.subject_id)
            .bind(e.action.as_str())
            .bind(e.details.as_str())
            .bind(e.ip.as_deref())
            .bind(prev)
            .bind(hash)
            .execute(&mut *c)
            .await?;
            sqlx::query("UPDATE audit_chains SET head = $3 WHERE account_id = $1 AND lane = $2")
                .bind(e.account_id)
                .bind(e.lane)
                .bind(hash)
                .execute(c)
                .await
                .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// The number and MAC each lane of the account's chain ends with, by lane.
    pub async fn audit_heads(&mut self, account: AccountId) -> Result<Vec<(i32, i64, Option<Vec<u8>>)>> {
        Ok(with_tx!(self, c => sqlx::query_as(
            "SELECT lane, seq, head FROM audit_chains WHERE account_id = $1 ORDER BY lane",
        )
        .bind(account)
        .fetch_all(c)
        .await)?)
    }

    /// The accounts whose trail was written before trails were sealed with the key.
    pub async fn legacy_audit_accounts(&mut self) -> Result<Vec<AccountId>> {
        Ok(with_tx!(self, c => sqlx::query_scalar("SELECT id FROM accounts WHERE audit_legacy ORDER BY id")
            .fetch_all(c)
            .await)?)
    }

    pub async fn audit_is_legacy(&mut self, account: AccountId) -> Result<bool> {
        Ok(with_tx!(self, c => sqlx::query_scalar("SELECT audit_legacy FROM accounts WHERE id = $1")
            .bind(account)
            .fetch_one(c)
            .await)?)
    }

    /// Replaces an event's seal (when a legacy trail is sealed with the key).
    pub async fn reseal_audit_event(&mut self, id: i64, prev: Option<&[u8]>, hash: &[u8]) -> Result<()> {
        with_tx!(self, c => sqlx::query("UPDATE audit_events SET prev_hash = $2, hash = $3 WHERE id = $1")
            .bind(id)
            .bind(prev)
            .bind(hash)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Marks a legacy trail (lane 0: trails were not split when they were legacy) sealed,
    /// ending at `head`.
    pub async fn finish_audit_reseal(&mut self, account: AccountId, head: Option<&[u8]>) -> Result<()> {
        with_tx!(self, c => {
            sqlx::query("UPDATE audit_chains SET head = $2 WHERE account_id = $1 AND lane = 0")
                .bind(account)
                .bind(head)
                .execute(&mut *c)
                .await?;
            sqlx::query("UPDATE accounts SET audit_legacy = FALSE WHERE id = $1")
                .bind(account)
                .execute(c)
                .await
                .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// Every event of the account, oldest first.
    pub async fn audit_events_of(&mut self, account: AccountId) -> Result<Vec<AuditRow>> {
        Ok(with_tx!(self, c => sqlx::query_as(
            "SELECT id, account_id, lane, seq, at, actor_id, acting_as_id, subject_id, action, details, ip, \
             prev_hash, hash FROM audit_events WHERE account_id = $1 ORDER BY at, id",
        )
        .bind(account)
        .fetch_all(c)
        .await)?)
    }

    /// Sign-in events of one person, newest first, before the event `before`.
    pub async fn sign_ins_of(
        &mut self,
        user: UserId,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditRow>> {
        Ok(with_tx!(self, c => sqlx::query_as(concat!(
            "SELECT id, account_id, lane, seq, at, actor_id, acting_as_id, subject_id, action, details, ip, \
             prev_hash, hash FROM audit_events \
             WHERE subject_id = $1 AND action IN ('sign_in', 'sign_in.failed') AND (at, id) < (",
            before!("$2"),
            ", $2) ORDER BY at DESC, id DESC LIMIT $3",
        ))
        .bind(user)
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(c)
        .await)?)
    }

    /// A page of an account's events, newest first, with the usernames of those named.
    pub async fn audit_page(&mut self, account: AccountId, f: &AuditFilter<'_>) -> Result<Vec<AuditListRow>> {
        Ok(with_tx!(self, c => sqlx::query_as(concat!(
            "SELECT e.id, e.lane, e.seq, e.at, e.action, e.details, e.ip, e.prev_hash, e.hash, \
             e.actor_id, a.username AS actor_name, e.acting_as_id, s.username AS acting_as_name, \
             e.subject_id, t.username AS subject_name \
             FROM audit_events e \
             LEFT JOIN users a ON a.id = e.actor_id \
             LEFT JOIN users s ON s.id = e.acting_as_id \
             LEFT JOIN users t ON t.id = e.subject_id \
             WHERE e.account_id = $1 AND (e.at, e.id) < (",
            before!("$2"),
            ", $2) AND e.at >= $3 AND e.at < $4 \
             AND (CAST($5 AS TEXT) IS NULL OR e.action = $5 OR substr(e.action, 1, length($5) + 1) = $5 || '.') \
             AND (CAST($6 AS BIGINT) IS NULL OR e.actor_id = $6 OR e.subject_id = $6 OR e.acting_as_id = $6) \
             ORDER BY e.at DESC, e.id DESC LIMIT $7",
        ))
        .bind(account)
        .bind(f.before.unwrap_or(i64::MAX))
        .bind(f.since.unwrap_or(i64::MIN))
        .bind(f.until.unwrap_or(i64::MAX))
        .bind(f.action)
        .bind(f.user)
        .bind(f.limit)
        .fetch_all(c)
        .await)?)
    }
}

/// Which events of an account to list.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter<'a> {
    /// Only events older than this one (by time, then by id).
    pub before: Option<i64>,
    /// `sign_in` also matches `sign_in.failed`.
    pub action: Option<&'a str>,
    /// Done by, as or to this user.
    pub user: Option<UserId>,
    /// From this time (inclusive) until that one (exclusive).
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub limit: i64,
}

#[derive(Debug, Clone, FromRow)]
pub struct AuditListRow {
    pub id: i64,
    pub lane: i32,
    pub seq: i64,
    pub at: i64,
    pub action: String,
    pub details: String,
    pub ip: Option<String>,
    pub prev_hash: Option<Vec<u8>>,
    pub hash: Vec<u8>,
    pub actor_id: Option<UserId>,
    pub actor_name: Option<String>,
    pub acting_as_id: Option<UserId>,
    pub acting_as_name: Option<String>,
    pub subject_id: Option<UserId>,
    pub subject_name: Option<String>,
}
