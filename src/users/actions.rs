//! What administrators do to the users they manage, beyond editing them: lift a
//! lock-out and end every session. (Resetting a second factor is `mfa::reset`.) Each is
//! an audit event.

use crate::{
    audit::{self, Event},
    error::Result,
    lockout::{self, Scope},
    mfa::challenge,
    rights::{Actor, ManagesUser},
    store::Store,
    values::UserId,
};

/// Forgets the user's wrong passwords and wrong codes, lifting any lock; true when there
/// were some.
pub async fn unlock(store: &Store, actor: &Actor, target: UserId, now: i64) -> Result<bool> {
    let mut tx = store.write().await?;
    let proof = ManagesUser::check(&mut tx, actor, target).await?;
    let user = proof.target();
    let by_password =
        lockout::clear(&mut tx, Scope::Password, &lockout::username_subject(&user.username)).await?;
    let by_code = lockout::clear(&mut tx, Scope::Code, &challenge::subject(user.id)).await?;
    let details = serde_json::json!({ "had_password_failures": by_password, "had_code_failures": by_code });
    audit::record(
        &mut tx,
        Event::new(user.account_id, actor, "user.unlocked").subject(user.id).details(details),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(by_password || by_code)
}

/// Ends every session of the user; how many.
pub async fn end_sessions(store: &Store, actor: &Actor, target: UserId, now: i64) -> Result<u64> {
    let mut tx = store.write().await?;
    let proof = ManagesUser::check(&mut tx, actor, target).await?;
    let user = proof.target();
    let ended = tx.end_sessions_of_user(user.id, None, now).await?;
    let details = serde_json::json!({ "sessions_ended": ended });
    let event = Event::new(user.account_id, actor, "sessions.ended_by_administrator").subject(user.id);
    audit::record(&mut tx, event.details(details), now).await?;
    tx.commit().await?;
    Ok(ended)
}
