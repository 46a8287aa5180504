//! The background work every instance runs beside its requests: delivering the outbox,
//! queueing the day's blocking notices and purging what has run out. Each loop stops when `stop` completes; the
//! work itself is the domain's (`delivery`, `lifecycle`).

use std::{future::Future, pin::Pin, time::Duration};

use crate::{app::App, clock::to_unix, delivery::Priority};

/// One of the instance's senders: sends due messages until `stop` completes, at once
/// when woken, else every second; a stop lets it finish the message in hand. The first
/// sender also reports the backlog to the metrics.
pub async fn deliver_outbox(app: App, sender: u16, stop: impl Future<Output = ()>) {
    tokio::pin!(stop);
    loop {
        if sender == 0 {
            report_backlog(&app).await;
        }
        loop {
            if has_completed(stop.as_mut()).await {
                return;
            }
            match crate::delivery::deliver_one(&app.store, &app.delivery, &app.keys, &*app.clock).await {
                Ok(true) => continue,
                Ok(false) => break,
                Err(e) => {
                    tracing::warn!(
                        error = format!("{e:#}"),
                        "the outbox could not be read; trying again shortly"
                    );
                    break;
                }
            }
        }
        tokio::select! {
            _ = &mut stop => return,
            _ = app.delivery.wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Whether `stop` has completed, without waiting for it.
async fn has_completed(stop: Pin<&mut impl Future<Output = ()>>) -> bool {
    tokio::select! {
        biased;
        _ = stop => true,
        _ = std::future::ready(()) => false,
    }
}

/// Sets the outbox gauges: how many messages wait per priority, and the oldest's age.
async fn report_backlog(app: &App) {
    let Ok(backlog) = app.store.outbox_backlog().await else { return };
    let now = to_unix(app.now());
    for priority in [Priority::SignInCode, Priority::Awaited, Priority::Notice] {
        let found = backlog.iter().find(|b| b.priority == priority as i64);
        let (waiting, age) = found.map_or((0, 0), |b| (b.waiting, now - b.oldest));
        crate::metrics::outbox_backlog(Priority::label(priority as i64), waiting, age);
    }
}

/// Queues the day's notices every minute until `stop` completes, starting at once (which
/// catches up after a restart).
pub async fn send_notices(app: App, stop: impl Future<Output = ()>) {
    tokio::pin!(stop);
    loop {
        match crate::lifecycle::send_notices(&app.store, app.config.notice_hour, to_unix(app.now())).await {
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

/// Purges what has run out every `purge_seconds` (the first run one period after the
/// start), until `stop` completes; batches are paced so requests never wait long.
pub async fn purge(app: App, stop: impl Future<Output = ()>) {
    tokio::pin!(stop);
    let every = Duration::from_secs(app.config.purge_seconds);
    if every.is_zero() {
        return;
    }
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(every) => {}
        }
        let purging = crate::purge::run(&app.store, app.lifetimes.idle, to_unix(app.now()));
        let purged = tokio::select! {
            _ = &mut stop => return,
            purged = purging => purged,
        };
        match purged {
            Ok(purged) if purged.total() == 0 => {}
            Ok(purged) => {
                tracing::info!(deleted = purged.total(), details = ?purged.0, "purged what ran out")
            }
            Err(e) => tracing::warn!(error = format!("{e:#}"), "purging failed; trying again next time"),
        }
    }
}
