//! After the person is known: the account's blocking, the language chosen, "Login as",
//! and then a session, or a challenge for the second factor; and the login history.

use super::attempt::{Arrival, Context, Origin, Outcome, Proof, SignedIn};
use crate::{
    audit::{self, Event},
    error::{Error, Result},
    impersonation, lifecycle,
    lockout::{self, Scope},
    mfa::{
        self, Method,
        challenge::{self, Signing},
        devices,
    },
    policy::{self, TwoFactorPolicy},
    rights::Actor,
    sessions::{self},
    store::{NewSession, Tx},
    values::{AppKind, User, contact::Blocked},
};

/// After a right password or passkey: the account's blocking, the language chosen,
/// "Login as", and then a session, or a challenge for the second factor.
pub(super) async fn admit(
    cx: Context<'_>,
    mut tx: Tx,
    user: User,
    attempt: &Arrival,
    proof: Proof,
    now: i64,
) -> Result<Outcome> {
    if lifecycle::is_blocked(&mut tx, user.account_id, now).await? {
        let notice = blocked_notice(&mut tx, &user).await?;
        record(&mut tx, &user, attempt.origin(proof), "sign_in.failed", "account_blocked", now).await?;
        tx.commit().await?;
        return Err(notice);
    }
    if let Some(language) = attempt.language.filter(|l| *l != user.language) {
        // Only the language: the row was read before the password check, long ago.
        tx.update_user(&user, &User { language, ..user.clone() }).await?;
    }
    let acting_as = match attempt.login_as.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => {
            let target = tx.user_by_username(name).await?.ok_or(Error::Forbidden)?;
            Some(impersonation::allowed_target(&mut tx, user.id, target.id, now).await?)
        }
        None => None,
    };
    let origin = Origin { acting_as: acting_as.as_ref(), ..attempt.origin(proof) };
    if proof == Proof::Passkey {
        return start(cx, tx, &user, origin, (None, false), now).await.map(Outcome::SignedIn);
    }
    let policy = policy::of_account(&mut tx, user.account_id).await?;
    // Where the company asks for a passkey, one who has a passkey answers with it,
    // whatever their own setting, and no trusted device stands in for it.
    let asked = passkey_asked(&mut tx, &policy, &user, attempt.app).await?;
    let (passkey_asked, passkey_due) = (asked == Some(true), asked == Some(false));
    let own = mfa::settings(&mut tx, user.id).await?.get(attempt.app);
    let Some(method) = (if passkey_asked { Some(Method::Passkey) } else { own }) else {
        return start(cx, tx, &user, origin, (None, passkey_due), now).await.map(Outcome::SignedIn);
    };
    if let Some(device) = &attempt.device
        && !passkey_asked
        && policy.allow_trusted_devices
        && devices::is_trusted(&mut tx, user.id, device, now).await?
    {
        let passed = Some("trusted_device");
        return start(cx, tx, &user, origin, (passed, passkey_due), now).await.map(Outcome::SignedIn);
    }
    if let Err(locked) =
        lockout::ensure_unlocked(&mut tx, Scope::Code, &[&challenge::subject(user.id)], now).await
    {
        tx.commit().await?;
        return Err(locked);
    }
    let signing = Signing {
        user: &user,
        method,
        app: attempt.app,
        remember: attempt.remember_me,
        acting_as: acting_as.as_ref().map(|u| u.id),
        ip: &attempt.ip,
        user_agent: &attempt.user_agent,
    };
    challenge::open(cx.store, cx.outbox, cx.relying_party, tx, signing, now).await.map(Outcome::SecondFactor)
}

/// Whether the company asks this person, signing in to `app`, for a passkey (`None`: it
/// does not) and, if it does, whether they have one.
pub(super) async fn passkey_asked(
    tx: &mut Tx,
    policy: &TwoFactorPolicy,
    user: &User,
    app: AppKind,
) -> Result<Option<bool>> {
    if !policy.require_passkey.covers(app, user.top_user) {
        return Ok(None);
    }
    Ok(Some(tx.has_passkey(user.id).await?))
}

/// Starts the session of a finished sign-in and records it: the second factor passed, if
/// any, and whether the session must add a passkey before anything else (the company asks
/// for one and the person has none).
pub(super) async fn start(
    cx: Context<'_>,
    mut tx: Tx,
    user: &User,
    origin: Origin<'_>,
    (second_factor, passkey_due): (Option<&str>, bool),
    now: i64,
) -> Result<SignedIn> {
    let new = NewSession {
        user_id: user.id,
        acting_as_id: origin.acting_as.map(|u| u.id),
        app: origin.app,
        ip: origin.ip.to_owned(),
        user_agent: origin.user_agent.to_owned(),
        remember: origin.remember_me,
        signed_in: None,
        amr: amr(origin.proof, second_factor).to_owned(),
        passkey_due,
        opened_from: None,
    };
    let (token, _) = sessions::start(&mut tx, cx.lifetimes, &new, now).await?;
    record(&mut tx, user, origin, "sign_in", "ok", now).await?;
    if let Some(target) = origin.acting_as.filter(|t| t.account_id != user.account_id) {
        // The company acted in sees it too.
        let actor = Actor::user(target.id, Some(user.id), Some(origin.ip.to_owned()));
        let details = serde_json::json!({ "app": origin.app, "via": "login_as" });
        let event = Event::new(target.account_id, &actor, "impersonation.started").subject(target.id);
        audit::record(&mut tx, event.details(details), now).await?;
    }
    if let Some(by) = second_factor {
        let actor = Actor::user(user.id, None, Some(origin.ip.to_owned()));
        let details = serde_json::json!({ "app": origin.app, "by": by });
        let event =
            Event::new(user.account_id, &actor, "second_factor.passed").subject(user.id).details(details);
        audit::record(&mut tx, event, now).await?;
    }
    tx.commit().await?;
    let session = sessions::check(cx.store, cx.lifetimes, token.expose(), now).await?;
    Ok(SignedIn { token, session, device_token: None, backup_codes_left: None })
}

/// The factors of a sign-in, as RFC 8176 names them (`otp` for a code from an email, an
/// authenticator app or the backup list; `hwk` and `user` for a passkey, a key held by a
/// device that checked its user).
pub(super) fn amr(proof: Proof, second_factor: Option<&str>) -> &'static str {
    match (proof, second_factor) {
        (Proof::Passkey, _) => "hwk user mfa",
        (Proof::Password, None) => "pwd",
        (Proof::Password, Some("sms")) => "pwd sms mfa",
        (Proof::Password, Some("passkey")) => "pwd hwk mfa",
        (Proof::Password, Some(_)) => "pwd otp mfa",
    }
}

/// Writes a sign-in attempt into the login history of the person who typed the password.
pub(super) async fn record(
    tx: &mut Tx,
    user: &User,
    origin: Origin<'_>,
    action: &'static str,
    result: &str,
    now: i64,
) -> Result<()> {
    // Who typed is known only when the password was right.
    let actor = Actor {
        user: (action == "sign_in").then_some(user.id),
        impersonator: None,
        ip: Some(origin.ip.to_owned()),
    };
    let mut details = serde_json::json!({
        "result": result,
        "app": origin.app,
        "user_agent": origin.user_agent,
        "remember_me": origin.remember_me,
    });
    if let Some(target) = origin.acting_as {
        details["login_as"] = serde_json::json!({ "id": target.id, "username": target.username });
    }
    if origin.proof == Proof::Passkey {
        details["passkey"] = serde_json::json!(true);
    }
    let event = Event::new(user.account_id, &actor, action).subject(user.id).details(details);
    audit::record(tx, event, now).await
}

/// The refusal of a sign-in to a blocked account, for someone whose password was right:
/// since when, and the company's contact person.
pub(super) async fn blocked_notice(tx: &mut Tx, user: &User) -> Result<Error> {
    let since = tx.account_by_id(user.account_id).await?.and_then(|a| a.blocked_from).unwrap_or_default();
    let contact = policy::of_account(tx, user.account_id).await?.contact;
    Ok(Error::AccountBlocked { notice: Some(Box::new(Blocked { since, contact })) })
}
