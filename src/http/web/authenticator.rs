//! The authenticator app on the Security tab: the enrolment wizard (QR code, the secret
//! for typing in, a first code), the backup codes shown once, removal with the password,
//! and trusted devices.

use axum::{
    extract::{Path, State},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::{
    guard::{FormPost, PageError, PageSession, back_to_security},
    templates::{AuthenticatorPage, BackupCodesPage},
    visitor::Visitor,
};
use crate::{
    app::App,
    clock::to_unix,
    error::Error,
    http::extract::Client,
    i18n::Tr,
    mfa::{backup, devices, totp},
};

#[derive(Deserialize)]
pub struct PasswordForm {
    password: Option<String>,
}

/// `POST /security/authenticator`: a new secret and the wizard's first page, after the
/// current password.
pub async fn start(
    State(app): State<App>,
    visitor: Visitor,
    session: PageSession,
    client: Client,
    FormPost(form): FormPost<PasswordForm>,
) -> Result<Response, PageError> {
    let tr = Tr(session.0.language);
    let actor = session.0.actor(client.ip);
    let password = form.password.filter(|p| !p.is_empty()).map(Into::into);
    let now = to_unix(app.now());
    match totp::enrol(&app.store, &app.keys, &app.hasher, &actor, password, now).await {
        Ok(enrolment) => {
            let page = visitor.layout(tr, Some(&session.0));
            Ok((visitor.jar, AuthenticatorPage { page, enrolment, wrong: false }).into_response())
        }
        Err(Error::Invalid { .. }) => Ok(back_to_security("error=error-password-needed")),
        Err(e) => Err(PageError::Domain(e, tr)),
    }
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
}

/// `POST /security/authenticator/confirm`: the first code turns it on; the backup codes
/// are shown once. A wrong code shows the same QR code again.
pub async fn confirm(
    State(app): State<App>,
    visitor: Visitor,
    session: PageSession,
    client: Client,
    FormPost(form): FormPost<CodeForm>,
) -> Result<Response, PageError> {
    let tr = Tr(session.0.language);
    let failed = |e| PageError::Domain(e, tr);
    let actor = session.0.actor(client.ip);
    match totp::confirm(&app.store, &app.keys, &actor, &form.code, to_unix(app.now())).await {
        Ok(codes) => {
            let page = visitor.layout(tr, Some(&session.0));
            Ok((visitor.jar, BackupCodesPage::new(page, codes)).into_response())
        }
        Err(Error::Invalid { .. }) => {
            let Some(enrolment) = totp::pending(&app.store, &app.keys, &actor).await.map_err(failed)? else {
                return Ok(back_to_security(""));
            };
            let mut page = visitor.layout(tr, Some(&session.0));
            page.error = Some(tr.t("security-error-wrong-code"));
            Ok((visitor.jar, AuthenticatorPage { page, enrolment, wrong: true }).into_response())
        }
        Err(e) => Err(failed(e)),
    }
}

/// `POST /security/authenticator/disable`, with the password.
pub async fn disable(
    State(app): State<App>,
    session: PageSession,
    client: Client,
    FormPost(form): FormPost<PasswordForm>,
) -> Result<Response, PageError> {
    let actor = session.0.actor(client.ip);
    let password = form.password.unwrap_or_default().into();
    match totp::disable(&app.store, &app.hasher, &actor, password, to_unix(app.now())).await {
        Ok(()) => Ok(back_to_security("done=authenticator-removed")),
        Err(Error::Invalid { .. }) => Ok(back_to_security("error=error-password-needed")),
        Err(e) => Err(PageError::Domain(e, Tr(session.0.language))),
    }
}

/// `POST /security/backup-codes`: a new set, shown once; the old one stops working.
pub async fn regenerate(
    State(app): State<App>,
    visitor: Visitor,
    session: PageSession,
    client: Client,
    _: FormPost,
) -> Result<Response, PageError> {
    let tr = Tr(session.0.language);
    let actor = session.0.actor(client.ip);
    let codes = backup::regenerate(&app.store, &app.keys, &actor, to_unix(app.now()))
        .await
        .map_err(|e| PageError::Domain(e, tr))?;
    let page = visitor.layout(tr, Some(&session.0));
    Ok((visitor.jar, BackupCodesPage::new(page, codes)).into_response())
}

/// `POST /security/devices/{id}/revoke`.
pub async fn revoke_device(
    State(app): State<App>,
    session: PageSession,
    client: Client,
    Path(id): Path<i64>,
    _: FormPost,
) -> Result<Response, PageError> {
    let actor = session.0.actor(client.ip);
    devices::revoke(&app.store, &actor, id, to_unix(app.now()))
        .await
        .map_err(|e| PageError::Domain(e, Tr(session.0.language)))?;
    Ok(back_to_security("done=device-revoked"))
}
