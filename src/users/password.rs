//! A user changing their own password.

use crate::{
    audit::{self, Event},
    error::{Error, Result},
    passwords::{Hasher, Password},
    rights::Actor,
    store::Store,
};
use crate::{
    reauth,
    values::{StoredHash, User},
};

/// What the user gives to change their own password.
#[derive(Debug, Clone)]
pub struct PasswordChange {
    pub current: Password,
    pub new: Password,
    pub confirmation: Password,
}

/// Changes the password of the person signed in (the impersonator, when acting as
/// someone: the forced change is their duty): the current one first, then the new one
/// twice. Ends every other session of theirs and clears the forced-change duty. A wrong
/// current password counts as a failed password attempt.
pub async fn change_password(
    store: &Store,
    hasher: &Hasher,
    actor: &Actor,
    session_id: i64,
    change: PasswordChange,
    now: i64,
) -> Result<()> {
    let id = actor.person()?;
    let user = store.read().await?.user_by_id(id).await?.ok_or(Error::Unauthenticated)?;
    if !user.can_change_password {
        return Err(Error::Forbidden);
    }
    if change.new.expose() != change.confirmation.expose() {
        return Err(Error::invalid("new_password_confirmation", "the two new passwords differ"));
    }
    if change.new.expose() == change.current.expose() {
        return Err(Error::invalid("new_password", "choose a password different from the current one"));
    }
    reauth::check_current(store, hasher, &user, change.current, "current_password", now).await?;
    let inputs = [Some(user.username.to_string()), user.email.as_ref().map(|e| e.to_string())]
        .into_iter()
        .flatten()
        .collect();
    let hash = hasher.hash_new(change.new, inputs).await.map_err(|e| match e {
        Error::Invalid { message, .. } => Error::Invalid { field: "new_password", message },
        other => other,
    })?;
    let mut tx = store.write().await?;
    let before = tx.user_for_update(id).await?.ok_or(Error::Unauthenticated)?;
    let user = User { password_hash: StoredHash(hash), must_change_password: false, ..before.clone() };
    tx.update_user(&before, &user).await?;
    let ended = tx.end_sessions_of_user(id, Some(session_id), now).await?;
    let untrusted = tx.revoke_trusted_devices(id, None, now).await?;
    tx.delete_challenges_of(id).await?;
    let details = serde_json::json!({ "other_sessions_ended": ended, "trusted_devices_revoked": untrusted });
    audit::record(
        &mut tx,
        Event::new(user.account_id, actor, "password.changed").subject(id).details(details),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
