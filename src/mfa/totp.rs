//! Authenticator apps (RFC 6238): 6 digits, 30-second steps, one step of drift either
//! way, no code accepted twice. The 160-bit secret is sealed with the server key at rest
//! and shown only once, at enrolment, as an `otpauth://` URI, its base32 text and a QR
//! code.
//!
//! ```text
//!   none ──enrol──▶ pending ──confirm(code)──▶ on ──enrol(password)──▶ on + pending
//!                                              │ ◀──confirm(code)──────────┘
//!                                              └──disable(password) / administrator reset──▶ none
//! ```

use qrcode::{QrCode, render::svg};
use serde::Serialize;
use totp_rs::{Builder, Totp};

use super::{backup, method::Method};
use crate::{
    audit::{self, Event},
    error::{Error, Result},
    keys::SecretKey,
    passwords::{Hasher, Password},
    reauth,
    rights::Actor,
    store::{Store, Tx},
    values::{AppKind, User},
};

/// The name authenticator apps show above the code.
pub const ISSUER: &str = "Portcullis";
const SEAL: &str = "authenticator-secret";
const SECRET_BYTES: usize = 20;

/// What the user scans or types into the authenticator app; shown once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Enrolment {
    /// The secret in base32, for typing in by hand.
    pub secret: String,
    pub otpauth_uri: String,
    /// The URI as a QR code, an SVG document.
    pub qr_svg: String,
}

fn authenticator(secret: Vec<u8>, username: &str) -> Result<Totp> {
    Builder::new()
        .with_secret(secret)
        .with_account_name(username.replace(':', "_"))
        .with_issuer(Some(ISSUER))
        .build()
        .map_err(|e| Error::Unexpected(anyhow::anyhow!("cannot build the authenticator: {e}")))
}

fn open_secret(keys: &SecretKey, sealed: &[u8]) -> Result<Vec<u8>> {
    keys.open(SEAL, sealed).ok_or_else(|| {
        Error::Unexpected(anyhow::anyhow!("an authenticator secret does not open with this key"))
    })
}

/// The step a typed code belongs to, if it is right at `now` (one step either way).
fn matching_step(totp: &Totp, typed: &str, now: i64) -> Option<i64> {
    let digits: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    totp.check(&digits, u64::try_from(now).ok()?).and_then(|s| i64::try_from(s).ok())
}

/// Starts enrolling an authenticator, with the current password: whoever adds an
/// authenticator (the first or a replacement) holds the account's second factor.
pub async fn enrol(
    store: &Store,
    keys: &SecretKey,
    hasher: &Hasher,
    actor: &Actor,
    password: Option<Password>,
    now: i64,
) -> Result<Enrolment> {
    let id = actor.own_user()?;
    let user = store.read().await?.user_by_id(id).await?.ok_or(Error::Unauthenticated)?;
    let password = password.ok_or_else(|| Error::invalid("password", "enter your current password"))?;
    reauth::check_current(store, hasher, &user, password, "password", now).await?;
    let secret: [u8; SECRET_BYTES] = rand::random();
    let mut tx = store.write().await?;
    tx.put_pending_secret(id, &keys.seal(SEAL, &secret), now).await?;
    tx.commit().await?;
    enrolment(secret.to_vec(), &user.username)
}

/// The authenticator being added, shown again (a wrong first code, a reloaded page);
/// `None` when none is being added. Once confirmed, a secret is never shown again.
pub async fn pending(store: &Store, keys: &SecretKey, actor: &Actor) -> Result<Option<Enrolment>> {
    let id = actor.own_user()?;
    let mut tx = store.read().await?;
    let user = tx.user_by_id(id).await?.ok_or(Error::Unauthenticated)?;
    match tx.authenticator(id).await?.and_then(|a| a.pending_secret) {
        Some(sealed) => enrolment(open_secret(keys, &sealed)?, &user.username).map(Some),
        None => Ok(None),
    }
}

fn enrolment(secret: Vec<u8>, username: &str) -> Result<Enrolment> {
    let totp = authenticator(secret, username)?;
    let otpauth_uri = totp.to_url().map_err(|e| Error::Unexpected(anyhow::anyhow!("{e}")))?;
    let qr = QrCode::new(otpauth_uri.as_bytes()).map_err(|e| Error::Unexpected(e.into()))?;
    let qr_svg = qr.render::<svg::Color<'_>>().min_dimensions(200, 200).build();
    Ok(Enrolment { secret: totp.secret().to_base32(), otpauth_uri, qr_svg })
}

/// Turns the pending authenticator on with a code from it, for both apps, and returns a
/// fresh set of backup codes (shown once).
pub async fn confirm(
    store: &Store,
    keys: &SecretKey,
    actor: &Actor,
    typed: &str,
    now: i64,
) -> Result<Vec<String>> {
    let id = actor.own_user()?;
    let mut tx = store.write().await?;
    let user = tx.user_by_id(id).await?.ok_or(Error::Unauthenticated)?;
    let Some(sealed) = tx.authenticator(id).await?.and_then(|a| a.pending_secret) else {
        return Err(Error::invalid("code", "start adding an authenticator app first"));
    };
    let secret = open_secret(keys, &sealed)?;
    let totp = authenticator(secret, &user.username)?;
    let step = matching_step(&totp, typed, now).ok_or_else(|| Error::invalid("code", "the code is wrong"))?;
    tx.confirm_secret(id, step, now).await?;
    let codes = backup::replace(&mut tx, keys, id, now).await?;
    for app in [AppKind::Web, AppKind::Manager] {
        tx.set_two_factor(id, app.as_str(), Some(Method::Totp.as_str()), now).await?;
    }
    let event = Event::new(user.account_id, actor, "authenticator.enabled").subject(id);
    audit::record(&mut tx, event.details(serde_json::json!({ "apps": ["web", "manager"] })), now).await?;
    tx.commit().await?;
    Ok(codes)
}

/// Removes the user's authenticator and backup codes, with the password; apps that
/// used it are left without a second factor.
pub async fn disable(
    store: &Store,
    hasher: &Hasher,
    actor: &Actor,
    password: Password,
    now: i64,
) -> Result<()> {
    let id = actor.own_user()?;
    let user = store.read().await?.user_by_id(id).await?.ok_or(Error::Unauthenticated)?;
    reauth::check_current(store, hasher, &user, password, "password", now).await?;
    let mut tx = store.write().await?;
    if !remove(&mut tx, id, now).await? {
        return Err(Error::NotFound);
    }
    audit::record(&mut tx, Event::new(user.account_id, actor, "authenticator.disabled").subject(id), now)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Removes an authenticator and its backup codes, inside the caller's transaction, and
/// turns it off where it was on; false if there was none.
pub(crate) async fn remove(tx: &mut Tx, user: crate::values::UserId, now: i64) -> Result<bool> {
    let removed = tx.delete_authenticator(user).await?;
    tx.delete_backup_codes(user).await?;
    for (app, method) in tx.two_factor_settings(user).await? {
        if method == Method::Totp.as_str() {
            tx.set_two_factor(user, &app, None, now).await?;
        }
    }
    Ok(removed)
}

/// Whether `typed` is the user's authenticator code now, never accepted before; an
/// accepted code's step is recorded so it cannot be used again.
pub(crate) async fn accept(
    tx: &mut Tx,
    keys: &SecretKey,
    user: &User,
    typed: &str,
    now: i64,
) -> Result<bool> {
    let Some(sealed) = tx.authenticator(user.id).await?.and_then(|a| a.secret) else {
        return Ok(false);
    };
    let secret = open_secret(keys, &sealed)?;
    let totp = authenticator(secret, &user.username)?;
    match matching_step(&totp, typed, now) {
        Some(step) => tx.advance_step(user.id, step).await,
        None => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc_secret() -> Vec<u8> {
        b"12345678901234567890".to_vec()
    }

    #[test]
    fn codes_match_the_rfc_6238_sha1_test_vectors() {
        let totp = authenticator(rfc_secret(), "driver").unwrap();
        // RFC 6238 appendix B gives 8 digits; the last 6 are the 6-digit code.
        for (time, code) in
            [(59, "287082"), (1111111109, "081804"), (1111111111, "050471"), (1234567890, "005924")]
        {
            assert_eq!(totp.generate(time).to_string(), code);
        }
    }

    #[test]
    fn a_code_is_right_one_step_either_side_and_no_further() {
        let totp = authenticator(rfc_secret(), "driver").unwrap();
        let code = totp.generate(1_000_000_020).to_string();
        assert_eq!(matching_step(&totp, &code, 1_000_000_020), Some(1_000_000_020 / 30));
        assert!(matching_step(&totp, &code, 1_000_000_020 + 30).is_some());
        assert!(matching_step(&totp, &code, 1_000_000_020 - 30).is_some());
        assert!(matching_step(&totp, &code, 1_000_000_020 + 60).is_none());
        assert!(matching_step(&totp, &code, 1_000_000_020 - 60).is_none());
        assert!(matching_step(&totp, "12345", 1_000_000_020).is_none());
    }

    #[test]
    fn the_uri_names_the_issuer_and_the_user() {
        let totp = authenticator(rfc_secret(), "dis:patcher").unwrap();
        let uri = totp.to_url().unwrap();
        assert!(uri.starts_with("otpauth://totp/Portcullis:dis_patcher?"), "{uri}");
        assert!(uri.contains("issuer=Portcullis"), "{uri}");
    }
}
