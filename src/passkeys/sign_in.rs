//! Signing in with a passkey, without a password: the browser is offered no list of
//! credentials (so the answer says nothing of which usernames exist), the person picks a
//! passkey, and its user handle and credential id name the user.
//!
//! The lock-outs, blocking, duties and "Login as" of a password sign-in apply on top:
//! `login::with_passkey` puts them around [`identify`] and [`check`].

use webauthn_rs::prelude::{DiscoverableAuthentication, PublicKeyCredential, WebauthnError};
use webauthn_rs_proto::PublicKeyCredentialRequestOptions as RequestOptions;

use super::{
    ceremony::{self, Purpose},
    relying_party::RelyingParty,
    stored::{Facts, verifiers_record},
};
use crate::{
    error::{Error, Result},
    lockout::{self, Rule, Scope},
    store::{PasskeyRow, Store, Tx},
    tokens::{Token, TokenHash},
};

/// Sign-ins begun from one address: every sign-in page shown asks once (for the
/// browser's autofill), so an office whose people share an address stays well within it;
/// a client that asks faster is told to wait a minute rather than fill the table.
const BEGUN_PER_ADDRESS: Rule = Rule { max_failures: 300, window: 60, lock: 60, max_lock: 60 };

/// Begins a sign-in for a client at `ip`: the handle the answer must come back with, and
/// the options for the browser's `navigator.credentials.get()` (a modal prompt, or the
/// autofill list with `mediation: "conditional"`).
pub async fn begin(store: &Store, rp: &RelyingParty, ip: &str, now: i64) -> Result<(Token, RequestOptions)> {
    let (options, state) = rp
        .verifier()
        .start_discoverable_authentication()
        .map_err(|e| Error::Unexpected(anyhow::anyhow!("cannot begin a passkey sign-in: {e}")))?;
    let handle = Token::generate();
    let mut tx = store.write().await?;
    let by_address = lockout::address_subject(ip);
    match lockout::reserve(&mut tx, Scope::PasskeyOptions, &[(&by_address, &BEGUN_PER_ADDRESS)], now).await {
        Err(Error::Locked { retry_after }) => return Err(Error::TooSoon { retry_after }),
        other => other?,
    };
    ceremony::keep(&mut tx, &handle.hash(), Purpose::SignIn, None, &state, now + ceremony::LIFETIME).await?;
    tx.commit().await?;
    Ok((handle, options.public_key))
}

/// A sign-in begun and now answered: the verifier's state, taken once.
pub struct Begun(DiscoverableAuthentication);

/// Takes the sign-in begun under `handle`: `code_expired` if it is unknown, over or
/// answered already.
pub async fn take(tx: &mut Tx, handle: &str, now: i64) -> Result<Begun> {
    let (_, state) = ceremony::take(tx, &TokenHash::of(handle), Purpose::SignIn, now).await?;
    Ok(Begun(state))
}

/// The stored passkey the answer names, if the credential is one and the user handle is
/// its owner's.
pub async fn identify(
    tx: &mut Tx,
    rp: &RelyingParty,
    answer: &PublicKeyCredential,
) -> Result<Option<PasskeyRow>> {
    let Ok((handle, credential_id)) = rp.verifier().identify_discoverable_authentication(answer) else {
        return Ok(None);
    };
    tx.passkey_by_credential(credential_id, handle.as_bytes()).await
}

/// Why a passkey's answer was refused, for the login history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The sign counter did not move forward: the passkey may have been copied.
    CounterWentBack,
    /// Anything else: a wrong origin or challenge, a bad signature, no user verification.
    Wrong,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CounterWentBack => "passkey_counter_went_back",
            Self::Wrong => "wrong_passkey",
        }
    }
}

/// Checks the answer against the passkey [`identify`] found and records its use (its new
/// counter and flags) in `tx`.
pub async fn check(
    tx: &mut Tx,
    rp: &RelyingParty,
    begun: Begun,
    row: &PasskeyRow,
    answer: &PublicKeyCredential,
    now: i64,
) -> Result<std::result::Result<(), Refusal>> {
    let mut passkey = verifiers_record(row)?;
    let result = match rp.verifier().finish_discoverable_authentication_v2(answer, begun.0, &passkey) {
        Ok(result) => result,
        Err(WebauthnError::CredentialPossibleCompromise) => return Ok(Err(Refusal::CounterWentBack)),
        Err(_) => return Ok(Err(Refusal::Wrong)),
    };
    passkey.update_credential(&result);
    let facts = Facts::of(&passkey);
    let credential = serde_json::to_string(&passkey).map_err(|e| Error::Unexpected(e.into()))?;
    let counts = (facts.counter, facts.backup_state);
    if !tx.passkey_used(row.id, row.sign_count, &credential, counts, now).await? {
        // Another sign-in with the same passkey counted meanwhile, from the same number.
        return Ok(Err(Refusal::CounterWentBack));
    }
    Ok(Ok(()))
}
