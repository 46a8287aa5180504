//! What users see and change about themselves on their Security tab: their addresses
//! (a new one must be confirmed again), notices, language and second factors.

use serde::Serialize;

use super::changes::{describe, set_addresses};
use crate::{
    audit::{self, Event},
    error::{Error, Result},
    mfa::{self, Settings},
    passwords::{Hasher, Password},
    policy::{self, CodeDelivery},
    rights::Actor,
    store::{Store, Tx},
    values::User,
};
use crate::{
    reauth,
    values::{Email, Language, Phone, UserId},
};

/// The signed-in user's security settings.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SecuritySettings {
    pub username: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub phone: Option<String>,
    pub phone_verified: bool,
    /// Whether the user may receive SMS at all.
    pub can_send_sms: bool,
    pub can_change_password: bool,
    /// Daily email notices before the account is blocked (sent only while the account's
    /// `email_notifications` service is on).
    pub notify_account_blocking: bool,
    /// Whether the account's `email_notifications` service is on.
    pub email_notifications_service: bool,
    /// An administrator of the account: has the flespi settings.
    pub top_user: bool,
    pub language: String,
    /// The second factor on for each app (`null`: off).
    pub two_factor: Settings,
    /// How the company sends codes.
    pub code_delivery: CodeDelivery,
    /// Whether an authenticator app is set up.
    pub authenticator: bool,
    /// Unused backup codes.
    pub backup_codes_left: i64,
    /// When the account is (or will be) blocked, its own date or one from above; for
    /// the home page's warning.
    #[serde(skip)]
    pub account_blocked_from: Option<i64>,
}

/// Changes users may make to themselves; `None` leaves a field as it is. A new address
/// needs the current password: codes and reset links go there.
#[derive(Debug, Clone, Default)]
pub struct OwnChanges {
    pub email: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub notify_account_blocking: Option<bool>,
    pub language: Option<String>,
    pub current_password: Option<Password>,
}

pub async fn security(store: &Store, id: UserId) -> Result<SecuritySettings> {
    let mut tx = store.read().await?;
    let user = tx.user_by_id(id).await?.ok_or(Error::Unauthenticated)?;
    let facts = Facts::of(&mut tx, &user).await?;
    Ok(settings(user, facts))
}

/// Applies the user's own changes. A changed address needs the current password and is
/// unconfirmed again; a second factor that relied on it stays on, and its codes go to
/// the new address.
pub async fn update_own(
    store: &Store,
    hasher: &Hasher,
    actor: &Actor,
    changes: &OwnChanges,
    now: i64,
) -> Result<SecuritySettings> {
    let email = changes.email.as_ref().map(|e| e.as_deref().map(Email::parse).transpose()).transpose()?;
    let phone = changes.phone.as_ref().map(|p| p.as_deref().map(Phone::parse).transpose()).transpose()?;
    let language = changes.language.as_deref().map(Language::parse).transpose()?;
    let id = actor.own_user()?;
    let moves = |user: &User| {
        let mut moved = user.clone();
        set_addresses(&mut moved, email.clone(), phone.clone());
        (moved.email, moved.phone) != (user.email.clone(), user.phone.clone())
    };
    let missing = || Error::invalid("current_password", "enter your current password to change an address");
    let current = store.read().await?.user_by_id(id).await?.ok_or(Error::Unauthenticated)?;
    let checked = moves(&current);
    if checked {
        let password = changes.current_password.clone().ok_or_else(missing)?;
        reauth::check_current(store, hasher, &current, password, "current_password", now).await?;
    }
    // Decided again on the row as it is now: the password check took a while.
    let mut tx = store.write().await?;
    let before = tx.user_for_update(id).await?.ok_or(Error::Unauthenticated)?;
    if moves(&before) && !checked {
        return Err(missing());
    }
    let mut user = before.clone();
    set_addresses(&mut user, email, phone);
    if let Some(language) = language {
        user.language = language;
    }
    user.notify_account_blocking = changes.notify_account_blocking.unwrap_or(user.notify_account_blocking);
    tx.update_user(&before, &user).await?;
    let details = audit::changes(&describe(&before), &describe(&user), false);
    let event = Event::new(user.account_id, actor, "user.updated").subject(id).details(details);
    audit::record(&mut tx, event, now).await?;
    let facts = Facts::of(&mut tx, &user).await?;
    tx.commit().await?;
    Ok(settings(user, facts))
}

/// What the settings show beyond the user's own row.
struct Facts {
    email_notifications_service: bool,
    two_factor: Settings,
    code_delivery: CodeDelivery,
    authenticator: bool,
    backup_codes_left: i64,
    account_blocked_from: Option<i64>,
}

impl Facts {
    async fn of(tx: &mut Tx, user: &User) -> Result<Self> {
        let account = tx.account_by_id(user.account_id).await?;
        Ok(Self {
            email_notifications_service: account.as_ref().is_some_and(|a| a.email_notifications),
            account_blocked_from: account.and_then(|a| a.blocked_from),
            two_factor: mfa::settings(tx, user.id).await?,
            code_delivery: policy::of_account(tx, user.account_id).await?.delivery,
            authenticator: mfa::method::means(tx, user.id).await?.authenticator,
            backup_codes_left: mfa::backup::left(tx, user.id).await?,
        })
    }
}

fn settings(user: User, facts: Facts) -> SecuritySettings {
    SecuritySettings {
        username: user.username.to_string(),
        email: user.email.map(|e| e.to_string()),
        email_verified: user.email_verified,
        phone: user.phone.map(|p| p.to_string()),
        phone_verified: user.phone_verified,
        can_send_sms: user.can_send_sms,
        can_change_password: user.can_change_password,
        notify_account_blocking: user.notify_account_blocking,
        email_notifications_service: facts.email_notifications_service,
        top_user: user.top_user,
        language: user.language.code().to_owned(),
        two_factor: facts.two_factor,
        code_delivery: facts.code_delivery,
        authenticator: facts.authenticator,
        backup_codes_left: facts.backup_codes_left,
        account_blocked_from: facts.account_blocked_from,
    }
}
