//! Portcullis: a self-hosted authentication and account-security server for multi-tenant
//! platforms. This crate is the whole server; `main.rs` only parses the command line.

pub mod accounts; // companies (tenants), their services and blocking dates
pub mod app; // the services a running server is made of
pub mod audit; // the tamper-evident audit trail
pub mod cli; // the operator's command line
pub mod clock; // where "now" comes from
pub mod config; // the one typed configuration
pub mod delivery; // the outbox: email and SMS that are never lost
pub mod demo; // the demo company
pub mod dpa; // the Data Protection Agreement users accept
pub mod emails; // the emails people get, one template each
pub mod error; // the domain's error type
pub mod http; // the HTTP shell: JSON API, pages, operations endpoints
pub mod i18n; // translations into English, Russian and Spanish
pub mod impersonation; // acting as another user: "Login as", switch, switch back
pub mod integrations; // third-party settings of users: the flespi token
pub mod keys; // the server's secret key and keyed hashes
pub mod lifecycle; // blocking dates, services and quotas, notices before blocking
pub mod lockout; // lock-outs after repeated failures
pub mod login; // signing in with a password or a passkey
pub mod metrics; // Prometheus metrics
pub mod mfa; // second factors, sign-in challenges and one-time codes
pub mod oidc; // the OpenID Connect provider for the platform's other apps
pub mod passkeys; // passkeys (WebAuthn): registration and sign-in without a password
pub mod passwords; // password policy and Argon2id hashing
pub mod policy; // each company's second-factor policy
pub mod purge; // deleting what has run out
pub mod reauth; // the password asked again before a sensitive change
pub mod recovery; // "Forgot your password?": reset links and new passwords
pub mod rights; // who may do what to whom
pub mod server; // the assembly: router, workers and the connection loop
pub mod sessions; // sessions and the session check
pub mod store; // the storage seam: SQLite and PostgreSQL
pub mod tokens; // random bearer tokens, stored hashed
pub mod users; // users, their fields and grants
pub mod values; // the ground floor: ids and checked values
pub mod verification; // confirming email addresses and phones with a code
