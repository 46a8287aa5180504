//! The session check on SQLite, read through rusqlite on the calling thread.
//!
//! sqlx's SQLite driver runs every connection on a thread of its own behind a channel;
//! for the one query that every request of every platform service makes, that hop costs
//! more than the query. These connections are opened read-only on the same file (WAL lets
//! them read while the pool writes), kept in a small stack, and their prepared statement
//! is cached, so a check is one lock-free-in-practice pop, one indexed read, one push.

use std::{path::PathBuf, sync::Mutex};

use rusqlite::{Connection, OpenFlags, OptionalExtension, Row};

use super::{
    clients::{CLIENT_BY_ID, CODE_SESSION, ClientRow},
    session_check::{GrantView, SESSION_BY_GRANT, SESSION_BY_HASH, SESSION_BY_ID, SessionView},
};
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
        self.read_one(SESSION_BY_HASH, [&hash.0[..]], view_of)
    }

    /// A live session by its id (an app exchanging a code).
    pub fn session_by_id(&self, id: i64) -> anyhow::Result<Option<SessionView>> {
        self.read_one(SESSION_BY_ID, [id], view_of)
    }

    /// The session a code was issued to, used or not.
    pub fn code_session(&self, hash: &[u8; 32]) -> anyhow::Result<Option<i64>> {
        self.read_one(CODE_SESSION, [&hash[..]], |row| row.get(0))
    }

    /// A registered app, unless deleted: its columns as `ClientRow` lists them.
    pub fn client_by_id(&self, id: &str) -> anyhow::Result<Option<ClientRow>> {
        self.read_one(CLIENT_BY_ID, [id], |row| {
            Ok(ClientRow {
                id: row.get(0)?,
                account_id: AccountId(row.get(1)?),
                account_name: row.get(2)?,
                name: row.get(3)?,
                secret_hash: row.get(4)?,
                redirect_uris: row.get(5)?,
                logout_uris: row.get(6)?,
                id_token_alg: row.get(7)?,
                created_at: row.get(8)?,
            })
        })
    }

    /// The session behind a client's grant, with the grant and the app asking
    /// (introspection, userinfo).
    pub fn session_by_grant(
        &self,
        grant: i64,
        caller: &str,
    ) -> anyhow::Result<Option<(SessionView, GrantView)>> {
        // By name: SQLite numbers `$N` parameters in the order they first appear.
        let params: &[(&str, &dyn rusqlite::ToSql)] = &[("$1", &grant), ("$2", &caller)];
        self.read_one(SESSION_BY_GRANT, params, |row| {
            let g = AFTER_SESSION;
            Ok((
                view_of(row)?,
                GrantView {
                    grant_id: row.get(g)?,
                    client_id: row.get(g + 1)?,
                    client_account_id: AccountId(row.get(g + 2)?),
                    scope: row.get(g + 3)?,
                    granted_at: row.get(g + 4)?,
                    caller_exists: row.get(g + 5)?,
                    caller_secret: row.get(g + 6)?,
                    caller_account: row.get::<_, Option<i64>>(g + 7)?.map(AccountId),
                },
            ))
        })
    }

    /// One row of `sql` for `key`, on a connection of the stack, with its statement cached.
    fn read_one<T>(
        &self,
        sql: &str,
        key: impl rusqlite::Params,
        map: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    ) -> anyhow::Result<Option<T>> {
        let taken = self.idle.lock().expect("connection stack").pop();
        let conn = match taken {
            Some(conn) => conn,
            None => self.open()?,
        };
        let found = conn.prepare_cached(sql).and_then(|mut s| s.query_row(key, map).optional());
        self.idle.lock().expect("connection stack").push(conn);
        Ok(found?)
    }
}

/// The first column after those `select_sessions!` lists (the view's 24, then the token's
/// hash).
const AFTER_SESSION: usize = 25;

/// The session's columns, in the order `select_sessions!` lists them.
fn view_of(row: &Row<'_>) -> rusqlite::Result<SessionView> {
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
        top_user: row.get(20)?,
        email: row.get(21)?,
        acting_email: row.get(22)?,
        passkey_due: row.get(23)?,
    })
}
