//! The OpenID Connect provider: the platform's other apps (a reporting tool, a support
//! desk, Grafana, the mobile app) sign people in through Portcullis with the standard
//! authorization code flow, and everything of Portcullis's own sign-in applies: the
//! second factor, the company's policy, first-login duties, blocking, impersonation and
//! the audit trail.
//!
//! - `clients`: the apps, registered per account.
//! - `authorize`: the authorization endpoint's decision and its single-use codes.
//! - `grants`: the token endpoint, refresh rotation, introspection, revocation, userinfo
//!   and signing out.
//! - `claims`: what an app learns of the person.
//! - `signing`: the keys that sign ID tokens, shared by every instance and rotated.

pub mod authorize;
pub mod claims;
pub mod clients;
pub mod grants;
pub mod signing;

pub use clients::{Client, Credentials, Registered, Registration};
pub use grants::{Issued, Provider};
pub use signing::{Alg, Keyring};
