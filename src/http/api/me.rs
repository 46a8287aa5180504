//! The signed-in user's own duties and settings.

use axum::{
    Json,
    extract::{Query, State},
    http::StatusCode,
};
use serde::{Deserialize, Serialize};

use crate::{
    app::App,
    audit::{self, SignIn},
    clock::to_unix,
    dpa,
    error::Result,
    http::extract::{AnySession, ApiJson, Client, Session},
    passwords::Password,
    users::{self, PasswordChange},
    verification::{self, Channel},
};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    /// The agreement version now accepted.
    version: i64,
}

/// Accept the account's Data Protection Agreement.
#[utoipa::path(post, path = "/api/v1/session/accept-dpa", tag = "session", security(("bearer" = [])), responses(
    (status = 200, body = Accepted),
))]
pub async fn accept_dpa(
    State(app): State<App>,
    session: AnySession,
    client: Client,
) -> Result<Json<Accepted>> {
    let version = dpa::accept(&app.store, &session.actor(&client), to_unix(app.now())).await?;
    Ok(Json(Accepted { version }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChangeBody {
    #[schema(value_type = String, format = Password)]
    current_password: Password,
    #[schema(value_type = String, format = Password)]
    new_password: Password,
    #[schema(value_type = String, format = Password)]
    new_password_confirmation: Password,
}

/// Change one's own password. Every other session of the user ends.
#[utoipa::path(post, path = "/api/v1/password/change", tag = "passwords", security(("bearer" = [])),
    request_body = PasswordChangeBody, responses(
    (status = 204, description = "Changed"),
    (status = 403, description = "`forbidden`: the user may not change the password", body = super::ErrorBody),
    (status = 422, description = "`invalid`: `field` says which password is wrong or weak", body = super::ErrorBody),
))]
pub async fn change_password(
    State(app): State<App>,
    session: AnySession,
    client: Client,
    ApiJson(body): ApiJson<PasswordChangeBody>,
) -> Result<StatusCode> {
    let change = PasswordChange {
        current: body.current_password,
        new: body.new_password,
        confirmation: body.new_password_confirmation,
    };
    let actor = session.actor(&client);
    users::change_password(&app.store, &app.hasher, &actor, session.0.id, change, to_unix(app.now())).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct HistoryQuery {
    /// Only entries older than this one (the `next` of the previous page).
    before: Option<i64>,
    /// At most this many entries (1 to 200, default 50).
    limit: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoginHistory {
    entries: Vec<SignIn>,
    /// Pass as `before` for the next page; null on the last one.
    next: Option<i64>,
}

/// The caller's sign-in attempts, newest first.
#[utoipa::path(get, path = "/api/v1/me/login-history", tag = "session", security(("bearer" = [])),
    params(HistoryQuery), responses((status = 200, body = LoginHistory)))]
pub async fn login_history(
    State(app): State<App>,
    Session(current): Session,
    Query(query): Query<HistoryQuery>,
) -> Result<Json<LoginHistory>> {
    let user = current.signed_in_user();
    let (entries, next) =
        audit::login_history(&app.store, user, query.before, query.limit.unwrap_or(50)).await?;
    Ok(Json(LoginHistory { entries, next }))
}

/// Send a code to the caller's email address to confirm it.
#[utoipa::path(post, path = "/api/v1/me/email/verification", tag = "security", security(("bearer" = [])),
    responses(
    (status = 202, description = "Sent (or queued, when the mail server is down)", body = verification::Sent),
    (status = 422, description = "`invalid`: no email address to confirm", body = super::ErrorBody),
    (status = 429, description = "`too_soon`, with `retry_after`", body = super::ErrorBody),
))]
pub async fn send_email_code(
    State(app): State<App>,
    session: Session,
    client: Client,
) -> Result<(StatusCode, Json<verification::Sent>)> {
    send_code(&app, &session, &client, Channel::Email).await
}

/// Send a code by SMS to the caller's phone to confirm it.
#[utoipa::path(post, path = "/api/v1/me/phone/verification", tag = "security", security(("bearer" = [])),
    responses(
    (status = 202, description = "Sent (or queued, when the gateway is down)", body = verification::Sent),
    (status = 422, description = "`invalid`: no phone; `sms_unavailable`, with the `reason`", body = super::ErrorBody),
    (status = 429, description = "`too_soon`, with `retry_after`", body = super::ErrorBody),
))]
pub async fn send_phone_code(
    State(app): State<App>,
    session: Session,
    client: Client,
) -> Result<(StatusCode, Json<verification::Sent>)> {
    send_code(&app, &session, &client, Channel::Sms).await
}

async fn send_code(
    app: &App,
    session: &Session,
    client: &Client,
    channel: Channel,
) -> Result<(StatusCode, Json<verification::Sent>)> {
    let actor = session.actor(client);
    let gateway = app.delivery.sms.is_some();
    let sent =
        verification::send_code(&app.store, &app.keys, gateway, &actor, channel, to_unix(app.now())).await?;
    app.delivery.wake.notify_one();
    Ok((StatusCode::ACCEPTED, Json(sent)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    /// The six digits received.
    code: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Confirmed {
    verified: bool,
}

/// Confirm the caller's email address with the code sent to it.
#[utoipa::path(post, path = "/api/v1/me/email/verification/confirm", tag = "security",
    security(("bearer" = [])), request_body = CodeBody, responses(
    (status = 200, body = Confirmed),
    (status = 401, description = "`invalid_code`, with `attempts_left`", body = super::ErrorBody),
    (status = 410, description = "`code_expired`: ask for a new code", body = super::ErrorBody),
))]
pub async fn confirm_email(
    State(app): State<App>,
    session: Session,
    client: Client,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Json<Confirmed>> {
    confirm(&app, &session, &client, Channel::Email, &body.code).await
}

/// Confirm the caller's phone with the code sent to it by SMS.
#[utoipa::path(post, path = "/api/v1/me/phone/verification/confirm", tag = "security",
    security(("bearer" = [])), request_body = CodeBody, responses(
    (status = 200, body = Confirmed),
    (status = 401, description = "`invalid_code`, with `attempts_left`", body = super::ErrorBody),
    (status = 410, description = "`code_expired`: ask for a new code", body = super::ErrorBody),
))]
pub async fn confirm_phone(
    State(app): State<App>,
    session: Session,
    client: Client,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Json<Confirmed>> {
    confirm(&app, &session, &client, Channel::Sms, &body.code).await
}

async fn confirm(
    app: &App,
    session: &Session,
    client: &Client,
    channel: Channel,
    code: &str,
) -> Result<Json<Confirmed>> {
    let actor = session.actor(client);
    verification::confirm(&app.store, &app.keys, &actor, channel, code, to_unix(app.now())).await?;
    Ok(Json(Confirmed { verified: true }))
}
