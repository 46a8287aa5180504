//! Confirming that an email address or phone number belongs to its user, with a code
//! sent to it by email or SMS.
//!
//! A code is valid for 5 minutes and survives 5 wrong tries; a new one may be asked for
//! 30 seconds after the last and replaces it. Changing the address makes it unconfirmed
//! again (see `users`) and voids a code sent to the old one.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{
    audit::{self, Event},
    clock::from_unix,
    delivery::{self, Envelope, Message, Priority},
    emails,
    error::{Error, Result},
    i18n::Tr,
    keys::SecretKey,
    mfa::codes::{self, OneTimeCode},
    rights::Actor,
    store::Store,
    values::User,
};

/// Seconds before another code may be sent.
pub const RESEND_AFTER: i64 = 30;

/// What is being confirmed, and how its code travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// The email address, by email.
    Email,
    /// The phone number, by SMS.
    Sms,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
        }
    }

    pub(crate) fn destination(self, user: &User) -> Option<&str> {
        match self {
            Self::Email => user.email.as_deref(),
            Self::Sms => user.phone.as_deref(),
        }
    }

    fn field(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "phone",
        }
    }

    pub(crate) fn mask(self, destination: &str) -> String {
        match self {
            Self::Email => mask_email(destination),
            Self::Sms => mask_phone(destination),
        }
    }
}

/// Where a code went, for the person to recognise without revealing the whole address.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Sent {
    /// `email` or `sms`.
    pub channel: &'static str,
    /// The address with most of it hidden: `d*****@fleet.example`, `+35*******78`.
    pub destination: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub resend_at: OffsetDateTime,
}

/// Sends a code to confirm the user's email address (by email) or phone (by SMS). An SMS
/// needs the gateway, the account's `sms` service with quota left (it takes one), and the
/// user's right to receive SMS.
pub async fn send_code(
    store: &Store,
    keys: &SecretKey,
    sms_gateway: bool,
    actor: &Actor,
    channel: Channel,
    now: i64,
) -> Result<Sent> {
    let id = actor.own_user()?;
    let mut tx = store.write().await?;
    let user = tx.user_by_id(id).await?.ok_or(Error::Unauthenticated)?;
    let Some(destination) = channel.destination(&user).map(str::to_owned) else {
        return Err(Error::invalid(channel.field(), "there is nothing to confirm"));
    };
    if let Some(last) = tx.verification(id, channel.as_str()).await? {
        let wait = last.created_at + RESEND_AFTER - now;
        if wait > 0 {
            return Err(Error::TooSoon { retry_after: time::Duration::seconds(wait) });
        }
    }
    if channel == Channel::Sms {
        if !sms_gateway {
            return Err(Error::SmsUnavailable { reason: "no SMS gateway is configured" });
        }
        if !user.can_send_sms {
            return Err(Error::SmsUnavailable { reason: "the user may not receive SMS" });
        }
        if !tx.take_sms(user.account_id).await? {
            return Err(Error::SmsUnavailable {
                reason: "the account's SMS service is off or its quota is used up",
            });
        }
    }
    let code = OneTimeCode::generate();
    let expires_at = now + codes::VALIDITY;
    tx.put_verification(id, channel.as_str(), &destination, &code.hash(keys), now, expires_at).await?;
    let tr = Tr(user.language);
    let args = [("code", code.expose().to_owned().into()), ("minutes", (codes::VALIDITY / 60).into())];
    let message = match channel {
        Channel::Email => {
            emails::code(tr, &destination, tr.t("email-verify-subject"), tr.with("email-verify-text", args))?
        }
        Channel::Sms => Message::Sms { to: destination.clone(), text: tr.with("sms-verify-text", args) },
    };
    let envelope =
        Envelope { account: user.account_id, priority: Priority::Awaited, expires_at: Some(expires_at) };
    delivery::enqueue(&mut tx, &message, envelope, now).await?;
    let masked = channel.mask(&destination);
    let details = serde_json::json!({ "channel": channel.as_str(), "destination": masked });
    let event = Event::new(user.account_id, actor, "verification.sent").subject(id).details(details);
    audit::record(&mut tx, event, now).await?;
    tx.commit().await?;
    Ok(Sent {
        channel: channel.as_str(),
        destination: masked,
        expires_at: from_unix(expires_at),
        resend_at: from_unix(now + RESEND_AFTER),
    })
}

/// Confirms the user's address or phone with the code sent to it.
pub async fn confirm(
    store: &Store,
    keys: &SecretKey,
    actor: &Actor,
    channel: Channel,
    typed: &str,
    now: i64,
) -> Result<()> {
    let id = actor.own_user()?;
    let mut tx = store.write().await?;
    let before = tx.user_for_update(id).await?.ok_or(Error::Unauthenticated)?;
    let mut user = before.clone();
    let pending = tx.verification(id, channel.as_str()).await?;
    // A code sent to an address the user has since changed confirms nothing.
    let Some(pending) = pending.filter(|p| Some(p.destination.as_str()) == channel.destination(&user)) else {
        return Err(Error::CodeExpired);
    };
    if now >= pending.expires_at || pending.attempts >= codes::MAX_ATTEMPTS {
        tx.delete_verification(id, channel.as_str()).await?;
        tx.commit().await?;
        return Err(Error::CodeExpired);
    }
    let right = OneTimeCode::parse(typed).is_some_and(|code| code.matches(keys, &pending.code_hash));
    if !right {
        tx.count_verification_attempt(id, channel.as_str()).await?;
        tx.commit().await?;
        return Err(Error::InvalidCode {
            attempts_left: codes::MAX_ATTEMPTS - pending.attempts - 1,
            contact: None,
        });
    }
    match channel {
        Channel::Email => user.email_verified = true,
        Channel::Sms => user.phone_verified = true,
    }
    tx.update_user(&before, &user).await?;
    tx.delete_verification(id, channel.as_str()).await?;
    let details = serde_json::json!({ "channel": channel.as_str(), "destination": pending.destination });
    let event = Event::new(user.account_id, actor, "verification.confirmed").subject(id).details(details);
    audit::record(&mut tx, event, now).await?;
    tx.commit().await?;
    Ok(())
}

/// `+35312345678` → `+35*******78`.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() <= 5 {
        return "*".repeat(chars.len());
    }
    let (head, tail) = (&chars[..3], &chars[chars.len() - 2..]);
    format!(
        "{}{}{}",
        head.iter().collect::<String>(),
        "*".repeat(chars.len() - 5),
        tail.iter().collect::<String>()
    )
}

/// `dispatcher@fleet.example` → `d*********@fleet.example`.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}{}@{domain}", "*".repeat(local.chars().count().saturating_sub(1).max(1)))
        }
        None => "*".repeat(email.chars().count()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_masked_address_keeps_its_first_letter_and_domain() {
        assert_eq!(mask_email("dispatcher@fleet.example"), "d*********@fleet.example");
        assert_eq!(mask_email("a@b.example"), "a*@b.example");
    }

    #[test]
    fn a_masked_phone_keeps_its_country_code_start_and_last_two_digits() {
        assert_eq!(mask_phone("+35312345678"), "+35*******78");
    }
}
