//! Confirming that an email address belongs to its user, with a code sent to it.
//!
//! A code is valid for 5 minutes and survives 5 wrong tries; a new one may be asked for
//! 30 seconds after the last and replaces it. Changing the address makes it unconfirmed
//! again (see `users`) and voids a code sent to the old one.

use serde::Serialize;
use time::OffsetDateTime;

use crate::{
    audit::{self, Event},
    clock::from_unix,
    delivery::{self, Message},
    error::{Error, Result},
    i18n::Tr,
    keys::SecretKey,
    mfa::codes::{self, OneTimeCode},
    rights::Actor,
    store::Store,
    users::Language,
};

const CHANNEL: &str = "email";
/// Seconds before another code may be sent.
pub const RESEND_AFTER: i64 = 30;

/// Where a code went, for the person to recognise without revealing the whole address.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Sent {
    pub channel: &'static str,
    /// The address with most of it hidden: `d*****@fleet.example`.
    pub destination: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub resend_at: OffsetDateTime,
}

/// Sends a confirmation code to the user's email address.
pub async fn send_email_code(
    store: &Store,
    keys: &SecretKey,
    actor: &Actor,
    now: i64,
) -> Result<Sent> {
    let id = actor.user.ok_or(Error::Forbidden)?;
    let mut tx = store.write().await?;
    let user = tx.user_by_id(id).await?.ok_or(Error::Unauthenticated)?;
    let email = user
        .email
        .clone()
        .ok_or_else(|| Error::invalid("email", "there is no email address to confirm"))?;
    if let Some(last) = tx.verification(id, CHANNEL).await? {
        let wait = last.created_at + RESEND_AFTER - now;
        if wait > 0 {
            return Err(Error::TooSoon {
                retry_after: time::Duration::seconds(wait),
            });
        }
    }
    let code = OneTimeCode::generate();
    let expires_at = now + codes::VALIDITY;
    tx.put_verification(id, CHANNEL, &email, &code.hash(keys), now, expires_at)
        .await?;
    let tr = Tr(Language::parse(&user.language).unwrap_or_default());
    let minutes = codes::VALIDITY / 60;
    let text = tr.with(
        "email-verify-text",
        [
            ("code", code.expose().to_owned().into()),
            ("minutes", minutes.into()),
        ],
    );
    let message = Message::Email {
        to: email.clone(),
        subject: tr.t("email-verify-subject"),
        html: format!("<p>{}</p>", escape_html(&text)),
        text,
    };
    delivery::enqueue(&mut tx, keys, &message, now).await?;
    let details = serde_json::json!({ "destination": mask_email(&email) });
    audit::record(
        &mut tx,
        Event::new(user.account_id, actor, "email.verification_sent")
            .subject(id)
            .details(details),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Sent {
        channel: CHANNEL,
        destination: mask_email(&email),
        expires_at: from_unix(expires_at),
        resend_at: from_unix(now + RESEND_AFTER),
    })
}

/// Confirms the user's email address with the code sent to it.
pub async fn confirm_email(
    store: &Store,
    keys: &SecretKey,
    actor: &Actor,
    typed: &str,
    now: i64,
) -> Result<()> {
    let id = actor.user.ok_or(Error::Forbidden)?;
    let mut tx = store.write().await?;
    let user = tx.user_by_id(id).await?.ok_or(Error::Unauthenticated)?;
    let pending = tx.verification(id, CHANNEL).await?;
    let Some(pending) = pending.filter(|p| Some(&p.destination) == user.email.as_ref()) else {
        return Err(Error::CodeExpired);
    };
    if now >= pending.expires_at || pending.attempts >= codes::MAX_ATTEMPTS {
        tx.delete_verification(id, CHANNEL).await?;
        tx.commit().await?;
        return Err(Error::CodeExpired);
    }
    let right =
        OneTimeCode::parse(typed).is_some_and(|code| code.matches(keys, &pending.code_hash));
    if !right {
        tx.count_verification_attempt(id, CHANNEL).await?;
        tx.commit().await?;
        return Err(Error::InvalidCode {
            attempts_left: codes::MAX_ATTEMPTS - pending.attempts - 1,
        });
    }
    let mut user = user;
    user.email_verified = true;
    tx.update_user(&user).await?;
    tx.delete_verification(id, CHANNEL).await?;
    let details = serde_json::json!({ "email": pending.destination });
    audit::record(
        &mut tx,
        Event::new(user.account_id, actor, "email.verified")
            .subject(id)
            .details(details),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// `dispatcher@fleet.example` → `d*********@fleet.example`.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!(
                "{first}{}@{domain}",
                "*".repeat(local.chars().count().saturating_sub(1).max(1))
            )
        }
        None => "*".repeat(email.chars().count()),
    }
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_masked_address_keeps_its_first_letter_and_domain() {
        assert_eq!(
            mask_email("dispatcher@fleet.example"),
            "d*********@fleet.example"
        );
        assert_eq!(mask_email("a@b.example"), "a*@b.example");
    }
}
