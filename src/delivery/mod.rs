//! Delivery of email and SMS that never loses a message.
//!
//! Domain functions [`enqueue`] a message inside the transaction that causes it, so it
//! exists exactly when its cause does. Senders in every instance claim due messages one
//! at a time, several at once, send them, and on failure try again later with growing
//! waits (30 s, 1 min, 2 min... up to an hour, twelve tries in all). A message survives a
//! restart, and the payload, which may hold a code, is encrypted in the table.
//!
//! The order is fair and urgent things go first: sign-in codes before anything else,
//! then what a person waits for (confirmation codes, reset links), then notices; within
//! each, every account's first waiting message before anyone's second, so one company's
//! flood never delays another's code. A message whose code has expired is dropped, not
//! sent late. Delivery is at least once: a sender that dies after sending and before
//! recording it leaves the message to be sent again when its claim runs out.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::{
    clock::{Clock, to_unix},
    error::Result,
    keys::SecretKey,
    store::{NewMessage, Store, Tx},
    values::AccountId,
};

pub mod email;
pub mod sms;

const SEAL: &str = "outbox";
const MAX_ATTEMPTS: i64 = 12;

/// A message to send.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Message {
    Email { to: String, subject: String, text: String, html: String },
    Sms { to: String, text: String },
}

impl Message {
    fn channel(&self) -> &'static str {
        match self {
            Self::Email { .. } => "email",
            Self::Sms { .. } => "sms",
        }
    }

    fn recipient(&self) -> &str {
        match self {
            Self::Email { to, .. } | Self::Sms { to, .. } => to,
        }
    }
}

/// How urgent a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// Someone is signing in and waits for it.
    SignInCode = 0,
    /// Someone waits for it: a confirmation code, a reset link.
    Awaited = 1,
    /// Nobody waits: notices.
    Notice = 2,
}

impl Priority {
    /// The label of a stored priority, for metrics.
    pub fn label(stored: i64) -> &'static str {
        match stored {
            0 => "sign_in_code",
            1 => "awaited",
            _ => "notice",
        }
    }
}

/// Whose a message is, how urgent, and until when it is worth sending.
#[derive(Debug, Clone, Copy)]
pub struct Envelope {
    pub account: AccountId,
    pub priority: Priority,
    /// When the code or link it carries stops working.
    pub expires_at: Option<i64>,
}

/// Puts `message` in the outbox, inside the caller's transaction.
pub async fn enqueue(tx: &mut Tx, message: &Message, envelope: Envelope, now: i64) -> Result<()> {
    let payload = tx.keys().seal(SEAL, &serde_json::to_vec(message).map_err(anyhow::Error::from)?);
    let new = NewMessage {
        channel: message.channel(),
        recipient: message.recipient(),
        payload: &payload,
        account: envelope.account,
        priority: envelope.priority as i64,
        expires_at: envelope.expires_at,
    };
    tx.insert_outbox(&new, now).await?;
    Ok(())
}

/// The senders, and a bell that wakes the worker when a message is queued.
#[derive(Clone)]
pub struct Delivery {
    pub mailer: Arc<email::Mailer>,
    /// `None` when no gateway is configured: no SMS can be sent.
    pub sms: Option<Arc<sms::SmsGateway>>,
    pub wake: Arc<Notify>,
    /// Seconds a sender may hold a message before another may take it over.
    pub claim_seconds: i64,
}

/// The wait before try number `attempts + 1`.
fn backoff(attempts: i64) -> i64 {
    (30i64 << (attempts - 1).clamp(0, 7)).min(3600)
}

/// Claims and sends one due message; false when none is due. While it sends, another
/// sender is woken for the next message.
pub async fn deliver_one(
    store: &Store,
    delivery: &Delivery,
    keys: &SecretKey,
    clock: &dyn Clock,
) -> Result<bool> {
    let now = to_unix(clock.now());
    let Some(row) = store.claim_outbox(now, now + delivery.claim_seconds).await? else {
        return Ok(false);
    };
    delivery.wake.notify_one();
    let priority = Priority::label(row.priority);
    if row.expires_at.is_some_and(|end| end <= now) {
        tracing::info!(id = row.id, priority, "a message expired before it could be sent; dropping it");
        crate::metrics::outbox_dropped(priority);
        store.outbox_failed(row.id, "expired before it could be sent", None, now).await?;
        return Ok(true);
    }
    let message =
        keys.open(SEAL, &row.payload).and_then(|plain| serde_json::from_slice::<Message>(&plain).ok());
    let Some(message) = message else {
        tracing::error!(
            id = row.id,
            "an outbox message cannot be opened with this server's key; giving it up"
        );
        store.outbox_failed(row.id, "cannot be decrypted with this key", None, now).await?;
        return Ok(true);
    };
    let sent = match &message {
        Message::Email { to, subject, text, html } => delivery.mailer.send(to, subject, text, html).await,
        Message::Sms { to, text } => match &delivery.sms {
            Some(gateway) => gateway.send(to, text).await,
            None => Err(anyhow::anyhow!("no SMS gateway is configured")),
        },
    };
    let now = to_unix(clock.now());
    match sent {
        Ok(()) => {
            tracing::info!(id = row.id, channel = row.channel, "message sent");
            crate::metrics::outbox_sent(priority, now - row.created_at);
            store.outbox_sent(row.id, now).await?;
        }
        Err(e) => {
            let error = format!("{e:#}");
            let retry_at = (row.attempts < MAX_ATTEMPTS).then(|| now + backoff(row.attempts));
            tracing::warn!(
                id = row.id,
                channel = row.channel,
                attempts = row.attempts,
                error,
                "sending failed"
            );
            store.outbox_failed(row.id, &error, retry_at, now).await?;
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_from_thirty_seconds_up_to_an_hour() {
        let waits: Vec<i64> = (1..=9).map(backoff).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
    }
}
