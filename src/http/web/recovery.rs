//! "Forgot your password?": the request form, and the page behind the emailed link,
//! which asks for a press of a button first so that mail scanners that open links do not
//! spend them.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::{
    guard::{FormPost, PageError},
    templates::{ForgotPage, ResetPage},
    visitor::Visitor,
};
use crate::{
    app::App,
    clock::to_unix,
    error::Error,
    http::extract::Client,
    i18n::Tr,
    recovery::{self, Link},
};

/// `GET /forgot`.
pub async fn forgot_page(visitor: Visitor) -> Response {
    let page = visitor.layout(Tr(visitor.lang), None);
    (visitor.jar, ForgotPage { page, sent: false, username: String::new() }).into_response()
}

#[derive(Deserialize)]
pub struct ForgotForm {
    username: String,
    email: String,
}

/// `POST /forgot`: the same answer whether or not the pair matches.
pub async fn forgot_submit(
    State(app): State<App>,
    visitor: Visitor,
    client: Client,
    FormPost(form): FormPost<ForgotForm>,
) -> Result<Response, PageError> {
    let tr = Tr(visitor.lang);
    let ip = client.ip.to_string();
    let request = recovery::Request { username: &form.username, email: &form.email, ip: &ip };
    let valid_for = i64::from(app.config.reset_link_hours) * 3600;
    let public_url = app.config.public_url();
    let result = recovery::request(&app.store, &public_url, valid_for, &request, to_unix(app.now())).await;
    app.delivery.wake.notify_one();
    let mut page = visitor.layout(tr, None);
    let status = match result {
        Ok(()) => {
            page.notice = Some(tr.t("forgot-sent"));
            StatusCode::ACCEPTED
        }
        Err(Error::TooSoon { retry_after }) => {
            page.error = Some(tr.t1("error-forgot-too-soon", "seconds", retry_after.whole_seconds()));
            StatusCode::TOO_MANY_REQUESTS
        }
        Err(e) => return Err(PageError::Domain(e, tr)),
    };
    let sent = status == StatusCode::ACCEPTED;
    Ok((status, visitor.jar, ForgotPage { page, sent, username: form.username }).into_response())
}

/// `GET /reset/{token}`: says what the link would do, and offers the button.
pub async fn reset_page(
    State(app): State<App>,
    visitor: Visitor,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let tr = Tr(visitor.lang);
    let link =
        recovery::link(&app.store, &token, to_unix(app.now())).await.map_err(|e| PageError::Domain(e, tr))?;
    Ok(render(visitor, link, None))
}

/// `POST /reset/{token}`: the new password, shown once.
pub async fn reset_submit(
    State(app): State<App>,
    visitor: Visitor,
    client: Client,
    Path(token): Path<String>,
    _: FormPost,
) -> Result<Response, PageError> {
    let tr = Tr(visitor.lang);
    let now = to_unix(app.now());
    match recovery::reset(&app.store, &app.hasher, &token, &client.ip.to_string(), now).await {
        Ok(reset) => Ok(render(visitor, Link::Used, Some(reset))),
        Err(Error::Conflict { .. }) => Ok(render(visitor, Link::Used, None)),
        Err(Error::CodeExpired) => Ok(render(visitor, Link::Expired, None)),
        Err(e) => Err(PageError::Domain(e, tr)),
    }
}

fn render(visitor: Visitor, link: Link, reset: Option<recovery::Reset>) -> Response {
    let tr = Tr(visitor.lang);
    let mut page = visitor.layout(tr, None);
    let status = match (&reset, link) {
        (Some(_), _) | (None, Link::Valid) => StatusCode::OK,
        (None, Link::Used) => {
            page.error = Some(tr.t("reset-used"));
            StatusCode::GONE
        }
        (None, Link::Expired) => {
            page.error = Some(tr.t("reset-expired"));
            StatusCode::GONE
        }
    };
    let valid = reset.is_none() && link == Link::Valid;
    let must_change = reset.as_ref().is_some_and(|r| r.must_change);
    let (username, password) = reset.map(|r| (r.username, r.password.expose().to_owned())).unzip();
    (status, visitor.jar, ResetPage { page, valid, username, password, must_change }).into_response()
}
