//! Signing in with a username and password.
//!
//! The order matters for what an attacker can learn: a locked username or address is
//! refused before the password is checked, so a lock-out never tells whether a guess was
//! right; an unknown username costs the same hash as a known one and gets the same
//! answer; only a right password learns that the account is blocked. Each attempt is
//! counted against the lock before its hash is checked and given back when right, so a
//! burst of parallel guesses never gets more tries than the limit.
//!
//! A user with a second factor on for the app gets a challenge instead of a session
//! (see `mfa::challenge`); the session starts when the code is right.
//!
//! A passkey signs in without a password ([`with_passkey`]): the same lock-outs, then the
//! same admission (blocking, language, "Login as"), and no second factor, since a
//! passkey that verified its user is two factors in one.

use crate::{
    audit::{self, Event},
    delivery::Delivery,
    error::{Error, Result},
    impersonation, lifecycle,
    lockout::{self, PASSWORD_PER_ADDRESS, PASSWORD_PER_USER, Scope},
    mfa::{
        self,
        challenge::{self, Opened, Signing},
        devices,
    },
    passkeys::{self, RelyingParty, sign_in::Refusal},
    passwords::{Hasher, Password},
    policy,
    rights::Actor,
    sessions::{self, Current, Lifetimes},
    store::{NewSession, Store, Tx},
    tokens::Token,
    values::{AppKind, Language, MAX_USERNAME_CHARS, User, contact::Blocked},
};

/// What signing in uses of the server: the store, the password hasher, the outbox that
/// sends codes, and how long sessions last.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub store: &'a Store,
    pub hasher: &'a Hasher,
    pub outbox: &'a Delivery,
    pub lifetimes: &'a Lifetimes,
}

/// A sign-in attempt as the client made it.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub username: String,
    pub password: Password,
    pub arrival: Arrival,
}

/// A sign-in with a passkey, answering the options `passkeys::sign_in::begin` gave.
#[derive(Debug, Clone)]
pub struct PasskeyAttempt {
    /// The handle the options came with.
    pub handle: String,
    pub answer: passkeys::PublicKeyCredential,
    pub arrival: Arrival,
}

/// What a sign-in asks for besides proving who signs in, and where it comes from.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub remember_me: bool,
    pub app: AppKind,
    pub ip: String,
    pub user_agent: String,
    /// The language chosen on the sign-in page, remembered in the user's settings.
    pub language: Option<Language>,
    /// The token of a device the user may have chosen to trust: no code is asked there.
    pub device: Option<String>,
    /// "Login as": the username of the user to act as.
    pub login_as: Option<String>,
}

/// How the person proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proof {
    Password,
    Passkey,
}

/// Where a sign-in comes from, as the login history shows it.
#[derive(Debug, Clone, Copy)]
struct Origin<'a> {
    proof: Proof,
    app: AppKind,
    ip: &'a str,
    user_agent: &'a str,
    remember_me: bool,
    /// "Login as": the user the session acts as.
    acting_as: Option<&'a User>,
}

impl Arrival {
    fn origin(&self, proof: Proof) -> Origin<'_> {
        let (app, ip, user_agent, remember_me) = (self.app, &self.ip, &self.user_agent, self.remember_me);
        Origin { proof, app, ip, user_agent, remember_me, acting_as: None }
    }
}

/// A successful sign-in: the new token (shown once) and the session it opens.
#[derive(Debug)]
pub struct SignedIn {
    pub token: Token,
    pub session: Current,
    /// The token of the device just trusted, shown once.
    pub device_token: Option<Token>,
    /// Set when a backup code was used: how many remain.
    pub backup_codes_left: Option<i64>,
}

/// What a right password leads to.
#[derive(Debug)]
pub enum Outcome {
    SignedIn(SignedIn),
    /// The second factor is still to come.
    SecondFactor(Opened),
}

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
    let by_address = format!("ip:{}", arrival.ip);
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
    let by_address = format!("ip:{}", attempt.arrival.ip);
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

/// After a right password or passkey: the account's blocking, the language chosen,
/// "Login as", and then a session, or a challenge for the second factor.
async fn admit(
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
        return start(cx, tx, &user, origin, None, now).await.map(Outcome::SignedIn);
    }
    let Some(method) = mfa::settings(&mut tx, user.id).await?.get(attempt.app) else {
        return start(cx, tx, &user, origin, None, now).await.map(Outcome::SignedIn);
    };
    if let Some(device) = &attempt.device
        && policy::of_account(&mut tx, user.account_id).await?.allow_trusted_devices
        && devices::is_trusted(&mut tx, user.id, device, now).await?
    {
        let passed = Some("trusted_device");
        return start(cx, tx, &user, origin, passed, now).await.map(Outcome::SignedIn);
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
    challenge::open(cx.store, cx.outbox, tx, signing, now).await.map(Outcome::SecondFactor)
}

/// Finishes a sign-in with the code of its challenge, trusting the device from now on
/// when the user asks and the company allows.
pub async fn verify(
    cx: Context<'_>,
    handle: &str,
    code: &str,
    trust_device: bool,
    now: i64,
) -> Result<SignedIn> {
    let result = check_code(cx, handle, code, trust_device, now).await;
    crate::metrics::sign_in(match &result {
        Ok(_) => "ok",
        Err(Error::InvalidCode { .. }) => "invalid_code",
        Err(Error::Locked { .. }) => "locked",
        Err(Error::CodeExpired) => "code_expired",
        Err(_) => "error",
    });
    result
}

async fn check_code(
    cx: Context<'_>,
    handle: &str,
    code: &str,
    trust_device: bool,
    now: i64,
) -> Result<SignedIn> {
    let accepted = challenge::accept(cx.store, handle, code, now).await?;
    let (mut tx, challenge, user) = (accepted.tx, accepted.challenge, accepted.user);
    // The grant may have been taken away while the code was on its way.
    let acting_as = match challenge.acting_as_id {
        Some(target) => Some(impersonation::allowed_target(&mut tx, user.id, target, now).await?),
        None => None,
    };
    let origin = Origin {
        proof: Proof::Password,
        app: AppKind::parse(&challenge.app),
        ip: &challenge.ip,
        user_agent: &challenge.user_agent,
        remember_me: challenge.remember,
        acting_as: acting_as.as_ref(),
    };
    if lifecycle::is_blocked(&mut tx, user.account_id, now).await? {
        let notice = blocked_notice(&mut tx, &user).await?;
        record(&mut tx, &user, origin, "sign_in.failed", "account_blocked", now).await?;
        tx.commit().await?;
        return Err(notice);
    }
    let device_token =
        if trust_device && policy::of_account(&mut tx, user.account_id).await?.allow_trusted_devices {
            let token = devices::trust(&mut tx, user.id, origin.user_agent, origin.ip, now).await?;
            let actor = Actor::user(user.id, None, Some(origin.ip.to_owned()));
            let details =
                serde_json::json!({ "user_agent": origin.user_agent, "days": devices::LIFETIME / 86_400 });
            let event =
                Event::new(user.account_id, &actor, "trusted_device.added").subject(user.id).details(details);
            audit::record(&mut tx, event, now).await?;
            Some(token)
        } else {
            None
        };
    let passed =
        if accepted.backup_codes_left.is_some() { "backup_code" } else { challenge.channel.as_str() };
    let signed_in = start(cx, tx, &user, origin, Some(passed), now).await?;
    Ok(SignedIn { device_token, backup_codes_left: accepted.backup_codes_left, ..signed_in })
}

/// Starts the session of a finished sign-in and records it.
async fn start(
    cx: Context<'_>,
    mut tx: Tx,
    user: &User,
    origin: Origin<'_>,
    second_factor: Option<&str>,
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
fn amr(proof: Proof, second_factor: Option<&str>) -> &'static str {
    match (proof, second_factor) {
        (Proof::Passkey, _) => "hwk user mfa",
        (Proof::Password, None) => "pwd",
        (Proof::Password, Some("sms")) => "pwd sms mfa",
        (Proof::Password, Some(_)) => "pwd otp mfa",
    }
}

/// Writes a sign-in attempt into the login history of the person who typed the password.
async fn record(
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
async fn blocked_notice(tx: &mut Tx, user: &User) -> Result<Error> {
    let since = tx.account_by_id(user.account_id).await?.and_then(|a| a.blocked_from).unwrap_or_default();
    let contact = policy::of_account(tx, user.account_id).await?.contact;
    Ok(Error::AccountBlocked { notice: Some(Box::new(Blocked { since, contact })) })
}
