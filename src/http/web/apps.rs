//! The company's apps (OpenID Connect clients), for its top users: registered with their
//! redirect URIs (the secret shown once), listed and removed. The same rules as the
//! operator's `portcullis client` commands, in `oidc::clients`.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{
    guard::{CompanyAdmin, FormPost, PageError},
    templates::Layout,
    visitor::Visitor,
};
use crate::{
    app::App,
    clock::to_unix,
    error::Error,
    http::extract::Client as Peer,
    i18n::Tr,
    oidc::{Alg, Client, Registration, clients},
    sessions::Current,
};

#[derive(Template, WebTemplate)]
#[template(path = "apps.html")]
struct AppsPage {
    page: Layout,
    account: String,
    apps: Vec<Client>,
    /// The app just registered: its client id and secret, shown this once.
    created: Option<(String, Option<String>)>,
}

#[derive(Debug, Default, Deserialize)]
pub struct AppsQuery {
    removed: Option<String>,
}

/// `GET /company/apps`.
pub async fn page(
    State(app): State<App>,
    visitor: Visitor,
    CompanyAdmin(current): CompanyAdmin,
    Query(query): Query<AppsQuery>,
) -> Result<Response, PageError> {
    let tr = Tr(current.language);
    let mut page = apps_page(&app, &visitor, &current).await?;
    if query.removed.is_some() {
        page.page.notice = Some(tr.t("apps-deleted"));
    }
    Ok(page.into_response())
}

async fn apps_page(app: &App, visitor: &Visitor, current: &Current) -> Result<AppsPage, PageError> {
    let tr = Tr(current.language);
    let actor = current.actor(std::net::Ipv4Addr::UNSPECIFIED.into());
    let apps = clients::list(&app.store, &actor, Some(current.account.id))
        .await
        .map_err(|e| PageError::Domain(e, tr))?;
    Ok(AppsPage {
        page: visitor.layout(tr, Some(current)),
        account: current.account.name.clone(),
        apps,
        created: None,
    })
}

#[derive(Deserialize)]
pub struct NewAppForm {
    name: String,
    redirect_uris: String,
    #[serde(default)]
    post_logout_redirect_uris: String,
    public: Option<String>,
    id_token_alg: Option<String>,
}

/// `POST /company/apps`: registers an app and shows its secret once.
pub async fn create(
    State(app): State<App>,
    visitor: Visitor,
    peer: Peer,
    CompanyAdmin(current): CompanyAdmin,
    FormPost(form): FormPost<NewAppForm>,
) -> Result<Response, PageError> {
    let tr = Tr(current.language);
    let lines =
        |text: &str| text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect();
    let registration = Registration {
        name: form.name,
        redirect_uris: lines(&form.redirect_uris),
        post_logout_redirect_uris: lines(&form.post_logout_redirect_uris),
        public: form.public.is_some(),
        id_token_alg: form.id_token_alg.as_deref().and_then(Alg::parse),
    };
    let now = to_unix(app.now());
    let registered =
        clients::register(&app.store, &current.actor(peer.ip), current.account.id, registration, now).await;
    let mut page = apps_page(&app, &visitor, &current).await?;
    match registered {
        Ok(registered) => {
            page.created = Some((registered.client.client_id, registered.client_secret));
            Ok((StatusCode::CREATED, page).into_response())
        }
        Err(Error::Invalid { field, .. }) => {
            let key = if field == "name" { "apps-error-name" } else { "apps-error-uris" };
            page.page.error = Some(tr.t(key));
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(PageError::Domain(e, tr)),
    }
}

/// `POST /company/apps/{client_id}/delete`.
pub async fn delete(
    State(app): State<App>,
    peer: Peer,
    CompanyAdmin(current): CompanyAdmin,
    Path(client_id): Path<String>,
    _: FormPost,
) -> Result<Response, PageError> {
    let actor = current.actor(peer.ip);
    clients::delete(&app.store, &actor, Some(current.account.id), &client_id, to_unix(app.now()))
        .await
        .map_err(|e| PageError::Domain(e, Tr(current.language)))?;
    Ok(Redirect::to("/company/apps?removed=1").into_response())
}
