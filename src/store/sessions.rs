//! Queries on sessions. The lookup by token hash is the hot path: one indexed read that
//! joins in everything the session check answers with.

use sqlx::FromRow;

use super::{SqliteStore, Store, Tx, with_pool, with_tx, with_writer};
use crate::{accounts::AccountId, error::Result, sessions::NewSession, tokens::TokenHash, users::UserId};

/// A session as its owner lists it.
#[derive(Debug, Clone, FromRow)]
pub struct SessionRow {
    pub id: i64,
    pub acting_as_id: Option<UserId>,
    pub app: String,
    pub ip: String,
    pub user_agent: String,
    pub remember: bool,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

/// A session with the people and account it answers for. `user_*` is the person who
/// signed in; `acting_*` the user being impersonated, if any.
#[derive(Debug, Clone, FromRow)]
pub struct SessionView {
    pub id: i64,
    pub app: String,
    pub ip: String,
    pub remember: bool,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub user_id: UserId,
    pub username: String,
    pub account_id: AccountId,
    pub account_name: String,
    /// The blocking date in force for the account (its own or one above it).
    pub blocked_from: Option<i64>,
    pub dpa_version: i64,
    pub dpa_accepted_version: i64,
    pub must_change_password: bool,
    pub language: String,
    pub acting_id: Option<UserId>,
    pub acting_username: Option<String>,
    pub acting_account_id: Option<AccountId>,
    pub acting_account_name: Option<String>,
    pub acting_blocked_from: Option<i64>,
}

/// The session check's one query; the column order is what `sqlite_reads` reads.
pub(super) const SESSION_BY_HASH: &str = "SELECT s.id, s.app, s.ip, s.remember, s.last_seen_at, s.expires_at, \
        u.id AS user_id, u.username, a.id AS account_id, a.name AS account_name, \
        a.blocked_from, a.dpa_version, u.dpa_accepted_version, u.must_change_password, u.language, \
        e.id AS acting_id, e.username AS acting_username, \
        ea.id AS acting_account_id, ea.name AS acting_account_name, ea.blocked_from AS acting_blocked_from \
     FROM sessions s \
     JOIN users u ON u.id = s.user_id \
     JOIN accounts a ON a.id = u.account_id \
     LEFT JOIN users e ON e.id = s.acting_as_id \
     LEFT JOIN accounts ea ON ea.id = e.account_id \
     WHERE s.token_hash = $1 AND s.ended_at IS NULL";

impl Store {
    pub async fn session_by_hash(&self, hash: &TokenHash) -> Result<Option<SessionView>> {
        if let Store::Sqlite(SqliteStore { reads: Some(reads), .. }) = self {
            return Ok(reads.session_by_hash(hash)?);
        }
        Ok(
            with_pool!(self, pool => sqlx::query_as(SESSION_BY_HASH).bind(&hash.0[..]).fetch_optional(pool).await)?,
        )
    }

    /// Records activity; skipped by the caller unless the last record is a few seconds old.
    /// Unless `must`, a SQLite writer busy with something else (or with this very visit,
    /// sent by a parallel request) makes it skip the record rather than wait: the session
    /// check never queues behind sign-ins for a timestamp that a later request can write.
    /// Returns whether the visit was recorded.
    pub async fn touch_session(&self, id: i64, now: i64, must: bool) -> Result<bool> {
        const TOUCH: &str = "UPDATE sessions SET last_seen_at = $2 WHERE id = $1";
        match self {
            Store::Sqlite(sqlite) => {
                let _turn = match sqlite.writers.try_lock() {
                    Ok(turn) => turn,
                    Err(_) if must => sqlite.writers.lock().await,
                    Err(_) => return Ok(false),
                };
                sqlx::query(TOUCH).bind(id).bind(now).execute(&sqlite.pool).await?;
            }
            Store::Postgres(pool) => {
                sqlx::query(TOUCH).bind(id).bind(now).execute(pool).await?;
            }
        }
        Ok(true)
    }

    pub async fn end_session(&self, id: i64, now: i64) -> Result<()> {
        with_writer!(self, pool => sqlx::query("UPDATE sessions SET ended_at = $2 WHERE id = $1 AND ended_at IS NULL")
            .bind(id)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }
}

impl Tx {
    pub async fn insert_session(
        &mut self,
        hash: &TokenHash,
        s: &NewSession,
        now: i64,
        expires_at: i64,
    ) -> Result<i64> {
        Ok(with_tx!(self, c => sqlx::query_scalar(
            "INSERT INTO sessions (token_hash, user_id, acting_as_id, app, ip, user_agent, remember, \
             created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9) RETURNING id",
        )
        .bind(&hash.0[..])
        .bind(s.user_id)
        .bind(s.acting_as_id)
        .bind(s.app.as_str())
        .bind(s.ip.as_str())
        .bind(s.user_agent.as_str())
        .bind(s.remember)
        .bind(now)
        .bind(expires_at)
        .fetch_one(c)
        .await)?)
    }

    /// The user's sessions that have not ended or expired, newest first. (Idle ones are
    /// filtered by the caller, which knows the idle rule.)
    pub async fn open_sessions_of_user(&mut self, user: UserId, now: i64) -> Result<Vec<SessionRow>> {
        Ok(with_tx!(self, c => sqlx::query_as(
            "SELECT id, acting_as_id, app, ip, user_agent, remember, created_at, last_seen_at, expires_at \
             FROM sessions WHERE user_id = $1 AND ended_at IS NULL AND expires_at > $2 ORDER BY id DESC",
        )
        .bind(user)
        .bind(now)
        .fetch_all(c)
        .await)?)
    }

    /// Ends one of the user's sessions; false when there was no such open session.
    pub async fn end_session_of_user(&mut self, user: UserId, id: i64, now: i64) -> Result<bool> {
        let done = with_tx!(self, c => sqlx::query(
            "UPDATE sessions SET ended_at = $3 WHERE id = $2 AND user_id = $1 AND ended_at IS NULL",
        )
        .bind(user)
        .bind(id)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// Ends every open session of the user but `except`.
    pub async fn end_sessions_of_user(&mut self, user: UserId, except: Option<i64>, now: i64) -> Result<u64> {
        let done = with_tx!(self, c => sqlx::query(
            "UPDATE sessions SET ended_at = $3 WHERE user_id = $1 AND id <> $2 AND ended_at IS NULL",
        )
        .bind(user)
        .bind(except.unwrap_or(0))
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(done)
    }
}
