//! The sign-in code page: after a right password, the code sent by email or SMS. The
//! challenge's handle lives in a short-lived HttpOnly cookie, never in the address.

use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{
    guard::{FormPost, PageError, locked_message},
    templates::{CodePage, LoginPage},
    visitor::{CHALLENGE_COOKIE, Visitor},
};
use crate::{
    app::App,
    clock::to_unix,
    error::Error,
    i18n::Tr,
    login,
    mfa::{
        Method, backup,
        challenge::{self, Answer},
    },
    passkeys::PublicKeyCredential,
    verification::Channel,
};

#[derive(Debug, Deserialize)]
pub struct CodeQuery {
    sent: Option<String>,
}

/// `GET /login/code`.
pub async fn page(
    State(app): State<App>,
    visitor: Visitor,
    Query(query): Query<CodeQuery>,
) -> Result<Response, PageError> {
    let notice = query.sent.is_some().then(|| Tr(visitor.lang).t("code-sent-again"));
    render(&app, visitor, StatusCode::OK, notice, None, false).await
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
    /// A passkey's answer, as the script wrote it (`credential.toJSON()`).
    credential: Option<String>,
    trust_device: Option<String>,
}

/// `POST /login/code`: a right code signs the browser in; a wrong one shows the page
/// again with the field in red, and from the 3rd the company's contact person.
pub async fn submit(
    State(app): State<App>,
    visitor: Visitor,
    FormPost(form): FormPost<CodeForm>,
) -> Result<Response, PageError> {
    let tr = Tr(visitor.lang);
    let Some(handle) = visitor.jar.get(CHALLENGE_COOKIE).map(|c| c.value().to_owned()) else {
        return Ok(Redirect::to("/login").into_response());
    };
    let trust = form.trust_device.is_some();
    let passkey = match form.credential.as_deref().map(serde_json::from_str::<PublicKeyCredential>) {
        Some(Ok(credential)) => Some(credential),
        Some(Err(_)) => {
            let message = tr.t("error-passkey-failed");
            return render(&app, visitor, StatusCode::UNPROCESSABLE_ENTITY, None, Some(message), false).await;
        }
        None => None,
    };
    let rp = app.relying_party().ok();
    let answer = match (&passkey, rp) {
        (Some(credential), Some(rp)) => Answer::Passkey(credential, rp),
        _ => Answer::Code(&form.code),
    };
    let (status, message) = match login::verify(app.login(), &handle, answer, trust, to_unix(app.now())).await
    {
        Ok(signed_in) => {
            let remember = signed_in.session.remember_me;
            let mut visitor = visitor.without_challenge().with_session(signed_in.token.expose(), remember);
            if let Some(device) = &signed_in.device_token {
                visitor = visitor.with_trusted_device(device.expose());
            }
            let next = match signed_in.backup_codes_left {
                Some(left) if left <= backup::FEW_LEFT => format!("/security?backup_codes_left={left}"),
                _ => "/".to_owned(),
            };
            return Ok((visitor.jar, Redirect::to(&next)).into_response());
        }
        Err(Error::InvalidCode { attempts_left, .. }) if passkey.is_some() => {
            (StatusCode::UNAUTHORIZED, tr.t1("error-wrong-passkey", "attempts", attempts_left))
        }
        Err(Error::InvalidCode { attempts_left, .. }) => {
            (StatusCode::UNAUTHORIZED, tr.t1("error-wrong-code", "attempts", attempts_left))
        }
        Err(Error::CodeExpired) => (StatusCode::GONE, tr.t("error-code-expired")),
        Err(Error::Locked { retry_after }) => return Ok(locked(visitor, retry_after)),
        Err(e) => return Err(PageError::Domain(e, tr)),
    };
    render(&app, visitor, status, None, Some(message), true).await
}

#[derive(Deserialize)]
pub struct ResendForm {
    channel: Option<Channel>,
}

/// `POST /login/code/resend`: a new code by the channel chosen.
pub async fn resend(
    State(app): State<App>,
    visitor: Visitor,
    FormPost(form): FormPost<ResendForm>,
) -> Result<Response, PageError> {
    let tr = Tr(visitor.lang);
    let Some(handle) = visitor.jar.get(CHALLENGE_COOKIE).map(|c| c.value().to_owned()) else {
        return Ok(Redirect::to("/login").into_response());
    };
    let message =
        match challenge::resend(&app.store, &app.delivery, &handle, form.channel, to_unix(app.now())).await {
            Ok(_) => return Ok(Redirect::to("/login/code?sent=1").into_response()),
            Err(Error::TooSoon { retry_after }) => {
                tr.t1("error-too-soon", "seconds", retry_after.whole_seconds())
            }
            Err(Error::Locked { retry_after }) => return Ok(locked(visitor, retry_after)),
            Err(e) => return Err(PageError::Domain(e, tr)),
        };
    render(&app, visitor, StatusCode::TOO_MANY_REQUESTS, None, Some(message), false).await
}

/// Cancels the sign-in: `POST /login/code/cancel`.
pub async fn cancel(State(_app): State<App>, visitor: Visitor, _: FormPost) -> Result<Response, PageError> {
    Ok((visitor.without_challenge().jar, Redirect::to("/login")).into_response())
}

async fn render(
    app: &App,
    visitor: Visitor,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
    wrong: bool,
) -> Result<Response, PageError> {
    let tr = Tr(visitor.lang);
    let now = to_unix(app.now());
    let Some(handle) = visitor.jar.get(CHALLENGE_COOKIE).map(|c| c.value().to_owned()) else {
        return Ok(Redirect::to("/login").into_response());
    };
    let waiting = match challenge::waiting(&app.store, &handle, now).await {
        Ok(waiting) => waiting,
        Err(Error::CodeExpired) => {
            return Ok(signed_out(visitor, StatusCode::GONE, tr.t("error-sign-in-expired")));
        }
        Err(e) => return Err(PageError::Domain(e, tr)),
    };
    let passkey_options = challenge::passkey_options(&app.store, app.relying_party().ok(), &handle, now)
        .await
        .map_err(|e| PageError::Domain(e, tr))?
        .map(|options| serde_json::to_string(&options).unwrap_or_default());
    let sent_to = match &waiting.sent {
        None if waiting.method == Method::Passkey => tr.t("code-passkey-or-code"),
        None => tr.t("code-from-authenticator"),
        Some(sent) => {
            let key = match (waiting.method, sent.channel) {
                (Method::Sms, Channel::Email) => "code-sent-email-instead",
                (_, Channel::Email) => "code-sent-email",
                (_, Channel::Sms) => "code-sent-sms",
            };
            tr.t1(key, "destination", sent.destination.clone())
        }
    };
    let mut page = visitor.layout(tr, None);
    page.notice = notice;
    page.error = error;
    let code_page = CodePage {
        page,
        sent_to,
        wrong,
        resend_in: waiting.sent.as_ref().map_or(0, |sent| (sent.resend_at - now).max(0)),
        channels: waiting.channels.iter().map(|c| c.as_str()).collect(),
        contact: waiting.contact,
        may_trust_device: waiting.may_trust_device,
        passkey_options,
    };
    Ok((status, visitor.jar, code_page).into_response())
}

/// Back to the sign-in page: too many wrong codes.
fn locked(visitor: Visitor, retry_after: time::Duration) -> Response {
    let message = locked_message(Tr(visitor.lang), retry_after);
    signed_out(visitor, StatusCode::LOCKED, message)
}

/// Back to the sign-in page with a message, the challenge forgotten.
fn signed_out(visitor: Visitor, status: StatusCode, message: String) -> Response {
    let mut page = visitor.layout(Tr(visitor.lang), None);
    page.error = Some(message);
    (status, visitor.without_challenge().jar, LoginPage::empty(page)).into_response()
}
