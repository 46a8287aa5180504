//! Accounts: the companies (tenants) whose users sign in here.
//!
//! An account is created together with its first top user (its creator), either by the
//! operator at the command line or by a top user of the account that will be its parent.
//! It carries the services it pays for (`sms` with a message quota,
//! `email_notifications`), an optional blocking date, and the version of the Data
//! Protection Agreement its users must accept.

use crate::{
    audit::{self, Event},
    error::{Error, Result},
    lifecycle,
    passwords::Hasher,
    rights::{Actor, ManagesAccount},
    store::{NewAccount, Store},
    users::{self, UserRequest},
    values::{Account, AccountId, StoredHash, User},
};

/// How deep accounts nest: a top-level account and at most this many levels below it.
/// Every walk up or down the tree (blocking dates, who administers what) reaches further
/// than this (64 levels, in `store::accounts`), so no account escapes either.
pub const MAX_NESTING: usize = 16;

/// What a caller asks for when creating an account.
#[derive(Debug, Clone, Default)]
pub struct AccountRequest {
    pub name: String,
    pub parent: Option<AccountId>,
    pub blocking_at: Option<i64>,
    pub sms_quota: Option<i64>,
    pub email_notifications: bool,
    /// The account's first top user.
    pub admin: UserRequest,
}

impl AccountRequest {
    fn parse(&self) -> Result<NewAccount> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(Error::invalid("name", "use 1 to 100 characters"));
        }
        if self.sms_quota.is_some_and(|q| !(0..=lifecycle::MAX_SMS_QUOTA).contains(&q)) {
            return Err(Error::invalid("sms_quota", format!("use 0 to {}", lifecycle::MAX_SMS_QUOTA)));
        }
        Ok(NewAccount {
            name: name.to_owned(),
            parent_id: self.parent,
            blocking_at: self.blocking_at,
            sms_quota: self.sms_quota,
            email_notifications: self.email_notifications,
        })
    }
}

/// Creates an account and its first top user. Without a parent only the operator may;
/// with one, whoever manages the parent.
pub async fn create(
    store: &Store,
    hasher: &Hasher,
    actor: &Actor,
    request: &AccountRequest,
    now: i64,
) -> Result<(Account, User)> {
    let new = request.parse()?;
    if new.parent_id.is_none() && actor.user.is_some() {
        return Err(Error::Forbidden);
    }
    // Check the admin's fields before the slow hash, and the hash before the transaction.
    request.admin.parse(crate::values::AccountId(0), None, true)?;
    let hash = StoredHash(users::hash_initial_password(hasher, &request.admin).await?);
    let mut tx = store.write().await?;
    if let Some(parent) = new.parent_id {
        ManagesAccount::check(&mut tx, actor, parent).await?;
        // The parent's lineage is its own depth plus one: the new account's depth.
        if tx.account_lineage(parent).await?.len() > MAX_NESTING {
            let reason = format!("accounts nest at most {MAX_NESTING} levels below a top-level account");
            return Err(Error::invalid("parent_id", reason));
        }
    }
    if let Some(quota) = new.sms_quota {
        lifecycle::check_quota_grant(&mut tx, actor, quota).await?;
    }
    let id = tx.insert_account(&new, now).await?;
    tx.refresh_blocked_from(id).await?;
    let details = serde_json::json!({
        "name": new.name,
        "parent_id": new.parent_id,
        "sms_quota": new.sms_quota,
        "email_notifications": new.email_notifications,
        "blocking_at": new.blocking_at,
    });
    audit::record(&mut tx, Event::new(id, actor, "account.created").details(details), now).await?;
    let proof = ManagesAccount::check(&mut tx, &Actor::operator(), id).await?;
    let admin =
        users::insert(&mut tx, &proof, actor, &request.admin.parse(id, actor.user, true)?, &hash, now)
            .await?;
    tx.commit().await?;
    Ok((proof.account().clone(), admin))
}

/// The users of an account the actor manages, by username.
pub async fn users(store: &Store, actor: &Actor, account: AccountId) -> Result<Vec<User>> {
    let mut tx = store.read().await?;
    ManagesAccount::check(&mut tx, actor, account).await?;
    tx.users_of_account(account).await
}
