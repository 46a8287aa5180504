//! The session check on SQLite, read through rusqlite on the calling thread.
//!
//! sqlx's SQLite driver runs every connection on a thread of its own behind a channel;
//! for the one query that every request of every platform service makes, that hop costs
//! more than the query. These connections are opened read-only on the same file (WAL lets
//! them read while the pool writes), kept in a small stack, and their prepared statement
//! is cached, so a check is one lock-free-in-practice pop, one indexed read, one push.

use std::{path::PathBuf, sync::Mutex};

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::session_check::{SESSION_BY_HASH, SessionView};
use crate::{
    tokens::TokenHash,
    values::{AccountId, UserId},
};

#[derive(Debug)]
pub struct FastReads {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl FastReads {
    pub fn new(path: PathBuf) -> Self {
        Self { path, idle: Mutex::new(Vec::new()) }
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(conn)
    }

    pub fn session_by_hash(&self, hash: &TokenHash) -> anyhow::Result<Option<SessionView>> {
        let taken = self.idle.lock().expect("connection stack").pop();
        let conn = match taken {
            Some(conn) => conn,
            None => self.open()?,
        };
        let found = conn
            .prepare_cached(SESSION_BY_HASH)?
            .query_row([&hash.0[..]], |row| {
                Ok(SessionView {
                    id: row.get(0)?,
                    app: row.get(1)?,
                    ip: row.get(2)?,
                    remember: row.get(3)?,
                    last_seen_at: row.get(4)?,
                    expires_at: row.get(5)?,
                    user_id: UserId(row.get(6)?),
                    username: row.get(7)?,
                    account_id: AccountId(row.get(8)?),
                    account_name: row.get(9)?,
                    blocked_from: row.get(10)?,
                    dpa_version: row.get(11)?,
                    dpa_accepted_version: row.get(12)?,
                    must_change_password: row.get(13)?,
                    language: row.get(14)?,
                    acting_id: row.get::<_, Option<i64>>(15)?.map(UserId),
                    acting_username: row.get(16)?,
                    acting_account_id: row.get::<_, Option<i64>>(17)?.map(AccountId),
                    acting_account_name: row.get(18)?,
                    acting_blocked_from: row.get(19)?,
                })
            })
            .optional();
        self.idle.lock().expect("connection stack").push(conn);
        Ok(found?)
    }
}
