//! Where a sign-in code goes and how it gets there: by SMS when the user's method is SMS
//! and an SMS can be sent, else by email (saying why); an SMS the gateway refuses goes
//! by email instead, with its quota given back.

use std::sync::Arc;

use serde::Serialize;

use super::{codes::OneTimeCode, method::Method};
use crate::{
    audit::{self, Event},
    delivery::{self, Delivery, Envelope, Priority, sms::SmsGateway},
    emails,
    error::{Error, Result},
    i18n::Tr,
    policy::{self, CodeDelivery},
    rights::Actor,
    store::{ChallengeCode, Store, Tx},
    values::{AppKind, User},
    verification::{Channel, RESEND_AFTER},
};

/// Why a code for an SMS user went by email.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Fallback {
    EmailOnlyPolicy,
    SmsNotAllowed,
    PhoneNotConfirmed,
    NoSmsGateway,
    SmsServiceOff,
    QuotaUsedUp,
    GatewayFailed,
}

/// Where the current code went.
#[derive(Debug, Clone)]
pub struct Sent {
    pub channel: Channel,
    /// Masked: `+35*******78`, `d*****@fleet.example`.
    pub destination: String,
    /// Set when an SMS user's code went by email.
    pub fallback: Option<Fallback>,
    pub expires_at: i64,
    pub resend_at: i64,
}

/// Where a code is about to go.
pub(super) enum Route {
    Sms { phone: String, gateway: Arc<SmsGateway> },
    Email { address: String, fallback: Option<Fallback> },
}

impl Route {
    pub(super) fn channel(&self) -> Channel {
        match self {
            Self::Sms { .. } => Channel::Sms,
            Self::Email { .. } => Channel::Email,
        }
    }

    pub(super) fn masked(&self) -> String {
        match self {
            Self::Sms { phone, .. } => Channel::Sms.mask(phone),
            Self::Email { address, .. } => Channel::Email.mask(address),
        }
    }

    pub(super) fn record<'a>(&self, code_hash: &'a [u8], now: i64) -> ChallengeCode<'a> {
        ChallengeCode {
            channel: self.channel().as_str(),
            destination: self.masked(),
            code_hash,
            sent_at: now,
            code_expires_at: now + super::codes::VALIDITY,
        }
    }
}

/// The answer for a user no code can reach: whom in the company to call.
pub(super) async fn no_destination(tx: &mut Tx, user: &User) -> Error {
    match policy::of_account(tx, user.account_id).await {
        Ok(policy) => Error::NoCodeDestination { contact: policy.contact().cloned().map(Box::new) },
        Err(e) => e,
    }
}

/// Chooses where a code goes: by SMS when the user's method is SMS, nobody asked for
/// email and an SMS can be sent (taking one from the account's quota); else by email.
pub(super) async fn route(
    tx: &mut Tx,
    outbox: &Delivery,
    user: &User,
    method: Method,
    delivery: CodeDelivery,
    requested: Option<Channel>,
) -> Result<Route> {
    let by_email = |fallback| match user.confirmed_email() {
        Some(address) => Ok(Route::Email { address: address.to_string(), fallback }),
        None => Err(Error::NoCodeDestination { contact: None }),
    };
    if method != Method::Sms || requested == Some(Channel::Email) {
        return by_email(None);
    }
    let phone = user.confirmed_phone();
    let fallback = match (phone, &outbox.sms) {
        _ if delivery == CodeDelivery::EmailOnly => Fallback::EmailOnlyPolicy,
        _ if !user.can_send_sms => Fallback::SmsNotAllowed,
        (None, _) => Fallback::PhoneNotConfirmed,
        (_, None) => Fallback::NoSmsGateway,
        (Some(phone), Some(gateway)) => {
            if tx.take_sms(user.account_id).await? {
                return Ok(Route::Sms { phone: phone.to_string(), gateway: gateway.clone() });
            }
            let enabled = tx.account_by_id(user.account_id).await?.is_some_and(|a| a.sms_enabled);
            if enabled { Fallback::QuotaUsedUp } else { Fallback::SmsServiceOff }
        }
    };
    by_email(Some(fallback))
}

/// Sends the code the challenge now holds and commits. An SMS goes out at once, after
/// the commit; if the gateway fails, its quota is given back and the same code goes by
/// email instead.
pub(super) async fn deliver(
    store: &Store,
    outbox: &Delivery,
    mut tx: Tx,
    (id, user, app_kind): (i64, &User, AppKind),
    route: Route,
    code: &OneTimeCode,
    now: i64,
) -> Result<Sent> {
    let tr = Tr(user.language);
    let sent = |route: &Route, fallback| Sent {
        channel: route.channel(),
        destination: route.masked(),
        fallback,
        expires_at: now + super::codes::VALIDITY,
        resend_at: now + RESEND_AFTER,
    };
    match route {
        Route::Email { ref address, fallback } => {
            let sent = sent(&route, fallback);
            enqueue_email(&mut tx, &tr, (user, address), code, now).await?;
            record_sent(&mut tx, user, app_kind, &sent, now).await?;
            tx.commit().await?;
            outbox.wake.notify_one();
            crate::metrics::code_sent("email", fallback.is_some());
            Ok(sent)
        }
        Route::Sms { ref phone, ref gateway } => {
            let sms = sent(&route, None);
            record_sent(&mut tx, user, app_kind, &sms, now).await?;
            tx.commit().await?;
            let text = tr.with("sms-sign-in-text", code_args(code));
            let Err(e) = gateway.send(phone, &text).await else {
                crate::metrics::code_sent("sms", false);
                return Ok(sms);
            };
            tracing::warn!(error = format!("{e:#}"), "an SMS code could not be sent; sending it by email");
            let mut tx = store.write().await?;
            tx.give_back_sms(user.account_id).await?;
            let Some(address) = user.confirmed_email() else {
                let error = no_destination(&mut tx, user).await;
                tx.commit().await?;
                return Err(error);
            };
            let email =
                Route::Email { address: address.to_string(), fallback: Some(Fallback::GatewayFailed) };
            let sent = sent(&email, Some(Fallback::GatewayFailed));
            tx.set_challenge_code(id, &email.record(&code.hash(store.keys()), now)).await?;
            enqueue_email(&mut tx, &tr, (user, address), code, now).await?;
            record_sent(&mut tx, user, app_kind, &sent, now).await?;
            tx.commit().await?;
            outbox.wake.notify_one();
            crate::metrics::code_sent("email", true);
            Ok(sent)
        }
    }
}

pub(super) fn code_args(
    code: &OneTimeCode,
) -> [(&'static str, fluent_templates::fluent_bundle::FluentValue<'static>); 2] {
    [("code", code.expose().to_owned().into()), ("minutes", (super::codes::VALIDITY / 60).into())]
}

/// Queues the email carrying a sign-in code to `user` at `address`: first in the outbox,
/// and dropped rather than sent once the code has expired.
pub(super) async fn enqueue_email(
    tx: &mut Tx,
    tr: &Tr,
    (user, address): (&User, &str),
    code: &OneTimeCode,
    now: i64,
) -> Result<()> {
    let text = tr.with("email-sign-in-text", code_args(code));
    let message = emails::code(*tr, address, tr.t("email-sign-in-subject"), text)?;
    let envelope = Envelope {
        account: user.account_id,
        priority: Priority::SignInCode,
        expires_at: Some(now + super::codes::VALIDITY),
    };
    delivery::enqueue(tx, &message, envelope, now).await
}

/// Audits a code sent, with where it went (masked) and why an SMS user's went by email.
pub(super) async fn record_sent(tx: &mut Tx, user: &User, app: AppKind, sent: &Sent, now: i64) -> Result<()> {
    let actor = Actor::user(user.id, None, None);
    let details = serde_json::json!({
        "app": app,
        "channel": sent.channel,
        "destination": sent.destination,
        "fallback": sent.fallback,
    });
    let event = Event::new(user.account_id, &actor, "second_factor.sent").subject(user.id).details(details);
    audit::record(tx, event, now).await
}
