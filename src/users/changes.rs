//! Changes an administrator makes to a user, and what their audit events show.

use crate::{
    audit::{self, Event},
    error::{Error, Result},
    passwords::{Hasher, Password},
    rights::{Actor, ManagesAccount, ManagesUser},
    store::Store,
    values::{Email, Language, Phone, StoredHash, User, UserId},
};

/// Changes to a user an administrator may make; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub email: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    /// The administrator vouches that the (new or present) address is the user's:
    /// codes and links go only to confirmed addresses.
    pub email_verified: Option<bool>,
    pub phone_verified: Option<bool>,
    pub password: Option<Password>,
    pub can_change_password: Option<bool>,
    pub can_send_sms: Option<bool>,
    pub must_change_password: Option<bool>,
    pub top_user: Option<bool>,
    pub language: Option<String>,
}

/// Applies `changes` to a user the caller manages. A new email or phone is unconfirmed
/// again unless the administrator says it is confirmed (the audit event shows it); a
/// password set by an administrator must be changed at the next sign-in when the user
/// may change it.
pub async fn update(
    store: &Store,
    hasher: &Hasher,
    actor: &Actor,
    target: UserId,
    changes: &UserChanges,
    now: i64,
) -> Result<User> {
    let email = changes.email.as_ref().map(|e| e.as_deref().map(Email::parse).transpose()).transpose()?;
    let phone = changes.phone.as_ref().map(|p| p.as_deref().map(Phone::parse).transpose()).transpose()?;
    let language = changes.language.as_deref().map(Language::parse).transpose()?;
    let mut tx = store.write().await?;
    let mut proof = ManagesUser::check(&mut tx, actor, target).await?;
    let new_hash = match &changes.password {
        Some(password) => {
            // Hashing is slow: never hold the write transaction across it, and check the
            // rights again after it.
            let inputs = vec![proof.target().username.to_string()];
            drop(tx);
            let hash = hasher.hash_new(password.clone(), inputs).await?;
            tx = store.write().await?;
            proof = ManagesUser::check(&mut tx, actor, target).await?;
            Some(hash)
        }
        None => None,
    };
    if changes.top_user.is_some() {
        // Making or unmaking an administrator is for those who administer the account.
        ManagesAccount::check(&mut tx, actor, proof.target().account_id).await?;
    }
    let before = tx.user_for_update(target).await?.ok_or(Error::NotFound)?;
    let mut user = before.clone();
    set_addresses(&mut user, email, phone);
    if let Some(verified) = changes.email_verified {
        user.email_verified = verified && user.email.is_some();
    }
    if let Some(verified) = changes.phone_verified {
        user.phone_verified = verified && user.phone.is_some();
    }
    if let Some(language) = language {
        user.language = language;
    }
    user.can_change_password = changes.can_change_password.unwrap_or(user.can_change_password);
    user.can_send_sms = changes.can_send_sms.unwrap_or(user.can_send_sms);
    user.top_user = changes.top_user.unwrap_or(user.top_user);
    if let Some(hash) = new_hash {
        user.password_hash = StoredHash(hash);
        user.must_change_password = user.can_change_password;
        tx.end_sessions_of_user(user.id, None, now).await?;
        tx.revoke_trusted_devices(user.id, None, now).await?;
        tx.delete_challenges_of(user.id).await?;
    }
    user.must_change_password = changes.must_change_password.unwrap_or(user.must_change_password);
    tx.update_user(&before, &user).await?;
    let details = audit::changes(&describe(&before), &describe(&user), changes.password.is_some());
    audit::record(
        &mut tx,
        Event::new(user.account_id, actor, "user.updated").subject(user.id).details(details),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}

/// Puts new addresses on a user (`None`: leave as is; `Some(None)`: remove); a changed
/// address is unconfirmed until its owner confirms it.
pub(super) fn set_addresses(user: &mut User, email: Option<Option<Email>>, phone: Option<Option<Phone>>) {
    if let Some(email) = email
        && user.email != email
    {
        user.email = email;
        user.email_verified = false;
    }
    if let Some(phone) = phone
        && user.phone != phone
    {
        user.phone = phone;
        user.phone_verified = false;
    }
}

/// The fields of a user that an audit event shows before and after a change.
pub(super) fn describe(u: &User) -> serde_json::Value {
    serde_json::json!({
        "email": u.email,
        "email_verified": u.email_verified,
        "phone": u.phone,
        "phone_verified": u.phone_verified,
        "can_change_password": u.can_change_password,
        "can_send_sms": u.can_send_sms,
        "must_change_password": u.must_change_password,
        "top_user": u.top_user,
        "language": u.language,
        "notify_account_blocking": u.notify_account_blocking,
    })
}
