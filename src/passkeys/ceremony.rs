//! Ceremonies between their two halves: the verifier's state, kept in the database under
//! the hash of a key only the client (or its session) knows, for five minutes, and taken
//! once.

use serde::{Serialize, de::DeserializeOwned};

use crate::{
    error::{Error, Result},
    store::{CeremonyRow, Tx},
    tokens::TokenHash,
    values::UserId,
};

/// How long a browser has to answer; the options ask it for as long.
pub const LIFETIME: i64 = 5 * 60;

/// What a ceremony is for: a state kept for one purpose never finishes another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Registration,
    SignIn,
    SecondFactor,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::Registration => "registration",
            Self::SignIn => "sign_in",
            Self::SecondFactor => "second_factor",
        }
    }

    /// What a caller is told when the ceremony is gone: as a second factor it lives and
    /// dies with its sign-in challenge, whose code has run out; otherwise the options have.
    pub fn expired(self) -> Error {
        match self {
            Self::SecondFactor => Error::CodeExpired,
            Self::Registration | Self::SignIn => Error::CeremonyExpired,
        }
    }
}

/// The key a session's registration is kept under: one at a time per session.
pub fn registration_key(session: i64) -> TokenHash {
    TokenHash::of(&format!("passkey registration of session {session}"))
}

/// Keeps the state of a ceremony just begun until `expires_at`, replacing one begun under
/// the same key.
pub async fn keep(
    tx: &mut Tx,
    key: &TokenHash,
    purpose: Purpose,
    user: Option<UserId>,
    state: &impl Serialize,
    expires_at: i64,
) -> Result<()> {
    let state = serde_json::to_string(state).map_err(|e| Error::Unexpected(e.into()))?;
    let row = CeremonyRow { user_id: user, purpose: purpose.as_str().to_owned(), state, expires_at };
    tx.put_ceremony(&key.0, &row).await
}

/// Takes the ceremony kept under `key` for `purpose`: `code_expired` when there is none
/// (never begun, finished already, or for something else) or its time ran out.
pub async fn take<S: DeserializeOwned>(
    tx: &mut Tx,
    key: &TokenHash,
    purpose: Purpose,
    now: i64,
) -> Result<(Option<UserId>, S)> {
    open(tx.take_ceremony(&key.0).await?, purpose, now)
}

/// The ceremony kept under `key` for `purpose`, left in place to be tried again.
pub async fn peek<S: DeserializeOwned>(
    tx: &mut Tx,
    key: &TokenHash,
    purpose: Purpose,
    now: i64,
) -> Result<(Option<UserId>, S)> {
    open(tx.ceremony(&key.0).await?, purpose, now)
}

fn open<S: DeserializeOwned>(
    row: Option<CeremonyRow>,
    purpose: Purpose,
    now: i64,
) -> Result<(Option<UserId>, S)> {
    let row = row
        .filter(|r| r.purpose == purpose.as_str() && r.expires_at > now)
        .ok_or_else(|| purpose.expired())?;
    let state = serde_json::from_str(&row.state).map_err(|e| Error::Unexpected(e.into()))?;
    Ok((row.user_id, state))
}
