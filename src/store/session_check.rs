//! What the session check reads: one row joining the session, its user and account and
//! the user it acts as, by the token's hash. The SQLite fast path (`sqlite_reads`) runs
//! this one query; on PostgreSQL, checks that arrive together share it ([`Batches`]).

use std::sync::Arc;

use sqlx::{FromRow, PgPool};
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::breaker::Breaker;
use crate::{
    error::{Error, Result, is_outage},
    tokens::TokenHash,
    values::{AccountId, UserId},
};

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
    /// The person signed in is an administrator of their account.
    pub top_user: bool,
    pub email: Option<String>,
    pub acting_email: Option<String>,
    /// The company asks for a passkey and the user had none at sign-in.
    pub passkey_due: bool,
}

/// The grant a client's token stands for, read with its session.
#[derive(Debug, Clone, FromRow)]
pub struct GrantView {
    pub grant_id: i64,
    pub client_id: String,
    pub client_account_id: AccountId,
    pub scope: String,
    pub granted_at: i64,
    /// The app asking (introspection), when it exists: its secret's hash (`None`: a
    /// public app) and account.
    pub caller_exists: bool,
    pub caller_secret: Option<Vec<u8>>,
    pub caller_account: Option<AccountId>,
}

/// `SELECT <the view's columns, then s.token_hash> <from the parts given>`; the column order
/// is what `sqlite_reads` reads.
macro_rules! select_sessions {
    ($($from:expr),+) => {
        concat!(
            "SELECT s.id, s.app, s.ip, s.remember, s.last_seen_at, s.expires_at, \
                u.id AS user_id, u.username, a.id AS account_id, a.name AS account_name, \
                a.blocked_from, a.dpa_version, u.dpa_accepted_version, u.must_change_password, u.language, \
                e.id AS acting_id, e.username AS acting_username, \
                ea.id AS acting_account_id, ea.name AS acting_account_name, ea.blocked_from AS acting_blocked_from, \
                u.top_user, u.email, e.email AS acting_email, s.passkey_due, s.token_hash ",
            $($from),+
        )
    };
}

/// The session's people and accounts, joined plainly (SQLite).
macro_rules! joins {
    () => {
        "JOIN users u ON u.id = s.user_id \
         JOIN accounts a ON a.id = u.account_id \
         LEFT JOIN users e ON e.id = s.acting_as_id \
         LEFT JOIN accounts ea ON ea.id = e.account_id "
    };
}

/// The same, each looked up by its primary key on its own (PostgreSQL). Joined plainly,
/// PostgreSQL's generic plan for a company of many users walks the whole users index in a
/// merge join, since it expects to stop early; fenced (`OFFSET 0`), each join is one index
/// lookup, whatever the tables hold.
macro_rules! fenced_joins {
    () => {
        "CROSS JOIN LATERAL (SELECT * FROM users WHERE id = s.user_id OFFSET 0) u \
         CROSS JOIN LATERAL (SELECT * FROM accounts WHERE id = u.account_id OFFSET 0) a \
         LEFT JOIN LATERAL (SELECT * FROM users WHERE id = s.acting_as_id OFFSET 0) e ON TRUE \
         LEFT JOIN LATERAL (SELECT * FROM accounts WHERE id = e.account_id OFFSET 0) ea ON TRUE "
    };
}

/// The session check's one query, on SQLite.
pub(super) const SESSION_BY_HASH: &str =
    select_sessions!("FROM sessions s ", joins!(), "WHERE s.token_hash = $1 AND s.ended_at IS NULL");

/// The same on PostgreSQL.
const PG_SESSION_BY_HASH: &str =
    select_sessions!("FROM sessions s ", fenced_joins!(), "WHERE s.token_hash = $1 AND s.ended_at IS NULL");

/// A live session by its id (a client exchanging a code the session was given), on SQLite.
pub(super) const SESSION_BY_ID: &str =
    select_sessions!("FROM sessions s ", joins!(), "WHERE s.id = $1 AND s.ended_at IS NULL");

/// The same on PostgreSQL.
pub(super) const PG_SESSION_BY_ID: &str =
    select_sessions!("FROM sessions s ", fenced_joins!(), "WHERE s.id = $1 AND s.ended_at IS NULL");

/// The session behind a client's grant (OpenID Connect), with the grant and the app
/// asking (`$2`, none for userinfo), the session's people and accounts joined by `$joins`:
/// introspection in one read. The grant's columns follow the session's.
macro_rules! session_by_grant {
    ($joins:expr) => {
        select_sessions!(
            ", g.id AS grant_id, g.client_id, c.account_id AS client_account_id, g.scope, \
               g.created_at AS granted_at, k.id IS NOT NULL AS caller_exists, k.secret_hash AS caller_secret, \
               k.account_id AS caller_account ",
            "FROM oidc_grants g JOIN oidc_clients c ON c.id = g.client_id JOIN sessions s ON s.id = g.session_id \
             LEFT JOIN oidc_clients k ON k.id = $2 AND k.deleted_at IS NULL ",
            $joins,
            "WHERE g.id = $1 AND g.revoked_at IS NULL AND c.deleted_at IS NULL AND s.ended_at IS NULL"
        )
    };
}

/// A grant's session, on SQLite.
pub(super) const SESSION_BY_GRANT: &str = session_by_grant!(joins!());

/// The same on PostgreSQL.
pub(super) const PG_SESSION_BY_GRANT: &str = session_by_grant!(fenced_joins!());

/// The same for several tokens at once, on PostgreSQL.
const SESSIONS_BY_HASHES: &str = select_sessions!(
    "FROM unnest($1::bytea[]) AS t(hash) JOIN sessions s ON s.token_hash = t.hash ",
    fenced_joins!(),
    "WHERE s.ended_at IS NULL"
);

/// A row of [`SESSIONS_BY_HASHES`]: the view and the hash it was found by.
#[derive(FromRow)]
struct Found {
    #[sqlx(flatten)]
    view: SessionView,
    token_hash: Vec<u8>,
}

/// PostgreSQL: session checks that arrive while many others are being read share one
/// query.
///
/// Under load the cost of a check is mostly the round trip and the statement, not the
/// rows, so a batch of twenty costs about what one does. Up to [`ALONE`] checks at a time
/// run the one-row query on their own, as every check does when the server is not busy;
/// the checks beyond them join a batch, of which up to [`IN_FLIGHT`] are read at once
/// while the next gathers. Each check still reads the database: nothing is cached, so a
/// session ended on any instance is refused by every instance's next check.
#[derive(Clone, Debug)]
pub(super) struct Batches {
    queue: mpsc::UnboundedSender<Waiting>,
    alone: Arc<Semaphore>,
    pool: PgPool,
    breaker: Arc<Breaker>,
}

/// Checks read on their own at once, at most.
const ALONE: usize = 4;
/// Batches read at once, at most (each holds one connection of the pool).
const IN_FLIGHT: usize = 4;
/// Checks in one batch, at most.
const BATCH: usize = 64;

/// Why a batch found nothing: the pool's error, shared by every check of the batch.
type Failure = Arc<sqlx::Error>;

struct Waiting {
    hash: [u8; 32],
    answer: oneshot::Sender<Result<Option<SessionView>, Failure>>,
}

impl Batches {
    /// Starts the task that gathers checks into batches, on the current runtime; it ends
    /// when the last clone of the store is dropped.
    pub(super) fn start(pool: PgPool, breaker: Arc<Breaker>) -> Self {
        let (queue, waiting) = mpsc::unbounded_channel();
        tokio::spawn(gather(pool.clone(), breaker.clone(), waiting));
        Self { queue, alone: Arc::new(Semaphore::new(ALONE)), pool, breaker }
    }

    /// The live session behind `hash`: read on its own if few checks are under way, else
    /// in the next batch.
    pub(super) async fn session_by_hash(&self, hash: &TokenHash) -> Result<Option<SessionView>> {
        if let Ok(_alone) = self.alone.try_acquire() {
            self.breaker.check()?;
            let read = sqlx::query_as(PG_SESSION_BY_HASH).bind(&hash.0[..]).fetch_optional(&self.pool).await;
            return Ok(self.breaker.observe(read)?);
        }
        let (answer, answered) = oneshot::channel();
        let stopped = || Error::Unexpected(anyhow::anyhow!("the session checks' reader has stopped"));
        self.queue.send(Waiting { hash: hash.0, answer }).map_err(|_| stopped())?;
        match answered.await.map_err(|_| stopped())? {
            Ok(found) => Ok(found),
            Err(e) if is_outage(&e) => Err(Error::Unavailable),
            Err(e) => Err(Error::Unexpected(anyhow::anyhow!("reading sessions failed: {e}"))),
        }
    }
}

async fn gather(pool: PgPool, breaker: Arc<Breaker>, mut waiting: mpsc::UnboundedReceiver<Waiting>) {
    let turns = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(first) = waiting.recv().await {
        let Ok(turn) = turns.clone().acquire_owned().await else { return };
        let mut batch = vec![first];
        while batch.len() < BATCH {
            let Ok(next) = waiting.try_recv() else { break };
            batch.push(next);
        }
        let (pool, breaker) = (pool.clone(), breaker.clone());
        tokio::spawn(async move {
            read(&pool, &breaker, batch).await;
            drop(turn);
        });
    }
}

/// Reads one batch and answers each check in it.
async fn read(pool: &PgPool, breaker: &Breaker, batch: Vec<Waiting>) {
    let hashes: Vec<&[u8]> = batch.iter().map(|w| &w.hash[..]).collect();
    let rows = match breaker.check() {
        Err(e) => Err(e),
        Ok(()) => {
            breaker.observe(sqlx::query_as::<_, Found>(SESSIONS_BY_HASHES).bind(hashes).fetch_all(pool).await)
        }
    };
    match rows {
        Ok(rows) => {
            for waiting in batch {
                let found =
                    rows.iter().find(|r| r.token_hash[..] == waiting.hash[..]).map(|r| r.view.clone());
                let _ = waiting.answer.send(Ok(found));
            }
        }
        Err(e) => {
            let e = Arc::new(e);
            for waiting in batch {
                let _ = waiting.answer.send(Err(e.clone()));
            }
        }
    }
}
