//! Signing in and out in the browser, and quick login by `?sid=` link.

use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{
    guard::{AnyPageSession, FormPost, PageError, browser_session, locked_message},
    returns,
    templates::{BlockedPage, LoginPage, show_time},
    visitor::{DEVICE_COOKIE, Visitor},
};
use crate::{
    app::App,
    clock::{from_unix, to_unix},
    error::Error,
    http::extract::Client,
    i18n::Tr,
    login::{self, Arrival, Attempt, Outcome},
    sessions,
    values::{AppKind, Language},
};

/// Signs the browser in with an existing session, only from the address it was created
/// from. A refusal is logged and audited; the session itself is left as it was.
pub(super) async fn quick_login(
    app: &App,
    visitor: Visitor,
    client: &Client,
    sid: &str,
) -> Result<Response, PageError> {
    let tr = Tr(visitor.lang);
    let now = to_unix(app.now());
    let ip = client.ip.to_string();
    match sessions::check_from(&app.store, &app.lifetimes, sid, &ip, now).await {
        Ok(current) => {
            let visitor = visitor.with_session(sid, current.remember_me);
            Ok((visitor.jar, Redirect::to("/")).into_response())
        }
        Err(Error::Forbidden) => {
            let mut page = visitor.layout(tr, None);
            page.error = Some(tr.t("error-sid-other-address"));
            Ok((StatusCode::FORBIDDEN, visitor.jar, LoginPage::empty(page)).into_response())
        }
        Err(Error::Unauthenticated | Error::AccountBlocked { .. }) => {
            let mut page = visitor.layout(tr, None);
            page.error = Some(tr.t("error-session-ended"));
            Ok((StatusCode::UNAUTHORIZED, visitor.jar, LoginPage::empty(page)).into_response())
        }
        Err(e) => Err(PageError::Domain(e, tr)),
    }
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    expired: Option<String>,
    /// The session ended because the account is blocked.
    blocked: Option<String>,
    /// Where to go once signed in (an app's authorization request, a page behind forward
    /// auth).
    next: Option<String>,
    /// Show the form even to a signed-in browser: an app asks the person to sign in again.
    fresh: Option<String>,
    /// An app signed the person out.
    signed_out: Option<String>,
}

/// The sign-in page.
pub async fn page(State(app): State<App>, visitor: Visitor, Query(query): Query<LoginQuery>) -> Response {
    let visitor = match query.next.as_deref().filter(|next| returns::allowed(&app, next)) {
        Some(next) => visitor.with_return(next),
        None => visitor,
    };
    if query.fresh.is_none()
        && let Ok(Some(_)) = browser_session(&app, &visitor.jar).await
    {
        return (visitor.jar, Redirect::to("/")).into_response();
    }
    let tr = Tr(visitor.lang);
    let mut page = visitor.layout(tr, None);
    let mut status = StatusCode::OK;
    if query.expired.is_some() {
        page.error = Some(tr.t("error-session-ended"));
    }
    if query.signed_out.is_some() {
        page.notice = Some(tr.t("oidc-signed-out"));
    }
    if query.blocked.is_some() {
        page.error = Some(tr.t("error-account-blocked"));
        status = StatusCode::FORBIDDEN;
    }
    (status, visitor.jar, LoginPage::empty(page)).into_response()
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    remember_me: Option<String>,
    language: Option<String>,
    /// "Login as": the username to act as.
    login_as: Option<String>,
}

/// Signs in from the form; a failure shows the form again with the reason.
pub async fn submit(
    State(app): State<App>,
    visitor: Visitor,
    client: Client,
    FormPost(form): FormPost<LoginForm>,
) -> Result<Response, PageError> {
    // The stored language changes only when the person picked one on this page.
    let picked = form.language.as_deref().and_then(|l| Language::parse(l).ok());
    let tr = Tr(picked.unwrap_or(visitor.lang));
    let remember = form.remember_me.is_some();
    let attempt = Attempt {
        username: form.username.clone(),
        password: form.password.into(),
        arrival: Arrival {
            remember_me: remember,
            app: AppKind::Web,
            ip: client.ip.to_string(),
            user_agent: client.user_agent,
            language: picked,
            device: visitor.jar.get(DEVICE_COOKIE).map(|c| c.value().to_owned()),
            login_as: form.login_as.clone(),
        },
    };
    let (status, message) = match login::sign_in(app.login(), attempt, to_unix(app.now())).await {
        Ok(Outcome::SignedIn(signed_in)) => {
            let visitor = visitor.with_session(signed_in.token.expose(), remember);
            return Ok((visitor.jar, Redirect::to("/")).into_response());
        }
        Ok(Outcome::SecondFactor(opened)) => {
            let visitor = visitor.with_challenge(opened.handle.expose());
            return Ok((visitor.jar, Redirect::to("/login/code")).into_response());
        }
        Err(Error::InvalidCredentials) => (StatusCode::UNAUTHORIZED, tr.t("error-invalid-credentials")),
        Err(Error::Locked { retry_after }) => (StatusCode::LOCKED, locked_message(tr, retry_after)),
        Err(Error::AccountBlocked { notice: Some(notice) }) => {
            let page = visitor.layout(tr, None);
            let blocked =
                BlockedPage { page, since: show_time(from_unix(notice.since)), contact: notice.contact };
            return Ok((StatusCode::FORBIDDEN, visitor.jar, blocked).into_response());
        }
        Err(Error::AccountBlocked { notice: None }) => (StatusCode::FORBIDDEN, tr.t("error-account-blocked")),
        Err(Error::Forbidden) => (StatusCode::FORBIDDEN, tr.t("error-login-as")),
        Err(Error::TargetBlocked) => (StatusCode::FORBIDDEN, tr.t("error-target-blocked")),
        Err(Error::TooSoon { .. }) => (StatusCode::TOO_MANY_REQUESTS, tr.t("error-code-just-sent")),
        Err(Error::NoCodeDestination { contact }) => {
            let message = match contact {
                Some(contact) => {
                    let reach = [&contact.name, &contact.phone, &contact.email]
                        .into_iter()
                        .filter(|s| !s.is_empty())
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ");
                    tr.t1("error-no-code-destination-contact", "contact", reach)
                }
                None => tr.t("error-no-code-destination"),
            };
            (StatusCode::FORBIDDEN, message)
        }
        Err(e) => return Err(PageError::Domain(e, tr)),
    };
    let mut page = visitor.layout(tr, None);
    page.error = Some(message);
    Ok((
        status,
        visitor.jar,
        LoginPage {
            page,
            username: form.username,
            login_as: form.login_as.unwrap_or_default(),
            language_picked: picked.is_some(),
        },
    )
        .into_response())
}

/// Signs out: ends the session and forgets the cookie.
pub async fn logout(
    State(app): State<App>,
    visitor: Visitor,
    session: AnyPageSession,
    _: FormPost,
) -> Result<Response, PageError> {
    sessions::end(&app.store, &session.0, to_unix(app.now()))
        .await
        .map_err(|e| PageError::Domain(e, Tr(visitor.lang)))?;
    Ok((visitor.without_session().jar, Redirect::to("/login")).into_response())
}
