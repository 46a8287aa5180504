//! The connection to the one database: the pool of either backend, transactions, and
//! the macros that run one query text on whichever connection is live.

use std::{str::FromStr, time::Duration};

use anyhow::Context;
use sqlx::{
    PgPool, Postgres, Sqlite, SqlitePool, Transaction,
    postgres::PgPoolOptions,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use super::breaker::Breaker;
use crate::{error::Result, keys::SecretKey, values::skeleton_of};

/// Runs `$body` with `$conn` bound to the transaction's connection, whichever backend.
macro_rules! with_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match &mut $tx.db {
            $crate::store::db::Db::Sqlite(tx, _) => {
                let $conn = &mut **tx;
                $body
            }
            $crate::store::db::Db::Postgres(tx) => {
                let $conn = &mut **tx;
                $body
            }
        }
    };
}

/// Runs `$body` with `$pool` bound to the live pool, whichever backend (at once an
/// error while the database is known to be out of reach).
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store.breaker.check() {
            Err(e) => Err(e),
            Ok(()) => $store.breaker.observe(match &$store.backend {
                $crate::store::db::Backend::Sqlite(sqlite) => {
                    let $pool = &sqlite.pool;
                    $body
                }
                $crate::store::db::Backend::Postgres($pool) => $body,
            }),
        }
    };
}
/// Runs one writing statement on the live pool; on SQLite, in its turn in the writers'
/// queue.
macro_rules! with_writer {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store.breaker.check() {
            Err(e) => Err(e),
            Ok(()) => $store.breaker.observe(match &$store.backend {
                $crate::store::db::Backend::Sqlite(sqlite) => {
                    let _turn = sqlite.writers.lock().await;
                    let $pool = &sqlite.pool;
                    $body
                }
                $crate::store::db::Backend::Postgres($pool) => $body,
            }),
        }
    };
}
pub(crate) use {with_pool, with_tx, with_writer};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// A pool of connections to the one database, with the server key that seals what is
/// written in its audit chains.
#[derive(Clone, Debug)]
pub struct Store {
    pub(super) backend: Backend,
    keys: SecretKey,
    pub(super) breaker: std::sync::Arc<Breaker>,
    /// PostgreSQL: the session checks' shared reads.
    pub(super) checks: Option<super::session_check::Batches>,
}

#[derive(Clone, Debug)]
pub(super) enum Backend {
    Sqlite(SqliteStore),
    Postgres(PgPool),
}

/// SQLite: sqlx's pool for everything, and rusqlite for the session check.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pub(super) pool: SqlitePool,
    /// `None` for an in-memory database, which other connections cannot see.
    pub(super) reads: Option<std::sync::Arc<super::sqlite_reads::FastReads>>,
    /// Write transactions of this process queue here, first come first served. SQLite
    /// has one writer at a time; without the queue they would poll its lock with growing
    /// sleeps, and an unlucky one would wait far longer than its turn.
    pub(super) writers: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Sessions whose visit a request is recording right now.
    pub(super) touching: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<i64>>>,
}

/// An open transaction. Dropping it without [`Tx::commit`] rolls it back. A SQLite
/// write transaction holds its place at the head of the writers' queue.
pub struct Tx {
    pub(super) db: Db,
    keys: SecretKey,
}

pub(super) enum Db {
    Sqlite(Transaction<'static, Sqlite>, Option<tokio::sync::OwnedMutexGuard<()>>),
    Postgres(Transaction<'static, Postgres>),
}

impl Store {
    /// Connects to `url` (`sqlite://...` or `postgres://...`, with at most `pool`
    /// connections), creating a SQLite file if missing. Fails with the reason when the
    /// database cannot be reached.
    pub async fn connect(url: &str, pool: u32, keys: SecretKey) -> anyhow::Result<Self> {
        let backend = Backend::connect(url, pool).await?;
        let breaker: std::sync::Arc<Breaker> = Default::default();
        let checks = match &backend {
            Backend::Postgres(pool) => {
                Some(super::session_check::Batches::start(pool.clone(), breaker.clone()))
            }
            Backend::Sqlite(_) => None,
        };
        Ok(Self { backend, keys, breaker, checks })
    }

    /// Brings the schema up to date. On PostgreSQL one instance migrates while any others
    /// starting at the same time wait for it (sqlx holds a lock for the run). An instance
    /// older than the database refuses to start.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let migrated = match &self.backend {
            Backend::Sqlite(sqlite) => SQLITE_MIGRATIONS.run(&sqlite.pool).await,
            Backend::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await,
        };
        if let Err(sqlx::migrate::MigrateError::VersionMissing(version)) = migrated {
            anyhow::bail!(
                "the database was migrated by a newer release of Portcullis (migration {version} is unknown \
                 to this one); run that release or a later one"
            );
        }
        migrated.context("database migration failed")?;
        self.fill_username_skeletons().await.context("filling in username skeletons failed")
    }
}

impl Backend {
    async fn connect(url: &str, pool: u32) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .with_context(|| "PORTCULLIS_DATABASE_URL is not a valid SQLite URL")?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            if let Some(dir) = options.get_filename().parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create the directory {}", dir.display()))?;
            }
            let file = options.get_filename();
            let in_memory = file.as_os_str().is_empty() || file.to_string_lossy().contains(":memory:");
            let reads = (!in_memory).then(|| super::sqlite_reads::FastReads::new(file.to_owned()).into());
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(options)
                .await
                .context("cannot open the SQLite database")?;
            let (writers, touching) = Default::default();
            Ok(Self::Sqlite(SqliteStore { pool, reads, writers, touching }))
        } else {
            let pool = PgPoolOptions::new()
                .max_connections(pool)
                .acquire_timeout(Duration::from_secs(3))
                .connect(url)
                .await
                .context("cannot connect to PostgreSQL")?;
            Ok(Self::Postgres(pool))
        }
    }
}

impl Store {
    /// Computes the look-alike skeletons of usernames stored before they were kept. A
    /// name whose skeleton another already has stays unfilled (both keep working; no new
    /// name may look like either).
    async fn fill_username_skeletons(&self) -> Result<()> {
        let names = self.read().await?.usernames_without_skeleton().await?;
        for (id, name) in names {
            let mut tx = self.write().await?;
            if !tx.set_username_skeleton(id, &skeleton_of(&name)).await? {
                tracing::warn!(user = %id, "a username looks like another; it keeps its name");
            }
            tx.commit().await?;
        }
        Ok(())
    }

    /// A transaction that will write. On SQLite it takes the write lock at once, so two
    /// writers queue instead of one failing when it upgrades a read lock.
    pub async fn write(&self) -> sqlx::Result<Tx> {
        self.breaker.check()?;
        let db = match &self.backend {
            Backend::Sqlite(sqlite) => {
                let turn = sqlite.writers.clone().lock_owned().await;
                Db::Sqlite(sqlite.pool.begin_with("BEGIN IMMEDIATE").await?, Some(turn))
            }
            Backend::Postgres(pool) => Db::Postgres(self.breaker.observe(pool.begin().await)?),
        };
        Ok(Tx { db, keys: self.keys.clone() })
    }

    /// A transaction that only reads: a consistent view without taking a write lock.
    pub async fn read(&self) -> sqlx::Result<Tx> {
        self.breaker.check()?;
        let db = match &self.backend {
            Backend::Sqlite(sqlite) => Db::Sqlite(sqlite.pool.begin().await?, None),
            Backend::Postgres(pool) => Db::Postgres(self.breaker.observe(pool.begin().await)?),
        };
        Ok(Tx { db, keys: self.keys.clone() })
    }

    /// The server key, which seals what is written sealed (audit chains, the outbox,
    /// second-factor secrets).
    pub(crate) fn keys(&self) -> &SecretKey {
        &self.keys
    }

    /// One primary-key `SELECT` on the pool: the floor the session check is measured against.
    pub async fn floor_probe(&self) -> Result<bool> {
        let found: Option<i64> = with_pool!(self, pool => sqlx::query_scalar("SELECT id FROM accounts WHERE id = $1")
            .bind(1_i64)
            .fetch_optional(pool)
            .await)?;
        Ok(found.is_some())
    }

    /// Whether the database answers: for `/readyz`.
    /// It tries even while the breaker is open, and opens it when the database does not
    /// answer within a second.
    pub async fn ping(&self) -> bool {
        let probe = async {
            match &self.backend {
                Backend::Sqlite(sqlite) => sqlx::query("SELECT 1").execute(&sqlite.pool).await.map(|_| ()),
                Backend::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()),
            }
        };
        let answered = tokio::time::timeout(Duration::from_secs(1), probe).await;
        self.breaker.observe(answered.unwrap_or(Err(sqlx::Error::PoolTimedOut))).is_ok()
    }

    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite(sqlite) => sqlite.pool.close().await,
            Backend::Postgres(pool) => pool.close().await,
        }
    }
}

impl Tx {
    /// Waits for the turn `name` (a row of `turns`) and holds it to the end of the
    /// transaction, so that work of that name runs one instance at a time. On PostgreSQL a
    /// row lock (distributed engines have those, not advisory locks); SQLite's one writer
    /// already takes turns.
    pub async fn take_turn(&mut self, name: &'static str) -> Result<()> {
        if let Db::Postgres(tx) = &mut self.db {
            sqlx::query("SELECT name FROM turns WHERE name = $1 FOR UPDATE")
                .bind(name)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    pub async fn commit(self) -> sqlx::Result<()> {
        match self.db {
            Db::Sqlite(tx, _turn) => tx.commit().await,
            Db::Postgres(tx) => tx.commit().await,
        }
    }

    /// The server key, for sealing audit events in this transaction.
    pub(crate) fn keys(&self) -> &SecretKey {
        &self.keys
    }
}

/// Whether `e` is a violation of a unique constraint.
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error().is_some_and(|d| d.is_unique_violation())
}
