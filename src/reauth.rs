//! Asking again for the password before a sensitive change, under the same lock-out as
//! a sign-in.

use crate::{
    error::{Error, Result},
    lockout::{self, Scope},
    passwords::{Hasher, Password},
    store::Store,
    values::User,
};

/// Checks the password a signed-in user typed to confirm a sensitive change. A wrong one
/// counts as a failed password attempt (and a locked username is refused), so a session
/// cannot be used to guess the password; like a sign-in, the attempt is counted before
/// the hash is checked (see `lockout`), so parallel guesses stop at the limit too.
pub async fn check_current(
    store: &Store,
    hasher: &Hasher,
    user: &User,
    password: Password,
    field: &'static str,
    now: i64,
) -> Result<()> {
    let slot = hasher.slot()?;
    let subject = lockout::username_subject(&user.username);
    let rule = &lockout::PASSWORD_PER_USER;
    let mut tx = store.write().await?;
    lockout::reserve(&mut tx, Scope::Password, &[(&subject, rule)], now).await?;
    tx.commit().await?;
    let right = hasher.verify_in(slot, password, Some(user.password_hash.0.clone())).await;
    if matches!(right, Ok(false)) {
        return Err(Error::invalid(field, "the current password is wrong"));
    }
    // Right, or failed before it was checked: either way the attempt does not count.
    let mut tx = store.write().await?;
    lockout::release(&mut tx, Scope::Password, &subject, rule, now).await?;
    tx.commit().await?;
    right.map(|_| ())
}
