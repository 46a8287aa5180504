//! The Data Protection Agreement every user accepts before anything else.
//!
//! Each account has an agreement version; a user who has accepted an older version (or
//! none) has the `accept_dpa` duty. Raising an account's version asks its users again.
//! The text itself is the operator's: a file named in the configuration, or a default.

use crate::{
    audit::{self, Event},
    error::{Error, Result},
    rights::Actor,
    store::Store,
    values::User,
};

/// The agreement shown when the operator configured none.
pub const DEFAULT_TEXT: &str = "We process your personal data (name, contact details, sign-in history and the \
data of the objects you track) only to provide this service to your company, under the agreement between your \
company and the service provider. We keep it no longer than needed and never sell it. You may ask your company \
administrator for a copy of your data or for its correction or deletion.";

/// Records that the person signed in (the impersonator, when acting as someone) accepts
/// their account's current agreement.
pub async fn accept(store: &Store, actor: &Actor, now: i64) -> Result<i64> {
    let id = actor.person()?;
    let mut tx = store.write().await?;
    let user = tx.user_for_update(id).await?.ok_or(Error::Unauthenticated)?;
    let account = tx.account_by_id(user.account_id).await?.ok_or(Error::NotFound)?;
    if user.dpa_accepted_version < account.dpa_version {
        let accepted = User { dpa_accepted_version: account.dpa_version, ..user.clone() };
        tx.update_user(&user, &accepted).await?;
        let details = serde_json::json!({ "version": account.dpa_version });
        audit::record(
            &mut tx,
            Event::new(account.id, actor, "dpa.accepted").subject(id).details(details),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(account.dpa_version)
}
