//! Queries on the outbox of emails and SMS.

use sqlx::FromRow;

use super::db::{Store, Tx, with_tx, with_writer};
use crate::error::Result;

/// A message claimed for delivery.
#[derive(Debug, Clone, FromRow)]
pub struct OutboxRow {
    pub id: i64,
    pub channel: String,
    pub recipient: String,
    pub payload: Vec<u8>,
    /// Including the one under way.
    pub attempts: i64,
}

impl Tx {
    pub async fn insert_outbox(
        &mut self,
        channel: &str,
        recipient: &str,
        payload: &[u8],
        now: i64,
    ) -> Result<i64> {
        Ok(with_tx!(self, c => sqlx::query_scalar(
            "INSERT INTO outbox (channel, recipient, payload, created_at, next_attempt_at) \
             VALUES ($1, $2, $3, $4, $4) RETURNING id",
        )
        .bind(channel)
        .bind(recipient)
        .bind(payload)
        .bind(now)
        .fetch_one(c)
        .await)?)
    }
}

impl Store {
    /// Claims the oldest message that is due and not claimed by a live worker, until
    /// `until`. The claim is one statement, so two workers never get the same message:
    /// on PostgreSQL the second waits for the first's row lock and then finds the claim.
    pub async fn claim_outbox(&self, now: i64, until: i64) -> Result<Option<OutboxRow>> {
        Ok(with_writer!(self, pool => sqlx::query_as(
            "UPDATE outbox SET claimed_until = $2, attempts = attempts + 1 \
             WHERE id = (SELECT id FROM outbox WHERE sent_at IS NULL AND gave_up_at IS NULL \
                         AND next_attempt_at <= $1 AND claimed_until <= $1 ORDER BY id LIMIT 1) \
               AND claimed_until <= $1 \
             RETURNING id, channel, recipient, payload, attempts",
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
