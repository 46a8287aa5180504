//! What a client holds after signing someone in: a grant, bound to the Portcullis session
//! the person signed in with, and the tokens that stand for it.
//!
//! - The **access token** is opaque: the grant's number and an expiry, sealed with a MAC
//!   under the server key (nothing stored). Whoever checks it (introspection, userinfo)
//!   reads the grant and its session in one query, so a revoked grant, an ended session
//!   or a blocked account stops it at once, not at its expiry.
//! - **Refresh tokens** are random, stored as SHA-256, and used once: each refresh hands
//!   out the next. A refresh token used a second time means two parties hold it, so the
//!   whole grant is revoked. So is the grant of a code exchanged twice.
//! - A client using its grant is the person using their session: it keeps the session
//!   from going idle, and signing out of the session ends the grant.

use std::net::IpAddr;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{
    claims,
    clients::{self, Client, Credentials},
    signing::{self, Keyring, TOKEN_LIFETIME},
};
use crate::{
    audit::{self, Event},
    error::{Error, Result},
    keys::SecretKey,
    rights::Actor,
    sessions::{self, Current, Lifetimes},
    store::{GrantView, Store, Tx},
    tokens::{Token, TokenHash},
};

/// What signing and checking tokens use.
#[derive(Clone, Copy)]
pub struct Provider<'a> {
    pub store: &'a Store,
    pub secret: &'a SecretKey,
    pub keyring: &'a Keyring,
    pub lifetimes: &'a Lifetimes,
    /// This server's issuer URL.
    pub issuer: &'a str,
}

/// The token endpoint's answer.
#[derive(Debug, serde::Serialize)]
pub struct Issued {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub refresh_token: String,
    pub id_token: String,
    pub scope: String,
}

/// What the access token's MAC is made for.
const ACCESS_TOKEN: &str = "oidc access token";

fn invalid_grant(why: &str) -> Error {
    Error::oauth("invalid_grant", why)
}

/// Exchanges an authorization code (once) for tokens.
pub async fn exchange(
    p: Provider<'_>,
    client: &Client,
    code: &str,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
    ip: IpAddr,
    now: i64,
) -> Result<Issued> {
    let hash = TokenHash::of(code).0;
    // The session is checked before the write: checking it may write (a visit, an end).
    let session = p.store.code_session(&hash).await?.ok_or_else(|| invalid_grant("the code is unknown"))?;
    let current = live_session(p, session, now).await;
    let mut tx = p.store.write().await?;
    let row = tx.use_code(&hash, now).await?.ok_or_else(|| invalid_grant("the code is unknown"))?;
    if row.client_id != client.client_id {
        drop(tx);
        return refused(p, row.session_id, client, "other_client", ip, now).await;
    }
    if row.used_at.is_some() {
        // Someone else holds the code too: whatever it was exchanged for is revoked.
        if let Some(grant) = row.grant_id {
            refuse_grant(&mut tx, grant, "oidc.code_reused", ip, now).await?;
            tx.commit().await?;
        }
        return Err(invalid_grant("the code was used already"));
    }
    let pkce_holds = match (row.code_challenge.as_deref(), verifier) {
        (Some(challenge), Some(verifier)) => pkce_matches(challenge, verifier),
        (challenge, verifier) => challenge.is_none() && verifier.is_none(),
    };
    let problem = if row.expires_at <= now {
        Some("code_expired")
    } else if redirect_uri != Some(row.redirect_uri.as_str()) {
        Some("redirect_uri")
    } else if !pkce_holds {
        Some("pkce")
    } else {
        current.as_ref().err().map(|_| "session_ended")
    };
    if let Some(why) = problem {
        drop(tx);
        return refused(p, row.session_id, client, why, ip, now).await;
    }
    let current = current?;
    let grant = tx.insert_oidc_grant(&row, now).await?;
    tx.set_code_grant(&hash, grant).await?;
    let refresh_token = Token::generate();
    tx.insert_refresh_token(&refresh_token.hash().0, grant, now).await?;
    let details =
        json!({ "client_id": client.client_id, "client": client.name, "scopes": row.scope, "grant": grant });
    record(&mut tx, &current, ip, "oidc.granted", details, now).await?;
    let granted = Granted { grant, scope: row.scope, nonce: row.nonce.as_deref(), refresh: refresh_token };
    issue(p, tx, client, &current, granted, now).await
}

/// Trades a refresh token (once) for new tokens and the next refresh token.
pub async fn refresh(
    p: Provider<'_>,
    client: &Client,
    presented: &str,
    ip: IpAddr,
    now: i64,
) -> Result<Issued> {
    let hash = TokenHash::of(presented).0;
    let session = {
        let mut tx = p.store.read().await?;
        let row =
            tx.refresh_token(&hash).await?.ok_or_else(|| invalid_grant("the refresh token is unknown"))?;
        tx.oidc_grant(row.grant_id).await?.map(|g| g.session_id)
    };
    // The session is checked before the write: checking it may write (a visit, an end).
    let current = match session {
        Some(session) => live_session(p, session, now).await,
        None => Err(invalid_grant("the grant is gone")),
    };
    let mut tx = p.store.write().await?;
    let row = tx
        .use_refresh_token(&hash, now)
        .await?
        .ok_or_else(|| invalid_grant("the refresh token is unknown"))?;
    let grant = tx.oidc_grant(row.grant_id).await?.ok_or_else(|| invalid_grant("the grant is gone"))?;
    if grant.client_id != client.client_id {
        drop(tx);
        return refused(p, grant.session_id, client, "other_client", ip, now).await;
    }
    if row.used_at.is_some() {
        refuse_grant(&mut tx, grant.id, "oidc.refresh_reused", ip, now).await?;
        tx.commit().await?;
        return Err(invalid_grant("the refresh token was used already; the grant is revoked"));
    }
    let problem = if grant.revoked_at.is_some() {
        Some("revoked")
    } else {
        current.as_ref().err().map(|_| "session_ended")
    };
    if let Some(why) = problem {
        drop(tx);
        return refused(p, grant.session_id, client, why, ip, now).await;
    }
    let current = current?;
    let next = Token::generate();
    tx.insert_refresh_token(&next.hash().0, grant.id, now).await?;
    let details = json!({ "client_id": client.client_id, "client": client.name, "grant": grant.id });
    record(&mut tx, &current, ip, "oidc.refreshed", details, now).await?;
    let granted =
        Granted { grant: grant.id, scope: grant.scope, nonce: grant.nonce.as_deref(), refresh: next };
    issue(p, tx, client, &current, granted, now).await
}

/// What new tokens are for: the grant, its scope and nonce, and the next refresh token.
struct Granted<'a> {
    grant: i64,
    scope: String,
    nonce: Option<&'a str>,
    refresh: Token,
}

/// Commits `tx` (which stored the refresh token and recorded the event) and hands out the
/// tokens: the access token, the refresh token and an ID token signed as the app asks.
async fn issue(
    p: Provider<'_>,
    mut tx: Tx,
    client: &Client,
    current: &Current,
    granted: Granted<'_>,
    now: i64,
) -> Result<Issued> {
    let user = tx.user_by_id(current.user.id).await?.ok_or(Error::Unauthenticated)?;
    let facts = tx.sign_in_facts(current.id).await?.ok_or(Error::Unauthenticated)?;
    tx.commit().await?;
    let signed = claims::Signed { issuer: p.issuer, client_id: &client.client_id, nonce: granted.nonce };
    let id_token = claims::id_token(current, &user, &facts, &granted.scope, &signed, now);
    Ok(Issued {
        access_token: access_token(p.secret, granted.grant, now + TOKEN_LIFETIME),
        token_type: "Bearer",
        expires_in: TOKEN_LIFETIME,
        refresh_token: granted.refresh.expose().to_owned(),
        id_token: p.keyring.sign(p.store, p.secret, client.id_token_alg, &id_token, now).await?,
        scope: granted.scope,
    })
}

/// The session a code or grant was given by, if it still stands; else `invalid_grant`.
async fn live_session(p: Provider<'_>, session: i64, now: i64) -> Result<Current> {
    let checked = match p.store.session_by_id(session).await? {
        Some(view) => sessions::check_view(p.store, p.lifetimes, view, now).await,
        None => Err(Error::Unauthenticated),
    };
    match checked {
        Ok(current) => Ok(current),
        Err(Error::Unauthenticated | Error::AccountBlocked { .. }) => {
            Err(invalid_grant("the person's session has ended"))
        }
        Err(e) => Err(e),
    }
}

/// Refuses a code or refresh token that is known but not good (`why`), and records the
/// refusal in the trail of the account whose person it was for.
async fn refused<T>(
    p: Provider<'_>,
    session: i64,
    client: &Client,
    why: &'static str,
    ip: IpAddr,
    now: i64,
) -> Result<T> {
    let mut tx = p.store.write().await?;
    if let Some(people) = tx.session_people(session).await? {
        // Whoever presented it is not known to be the person: the event names no actor.
        let actor = Actor::anonymous(&ip.to_string());
        let details = json!({ "client_id": client.client_id, "client": client.name, "reason": why });
        let event = Event::new(people.account_id, &actor, "oidc.refused").subject(people.effective());
        audit::record(&mut tx, event.details(details), now).await?;
        tx.commit().await?;
    }
    let description = match why {
        "other_client" => "it was issued to another client",
        "code_expired" => "the code has expired",
        "redirect_uri" => "redirect_uri differs from the authorization request's",
        "pkce" => "the code_verifier does not match the code_challenge",
        "revoked" => "the grant was revoked",
        _ => "the person's session has ended",
    };
    Err(invalid_grant(description))
}

/// Revokes a grant because a code or refresh token was presented twice, and records it
/// in the trail of the account whose person the grant was for.
async fn refuse_grant(tx: &mut Tx, grant: i64, action: &'static str, ip: IpAddr, now: i64) -> Result<()> {
    tx.revoke_oidc_grant(grant, now).await?;
    let Some(row) = tx.oidc_grant(grant).await? else { return Ok(()) };
    if let Some(people) = tx.session_people(row.session_id).await? {
        // Who presented it the second time is not known: the event names nobody as actor.
        let actor = Actor::anonymous(&ip.to_string());
        let details = json!({ "client_id": row.client_id, "grant": grant });
        let event =
            Event::new(people.account_id, &actor, action).subject(people.effective()).details(details);
        audit::record(tx, event, now).await?;
    }
    tracing::warn!(grant, action, "a token was presented twice; its grant is revoked");
    Ok(())
}

/// Records an event of a grant in the trail of the account of the person it is for.
async fn record(
    tx: &mut Tx,
    current: &Current,
    ip: IpAddr,
    action: &'static str,
    details: Value,
    now: i64,
) -> Result<()> {
    let event =
        Event::new(current.account.id, &current.actor(ip), action).subject(current.user.id).details(details);
    audit::record(tx, event, now).await
}

/// Whether `verifier` is the secret behind an S256 `challenge` (RFC 7636), compared in
/// constant time.
fn pkce_matches(challenge: &str, verifier: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    let computed = B64.encode(Sha256::digest(verifier.as_bytes()));
    well_formed && bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

/// An access token for `grant`, valid until `expires_at`.
fn access_token(secret: &SecretKey, grant: i64, expires_at: i64) -> String {
    let body = format!("{grant}.{expires_at}.{:016x}", rand::random::<u64>());
    let mac = secret.keyed_hash(ACCESS_TOKEN, body.as_bytes());
    format!("{body}.{}", B64.encode(mac))
}

/// The grant an access token stands for, if the token is this server's and unexpired.
fn grant_of_access_token(secret: &SecretKey, token: &str, now: i64) -> Option<(i64, i64)> {
    let (body, mac) = token.rsplit_once('.')?;
    let expected = B64.encode(secret.keyed_hash(ACCESS_TOKEN, body.as_bytes()));
    if !bool::from(expected.as_bytes().ct_eq(mac.as_bytes())) {
        return None;
    }
    let mut parts = body.split('.');
    let grant = parts.next()?.parse().ok()?;
    let expires_at: i64 = parts.next()?.parse().ok()?;
    (expires_at > now).then_some((grant, expires_at))
}

/// The person and grant behind an access token, if it still stands; with `caller`, the
/// app asking is read in the same query (introspection).
async fn grant_of(
    p: Provider<'_>,
    token: &str,
    caller: &str,
    now: i64,
) -> Result<Option<(Current, GrantView, i64)>> {
    let Some((grant, expires_at)) = grant_of_access_token(p.secret, token, now) else { return Ok(None) };
    let Some((view, grant)) = p.store.session_by_grant(grant, caller).await? else { return Ok(None) };
    match sessions::check_view(p.store, p.lifetimes, view, now).await {
        Ok(current) => Ok(Some((current, grant, expires_at))),
        Err(Error::Unauthenticated | Error::AccountBlocked { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The person and grant behind an access token (userinfo).
pub async fn bearer(p: Provider<'_>, token: &str, now: i64) -> Result<(Current, GrantView)> {
    let (current, grant, _) = grant_of(p, token, "", now).await?.ok_or(Error::Unauthenticated)?;
    Ok((current, grant))
}

/// RFC 7662: what a token stands for, for a confidential app of the same company as the
/// one it was issued to (a resource server checking the tokens it is shown). Anything else
/// is `{"active": false}`, the same for a token that never existed. An access token and the
/// app asking are read in one query, as cheap as the session check's.
pub async fn introspect(p: Provider<'_>, presented: &Credentials, token: &str, now: i64) -> Result<Value> {
    let inactive = || json!({ "active": false });
    if let Some((current, grant, expires_at)) = grant_of(p, token, &presented.client_id, now).await? {
        let caller_secret = grant.caller_secret.as_deref();
        if !grant.caller_exists
            || caller_secret.is_none()
            || !clients::secret_matches(caller_secret, presented)
        {
            return Err(Error::InvalidCredentials);
        }
        if grant.caller_account != Some(grant.client_account_id) {
            return Ok(inactive());
        }
        let mut answer = claims::about(&current, p.issuer, &grant);
        answer["active"] = json!(true);
        answer["token_type"] = json!("Bearer");
        answer["exp"] = json!(expires_at);
        answer["iat"] = json!(expires_at - TOKEN_LIFETIME);
        return Ok(answer);
    }
    let caller = clients::authenticate(p.store, presented).await?;
    if caller.public {
        return Err(Error::InvalidCredentials);
    }
    match refresh_grant(p, token, &caller.client_id, now).await? {
        Some((current, grant)) if grant.client_account_id == caller.account_id => {
            let mut answer = claims::about(&current, p.issuer, &grant);
            answer["active"] = json!(true);
            answer["token_type"] = json!("refresh_token");
            Ok(answer)
        }
        _ => Ok(inactive()),
    }
}

/// The live grant of an unused refresh token.
async fn refresh_grant(
    p: Provider<'_>,
    token: &str,
    caller: &str,
    now: i64,
) -> Result<Option<(Current, GrantView)>> {
    let mut tx = p.store.read().await?;
    let row = tx.refresh_token(&TokenHash::of(token).0).await?;
    drop(tx);
    let Some(row) = row.filter(|r| r.used_at.is_none()) else { return Ok(None) };
    let Some((view, grant)) = p.store.session_by_grant(row.grant_id, caller).await? else { return Ok(None) };
    match sessions::check_view(p.store, p.lifetimes, view, now).await {
        Ok(current) => Ok(Some((current, grant))),
        Err(Error::Unauthenticated | Error::AccountBlocked { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// RFC 7009: revokes the grant behind an access or refresh token of the calling client.
/// A token that is unknown, expired or another client's is left alone, and the answer is
/// the same.
pub async fn revoke(p: Provider<'_>, caller: &Client, token: &str, ip: IpAddr, now: i64) -> Result<()> {
    let grant = match grant_of_access_token(p.secret, token, now) {
        Some((grant, _)) => Some(grant),
        None => {
            let mut tx = p.store.read().await?;
            tx.refresh_token(&TokenHash::of(token).0).await?.map(|r| r.grant_id)
        }
    };
    let Some(grant) = grant else { return Ok(()) };
    let mut tx = p.store.write().await?;
    let Some(row) = tx.oidc_grant(grant).await?.filter(|g| g.client_id == caller.client_id) else {
        return Ok(());
    };
    if tx.revoke_oidc_grant(row.id, now).await?
        && let Some(people) = tx.session_people(row.session_id).await?
    {
        let actor = Actor::user(
            people.effective(),
            people.acting_as_id.map(|_| people.user_id),
            Some(ip.to_string()),
        );
        let details = json!({ "client_id": caller.client_id, "client": caller.name, "grant": row.id });
        let event = Event::new(people.account_id, &actor, "oidc.revoked").subject(people.effective());
        audit::record(&mut tx, event.details(details), now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The claims userinfo answers for an access token.
pub async fn userinfo(p: Provider<'_>, token: &str, now: i64) -> Result<Value> {
    let (current, grant) = bearer(p, token, now).await?;
    let mut tx = p.store.read().await?;
    let user = tx.user_by_id(current.user.id).await?.ok_or(Error::Unauthenticated)?;
    Ok(claims::userinfo(&current, &user, &grant.scope))
}

/// Signs the browser's session out at a client's request (RP-initiated logout): the
/// session ends, and with it every grant made through it.
pub async fn end_session(
    store: &Store,
    current: &Current,
    ip: IpAddr,
    client: Option<&Client>,
    now: i64,
) -> Result<()> {
    let mut tx = store.write().await?;
    tx.end_session_of_user(current.signed_in_user(), current.id, now).await?;
    tx.end_tabs_opened_from(current.id, current.signed_in_user(), now).await?;
    tx.revoke_oidc_grants_of_session(current.id, now).await?;
    let details = json!({ "client_id": client.map(|c| c.client_id.as_str()), "client": client.map(|c| c.name.as_str()) });
    record(&mut tx, current, ip, "oidc.signed_out", details, now).await?;
    tx.commit().await?;
    Ok(())
}

/// The claims of an ID token this server signed (for `id_token_hint`), if it is one,
/// whatever its expiry.
pub async fn hinted(p: Provider<'_>, id_token: &str, now: i64) -> Result<Option<Value>> {
    let claims = signing::verify(p.store, id_token, now).await?;
    Ok(claims.filter(|c| c["iss"] == p.issuer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_accepts_only_the_verifier_behind_the_challenge() {
        // RFC 7636, appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_matches(challenge, verifier));
        assert!(!pkce_matches(challenge, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl"));
        assert!(!pkce_matches(challenge, "short"));
    }

    #[test]
    fn an_access_token_holds_until_it_expires_and_only_as_issued() {
        let secret = SecretKey::generate();
        let token = access_token(&secret, 42, 1_000);
        assert_eq!(grant_of_access_token(&secret, &token, 999), Some((42, 1_000)));
        assert_eq!(grant_of_access_token(&secret, &token, 1_000), None);
        assert_eq!(grant_of_access_token(&SecretKey::generate(), &token, 999), None);
        let forged = token.replacen("42.", "43.", 1);
        assert_eq!(grant_of_access_token(&secret, &forged, 999), None);
    }
}
