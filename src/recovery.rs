//! Password recovery: "Forgot your password?".
//!
//! A person gives a username and an email address. Whether or not they belong together,
//! the answer is the same; when they do, the user gets a link with a 256-bit token
//! (stored hashed, single-use, valid 24 hours by default; a newer request voids older
//! links). Requests for one username are allowed once a minute, counted in the database
//! whether or not the user exists. Following the link and confirming there issues a new
//! random password, shown once; until then the old one keeps working. The reset ends all
//! the user's sessions and trusted devices and, for a user who may change the password,
//! asks for a change at the next sign-in.

use url::Url;

use crate::{
    audit::{self, Event},
    delivery::{self, Envelope, Priority},
    emails,
    error::{Error, Result},
    i18n::Tr,
    lockout::{self, Rule, Scope},
    passwords::{Hasher, Password},
    rights::Actor,
    store::{ResetRow, Store},
    tokens::{Token, TokenHash},
    values::{MAX_EMAIL_LEN, StoredHash, User, Username},
};

/// One request per username per minute.
const REQUESTS_PER_USERNAME: Rule = Rule { max_failures: 1, window: 60, lock: 60, max_lock: 60 };

/// Requests from one address: enough for an office whose people share it, few enough
/// that nobody fills the counters with made-up names (each costs a row until purged).
const REQUESTS_PER_ADDRESS: Rule = Rule { max_failures: 30, window: 15 * 60, lock: 15 * 60, max_lock: 3600 };

/// A request for a reset link, as made.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub ip: &'a str,
}

/// What a reset link leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// It may be followed.
    Valid,
    /// It was followed already.
    Used,
    /// It ran out, or a newer request replaced it, or it never existed.
    Expired,
}

/// The outcome of following a link: the new password, shown once.
#[derive(Debug)]
pub struct Reset {
    pub username: String,
    pub password: Password,
    /// The user must choose their own password at the next sign-in.
    pub must_change: bool,
}

/// Sends a reset link when the username and email belong together; answers the same
/// either way. `public_url` is where the link points; `valid_for` its life in seconds.
pub async fn request(
    store: &Store,
    public_url: &Url,
    valid_for: i64,
    request: &Request<'_>,
    now: i64,
) -> Result<()> {
    // No stored name is longer than a username may be: check before any row is written.
    let username = Username::parse(request.username)?;
    let email = request.email.trim();
    if email.len() > MAX_EMAIL_LEN {
        return Err(Error::invalid("email", "not an email address"));
    }
    let subject = lockout::username_subject(username.as_str());
    let by_address = lockout::address_subject(request.ip);
    let limits = [(subject.as_str(), &REQUESTS_PER_USERNAME), (by_address.as_str(), &REQUESTS_PER_ADDRESS)];
    let mut tx = store.write().await?;
    match lockout::reserve(&mut tx, Scope::Reset, &limits, now).await {
        Err(Error::Locked { retry_after }) => return Err(Error::TooSoon { retry_after }),
        other => other?,
    };
    let Some(user) = tx.user_by_username(username.as_str()).await? else {
        tx.commit().await?;
        return Ok(());
    };
    let matches = user.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(email));
    let actor = Actor::anonymous(request.ip);
    // A link goes only to an address its owner confirmed.
    let details = serde_json::json!({ "matched": matches, "confirmed": user.email_verified });
    let event =
        Event::new(user.account_id, &actor, "password.reset_requested").subject(user.id).details(details);
    audit::record(&mut tx, event, now).await?;
    if let (true, true, Some(address)) = (matches, user.email_verified, &user.email) {
        let token = Token::generate();
        tx.put_password_reset(user.id, &token.hash().0, now, now + valid_for).await?;
        let link = public_url.join(&format!("reset/{}", token.expose())).map_err(anyhow::Error::from)?;
        let tr = Tr(user.language);
        let hours = valid_for / 3600;
        let message = emails::reset(tr, address, &link, hours)?;
        let expires_at = Some(now + valid_for);
        let envelope = Envelope { account: user.account_id, priority: Priority::Awaited, expires_at };
        delivery::enqueue(&mut tx, &message, envelope, now).await?;
    }
    Ok(tx.commit().await?)
}

/// What following `token` would do now.
pub async fn link(store: &Store, token: &str, now: i64) -> Result<Link> {
    let row = store.read().await?.password_reset(&TokenHash::of(token).0).await?;
    Ok(row.map_or(Link::Expired, |r| link_of(&r, now)))
}

fn link_of(row: &ResetRow, now: i64) -> Link {
    match row {
        r if r.used_at.is_some() => Link::Used,
        r if r.expires_at > now => Link::Valid,
        _ => Link::Expired,
    }
}

/// Follows a link: a new password, the old one and every session gone. A used link is a
/// `Conflict`, an expired or unknown one `CodeExpired`; neither changes anything.
pub async fn reset(store: &Store, hasher: &Hasher, token: &str, ip: &str, now: i64) -> Result<Reset> {
    let hash = TokenHash::of(token);
    let user = {
        let mut tx = store.read().await?;
        let row = tx.password_reset(&hash.0).await?;
        match row.as_ref().map(|r| link_of(r, now)) {
            Some(Link::Valid) => {}
            Some(Link::Used) => return Err(Error::Conflict { field: "token" }),
            _ => return Err(Error::CodeExpired),
        }
        let user_id = row.map(|r| r.user_id).ok_or(Error::CodeExpired)?;
        tx.user_by_id(user_id).await?.ok_or(Error::CodeExpired)?
    };
    // Hashing is slow: never hold the write transaction across it.
    let password = Password::generate();
    let new_hash = hasher.hash_new(password.clone(), vec![user.username.to_string()]).await?;
    let mut tx = store.write().await?;
    if !tx.use_password_reset(&hash.0, now).await? {
        return Err(Error::Conflict { field: "token" });
    }
    let before = tx.user_for_update(user.id).await?.ok_or(Error::CodeExpired)?;
    let must_change_password = before.can_change_password;
    let user = User { password_hash: StoredHash(new_hash), must_change_password, ..before.clone() };
    tx.update_user(&before, &user).await?;
    let sessions = tx.end_sessions_of_user(user.id, None, now).await?;
    let devices = tx.revoke_trusted_devices(user.id, None, now).await?;
    tx.delete_challenges_of(user.id).await?;
    lockout::clear(&mut tx, Scope::Password, &lockout::username_subject(&user.username)).await?;
    let details = serde_json::json!({ "sessions_ended": sessions, "trusted_devices_revoked": devices });
    let event = Event::new(user.account_id, &Actor::anonymous(ip), "password.reset").subject(user.id);
    audit::record(&mut tx, event.details(details), now).await?;
    tx.commit().await?;
    Ok(Reset { username: user.username.to_string(), password, must_change: user.must_change_password })
}
