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
    mfa::{self, Method, Settings},
    passwords::Password,
    sessions::AppKind,
    users::{self, OwnChanges, PasswordChange, SecuritySettings},
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

/// The caller's security settings: addresses and whether they are confirmed, the second
/// factor per app and how the company sends codes.
#[utoipa::path(get, path = "/api/v1/me/security", tag = "security", security(("bearer" = [])),
    responses((status = 200, body = SecuritySettings)))]
pub async fn security(State(app): State<App>, Session(current): Session) -> Result<Json<SecuritySettings>> {
    Ok(Json(users::security(&app.store, current.user.id).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecurityBody {
    /// A new address is unconfirmed until confirmed with a code; null removes it.
    #[serde(default, deserialize_with = "super::users::present")]
    #[schema(value_type = Option<String>)]
    email: Option<Option<String>>,
    /// In international form, e.g. `+35312345678`; null removes it.
    #[serde(default, deserialize_with = "super::users::present")]
    #[schema(value_type = Option<String>)]
    phone: Option<Option<String>>,
    /// Email notices, daily from 5 days before the account is blocked.
    notify_account_blocking: Option<bool>,
    /// `en`, `ru` or `es`.
    language: Option<String>,
}

/// Change one's own addresses, notices and language.
#[utoipa::path(patch, path = "/api/v1/me/security", tag = "security", security(("bearer" = [])),
    request_body = SecurityBody, responses(
    (status = 200, body = SecuritySettings),
    (status = 422, description = "`invalid`: `field` says which", body = super::ErrorBody),
))]
pub async fn update_security(
    State(app): State<App>,
    session: Session,
    client: Client,
    ApiJson(body): ApiJson<SecurityBody>,
) -> Result<Json<SecuritySettings>> {
    let changes = OwnChanges {
        email: body.email,
        phone: body.phone,
        notify_account_blocking: body.notify_account_blocking,
        language: body.language,
    };
    let actor = session.actor(&client);
    Ok(Json(users::update_own(&app.store, &actor, &changes, to_unix(app.now())).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TwoFactorBody {
    /// `none` turns the second factor off.
    method: TwoFactorMethod,
    /// The apps to change; both when left out.
    apps: Option<Vec<AppKind>>,
}

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TwoFactorMethod {
    None,
    Email,
    Sms,
}

/// Turn one's own second factor on or off, per app. Email needs a confirmed address,
/// SMS a confirmed phone and a company that sends codes by SMS.
#[utoipa::path(put, path = "/api/v1/me/two-factor", tag = "security", security(("bearer" = [])),
    request_body = TwoFactorBody, responses(
    (status = 200, description = "The second factor now on per app", body = Settings),
    (status = 422, description = "`invalid`: the address is not confirmed, or the company sends codes by email only", body = super::ErrorBody),
))]
pub async fn put_two_factor(
    State(app): State<App>,
    session: Session,
    client: Client,
    ApiJson(body): ApiJson<TwoFactorBody>,
) -> Result<Json<Settings>> {
    let method = match body.method {
        TwoFactorMethod::None => None,
        TwoFactorMethod::Email => Some(Method::Email),
        TwoFactorMethod::Sms => Some(Method::Sms),
    };
    let apps = body.apps.unwrap_or_else(|| vec![AppKind::Web, AppKind::Manager]);
    let actor = session.actor(&client);
    Ok(Json(mfa::set(&app.store, &actor, method, &apps, to_unix(app.now())).await?))
}
