//! Acting as another user after sign-in: whom one may act as, switching, switching back.

use axum::{Json, extract::State};
use serde::{Deserialize, Serialize};

use crate::{
    app::App,
    clock::to_unix,
    error::Result,
    http::extract::{ApiJson, ApiQuery, Client, Session},
    impersonation::{self, Kind, Switched, Switching, Target},
    sessions::Current,
    values::UserId,
};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct TargetsQuery {
    /// Part of a username or account name, any case.
    #[serde(default)]
    q: String,
    /// `all` (default), `users` or `accounts`: what `q` is matched against.
    #[serde(default)]
    #[param(value_type = Option<String>)]
    kind: Kind,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Targets {
    targets: Vec<Target>,
}

/// The users the person signed in may act as.
#[utoipa::path(get, path = "/api/v1/impersonation/targets", tag = "impersonation", security(("bearer" = [])),
    params(TargetsQuery), responses((status = 200, body = Targets)))]
pub async fn targets(
    State(app): State<App>,
    Session(current): Session,
    ApiQuery(query): ApiQuery<TargetsQuery>,
) -> Result<Json<Targets>> {
    let targets = impersonation::targets(&app.store, &current, &query.q, query.kind).await?;
    Ok(Json(Targets { targets }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartBody {
    user_id: UserId,
}

/// A new session: its token (the old one no longer works) and what it is.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SwitchedBody {
    token: String,
    session: Current,
}

impl From<Switched> for SwitchedBody {
    fn from(s: Switched) -> Self {
        Self { token: s.token.expose().to_owned(), session: s.session }
    }
}

/// Act as a user one holds `act_as` on.
#[utoipa::path(post, path = "/api/v1/impersonation", tag = "impersonation", security(("bearer" = [])),
    request_body = StartBody, responses(
    (status = 200, body = SwitchedBody),
    (status = 403, description = "`forbidden`: no `act_as` on that user, or the user manages the caller; `target_account_blocked`: that user's account is blocked", body = super::doc::ErrorBody),
    (status = 422, description = "`invalid`: the session is already acting as someone", body = super::doc::ErrorBody),
))]
pub async fn start(
    State(app): State<App>,
    Session(current): Session,
    client: Client,
    ApiJson(body): ApiJson<StartBody>,
) -> Result<Json<SwitchedBody>> {
    let origin = (client.ip.to_string(), client.user_agent);
    let now = to_unix(app.now());
    let switched = impersonation::start(
        &app.store,
        &app.lifetimes,
        &current,
        body.user_id,
        (&origin.0, &origin.1),
        now,
        Switching::InPlace,
    )
    .await?;
    Ok(Json(switched.into()))
}

/// Switch back to oneself.
#[utoipa::path(delete, path = "/api/v1/impersonation", tag = "impersonation", security(("bearer" = [])),
    responses(
    (status = 200, body = SwitchedBody),
    (status = 422, description = "`invalid`: the session is not acting as anyone", body = super::doc::ErrorBody),
))]
pub async fn stop(
    State(app): State<App>,
    Session(current): Session,
    client: Client,
) -> Result<Json<SwitchedBody>> {
    let origin = (client.ip.to_string(), client.user_agent);
    let now = to_unix(app.now());
    let switched =
        impersonation::stop(&app.store, &app.lifetimes, &current, (&origin.0, &origin.1), now).await?;
    Ok(Json(switched.into()))
}
