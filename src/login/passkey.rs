//! Signing in with a passkey instead of a password.

use super::{
    admission::{admit, record},
    attempt::{Arrival, Context, Outcome, PasskeyAttempt, Proof},
};
use crate::{
    audit::{self, Event},
    error::{Error, Result},
    lockout::{self, PASSWORD_PER_ADDRESS, PASSWORD_PER_USER, Scope},
    passkeys::{self, RelyingParty, sign_in::Refusal},
    rights::Actor,
    store::Tx,
    values::User,
};

/// Signs in with a passkey instead of a password.
pub async fn with_passkey(
    cx: Context<'_>,
    rp: &RelyingParty,
    attempt: PasskeyAttempt,
    now: i64,
) -> Result<Outcome> {
    let result = check_passkey(cx, rp, &attempt, now).await;
    crate::metrics::sign_in(match &result {
        Ok(_) => "ok",
        Err(Error::InvalidCredentials) => "invalid_credentials",
        Err(Error::Locked { .. }) => "locked",
        Err(Error::AccountBlocked { .. }) => "account_blocked",
        Err(Error::CodeExpired) => "code_expired",
        Err(_) => "error",
    });
    result
}

/// The passkey's answer, under the locks a password meets: the address's before anything
/// is looked up, the user's once the passkey names them. A wrong answer counts against
/// both, as a wrong password would; the ceremony is spent either way.
async fn check_passkey(
    cx: Context<'_>,
    rp: &RelyingParty,
    attempt: &PasskeyAttempt,
    now: i64,
) -> Result<Outcome> {
    let arrival = &attempt.arrival;
    let by_address = lockout::address_subject(&arrival.ip);
    let mut tx = cx.store.write().await?;
    let begun = passkeys::sign_in::take(&mut tx, &attempt.handle, now).await?;
    if let Err(locked) = lockout::ensure_unlocked(&mut tx, Scope::Password, &[&by_address], now).await {
        tx.commit().await?;
        return Err(locked);
    }
    let found = passkeys::sign_in::identify(&mut tx, rp, &attempt.answer).await?;
    let owner = match &found {
        Some(row) => tx.user_by_id(row.user_id).await?,
        None => None,
    };
    let (Some(row), Some(user)) = (found, owner) else {
        lockout::record_failure(&mut tx, Scope::Password, &by_address, &PASSWORD_PER_ADDRESS, now).await?;
        tx.commit().await?;
        return Err(Error::InvalidCredentials);
    };
    let by_user = lockout::username_subject(user.username.as_str());
    if let Err(locked) = lockout::ensure_unlocked(&mut tx, Scope::Password, &[&by_user], now).await {
        tx.commit().await?;
        return Err(locked);
    }
    if let Err(refusal) = passkeys::sign_in::check(&mut tx, rp, begun, &row, &attempt.answer, now).await? {
        refuse_passkey(&mut tx, &user, arrival, refusal, (&by_user, &by_address), now).await?;
        tx.commit().await?;
        return Err(Error::InvalidCredentials);
    }
    lockout::clear(&mut tx, Scope::Password, &by_user).await?;
    admit(cx, tx, user, arrival, Proof::Passkey, now).await
}

/// Records a refused passkey answer: in the user's login history, against both locks,
/// and as a lock-out when it is the one too many.
async fn refuse_passkey(
    tx: &mut Tx,
    user: &User,
    arrival: &Arrival,
    refusal: Refusal,
    (by_user, by_address): (&str, &str),
    now: i64,
) -> Result<()> {
    let origin = arrival.origin(Proof::Passkey);
    record(tx, user, origin, "sign_in.failed", refusal.as_str(), now).await?;
    lockout::record_failure(tx, Scope::Password, by_address, &PASSWORD_PER_ADDRESS, now).await?;
    let counter = lockout::record_failure(tx, Scope::Password, by_user, &PASSWORD_PER_USER, now).await?;
    if let Some(wait) = counter.locked_for(now) {
        let actor = Actor::anonymous(&arrival.ip);
        let details = serde_json::json!({ "scope": "password", "minutes": wait / 60 });
        let event = Event::new(user.account_id, &actor, "user.locked").subject(user.id);
        audit::record(tx, event.details(details), now).await?;
    }
    Ok(())
}
