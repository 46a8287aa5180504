//! Adding a passkey: the server's options, then the browser's answer.
//!
//! Only a user signed in as themselves registers passkeys: a session acting as someone
//! else must never leave a way back into that account. Passkeys are asked to be
//! discoverable, so they also sign in without a username.

use uuid::Uuid;
use webauthn_rs::prelude::{CreationChallengeResponse, PasskeyRegistration, RegisterPublicKeyCredential};
use webauthn_rs_proto::ResidentKeyRequirement;

use super::{
    ceremony::{self, Purpose},
    relying_party::RelyingParty,
    stored::{Facts, PasskeyInfo, verifiers_record},
};
use crate::{
    audit::{self, Event},
    error::{Error, Result},
    rights::Actor,
    store::{NewPasskey, Store},
};

/// The longest name a passkey may have, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// Begins a registration for the session's own user: the options for the browser's
/// `navigator.credentials.create()`. A session has one registration under way at a time.
pub async fn begin(
    store: &Store,
    rp: &RelyingParty,
    actor: &Actor,
    session: i64,
    now: i64,
) -> Result<CreationChallengeResponse> {
    let user_id = actor.own_user()?;
    let mut tx = store.write().await?;
    let user = tx.user_by_id(user_id).await?.ok_or(Error::Unauthenticated)?;
    let handle = tx.passkey_handle(user_id, Uuid::new_v4().as_bytes()).await?;
    let handle = Uuid::from_slice(&handle).map_err(|e| Error::Unexpected(e.into()))?;
    let mut registered = Vec::new();
    for row in tx.passkeys_of(user_id).await? {
        registered.push(verifiers_record(&row)?.cred_id().clone());
    }
    let name = user.username.as_str();
    let (mut options, state) = rp
        .verifier()
        .start_passkey_registration(handle, name, name, Some(registered))
        .map_err(|e| Error::Unexpected(anyhow::anyhow!("cannot begin a passkey registration: {e}")))?;
    if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
        selection.resident_key = Some(ResidentKeyRequirement::Required);
        selection.require_resident_key = true;
    }
    let key = ceremony::registration_key(session);
    ceremony::keep(&mut tx, &key, Purpose::Registration, Some(user_id), &state, now + ceremony::LIFETIME)
        .await?;
    tx.commit().await?;
    Ok(options)
}

/// Finishes the session's registration with the browser's answer and stores the passkey
/// under `name` (by default "Passkey N").
pub async fn finish(
    store: &Store,
    rp: &RelyingParty,
    actor: &Actor,
    session: i64,
    name: Option<&str>,
    answer: &RegisterPublicKeyCredential,
    now: i64,
) -> Result<PasskeyInfo> {
    let user_id = actor.own_user()?;
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    if name.is_some_and(|n| n.chars().count() > MAX_NAME_CHARS || n.chars().any(char::is_control)) {
        return Err(Error::invalid("name", format!("use at most {MAX_NAME_CHARS} characters")));
    }
    let mut tx = store.write().await?;
    let key = ceremony::registration_key(session);
    let (owner, state): (_, PasskeyRegistration) =
        ceremony::take(&mut tx, &key, Purpose::Registration, now).await?;
    if owner != Some(user_id) {
        return Err(Purpose::Registration.expired());
    }
    let user = tx.user_by_id(user_id).await?.ok_or(Error::Unauthenticated)?;
    let passkey = rp
        .verifier()
        .finish_passkey_registration(answer, &state)
        .map_err(|e| Error::invalid("credential", format!("the passkey was not accepted: {e}")))?;
    if tx.credential_taken(passkey.cred_id()).await? {
        return Err(Error::Conflict { field: "credential" });
    }
    let facts = Facts::of(&passkey);
    let count = tx.passkeys_of(user_id).await?.len();
    let name = name.map_or_else(|| format!("Passkey {}", count + 1), str::to_owned);
    let credential = serde_json::to_string(&passkey).map_err(|e| Error::Unexpected(e.into()))?;
    let new = NewPasskey {
        user_id,
        credential_id: passkey.cred_id(),
        name: &name,
        credential: &credential,
        sign_count: facts.counter,
        backup_eligible: facts.backup_eligible,
        backup_state: facts.backup_state,
    };
    let id = tx.insert_passkey(&new, now).await?;
    tx.passkey_no_longer_due(user_id).await?;
    let details = serde_json::json!({ "id": id, "name": name, "synced": facts.backup_state });
    let event = Event::new(user.account_id, actor, "passkey.added").subject(user_id).details(details);
    audit::record(&mut tx, event, now).await?;
    let row = tx.passkeys_of(user_id).await?.into_iter().find(|r| r.id == id).ok_or(Error::NotFound)?;
    tx.commit().await?;
    Ok(row.into())
}
