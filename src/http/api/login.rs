//! `POST /api/v1/login`.

use axum::{Json, extract::State};
use serde::{Deserialize, Serialize};

use crate::{
    app::App,
    clock::to_unix,
    error::Result,
    http::extract::{ApiJson, Client},
    login::{self, Attempt},
    passwords::Password,
    sessions::{AppKind, Current, Duty},
};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    /// Case-sensitive.
    username: String,
    #[schema(value_type = String, format = Password)]
    password: Password,
    /// Keep the session for up to 30 days instead of ending it after 5 idle minutes.
    #[serde(default)]
    remember_me: bool,
    #[serde(default)]
    app: AppKind,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SignedInBody {
    /// Always `ok`.
    status: &'static str,
    /// The session token: send it as `Authorization: Bearer <token>`. Shown only here.
    token: String,
    session: Current,
    /// Duties to finish before anything else: `accept_dpa`, `change_password`.
    pending: Vec<Duty>,
}

impl From<login::SignedIn> for SignedInBody {
    fn from(s: login::SignedIn) -> Self {
        Self {
            status: "ok",
            token: s.token.expose().to_owned(),
            pending: s.session.pending.clone(),
            session: s.session,
        }
    }
}

/// Sign in with a username and password.
#[utoipa::path(post, path = "/api/v1/login", tag = "sign-in", request_body = LoginBody, responses(
    (status = 200, description = "Signed in", body = SignedInBody),
    (status = 401, description = "`invalid_credentials`: the same answer for an unknown user", body = super::ErrorBody),
    (status = 403, description = "`account_blocked`", body = super::ErrorBody),
    (status = 423, description = "`locked`, with `retry_after` seconds", body = super::ErrorBody),
))]
pub async fn login(
    State(app): State<App>,
    client: Client,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Json<SignedInBody>> {
    let attempt = Attempt {
        username: body.username,
        password: body.password,
        remember_me: body.remember_me,
        app: body.app,
        ip: client.ip.to_string(),
        user_agent: client.user_agent,
        language: None,
    };
    let signed_in =
        login::sign_in(&app.store, &app.hasher, &app.lifetimes, attempt, to_unix(app.now())).await?;
    Ok(Json(signed_in.into()))
}
