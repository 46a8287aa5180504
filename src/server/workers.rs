//! The background work every instance runs beside its requests: delivering the outbox
//! and queueing the day's blocking notices. Each loop stops when `stop` completes; the
//! work itself is the domain's (`delivery`, `lifecycle`).

use std::{future::Future, time::Duration};

use crate::{app::App, clock::to_unix};

/// Sends due messages until `stop` completes: at once when woken, else every second.
pub async fn deliver_outbox(app: App, stop: impl Future<Output = ()>) {
    tokio::pin!(stop);
    loop {
        loop {
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
