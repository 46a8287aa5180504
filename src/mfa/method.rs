//! The second-factor methods, and which one each user has on for each app.

use serde::{Deserialize, Serialize};

use crate::{
    error::Result,
    policy::CodeDelivery,
    store::Tx,
    values::{AppKind, UserId},
};

/// How a user proves the second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// A code by email.
    Email,
    /// A code by SMS, by email when no SMS can be sent.
    Sms,
    /// A code from an authenticator app.
    Totp,
    /// One of the user's passkeys.
    Passkey,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
            Self::Totp => "totp",
            Self::Passkey => "passkey",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "email" => Some(Self::Email),
            "sms" => Some(Self::Sms),
            "totp" => Some(Self::Totp),
            "passkey" => Some(Self::Passkey),
            _ => None,
        }
    }
}

/// A user's second factor in each app; `None` is off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Settings {
    pub web: Option<Method>,
    pub manager: Option<Method>,
}

impl Settings {
    pub fn get(&self, app: AppKind) -> Option<Method> {
        match app {
            AppKind::Web => self.web,
            AppKind::Manager => self.manager,
        }
    }

    pub(super) fn slot(&mut self, app: AppKind) -> &mut Option<Method> {
        match app {
            AppKind::Web => &mut self.web,
            AppKind::Manager => &mut self.manager,
        }
    }
}

pub async fn settings(tx: &mut Tx, user: UserId) -> Result<Settings> {
    let mut settings = Settings::default();
    for (app, method) in tx.two_factor_settings(user).await? {
        *settings.slot(AppKind::parse(&app)) = Method::parse(&method);
    }
    Ok(settings)
}

/// The method a company's defaults give a new user: codes by SMS unless the company
/// sends them by email only.
pub fn default_method(delivery: CodeDelivery) -> Method {
    match delivery {
        CodeDelivery::SmsThenEmail => Method::Sms,
        CodeDelivery::EmailOnly => Method::Email,
    }
}

/// What a user has of the factors that need setting up first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Means {
    /// An authenticator app on (not merely being added).
    pub authenticator: bool,
    /// At least one passkey.
    pub passkey: bool,
}

pub async fn means(tx: &mut Tx, user: UserId) -> Result<Means> {
    Ok(Means {
        authenticator: tx.authenticator(user).await?.is_some_and(|a| a.secret.is_some()),
        passkey: tx.has_passkey(user).await?,
    })
}
