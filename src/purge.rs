//! Deleting what has run out, so that nothing grows forever: sessions, sign-in
//! challenges, reset links, trusted devices, confirmation codes, failure counters
//! (including those of names nobody has), delivered messages and old notices. Audit
//! events are never deleted here; how long to keep them is the operator's decision.
//!
//! Each row is kept a day past its end, so that a late request still gets "expired"
//! rather than "unknown", and a failure counter is forgotten after a day without
//! failures (its doubling lock-outs start over). A message the outbox gave up on is
//! kept a week, for the operator to see why. Rows go in batches of [`BATCH`], each
//! its own short statement, with a rest after each as long as the statement took: a
//! purge of a million rows takes at most half a core and half the database's write
//! turns, so it never keeps a sign-in or a session check waiting for long; every
//! instance may run it at once.

use std::time::Duration;

use serde::Serialize;

use crate::{
    error::Result,
    store::{Expired, Store},
};

/// Rows deleted per statement.
pub const BATCH: i64 = 500;
/// The least rest between two statements.
const REST: Duration = Duration::from_millis(20);
const DAY: i64 = 24 * 3600;

/// How many rows of each kind were deleted, in [`Expired::ALL`]'s order.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Purged(pub Vec<(&'static str, u64)>);

impl Purged {
    pub fn total(&self) -> u64 {
        self.0.iter().map(|(_, n)| n).sum()
    }
}

/// The time before which rows of `what` may go: a day after their end.
fn cutoff(what: Expired, idle: i64, now: i64) -> i64 {
    match what {
        Expired::IdleSessions => now - idle - DAY,
        Expired::AbandonedMessages => now - 7 * DAY,
        // Notices are kept by day number: today's and yesterday's stay.
        Expired::Notices => now.div_euclid(DAY) - 1,
        // A retired key is already kept published until its tokens expire.
        Expired::OidcKeys => now,
        // An unfinished ceremony is of no use to anyone once over.
        Expired::PasskeyCeremonies => now,
        _ => now - DAY,
    }
}

/// Deletes everything that ran out by `now`. `idle` is how long a session that is not
/// remembered lives without a request.
pub async fn run(store: &Store, idle: i64, now: i64) -> Result<Purged> {
    let mut purged = Purged::default();
    for what in Expired::ALL {
        let before = cutoff(what, idle, now);
        let mut deleted = 0;
        loop {
            let started = tokio::time::Instant::now();
            let batch = store.purge_batch(what, before, BATCH).await?;
            deleted += batch;
            if batch < BATCH as u64 {
                break;
            }
            tokio::time::sleep(started.elapsed().max(REST)).await;
        }
        crate::metrics::purged(what.name(), deleted);
        purged.0.push((what.name(), deleted));
    }
    Ok(purged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_kept_a_day_past_their_end_and_given_up_messages_a_week() {
        let now = 100 * DAY + 3600;
        assert_eq!(cutoff(Expired::Sessions, 300, now), now - DAY);
        assert_eq!(cutoff(Expired::IdleSessions, 300, now), now - 300 - DAY);
        assert_eq!(cutoff(Expired::AbandonedMessages, 300, now), now - 7 * DAY);
        assert_eq!(cutoff(Expired::Notices, 300, now), 99, "yesterday's notices stay");
    }
}
