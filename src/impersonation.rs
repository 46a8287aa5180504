//! Acting as another user ("Login as"): support staff and administrators work as a
//! subordinate to see exactly what that user sees.
//!
//! A may act as B only while A holds the `act_as` grant on B, and never as someone with
//! more rights over A (who manages A). There are no chains: a session already acting as
//! someone cannot start another impersonation. Each switch, and each switch back, starts
//! a new session with a new token and ends the old one. While acting, the session has the
//! effective user's rights, and every audit event names both people. Signing in with
//! "Login as" goes into the login history of the person who typed the password; switching
//! after sign-in does not, but is an audit event in both accounts.

use serde::{Deserialize, Serialize};

use crate::{
    audit::{self, Event},
    error::{Error, Result},
    lifecycle,
    rights::{Actor, ManagesUser},
    sessions::{self, AccountRef, Current, Lifetimes, UserRef},
    store::{NewSession, Store, Tx},
    tokens::Token,
    values::{AccountId, Right, User, UserId},
};

/// Someone the user may act as.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Target {
    pub user: UserRef,
    pub account: AccountRef,
    /// The user created the account (its first top user).
    pub account_creator: bool,
}

/// What the list of targets is searched by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Usernames and account names.
    #[default]
    All,
    Users,
    Accounts,
}

/// The users the person signed in to `current` may act as, whose username (or account
/// name) contains `q`, ignoring case.
pub async fn targets(store: &Store, current: &Current, q: &str, kind: Kind) -> Result<Vec<Target>> {
    let holder = current.signed_in_user();
    let q = q.trim().to_lowercase();
    let mut tx = store.read().await?;
    let mut found = Vec::new();
    for row in tx.act_as_targets(holder).await? {
        let name_matches = row.username.to_lowercase().contains(&q);
        let account_matches = row.account_name.to_lowercase().contains(&q);
        let wanted = match kind {
            Kind::All => name_matches || account_matches,
            Kind::Users => name_matches,
            Kind::Accounts => account_matches,
        };
        if wanted && !manages(&mut tx, row.id, holder).await? {
            found.push(Target {
                user: UserRef { id: row.id, username: row.username },
                account: AccountRef { id: row.account_id, name: row.account_name },
                account_creator: row.account_creator,
            });
        }
    }
    Ok(found)
}

/// Whether `user` manages `other` (and so has more rights over them).
async fn manages(tx: &mut Tx, user: UserId, other: UserId) -> Result<bool> {
    match ManagesUser::check(tx, &Actor::user(user, None, None), other).await {
        Ok(_) => Ok(true),
        Err(Error::Forbidden) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The user `holder` may act as, checked: the grant held, not themselves, not someone
/// who manages them, and not in a blocked account.
pub(crate) async fn allowed_target(tx: &mut Tx, holder: UserId, target: UserId, now: i64) -> Result<User> {
    if holder == target
        || !tx.has_grant(holder, target, Right::ActAs).await?
        || manages(tx, target, holder).await?
    {
        return Err(Error::Forbidden);
    }
    let target = tx.user_by_id(target).await?.ok_or(Error::Forbidden)?;
    if lifecycle::is_blocked(tx, target.account_id, now).await? {
        return Err(Error::TargetBlocked);
    }
    Ok(target)
}

/// A session just started by a switch: its token (shown once) and what it is.
#[derive(Debug)]
pub struct Switched {
    pub token: Token,
    pub session: Current,
}

/// Switches the session to act as `target`: a new session, the old one ended or, for a
/// browser tab of its own, kept.
pub async fn start(
    store: &Store,
    lifetimes: &Lifetimes,
    current: &Current,
    target: UserId,
    (ip, user_agent): (&str, &str),
    now: i64,
    switching: Switching,
) -> Result<Switched> {
    if current.impersonator.is_some() {
        return Err(Error::invalid("user_id", "switch back first: impersonations do not chain"));
    }
    let holder = current.user.id;
    let mut tx = store.write().await?;
    let target = allowed_target(&mut tx, holder, target, now).await?;
    let actor = Actor::user(target.id, Some(holder), Some(ip.to_owned()));
    let details = serde_json::json!({ "app": current.app });
    record_both(&mut tx, current.account.id, &target, &actor, "impersonation.started", details, now).await?;
    switch(store, lifetimes, tx, current, Some(target.id), (ip, user_agent), now, switching).await
}

/// Switches back to the person signed in: a new session of their own, the acting one
/// ended.
pub async fn stop(
    store: &Store,
    lifetimes: &Lifetimes,
    current: &Current,
    (ip, user_agent): (&str, &str),
    now: i64,
) -> Result<Switched> {
    let Some(real) = &current.impersonator else {
        return Err(Error::invalid("session", "this session is not acting as anyone"));
    };
    let mut tx = store.write().await?;
    let target = tx.user_by_id(current.user.id).await?.ok_or(Error::Unauthenticated)?;
    let own_account = tx.user_by_id(real.id).await?.ok_or(Error::Unauthenticated)?.account_id;
    let actor = Actor::user(target.id, Some(real.id), Some(ip.to_owned()));
    let details = serde_json::json!({ "app": current.app });
    record_both(&mut tx, own_account, &target, &actor, "impersonation.ended", details, now).await?;
    switch(store, lifetimes, tx, current, None, (ip, user_agent), now, Switching::InPlace).await
}

/// What becomes of the session a switch starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switching {
    /// The new session replaces it: it ends.
    InPlace,
    /// The new session runs beside it (a browser tab of its own): it stays.
    Alongside,
}

#[allow(clippy::too_many_arguments, reason = "each is one fact of the switch")]
async fn switch(
    store: &Store,
    lifetimes: &Lifetimes,
    mut tx: Tx,
    current: &Current,
    acting_as: Option<UserId>,
    (ip, user_agent): (&str, &str),
    now: i64,
    switching: Switching,
) -> Result<Switched> {
    // The person proved who they are when they signed in, not when they switched. A
    // sign-out at the same moment comes before (and this finds the session ended) or
    // after (and ends what this starts).
    let facts = tx.open_session_facts_for_update(current.id).await?.ok_or(Error::Unauthenticated)?;
    let new = NewSession {
        user_id: current.signed_in_user(),
        acting_as_id: acting_as,
        app: current.app,
        ip: ip.to_owned(),
        user_agent: user_agent.to_owned(),
        // A tab of its own is a short errand: it lasts while used, never for 30 days.
        remember: current.remember_me && switching == Switching::InPlace,
        signed_in: Some(facts.auth_time),
        amr: facts.amr,
        passkey_due: false,
        // Every tab of a family names the first: ending it ends them all.
        opened_from: match switching {
            Switching::InPlace => facts.opened_from,
            Switching::Alongside => Some(facts.opened_from.unwrap_or(current.id)),
        },
    };
    let (token, id) = sessions::start(&mut tx, lifetimes, &new, now).await?;
    if switching == Switching::InPlace {
        tx.end_session_of_user(current.signed_in_user(), current.id, now).await?;
        tx.move_tabs_opened_from(current.id, id).await?;
    }
    tx.commit().await?;
    let session = sessions::check(store, lifetimes, token.expose(), now).await?;
    Ok(Switched { token, session })
}

/// Records a switch in the impersonator's account and, when it differs, in the account
/// of the user acted as.
async fn record_both(
    tx: &mut Tx,
    own_account: AccountId,
    target: &User,
    actor: &Actor,
    action: &'static str,
    details: serde_json::Value,
    now: i64,
) -> Result<()> {
    let event = Event::new(own_account, actor, action).subject(target.id).details(details.clone());
    audit::record(tx, event, now).await?;
    if target.account_id != own_account {
        let event = Event::new(target.account_id, actor, action).subject(target.id).details(details);
        audit::record(tx, event, now).await?;
    }
    Ok(())
}
