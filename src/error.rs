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
    AccountBlocked,
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
    #[error("no SMS can be sent: {reason}")]
    SmsUnavailable { reason: &'static str },
    #[error("too soon; try again later")]
    TooSoon { retry_after: Duration },
    #[error("the server is busy; try again in a moment")]
    Overloaded,
    #[error("{service} could not be reached; try again later")]
    Unreachable { service: &'static str },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl Error {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid { field, message: message.into() }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Self::Unexpected(e.into())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
