//! Signing in with a username and password: the locks, then the hash.

use super::{
    admission::{admit, record},
    attempt::{Attempt, Context, Outcome, Proof},
};
use crate::{
    audit::{self, Event},
    error::{Error, Result},
    lockout::{self, PASSWORD_PER_ADDRESS, PASSWORD_PER_USER, Scope},
    rights::Actor,
    store::Tx,
    values::{MAX_USERNAME_CHARS, User},
};

pub async fn sign_in(cx: Context<'_>, attempt: Attempt, now: i64) -> Result<Outcome> {
    let result = check_and_start(cx, attempt, now).await;
    crate::metrics::sign_in(match &result {
        Ok(Outcome::SignedIn(_)) => "ok",
        Ok(Outcome::SecondFactor(_)) => "second_factor",
        Err(Error::InvalidCredentials) => "invalid_credentials",
        Err(Error::Locked { .. }) => "locked",
        Err(Error::AccountBlocked { .. }) => "account_blocked",
        Err(Error::Overloaded) => "overloaded",
        Err(_) => "error",
    });
    result
}

async fn check_and_start(cx: Context<'_>, attempt: Attempt, now: i64) -> Result<Outcome> {
    let (tx, user) = check_password(cx, &attempt, now).await?;
    admit(cx, tx, user, &attempt.arrival, Proof::Password, now).await
}

/// The password, counted against both locks before its hash is checked: a wrong one is
/// recorded and refused; a right one hands back the write transaction that cleared the
/// counters.
async fn check_password(cx: Context<'_>, attempt: &Attempt, now: i64) -> Result<(Tx, User)> {
    // No user has a longer name: refuse before a counter row is written for it.
    for (field, name) in
        [("username", Some(&attempt.username)), ("login_as", attempt.arrival.login_as.as_ref())]
    {
        if name.is_some_and(|n| n.chars().count() > MAX_USERNAME_CHARS) {
            return Err(Error::invalid(field, format!("use at most {MAX_USERNAME_CHARS} characters")));
        }
    }
    // A place for the hash first: a sign-in the server has no room for is refused before
    // it writes anything.
    let slot = cx.hasher.slot()?;
    let store = cx.store;
    let by_user = lockout::username_subject(&attempt.username);
    let by_address = lockout::address_subject(&attempt.arrival.ip);
    let (user, counted) = {
        let mut tx = store.write().await?;
        let limits = [(by_user.as_str(), &PASSWORD_PER_USER), (by_address.as_str(), &PASSWORD_PER_ADDRESS)];
        let counted = lockout::reserve(&mut tx, Scope::Password, &limits, now).await?;
        let user = tx.user_by_username(&attempt.username).await?;
        tx.commit().await?;
        (user, counted[0])
    };
    let stored = user.as_ref().map(|u| u.password_hash.0.clone());
    let right = cx.hasher.verify_in(slot, attempt.password.clone(), stored).await?;

    let mut tx = store.write().await?;
    let user = match (user, right) {
        (Some(user), true) => user,
        (user, _) => {
            if let Some(user) = user {
                let origin = attempt.arrival.origin(Proof::Password);
                record(&mut tx, &user, origin, "sign_in.failed", "wrong_password", now).await?;
                if let Some(wait) = counted.locked_for(now) {
                    let actor = Actor::anonymous(&attempt.arrival.ip);
                    let details = serde_json::json!({ "scope": "password", "minutes": wait / 60 });
                    let event = Event::new(user.account_id, &actor, "user.locked").subject(user.id);
                    audit::record(&mut tx, event.details(details), now).await?;
                }
            }
            tx.commit().await?;
            return Err(Error::InvalidCredentials);
        }
    };
    lockout::clear(&mut tx, Scope::Password, &by_user).await?;
    lockout::release(&mut tx, Scope::Password, &by_address, &PASSWORD_PER_ADDRESS, now).await?;
    Ok((tx, user))
}
