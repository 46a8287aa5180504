//! A passkey as the second factor after a password: the sign-in's challenge offers the
//! user's own passkeys, and its state stays until one answers rightly, so a cancelled
//! prompt or a wrong answer can be tried again (each wrong one counts as a wrong code).

use webauthn_rs::prelude::{PasskeyAuthentication, PublicKeyCredential, WebauthnError};
use webauthn_rs_proto::PublicKeyCredentialRequestOptions as RequestOptions;

use super::{
    ceremony::{self, Purpose},
    relying_party::RelyingParty,
    stored::{Facts, verifiers_record},
};
use crate::{
    error::{Error, Result},
    store::Tx,
    tokens::TokenHash,
    values::UserId,
};

/// Begins the ceremony of a sign-in challenge, kept under the challenge's own handle for
/// as long as the challenge (`until`): the options for `navigator.credentials.get()`,
/// listing the user's passkeys.
pub async fn begin(
    tx: &mut Tx,
    rp: &RelyingParty,
    user: UserId,
    challenge: &TokenHash,
    until: i64,
) -> Result<RequestOptions> {
    let mut passkeys = Vec::new();
    for row in tx.passkeys_of(user).await? {
        passkeys.push(verifiers_record(&row)?);
    }
    if passkeys.is_empty() {
        return Err(Error::invalid("method", "add a passkey first"));
    }
    let (options, state) = rp
        .verifier()
        .start_passkey_authentication(&passkeys)
        .map_err(|e| Error::Unexpected(anyhow::anyhow!("cannot begin a passkey check: {e}")))?;
    ceremony::keep(tx, challenge, Purpose::SecondFactor, Some(user), &state, until).await?;
    Ok(options.public_key)
}

/// Whether the answer proves one of the user's passkeys for the challenge's ceremony; a
/// right one records the passkey's use and ends the ceremony. `code_expired` when the
/// challenge has no ceremony (it asked for a code) or it ran out.
pub async fn check(
    tx: &mut Tx,
    rp: &RelyingParty,
    challenge: &TokenHash,
    user: UserId,
    answer: &PublicKeyCredential,
    now: i64,
) -> Result<bool> {
    let (owner, state): (_, PasskeyAuthentication) =
        ceremony::peek(tx, challenge, Purpose::SecondFactor, now).await?;
    if owner != Some(user) {
        return Err(Purpose::SecondFactor.expired());
    }
    let result = match rp.verifier().finish_passkey_authentication(answer, &state) {
        Ok(result) => result,
        Err(WebauthnError::CredentialPossibleCompromise) => {
            tracing::warn!(user = %user, "a passkey's counter went back: it may have been copied");
            return Ok(false);
        }
        Err(_) => return Ok(false),
    };
    let row =
        tx.passkeys_of(user).await?.into_iter().find(|r| r.credential_id == result.cred_id().as_slice());
    let Some(row) = row else { return Ok(false) };
    let mut passkey = verifiers_record(&row)?;
    passkey.update_credential(&result);
    let facts = Facts::of(&passkey);
    let credential = serde_json::to_string(&passkey).map_err(|e| Error::Unexpected(e.into()))?;
    if !tx.passkey_used(row.id, row.sign_count, &credential, (facts.counter, facts.backup_state), now).await?
    {
        return Ok(false);
    }
    ceremony::take::<PasskeyAuthentication>(tx, challenge, Purpose::SecondFactor, now).await?;
    Ok(true)
}
