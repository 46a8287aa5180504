//! Administration of accounts.

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use super::users::UserBody;
use crate::{
    accounts::{self, AccountRequest},
    app::App,
    audit,
    clock::{from_unix, to_unix},
    error::{Error, Result},
    http::extract::{ApiJson, ApiPath, ApiQuery, Client, Session},
    lifecycle,
    passwords::Password,
    policy::{self, PolicyChange, TwoFactorPolicy},
    store::TermsChanges,
    users::UserRequest,
    values::{Account, AccountId, UserId},
};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccountBody {
    id: AccountId,
    name: String,
    parent_id: Option<AccountId>,
    /// The account's own blocking date.
    #[serde(with = "time::serde::rfc3339::option")]
    blocking_date: Option<OffsetDateTime>,
    /// The date it is blocked from: its own or an earlier one of an account above it.
    #[serde(with = "time::serde::rfc3339::option")]
    blocked_from: Option<OffsetDateTime>,
    services: Services,
    dpa_version: i64,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Services {
    /// `null` when the `sms` service is off.
    sms: Option<SmsService>,
    email_notifications: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SmsService {
    /// Messages left.
    quota: i64,
}

impl From<Account> for AccountBody {
    fn from(a: Account) -> Self {
        Self {
            id: a.id,
            name: a.name,
            parent_id: a.parent_id,
            blocking_date: a.blocking_at.map(from_unix),
            blocked_from: a.blocked_from.map(from_unix),
            services: Services {
                sms: a.sms_enabled.then_some(SmsService { quota: a.sms_quota }),
                email_notifications: a.email_notifications,
            },
            dpa_version: a.dpa_version,
            created_at: from_unix(a.created_at),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAdminBody {
    username: String,
    #[schema(value_type = String, format = Password)]
    password: Password,
    email: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccountBody {
    name: String,
    /// Default: the caller's own account.
    parent_id: Option<AccountId>,
    /// The account's first top user.
    admin: NewAdminBody,
    /// Turns the `sms` service on with this many messages.
    sms_quota: Option<i64>,
    #[serde(default)]
    email_notifications: bool,
    #[serde(default, with = "time::serde::rfc3339::option")]
    blocking_date: Option<OffsetDateTime>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedAccount {
    account: AccountBody,
    admin: UserBody,
}

/// Create an account below one the caller manages, with its first top user.
#[utoipa::path(post, path = "/api/v1/accounts", tag = "administration", security(("bearer" = [])),
    request_body = NewAccountBody, responses(
    (status = 201, body = CreatedAccount),
    (status = 403, body = super::doc::ErrorBody),
    (status = 409, description = "`conflict`: the name or the admin's username is taken", body = super::doc::ErrorBody),
    (status = 422, body = super::doc::ErrorBody),
))]
pub async fn create(
    State(app): State<App>,
    session: Session,
    client: Client,
    ApiJson(body): ApiJson<NewAccountBody>,
) -> Result<(StatusCode, Json<CreatedAccount>)> {
    let request = AccountRequest {
        name: body.name,
        parent: Some(body.parent_id.unwrap_or(session.0.account.id)),
        blocking_at: body.blocking_date.map(to_unix),
        sms_quota: body.sms_quota,
        email_notifications: body.email_notifications,
        admin: UserRequest {
            username: body.admin.username,
            password: Some(body.admin.password),
            email: body.admin.email,
            can_change_password: true,
            must_change_password: Some(true),
            ..Default::default()
        },
    };
    let actor = session.actor(&client);
    let (account, admin) =
        accounts::create(&app.store, &app.hasher, &actor, &request, to_unix(app.now())).await?;
    Ok((StatusCode::CREATED, Json(CreatedAccount { account: account.into(), admin: admin.into() })))
}

/// The account: its blocking date and services. Its own top users and administrators of
/// accounts above may read it.
#[utoipa::path(get, path = "/api/v1/accounts/{id}", tag = "administration", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The account")), responses(
    (status = 200, body = AccountBody),
    (status = 403, description = "`forbidden`: not an administrator of the account or one above", body = super::doc::ErrorBody),
))]
pub async fn get(
    State(app): State<App>,
    session: Session,
    client: Client,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<AccountBody>> {
    Ok(Json(lifecycle::terms(&app.store, &session.actor(&client), AccountId(id)).await?.into()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountPatchBody {
    /// RFC 3339; from then on the account and every account below it are blocked. Null
    /// clears it.
    #[serde(default, deserialize_with = "super::users::present")]
    #[schema(value_type = Option<String>)]
    blocking_date: Option<Option<String>>,
    services: Option<ServicesPatch>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServicesPatch {
    /// `{"quota": N}` turns the `sms` service on with N messages left; null turns it off.
    #[serde(default, deserialize_with = "super::users::present")]
    #[schema(value_type = Option<SmsPatch>)]
    sms: Option<Option<SmsPatch>>,
    email_notifications: Option<bool>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsPatch {
    quota: i64,
}

/// Change an account's blocking date and services. Only administrators of an account
/// above may: an account's own top users cannot extend or unblock it. Fields left out stay
/// as they are; each change is an `account.updated` audit event.
#[utoipa::path(patch, path = "/api/v1/accounts/{id}", tag = "administration", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The account")), request_body = AccountPatchBody, responses(
    (status = 200, body = AccountBody),
    (status = 403, description = "`forbidden`: not an administrator of an account above", body = super::doc::ErrorBody),
    (status = 422, description = "`invalid`: `field` says which", body = super::doc::ErrorBody),
))]
pub async fn update(
    State(app): State<App>,
    session: Session,
    client: Client,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<AccountPatchBody>,
) -> Result<Json<AccountBody>> {
    let blocking_at = match body.blocking_date {
        Some(Some(text)) => Some(Some(to_unix(OffsetDateTime::parse(&text, &Rfc3339).map_err(|_| {
            Error::invalid("blocking_date", "use an RFC 3339 time, e.g. 2030-03-06T09:00:00Z")
        })?))),
        Some(None) => Some(None),
        None => None,
    };
    let services = body.services;
    let changes = TermsChanges {
        blocking_at,
        sms_quota: services.as_ref().and_then(|s| s.sms.as_ref()).map(|sms| sms.as_ref().map(|s| s.quota)),
        email_notifications: services.and_then(|s| s.email_notifications),
    };
    let actor = session.actor(&client);
    let account =
        lifecycle::change_terms(&app.store, &actor, AccountId(id), &changes, to_unix(app.now())).await?;
    Ok(Json(account.into()))
}

/// The account's second-factor policy: how codes travel, the contact person shown after
/// 3 wrong codes, and whether new users start with 2FA on per app.
#[utoipa::path(get, path = "/api/v1/accounts/{id}/two-factor-policy", tag = "administration",
    security(("bearer" = [])), params(("id" = i64, Path, description = "The account")), responses(
    (status = 200, body = TwoFactorPolicy),
    (status = 403, description = "`forbidden`: not an administrator of the account or one above", body = super::doc::ErrorBody),
))]
pub async fn get_policy(
    State(app): State<App>,
    session: Session,
    client: Client,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<TwoFactorPolicy>> {
    Ok(Json(policy::get(&app.store, &session.actor(&client), AccountId(id)).await?))
}

/// Change the account's second-factor policy: only its own top users may, never from a
/// session acting as someone. Fields left out keep their stored values.
#[utoipa::path(put, path = "/api/v1/accounts/{id}/two-factor-policy", tag = "administration",
    security(("bearer" = [])), params(("id" = i64, Path, description = "The account")),
    request_body = PolicyChange, responses(
    (status = 200, body = TwoFactorPolicy),
    (status = 403, description = "`forbidden`: not a top user of this account, or acting as someone", body = super::doc::ErrorBody),
    (status = 422, description = "`invalid`: `field` says which contact field", body = super::doc::ErrorBody),
))]
pub async fn put_policy(
    State(app): State<App>,
    session: Session,
    client: Client,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<PolicyChange>,
) -> Result<Json<TwoFactorPolicy>> {
    let actor = session.actor(&client);
    Ok(Json(policy::put(&app.store, &actor, AccountId(id), &body, to_unix(app.now())).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    /// Only entries older than this one (the `next` of the previous page).
    before: Option<i64>,
    /// 1 to 500, default 50.
    limit: Option<i64>,
    /// An action, e.g. `two_factor.changed`; `sign_in` also matches `sign_in.failed`.
    action: Option<String>,
    /// Entries done by, as or to this user.
    user: Option<UserId>,
    /// RFC 3339: from this time on.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>)]
    since: Option<OffsetDateTime>,
    /// RFC 3339: before this time.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>)]
    until: Option<OffsetDateTime>,
    /// `csv` for a CSV file instead of JSON.
    format: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    events: Vec<audit::Entry>,
    /// Pass as `before` for the next page; null on the last one.
    next: Option<i64>,
}

/// The account's audit trail, newest first, with each event's place in the hash chain.
#[utoipa::path(get, path = "/api/v1/accounts/{id}/audit", tag = "administration",
    security(("bearer" = [])), params(("id" = i64, Path, description = "The account"), AuditQuery), responses(
    (status = 200, description = "A page of events (or, with `format=csv`, a CSV file)", body = AuditPage),
    (status = 403, description = "`forbidden`: not an administrator of the account or one above", body = super::doc::ErrorBody),
))]
pub async fn audit_trail(
    State(app): State<App>,
    session: Session,
    client: Client,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Response> {
    let filter = audit::Filter {
        before: query.before,
        action: query.action.as_deref(),
        user: query.user,
        since: query.since.map(to_unix),
        until: query.until.map(to_unix),
        limit: query.limit.unwrap_or(50),
    };
    let (events, next) = audit::page(&app.store, &session.actor(&client), AccountId(id), &filter).await?;
    if query.format.as_deref() == Some("csv") {
        let headers = [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"audit.csv\""),
        ];
        return Ok((headers, audit::to_csv(&events)?).into_response());
    }
    Ok(Json(AuditPage { events, next }).into_response())
}
