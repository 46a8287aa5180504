//! What a client learns of the person: the same facts in the ID token, at userinfo and
//! from introspection. `sub` is the effective user's id (the user acted as, while someone
//! acts as them) and `act` names the person really there (RFC 8693), so an app can show
//! "support, acting as Anna" and audit both.

use serde_json::{Value, json};

use crate::{
    sessions::Current,
    store::{GrantView, SignInFacts},
    values::User,
};

/// Who signs an ID token, for whom, with which nonce.
pub struct Signed<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: Option<&'a str>,
}

/// The facts every answer carries.
fn identity(current: &Current) -> serde_json::Map<String, Value> {
    let mut claims = serde_json::Map::new();
    claims.insert("sub".into(), json!(current.user.id.0.to_string()));
    claims.insert("preferred_username".into(), json!(current.user.username));
    claims.insert("locale".into(), json!(current.language.code()));
    claims.insert("account".into(), json!({ "id": current.account.id, "name": current.account.name }));
    if let Some(real) = &current.impersonator {
        claims.insert(
            "act".into(),
            json!({ "sub": real.id.0.to_string(), "preferred_username": real.username }),
        );
    }
    claims
}

/// The email claims, for a grant with the `email` scope.
fn email(claims: &mut serde_json::Map<String, Value>, user: &User, scope: &str) {
    if scope.split(' ').any(|s| s == "email")
        && let Some(address) = &user.email
    {
        claims.insert("email".into(), json!(address.as_str()));
        claims.insert("email_verified".into(), json!(user.email_verified));
    }
}

/// The claims of an ID token.
pub fn id_token(
    current: &Current,
    user: &User,
    facts: &SignInFacts,
    scope: &str,
    signed: &Signed<'_>,
    now: i64,
) -> Value {
    let mut claims = identity(current);
    email(&mut claims, user, scope);
    claims.insert("iss".into(), json!(signed.issuer));
    claims.insert("aud".into(), json!(signed.client_id));
    claims.insert("azp".into(), json!(signed.client_id));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + super::signing::TOKEN_LIFETIME));
    claims.insert("auth_time".into(), json!(facts.auth_time));
    claims.insert("amr".into(), json!(facts.amr.split(' ').collect::<Vec<_>>()));
    claims.insert("sid".into(), json!(current.id.to_string()));
    if let Some(nonce) = signed.nonce {
        claims.insert("nonce".into(), json!(nonce));
    }
    Value::Object(claims)
}

/// The userinfo answer.
pub fn userinfo(current: &Current, user: &User, scope: &str) -> Value {
    let mut claims = identity(current);
    email(&mut claims, user, scope);
    Value::Object(claims)
}

/// What introspection says of an active token (RFC 7662), before its times.
pub fn about(current: &Current, issuer: &str, grant: &GrantView) -> Value {
    let mut claims = identity(current);
    claims.insert("username".into(), json!(current.user.username));
    claims.insert("client_id".into(), json!(grant.client_id));
    claims.insert("aud".into(), json!(grant.client_id));
    claims.insert("scope".into(), json!(grant.scope));
    claims.insert("iss".into(), json!(issuer));
    Value::Object(claims)
}
