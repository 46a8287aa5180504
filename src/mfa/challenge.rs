//! A sign-in waiting for its second factor.
//!
//! After a right password, a user with 2FA on for the app gets a challenge: a random
//! handle for the client (only its hash is kept) and a six-digit code sent by SMS or
//! email. A code is valid for 5 minutes; a new one may be asked for 30 seconds after the
//! last and voids it; the challenge itself gives up after 30 minutes.
//!
//! Codes for SMS users go by SMS, and by email whenever the SMS cannot be sent: the
//! company sends codes by email only, the user may not receive SMS, the phone is not
//! confirmed, no gateway is configured, the account's `sms` service is off or its quota
//! is used up, or the gateway refuses or times out. The SMS is sent in the request, not
//! through the outbox, so its failure can still turn into an email; the quota taken for
//! it is given back. Emails go through the outbox.
//!
//! A user with an authenticator app gets a challenge with nothing sent; its codes, or a
//! backup code (for any method), answer it. A user with a passkey gets the options that
//! let the browser ask for one; a code by email (or SMS) may be asked for at once
//! instead, for a passkey out of reach.
//!
//! Wrong codes count per user, apart from wrong passwords: from the 3rd the answer names
//! the company's contact person and the 3rd is audited; the 5th blocks the code step for
//! that user for 15 minutes.

pub use super::dispatch::{Fallback, Sent};
use super::{
    backup,
    codes::OneTimeCode,
    dispatch::{deliver, no_destination, route},
    method::Method,
    totp,
};
use crate::{
    audit::{self, Event},
    delivery::Delivery,
    error::{Error, Result},
    lockout::{self, Rule, Scope},
    passkeys::{self, PublicKeyCredential, RelyingParty, RequestOptions},
    policy::{self, CodeDelivery, TwoFactorPolicy},
    rights::Actor,
    store::{ChallengeCode, ChallengeRow, NewChallenge, Store, Tx},
    tokens::{Token, TokenHash},
    values::{AppKind, Contact, User},
    verification::{Channel, RESEND_AFTER},
};

/// How long a sign-in may wait for its second factor, in seconds.
pub const LIFETIME: i64 = 30 * 60;

/// Wrong codes before the company's contact person is shown (and the failures audited).
pub const CONTACT_AFTER: i64 = 3;

/// Wrong codes of one user: the 5th in 15 minutes blocks the code step for 15 minutes.
pub const CODES_PER_USER: Rule = Rule { max_failures: 5, window: 15 * 60, lock: 15 * 60, max_lock: 15 * 60 };

/// A challenge just opened: the handle is shown to the client once.
#[derive(Debug)]
pub struct Opened {
    pub handle: Token,
    pub method: Method,
    /// `None` for an authenticator app: nothing is sent.
    pub sent: Option<Sent>,
    /// The channels the client may ask a new code by.
    pub channels: Vec<Channel>,
    /// For a passkey: the options for the browser's `navigator.credentials.get()`.
    pub passkey: Option<RequestOptions>,
}

/// What answers a challenge.
#[derive(Debug, Clone, Copy)]
pub enum Answer<'a> {
    /// Typed: a code sent or shown by the authenticator app, or a backup code.
    Code(&'a str),
    /// A passkey's answer to the challenge's options.
    Passkey(&'a PublicKeyCredential, &'a RelyingParty),
}

/// Who is signing in, and from where.
#[derive(Debug, Clone, Copy)]
pub struct Signing<'a> {
    pub user: &'a User,
    pub method: Method,
    pub app: AppKind,
    pub remember: bool,
    /// "Login as": the user the session will act as.
    pub acting_as: Option<crate::values::UserId>,
    pub ip: &'a str,
    pub user_agent: &'a str,
}

/// A challenge as the code page shows it.
#[derive(Debug, Clone)]
pub struct Waiting {
    pub method: Method,
    pub sent: Option<Sent>,
    pub channels: Vec<Channel>,
    /// The company's contact person, once the user has typed 3 wrong codes.
    pub contact: Option<Contact>,
    /// Whether the company lets the user trust this device.
    pub may_trust_device: bool,
}

/// A right code: the challenge is gone and the session may start in `tx`.
pub struct Accepted {
    pub tx: Tx,
    pub challenge: ChallengeRow,
    pub user: User,
    /// Set when a backup code was used: how many remain.
    pub backup_codes_left: Option<i64>,
    /// A passkey answered.
    pub by_passkey: bool,
}

/// The channels a user may get codes by under the company's policy: none for an
/// authenticator app, whose codes are never sent.
pub fn channels(method: Method, delivery: CodeDelivery) -> Vec<Channel> {
    match (method, delivery) {
        (Method::Totp, _) => vec![],
        (Method::Sms | Method::Passkey, CodeDelivery::SmsThenEmail) => vec![Channel::Sms, Channel::Email],
        _ => vec![Channel::Email],
    }
}

/// The lock-out subject of a user's code failures.
pub fn subject(user: crate::values::UserId) -> String {
    format!("user:{user}")
}

/// Opens a challenge for a user whose password was right, inside the sign-in's
/// transaction (committed here). A sign-in within 30 seconds of the last code sent to
/// the user takes that code over instead of sending another, so repeated sign-ins cannot
/// flood a phone or use up the SMS quota.
pub async fn open(
    store: &Store,
    outbox: &Delivery,
    rp: Option<&RelyingParty>,
    mut tx: Tx,
    s: Signing<'_>,
    now: i64,
) -> Result<Opened> {
    let policy = policy::of_account(&mut tx, s.user.account_id).await?;
    let channels = channels(s.method, policy.delivery);
    let handle = Token::generate();
    let hash = handle.hash();
    let new = NewChallenge {
        handle_hash: &hash.0,
        user_id: s.user.id,
        app: s.app.as_str(),
        remember: s.remember,
        acting_as_id: s.acting_as,
        ip: s.ip,
        user_agent: s.user_agent,
        method: s.method.as_str(),
        expires_at: now + LIFETIME,
    };
    if s.method == Method::Passkey {
        let rp = rp.ok_or_else(|| Error::Unexpected(anyhow::anyhow!("passkeys are not offered here")))?;
        let nothing_sent = ChallengeCode {
            channel: "passkey",
            destination: String::new(),
            code_hash: &[],
            // Nothing was sent: a code may be asked for at once.
            sent_at: now - RESEND_AFTER,
            code_expires_at: now,
        };
        tx.insert_challenge(&new, &nothing_sent, now).await?;
        let options = passkeys::second_factor::begin(&mut tx, rp, s.user.id, &hash, now + LIFETIME).await?;
        tx.commit().await?;
        return Ok(Opened { handle, method: s.method, sent: None, channels, passkey: Some(options) });
    }
    if let Some(last) = tx.challenge_of_user(s.user.id).await?
        && last.sent_at + RESEND_AFTER > now
        && last.expires_at > now
        && (last.method.as_str(), last.app.as_str()) == (s.method.as_str(), s.app.as_str())
    {
        tx.hand_over_challenge(last.id, &new).await?;
        tx.commit().await?;
        return Ok(Opened { handle, method: s.method, sent: sent_before(&last), channels, passkey: None });
    }
    // Another app's (or method's) code went out moments ago: the 30-second rule is the
    // user's, whatever the app, so alternating apps cannot flood a phone either.
    if let Some(last) = tx.challenge_of_user(s.user.id).await?
        && s.method != Method::Totp
        && sent_before(&last).is_some()
        && last.sent_at + RESEND_AFTER > now
    {
        tx.commit().await?;
        return Err(Error::TooSoon {
            retry_after: time::Duration::seconds(last.sent_at + RESEND_AFTER - now),
        });
    }
    if s.method == Method::Totp {
        let nothing_sent = ChallengeCode {
            channel: "totp",
            destination: String::new(),
            code_hash: &[],
            sent_at: now,
            code_expires_at: now + LIFETIME,
        };
        tx.insert_challenge(&new, &nothing_sent, now).await?;
        tx.commit().await?;
        return Ok(Opened { handle, method: s.method, sent: None, channels, passkey: None });
    }
    let route = match route(&mut tx, outbox, s.user, s.method, policy.delivery, None).await {
        Ok(route) => route,
        Err(e) => {
            let e = match e {
                Error::NoCodeDestination { .. } => no_destination(&mut tx, s.user).await,
                e => e,
            };
            // What the right password cleared stays cleared.
            tx.commit().await?;
            return Err(e);
        }
    };
    let code = OneTimeCode::generate();
    let code_hash = code.hash(store.keys());
    let record = route.record(&code_hash, now);
    let id = tx.insert_challenge(&new, &record, now).await?;
    let sent = deliver(store, outbox, tx, (id, s.user, s.app), route, &code, now).await?;
    Ok(Opened { handle, method: s.method, sent: Some(sent), channels, passkey: None })
}

/// Sends a new code for a challenge, by the channel asked for or the user's own; the
/// old code stops working.
pub async fn resend(
    store: &Store,
    outbox: &Delivery,
    handle: &str,
    requested: Option<Channel>,
    now: i64,
) -> Result<Sent> {
    let mut tx = store.write().await?;
    let (challenge, user) = live(&mut tx, handle, now).await?;
    lockout::ensure_unlocked(&mut tx, Scope::Code, &[&subject(user.id)], now).await?;
    let wait = challenge.sent_at + RESEND_AFTER - now;
    if wait > 0 {
        return Err(Error::TooSoon { retry_after: time::Duration::seconds(wait) });
    }
    let method = Method::parse(&challenge.method).unwrap_or(Method::Email);
    if method == Method::Totp {
        return Err(Error::invalid("channel", "an authenticator app's codes are not sent"));
    }
    let delivery = policy::of_account(&mut tx, user.account_id).await?.delivery;
    if requested.is_some_and(|c| !channels(method, delivery).contains(&c)) {
        return Err(Error::invalid("channel", "codes cannot be sent this way"));
    }
    // A passkey's fallback: by SMS when asked for, else by email.
    let by = match (method, requested) {
        (Method::Passkey, Some(Channel::Sms)) => Method::Sms,
        (Method::Passkey, _) => Method::Email,
        (method, _) => method,
    };
    let route = match route(&mut tx, outbox, &user, by, delivery, requested).await {
        Err(Error::NoCodeDestination { .. }) => return Err(no_destination(&mut tx, &user).await),
        route => route?,
    };
    let code = OneTimeCode::generate();
    let code_hash = code.hash(store.keys());
    tx.set_challenge_code(challenge.id, &route.record(&code_hash, now)).await?;
    deliver(store, outbox, tx, (challenge.id, &user, AppKind::parse(&challenge.app)), route, &code, now).await
}

/// Checks a typed code or a passkey's answer. A right one ends the challenge and hands
/// back the transaction to start the session in; a wrong one is counted (and committed)
/// before the error.
pub async fn accept(store: &Store, handle: &str, answer: Answer<'_>, now: i64) -> Result<Accepted> {
    let mut tx = store.write().await?;
    let (challenge, user) = live(&mut tx, handle, now).await?;
    let by_user = subject(user.id);
    // Holding the counter's row from here on, concurrent guesses take turns and none
    // slips past the lock.
    if let Some(wait) =
        lockout::counter_for_update(&mut tx, Scope::Code, &by_user, now).await?.locked_for(now)
    {
        return Err(Error::Locked { retry_after: time::Duration::seconds(wait) });
    }
    let keys = store.keys();
    let (right, backup_codes_left) = match answer {
        Answer::Passkey(answer, rp) => {
            let key = TokenHash::of(handle);
            (passkeys::second_factor::check(&mut tx, rp, &key, user.id, answer, now).await?, None)
        }
        Answer::Code(typed) if backup::looks_like(typed) => {
            let used = backup::accept(&mut tx, keys, user.id, typed, now).await?;
            (used, Some(backup::left(&mut tx, user.id).await?))
        }
        Answer::Code(typed) if challenge.method == Method::Totp.as_str() => {
            (totp::accept(&mut tx, keys, &user, typed, now).await?, None)
        }
        Answer::Code(typed) => {
            if now >= challenge.code_expires_at {
                return Err(Error::CodeExpired);
            }
            (OneTimeCode::parse(typed).is_some_and(|code| code.matches(keys, &challenge.code_hash)), None)
        }
    };
    let by_passkey = matches!(answer, Answer::Passkey(..));
    if right {
        lockout::clear(&mut tx, Scope::Code, &by_user).await?;
        if !tx.delete_challenge(challenge.id).await? {
            return Err(Error::CodeExpired);
        }
        return Ok(Accepted { tx, challenge, user, backup_codes_left, by_passkey });
    }
    let counter = lockout::record_failure(&mut tx, Scope::Code, &by_user, &CODES_PER_USER, now).await?;
    let actor = Actor::anonymous(&challenge.ip);
    let failed =
        |action, details| Event::new(user.account_id, &actor, action).subject(user.id).details(details);
    let app_kind = challenge.app.as_str();
    let result = if by_passkey { "wrong_passkey" } else { "wrong_code" };
    let details = serde_json::json!({ "result": result, "app": app_kind, "channel": challenge.channel });
    audit::record(&mut tx, failed("sign_in.failed", details), now).await?;
    if let Some(wait) = counter.locked_for(now) {
        let details = serde_json::json!({ "scope": "code", "app": app_kind, "minutes": wait / 60 });
        audit::record(&mut tx, failed("user.locked", details), now).await?;
        tx.delete_challenge(challenge.id).await?;
        tx.commit().await?;
        return Err(Error::Locked { retry_after: time::Duration::seconds(wait) });
    }
    if counter.failures == CONTACT_AFTER {
        let details = serde_json::json!({ "app": app_kind, "failures": CONTACT_AFTER });
        audit::record(&mut tx, failed("second_factor.failed_3_times", details), now).await?;
    }
    let contact = if counter.failures >= CONTACT_AFTER {
        policy::of_account(&mut tx, user.account_id).await?.contact().cloned().map(Box::new)
    } else {
        None
    };
    tx.commit().await?;
    Err(Error::InvalidCode { attempts_left: CODES_PER_USER.max_failures - counter.failures, contact })
}

/// The challenge as the code page shows it.
pub async fn waiting(store: &Store, handle: &str, now: i64) -> Result<Waiting> {
    let mut tx = store.read().await?;
    let (challenge, user) = live(&mut tx, handle, now).await?;
    let method = Method::parse(&challenge.method).unwrap_or(Method::Email);
    let policy: TwoFactorPolicy = policy::of_account(&mut tx, user.account_id).await?;
    let failures = lockout::counter(&mut tx, Scope::Code, &subject(user.id)).await?.failures;
    Ok(Waiting {
        method,
        sent: sent_before(&challenge),
        channels: channels(method, policy.delivery),
        contact: (failures >= CONTACT_AFTER).then(|| policy.contact().cloned()).flatten(),
        may_trust_device: policy.allow_trusted_devices,
    })
}

/// Fresh options for the browser's `navigator.credentials.get()`, for a challenge that
/// asks for a passkey (the code page asks with them each time it is shown); `None` for
/// a challenge that asks for a code, or a user with no passkey left.
pub async fn passkey_options(
    store: &Store,
    rp: Option<&RelyingParty>,
    handle: &str,
    now: i64,
) -> Result<Option<RequestOptions>> {
    let mut tx = store.write().await?;
    let (challenge, user) = live(&mut tx, handle, now).await?;
    let Some(rp) = rp.filter(|_| challenge.method == Method::Passkey.as_str()) else {
        return Ok(None);
    };
    let key = TokenHash::of(handle);
    match passkeys::second_factor::begin(&mut tx, rp, user.id, &key, challenge.expires_at).await {
        Ok(options) => {
            tx.commit().await?;
            Ok(Some(options))
        }
        Err(Error::Invalid { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The challenge behind a handle, unless it has run out.
async fn live(tx: &mut Tx, handle: &str, now: i64) -> Result<(ChallengeRow, User)> {
    let challenge = tx.challenge_by_handle(&TokenHash::of(handle).0).await?;
    let challenge = challenge.filter(|c| c.expires_at > now).ok_or(Error::CodeExpired)?;
    let user = tx.user_by_id(challenge.user_id).await?.ok_or(Error::CodeExpired)?;
    Ok((challenge, user))
}

/// Where the challenge's current code went; `None` when none was sent.
fn sent_before(c: &ChallengeRow) -> Option<Sent> {
    let channel = match c.channel.as_str() {
        "sms" => Channel::Sms,
        "email" => Channel::Email,
        _ => return None,
    };
    Some(Sent {
        channel,
        destination: c.destination.clone(),
        fallback: None,
        expires_at: c.code_expires_at,
        resend_at: c.sent_at + RESEND_AFTER,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sms_users_may_ask_for_email_codes_unless_the_company_sends_only_email() {
        assert_eq!(channels(Method::Sms, CodeDelivery::SmsThenEmail), [Channel::Sms, Channel::Email]);
        assert_eq!(channels(Method::Passkey, CodeDelivery::SmsThenEmail), [Channel::Sms, Channel::Email]);
        assert_eq!(channels(Method::Passkey, CodeDelivery::EmailOnly), [Channel::Email]);
        assert_eq!(channels(Method::Sms, CodeDelivery::EmailOnly), [Channel::Email]);
        assert_eq!(channels(Method::Email, CodeDelivery::SmsThenEmail), [Channel::Email]);
        assert!(channels(Method::Totp, CodeDelivery::SmsThenEmail).is_empty());
    }

    #[test]
    fn the_code_step_locks_at_the_fifth_failure_for_fifteen_minutes_and_no_longer() {
        let mut counter = crate::store::Counter::default();
        for failures in 1..=4 {
            counter = counter.after_failure(&CODES_PER_USER, 1000);
            assert_eq!((counter.failures, counter.locked_for(1000)), (failures, None));
        }
        counter = counter.after_failure(&CODES_PER_USER, 1000);
        assert_eq!(counter.locked_for(1000), Some(15 * 60));
        for _ in 0..5 {
            counter = counter.after_failure(&CODES_PER_USER, 1000 + 15 * 60);
        }
        assert_eq!(counter.locked_for(1000 + 15 * 60), Some(15 * 60));
    }
}
