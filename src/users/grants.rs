//! Rights users hold on each other (`act_as`, `manage`), given and taken by those who
//! manage both.

use crate::values::{Right, UserId};
use crate::{
    audit::{self, Event},
    error::{Error, Result},
    rights::{Actor, ManagesUser},
    store::Store,
};

/// Gives `holder` exactly the `rights` on `target` (an empty list takes all away). The
/// caller must manage the target, and be the holder or manage the holder too; a session
/// acting as someone never changes the rights held by or on that person. Taking `act_as`
/// away ends, in the same transaction, every session the holder opened acting as the
/// target.
pub async fn set_grants(
    store: &Store,
    actor: &Actor,
    holder: UserId,
    target: UserId,
    rights: &[Right],
    now: i64,
) -> Result<Vec<Right>> {
    if holder == target {
        return Err(Error::invalid("target_id", "a user cannot hold rights on itself"));
    }
    if actor.impersonator.is_some() && (actor.user == Some(holder) || actor.user == Some(target)) {
        return Err(Error::Forbidden);
    }
    let mut tx = store.write().await?;
    let on_target = ManagesUser::check(&mut tx, actor, target).await?;
    if actor.user != Some(holder) {
        ManagesUser::check(&mut tx, actor, holder).await?;
    } else if tx.user_by_id(holder).await?.is_none() {
        return Err(Error::NotFound);
    }
    let before = tx.grants_between(holder, target).await?;
    for right in [Right::ActAs, Right::Manage] {
        let wanted = rights.contains(&right);
        let held = before.iter().any(|r| r == right.as_str());
        if wanted == held {
            continue;
        }
        let action = if wanted {
            tx.insert_grant(holder, target, right, actor.user, now).await?;
            "grant.added"
        } else {
            tx.delete_grant(holder, target, right).await?;
            if right == Right::ActAs {
                tx.end_sessions_acting_as(target, Some(holder), now).await?;
            }
            "grant.removed"
        };
        let details = serde_json::json!({ "holder": holder, "right": right });
        let event = Event::new(on_target.target().account_id, actor, action).subject(target).details(details);
        audit::record(&mut tx, event, now).await?;
    }
    tx.commit().await?;
    Ok([Right::ActAs, Right::Manage].into_iter().filter(|r| rights.contains(r)).collect())
}
