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
    /// OpenID Connect authorization codes.
    OidcCodes,
    /// Refresh tokens of grants that are over: revoked, or their session ended.
    OidcRefreshTokens,
    /// Grants that are over, once their tokens and codes are gone.
    OidcGrants,
    /// Retired signing keys no longer published.
    OidcKeys,
    /// Passkey ceremonies never finished.
    PasskeyCeremonies,
}

/// The grants that are over: revoked, or their session ended, expired or went idle,
/// before `$1`.
macro_rules! grants_over {
    () => {
        "SELECT g.id FROM oidc_grants g JOIN sessions s ON s.id = g.session_id \
         WHERE g.revoked_at < $1 OR s.ended_at < $1 OR s.expires_at < $1 OR (NOT s.remember AND s.last_seen_at < $1)"
    };
}

/// Sessions no grant or code of an app refers to any more (those go first).
macro_rules! unreferenced {
    () => {
        " AND NOT EXISTS (SELECT 1 FROM oidc_grants g WHERE g.session_id = sessions.id) \
         AND NOT EXISTS (SELECT 1 FROM oidc_codes c WHERE c.session_id = sessions.id)"
    };
}

impl Expired {
    pub const ALL: [Self; 16] = [
        Self::OidcCodes,
        Self::OidcRefreshTokens,
        Self::OidcGrants,
        Self::OidcKeys,
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
        Self::PasskeyCeremonies,
    ];

    fn statement(self) -> &'static str {
        match self {
            Self::Sessions => concat!(
                "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE expires_at < $1",
                unreferenced!(),
                " LIMIT $2)"
            ),
            Self::EndedSessions => concat!(
                "DELETE FROM sessions WHERE id IN \
                 (SELECT id FROM sessions WHERE ended_at IS NOT NULL AND ended_at < $1",
                unreferenced!(),
                " LIMIT $2)"
            ),
            Self::IdleSessions => concat!(
                "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions \
                 WHERE NOT remember AND ended_at IS NULL AND last_seen_at < $1",
                unreferenced!(),
                " LIMIT $2)"
            ),
            Self::OidcCodes => {
                "DELETE FROM oidc_codes WHERE code_hash IN \
                 (SELECT code_hash FROM oidc_codes WHERE expires_at < $1 LIMIT $2)"
            }
            Self::OidcRefreshTokens => concat!(
                "DELETE FROM oidc_refresh_tokens WHERE token_hash IN (SELECT token_hash FROM oidc_refresh_tokens \
                 WHERE grant_id IN (",
                grants_over!(),
                ") LIMIT $2)"
            ),
            Self::OidcGrants => concat!(
                "DELETE FROM oidc_grants WHERE id IN (SELECT id FROM oidc_grants WHERE id IN (",
                grants_over!(),
                ") AND NOT EXISTS (SELECT 1 FROM oidc_refresh_tokens r WHERE r.grant_id = oidc_grants.id) \
                 AND NOT EXISTS (SELECT 1 FROM oidc_codes c WHERE c.grant_id = oidc_grants.id) LIMIT $2)"
            ),
            Self::OidcKeys => {
                "DELETE FROM oidc_keys WHERE kid IN (SELECT kid FROM oidc_keys WHERE retired_at < $1 LIMIT $2)"
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
            Self::PasskeyCeremonies => {
                "DELETE FROM passkey_ceremonies WHERE key_hash IN \
                 (SELECT key_hash FROM passkey_ceremonies WHERE expires_at < $1 LIMIT $2)"
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
            Self::OidcCodes => "oidc_codes",
            Self::OidcRefreshTokens => "oidc_refresh_tokens",
            Self::OidcGrants => "oidc_grants",
            Self::OidcKeys => "oidc_keys",
            Self::PasskeyCeremonies => "passkey_ceremonies",
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
