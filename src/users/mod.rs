//! Users: who they are, what they may do, and how they are created and changed.
//!
//! A user belongs to one account and has a creator (the user who made it), which forms
//! the management hierarchy. Usernames are case-sensitive and unique across the server.
//! Every field that arrives from outside is parsed into a type that cannot hold a bad
//! value before anything is stored.

mod actions;
mod grants;
mod own;
mod password;

pub use crate::values::{
    Email, Language, MAX_EMAIL_LEN, MAX_USERNAME_CHARS, Phone, Right, StoredHash, UserId, Username,
    skeleton_of,
};
pub use actions::{end_sessions, unlock};
pub use grants::set_grants;
pub use own::{OwnChanges, SecuritySettings, security, update_own};
pub(crate) use password::check_current;
pub use password::{PasswordChange, change_password};

use crate::{
    accounts::AccountId,
    audit::{self, Event},
    error::{Error, Result},
    passwords::{Hasher, Password},
    rights::{Actor, ManagesAccount, ManagesUser},
    store::{NewUser, Store, UserRow},
};

/// What a caller asks for when creating a user; parsed by [`UserRequest::parse`].
#[derive(Debug, Clone, Default)]
pub struct UserRequest {
    pub username: String,
    pub password: Option<Password>,
    pub email: Option<String>,
    pub email_verified: bool,
    pub phone: Option<String>,
    pub phone_verified: bool,
    pub can_change_password: bool,
    pub can_send_sms: bool,
    /// `None`: forced exactly when the user may change the password, since someone else
    /// chose it.
    pub must_change_password: Option<bool>,
    pub language: Option<String>,
}

impl UserRequest {
    pub fn parse(
        &self,
        account_id: AccountId,
        creator_id: Option<UserId>,
        top_user: bool,
    ) -> Result<NewUser> {
        Ok(NewUser {
            account_id,
            username: Username::parse(&self.username)?,
            creator_id,
            top_user,
            email: self.email.as_deref().map(Email::parse).transpose()?,
            email_verified: self.email_verified && self.email.is_some(),
            phone: self.phone.as_deref().map(Phone::parse).transpose()?,
            phone_verified: self.phone_verified && self.phone.is_some(),
            can_change_password: self.can_change_password,
            can_send_sms: self.can_send_sms,
            must_change_password: self.must_change_password.unwrap_or(self.can_change_password),
            language: self.language.as_deref().map(Language::parse).transpose()?.unwrap_or_default(),
        })
    }

    fn password(&self) -> Result<Password> {
        self.password.clone().ok_or_else(|| Error::invalid("password", "a password is required"))
    }
}

/// Hashes the password a new user will sign in with, checking it against the policy with
/// the user's own names as guesses.
pub async fn hash_initial_password(hasher: &Hasher, request: &UserRequest) -> Result<String> {
    let inputs = [Some(&request.username), request.email.as_ref()].into_iter().flatten().cloned().collect();
    hasher.hash_new(request.password()?, inputs).await
}

/// Creates a user in an account the actor manages, made by `creator` (who will manage
/// it): the actor itself through the API, anyone the operator names at the command line.
pub async fn create(
    store: &Store,
    hasher: &Hasher,
    actor: &Actor,
    account: AccountId,
    creator: Option<UserId>,
    request: &UserRequest,
    now: i64,
) -> Result<UserRow> {
    let new = request.parse(account, creator, false)?;
    let hash = StoredHash(hash_initial_password(hasher, request).await?);
    let mut tx = store.write().await?;
    let proof = ManagesAccount::check(&mut tx, actor, account).await?;
    let user = insert(&mut tx, &proof, actor, &new, &hash, now).await?;
    tx.commit().await?;
    Ok(user)
}

/// Inserts a checked user and records it, inside the caller's transaction.
pub(crate) async fn insert(
    tx: &mut crate::store::Tx,
    proof: &ManagesAccount,
    actor: &Actor,
    new: &NewUser,
    hash: &StoredHash,
    now: i64,
) -> Result<UserRow> {
    let id = tx.insert_user(new, hash, now).await?;
    let user = tx.user_by_id(id).await?.ok_or(Error::NotFound)?;
    let two_factor = crate::mfa::apply_defaults(tx, &user, now).await?;
    let details = serde_json::json!({
        "username": user.username,
        "top_user": user.top_user,
        "can_change_password": user.can_change_password,
        "can_send_sms": user.can_send_sms,
        "email_verified": user.email_verified,
        "phone_verified": user.phone_verified,
        "two_factor": two_factor,
    });
    audit::record(
        tx,
        Event::new(proof.account().id, actor, "user.created").subject(id).details(details),
        now,
    )
    .await?;
    Ok(user)
}

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
) -> Result<UserRow> {
    let email = changes.email.as_ref().map(|e| e.as_deref().map(Email::parse).transpose()).transpose()?;
    let phone = changes.phone.as_ref().map(|p| p.as_deref().map(Phone::parse).transpose()).transpose()?;
    let language = changes.language.as_deref().map(Language::parse).transpose()?;
    let mut tx = store.write().await?;
    let proof = ManagesUser::check(&mut tx, actor, target).await?;
    if changes.top_user.is_some() {
        // Making or unmaking an administrator is for those who administer the account.
        ManagesAccount::check(&mut tx, actor, proof.target().account_id).await?;
    }
    let before = proof.target().clone();
    let mut user = before.clone();
    let new_hash = match &changes.password {
        Some(password) => {
            // Hashing is slow: never hold the write transaction across it.
            drop(tx);
            let inputs = vec![before.username.clone()];
            let hash = hasher.hash_new(password.clone(), inputs).await?;
            tx = store.write().await?;
            ManagesUser::check(&mut tx, actor, target).await?;
            Some(hash)
        }
        None => None,
    };
    set_addresses(&mut user, email, phone);
    if let Some(verified) = changes.email_verified {
        user.email_verified = verified && user.email.is_some();
    }
    if let Some(verified) = changes.phone_verified {
        user.phone_verified = verified && user.phone.is_some();
    }
    if let Some(language) = language {
        user.language = language.code().to_owned();
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
    tx.update_user(&user).await?;
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
fn set_addresses(user: &mut UserRow, email: Option<Option<Email>>, phone: Option<Option<Phone>>) {
    if let Some(email) = email
        && user.email.as_deref() != email.as_ref().map(Email::as_str)
    {
        user.email = email.map(|e| e.as_str().to_owned());
        user.email_verified = false;
    }
    if let Some(phone) = phone
        && user.phone.as_deref() != phone.as_ref().map(Phone::as_str)
    {
        user.phone = phone.map(|p| p.as_str().to_owned());
        user.phone_verified = false;
    }
}

/// The fields of a user that an audit event shows before and after a change.
fn describe(u: &UserRow) -> serde_json::Value {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_chosen_by_someone_else_must_be_changed_when_the_user_may() {
        let request =
            UserRequest { username: "driver".into(), can_change_password: true, ..Default::default() };
        assert!(request.parse(AccountId(1), None, false).unwrap().must_change_password);
        let request = UserRequest { can_change_password: false, ..request };
        assert!(!request.parse(AccountId(1), None, false).unwrap().must_change_password);
    }
}
