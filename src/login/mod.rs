//! Signing in with a username and password.
//!
//! The order matters for what an attacker can learn: a locked username or address is
//! refused before the password is checked, so a lock-out never tells whether a guess was
//! right; an unknown username costs the same hash as a known one and gets the same
//! answer; only a right password learns that the account is blocked. Each attempt is
//! counted against the lock before its hash is checked and given back when right, so a
//! burst of parallel guesses never gets more tries than the limit.
//!
//! A user with a second factor on for the app gets a challenge instead of a session
//! (see `mfa::challenge`); the session starts when the code is right.
//!
//! A passkey signs in without a password ([`with_passkey`]): the same lock-outs, then the
//! same admission (blocking, language, "Login as"), and no second factor, since a
//! passkey that verified its user is two factors in one.

mod admission;
mod attempt;
mod code;
mod passkey;
mod password;

pub use attempt::{Arrival, Attempt, Context, Outcome, PasskeyAttempt, SignedIn};
pub use code::verify;
pub use passkey::with_passkey;
pub use password::sign_in;
