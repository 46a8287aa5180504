//! Who may do what to whom.
//!
//! An administrative function takes a proof ([`ManagesAccount`], [`ManagesUser`]) that
//! only the checks here can build, so a function that forgot to check does not compile.
//! The rules: the operator (the command line) manages everything; an account's top
//! users manage it, every account below it and all their users; a user manages the users
//! it created and their descendants, and those it holds the `manage` right on, but an
//! administrator (a top user) only from a current position above it: who created an
//! administrator, or was given `manage` on one, loses that power with their own rank.
//! Nobody manages themselves: one's own credentials change only through the paths that
//! ask for the current password.

use crate::{
    error::{Error, Result},
    store::Tx,
    values::{Account, AccountId, Right, User, UserId},
};

/// Who is acting: a signed-in user (perhaps as someone else) or the operator.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    /// The effective user; `None` is the operator at the command line.
    pub user: Option<UserId>,
    /// The person really there, when `user` is being impersonated.
    pub impersonator: Option<UserId>,
    /// The client's address, for the audit trail.
    pub ip: Option<String>,
}

impl Actor {
    pub fn operator() -> Self {
        Self::default()
    }

    pub fn user(user: UserId, impersonator: Option<UserId>, ip: Option<String>) -> Self {
        Self { user: Some(user), impersonator, ip }
    }

    /// Someone not signed in (yet), known only by address.
    pub fn anonymous(ip: &str) -> Self {
        Self { user: None, impersonator: None, ip: Some(ip.to_owned()) }
    }

    /// The person really there: the impersonator when impersonating. First-login duties
    /// (the agreement, a forced password change) are theirs.
    pub fn person(&self) -> Result<UserId> {
        self.impersonator.or(self.user).ok_or(Error::Forbidden)
    }

    /// The user acting for themselves: not the operator and not an impersonator. Only
    /// they change their own credentials and second factors.
    pub fn own_user(&self) -> Result<UserId> {
        self.user.filter(|_| self.impersonator.is_none()).ok_or(Error::Forbidden)
    }
}

/// Proof that the actor manages an account.
#[derive(Debug)]
pub struct ManagesAccount {
    account: Account,
    from: Position,
}

/// Where the manager of an account stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    Operator,
    /// A top user of the account itself.
    Within,
    /// A top user of an account above it.
    Above,
}

impl ManagesAccount {
    pub async fn check(tx: &mut Tx, actor: &Actor, account: AccountId) -> Result<Self> {
        let Some(row) = tx.account_by_id(account).await? else {
            return Err(if actor.user.is_none() { Error::NotFound } else { Error::Forbidden });
        };
        match actor.user {
            None => Ok(Self { account: row, from: Position::Operator }),
            Some(user) => {
                let actor_row = tx.user_by_id(user).await?.ok_or(Error::Unauthenticated)?;
                if is_top_user_above(tx, &actor_row, account).await? {
                    let from =
                        if actor_row.account_id == account { Position::Within } else { Position::Above };
                    Ok(Self { account: row, from })
                } else {
                    Err(Error::Forbidden)
                }
            }
        }
    }

    pub fn account(&self) -> &Account {
        &self.account
    }

    /// Only for the account's own top users (and the operator): the company's own
    /// policies, which administrators of accounts above may read but not change.
    pub fn from_within(self) -> Result<Self> {
        if self.from == Position::Above { Err(Error::Forbidden) } else { Ok(self) }
    }

    /// Only for administrators of accounts above (and the operator): the terms an account
    /// is sold on (its blocking date, services and quotas), which its own top users may
    /// read but not change.
    pub fn from_above(self) -> Result<Self> {
        if self.from == Position::Within { Err(Error::Forbidden) } else { Ok(self) }
    }
}

/// Proof that the actor manages a user.
#[derive(Debug)]
pub struct ManagesUser {
    target: User,
}

impl ManagesUser {
    pub async fn check(tx: &mut Tx, actor: &Actor, target: UserId) -> Result<Self> {
        let Some(row) = tx.user_by_id(target).await? else {
            return Err(if actor.user.is_none() { Error::NotFound } else { Error::Forbidden });
        };
        let Some(user) = actor.user else {
            return Ok(Self { target: row });
        };
        if user == target {
            return Err(Error::Forbidden);
        }
        let actor_row = tx.user_by_id(user).await?.ok_or(Error::Unauthenticated)?;
        let allowed = is_top_user_above(tx, &actor_row, row.account_id).await?
            || (!row.top_user
                && (tx.is_creator_ancestor(user, target).await?
                    || tx.has_grant(user, target, Right::Manage).await?));
        if allowed { Ok(Self { target: row }) } else { Err(Error::Forbidden) }
    }

    pub fn target(&self) -> &User {
        &self.target
    }
}

/// Whether `user` is a top user of `account` or of an account above it.
async fn is_top_user_above(tx: &mut Tx, user: &User, account: AccountId) -> Result<bool> {
    Ok(user.top_user && tx.account_lineage(account).await?.contains(&user.account_id))
}
