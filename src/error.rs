//! The domain's one error type. Each variant says what happened in words a caller can
//! act on; `http::error` alone decides the status code, and internal detail of
//! `Unexpected` is logged there, never sent.

use time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the username or password is wrong")]
    InvalidCredentials,
    #[error("too many failed attempts; try again later")]
    Locked { retry_after: Duration },
    #[error("the account is blocked")]
    AccountBlocked { notice: Option<Box<crate::values::contact::Blocked>> },
    #[error("the account of the user to act as is blocked")]
    TargetBlocked,
    #[error("sign in first")]
    Unauthenticated,
    #[error("finish the pending steps first")]
    PendingDuty { pending: Vec<crate::values::session::Duty> },
    #[error("you do not have the right to do this")]
    Forbidden,
    #[error("a change made with the session cookie must come from this server's own pages")]
    CrossOrigin,
    #[error("not found")]
    NotFound,
    #[error("{field} is already taken")]
    Conflict { field: &'static str },
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("the code is wrong")]
    InvalidCode { attempts_left: i64, contact: Option<Box<crate::values::contact::Contact>> },
    #[error("no confirmed address can receive a code; ask your company's contact person")]
    NoCodeDestination { contact: Option<Box<crate::values::contact::Contact>> },
    #[error("the code has expired; ask for a new one")]
    CodeExpired,
    /// A passkey's options ran out or were answered already.
    #[error("the passkey request has expired or was answered already; ask for new options")]
    CeremonyExpired,
    #[error("no SMS can be sent: {reason}")]
    SmsUnavailable { reason: &'static str },
    #[error("too soon; try again later")]
    TooSoon { retry_after: Duration },
    #[error("the server is busy; try again in a moment")]
    Overloaded,
    #[error("the service is briefly unavailable; try again in a moment")]
    Unavailable,
    /// The database aborted the transaction for a conflicting one running at the same time
    /// (SQLSTATE 40001, a serialization failure, or 40P01, a deadlock): running it again is
    /// safe and will most likely succeed.
    #[error("a change made at the same moment got in the way; try again")]
    Contended,
    /// A request of OpenID Connect or OAuth refused with one of their error codes
    /// (`invalid_grant`, `invalid_request`, `login_required`...).
    #[error("{error}: {description}")]
    OAuth { error: &'static str, description: String },
    #[error("{service} could not be reached; try again later")]
    Unreachable { service: &'static str },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl Error {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid { field, message: message.into() }
    }

    pub fn oauth(error: &'static str, description: impl Into<String>) -> Self {
        Self::OAuth { error, description: description.into() }
    }
}

impl From<sqlx::Error> for Error {
    /// A database that cannot be reached is `Unavailable` (and logged here, since the
    /// answer says nothing of it); anything else is unexpected.
    fn from(e: sqlx::Error) -> Self {
        if is_outage(&e) {
            tracing::warn!(error = %e, "the database cannot be reached");
            return Self::Unavailable;
        }
        if is_contention(&e) {
            tracing::debug!(error = %e, "a transaction was aborted for a concurrent one");
            return Self::Contended;
        }
        Self::Unexpected(e.into())
    }
}

/// Whether the database is down or out of reach, rather than the query wrong: a lost or
/// refused connection, a pool that found none in time, or PostgreSQL saying it is
/// shutting down, starting up or out of connections.
pub fn is_outage(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
            true
        }
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}

/// Whether the database aborted a transaction because of a concurrent one: a serialization
/// failure (what PostgreSQL at `REPEATABLE READ` or `SERIALIZABLE`, CockroachDB and YugabyteDB
/// answer) or a deadlock.
pub fn is_contention(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|code| matches!(code.as_ref(), "40001" | "40P01"))
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
