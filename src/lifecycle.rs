//! An account's life: the date it is blocked on, the services it pays for (`sms` with a
//! quota of messages, `email_notifications`), and the notices its users get before the
//! blocking date.
//!
//! An account is blocked from its own blocking date or the earliest date of any account
//! above it. That date in force is kept on every account row (`blocked_from`) and
//! refreshed for the whole branch when a date changes, so the session check reads it in
//! its one lookup. From then on its users cannot sign in and their open sessions end at
//! their next request; moving the date or clearing it unblocks. These terms are set by
//! administrators of the accounts above (or the operator): the account's own top users
//! see them but cannot change them.
//!
//! Notices: a user who asked for them gets one email a day while the blocking date is
//! at most 5 days away, from the configured hour (UTC) on, in their language, while the
//! account's `email_notifications` service is on. Every instance runs the job every
//! minute; each user's notice of a day is claimed by a row written in the transaction
//! that queues the email, so it goes out once however many instances run, and an
//! instance that starts after the hour catches up with the day's notices at once.

use std::{future::Future, time::Duration};

use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;

use crate::{
    accounts::AccountId,
    app::App,
    audit::{self, Event},
    clock::{from_unix, to_unix},
    delivery::{self, Message},
    error::{Error, Result},
    i18n::Tr,
    keys::SecretKey,
    rights::{Actor, ManagesAccount},
    store::{AccountRow, NoticeRecipient, Store, Tx},
    users::Language,
    verification::escape_html,
};

/// Notices start this many days before the blocking date.
pub const NOTICE_DAYS: i64 = 5;
const DAY: i64 = 86_400;
/// The most messages an SMS quota may hold.
const MAX_SMS_QUOTA: i64 = 1_000_000_000;

/// Changes to an account's terms; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TermsChanges {
    /// `Some(None)` clears the blocking date.
    pub blocking_at: Option<Option<i64>>,
    /// `Some(None)` turns the `sms` service off; `Some(Some(n))` on, with `n` messages.
    pub sms_quota: Option<Option<i64>>,
    pub email_notifications: Option<bool>,
}

/// Whether the account (or one above it) is blocked at `now`.
pub async fn is_blocked(tx: &mut Tx, account: AccountId, now: i64) -> Result<bool> {
    let row = tx.account_by_id(account).await?;
    Ok(row.and_then(|a| a.blocked_from).is_some_and(|at| at <= now))
}

/// The account with its terms, for anyone who manages it.
pub async fn terms(store: &Store, actor: &Actor, account: AccountId) -> Result<AccountRow> {
    let mut tx = store.read().await?;
    Ok(ManagesAccount::check(&mut tx, actor, account).await?.account().clone())
}

/// The accounts right below one the actor manages, with their terms.
pub async fn children(store: &Store, actor: &Actor, account: AccountId) -> Result<Vec<AccountRow>> {
    let mut tx = store.read().await?;
    ManagesAccount::check(&mut tx, actor, account).await?;
    tx.child_accounts(account).await
}

/// Changes the account's blocking date and services; only administrators of an account
/// above (or the operator) may. Every change is one `account.updated` event.
pub async fn change_terms(
    store: &Store,
    actor: &Actor,
    account: AccountId,
    changes: &TermsChanges,
    now: i64,
) -> Result<AccountRow> {
    if changes.sms_quota.flatten().is_some_and(|q| !(0..=MAX_SMS_QUOTA).contains(&q)) {
        return Err(Error::invalid("sms_quota", format!("use 0 to {MAX_SMS_QUOTA}")));
    }
    let mut tx = store.write().await?;
    let proof = ManagesAccount::check(&mut tx, actor, account).await?.from_above()?;
    let before = proof.account().clone();
    let mut after = before.clone();
    after.blocking_at = changes.blocking_at.unwrap_or(before.blocking_at);
    if let Some(quota) = changes.sms_quota {
        after.sms_enabled = quota.is_some();
        after.sms_quota = quota.unwrap_or(0);
    }
    after.email_notifications = changes.email_notifications.unwrap_or(before.email_notifications);
    tx.update_account_terms(&after).await?;
    if after.blocking_at != before.blocking_at {
        tx.refresh_blocked_from(account).await?;
    }
    let details = audit::changes(&describe(&before), &describe(&after), false);
    if details["after"].as_object().is_some_and(|changed| !changed.is_empty()) {
        audit::record(&mut tx, Event::new(account, actor, "account.updated").details(details), now).await?;
    }
    let fresh = tx.account_by_id(account).await?.ok_or(Error::NotFound)?;
    tx.commit().await?;
    Ok(fresh)
}

/// The terms as the audit trail shows them.
fn describe(a: &AccountRow) -> Value {
    json!({
        "blocking_date": a.blocking_at.map(|at| from_unix(at).format(&Rfc3339).unwrap_or_default()),
        "sms": a.sms_enabled.then(|| json!({ "quota": a.sms_quota })),
        "email_notifications": a.email_notifications,
    })
}

/// Queues the notices of the day not sent yet, once `now` is past `from_hour` (UTC);
/// returns how many.
pub async fn send_notices(store: &Store, keys: &SecretKey, from_hour: u8, now: i64) -> Result<usize> {
    if now.rem_euclid(DAY) < i64::from(from_hour) * 3600 {
        return Ok(0);
    }
    let window = (now, now + NOTICE_DAYS * DAY);
    if store.read().await?.notice_recipients(window.0, window.1).await?.is_empty() {
        return Ok(0);
    }
    let day = now.div_euclid(DAY);
    let mut tx = store.write().await?;
    let mut sent = 0;
    for recipient in tx.notice_recipients(window.0, window.1).await? {
        if tx.claim_notice(recipient.user_id, day, recipient.blocked_from, now).await? {
            delivery::enqueue(&mut tx, keys, &notice(&recipient, now), now).await?;
            sent += 1;
        }
    }
    tx.commit().await?;
    Ok(sent)
}

/// The email announcing the blocking date, in the user's language.
fn notice(r: &NoticeRecipient, now: i64) -> Message {
    let tr = Tr(Language::parse(&r.language).unwrap_or_default());
    let date = show_date(r.blocked_from);
    let days = (r.blocked_from - now + DAY - 1) / DAY;
    let text = tr.with(
        "email-blocking-text",
        [("account", r.account_name.clone().into()), ("date", date.clone().into()), ("days", days.into())],
    );
    let html = tr.with(
        "email-blocking-html",
        [
            ("account", escape_html(&r.account_name).into()),
            ("date", date.clone().into()),
            ("days", days.into()),
        ],
    );
    let subject = tr.t1("email-blocking-subject", "date", date);
    Message::Email { to: r.email.clone(), subject, text, html }
}

/// "2030-03-06 09:00 UTC".
fn show_date(at: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    from_unix(at).format(&format).unwrap_or_default()
}

/// Sends the day's notices every minute until `stop` completes, starting at once (which
/// catches up after a restart).
pub async fn run_notices(app: App, stop: impl Future<Output = ()>) {
    tokio::pin!(stop);
    loop {
        match send_notices(&app.store, &app.keys, app.config.notice_hour, to_unix(app.now())).await {
            Ok(0) => {}
            Ok(sent) => {
                tracing::info!(sent, "blocking notices queued");
                app.delivery.wake.notify_one();
            }
            Err(e) => {
                tracing::warn!(error = format!("{e:#}"), "blocking notices could not be sent; trying again")
            }
        }
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_name_the_date_to_the_minute_in_utc() {
        assert_eq!(show_date(1_899_018_000), "2030-03-06 09:00 UTC");
    }
}
