//! What a session is for and what it must do first.

use serde::{Deserialize, Serialize};

/// Where a sign-in comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AppKind {
    #[default]
    Web,
    Manager,
}

impl AppKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Manager => "manager",
        }
    }

    pub(crate) fn parse(s: &str) -> Self {
        if s == "manager" { Self::Manager } else { Self::Web }
    }
}

/// Something a user must do before the session may do anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Duty {
    AcceptDpa,
    ChangePassword,
    /// The company asks this person for a passkey, and they have none yet.
    RegisterPasskey,
}
