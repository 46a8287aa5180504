//! Forward auth: a reverse proxy (nginx `auth_request`, Traefik `forwardAuth`, Caddy
//! `forward_auth`) asks before every request to an app it protects whether the visitor
//! is signed in. The answer is the session check's, as headers the app can trust.

use axum::{
    extract::State,
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use crate::{
    app::App,
    clock::to_unix,
    error::{Error, Result},
    http::{
        extract::{ApiQuery, presented_token},
        web::return_allowed,
    },
    sessions::{self, Current},
};

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ForwardQuery {
    /// `401`: answer a browser that must sign in with `401` and the sign-in URL in
    /// `Location`, for nginx's `auth_request` (which takes nothing but 2xx, 401 and 403);
    /// by default it gets `302` to it (Traefik, Caddy).
    status: Option<u16>,
}

/// Whether the visitor of a protected app is signed in. On `200` the headers say who:
/// `Remote-User`, `Remote-Account`, `Remote-Email` (when the user has one) and, while
/// someone acts as the user, `Remote-Impersonator`. A browser (`Accept: text/html`) that
/// must sign in is sent to the sign-in page, which brings it back to the address the proxy
/// gives in `X-Original-URL` or `X-Forwarded-Proto`/`-Host`/`-Uri`, if that host is one of
/// `PORTCULLIS_FORWARD_AUTH_DOMAINS`.
#[utoipa::path(get, path = "/api/v1/forward-auth", tag = "session", security(("bearer" = [])),
    params(ForwardQuery), responses(
    (status = 200, description = "Signed in; who is in the `Remote-*` headers"),
    (status = 302, description = "A browser that must sign in: `Location` is the sign-in page"),
    (status = 401, description = "`unauthenticated` (with `?status=401`, also for a browser, with `Location`)",
        body = super::doc::ErrorBody),
))]
pub async fn check(
    State(app): State<App>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<ForwardQuery>,
) -> Result<Response> {
    let now = to_unix(app.now());
    let found = match presented_token(&headers) {
        Some(token) => sessions::check(&app.store, &app.lifetimes, token, now).await,
        None => Err(Error::Unauthenticated),
    };
    match found {
        // A session with a duty pending is not in yet: the sign-in pages lead it there.
        Ok(current) if current.pending.is_empty() => Ok(identity(&current)),
        Ok(_) | Err(Error::Unauthenticated | Error::AccountBlocked { .. }) => {
            Ok(sign_in(&app, &headers, &query))
        }
        Err(e) => Err(e),
    }
}

/// `200` with who the visitor is.
fn identity(current: &Current) -> Response {
    let mut response = StatusCode::OK.into_response();
    let mut set = |name: &'static str, value: &str| {
        // Usernames hold no control characters; anything else is sent as UTF-8.
        if let Ok(value) = HeaderValue::from_bytes(value.as_bytes()) {
            response.headers_mut().insert(HeaderName::from_static(name), value);
        }
    };
    set("remote-user", &current.user.username);
    set("remote-account", &current.account.name);
    if let Some(email) = &current.email {
        set("remote-email", email);
    }
    if let Some(real) = &current.impersonator {
        set("remote-impersonator", &real.username);
    }
    response
}

/// The answer for a visitor who is not signed in.
fn sign_in(app: &App, headers: &HeaderMap, query: &ForwardQuery) -> Response {
    let wants_page = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    let back_to = original_url(headers).filter(|url| return_allowed(app, url));
    let (true, Some(back_to)) = (wants_page, back_to) else {
        return Error::Unauthenticated.into_response();
    };
    let mut login = app.public_url().join("/login").expect("a path joins a base URL");
    login.query_pairs_mut().append_pair("next", &back_to);
    let status = if query.status == Some(401) { StatusCode::UNAUTHORIZED } else { StatusCode::FOUND };
    let mut response = status.into_response();
    if let Ok(location) = HeaderValue::from_str(login.as_str()) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// The address the visitor asked the proxy for.
fn original_url(headers: &HeaderMap) -> Option<String> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(url) = get("x-original-url") {
        return Some(url.to_owned());
    }
    let (proto, host) = (get("x-forwarded-proto")?, get("x-forwarded-host")?);
    Some(format!("{proto}://{host}{}", get("x-forwarded-uri").unwrap_or("/")))
}
