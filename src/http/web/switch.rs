//! The user switcher: whom the person signed in may act as, searched by user or account,
//! switching in this tab or a new one, and switching back.

use axum::{
    extract::{Path, Query, State},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{
    guard::{AnyPageSession, FormPost, PageError, PageSession},
    tabs::Tab,
    templates::SwitchPage,
    visitor::Visitor,
};
use crate::{
    app::App,
    clock::to_unix,
    http::extract::Client,
    i18n::Tr,
    impersonation::{self, Kind, Switching},
    values::UserId,
};

#[derive(Debug, Default, Deserialize)]
pub struct SwitchQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    kind: Kind,
}

/// `GET /switch`.
pub async fn page(
    State(app): State<App>,
    visitor: Visitor,
    session: PageSession,
    Query(query): Query<SwitchQuery>,
) -> Result<Response, PageError> {
    let current = &session.0;
    let tr = Tr(current.language);
    let targets = match current.impersonator {
        Some(_) => Vec::new(),
        None => impersonation::targets(&app.store, current, &query.q, query.kind)
            .await
            .map_err(|e| PageError::Domain(e, tr))?,
    };
    let page = visitor.layout(tr, Some(current));
    let kind = match query.kind {
        Kind::All => "all",
        Kind::Users => "users",
        Kind::Accounts => "accounts",
    };
    let switch = SwitchPage { page, acting: current.impersonator.is_some(), targets, q: query.q, kind };
    Ok((visitor.jar, switch).into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct StartQuery {
    /// `new`: act as the user in a tab of its own, this one left as it is.
    #[serde(default)]
    tab: String,
}

/// `POST /switch/{id}`: act as that user, in this tab or in a new one.
pub async fn start(
    State(app): State<App>,
    visitor: Visitor,
    session: PageSession,
    client: Client,
    Path(id): Path<i64>,
    Query(query): Query<StartQuery>,
    _: FormPost,
) -> Result<Response, PageError> {
    let current = &session.0;
    let origin = (client.ip.to_string(), client.user_agent.clone());
    let now = to_unix(app.now());
    let new_tab = query.tab == "new";
    let switching = if new_tab { Switching::Alongside } else { Switching::InPlace };
    let switched = impersonation::start(
        &app.store,
        &app.lifetimes,
        current,
        UserId(id),
        (&origin.0, &origin.1),
        now,
        switching,
    )
    .await
    .map_err(|e| PageError::Domain(e, Tr(current.language)))?;
    let token = switched.token.expose();
    if new_tab {
        let tab = Tab::new();
        let visitor = visitor.with_tab_session(&tab, token, switched.session.remember_me);
        return Ok((visitor.jar, Redirect::to(&tab.base())).into_response());
    }
    let visitor = visitor.with_session(token, current.remember_me);
    Ok((visitor.jar, Redirect::to("/")).into_response())
}

/// `POST /switch/back`: back to oneself.
pub async fn back(
    State(app): State<App>,
    visitor: Visitor,
    session: AnyPageSession,
    client: Client,
    _: FormPost,
) -> Result<Response, PageError> {
    let current = &session.0;
    let origin = (client.ip.to_string(), client.user_agent.clone());
    let now = to_unix(app.now());
    let switched = impersonation::stop(&app.store, &app.lifetimes, current, (&origin.0, &origin.1), now)
        .await
        .map_err(|e| PageError::Domain(e, Tr(current.language)))?;
    let visitor = visitor.with_session(switched.token.expose(), current.remember_me);
    Ok((visitor.jar, Redirect::to("/")).into_response())
}
