//! A company's apps (OpenID Connect clients), for its administrators: the same rules as
//! the operator's `portcullis client` commands and the company page.

use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};

use crate::{
    app::App,
    clock::to_unix,
    error::{Error, Result},
    http::extract::{ApiJson, ApiPath, Client as Peer, Session},
    oidc::{Alg, Client, Registered, Registration, clients},
    values::AccountId,
};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClientList {
    clients: Vec<Client>,
}

/// The account's apps.
#[utoipa::path(get, path = "/api/v1/accounts/{id}/clients", tag = "administration", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The account")), responses(
    (status = 200, body = ClientList),
    (status = 403, description = "`forbidden`: not an administrator of the account or one above", body = super::doc::ErrorBody),
))]
pub async fn list(
    State(app): State<App>,
    session: Session,
    peer: Peer,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<ClientList>> {
    let clients = clients::list(&app.store, &session.actor(&peer), Some(AccountId(id))).await?;
    Ok(Json(ClientList { clients }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClientBody {
    name: String,
    /// Matched exactly: https, or http to localhost, or an app's own scheme.
    redirect_uris: Vec<String>,
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    /// A mobile or single-page app: no secret, PKCE required.
    #[serde(default)]
    public: bool,
    /// `RS256` (default), `ES256` or `EdDSA`.
    id_token_alg: Option<String>,
}

/// Register an app of the account (its own administrators only); the secret is in this
/// answer alone.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/clients", tag = "administration", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The account")), request_body = NewClientBody, responses(
    (status = 201, body = Registered),
    (status = 403, description = "`forbidden`", body = super::doc::ErrorBody),
    (status = 422, description = "`invalid`: a name or URI that cannot be used", body = super::doc::ErrorBody),
))]
pub async fn create(
    State(app): State<App>,
    session: Session,
    peer: Peer,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<NewClientBody>,
) -> Result<(StatusCode, Json<Registered>)> {
    let id_token_alg = match body.id_token_alg.as_deref() {
        None => None,
        Some(alg) => {
            Some(Alg::parse(alg).ok_or_else(|| Error::invalid("id_token_alg", "use RS256, ES256 or EdDSA"))?)
        }
    };
    let registration = Registration {
        name: body.name,
        redirect_uris: body.redirect_uris,
        post_logout_redirect_uris: body.post_logout_redirect_uris,
        public: body.public,
        id_token_alg,
    };
    let now = to_unix(app.now());
    let registered =
        clients::register(&app.store, &session.actor(&peer), AccountId(id), registration, now).await?;
    Ok((StatusCode::CREATED, Json(registered)))
}

/// Remove an app: its grants are revoked and its tokens stop working at once.
#[utoipa::path(delete, path = "/api/v1/accounts/{id}/clients/{client_id}", tag = "administration",
    security(("bearer" = [])), params(
    ("id" = i64, Path, description = "The account"),
    ("client_id" = String, Path, description = "The app"),
), responses(
    (status = 204, description = "Removed"),
    (status = 404, description = "`not_found`: no such app of the account", body = super::doc::ErrorBody),
))]
pub async fn delete(
    State(app): State<App>,
    session: Session,
    peer: Peer,
    ApiPath((id, client_id)): ApiPath<(i64, String)>,
) -> Result<StatusCode> {
    let now = to_unix(app.now());
    clients::delete(&app.store, &session.actor(&peer), Some(AccountId(id)), &client_id, now).await?;
    Ok(StatusCode::NO_CONTENT)
}
