//! Third-party settings of the signed-in top user: the flespi token.

use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;

use crate::{
    app::App,
    clock::to_unix,
    error::{Error, Result},
    http::extract::{ApiJson, Client, Session},
    integrations::{self, Checked, FlespiSettings, Region, Source},
};

/// The stored flespi token, masked, with its region and the last check's answer. Only
/// top users have this section.
#[utoipa::path(get, path = "/api/v1/me/integrations/flespi", tag = "integrations", security(("bearer" = [])),
    responses(
    (status = 200, body = FlespiSettings),
    (status = 403, description = "`forbidden`: not a top user", body = super::doc::ErrorBody),
    (status = 404, description = "`not_found`: no token stored", body = super::doc::ErrorBody),
))]
pub async fn flespi(
    State(app): State<App>,
    session: Session,
    client: Client,
) -> Result<Json<FlespiSettings>> {
    let settings = integrations::settings(&app.store, &session.actor(&client)).await?;
    Ok(Json(settings.ok_or(Error::NotFound)?))
}

/// Not `Debug`: it holds the token.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlespiBody {
    /// The token as flespi shows it (a leading `FlespiToken ` is dropped).
    #[schema(format = Password)]
    token: String,
    region: Region,
}

/// Store a flespi token and its region, replacing any before. The token is encrypted at
/// rest and never shown again in full.
#[utoipa::path(put, path = "/api/v1/me/integrations/flespi", tag = "integrations", security(("bearer" = [])),
    request_body = FlespiBody, responses(
    (status = 200, body = FlespiSettings),
    (status = 403, description = "`forbidden`: not a top user", body = super::doc::ErrorBody),
    (status = 422, description = "`invalid`: `field` is `token` or `region`", body = super::doc::ErrorBody),
))]
pub async fn save_flespi(
    State(app): State<App>,
    session: Session,
    client: Client,
    ApiJson(body): ApiJson<FlespiBody>,
) -> Result<Json<FlespiSettings>> {
    let actor = session.actor(&client);
    let token = (Some(body.token.as_str()), body.region, Source::Manual);
    Ok(Json(integrations::save(&app.store, &app.keys, &actor, token, to_unix(app.now())).await?))
}

/// Forget the stored flespi token.
#[utoipa::path(delete, path = "/api/v1/me/integrations/flespi", tag = "integrations", security(("bearer" = [])),
    responses(
    (status = 204, description = "Forgotten"),
    (status = 404, description = "`not_found`: no token stored", body = super::doc::ErrorBody),
))]
pub async fn remove_flespi(State(app): State<App>, session: Session, client: Client) -> Result<StatusCode> {
    integrations::remove(&app.store, &session.actor(&client), to_unix(app.now())).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ask flespi (in the token's region) whether the stored token is active, and until when.
#[utoipa::path(post, path = "/api/v1/me/integrations/flespi/check", tag = "integrations",
    security(("bearer" = [])), responses(
    (status = 200, body = Checked),
    (status = 404, description = "`not_found`: no token stored", body = super::doc::ErrorBody),
    (status = 502, description = "`unreachable`: flespi did not answer; `service` is `flespi`", body = super::doc::ErrorBody),
))]
pub async fn check_flespi(State(app): State<App>, session: Session, client: Client) -> Result<Json<Checked>> {
    let actor = session.actor(&client);
    let now = to_unix(app.now());
    Ok(Json(integrations::check(&app.store, &app.keys, &app.flespi, &actor, now).await?))
}
