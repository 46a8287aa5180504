//! Deleting what has expired, a bounded batch per statement so that no write waits long
//! behind one.

use super::db::{Store, with_writer};
use crate::error::Result;

/// The kinds of rows that run out, each with the statement that deletes up to `$2` of
/// them whose time ended before `$1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    /// Sessions past their absolute end.
    Sessions,
    /// Sessions ended by signing out, a password change or an administrator.
    EndedSessions,
    /// Sessions that were not remembered, idle since `$1`.
    IdleSessions,
    Challenges,
    ResetLinks,
    TrustedDevices,
    Verifications,
    /// Failure counters with no failure and no lock since `$1`.
    Throttles,
    SentMessages,
    AbandonedMessages,
    /// Blocking notices of days before `$1` (a day number).
    Notices,
}

impl Expired {
    pub const ALL: [Self; 11] = [
        Self::Sessions,
        Self::EndedSessions,
        Self::IdleSessions,
        Self::Challenges,
        Self::ResetLinks,
        Self::TrustedDevices,
        Self::Verifications,
        Self::Throttles,
        Self::SentMessages,
        Self::AbandonedMessages,
        Self::Notices,
    ];

    fn statement(self) -> &'static str {
        match self {
            Self::Sessions => {
                "DELETE FROM sessions WHERE id IN \
                 (SELECT id FROM sessions WHERE expires_at < $1 LIMIT $2)"
            }
            Self::EndedSessions => {
                "DELETE FROM sessions WHERE id IN \
                 (SELECT id FROM sessions WHERE ended_at IS NOT NULL AND ended_at < $1 LIMIT $2)"
            }
            Self::IdleSessions => {
                "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions \
                 WHERE NOT remember AND ended_at IS NULL AND last_seen_at < $1 LIMIT $2)"
            }
            Self::Challenges => {
                "DELETE FROM challenges WHERE id IN \
                 (SELECT id FROM challenges WHERE expires_at < $1 LIMIT $2)"
            }
            Self::ResetLinks => {
                "DELETE FROM password_resets WHERE user_id IN \
                 (SELECT user_id FROM password_resets WHERE expires_at < $1 LIMIT $2)"
            }
            Self::TrustedDevices => {
                "DELETE FROM trusted_devices WHERE id IN \
                 (SELECT id FROM trusted_devices WHERE expires_at < $1 LIMIT $2)"
            }
            Self::Verifications => {
                "DELETE FROM verifications WHERE (user_id, channel) IN \
                 (SELECT user_id, channel FROM verifications WHERE expires_at < $1 LIMIT $2)"
            }
            Self::Throttles => {
                "DELETE FROM throttles WHERE (scope, subject) IN (SELECT scope, subject FROM throttles \
                 WHERE window_start < $1 AND locked_until < $1 LIMIT $2)"
            }
            Self::SentMessages => {
                "DELETE FROM outbox WHERE id IN \
                 (SELECT id FROM outbox WHERE sent_at IS NOT NULL AND sent_at < $1 LIMIT $2)"
            }
            Self::AbandonedMessages => {
                "DELETE FROM outbox WHERE id IN \
                 (SELECT id FROM outbox WHERE gave_up_at IS NOT NULL AND gave_up_at < $1 LIMIT $2)"
            }
            Self::Notices => {
                "DELETE FROM blocking_notices WHERE (user_id, day) IN \
                 (SELECT user_id, day FROM blocking_notices WHERE day < $1 LIMIT $2)"
            }
        }
    }

    /// The name `purge` prints and the metrics label.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sessions => "expired_sessions",
            Self::EndedSessions => "ended_sessions",
            Self::IdleSessions => "idle_sessions",
            Self::Challenges => "challenges",
            Self::ResetLinks => "reset_links",
            Self::TrustedDevices => "trusted_devices",
            Self::Verifications => "verification_codes",
            Self::Throttles => "throttles",
            Self::SentMessages => "sent_messages",
            Self::AbandonedMessages => "abandoned_messages",
            Self::Notices => "blocking_notices",
        }
    }
}

impl Store {
    /// Deletes up to `limit` rows of `what` that ran out before `before`; how many it
    /// deleted. One short statement, in its turn among the writers.
    pub async fn purge_batch(&self, what: Expired, before: i64, limit: i64) -> Result<u64> {
        Ok(with_writer!(self, pool => sqlx::query(what.statement())
            .bind(before)
            .bind(limit)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?)
    }
}
