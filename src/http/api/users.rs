//! Administration of users: create, change, and the rights they hold on each other.

use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;

use crate::{
    app::App,
    clock::{from_unix, to_unix},
    error::Result,
    http::extract::{ApiJson, ApiPath, Client, Session},
    passwords::Password,
    users::{self, UserChanges, UserRequest},
    values::{AccountId, Right, User, UserId},
};

/// A user as administrators see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserBody {
    id: UserId,
    account_id: AccountId,
    username: String,
    creator_id: Option<UserId>,
    top_user: bool,
    email: Option<String>,
    email_verified: bool,
    phone: Option<String>,
    phone_verified: bool,
    can_change_password: bool,
    can_send_sms: bool,
    must_change_password: bool,
    language: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
}

impl From<User> for UserBody {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            account_id: u.account_id,
            username: u.username.to_string(),
            creator_id: u.creator_id,
            top_user: u.top_user,
            email: u.email.map(|e| e.to_string()),
            email_verified: u.email_verified,
            phone: u.phone.map(|p| p.to_string()),
            phone_verified: u.phone_verified,
            can_change_password: u.can_change_password,
            can_send_sms: u.can_send_sms,
            must_change_password: u.must_change_password,
            language: u.language.code().to_owned(),
            created_at: from_unix(u.created_at),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    username: String,
    #[schema(value_type = String, format = Password)]
    password: Password,
    /// Default: the caller's own account.
    account_id: Option<AccountId>,
    email: Option<String>,
    /// The administrator vouches the address is the user's (audited); otherwise the
    /// user confirms it before codes or reset links go there.
    #[serde(default)]
    email_verified: bool,
    phone: Option<String>,
    #[serde(default)]
    phone_verified: bool,
    #[serde(default)]
    can_change_password: bool,
    #[serde(default)]
    can_send_sms: bool,
    /// Default: the same as `can_change_password`, since the caller chose the password.
    must_change_password: Option<bool>,
    /// `en`, `ru` or `es`.
    language: Option<String>,
}

impl From<NewUserBody> for UserRequest {
    fn from(b: NewUserBody) -> Self {
        Self {
            username: b.username,
            password: Some(b.password),
            email: b.email,
            email_verified: b.email_verified,
            phone: b.phone,
            phone_verified: b.phone_verified,
            can_change_password: b.can_change_password,
            can_send_sms: b.can_send_sms,
            must_change_password: b.must_change_password,
            language: b.language,
        }
    }
}

/// Create a user in an account the caller manages; the caller becomes its creator.
#[utoipa::path(post, path = "/api/v1/users", tag = "administration", security(("bearer" = [])),
    request_body = NewUserBody, responses(
    (status = 201, body = UserBody),
    (status = 403, description = "`forbidden`: the caller does not manage the account", body = super::doc::ErrorBody),
    (status = 409, description = "`conflict`: the username is taken", body = super::doc::ErrorBody),
    (status = 422, description = "`invalid`: `field` names the bad field", body = super::doc::ErrorBody),
))]
pub async fn create(
    State(app): State<App>,
    session: Session,
    client: Client,
    ApiJson(body): ApiJson<NewUserBody>,
) -> Result<(StatusCode, Json<UserBody>)> {
    let account = body.account_id.unwrap_or(session.0.account.id);
    let actor = session.actor(&client);
    let user =
        users::create(&app.store, &app.hasher, &actor, account, actor.user, &body.into(), to_unix(app.now()))
            .await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// Distinguishes a field left out (`None`) from one set to null (`Some(None)`).
pub(super) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatchBody {
    /// A new address is unconfirmed until its owner confirms it; null removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    phone: Option<Option<String>>,
    /// `true`: the administrator vouches the email address is the user's (audited).
    email_verified: Option<bool>,
    /// `true`: the administrator vouches the phone number is the user's (audited).
    phone_verified: Option<bool>,
    /// A password set here must be changed at the next sign-in when the user may.
    #[schema(value_type = Option<String>, format = Password)]
    password: Option<Password>,
    can_change_password: Option<bool>,
    can_send_sms: Option<bool>,
    must_change_password: Option<bool>,
    top_user: Option<bool>,
    language: Option<String>,
}

/// Change a user the caller manages.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "administration", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The user")), request_body = UserPatchBody, responses(
    (status = 200, body = UserBody),
    (status = 403, body = super::doc::ErrorBody),
    (status = 422, body = super::doc::ErrorBody),
))]
pub async fn update(
    State(app): State<App>,
    session: Session,
    client: Client,
    ApiPath(id): ApiPath<UserId>,
    ApiJson(body): ApiJson<UserPatchBody>,
) -> Result<Json<UserBody>> {
    let changes = UserChanges {
        email: body.email,
        phone: body.phone,
        email_verified: body.email_verified,
        phone_verified: body.phone_verified,
        password: body.password,
        can_change_password: body.can_change_password,
        can_send_sms: body.can_send_sms,
        must_change_password: body.must_change_password,
        top_user: body.top_user,
        language: body.language,
    };
    let actor = session.actor(&client);
    let user = users::update(&app.store, &app.hasher, &actor, id, &changes, to_unix(app.now())).await?;
    Ok(Json(user.into()))
}

/// The two users of a grant.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
struct GrantPath {
    /// The user who holds the rights.
    id: i64,
    /// The user the rights are held on.
    target_id: i64,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantsBody {
    /// The rights user `id` holds on `target_id`: `act_as`, `manage`.
    rights: Vec<Right>,
}

/// Set the rights user `id` holds on user `target_id`.
#[utoipa::path(put, path = "/api/v1/users/{id}/grants/{target_id}", tag = "administration",
    security(("bearer" = [])), params(GrantPath), request_body = GrantsBody, responses(
    (status = 200, body = GrantsBody),
    (status = 403, description = "The caller does not manage both users", body = super::doc::ErrorBody),
))]
pub async fn put_grants(
    State(app): State<App>,
    session: Session,
    client: Client,
    ApiPath((id, target)): ApiPath<(UserId, UserId)>,
    ApiJson(body): ApiJson<GrantsBody>,
) -> Result<Json<GrantsBody>> {
    let actor = session.actor(&client);
    let rights = users::set_grants(&app.store, &actor, id, target, &body.rights, to_unix(app.now())).await?;
    Ok(Json(GrantsBody { rights }))
}

/// Take away every right user `id` holds on user `target_id`.
#[utoipa::path(delete, path = "/api/v1/users/{id}/grants/{target_id}", tag = "administration",
    security(("bearer" = [])), params(GrantPath), responses((status = 204, description = "No rights remain")))]
pub async fn delete_grants(
    State(app): State<App>,
    session: Session,
    client: Client,
    ApiPath((id, target)): ApiPath<(UserId, UserId)>,
) -> Result<StatusCode> {
    let actor = session.actor(&client);
    users::set_grants(&app.store, &actor, id, target, &[], to_unix(app.now())).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reset a user's second factor (a lost phone): the authenticator, backup codes and
/// trusted devices go, and 2FA is off in every app until the user sets it up again.
#[utoipa::path(post, path = "/api/v1/users/{id}/two-factor/reset", tag = "administration",
    security(("bearer" = [])), params(("id" = i64, Path, description = "The user")), responses(
    (status = 204, description = "Reset"),
    (status = 403, description = "`forbidden`: not a user the caller manages", body = super::doc::ErrorBody),
))]
pub async fn reset_two_factor(
    State(app): State<App>,
    session: Session,
    client: Client,
    ApiPath(id): ApiPath<UserId>,
) -> Result<StatusCode> {
    let actor = session.actor(&client);
    crate::mfa::reset(&app.store, &actor, id, to_unix(app.now())).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Unlocked {
    /// Whether there were failures (and perhaps a lock) to forget.
    was_locked: bool,
}

/// Lift a user's lock-out: forget wrong passwords and wrong codes.
#[utoipa::path(post, path = "/api/v1/users/{id}/unlock", tag = "administration",
    security(("bearer" = [])), params(("id" = i64, Path, description = "The user")), responses(
    (status = 200, body = Unlocked),
    (status = 403, description = "`forbidden`: not a user the caller manages", body = super::doc::ErrorBody),
))]
pub async fn unlock(
    State(app): State<App>,
    session: Session,
    client: Client,
    ApiPath(id): ApiPath<UserId>,
) -> Result<Json<Unlocked>> {
    let was_locked = users::unlock(&app.store, &session.actor(&client), id, to_unix(app.now())).await?;
    Ok(Json(Unlocked { was_locked }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Ended {
    ended: u64,
}

/// End every session of a user.
#[utoipa::path(delete, path = "/api/v1/users/{id}/sessions", tag = "administration",
    security(("bearer" = [])), params(("id" = i64, Path, description = "The user")), responses(
    (status = 200, body = Ended),
    (status = 403, description = "`forbidden`: not a user the caller manages", body = super::doc::ErrorBody),
))]
pub async fn end_sessions(
    State(app): State<App>,
    session: Session,
    client: Client,
    ApiPath(id): ApiPath<UserId>,
) -> Result<Json<Ended>> {
    let ended = users::end_sessions(&app.store, &session.actor(&client), id, to_unix(app.now())).await?;
    Ok(Json(Ended { ended }))
}
