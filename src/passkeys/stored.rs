//! Passkeys as the database keeps them: what their owner sees, listing and removing
//! them, and the verifier's record of each.

use serde::Serialize;
use time::OffsetDateTime;
use webauthn_rs::prelude::{Credential, Passkey};

use crate::{
    audit::{self, Event},
    clock::from_unix,
    error::{Error, Result},
    mfa::method::Method,
    passwords::{Hasher, Password},
    reauth,
    rights::Actor,
    store::{PasskeyRow, Store},
    values::UserId,
};

/// A passkey as its owner sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PasskeyInfo {
    pub id: i64,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    /// The authenticator may copy it to the owner's other devices (a synced passkey).
    pub backup_eligible: bool,
    /// It was copied, as of its last use.
    pub backup_state: bool,
}

impl From<PasskeyRow> for PasskeyInfo {
    fn from(row: PasskeyRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            created_at: from_unix(row.created_at),
            last_used_at: row.last_used_at.map(from_unix),
            backup_eligible: row.backup_eligible,
            backup_state: row.backup_state,
        }
    }
}

/// The user's passkeys, oldest first.
pub async fn list(store: &Store, user: UserId) -> Result<Vec<PasskeyInfo>> {
    Ok(store.read().await?.passkeys_of(user).await?.into_iter().map(PasskeyInfo::from).collect())
}

/// Removes one of the user's own passkeys, with the current password: a stolen session
/// must not be able to take a factor away. The last one goes only once no app asks for a
/// passkey as the second factor.
pub async fn remove(
    store: &Store,
    hasher: &Hasher,
    actor: &Actor,
    id: i64,
    password: Password,
    now: i64,
) -> Result<()> {
    let user_id = actor.own_user()?;
    let user = store.read().await?.user_by_id(user_id).await?.ok_or(Error::Unauthenticated)?;
    reauth::check_current(store, hasher, &user, password, "current_password", now).await?;
    let mut tx = store.write().await?;
    // The user's row, held: a second factor set to "passkey" meanwhile, or another
    // passkey removed at once, waits its turn and sees what this one leaves.
    tx.user_for_update(user_id).await?;
    let name = tx.delete_passkey(user_id, id).await?.ok_or(Error::NotFound)?;
    let in_use = tx.two_factor_settings(user_id).await?.iter().any(|(_, m)| m == Method::Passkey.as_str());
    if in_use && !tx.has_passkey(user_id).await? {
        return Err(Error::invalid("id", "choose another second factor before removing your last passkey"));
    }
    let details = serde_json::json!({ "id": id, "name": name });
    let event = Event::new(user.account_id, actor, "passkey.removed").subject(user_id).details(details);
    audit::record(&mut tx, event, now).await?;
    tx.commit().await?;
    Ok(())
}

/// What the verifier records of a passkey that the columns beside it show.
pub(super) struct Facts {
    pub counter: i64,
    pub backup_eligible: bool,
    pub backup_state: bool,
}

impl Facts {
    pub fn of(passkey: &Passkey) -> Self {
        // The counter and flags have no getter on `Passkey`; its credential has them.
        let credential = Credential::from(passkey.clone());
        Self {
            counter: i64::from(credential.counter),
            backup_eligible: credential.backup_eligible,
            backup_state: credential.backup_state,
        }
    }
}

/// The verifier's record of a stored passkey.
pub(super) fn verifiers_record(row: &PasskeyRow) -> Result<Passkey> {
    serde_json::from_str(&row.credential).map_err(|e| Error::Unexpected(e.into()))
}
