//! Queries on sessions. The lookup by token hash is the hot path: one indexed read that
//! joins in everything the session check answers with.

use sqlx::FromRow;

use super::{
    db::{Backend, Db, SqliteStore, Store, Tx, with_pool, with_tx, with_writer},
    session_check::{SESSION_BY_HASH, SessionView},
};
use crate::{
    error::Result,
    tokens::TokenHash,
    values::{AppKind, UserId},
};

/// The query behind [`SignInFacts`], for the session `$1`.
macro_rules! sign_in_facts {
    () => {
        "SELECT COALESCE(auth_time, created_at) AS auth_time, amr, opened_from FROM sessions WHERE id = $1"
    };
}

/// A session about to start.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub user_id: UserId,
    pub acting_as_id: Option<UserId>,
    pub app: AppKind,
    pub ip: String,
    pub user_agent: String,
    pub remember: bool,
    /// How the person proved who they are: when the password was typed (`None`: now)
    /// and the factors used (RFC 8176 values, space-separated).
    pub signed_in: Option<i64>,
    pub amr: String,
    /// The user must add a passkey before anything else.
    pub passkey_due: bool,
    /// For a browser tab of its own: the session whose tab opened it.
    pub opened_from: Option<i64>,
}

/// How a session was signed in to.
#[derive(Debug, Clone, FromRow)]
pub struct SignInFacts {
    pub auth_time: i64,
    pub amr: String,
    /// The session whose tab opened this one's, if it lives in a tab of its own.
    pub opened_from: Option<i64>,
}

/// A session as its owner lists it: one they signed in to, or one someone else opened
/// to act as them.
#[derive(Debug, Clone, FromRow)]
pub struct SessionRow {
    pub id: i64,
    pub user_id: UserId,
    /// Who signed in to it, when that is someone acting as the owner.
    pub impersonator: Option<String>,
    pub acting_as_id: Option<UserId>,
    pub app: String,
    pub ip: String,
    pub user_agent: String,
    pub remember: bool,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

impl Store {
    pub async fn session_by_hash(&self, hash: &TokenHash) -> Result<Option<SessionView>> {
        if let Backend::Sqlite(SqliteStore { reads: Some(reads), .. }) = &self.backend {
            return Ok(reads.session_by_hash(hash)?);
        }
        if let Some(batches) = &self.checks {
            return batches.session_by_hash(hash).await;
        }
        Ok(
            with_pool!(self, pool => sqlx::query_as(SESSION_BY_HASH).bind(&hash.0[..]).fetch_optional(pool).await)?,
        )
    }

    /// Records activity; skipped by the caller unless the last record is a few seconds
    /// old. On SQLite, a request that finds another one recording this session's visit
    /// leaves it to that one (which writes the same moment) instead of queueing behind
    /// it.
    pub async fn touch_session(&self, id: i64, now: i64) -> Result<()> {
        const TOUCH: &str = "UPDATE sessions SET last_seen_at = $2 WHERE id = $1";
        match &self.backend {
            Backend::Sqlite(sqlite) => {
                let Some(_recording) = Recording::start(&sqlite.touching, id) else {
                    return Ok(());
                };
                let _turn = sqlite.writers.lock().await;
                sqlx::query(TOUCH).bind(id).bind(now).execute(&sqlite.pool).await?;
            }
            Backend::Postgres(pool) => {
                sqlx::query(TOUCH).bind(id).bind(now).execute(pool).await?;
            }
        }
        Ok(())
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
             created_at, last_seen_at, expires_at, auth_time, amr, passkey_due, opened_from) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10, $11, $12, $13) RETURNING id",
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
        .bind(s.signed_in.unwrap_or(now))
        .bind(s.amr.as_str())
        .bind(s.passkey_due)
        .bind(s.opened_from)
        .fetch_one(c)
        .await)?)
    }

    /// When and how the person of a session signed in.
    pub async fn sign_in_facts(&mut self, session: i64) -> Result<Option<SignInFacts>> {
        Ok(with_tx!(self, c => sqlx::query_as(sign_in_facts!())
        .bind(session)
        .fetch_optional(c)
        .await)?)
    }

    /// [`Tx::sign_in_facts`] of a session that has not ended, which stays so until this
    /// transaction ends: a sign-out at the same moment waits for it, and then also sees
    /// what it started. (SQLite's write transaction holds the whole database already.)
    pub async fn open_session_facts_for_update(&mut self, session: i64) -> Result<Option<SignInFacts>> {
        let sql = match self.db {
            Db::Sqlite(..) => concat!(sign_in_facts!(), " AND ended_at IS NULL"),
            Db::Postgres(_) => concat!(sign_in_facts!(), " AND ended_at IS NULL FOR UPDATE"),
        };
        Ok(with_tx!(self, c => sqlx::query_as(sql).bind(session).fetch_optional(c).await)?)
    }

    /// The user's sessions that have not ended or expired, and those of others acting as
    /// the user, newest first. (Idle ones are filtered by the caller, which knows the idle
    /// rule.)
    pub async fn open_sessions_of_user(&mut self, user: UserId, now: i64) -> Result<Vec<SessionRow>> {
        Ok(with_tx!(self, c => sqlx::query_as(
            "SELECT s.id, s.user_id, CASE WHEN s.user_id <> $1 THEN u.username END AS impersonator, \
               s.acting_as_id, s.app, s.ip, s.user_agent, s.remember, s.created_at, s.last_seen_at, s.expires_at \
             FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE (s.user_id = $1 OR s.acting_as_id = $1) AND s.ended_at IS NULL AND s.expires_at > $2 \
             ORDER BY s.created_at DESC, s.id DESC",
        )
        .bind(user)
        .bind(now)
        .fetch_all(c)
        .await)?)
    }

    /// Ends one of the user's sessions (or one acting as the user); false when there was
    /// no such open session.
    pub async fn end_session_of_user(&mut self, user: UserId, id: i64, now: i64) -> Result<bool> {
        let done = with_tx!(self, c => sqlx::query(
            "UPDATE sessions SET ended_at = $3 \
             WHERE id = $2 AND (user_id = $1 OR acting_as_id = $1) AND ended_at IS NULL",
        )
        .bind(user)
        .bind(id)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// Ends every open session of the user, and every session acting as the user, but
    /// `except`.
    pub async fn end_sessions_of_user(&mut self, user: UserId, except: Option<i64>, now: i64) -> Result<u64> {
        let done = with_tx!(self, c => sqlx::query(
            "UPDATE sessions SET ended_at = $3 \
             WHERE (user_id = $1 OR acting_as_id = $1) AND id <> $2 AND ended_at IS NULL",
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

impl Tx {
    /// Ends the open sessions `signer` signed in to in tabs opened from `session`'s.
    pub async fn end_tabs_opened_from(&mut self, session: i64, signer: UserId, now: i64) -> Result<u64> {
        let done = with_tx!(self, c => sqlx::query(
            "UPDATE sessions SET ended_at = $3 WHERE opened_from = $1 AND user_id = $2 AND ended_at IS NULL",
        )
        .bind(session)
        .bind(signer)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(done)
    }

    /// The tabs opened from `old`'s are from now on opened from `new`'s, which replaced
    /// it in the same browser tab.
    pub async fn move_tabs_opened_from(&mut self, old: i64, new: i64) -> Result<()> {
        with_tx!(self, c => sqlx::query(
            "UPDATE sessions SET opened_from = $2 WHERE opened_from = $1 AND ended_at IS NULL",
        )
        .bind(old)
        .bind(new)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Ends the sessions acting as `target`: all of them, or only those `holder` signed in
    /// to (when `holder`'s grant on `target` is taken away).
    pub async fn end_sessions_acting_as(
        &mut self,
        target: UserId,
        holder: Option<UserId>,
        now: i64,
    ) -> Result<u64> {
        let done = with_tx!(self, c => sqlx::query(
            "UPDATE sessions SET ended_at = $3 \
             WHERE acting_as_id = $1 AND ($2 IS NULL OR user_id = $2) AND ended_at IS NULL",
        )
        .bind(target)
        .bind(holder)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(done)
    }
}

/// A visit being recorded: the session's id stays in the set until the record is done
/// (or the request is cancelled).
struct Recording<'a> {
    set: &'a std::sync::Mutex<std::collections::HashSet<i64>>,
    id: i64,
}

impl<'a> Recording<'a> {
    /// `None` when another request is recording this session's visit.
    fn start(set: &'a std::sync::Mutex<std::collections::HashSet<i64>>, id: i64) -> Option<Self> {
        let first = set.lock().expect("visits being recorded").insert(id);
        first.then(|| Self { set, id })
    }
}

impl Drop for Recording<'_> {
    fn drop(&mut self) {
        self.set.lock().expect("visits being recorded").remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_request_at_a_time_records_a_sessions_visit() {
        let set = std::sync::Mutex::new(std::collections::HashSet::new());
        let first = Recording::start(&set, 7).expect("the first records");
        assert!(Recording::start(&set, 7).is_none(), "a parallel request leaves it to the first");
        assert!(Recording::start(&set, 8).is_some(), "another session is recorded apart");
        drop(first);
        assert!(Recording::start(&set, 7).is_some(), "once done, the next visit is recorded");
    }
}
