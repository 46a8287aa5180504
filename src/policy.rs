//! Each company's second-factor policy: how codes travel (SMS first with email as the
//! fallback, or email only), whom users should call after three wrong codes, whether new
//! users start with 2FA on in the web and manager apps, and who must use a passkey.
//!
//! Administrators of the account and of accounts above may read it; only the account's
//! own top users may change it, and every change is an audit event.

use serde::{Deserialize, Serialize};

use crate::{
    audit::{self, Event},
    error::{Error, Result},
    rights::{Actor, ManagesAccount},
    store::{PolicyRow, Store, Tx},
    values::{AccountId, AppKind, Contact, Email, Phone},
};

/// How sign-in codes travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CodeDelivery {
    /// SMS for users who chose SMS, email whenever an SMS cannot be sent.
    #[default]
    SmsThenEmail,
    /// Email only, whatever users chose.
    EmailOnly,
}

impl CodeDelivery {
    fn as_str(self) -> &'static str {
        match self {
            Self::SmsThenEmail => "sms_then_email",
            Self::EmailOnly => "email_only",
        }
    }

    fn parse(s: &str) -> Self {
        if s == "email_only" { Self::EmailOnly } else { Self::SmsThenEmail }
    }
}

/// The contact with its fields trimmed and checked.
fn checked_contact(contact: &Contact) -> Result<Contact> {
    let name = contact.name.trim();
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Error::invalid("contact.name", "use at most 100 characters"));
    }
    let phone = match contact.phone.trim() {
        "" => String::new(),
        phone => Phone::parse(phone)
            .map_err(|_| Error::invalid("contact.phone", "use the international form, e.g. +35312345678"))?
            .as_str()
            .to_owned(),
    };
    let email = match contact.email.trim() {
        "" => String::new(),
        email => Email::parse(email)
            .map_err(|_| Error::invalid("contact.email", "not an email address"))?
            .as_str()
            .to_owned(),
    };
    Ok(Contact { name: name.to_owned(), phone, email })
}

/// Whether new users start with 2FA on, per app.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    pub web: bool,
    pub manager: bool,
}

impl Defaults {
    /// The apps new users start with 2FA on for.
    pub fn apps(self) -> impl Iterator<Item = AppKind> {
        [(AppKind::Web, self.web), (AppKind::Manager, self.manager)]
            .into_iter()
            .filter_map(|(a, on)| on.then_some(a))
    }
}

/// Who must sign in with a passkey, a factor phishing cannot steal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PasskeyRule {
    #[default]
    Nobody,
    /// The account's top users.
    Administrators,
    Everyone,
}

impl PasskeyRule {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Nobody => "nobody",
            Self::Administrators => "administrators",
            Self::Everyone => "everyone",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "administrators" => Self::Administrators,
            "everyone" => Self::Everyone,
            _ => Self::Nobody,
        }
    }
}

/// Who must use a passkey, per app. Someone it covers answers the second factor with a
/// passkey whatever their own setting; one who has none yet is led to add one right after
/// signing in (the duty `register_passkey`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyRequirement {
    #[serde(default)]
    pub web: PasskeyRule,
    #[serde(default)]
    pub manager: PasskeyRule,
}

impl PasskeyRequirement {
    /// Whether it covers a person (`top_user`: an administrator) signing in to `app`.
    pub fn covers(self, app: AppKind, top_user: bool) -> bool {
        let rule = match app {
            AppKind::Web => self.web,
            AppKind::Manager => self.manager,
        };
        match rule {
            PasskeyRule::Nobody => false,
            PasskeyRule::Administrators => top_user,
            PasskeyRule::Everyone => true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TwoFactorPolicy {
    pub delivery: CodeDelivery,
    #[serde(default)]
    pub contact: Contact,
    #[serde(default)]
    pub defaults: Defaults,
    /// Whether users may tick "Don't ask on this device for 30 days" at the code step.
    #[serde(default = "yes")]
    pub allow_trusted_devices: bool,
    #[serde(default)]
    pub require_passkey: PasskeyRequirement,
}

fn yes() -> bool {
    true
}

impl Default for TwoFactorPolicy {
    fn default() -> Self {
        Self {
            delivery: CodeDelivery::default(),
            contact: Contact::default(),
            defaults: Defaults::default(),
            allow_trusted_devices: true,
            require_passkey: PasskeyRequirement::default(),
        }
    }
}

impl TwoFactorPolicy {
    /// The contact person, when the company named one.
    pub fn contact(&self) -> Option<&Contact> {
        self.contact.is_set().then_some(&self.contact)
    }

    fn to_row(&self) -> PolicyRow {
        PolicyRow {
            delivery: self.delivery.as_str().to_owned(),
            contact_name: self.contact.name.clone(),
            contact_phone: self.contact.phone.clone(),
            contact_email: self.contact.email.clone(),
            default_web: self.defaults.web,
            default_manager: self.defaults.manager,
            allow_trusted_devices: self.allow_trusted_devices,
            passkey_web: self.require_passkey.web.as_str().to_owned(),
            passkey_manager: self.require_passkey.manager.as_str().to_owned(),
        }
    }

    fn from_row(row: PolicyRow) -> Self {
        Self {
            delivery: CodeDelivery::parse(&row.delivery),
            contact: Contact { name: row.contact_name, phone: row.contact_phone, email: row.contact_email },
            defaults: Defaults { web: row.default_web, manager: row.default_manager },
            allow_trusted_devices: row.allow_trusted_devices,
            require_passkey: PasskeyRequirement {
                web: PasskeyRule::parse(&row.passkey_web),
                manager: PasskeyRule::parse(&row.passkey_manager),
            },
        }
    }
}

/// A change to a policy: the fields given replace the stored ones, the others stay (a
/// client that does not know a newer field cannot reset it by leaving it out).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyChange {
    pub delivery: Option<CodeDelivery>,
    pub contact: Option<Contact>,
    pub defaults: Option<Defaults>,
    pub allow_trusted_devices: Option<bool>,
    pub require_passkey: Option<PasskeyRequirement>,
}

impl PolicyChange {
    fn apply(&self, to: &TwoFactorPolicy) -> Result<TwoFactorPolicy> {
        Ok(TwoFactorPolicy {
            delivery: self.delivery.unwrap_or(to.delivery),
            contact: match &self.contact {
                Some(contact) => checked_contact(contact)?,
                None => to.contact.clone(),
            },
            defaults: self.defaults.unwrap_or(to.defaults),
            allow_trusted_devices: self.allow_trusted_devices.unwrap_or(to.allow_trusted_devices),
            require_passkey: self.require_passkey.unwrap_or(to.require_passkey),
        })
    }
}

/// The account's policy, or the default one if it never set its own.
pub async fn of_account(tx: &mut Tx, account: AccountId) -> Result<TwoFactorPolicy> {
    Ok(tx.two_factor_policy(account).await?.map(TwoFactorPolicy::from_row).unwrap_or_default())
}

/// The policy of an account the actor manages.
pub async fn get(store: &Store, actor: &Actor, account: AccountId) -> Result<TwoFactorPolicy> {
    let mut tx = store.read().await?;
    ManagesAccount::check(&mut tx, actor, account).await?;
    of_account(&mut tx, account).await
}

/// Changes the policy of the actor's own account, in the transaction that reads it. A
/// session acting as someone never changes a company's policy.
pub async fn put(
    store: &Store,
    actor: &Actor,
    account: AccountId,
    change: &PolicyChange,
    now: i64,
) -> Result<TwoFactorPolicy> {
    if actor.impersonator.is_some() {
        return Err(Error::Forbidden);
    }
    let mut tx = store.write().await?;
    ManagesAccount::check(&mut tx, actor, account).await?.from_within()?;
    let before = of_account(&mut tx, account).await?;
    let policy = change.apply(&before)?;
    tx.put_two_factor_policy(account, &policy.to_row(), now).await?;
    let json = |p: &TwoFactorPolicy| serde_json::to_value(p).unwrap_or_default();
    let details = audit::changes(&flatten(json(&before)), &flatten(json(&policy)), false);
    audit::record(&mut tx, Event::new(account, actor, "two_factor_policy.changed").details(details), now)
        .await?;
    tx.commit().await?;
    Ok(policy)
}

/// `{"contact": {"name": ..}}` → `{"contact.name": ..}`, so an audit event lists each
/// changed field on its own.
fn flatten(value: serde_json::Value) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    if let serde_json::Value::Object(fields) = value {
        for (key, value) in fields {
            match value {
                serde_json::Value::Object(inner) => {
                    out.extend(inner.into_iter().map(|(k, v)| (format!("{key}.{k}"), v)));
                }
                value => {
                    out.insert(key, value);
                }
            }
        }
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contact_is_checked_and_trimmed_and_empty_fields_stay_unset() {
        let typed =
            Contact { name: " Ops desk ".into(), phone: "+353 1234 5678".into(), email: String::new() };
        let contact = checked_contact(&typed).unwrap();
        assert_eq!(
            contact,
            Contact { name: "Ops desk".into(), phone: "+35312345678".into(), email: String::new() }
        );
        assert!(contact.is_set());
        assert!(!Contact::default().is_set());
        let bad = Contact { email: "not-an-address".into(), ..Contact::default() };
        assert!(matches!(checked_contact(&bad), Err(Error::Invalid { field: "contact.email", .. })));
    }

    #[test]
    fn an_audit_event_names_each_changed_policy_field() {
        let before = TwoFactorPolicy::default();
        let after = TwoFactorPolicy { defaults: Defaults { web: true, manager: false }, ..before.clone() };
        let json = |p: &TwoFactorPolicy| flatten(serde_json::to_value(p).unwrap());
        let changes = audit::changes(&json(&before), &json(&after), false);
        assert_eq!(
            changes,
            serde_json::json!({ "before": { "defaults.web": false }, "after": { "defaults.web": true } })
        );
    }
}
