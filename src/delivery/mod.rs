//! Delivery of email and SMS that never loses a message.
//!
//! Domain functions [`enqueue`] a message inside the transaction that causes it, so it
//! exists exactly when its cause does. A worker in every instance claims due messages one
//! at a time, sends them, and on failure tries again later with growing waits (30 s,
//! 1 min, 2 min... up to an hour, twelve tries in all). A message survives a restart, and
//! the payload, which may hold a code, is encrypted in the table.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::{
    clock::{Clock, to_unix},
    error::Result,
    keys::SecretKey,
    store::{Store, Tx},
};

pub mod email;
pub mod sms;

const SEAL: &str = "outbox";
const MAX_ATTEMPTS: i64 = 12;
/// How long a worker may hold a message before another may take it over.
const CLAIM: i64 = 120;

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

/// Puts `message` in the outbox, inside the caller's transaction.
pub async fn enqueue(tx: &mut Tx, message: &Message, now: i64) -> Result<()> {
    let payload = tx.keys().seal(SEAL, &serde_json::to_vec(message).map_err(anyhow::Error::from)?);
    tx.insert_outbox(message.channel(), message.recipient(), &payload, now).await?;
    Ok(())
}

/// The senders, and a bell that wakes the worker when a message is queued.
#[derive(Clone)]
pub struct Delivery {
    pub mailer: Arc<email::Mailer>,
    /// `None` when no gateway is configured: no SMS can be sent.
    pub sms: Option<Arc<sms::SmsGateway>>,
    pub wake: Arc<Notify>,
}

/// The wait before try number `attempts + 1`.
fn backoff(attempts: i64) -> i64 {
    (30i64 << (attempts - 1).clamp(0, 7)).min(3600)
}

/// Claims and sends one due message; false when none is due.
pub async fn deliver_one(
    store: &Store,
    delivery: &Delivery,
    keys: &SecretKey,
    clock: &dyn Clock,
) -> Result<bool> {
    let now = to_unix(clock.now());
    let Some(row) = store.claim_outbox(now, now + CLAIM).await? else {
        return Ok(false);
    };
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
