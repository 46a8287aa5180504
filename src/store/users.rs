//! Queries on users and the grants between them.

use sqlx::FromRow;

use super::db::{Db, Tx, is_unique_violation, with_tx};
use crate::{
    error::{Error, Result},
    values::{AccountId, Email, Language, Phone, Right, StoredHash, User, UserId, Username},
};

/// A user about to be created, every field already checked.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub account_id: AccountId,
    pub username: Username,
    pub creator_id: Option<UserId>,
    pub top_user: bool,
    pub email: Option<Email>,
    pub email_verified: bool,
    pub phone: Option<Phone>,
    pub phone_verified: bool,
    pub can_change_password: bool,
    pub can_send_sms: bool,
    pub must_change_password: bool,
    pub language: Language,
}

/// A user as stored; the store hands out [`User`]s.
#[derive(Debug, Clone, FromRow)]
struct UserRow {
    pub id: UserId,
    pub account_id: AccountId,
    pub username: String,
    pub creator_id: Option<UserId>,
    pub top_user: bool,
    pub email: Option<String>,
    pub email_verified: bool,
    pub phone: Option<String>,
    pub phone_verified: bool,
    pub password_hash: StoredHash,
    pub can_change_password: bool,
    pub can_send_sms: bool,
    pub must_change_password: bool,
    pub language: String,
    pub dpa_accepted_version: i64,
    pub notify_account_blocking: bool,
    pub created_at: i64,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        Self {
            id: r.id,
            account_id: r.account_id,
            username: Username::from_stored(r.username),
            creator_id: r.creator_id,
            top_user: r.top_user,
            email: r.email.map(Email::from_stored),
            email_verified: r.email_verified,
            phone: r.phone.map(Phone::from_stored),
            phone_verified: r.phone_verified,
            password_hash: r.password_hash,
            can_change_password: r.can_change_password,
            can_send_sms: r.can_send_sms,
            must_change_password: r.must_change_password,
            language: Language::from_stored(&r.language),
            dpa_accepted_version: r.dpa_accepted_version,
            notify_account_blocking: r.notify_account_blocking,
            created_at: r.created_at,
        }
    }
}

/// A user someone may act as.
#[derive(Debug, Clone, FromRow)]
pub struct TargetRow {
    pub id: UserId,
    pub username: String,
    pub top_user: bool,
    pub account_id: AccountId,
    pub account_name: String,
    /// The first top user of the account: its creator.
    pub account_creator: bool,
}

/// `SELECT <every column> FROM users <rest>`.
macro_rules! select {
    ($rest:literal) => {
        concat!(
            "SELECT id, account_id, username, creator_id, top_user, email, email_verified, \
             phone, phone_verified, password_hash, can_change_password, can_send_sms, \
             must_change_password, language, dpa_accepted_version, notify_account_blocking, \
             created_at FROM users ",
            $rest
        )
    };
}

impl Tx {
    pub async fn insert_user(&mut self, u: &NewUser, hash: &StoredHash, now: i64) -> Result<UserId> {
        let result = with_tx!(self, c => {
            sqlx::query_scalar(
                "INSERT INTO users (account_id, username, creator_id, top_user, email, \
                 email_verified, phone, phone_verified, password_hash, can_change_password, \
                 can_send_sms, must_change_password, language, created_at, username_skeleton) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id",
            )
            .bind(u.account_id)
            .bind(u.username.as_str())
            .bind(u.creator_id)
            .bind(u.top_user)
            .bind(u.email.as_ref().map(|e| e.as_str()))
            .bind(u.email_verified)
            .bind(u.phone.as_ref().map(|p| p.as_str()))
            .bind(u.phone_verified)
            .bind(hash)
            .bind(u.can_change_password)
            .bind(u.can_send_sms)
            .bind(u.must_change_password)
            .bind(u.language.code())
            .bind(now)
            .bind(u.username.skeleton())
            .fetch_one(c)
            .await
        });
        result.map_err(|e| match is_unique_violation(&e) {
            true => Error::Conflict { field: "username" },
            false => e.into(),
        })
    }

    /// Names whose look-alike skeleton is not stored yet (users from before it was), by id.
    pub async fn usernames_without_skeleton(&mut self) -> Result<Vec<(UserId, String)>> {
        Ok(with_tx!(self, c => sqlx::query_as(
            "SELECT id, username FROM users WHERE username_skeleton IS NULL ORDER BY id",
        )
        .fetch_all(c)
        .await)?)
    }

    /// Stores a name's skeleton; false when another name already has it.
    pub async fn set_username_skeleton(&mut self, id: UserId, skeleton: &str) -> Result<bool> {
        let result = with_tx!(self, c => sqlx::query("UPDATE users SET username_skeleton = $2 WHERE id = $1")
            .bind(id)
            .bind(skeleton)
            .execute(c)
            .await
            .map(|r| r.rows_affected()));
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn user_by_id(&mut self, id: UserId) -> Result<Option<User>> {
        let row: Option<UserRow> =
            with_tx!(self, c => sqlx::query_as(select!("WHERE id = $1")).bind(id).fetch_optional(c).await)?;
        Ok(row.map(User::from))
    }

    pub async fn user_by_username(&mut self, username: &str) -> Result<Option<User>> {
        let row: Option<UserRow> = with_tx!(self, c => {
            sqlx::query_as(select!("WHERE username = $1")).bind(username).fetch_optional(c).await
        })?;
        Ok(row.map(User::from))
    }

    /// The users `holder` holds `act_as` on, with their accounts, by username.
    pub async fn act_as_targets(&mut self, holder: UserId) -> Result<Vec<TargetRow>> {
        Ok(with_tx!(self, c => sqlx::query_as(
            "SELECT u.id, u.username, u.top_user, a.id AS account_id, a.name AS account_name, \
             COALESCE((SELECT MIN(f.id) FROM users f WHERE f.account_id = a.id AND f.top_user) = u.id, FALSE) \
             AS account_creator \
             FROM grants g JOIN users u ON u.id = g.target_id JOIN accounts a ON a.id = u.account_id \
             WHERE g.holder_id = $1 AND g.right_name = 'act_as' ORDER BY u.username",
        )
        .bind(holder)
        .fetch_all(c)
        .await)?)
    }

    /// The users of an account, by username.
    pub async fn users_of_account(&mut self, account: AccountId) -> Result<Vec<User>> {
        let rows: Vec<UserRow> = with_tx!(self, c => {
            sqlx::query_as(select!("WHERE account_id = $1 ORDER BY username")).bind(account).fetch_all(c).await
        })?;
        Ok(rows.into_iter().map(User::from).collect())
    }

    /// The user, locked until this transaction ends: what it writes next is decided on
    /// what is stored now, not on what an earlier read saw. (SQLite's write transaction
    /// holds the whole database already.)
    pub async fn user_for_update(&mut self, id: UserId) -> Result<Option<User>> {
        let sql = match self.db {
            Db::Sqlite(..) => select!("WHERE id = $1"),
            Db::Postgres(_) => select!("WHERE id = $1 FOR UPDATE"),
        };
        let row: Option<UserRow> = with_tx!(self, c => sqlx::query_as(sql).bind(id).fetch_optional(c).await)?;
        Ok(row.map(User::from))
    }

    /// Writes the fields in which `after` differs from `before`, and no other: a change
    /// someone made meanwhile to another field stays. `before` is the row as this
    /// transaction read it with [`Tx::user_for_update`].
    pub async fn update_user(&mut self, before: &User, after: &User) -> Result<()> {
        fn changed<'a, T: PartialEq>(before: &T, after: &'a T) -> Option<&'a T> {
            (before != after).then_some(after)
        }
        let email = changed(&before.email, &after.email);
        let phone = changed(&before.phone, &after.phone);
        let hash = changed(&before.password_hash, &after.password_hash);
        let flags = [
            changed(&before.top_user, &after.top_user),
            changed(&before.email_verified, &after.email_verified),
            changed(&before.phone_verified, &after.phone_verified),
            changed(&before.can_change_password, &after.can_change_password),
            changed(&before.can_send_sms, &after.can_send_sms),
            changed(&before.must_change_password, &after.must_change_password),
            changed(&before.notify_account_blocking, &after.notify_account_blocking),
        ];
        let language = changed(&before.language, &after.language).map(|l| l.code());
        let dpa = changed(&before.dpa_accepted_version, &after.dpa_accepted_version);
        let unchanged = email.is_none() && phone.is_none() && hash.is_none() && language.is_none();
        if unchanged && dpa.is_none() && flags.iter().all(Option::is_none) {
            return Ok(());
        }
        let [
            top_user,
            email_verified,
            phone_verified,
            can_change_password,
            can_send_sms,
            must_change,
            notify,
        ] = flags.map(|f| f.copied());
        with_tx!(self, c => {
            sqlx::query(
                "UPDATE users SET top_user = COALESCE($2, top_user), \
                 email = CASE WHEN $3 THEN $4 ELSE email END, \
                 email_verified = COALESCE($5, email_verified), \
                 phone = CASE WHEN $6 THEN $7 ELSE phone END, \
                 phone_verified = COALESCE($8, phone_verified), \
                 password_hash = COALESCE($9, password_hash), \
                 can_change_password = COALESCE($10, can_change_password), \
                 can_send_sms = COALESCE($11, can_send_sms), \
                 must_change_password = COALESCE($12, must_change_password), \
                 language = COALESCE($13, language), \
                 dpa_accepted_version = COALESCE($14, dpa_accepted_version), \
                 notify_account_blocking = COALESCE($15, notify_account_blocking) WHERE id = $1",
            )
            .bind(after.id)
            .bind(top_user)
            .bind(email.is_some())
            .bind(email.and_then(|e| e.as_ref().map(Email::as_str)))
            .bind(email_verified)
            .bind(phone.is_some())
            .bind(phone.and_then(|p| p.as_ref().map(Phone::as_str)))
            .bind(phone_verified)
            .bind(hash)
            .bind(can_change_password)
            .bind(can_send_sms)
            .bind(must_change)
            .bind(language)
            .bind(dpa.copied())
            .bind(notify)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// The account's first top user: the one created with it.
    pub async fn account_creator(&mut self, account: AccountId) -> Result<Option<UserId>> {
        Ok(with_tx!(self, c => sqlx::query_scalar(
            "SELECT MIN(id) FROM users WHERE account_id = $1 AND top_user",
        )
        .bind(account)
        .fetch_one(c)
        .await)?)
    }

    /// Whether `ancestor` created `user`, or created someone who did, and so on up.
    pub async fn is_creator_ancestor(&mut self, ancestor: UserId, user: UserId) -> Result<bool> {
        Ok(with_tx!(self, c => sqlx::query_scalar(
            "WITH RECURSIVE up(id, depth) AS ( \
                SELECT creator_id, 0 FROM users WHERE id = $2 \
                UNION ALL \
                SELECT u.creator_id, up.depth + 1 FROM users u JOIN up ON u.id = up.id \
                WHERE up.depth < 64 \
             ) SELECT EXISTS (SELECT 1 FROM up WHERE id = $1)",
        )
        .bind(ancestor)
        .bind(user)
        .fetch_one(c)
        .await)?)
    }

    pub async fn has_grant(&mut self, holder: UserId, target: UserId, right: Right) -> Result<bool> {
        Ok(with_tx!(self, c => sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM grants \
             WHERE holder_id = $1 AND target_id = $2 AND right_name = $3)",
        )
        .bind(holder)
        .bind(target)
        .bind(right.as_str())
        .fetch_one(c)
        .await)?)
    }

    pub async fn grants_between(&mut self, holder: UserId, target: UserId) -> Result<Vec<String>> {
        Ok(with_tx!(self, c => sqlx::query_scalar(
            "SELECT right_name FROM grants WHERE holder_id = $1 AND target_id = $2 ORDER BY right_name",
        )
        .bind(holder)
        .bind(target)
        .fetch_all(c)
        .await)?)
    }

    pub async fn insert_grant(
        &mut self,
        holder: UserId,
        target: UserId,
        right: Right,
        by: Option<UserId>,
        now: i64,
    ) -> Result<()> {
        with_tx!(self, c => sqlx::query(
            "INSERT INTO grants (holder_id, target_id, right_name, granted_by, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(holder)
        .bind(target)
        .bind(right.as_str())
        .bind(by)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn delete_grant(&mut self, holder: UserId, target: UserId, right: Right) -> Result<()> {
        with_tx!(self, c => sqlx::query(
            "DELETE FROM grants WHERE holder_id = $1 AND target_id = $2 AND right_name = $3",
        )
        .bind(holder)
        .bind(target)
        .bind(right.as_str())
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }
}
