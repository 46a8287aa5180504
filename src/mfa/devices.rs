//! Trusted devices: browsers (or apps) where a user ticked "Don't ask on this device for
//! 30 days" at the code step. The device keeps a random token, of which only the hash is
//! stored, so each one can be revoked. The company policy may forbid them; changing the
//! password or resetting the second factor revokes them all.

use serde::Serialize;
use time::OffsetDateTime;

use crate::{
    audit::{self, Event},
    clock::from_unix,
    error::{Error, Result},
    rights::Actor,
    store::{Store, Tx},
    tokens::{Token, TokenHash},
    values::UserId,
};

/// How long a device stays trusted, in seconds.
pub const LIFETIME: i64 = 30 * 24 * 3600;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TrustedDevice {
    pub id: i64,
    pub user_agent: String,
    pub ip: String,
    #[serde(with = "time::serde::rfc3339")]
    pub trusted_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// Trusts the device a sign-in came from, inside the caller's transaction; the token
/// goes to the device once.
pub(crate) async fn trust(tx: &mut Tx, user: UserId, user_agent: &str, ip: &str, now: i64) -> Result<Token> {
    let token = Token::generate();
    tx.insert_trusted_device(user, &token.hash().0, user_agent, ip, now, now + LIFETIME).await?;
    Ok(token)
}

/// Whether the presented device token is one the user trusts now.
pub(crate) async fn is_trusted(tx: &mut Tx, user: UserId, presented: &str, now: i64) -> Result<bool> {
    tx.is_trusted_device(user, &TokenHash::of(presented).0, now).await
}

pub async fn list(store: &Store, user: UserId, now: i64) -> Result<Vec<TrustedDevice>> {
    let rows = store.read().await?.trusted_devices(user, now).await?;
    Ok(rows
        .into_iter()
        .map(|d| TrustedDevice {
            id: d.id,
            user_agent: d.user_agent,
            ip: d.ip,
            trusted_at: from_unix(d.created_at),
            expires_at: from_unix(d.expires_at),
        })
        .collect())
}

/// Stops trusting one of the actor's own devices.
pub async fn revoke(store: &Store, actor: &Actor, id: i64, now: i64) -> Result<()> {
    let user = actor.own_user()?;
    let mut tx = store.write().await?;
    let account = tx.user_by_id(user).await?.ok_or(Error::Unauthenticated)?.account_id;
    if tx.revoke_trusted_devices(user, Some(id), now).await? == 0 {
        return Err(Error::NotFound);
    }
    let event = Event::new(account, actor, "trusted_device.revoked").subject(user);
    audit::record(&mut tx, event.details(serde_json::json!({ "device": id })), now).await?;
    tx.commit().await?;
    Ok(())
}
