//! Lock-outs after repeated failures, counted in the database so every instance agrees.
//!
//! A counter belongs to a scope (what failed: a password, a one-time code) and a subject
//! (a username, a client address). Failures inside a window add up; reaching the rule's
//! limit locks the subject, each consecutive lock twice as long as the one before, up to
//! a ceiling. A success clears the username's counter; an operator can clear one too.
//! Password and code failures are separate scopes, so guessing one never locks the other.
//!
//! A password attempt is counted as a failure *before* its slow hash is checked
//! ([`reserve`]), in one transaction that also checks the lock, and given back when the
//! password proves right ([`release`]). So a burst of parallel guesses is cut off at the
//! limit: no more guesses are ever evaluated than the rule allows.
//!
//! ```text
//!   failures < max ──fail──▶ failures + 1 ──(== max)──▶ locked for lock·2^(lockouts)
//!        ▲                                                      │
//!        └──── window passes / success / operator unlock ◀──────┘
//! ```

use time::Duration;

use crate::{
    error::{Error, Result},
    store::{Counter, Tx},
};

/// When failures lock a subject out.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub max_failures: i64,
    pub window: i64,
    pub lock: i64,
    pub max_lock: i64,
}

/// Password guesses against one username: 5 in 15 minutes lock it for 15 minutes, then
/// 30, 60... up to a day.
pub const PASSWORD_PER_USER: Rule =
    Rule { max_failures: 5, window: 15 * 60, lock: 15 * 60, max_lock: 24 * 3600 };

/// Password guesses from one address: high, since a whole company may share one.
pub const PASSWORD_PER_ADDRESS: Rule =
    Rule { max_failures: 100, window: 15 * 60, lock: 15 * 60, max_lock: 3600 };

/// The subject that counts a username's wrong passwords.
pub fn username_subject(username: &str) -> String {
    format!("user:{username}")
}

/// The subject that counts what comes from one client address.
pub fn address_subject(ip: &str) -> String {
    format!("ip:{ip}")
}

/// What is being counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Password,
    Code,
    /// Password reset requests (not failures, but counted the same way).
    Reset,
    /// Passwordless passkey sign-ins begun (each keeps a ceremony until it runs out).
    PasskeyOptions,
}

impl Scope {
    fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Code => "code",
            Self::Reset => "reset",
            Self::PasskeyOptions => "passkey_options",
        }
    }
}

impl Counter {
    /// Seconds left of the lock, if locked.
    pub fn locked_for(&self, now: i64) -> Option<i64> {
        (self.locked_until > now).then(|| self.locked_until - now)
    }

    /// The counter with one failure given back: an attempt counted in advance by
    /// [`reserve`] that turned out right. A lock that attempt set is lifted again.
    pub fn after_release(mut self, rule: &Rule, now: i64) -> Self {
        if self.failures > 0 {
            self.failures -= 1;
        } else if self.locked_until > now && self.lockouts > 0 {
            self.failures = rule.max_failures - 1;
            self.locked_until = 0;
            self.lockouts -= 1;
        }
        self
    }

    /// The counter after one more failure at `now`.
    pub fn after_failure(mut self, rule: &Rule, now: i64) -> Self {
        if now - self.window_start >= rule.window || self.failures == 0 {
            self.failures = 0;
            self.window_start = now;
        }
        self.failures += 1;
        if self.failures >= rule.max_failures {
            let lock = rule.lock.saturating_mul(1 << self.lockouts.min(20)).min(rule.max_lock);
            self.locked_until = now + lock;
            self.lockouts += 1;
            self.failures = 0;
        }
        self
    }
}

/// Counts an attempt against each subject before it is checked, if none of them is
/// locked; fails with `Locked` (the longest wait) otherwise, counting nothing. The rows
/// are held to the end of the transaction, so parallel attempts take turns. Returns the
/// counters as they now stand, in the order given.
pub async fn reserve(
    tx: &mut Tx,
    scope: Scope,
    subjects: &[(&str, &Rule)],
    now: i64,
) -> Result<Vec<Counter>> {
    let mut counters = Vec::with_capacity(subjects.len());
    for (subject, _) in subjects {
        counters.push(tx.throttle_for_update(scope.as_str(), subject, now).await?);
    }
    if let Some(wait) = counters.iter().filter_map(|c| c.locked_for(now)).max() {
        return Err(Error::Locked { retry_after: Duration::seconds(wait) });
    }
    for ((subject, rule), counter) in subjects.iter().zip(counters.iter_mut()) {
        *counter = counter.after_failure(rule, now);
        tx.save_throttle(scope.as_str(), subject, counter).await?;
    }
    Ok(counters)
}

/// Gives back an attempt [`reserve`] counted, once it proved right.
pub async fn release(tx: &mut Tx, scope: Scope, subject: &str, rule: &Rule, now: i64) -> Result<()> {
    let counter = tx.throttle_for_update(scope.as_str(), subject, now).await?.after_release(rule, now);
    tx.save_throttle(scope.as_str(), subject, &counter).await
}

/// Fails with `Locked` (the longest wait) if any of the subjects is locked.
pub async fn ensure_unlocked(tx: &mut Tx, scope: Scope, subjects: &[&str], now: i64) -> Result<()> {
    let mut wait = 0;
    for subject in subjects {
        if let Some(left) = tx.throttle(scope.as_str(), subject).await?.and_then(|c| c.locked_for(now)) {
            wait = wait.max(left);
        }
    }
    match wait {
        0 => Ok(()),
        secs => Err(Error::Locked { retry_after: Duration::seconds(secs) }),
    }
}

/// A subject's counter as it stands.
pub async fn counter(tx: &mut Tx, scope: Scope, subject: &str) -> Result<Counter> {
    Ok(tx.throttle(scope.as_str(), subject).await?.unwrap_or_default())
}

/// A subject's counter, its row held until the transaction ends so that concurrent
/// attempts take turns.
pub async fn counter_for_update(tx: &mut Tx, scope: Scope, subject: &str, now: i64) -> Result<Counter> {
    tx.throttle_for_update(scope.as_str(), subject, now).await
}

/// Counts a failure; returns the counter as it now stands.
pub async fn record_failure(
    tx: &mut Tx,
    scope: Scope,
    subject: &str,
    rule: &Rule,
    now: i64,
) -> Result<Counter> {
    let counter = tx.throttle_for_update(scope.as_str(), subject, now).await?.after_failure(rule, now);
    tx.save_throttle(scope.as_str(), subject, &counter).await?;
    Ok(counter)
}

/// Forgets a subject's failures; true when it had any.
pub async fn clear(tx: &mut Tx, scope: Scope, subject: &str) -> Result<bool> {
    tx.clear_throttle(scope.as_str(), subject).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: Rule = Rule { max_failures: 5, window: 900, lock: 900, max_lock: 3600 };

    fn fail_times(mut c: Counter, n: usize, now: i64) -> Counter {
        for _ in 0..n {
            c = c.after_failure(&RULE, now);
        }
        c
    }

    #[test]
    fn four_failures_do_not_lock_and_the_fifth_locks_for_the_rule_s_time() {
        let c = fail_times(Counter::default(), 4, 1000);
        assert_eq!(c.locked_for(1000), None);
        let c = c.after_failure(&RULE, 1000);
        assert_eq!(c.locked_for(1000), Some(900));
        assert_eq!(c.locked_for(1900), None);
    }

    #[test]
    fn failures_older_than_the_window_are_forgotten() {
        let c = fail_times(Counter::default(), 4, 1000);
        let c = c.after_failure(&RULE, 1000 + 900);
        assert_eq!(c.failures, 1);
        assert_eq!(c.locked_for(1900), None);
    }

    #[test]
    fn releasing_a_reserved_attempt_undoes_its_failure_and_any_lock_it_set() {
        let three = fail_times(Counter::default(), 3, 1000);
        assert_eq!(three.after_failure(&RULE, 1000).after_release(&RULE, 1000), three);
        let four = fail_times(Counter::default(), 4, 1000);
        let locked = four.after_failure(&RULE, 1000);
        assert_eq!(locked.locked_for(1000), Some(900));
        let released = locked.after_release(&RULE, 1000);
        assert_eq!(released.locked_for(1000), None);
        assert_eq!((released.failures, released.lockouts), (4, 0));
        assert_eq!(released.after_failure(&RULE, 1000).locked_for(1000), Some(900), "the next failure locks");
    }

    #[test]
    fn each_consecutive_lock_doubles_up_to_the_ceiling() {
        let mut c = Counter::default();
        let mut now = 0;
        for expected in [900, 1800, 3600, 3600] {
            c = fail_times(c, 5, now);
            assert_eq!(c.locked_for(now), Some(expected));
            now += expected;
        }
    }
}
