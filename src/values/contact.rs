//! The person a company's users should turn to when their codes do not work.

use serde::{Deserialize, Serialize};

/// The person users should turn to when their codes do not work. Empty fields are
/// unset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Contact {
    pub name: String,
    pub phone: String,
    pub email: String,
}

/// What a person whose account is blocked is told, once their password proved who they
/// are: since when, and whom to turn to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    /// The blocking date in force (the account's own, or one from an account above).
    pub since: i64,
    pub contact: Contact,
}

impl Contact {
    pub fn is_set(&self) -> bool {
        !(self.name.is_empty() && self.phone.is_empty() && self.email.is_empty())
    }
}
