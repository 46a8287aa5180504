//! The OpenID Connect provider's machine endpoints: discovery, the key set, the token
//! endpoint, userinfo, introspection (RFC 7662) and revocation (RFC 7009). They speak
//! OAuth's own forms and errors rather than the JSON API's. The endpoints a browser visits
//! (authorization, consent, signing out) are pages, in `web::oidc`.

use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, Method, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};

use crate::{
    app::App,
    clock::to_unix,
    error::Error,
    http::extract::Client as Peer,
    oidc::{self, Alg, clients, grants},
};

mod params;

use params::{OAuthError, bearer, credentials, form};
pub(crate) use params::{Params, either_way};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/oauth2/jwks", get(jwks))
        .route("/oauth2/token", post(token))
        .route("/oauth2/userinfo", get(userinfo).post(userinfo))
        .route("/oauth2/introspect", post(introspect))
        .route("/oauth2/revoke", post(revoke))
}

/// `GET /.well-known/openid-configuration`.
async fn discovery(State(app): State<App>) -> Response {
    let issuer = app.issuer();
    let document = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth2/authorize"),
        "token_endpoint": format!("{issuer}/oauth2/token"),
        "userinfo_endpoint": format!("{issuer}/oauth2/userinfo"),
        "jwks_uri": format!("{issuer}/oauth2/jwks"),
        "introspection_endpoint": format!("{issuer}/oauth2/introspect"),
        "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
        "end_session_endpoint": format!("{issuer}/oauth2/logout"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": Alg::ALL.map(Alg::as_str),
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "amr", "sid", "act",
            "preferred_username", "locale", "email", "email_verified", "account",
        ],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "prompt_values_supported": ["none", "login"],
        "authorization_response_iss_parameter_supported": true,
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    });
    cacheable(document, 3600)
}

/// `GET /oauth2/jwks`: every key that signs or signed tokens still valid.
async fn jwks(State(app): State<App>) -> Result<Response, OAuthError> {
    let now = to_unix(app.now());
    // The first relying party to look finds the keys even before the first sign-in.
    oidc::signing::ensure(&app.store, &app.keys, now).await?;
    // Cached no longer than a new key waits before it signs.
    Ok(cacheable(oidc::signing::jwks(&app.store, now).await?, 300))
}

fn cacheable(document: Value, seconds: u32) -> Response {
    let mut response = Json(document).into_response();
    let value = format!("public, max-age={seconds}").parse().expect("a header value");
    response.headers_mut().insert(header::CACHE_CONTROL, value);
    response
}

/// The client of a request, authenticated.
async fn client(app: &App, headers: &HeaderMap, params: &Params) -> Result<oidc::Client, Error> {
    clients::authenticate(&app.store, &credentials(headers, params)?).await
}

/// `POST /oauth2/token`: a code or a refresh token for tokens.
async fn token(
    State(app): State<App>,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let params = form(&headers, &body)?;
    let client = client(&app, &headers, &params).await?;
    let now = to_unix(app.now());
    let issued = match params.require("grant_type")? {
        "authorization_code" => {
            let code = params.require("code")?;
            let (redirect_uri, verifier) = (params.get("redirect_uri"), params.get("code_verifier"));
            grants::exchange(app.provider(), &client, code, redirect_uri, verifier, peer.ip, now).await?
        }
        "refresh_token" => {
            grants::refresh(app.provider(), &client, params.require("refresh_token")?, peer.ip, now).await?
        }
        _ => {
            return Err(
                Error::oauth("unsupported_grant_type", "use authorization_code or refresh_token").into()
            );
        }
    };
    Ok(Json(issued).into_response())
}

/// `GET|POST /oauth2/userinfo` with a bearer access token (in the header, or in a posted
/// form).
async fn userinfo(
    State(app): State<App>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, OAuthError> {
    let params =
        if method == Method::POST && !body.is_empty() { form(&headers, &body)? } else { Params::default() };
    let token = bearer(&headers, Some(&params)).ok_or(Error::Unauthenticated)?;
    Ok(Json(grants::userinfo(app.provider(), &token, to_unix(app.now())).await?))
}

/// `POST /oauth2/introspect`, for a confidential client.
async fn introspect(
    State(app): State<App>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, OAuthError> {
    let params = form(&headers, &body)?;
    let presented = credentials(&headers, &params)?;
    let token = params.require("token")?;
    Ok(Json(grants::introspect(app.provider(), &presented, token, to_unix(app.now())).await?))
}

/// `POST /oauth2/revoke`: always `200`, whatever the token was.
async fn revoke(
    State(app): State<App>,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let params = form(&headers, &body)?;
    let caller = client(&app, &headers, &params).await?;
    grants::revoke(app.provider(), &caller, params.require("token")?, peer.ip, to_unix(app.now())).await?;
    Ok(Json(json!({})).into_response())
}
