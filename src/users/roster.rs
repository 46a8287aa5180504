//! The users of a company as its administrators see them: the second factor each app
//! asks of them, whether they are locked out, their last sign-in, and the rights others
//! hold on them.

use serde_json::Value;

use crate::{
    error::Result,
    lockout::{self, Scope},
    mfa::{self, challenge},
    rights::{Actor, ManagesAccount, ManagesUser},
    store::{Store, Tx},
    values::{AccountId, Right, User, UserId},
};

/// A user of the company, with what an administrator needs to know at a glance.
#[derive(Debug, Clone)]
pub struct Member {
    pub user: User,
    pub two_factor: mfa::Settings,
    pub authenticator: bool,
    /// Locked out by wrong passwords or wrong codes, right now.
    pub locked: bool,
    /// The last sign-in or failed sign-in: when, and its result (`ok`, `wrong_password`...).
    pub last_sign_in: Option<(i64, String)>,
    /// The administrator looking holds `act_as` on this user.
    pub may_act_as: bool,
}

/// Which of a company's users to show: those whose username contains `search` (any
/// case), `limit` of them from `offset`, by username.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub search: String,
    pub offset: usize,
    pub limit: usize,
}

/// The users of `account` the selection asks for, and how many match in all; for those
/// who manage the account. Only the users shown are looked into.
pub async fn members(
    store: &Store,
    actor: &Actor,
    account: AccountId,
    selection: &Selection,
    now: i64,
) -> Result<(Vec<Member>, usize)> {
    let mut tx = store.read().await?;
    ManagesAccount::check(&mut tx, actor, account).await?;
    let search = selection.search.trim().to_lowercase();
    let matching: Vec<User> = tx
        .users_of_account(account)
        .await?
        .into_iter()
        .filter(|u| u.username.to_string().to_lowercase().contains(&search))
        .collect();
    let total = matching.len();
    let mut found = Vec::new();
    for user in matching.into_iter().skip(selection.offset).take(selection.limit) {
        found.push(member_of(&mut tx, actor, user, now).await?);
    }
    Ok((found, total))
}

/// One user, for those who manage them.
pub async fn member(store: &Store, actor: &Actor, target: UserId, now: i64) -> Result<Member> {
    let mut tx = store.read().await?;
    let user = ManagesUser::check(&mut tx, actor, target).await?.target().clone();
    member_of(&mut tx, actor, user, now).await
}

async fn member_of(tx: &mut Tx, actor: &Actor, user: User, now: i64) -> Result<Member> {
    let by_password =
        lockout::counter(tx, Scope::Password, &lockout::username_subject(&user.username)).await?;
    let by_code = lockout::counter(tx, Scope::Code, &challenge::subject(user.id)).await?;
    let last = tx.sign_ins_of(user.id, None, 1).await?.into_iter().next().map(|row| {
        let details: Value = serde_json::from_str(&row.details).unwrap_or_default();
        (row.at, details["result"].as_str().unwrap_or_default().to_owned())
    });
    let may_act_as = match actor.user {
        Some(me) if me != user.id => tx.has_grant(me, user.id, Right::ActAs).await?,
        _ => false,
    };
    Ok(Member {
        two_factor: mfa::settings(tx, user.id).await?,
        authenticator: mfa::method::means(tx, user.id).await?.authenticator,
        locked: by_password.locked_for(now).is_some() || by_code.locked_for(now).is_some(),
        last_sign_in: last,
        may_act_as,
        user,
    })
}

/// Someone of the company and the rights they hold on a user.
#[derive(Debug, Clone)]
pub struct Holder {
    pub id: UserId,
    pub username: String,
    pub act_as: bool,
    pub manage: bool,
}

/// The rights each other user of the target's company holds on the target; for those
/// who manage the target.
pub async fn holders(store: &Store, actor: &Actor, target: UserId) -> Result<Vec<Holder>> {
    let mut tx = store.read().await?;
    let target = ManagesUser::check(&mut tx, actor, target).await?.target().clone();
    let mut found = Vec::new();
    for user in tx.users_of_account(target.account_id).await? {
        if user.id == target.id {
            continue;
        }
        let held = tx.grants_between(user.id, target.id).await?;
        let holds = |right: Right| held.iter().any(|r| r == right.as_str());
        found.push(Holder {
            id: user.id,
            username: user.username.to_string(),
            act_as: holds(Right::ActAs),
            manage: holds(Right::Manage),
        });
    }
    Ok(found)
}
