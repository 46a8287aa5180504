//! The circuit breaker in front of the database: after a failure that says the database is
//! out of reach, requests fail at once for a moment instead of each waiting for the pool.

use crate::error::is_outage;

/// Fails fast while the database is out of reach. Reaching a database that is down
/// takes the pool's whole timeout; after one such failure, requests for the next second
/// get an error at once, and the first after it tries again.
#[derive(Debug)]
pub(super) struct Breaker {
    since: std::time::Instant,
    /// Milliseconds after `since` until which nobody tries.
    open_until: std::sync::atomic::AtomicU64,
}

impl Default for Breaker {
    fn default() -> Self {
        Self { since: std::time::Instant::now(), open_until: Default::default() }
    }
}

impl Breaker {
    const OPEN_FOR_MS: u64 = 1000;

    fn elapsed_ms(&self) -> u64 {
        self.since.elapsed().as_millis() as u64
    }

    pub(super) fn check(&self) -> sqlx::Result<()> {
        // Never opened (the usual case): no clock read on the way to every query.
        let until = self.open_until.load(std::sync::atomic::Ordering::Relaxed);
        match until != 0 && until > self.elapsed_ms() {
            true => Err(sqlx::Error::PoolTimedOut),
            false => Ok(()),
        }
    }

    pub(super) fn observe<T>(&self, result: sqlx::Result<T>) -> sqlx::Result<T> {
        if let Err(e) = &result
            && is_outage(e)
        {
            let until = self.elapsed_ms() + Self::OPEN_FOR_MS;
            self.open_until.store(until, std::sync::atomic::Ordering::Relaxed);
        }
        result
    }
}
