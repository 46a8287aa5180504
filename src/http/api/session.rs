//! The session check (the platform's hot path), signing out, and the user's own sessions.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode},
};
use serde::{Deserialize, Serialize};

use crate::{
    app::App,
    clock::to_unix,
    error::{Error, Result},
    http::extract::{AnySession, ApiPath, ApiQuery, Session, presented_token},
    sessions::{self, Current, Listed},
};

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct CheckQuery {
    /// `true` for a check nobody asked for (an open page's poll): it does not count as
    /// activity, so an idle session still ends.
    #[serde(default)]
    background: bool,
}

/// Who holds this token. Backend services call this on every request.
#[utoipa::path(get, path = "/api/v1/session", tag = "session", security(("bearer" = [])), params(CheckQuery),
    responses(
    (status = 200, body = Current),
    (status = 401, description = "`unauthenticated`: ended, idle or expired", body = super::doc::ErrorBody),
    (status = 403, description = "`account_blocked`", body = super::doc::ErrorBody),
))]
pub async fn get(
    State(app): State<App>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<CheckQuery>,
) -> Result<Json<Current>> {
    let token = presented_token(&headers).ok_or(Error::Unauthenticated)?;
    let now = to_unix(app.now());
    let current = if query.background {
        sessions::peek(&app.store, &app.lifetimes, token, now).await?
    } else {
        sessions::check(&app.store, &app.lifetimes, token, now).await?
    };
    Ok(Json(current))
}

/// Sign out: end this session.
#[utoipa::path(delete, path = "/api/v1/session", tag = "session", security(("bearer" = [])), responses(
    (status = 204, description = "Signed out"),
))]
pub async fn delete(State(app): State<App>, AnySession(current): AnySession) -> Result<StatusCode> {
    sessions::end(&app.store, &current, to_unix(app.now())).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionList {
    sessions: Vec<Listed>,
}

/// The caller's open sessions, newest first.
#[utoipa::path(get, path = "/api/v1/sessions", tag = "session", security(("bearer" = [])), responses(
    (status = 200, body = SessionList),
))]
pub async fn list(State(app): State<App>, Session(current): Session) -> Result<Json<SessionList>> {
    let sessions = sessions::list(&app.store, &app.lifetimes, &current, to_unix(app.now())).await?;
    Ok(Json(SessionList { sessions }))
}

/// End one of the caller's own sessions.
#[utoipa::path(delete, path = "/api/v1/sessions/{id}", tag = "session", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The session, as listed")), responses(
    (status = 204, description = "Ended"),
    (status = 404, description = "No such open session of the caller's", body = super::doc::ErrorBody),
))]
pub async fn end_one(
    State(app): State<App>,
    Session(current): Session,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode> {
    sessions::end_own(&app.store, &current, id, to_unix(app.now())).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Ended {
    ended: u64,
}

/// End every session of the caller but this one.
#[utoipa::path(delete, path = "/api/v1/sessions", tag = "session", security(("bearer" = [])), responses(
    (status = 200, body = Ended),
))]
pub async fn end_others(State(app): State<App>, Session(current): Session) -> Result<Json<Ended>> {
    let ended = sessions::end_others(&app.store, &current, to_unix(app.now())).await?;
    Ok(Json(Ended { ended }))
}
