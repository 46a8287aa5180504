//! Queries on the outbox of emails and SMS.

use sqlx::FromRow;

use super::db::{Store, Tx, with_pool, with_tx, with_writer};
use crate::{error::Result, values::AccountId};

/// A message about to be queued: sealed, with whose it is and how urgent.
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    pub channel: &'a str,
    pub recipient: &'a str,
    pub payload: &'a [u8],
    pub account: AccountId,
    /// 0 goes first.
    pub priority: i64,
    /// After this, the message is dropped rather than sent.
    pub expires_at: Option<i64>,
}

/// A message claimed for delivery.
#[derive(Debug, Clone, FromRow)]
pub struct OutboxRow {
    pub id: i64,
    pub channel: String,
    pub recipient: String,
    pub payload: Vec<u8>,
    /// Including the one under way.
    pub attempts: i64,
    pub priority: i64,
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

/// The messages of one priority that wait to be sent.
#[derive(Debug, Clone, FromRow)]
pub struct Backlog {
    pub priority: i64,
    pub waiting: i64,
    /// When the oldest of them was queued.
    pub oldest: i64,
}

impl Tx {
    /// Queues a message behind those its account already has waiting.
    pub async fn insert_outbox(&mut self, m: &NewMessage<'_>, now: i64) -> Result<i64> {
        Ok(with_tx!(self, c => sqlx::query_scalar(
            "INSERT INTO outbox (channel, recipient, payload, created_at, next_attempt_at, account_id, \
             priority, expires_at, lane) VALUES ($1, $2, $3, $4, $4, $5, $6, $7, \
             (SELECT COUNT(*) FROM outbox WHERE account_id = $5 AND sent_at IS NULL AND gave_up_at IS NULL)) \
             RETURNING id",
        )
        .bind(m.channel)
        .bind(m.recipient)
        .bind(m.payload)
        .bind(now)
        .bind(m.account)
        .bind(m.priority)
        .bind(m.expires_at)
        .fetch_one(c)
        .await)?)
    }
}

impl Store {
    /// Claims the next message that is due and not claimed by a live worker, until
    /// `until`: the most urgent, and among those the one earliest in its account's line,
    /// then the oldest. The claim is one statement, so two workers never get the same
    /// message: on PostgreSQL the second waits for the first's row lock and then finds
    /// the claim.
    pub async fn claim_outbox(&self, now: i64, until: i64) -> Result<Option<OutboxRow>> {
        Ok(with_writer!(self, pool => sqlx::query_as(
            "UPDATE outbox SET claimed_until = $2, attempts = attempts + 1 \
             WHERE id = (SELECT id FROM outbox WHERE sent_at IS NULL AND gave_up_at IS NULL \
                         AND next_attempt_at <= $1 AND claimed_until <= $1 \
                         ORDER BY priority, lane, id LIMIT 1) \
               AND claimed_until <= $1 \
             RETURNING id, channel, recipient, payload, attempts, priority, created_at, expires_at",
        )
        .bind(now)
        .bind(until)
        .fetch_optional(pool)
        .await)?)
    }

    pub async fn outbox_sent(&self, id: i64, now: i64) -> Result<()> {
        with_writer!(self, pool => sqlx::query("UPDATE outbox SET sent_at = $2, last_error = NULL WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Records a failed attempt: try again at `retry_at`, or give up when it is `None`.
    pub async fn outbox_failed(&self, id: i64, error: &str, retry_at: Option<i64>, now: i64) -> Result<()> {
        with_writer!(self, pool => sqlx::query(
            "UPDATE outbox SET last_error = $2, claimed_until = 0, \
             next_attempt_at = COALESCE($3, next_attempt_at), \
             gave_up_at = CASE WHEN $3 IS NULL THEN $4 ELSE NULL END WHERE id = $1",
        )
        .bind(id)
        .bind(error)
        .bind(retry_at)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }
}

impl Store {
    /// What waits to be sent (due or not), per priority.
    pub async fn outbox_backlog(&self) -> Result<Vec<Backlog>> {
        Ok(with_pool!(self, pool => sqlx::query_as(
            "SELECT priority, COUNT(*) AS waiting, MIN(created_at) AS oldest FROM outbox \
             WHERE sent_at IS NULL AND gave_up_at IS NULL GROUP BY priority ORDER BY priority",
        )
        .fetch_all(pool)
        .await)?)
    }
}
