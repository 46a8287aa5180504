//! Passkeys on the pages: signing in with one from the sign-in page, the duty page of a
//! company that asks for one, and removing one from the Security tab. Adding one and
//! asking the browser for one are the script's (`static/passkeys.js`), through the API.

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{
    guard::{AnyPageSession, FormPost, PageError, PageSession, locked_message},
    templates::{LoginPage, PasskeyDutyPage},
    visitor::Visitor,
};
use crate::{
    app::App,
    clock::to_unix,
    error::Error,
    http::extract::{ApiPath, Client},
    i18n::Tr,
    login::{self, Arrival, Outcome, PasskeyAttempt},
    passkeys::{self, PublicKeyCredential},
    values::{AppKind, Duty},
};

#[derive(Deserialize)]
pub struct SignInForm {
    challenge: String,
    /// The browser's answer, as `credential.toJSON()` wrote it.
    credential: String,
    remember_me: Option<String>,
    /// "Login as", as typed in the sign-in form.
    login_as: Option<String>,
}

/// `POST /login/passkey`: the sign-in page's passkey, as the script sends it.
pub async fn sign_in(
    State(app): State<App>,
    visitor: Visitor,
    client: Client,
    FormPost(form): FormPost<SignInForm>,
) -> Result<Response, PageError> {
    let tr = Tr(visitor.lang);
    let remember = form.remember_me.is_some();
    let refused = |status, key| (status, tr.t(key));
    let (status, message) = match serde_json::from_str::<PublicKeyCredential>(&form.credential) {
        Err(_) => refused(StatusCode::UNPROCESSABLE_ENTITY, "error-passkey-refused"),
        Ok(answer) => {
            let rp = app.relying_party().map_err(|e| PageError::Domain(e, tr))?;
            let arrival = Arrival {
                remember_me: remember,
                app: AppKind::Web,
                ip: client.ip.to_string(),
                user_agent: client.user_agent,
                language: None,
                device: None,
                login_as: form.login_as.filter(|name| !name.trim().is_empty()),
            };
            let attempt = PasskeyAttempt { handle: form.challenge, answer, arrival };
            match login::with_passkey(app.login(), rp, attempt, to_unix(app.now())).await {
                Ok(Outcome::SignedIn(signed_in)) => {
                    let visitor = visitor.with_session(signed_in.token.expose(), remember);
                    return Ok((visitor.jar, Redirect::to("/")).into_response());
                }
                Ok(Outcome::SecondFactor(_)) => return Err(PageError::Domain(Error::Forbidden, tr)),
                Err(Error::InvalidCredentials) => refused(StatusCode::UNAUTHORIZED, "error-passkey-refused"),
                Err(Error::CeremonyExpired) => refused(StatusCode::GONE, "error-passkey-expired"),
                Err(Error::Locked { retry_after }) => (StatusCode::LOCKED, locked_message(tr, retry_after)),
                Err(Error::AccountBlocked { .. }) => refused(StatusCode::FORBIDDEN, "error-account-blocked"),
                Err(Error::Forbidden) => refused(StatusCode::FORBIDDEN, "error-login-as"),
                Err(Error::TargetBlocked) => refused(StatusCode::FORBIDDEN, "error-target-blocked"),
                Err(e) => return Err(PageError::Domain(e, tr)),
            }
        }
    };
    let mut page = visitor.layout(tr, None);
    page.error = Some(message);
    Ok((status, visitor.jar, LoginPage::empty(page)).into_response())
}

/// `GET /passkey`: the company asks for a passkey and the person has none yet.
pub async fn duty_page(visitor: Visitor, session: AnyPageSession) -> Result<Response, PageError> {
    let current = &session.0;
    if let Some(first) = current.pending.iter().find(|d| **d != Duty::RegisterPasskey) {
        return Err(PageError::Duty(*first));
    }
    if !current.pending.contains(&Duty::RegisterPasskey) {
        return Ok(Redirect::to("/").into_response());
    }
    let page = visitor.layout(Tr(current.language), Some(current));
    Ok((visitor.jar, PasskeyDutyPage { page }).into_response())
}

#[derive(Deserialize)]
pub struct RemoveForm {
    current_password: String,
}

/// `POST /security/passkeys/{id}/remove`, with the current password.
pub async fn remove(
    State(app): State<App>,
    session: PageSession,
    client: Client,
    ApiPath(id): ApiPath<i64>,
    FormPost(form): FormPost<RemoveForm>,
) -> Result<Response, PageError> {
    let tr = Tr(session.0.language);
    let actor = session.0.actor(client.ip);
    let password = form.current_password.into();
    match passkeys::remove(&app.store, &app.hasher, &actor, id, password, to_unix(app.now())).await {
        Ok(()) => Ok(Redirect::to("/security?done=passkey-removed#passkeys").into_response()),
        Err(Error::Invalid { field: "id", .. }) => {
            Ok(Redirect::to("/security?error=error-last-passkey#passkeys").into_response())
        }
        Err(Error::Invalid { .. }) => {
            Ok(Redirect::to("/security?error=error-password-needed#passkeys").into_response())
        }
        Err(e) => Err(PageError::Domain(e, tr)),
    }
}
