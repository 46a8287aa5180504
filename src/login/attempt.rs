//! What a sign-in brings (who, from where, asking for what) and what it comes to.

use crate::{
    delivery::Delivery,
    mfa::challenge::Opened,
    passkeys::{self},
    passwords::{Hasher, Password},
    sessions::{Current, Lifetimes},
    store::Store,
    tokens::Token,
    values::{AppKind, Language, User},
};

/// What signing in uses of the server: the store, the password hasher, the outbox that
/// sends codes, and how long sessions last.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub store: &'a Store,
    pub hasher: &'a Hasher,
    pub outbox: &'a Delivery,
    pub lifetimes: &'a Lifetimes,
    /// Whom passkeys are for; `None` where the public URL allows none.
    pub relying_party: Option<&'a crate::passkeys::RelyingParty>,
}

/// A sign-in attempt as the client made it.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub username: String,
    pub password: Password,
    pub arrival: Arrival,
}

/// A sign-in with a passkey, answering the options `passkeys::sign_in::begin` gave.
#[derive(Debug, Clone)]
pub struct PasskeyAttempt {
    /// The handle the options came with.
    pub handle: String,
    pub answer: passkeys::PublicKeyCredential,
    pub arrival: Arrival,
}

/// What a sign-in asks for besides proving who signs in, and where it comes from.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub remember_me: bool,
    pub app: AppKind,
    pub ip: String,
    pub user_agent: String,
    /// The language chosen on the sign-in page, remembered in the user's settings.
    pub language: Option<Language>,
    /// The token of a device the user may have chosen to trust: no code is asked there.
    pub device: Option<String>,
    /// "Login as": the username of the user to act as.
    pub login_as: Option<String>,
}

/// How the person proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Proof {
    Password,
    Passkey,
}

/// Where a sign-in comes from, as the login history shows it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Origin<'a> {
    pub(super) proof: Proof,
    pub(super) app: AppKind,
    pub(super) ip: &'a str,
    pub(super) user_agent: &'a str,
    pub(super) remember_me: bool,
    /// "Login as": the user the session acts as.
    pub(super) acting_as: Option<&'a User>,
}

impl Arrival {
    pub(super) fn origin(&self, proof: Proof) -> Origin<'_> {
        let (app, ip, user_agent, remember_me) = (self.app, &self.ip, &self.user_agent, self.remember_me);
        Origin { proof, app, ip, user_agent, remember_me, acting_as: None }
    }
}

/// A successful sign-in: the new token (shown once) and the session it opens.
#[derive(Debug)]
pub struct SignedIn {
    pub token: Token,
    pub session: Current,
    /// The token of the device just trusted, shown once.
    pub device_token: Option<Token>,
    /// Set when a backup code was used: how many remain.
    pub backup_codes_left: Option<i64>,
}

/// What a right password leads to.
#[derive(Debug)]
pub enum Outcome {
    SignedIn(SignedIn),
    /// The second factor is still to come.
    SecondFactor(Opened),
}
