//! Passkeys (WebAuthn): credentials a phone, a laptop or a security key keeps, bound to
//! this server's origin, so a look-alike site cannot use what it phishes.
//!
//! A user registers passkeys from a signed-in session of their own (never while acting as
//! someone); each can then sign them in without a password. Every ceremony, registration
//! or sign-in, is kept in the database between its two halves, so any instance finishes
//! what another began, and is taken once. The verifier is webauthn-rs: user verification
//! required, attestation not asked for, sign counters checked (a counter that goes back
//! means a cloned authenticator and is refused).

mod ceremony;
pub mod registration;
mod relying_party;
pub mod second_factor;
pub mod sign_in;
mod stored;

pub use relying_party::RelyingParty;
pub use stored::{PasskeyInfo, list, remove};
pub use webauthn_rs::prelude::{CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential};
/// The options of a sign-in, for `navigator.credentials.get({publicKey})`.
pub use webauthn_rs_proto::PublicKeyCredentialRequestOptions as RequestOptions;
