//! The first-login duties in the browser: accept the agreement, change the password.

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{
    guard::{AnyPageSession, FormPost, PageError, locked_message},
    templates::{DpaPage, PasswordPage},
    visitor::Visitor,
};
use crate::{
    app::App,
    clock::to_unix,
    dpa,
    error::Error,
    http::extract::Client,
    i18n::Tr,
    users::{self, PasswordChange},
    values::Duty,
};

pub async fn dpa_page(State(app): State<App>, visitor: Visitor, session: AnyPageSession) -> Response {
    let current = &session.0;
    if !current.pending.contains(&Duty::AcceptDpa) {
        return Redirect::to("/").into_response();
    }
    let page = visitor.layout(Tr(current.language), Some(current));
    (visitor.jar, DpaPage { page, text: app.dpa.text(current.language) }).into_response()
}

pub async fn dpa_accept(
    State(app): State<App>,
    session: AnyPageSession,
    client: Client,
    _: FormPost,
) -> Result<Response, PageError> {
    let actor = session.0.actor(client.ip);
    dpa::accept(&app.store, &actor, to_unix(app.now()))
        .await
        .map_err(|e| PageError::Domain(e, Tr(session.0.language)))?;
    Ok(Redirect::to("/").into_response())
}

pub async fn password_page(visitor: Visitor, session: AnyPageSession) -> Result<Response, PageError> {
    let current = &session.0;
    if current.pending.contains(&Duty::AcceptDpa) {
        return Err(PageError::Duty(Duty::AcceptDpa));
    }
    let page = visitor.layout(Tr(current.language), Some(current));
    let forced = current.pending.contains(&Duty::ChangePassword);
    Ok((visitor.jar, PasswordPage { page, forced }).into_response())
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
    new_password_confirmation: String,
}

pub async fn password_submit(
    State(app): State<App>,
    visitor: Visitor,
    session: AnyPageSession,
    client: Client,
    FormPost(form): FormPost<PasswordForm>,
) -> Result<Response, PageError> {
    let current = &session.0;
    let tr = Tr(current.language);
    let change = PasswordChange {
        current: form.current_password.into(),
        new: form.new_password.into(),
        confirmation: form.new_password_confirmation.into(),
    };
    let actor = current.actor(client.ip);
    let key =
        match users::change_password(&app.store, &app.hasher, &actor, current.id, change, to_unix(app.now()))
            .await
        {
            Ok(()) => return Ok(Redirect::to("/security?changed=1").into_response()),
            Err(Error::Invalid { field: "current_password", .. }) => "error-current-password",
            Err(Error::Invalid { field: "new_password_confirmation", .. }) => "error-passwords-differ",
            Err(Error::Invalid { message, .. }) if message.contains("different") => "error-password-same",
            Err(Error::Invalid { message, .. }) if message.starts_with("use at ") => "error-password-length",
            Err(Error::Invalid { .. }) => "error-password-weak",
            Err(Error::Locked { retry_after }) => {
                let mut page = visitor.layout(tr, Some(current));
                page.error = Some(locked_message(tr, retry_after));
                let forced = current.pending.contains(&Duty::ChangePassword);
                return Ok((StatusCode::LOCKED, visitor.jar, PasswordPage { page, forced }).into_response());
            }
            Err(e) => return Err(PageError::Domain(e, tr)),
        };
    let mut page = visitor.layout(tr, Some(current));
    page.error = Some(tr.t(key));
    let forced = current.pending.contains(&Duty::ChangePassword);
    Ok((StatusCode::UNPROCESSABLE_ENTITY, visitor.jar, PasswordPage { page, forced }).into_response())
}
