//! Users: who they are, what they may do, and how they are created and changed.
//!
//! A user belongs to one account and has a creator (the user who made it), which forms
//! the management hierarchy. Usernames are case-sensitive and unique across the server.
//! Every field that arrives from outside is parsed into a type that cannot hold a bad
//! value before anything is stored.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{
    accounts::AccountId,
    audit::{self, Event},
    error::{Error, Result},
    lockout::{self, Scope},
    passwords::{Hasher, Password},
    rights::{Actor, ManagesAccount, ManagesUser},
    store::{Store, UserRow},
};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[sqlx(transparent)]
#[serde(transparent)]
pub struct UserId(pub i64);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A username: 1 to 64 characters, no control characters, no surrounding spaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Result<Self> {
        let chars = s.chars().count();
        if chars == 0 || chars > 64 {
            return Err(Error::invalid("username", "use 1 to 64 characters"));
        }
        if s.trim() != s || s.chars().any(char::is_control) {
            return Err(Error::invalid(
                "username",
                "no spaces at the ends and no control characters",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address, checked for shape only; confirming it is a separate step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        let valid = s.len() <= 254
            && !s.chars().any(|c| c.is_whitespace() || c.is_control())
            && s.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
            });
        if valid {
            Ok(Self(s.to_owned()))
        } else {
            Err(Error::invalid("email", "not an email address"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A phone number in E.164 form: `+` and 8 to 15 digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(s: &str) -> Result<Self> {
        let digits: String = s
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
            .collect();
        let valid = digits.strip_prefix('+').is_some_and(|d| {
            (8..=15).contains(&d.len())
                && d.bytes().all(|b| b.is_ascii_digit())
                && !d.starts_with('0')
        });
        if valid {
            Ok(Self(digits))
        } else {
            Err(Error::invalid(
                "phone",
                "use the international form, e.g. +35312345678",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The languages the pages and messages are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    En,
    Ru,
    Es,
}

impl Language {
    pub const ALL: [Language; 3] = [Language::En, Language::Ru, Language::Es];

    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Ru => "ru",
            Self::Es => "es",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|l| l.code() == s)
            .ok_or_else(|| Error::invalid("language", "use en, ru or es"))
    }
}

/// A stored password hash. Never printed.
#[derive(Clone, PartialEq, Eq, sqlx::Type)]
#[sqlx(transparent)]
pub struct StoredHash(pub String);

impl fmt::Debug for StoredHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoredHash(<redacted>)")
    }
}

/// A right one user holds on another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Right {
    /// Sign in as the target ("Login as").
    ActAs,
    /// Manage the target as if one had created it.
    Manage,
}

impl Right {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ActAs => "act_as",
            Self::Manage => "manage",
        }
    }
}

/// A user about to be created, every field already checked.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub account_id: AccountId,
    pub username: Username,
    pub creator_id: Option<UserId>,
    pub top_user: bool,
    pub email: Option<Email>,
    pub email_verified: bool,
    pub phone: Option<Phone>,
    pub phone_verified: bool,
    pub can_change_password: bool,
    pub can_send_sms: bool,
    pub must_change_password: bool,
    pub language: Language,
}

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
            must_change_password: self
                .must_change_password
                .unwrap_or(self.can_change_password),
            language: self
                .language
                .as_deref()
                .map(Language::parse)
                .transpose()?
                .unwrap_or_default(),
        })
    }

    fn password(&self) -> Result<Password> {
        self.password
            .clone()
            .ok_or_else(|| Error::invalid("password", "a password is required"))
    }
}

/// Hashes the password a new user will sign in with, checking it against the policy with
/// the user's own names as guesses.
pub async fn hash_initial_password(hasher: &Hasher, request: &UserRequest) -> Result<String> {
    let inputs = [Some(&request.username), request.email.as_ref()]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
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
    let details = serde_json::json!({
        "username": user.username,
        "top_user": user.top_user,
        "can_change_password": user.can_change_password,
        "can_send_sms": user.can_send_sms,
    });
    audit::record(
        tx,
        Event::new(proof.account().id, actor, "user.created")
            .subject(id)
            .details(details),
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
    pub password: Option<Password>,
    pub can_change_password: Option<bool>,
    pub can_send_sms: Option<bool>,
    pub must_change_password: Option<bool>,
    pub top_user: Option<bool>,
    pub language: Option<String>,
}

/// Applies `changes` to a user the caller manages. A new email or phone is unconfirmed
/// again; a password set by an administrator must be changed at the next sign-in when
/// the user may change it.
pub async fn update(
    store: &Store,
    hasher: &Hasher,
    actor: &Actor,
    target: UserId,
    changes: &UserChanges,
    now: i64,
) -> Result<UserRow> {
    let email = changes
        .email
        .as_ref()
        .map(|e| e.as_deref().map(Email::parse).transpose())
        .transpose()?;
    let phone = changes
        .phone
        .as_ref()
        .map(|p| p.as_deref().map(Phone::parse).transpose())
        .transpose()?;
    let language = changes
        .language
        .as_deref()
        .map(Language::parse)
        .transpose()?;
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
    if let Some(email) = email {
        if user.email.as_deref() != email.as_ref().map(Email::as_str) {
            user.email = email.map(|e| e.as_str().to_owned());
            user.email_verified = false;
        }
    }
    if let Some(phone) = phone {
        if user.phone.as_deref() != phone.as_ref().map(Phone::as_str) {
            user.phone = phone.map(|p| p.as_str().to_owned());
            user.phone_verified = false;
        }
    }
    if let Some(language) = language {
        user.language = language.code().to_owned();
    }
    user.can_change_password = changes
        .can_change_password
        .unwrap_or(user.can_change_password);
    user.can_send_sms = changes.can_send_sms.unwrap_or(user.can_send_sms);
    user.top_user = changes.top_user.unwrap_or(user.top_user);
    if let Some(hash) = new_hash {
        user.password_hash = StoredHash(hash);
        user.must_change_password = user.can_change_password;
        tx.end_sessions_of_user(user.id, None, now).await?;
    }
    user.must_change_password = changes
        .must_change_password
        .unwrap_or(user.must_change_password);
    tx.update_user(&user).await?;
    let details = audit::changes(
        &describe(&before),
        &describe(&user),
        changes.password.is_some(),
    );
    audit::record(
        &mut tx,
        Event::new(user.account_id, actor, "user.updated")
            .subject(user.id)
            .details(details),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(user)
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
    })
}

/// Gives `holder` exactly the `rights` on `target` (an empty list takes all away). The
/// caller must manage the target, and be the holder or manage the holder too.
pub async fn set_grants(
    store: &Store,
    actor: &Actor,
    holder: UserId,
    target: UserId,
    rights: &[Right],
    now: i64,
) -> Result<Vec<Right>> {
    if holder == target {
        return Err(Error::invalid(
            "target_id",
            "a user cannot hold rights on itself",
        ));
    }
    let mut tx = store.write().await?;
    let on_target = ManagesUser::check(&mut tx, actor, target).await?;
    if actor.user != Some(holder) {
        ManagesUser::check(&mut tx, actor, holder).await?;
    } else if tx.user_by_id(holder).await?.is_none() {
        return Err(Error::NotFound);
    }
    let before = tx.grants_between(holder, target).await?;
    for right in [Right::ActAs, Right::Manage] {
        let wanted = rights.contains(&right);
        let held = before.iter().any(|r| r == right.as_str());
        if wanted == held {
            continue;
        }
        let action = if wanted {
            tx.insert_grant(holder, target, right, actor.user, now)
                .await?;
            "grant.added"
        } else {
            tx.delete_grant(holder, target, right).await?;
            "grant.removed"
        };
        let details = serde_json::json!({ "holder": holder, "right": right });
        let event = Event::new(on_target.target().account_id, actor, action)
            .subject(target)
            .details(details);
        audit::record(&mut tx, event, now).await?;
    }
    tx.commit().await?;
    Ok([Right::ActAs, Right::Manage]
        .into_iter()
        .filter(|r| rights.contains(r))
        .collect())
}

/// What the user gives to change their own password.
#[derive(Debug, Clone)]
pub struct PasswordChange {
    pub current: Password,
    pub new: Password,
    pub confirmation: Password,
}

/// Changes the signed-in user's own password: the current one first, then the new one
/// twice. Ends every other session of the user and clears the forced-change duty. A wrong
/// current password counts as a failed password attempt.
pub async fn change_password(
    store: &Store,
    hasher: &Hasher,
    actor: &Actor,
    session_id: i64,
    change: PasswordChange,
    now: i64,
) -> Result<()> {
    let Some(id) = actor.user.filter(|_| actor.impersonator.is_none()) else {
        return Err(Error::Forbidden);
    };
    let user = store
        .read()
        .await?
        .user_by_id(id)
        .await?
        .ok_or(Error::Unauthenticated)?;
    if !user.can_change_password {
        return Err(Error::Forbidden);
    }
    if change.new.expose() != change.confirmation.expose() {
        return Err(Error::invalid(
            "new_password_confirmation",
            "the two new passwords differ",
        ));
    }
    if change.new.expose() == change.current.expose() {
        return Err(Error::invalid(
            "new_password",
            "choose a password different from the current one",
        ));
    }
    let subject = format!("user:{}", user.username);
    {
        let mut tx = store.read().await?;
        lockout::ensure_unlocked(&mut tx, Scope::Password, &[&subject], now).await?;
    }
    if !hasher
        .verify(change.current, Some(user.password_hash.0.clone()))
        .await?
    {
        let mut tx = store.write().await?;
        lockout::record_failure(
            &mut tx,
            Scope::Password,
            &subject,
            &lockout::PASSWORD_PER_USER,
            now,
        )
        .await?;
        tx.commit().await?;
        return Err(Error::invalid(
            "current_password",
            "the current password is wrong",
        ));
    }
    let inputs = [Some(&user.username), user.email.as_ref()]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    let hash = hasher
        .hash_new(change.new, inputs)
        .await
        .map_err(|e| match e {
            Error::Invalid { message, .. } => Error::Invalid {
                field: "new_password",
                message,
            },
            other => other,
        })?;
    let mut tx = store.write().await?;
    let mut user = tx.user_by_id(id).await?.ok_or(Error::Unauthenticated)?;
    user.password_hash = StoredHash(hash);
    user.must_change_password = false;
    tx.update_user(&user).await?;
    let ended = tx.end_sessions_of_user(id, Some(session_id), now).await?;
    let details = serde_json::json!({ "other_sessions_ended": ended });
    audit::record(
        &mut tx,
        Event::new(user.account_id, actor, "password.changed")
            .subject(id)
            .details(details),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_keep_their_case_and_refuse_blank_or_padded_values() {
        assert_eq!(
            Username::parse("Dispatcher").unwrap().as_str(),
            "Dispatcher"
        );
        assert!(Username::parse("").is_err());
        assert!(Username::parse(" admin").is_err());
        assert!(Username::parse("a\u{7}b").is_err());
        assert!(Username::parse(&"u".repeat(65)).is_err());
    }

    #[test]
    fn emails_and_phones_are_checked_for_shape() {
        assert!(Email::parse("ops@fleet.example").is_ok());
        for bad in [
            "ops",
            "ops@",
            "@fleet.example",
            "ops@fleet",
            "o ps@fleet.example",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Phone::parse("+353 1 234-5678").unwrap().as_str(),
            "+35312345678"
        );
        for bad in ["35312345678", "+0123456789", "+12", "+3531234567890123"] {
            assert!(Phone::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_password_chosen_by_someone_else_must_be_changed_when_the_user_may() {
        let request = UserRequest {
            username: "driver".into(),
            can_change_password: true,
            ..Default::default()
        };
        assert!(
            request
                .parse(AccountId(1), None, false)
                .unwrap()
                .must_change_password
        );
        let request = UserRequest {
            can_change_password: false,
            ..request
        };
        assert!(
            !request
                .parse(AccountId(1), None, false)
                .unwrap()
                .must_change_password
        );
    }
}
