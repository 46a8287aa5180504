//! Users: who they are, what they may do, and how they are created and changed.
//!
//! A user belongs to one account and has a creator (the user who made it), which forms
//! the management hierarchy. Usernames are case-sensitive and unique across the server.
//! Every field that arrives from outside is parsed into a type that cannot hold a bad
//! value before anything is stored.

mod actions;
mod changes;
mod grants;
mod own;
mod password;
mod roster;

pub use actions::{end_sessions, unlock};
pub use changes::{UserChanges, update};
pub use grants::set_grants;
pub use own::{OwnChanges, SecuritySettings, security, update_own};
pub use password::{PasswordChange, change_password};
pub use roster::{Holder, Member, Selection, holders, member, members};

use crate::{
    audit::{self, Event},
    error::{Error, Result},
    passwords::{Hasher, Password},
    rights::{Actor, ManagesAccount},
    store::{NewUser, Store},
    values::{AccountId, Email, Language, Phone, StoredHash, User, UserId, Username},
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
) -> Result<User> {
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
) -> Result<User> {
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
