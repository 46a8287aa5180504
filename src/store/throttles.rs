//! Queries on the failure counters behind lock-outs.

use sqlx::FromRow;

use super::db::{Tx, with_tx};
use crate::error::Result;

/// A subject's failures; `lockout` holds the rules that read and move it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, FromRow)]
pub struct Counter {
    pub failures: i64,
    pub window_start: i64,
    pub locked_until: i64,
    pub lockouts: i64,
}

impl Tx {
    pub async fn throttle(&mut self, scope: &str, subject: &str) -> Result<Option<Counter>> {
        Ok(with_tx!(self, c => sqlx::query_as(
            "SELECT failures, window_start, locked_until, lockouts FROM throttles \
             WHERE scope = $1 AND subject = $2",
        )
        .bind(scope)
        .bind(subject)
        .fetch_optional(c)
        .await)?)
    }

    /// The counter, created empty if missing and locked against concurrent writers until
    /// the transaction ends (a row lock on PostgreSQL; SQLite's write lock is already held).
    /// One statement: an insert and then a separate update could find the row deleted in
    /// between by a concurrent sign-in that cleared it, and return nothing.
    pub async fn throttle_for_update(&mut self, scope: &str, subject: &str, now: i64) -> Result<Counter> {
        let row: Counter = with_tx!(self, c => sqlx::query_as(
            "INSERT INTO throttles (scope, subject, failures, window_start) VALUES ($1, $2, 0, $3) \
             ON CONFLICT (scope, subject) DO UPDATE SET failures = throttles.failures \
             RETURNING failures, window_start, locked_until, lockouts",
        )
        .bind(scope)
        .bind(subject)
        .bind(now)
        .fetch_one(c)
        .await)?;
        Ok(row)
    }

    pub async fn save_throttle(&mut self, scope: &str, subject: &str, counter: &Counter) -> Result<()> {
        with_tx!(self, c => sqlx::query(
            "UPDATE throttles SET failures = $3, window_start = $4, locked_until = $5, lockouts = $6 \
             WHERE scope = $1 AND subject = $2",
        )
        .bind(scope)
        .bind(subject)
        .bind(counter.failures)
        .bind(counter.window_start)
        .bind(counter.locked_until)
        .bind(counter.lockouts)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Forgets the failures of `subject`; true when there were any.
    pub async fn clear_throttle(&mut self, scope: &str, subject: &str) -> Result<bool> {
        let done = with_tx!(self, c => sqlx::query("DELETE FROM throttles WHERE scope = $1 AND subject = $2")
            .bind(scope)
            .bind(subject)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done > 0)
    }
}
