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

impl Contact {
    pub fn is_set(&self) -> bool {
        !(self.name.is_empty() && self.phone.is_empty() && self.email.is_empty())
    }
}
