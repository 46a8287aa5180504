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
//! Notices: a user who asked for them (and whose email address is confirmed) gets one
//! email on each of the 5 days (UTC) before the blocking date, from the configured hour
//! on, in their language, while the account's `email_notifications` service is on. Every
//! instance runs the job every minute; each user's notice of a day is claimed by a row
//! written in the transaction that queues the email, so it goes out once however many
//! instances run, and an instance that starts after the hour catches up with the day's
//! notices at once.

use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;

use crate::{
    audit::{self, Event},
    clock::from_unix,
    delivery::{self, Envelope, Message, Priority},
    emails,
    error::{Error, Result},
    i18n::Tr,
    rights::{Actor, ManagesAccount},
    store::{NoticeRecipient, Store, TermsChanges, Tx},
    values::{Account, AccountId, Language},
};

/// Notices start this many days before the blocking date.
pub const NOTICE_DAYS: i64 = 5;
const DAY: i64 = 86_400;
/// The most messages an SMS quota may hold.
pub const MAX_SMS_QUOTA: i64 = 1_000_000_000;

/// Whether the account (or one above it) is blocked at `now`.
pub async fn is_blocked(tx: &mut Tx, account: AccountId, now: i64) -> Result<bool> {
    let row = tx.account_by_id(account).await?;
    Ok(row.and_then(|a| a.blocked_from).is_some_and(|at| at <= now))
}

/// The account with its terms, for anyone who manages it.
pub async fn terms(store: &Store, actor: &Actor, account: AccountId) -> Result<Account> {
    let mut tx = store.read().await?;
    Ok(ManagesAccount::check(&mut tx, actor, account).await?.account().clone())
}

/// The accounts right below one the actor manages, with their terms.
pub async fn children(store: &Store, actor: &Actor, account: AccountId) -> Result<Vec<Account>> {
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
) -> Result<Account> {
    if changes.sms_quota.flatten().is_some_and(|q| !(0..=MAX_SMS_QUOTA).contains(&q)) {
        return Err(Error::invalid("sms_quota", format!("use 0 to {MAX_SMS_QUOTA}")));
    }
    let mut tx = store.write().await?;
    ManagesAccount::check(&mut tx, actor, account).await?.from_above()?;
    // Hold the row, so the terms read are the terms changed (an SMS may be taking one
    // from the quota meanwhile).
    tx.lock_account(account).await?;
    let before = tx.account_by_id(account).await?.ok_or(Error::NotFound)?;
    if let Some(quota) = changes.sms_quota.flatten()
        && !(before.sms_enabled && quota <= before.sms_quota)
    {
        check_quota_grant(&mut tx, actor, quota).await?;
    }
    tx.update_account_terms(account, changes).await?;
    if changes.blocking_at.is_some_and(|at| at != before.blocking_at) {
        tx.refresh_blocked_from(account).await?;
    }
    let after = tx.account_by_id(account).await?.ok_or(Error::NotFound)?;
    let details = audit::changes(&describe(&before), &describe(&after), false);
    if details["after"].as_object().is_some_and(|changed| !changed.is_empty()) {
        audit::record(&mut tx, Event::new(account, actor, "account.updated").details(details), now).await?;
    }
    tx.commit().await?;
    Ok(after)
}

/// Whether the actor may give an account `quota` SMS messages: the operator any number,
/// an administrator no more than their own account holds, so a tenant never mints
/// messages it does not have (lowering a quota is always allowed, and not checked here).
pub(crate) async fn check_quota_grant(tx: &mut Tx, actor: &Actor, quota: i64) -> Result<()> {
    let Some(user) = actor.user else {
        return Ok(());
    };
    let own = tx.user_by_id(user).await?.ok_or(Error::Unauthenticated)?.account_id;
    let own = tx.account_by_id(own).await?.ok_or(Error::NotFound)?;
    let most = if own.sms_enabled { own.sms_quota } else { 0 };
    if quota > most {
        let reason = format!("use at most {most}, the messages your own account holds");
        return Err(Error::invalid("sms_quota", reason));
    }
    Ok(())
}

/// The terms as the audit trail shows them.
fn describe(a: &Account) -> Value {
    json!({
        "blocking_date": a.blocking_at.map(|at| from_unix(at).format(&Rfc3339).unwrap_or_default()),
        "sms": a.sms_enabled.then(|| json!({ "quota": a.sms_quota })),
        "email_notifications": a.email_notifications,
    })
}

/// The day (days since 1970-01-01, UTC) of a time.
fn day_of(at: i64) -> i64 {
    at.div_euclid(DAY)
}

/// Whether a notice of a blocking from `blocked_from` is due on `now`'s day, once `now`
/// is past `from_hour`: on each of the 5 calendar days (UTC) before the blocking date.
fn notices_due(blocked_from: i64, now: i64, from_hour: u8) -> bool {
    let days_left = day_of(blocked_from) - day_of(now);
    now.rem_euclid(DAY) >= i64::from(from_hour) * 3600 && (1..=NOTICE_DAYS).contains(&days_left)
}

/// Queues the notices of the day not sent yet, once `now` is past `from_hour` (UTC);
/// returns how many.
pub async fn send_notices(store: &Store, from_hour: u8, now: i64) -> Result<usize> {
    let today = day_of(now);
    // Blocked on one of the next 5 days, and not told so today.
    let window = ((today + 1) * DAY, (today + NOTICE_DAYS + 1) * DAY);
    let due = |recipients: Vec<NoticeRecipient>| {
        recipients.into_iter().filter(|r| notices_due(r.blocked_from, now, from_hour)).collect::<Vec<_>>()
    };
    if due(store.read().await?.notice_recipients(window, today).await?).is_empty() {
        return Ok(0);
    }
    let mut tx = store.write().await?;
    let mut sent = 0;
    for recipient in due(tx.notice_recipients(window, today).await?) {
        if tx.claim_notice(recipient.user_id, today, recipient.blocked_from, now).await? {
            // A notice still unsent when the blocking begins has nothing left to announce.
            let envelope = Envelope {
                account: recipient.account_id,
                priority: Priority::Notice,
                expires_at: Some(recipient.blocked_from),
            };
            delivery::enqueue(&mut tx, &notice(&recipient, today)?, envelope, now).await?;
            sent += 1;
        }
    }
    tx.commit().await?;
    Ok(sent)
}

/// The email announcing the blocking date, in the user's language.
fn notice(r: &NoticeRecipient, today: i64) -> Result<Message> {
    let tr = Tr(Language::parse(&r.language).unwrap_or_default());
    let days = day_of(r.blocked_from) - today;
    emails::blocking(tr, &r.email, &r.account_name, &show_date(r.blocked_from), days)
}

/// "2030-03-06 09:00 UTC".
fn show_date(at: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    from_unix(at).format(&format).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2030-03-06 00:00 UTC.
    const MARCH_6: i64 = 1_898_985_600;
    const HOUR: i64 = 3600;

    /// The days (from 2030-03-06 on) a notice is due at 10:00 for a blocking at `at`.
    fn notice_days(at: i64) -> Vec<i64> {
        (0..12).filter(|d| notices_due(at, MARCH_6 + d * DAY + 10 * HOUR, 9)).collect()
    }

    #[test]
    fn notices_name_the_date_to_the_minute_in_utc() {
        assert_eq!(show_date(MARCH_6 + 9 * HOUR), "2030-03-06 09:00 UTC");
    }

    #[test]
    fn notices_come_on_the_five_days_before_the_blocking_date_whatever_its_hour() {
        let midnight = MARCH_6 + 8 * DAY;
        assert_eq!(notice_days(midnight), [3, 4, 5, 6, 7]);
        assert_eq!(notice_days(midnight + 15 * HOUR), [3, 4, 5, 6, 7]);
        assert_eq!(notice_days(midnight + 23 * HOUR + 59 * 60), [3, 4, 5, 6, 7]);
    }

    #[test]
    fn notices_wait_for_the_hour_of_the_day() {
        let blocked = MARCH_6 + 3 * DAY;
        assert!(!notices_due(blocked, MARCH_6 + 9 * HOUR - 1, 9));
        assert!(notices_due(blocked, MARCH_6 + 9 * HOUR, 9));
        assert!(notices_due(blocked, MARCH_6 + 23 * HOUR, 0));
    }
}
