//! Second factors: which one each user has on for each app, the sign-in challenge that
//! asks for it, and the one-time codes that also confirm addresses.

pub mod backup;
pub mod challenge;
pub mod codes;
pub mod devices;
mod dispatch;
pub mod method;
pub mod totp;

pub use method::{Means, Method, Settings, default_method, settings};

use crate::{
    audit::{self, Event},
    error::{Error, Result},
    passwords::{Hasher, Password},
    policy::{self, CodeDelivery},
    reauth,
    rights::Actor,
    store::{Store, Tx},
    values::{AppKind, User},
};

/// Sets the user's own second factor per app (`None`: off), all or nothing. Email
/// needs a confirmed address, SMS a confirmed phone and a company that allows SMS codes,
/// TOTP an authenticator app, a passkey at least one passkey. Turning a factor off or replacing it needs the current
/// password (a stolen session must not be able to lower the account's protection);
/// turning one on where there was none does not. Each app that changes is an audit
/// event.
pub async fn set(
    store: &Store,
    hasher: &Hasher,
    actor: &Actor,
    changes: &[(AppKind, Option<Method>)],
    password: Option<Password>,
    now: i64,
) -> Result<Settings> {
    let id = actor.own_user()?;
    let (user, before) = {
        let mut tx = store.read().await?;
        (tx.user_by_id(id).await?.ok_or(Error::Unauthenticated)?, settings(&mut tx, id).await?)
    };
    let lowers = |settings: &Settings| {
        changes.iter().any(|&(app, method)| settings.get(app).is_some_and(|b| Some(b) != method))
    };
    let checked = lowers(&before);
    if checked {
        let password =
            password.ok_or_else(|| Error::invalid("current_password", "enter your current password"))?;
        reauth::check_current(store, hasher, &user, password, "current_password", now).await?;
    }
    let mut tx = store.write().await?;
    // Held until the change is in: a passkey or an authenticator removed meanwhile waits.
    tx.user_for_update(id).await?;
    let delivery = policy::of_account(&mut tx, user.account_id).await?.delivery;
    let means = method::means(&mut tx, id).await?;
    for method in changes.iter().filter_map(|(_, m)| *m) {
        check_usable(&user, method, delivery, means)?;
    }
    let mut settings = settings(&mut tx, id).await?;
    if !checked && lowers(&settings) {
        // A factor was turned on meanwhile: this change now lowers it.
        return Err(Error::invalid("current_password", "enter your current password"));
    }
    for &(app, method) in changes {
        let before = std::mem::replace(settings.slot(app), method);
        if before == method {
            continue;
        }
        tx.set_two_factor(id, app.as_str(), method.map(Method::as_str), now).await?;
        let details = serde_json::json!({ "app": app, "method": method, "before": before });
        let event = Event::new(user.account_id, actor, "two_factor.changed").subject(id).details(details);
        audit::record(&mut tx, event, now).await?;
    }
    tx.commit().await?;
    Ok(settings)
}

/// An administrator's reset of a user's second factor, for a lost phone: the
/// authenticator, passkeys, backup codes and trusted devices go, and 2FA is off in every
/// app until the user sets it up again.
pub async fn reset(store: &Store, actor: &Actor, target: crate::values::UserId, now: i64) -> Result<()> {
    let mut tx = store.write().await?;
    let proof = crate::rights::ManagesUser::check(&mut tx, actor, target).await?;
    let user = proof.target();
    let before = settings(&mut tx, user.id).await?;
    let had_authenticator = totp::remove(&mut tx, user.id, now).await?;
    let passkeys = tx.delete_passkeys_of(user.id).await?;
    for app in [AppKind::Web, AppKind::Manager] {
        tx.set_two_factor(user.id, app.as_str(), None, now).await?;
    }
    let devices = tx.revoke_trusted_devices(user.id, None, now).await?;
    tx.delete_challenges_of(user.id).await?;
    let details = serde_json::json!({
        "before": before,
        "authenticator_removed": had_authenticator,
        "passkeys_removed": passkeys,
        "trusted_devices_revoked": devices,
    });
    let event = Event::new(user.account_id, actor, "two_factor.reset").subject(user.id).details(details);
    audit::record(&mut tx, event, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Sets the company's defaults on a user just created, inside the caller's transaction.
pub(crate) async fn apply_defaults(tx: &mut Tx, user: &User, now: i64) -> Result<Settings> {
    let policy = policy::of_account(tx, user.account_id).await?;
    let method = default_method(policy.delivery);
    let mut settings = Settings::default();
    for app in policy.defaults.apps() {
        tx.set_two_factor(user.id, app.as_str(), Some(method.as_str()), now).await?;
        *settings.slot(app) = Some(method);
    }
    Ok(settings)
}

fn check_usable(user: &User, method: Method, delivery: CodeDelivery, means: Means) -> Result<()> {
    match method {
        Method::Totp if !means.authenticator => {
            Err(Error::invalid("method", "add an authenticator app first"))
        }
        Method::Passkey if !means.passkey => Err(Error::invalid("method", "add a passkey first")),
        Method::Email if !(user.email.is_some() && user.email_verified) => {
            Err(Error::invalid("method", "confirm your email address first"))
        }
        Method::Sms if delivery == CodeDelivery::EmailOnly => {
            Err(Error::invalid("method", "your company sends codes by email only"))
        }
        Method::Sms if !(user.phone.is_some() && user.phone_verified) => {
            Err(Error::invalid("method", "confirm your phone number first"))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::{AccountId, Email, Language, Phone, UserId, Username};

    fn user(email_verified: bool, phone_verified: bool) -> User {
        User {
            id: UserId(1),
            account_id: AccountId(1),
            username: Username::from_stored("driver".into()),
            creator_id: None,
            top_user: false,
            email: Some(Email::from_stored("driver@fleet.example".into())),
            email_verified,
            phone: Some(Phone::from_stored("+35312345678".into())),
            phone_verified,
            password_hash: crate::values::StoredHash(String::new()),
            can_change_password: false,
            can_send_sms: true,
            must_change_password: false,
            language: Language::En,
            dpa_accepted_version: 0,
            notify_account_blocking: false,
            created_at: 0,
        }
    }

    #[test]
    fn a_method_needs_its_own_address_confirmed() {
        let sms = CodeDelivery::SmsThenEmail;
        assert!(check_usable(&user(true, false), Method::Email, sms, Means::default()).is_ok());
        assert!(check_usable(&user(false, true), Method::Email, sms, Means::default()).is_err());
        assert!(check_usable(&user(false, true), Method::Sms, sms, Means::default()).is_ok());
        assert!(check_usable(&user(true, false), Method::Sms, sms, Means::default()).is_err());
    }

    #[test]
    fn an_authenticator_must_be_added_before_it_is_chosen() {
        let sms = CodeDelivery::SmsThenEmail;
        assert!(check_usable(&user(false, false), Method::Totp, sms, Means::default()).is_err());
        assert!(
            check_usable(
                &user(false, false),
                Method::Totp,
                sms,
                Means { authenticator: true, passkey: false }
            )
            .is_ok()
        );
    }

    #[test]
    fn a_passkey_is_chosen_only_by_someone_who_has_one() {
        let sms = CodeDelivery::SmsThenEmail;
        assert!(check_usable(&user(true, true), Method::Passkey, sms, Means::default()).is_err());
        let has = Means { authenticator: false, passkey: true };
        assert!(check_usable(&user(false, false), Method::Passkey, sms, has).is_ok());
    }

    #[test]
    fn a_company_that_sends_codes_by_email_only_refuses_sms_and_defaults_to_email() {
        assert!(
            check_usable(&user(true, true), Method::Sms, CodeDelivery::EmailOnly, Means::default()).is_err()
        );
        assert_eq!(default_method(CodeDelivery::EmailOnly), Method::Email);
        assert_eq!(default_method(CodeDelivery::SmsThenEmail), Method::Sms);
    }
}
