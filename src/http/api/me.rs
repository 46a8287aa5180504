//! The signed-in user's own duties and settings.

use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};

use crate::{
    app::App,
    audit::{self, SignIn},
    clock::to_unix,
    dpa,
    error::{Error, Result},
    http::extract::{AnySession, ApiJson, ApiPath, ApiQuery, Client, Session},
    mfa::{
        self, Method, Settings, backup,
        devices::{self, TrustedDevice},
        totp::{self, Enrolment},
    },
    passwords::Password,
    recovery,
    users::{self, OwnChanges, PasswordChange, SecuritySettings},
    values::AppKind,
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
    (status = 423, description = "`locked`: too many wrong passwords; `retry_after` says for how long", body = super::doc::ErrorBody),
    (status = 204, description = "Changed"),
    (status = 403, description = "`forbidden`: the user may not change the password", body = super::doc::ErrorBody),
    (status = 422, description = "`invalid`: `field` says which password is wrong or weak", body = super::doc::ErrorBody),
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
    ApiQuery(query): ApiQuery<HistoryQuery>,
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
    (status = 422, description = "`invalid`: no email address to confirm", body = super::doc::ErrorBody),
    (status = 429, description = "`too_soon`, with `retry_after`", body = super::doc::ErrorBody),
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
    (status = 422, description = "`invalid`: no phone; `sms_unavailable`, with the `reason`", body = super::doc::ErrorBody),
    (status = 429, description = "`too_soon`, with `retry_after`", body = super::doc::ErrorBody),
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
    (status = 401, description = "`invalid_code`, with `attempts_left`", body = super::doc::ErrorBody),
    (status = 410, description = "`code_expired`: ask for a new code", body = super::doc::ErrorBody),
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
    (status = 401, description = "`invalid_code`, with `attempts_left`", body = super::doc::ErrorBody),
    (status = 410, description = "`code_expired`: ask for a new code", body = super::doc::ErrorBody),
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
    /// Needed to change an address.
    #[schema(value_type = Option<String>, format = Password)]
    current_password: Option<Password>,
}

/// Change one's own addresses, notices and language.
#[utoipa::path(patch, path = "/api/v1/me/security", tag = "security", security(("bearer" = [])),
    request_body = SecurityBody, responses(
    (status = 423, description = "`locked`: too many wrong passwords; `retry_after` says for how long", body = super::doc::ErrorBody),
    (status = 200, body = SecuritySettings),
    (status = 422, description = "`invalid`: `field` says which", body = super::doc::ErrorBody),
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
        current_password: body.current_password,
    };
    let actor = session.actor(&client);
    Ok(Json(users::update_own(&app.store, &app.hasher, &actor, &changes, to_unix(app.now())).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TwoFactorBody {
    /// `none` turns the second factor off.
    method: TwoFactorMethod,
    /// The apps to change; both when left out.
    apps: Option<Vec<AppKind>>,
    /// Needed to turn a factor off or replace it with another.
    #[schema(value_type = Option<String>, format = Password)]
    current_password: Option<Password>,
}

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TwoFactorMethod {
    None,
    Email,
    Sms,
    Totp,
    Passkey,
}

/// Turn one's own second factor on or off, per app. Email needs a confirmed address,
/// SMS a confirmed phone and a company that sends codes by SMS, TOTP an authenticator
/// app set up with `/api/v1/me/totp`, a passkey one added with `/api/v1/me/passkeys`.
#[utoipa::path(put, path = "/api/v1/me/two-factor", tag = "security", security(("bearer" = [])),
    request_body = TwoFactorBody, responses(
    (status = 423, description = "`locked`: too many wrong passwords; `retry_after` says for how long", body = super::doc::ErrorBody),
    (status = 200, description = "The second factor now on per app", body = Settings),
    (status = 422, description = "`invalid`: the address is not confirmed, or the company sends codes by email only", body = super::doc::ErrorBody),
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
        TwoFactorMethod::Totp => Some(Method::Totp),
        TwoFactorMethod::Passkey => Some(Method::Passkey),
    };
    let apps = body.apps.unwrap_or_else(|| vec![AppKind::Web, AppKind::Manager]);
    let changes: Vec<_> = apps.into_iter().map(|a| (a, method)).collect();
    let actor = session.actor(&client);
    let now = to_unix(app.now());
    Ok(Json(mfa::set(&app.store, &app.hasher, &actor, &changes, body.current_password, now).await?))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolBody {
    /// The current password.
    #[schema(value_type = Option<String>, format = Password)]
    password: Option<Password>,
}

/// Start adding an authenticator app, with the current password: a new secret, shown
/// only in this answer. The current one (if any) keeps working until a code from the new
/// one confirms it.
#[utoipa::path(post, path = "/api/v1/me/totp", tag = "security", security(("bearer" = [])),
    request_body = EnrolBody, responses(
    (status = 423, description = "`locked`: too many wrong passwords; `retry_after` says for how long", body = super::doc::ErrorBody),
    (status = 201, body = Enrolment),
    (status = 422, description = "`invalid`: the password is missing or wrong", body = super::doc::ErrorBody),
))]
pub async fn enrol_totp(
    State(app): State<App>,
    session: Session,
    client: Client,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Enrolment>)> {
    let body: EnrolBody = match body.is_empty() {
        true => EnrolBody::default(),
        false => serde_json::from_slice(&body).map_err(|e| Error::invalid("password", e.to_string()))?,
    };
    let password = body.password;
    let actor = session.actor(&client);
    let enrolment =
        totp::enrol(&app.store, &app.keys, &app.hasher, &actor, password, to_unix(app.now())).await?;
    Ok((StatusCode::CREATED, Json(enrolment)))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BackupCodes {
    /// Ten single-use codes, shown only here.
    backup_codes: Vec<String>,
}

/// Turn the new authenticator on (for both apps) with a code from it.
#[utoipa::path(post, path = "/api/v1/me/totp/confirm", tag = "security", security(("bearer" = [])),
    request_body = CodeBody, responses(
    (status = 200, body = BackupCodes),
    (status = 422, description = "`invalid`: the code is wrong, or no authenticator is being added", body = super::doc::ErrorBody),
))]
pub async fn confirm_totp(
    State(app): State<App>,
    session: Session,
    client: Client,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Json<BackupCodes>> {
    let actor = session.actor(&client);
    let backup_codes = totp::confirm(&app.store, &app.keys, &actor, &body.code, to_unix(app.now())).await?;
    Ok(Json(BackupCodes { backup_codes }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    #[schema(value_type = String, format = Password)]
    password: Password,
}

/// Remove the authenticator and its backup codes; needs the current password.
#[utoipa::path(delete, path = "/api/v1/me/totp", tag = "security", security(("bearer" = [])),
    request_body = PasswordBody, responses(
    (status = 423, description = "`locked`: too many wrong passwords; `retry_after` says for how long", body = super::doc::ErrorBody),
    (status = 204, description = "Removed; apps that used it have no second factor now"),
    (status = 404, description = "`not_found`: no authenticator", body = super::doc::ErrorBody),
    (status = 422, description = "`invalid`: the password is wrong", body = super::doc::ErrorBody),
))]
pub async fn disable_totp(
    State(app): State<App>,
    session: Session,
    client: Client,
    ApiJson(body): ApiJson<PasswordBody>,
) -> Result<StatusCode> {
    let actor = session.actor(&client);
    totp::disable(&app.store, &app.hasher, &actor, body.password, to_unix(app.now())).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new set of backup codes; the old ones stop working.
#[utoipa::path(post, path = "/api/v1/me/backup-codes", tag = "security", security(("bearer" = [])),
    responses(
    (status = 200, body = BackupCodes),
    (status = 422, description = "`invalid`: no authenticator app is set up", body = super::doc::ErrorBody),
))]
pub async fn regenerate_backup_codes(
    State(app): State<App>,
    session: Session,
    client: Client,
) -> Result<Json<BackupCodes>> {
    let actor = session.actor(&client);
    let backup_codes = backup::regenerate(&app.store, &app.keys, &actor, to_unix(app.now())).await?;
    Ok(Json(BackupCodes { backup_codes }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TrustedDevices {
    devices: Vec<TrustedDevice>,
}

/// The devices where no code is asked, newest first.
#[utoipa::path(get, path = "/api/v1/me/trusted-devices", tag = "security", security(("bearer" = [])),
    responses((status = 200, body = TrustedDevices)))]
pub async fn trusted_devices(
    State(app): State<App>,
    Session(current): Session,
) -> Result<Json<TrustedDevices>> {
    let devices = devices::list(&app.store, current.user.id, to_unix(app.now())).await?;
    Ok(Json(TrustedDevices { devices }))
}

/// Stop trusting a device: the next sign-in there asks for a code.
#[utoipa::path(delete, path = "/api/v1/me/trusted-devices/{id}", tag = "security", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The device")), responses(
    (status = 204, description = "No longer trusted"),
    (status = 404, description = "`not_found`", body = super::doc::ErrorBody),
))]
pub async fn revoke_trusted_device(
    State(app): State<App>,
    session: Session,
    client: Client,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode> {
    devices::revoke(&app.store, &session.actor(&client), id, to_unix(app.now())).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotBody {
    username: String,
    email: String,
}

/// Ask for a password reset link. The answer is the same whether or not the username and
/// email belong together.
#[utoipa::path(post, path = "/api/v1/password/forgot", tag = "passwords", request_body = ForgotBody, responses(
    (status = 202, description = "If they belong together, a link is on its way"),
    (status = 429, description = "`too_soon`: one request a minute per username, with `retry_after`", body = super::doc::ErrorBody),
))]
pub async fn forgot_password(
    State(app): State<App>,
    client: Client,
    ApiJson(body): ApiJson<ForgotBody>,
) -> Result<StatusCode> {
    let ip = client.ip.to_string();
    let request = recovery::Request { username: &body.username, email: &body.email, ip: &ip };
    let valid_for = i64::from(app.config.reset_link_hours) * 3600;
    let public_url = app.config.public_url();
    recovery::request(&app.store, &public_url, valid_for, &request, to_unix(app.now())).await?;
    app.delivery.wake.notify_one();
    Ok(StatusCode::ACCEPTED)
}
