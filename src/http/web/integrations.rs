//! The flespi section of the Security tab, for top users: store a token and its region,
//! check it with flespi, remove it.

use axum::{extract::State, response::Response};
use serde::Deserialize;

use super::{
    guard::{FormPost, PageError, PageSession, back_to_security},
    templates::{FlespiSection, show_time},
};
use crate::{
    app::App,
    clock::to_unix,
    error::Error,
    http::extract::Client,
    i18n::Tr,
    integrations::{self, FlespiSettings, Region, Source, Status},
};

/// What the section shows about the stored token, if any.
pub fn section(tr: Tr, stored: Option<FlespiSettings>) -> FlespiSection {
    let Some(stored) = stored else {
        return FlespiSection { token: String::new(), region: Region::Eu.as_str(), check: None };
    };
    let check = stored.last_check.map(|c| {
        let until = c.expires_at.map(show_time);
        let text = match (c.status, until) {
            (Status::Active, Some(until)) => tr.t1("flespi-active-until", "date", until),
            (Status::Active, None) => tr.t("flespi-active"),
            (Status::Expired, Some(until)) => tr.t1("flespi-expired-on", "date", until),
            (Status::Expired, None) => tr.t("flespi-expired"),
        };
        (c.status == Status::Active, text)
    });
    FlespiSection { token: stored.token, region: stored.region.as_str(), check }
}

#[derive(Deserialize)]
pub struct FlespiForm {
    token: String,
    region: String,
}

/// `POST /security/flespi`: stores the token and its region.
pub async fn save(
    State(app): State<App>,
    session: PageSession,
    client: Client,
    FormPost(form): FormPost<FlespiForm>,
) -> Result<Response, PageError> {
    let actor = session.0.actor(client.ip);
    let region = Region::parse(&form.region).map_err(|e| PageError::Domain(e, Tr(session.0.language)))?;
    // An empty token field keeps the stored token: only the region changes.
    let token = (Some(form.token.as_str()).filter(|t| !t.trim().is_empty()), region, Source::Manual);
    match integrations::save(&app.store, &app.keys, &actor, token, to_unix(app.now())).await {
        Ok(_) => Ok(back_to_security("done=flespi-saved#flespi")),
        Err(Error::Invalid { .. }) => Ok(back_to_security("error=error-flespi-token#flespi")),
        Err(e) => Err(PageError::Domain(e, Tr(session.0.language))),
    }
}

/// `POST /security/flespi/check`: asks flespi about the stored token.
pub async fn check(
    State(app): State<App>,
    session: PageSession,
    client: Client,
    _: FormPost,
) -> Result<Response, PageError> {
    let actor = session.0.actor(client.ip);
    let now = to_unix(app.now());
    match integrations::check(&app.store, &app.keys, &app.flespi, &actor, now).await {
        Ok(_) => Ok(back_to_security("done=flespi-checked#flespi")),
        Err(Error::Unreachable { .. }) => Ok(back_to_security("error=error-flespi-unreachable#flespi")),
        Err(e) => Err(PageError::Domain(e, Tr(session.0.language))),
    }
}

/// `POST /security/flespi/remove`: forgets the token.
pub async fn remove(
    State(app): State<App>,
    session: PageSession,
    client: Client,
    _: FormPost,
) -> Result<Response, PageError> {
    let actor = session.0.actor(client.ip);
    match integrations::remove(&app.store, &actor, to_unix(app.now())).await {
        Ok(()) | Err(Error::NotFound) => Ok(back_to_security("done=flespi-removed#flespi")),
        Err(e) => Err(PageError::Domain(e, Tr(session.0.language))),
    }
}
