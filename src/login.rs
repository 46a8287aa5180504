//! Signing in with a username and password.
//!
//! The order matters for what an attacker can learn: a locked username or address is
//! refused before the password is checked, so a lock-out never tells whether a guess was
//! right; an unknown username costs the same hash as a known one and gets the same
//! answer; only a right password learns that the account is blocked.

use crate::{
    audit::{self, Event},
    error::{Error, Result},
    lockout::{self, PASSWORD_PER_ADDRESS, PASSWORD_PER_USER, Scope},
    passwords::{Hasher, Password},
    rights::Actor,
    sessions::{self, AppKind, Current, Lifetimes, NewSession},
    store::{Store, UserRow},
    tokens::Token,
    users::Language,
};

/// A sign-in attempt as the client made it.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub username: String,
    pub password: Password,
    pub remember_me: bool,
    pub app: AppKind,
    pub ip: String,
    pub user_agent: String,
    /// The language chosen on the sign-in page, remembered in the user's settings.
    pub language: Option<Language>,
}

/// A successful sign-in: the new token (shown once) and the session it opens.
#[derive(Debug)]
pub struct SignedIn {
    pub token: Token,
    pub session: Current,
}

pub async fn sign_in(
    store: &Store,
    hasher: &Hasher,
    lifetimes: &Lifetimes,
    attempt: Attempt,
    now: i64,
) -> Result<SignedIn> {
    let result = check_and_start(store, hasher, lifetimes, attempt, now).await;
    crate::metrics::sign_in(match &result {
        Ok(_) => "ok",
        Err(Error::InvalidCredentials) => "invalid_credentials",
        Err(Error::Locked { .. }) => "locked",
        Err(Error::AccountBlocked) => "account_blocked",
        Err(_) => "error",
    });
    result
}

async fn check_and_start(
    store: &Store,
    hasher: &Hasher,
    lifetimes: &Lifetimes,
    attempt: Attempt,
    now: i64,
) -> Result<SignedIn> {
    let by_user = format!("user:{}", attempt.username);
    let by_address = format!("ip:{}", attempt.ip);
    let user = {
        let mut tx = store.read().await?;
        lockout::ensure_unlocked(&mut tx, Scope::Password, &[&by_user, &by_address], now).await?;
        tx.user_by_username(&attempt.username).await?
    };
    let stored = user.as_ref().map(|u| u.password_hash.0.clone());
    let right = hasher.verify(attempt.password.clone(), stored).await?;

    let mut tx = store.write().await?;
    let user = match (user, right) {
        (Some(user), true) => user,
        (user, _) => {
            lockout::record_failure(&mut tx, Scope::Password, &by_user, &PASSWORD_PER_USER, now).await?;
            lockout::record_failure(&mut tx, Scope::Password, &by_address, &PASSWORD_PER_ADDRESS, now)
                .await?;
            if let Some(user) = user {
                record(&mut tx, &user, &attempt, "sign_in.failed", "wrong_password", now).await?;
            }
            tx.commit().await?;
            return Err(Error::InvalidCredentials);
        }
    };
    if tx.effective_blocking_at(user.account_id).await?.is_some_and(|at| at <= now) {
        record(&mut tx, &user, &attempt, "sign_in.failed", "account_blocked", now).await?;
        tx.commit().await?;
        return Err(Error::AccountBlocked);
    }
    lockout::clear(&mut tx, Scope::Password, &by_user).await?;
    if let Some(language) = attempt.language.filter(|l| l.code() != user.language) {
        let mut user = user.clone();
        user.language = language.code().to_owned();
        tx.update_user(&user).await?;
    }
    let new = NewSession {
        user_id: user.id,
        acting_as_id: None,
        app: attempt.app,
        ip: attempt.ip.clone(),
        user_agent: attempt.user_agent.clone(),
        remember: attempt.remember_me,
    };
    let (token, _) = sessions::start(&mut tx, lifetimes, &new, now).await?;
    record(&mut tx, &user, &attempt, "sign_in", "ok", now).await?;
    tx.commit().await?;
    let session = sessions::check(store, lifetimes, token.expose(), now).await?;
    Ok(SignedIn { token, session })
}

/// Writes a sign-in attempt into the login history of the person who typed the password.
async fn record(
    tx: &mut crate::store::Tx,
    user: &UserRow,
    attempt: &Attempt,
    action: &'static str,
    result: &str,
    now: i64,
) -> Result<()> {
    // Who typed is known only when the password was right.
    let actor = Actor {
        user: (action == "sign_in").then_some(user.id),
        impersonator: None,
        ip: Some(attempt.ip.clone()),
    };
    let details = serde_json::json!({
        "result": result,
        "app": attempt.app,
        "user_agent": attempt.user_agent,
        "remember_me": attempt.remember_me,
    });
    let event = Event::new(user.account_id, &actor, action).subject(user.id).details(details);
    audit::record(tx, event, now).await
}
