//! What every page passes through before its handler runs: the session it needs (none,
//! any, one with no duty pending, a top user of the company), and for a form post the
//! CSRF check. Each is an extractor, so a handler cannot forget one; and the one way a
//! page answers when something is in the way ([`PageError`]).

#[allow(clippy::disallowed_types, reason = "FormPost is the one place that reads a page form")]
use axum::Form;
use axum::{
    body::{Body, Bytes},
    extract::{FromRequest, FromRequestParts, Request},
    http::{HeaderMap, StatusCode, Uri, header, request::Parts},
    response::{IntoResponse, Redirect, Response},
};
use axum_extra::extract::CookieJar;
use serde::{Deserialize, de::DeserializeOwned};

use super::{
    templates::{self, LANGUAGES, Layout},
    visitor::Visitor,
};
use crate::{
    app::App,
    clock::to_unix,
    error::Error,
    http::extract::SESSION_COOKIE,
    i18n::Tr,
    rights::{Actor, ManagesAccount},
    sessions::{self, Current},
    values::Duty,
};

/// A signed-in browser, duties pending or not: for the duties themselves, switching back
/// and signing out. Everyone else goes to the sign-in page.
pub struct AnyPageSession(pub Current);

impl FromRequestParts<App> for AnyPageSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Response> {
        match browser_session(app, &CookieJar::from_headers(&parts.headers)).await {
            Ok(Some(current)) => Ok(Self(current)),
            Ok(None) => Err(Redirect::to("/login").into_response()),
            Err(Error::AccountBlocked { .. }) => Err(Redirect::to("/login?blocked=1").into_response()),
            Err(e) => Err(e.into_response()),
        }
    }
}

/// A signed-in browser with no duty pending: what most pages need. A session with a duty
/// goes to that duty's page first.
pub struct PageSession(pub Current);

impl FromRequestParts<App> for PageSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Response> {
        let AnyPageSession(current) = AnyPageSession::from_request_parts(parts, app).await?;
        Self::ready(current).map_err(IntoResponse::into_response)
    }
}

impl PageSession {
    /// The session, unless a duty comes first (for a page that found the session itself).
    pub fn ready(current: Current) -> Result<Self, PageError> {
        match current.pending.first() {
            Some(duty) => Err(PageError::Duty(*duty)),
            None => Ok(Self(current)),
        }
    }
}

/// A top user of the session's own company, signed in as themselves: the company pages.
/// Checked with the same proof the domain asks of administrators ([`ManagesAccount`]).
pub struct CompanyAdmin(pub Current);

impl FromRequestParts<App> for CompanyAdmin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Response> {
        let PageSession(current) = PageSession::from_request_parts(parts, app).await?;
        let refused = |e| PageError::Domain(e, Tr(current.language)).into_response();
        if current.impersonator.is_some() {
            return Err(refused(Error::Forbidden));
        }
        let actor = Actor::user(current.user.id, None, None);
        let checked = async {
            let mut tx = app.store.read().await?;
            ManagesAccount::check(&mut tx, &actor, current.account.id).await?.from_within()
        };
        match checked.await {
            Ok(_) => Ok(Self(current)),
            Err(e) => Err(refused(e)),
        }
    }
}

/// The session of the browser's cookie, if it still stands.
pub async fn browser_session(app: &App, jar: &CookieJar) -> Result<Option<Current>, Error> {
    let Some(token) = jar.get(SESSION_COOKIE) else {
        return Ok(None);
    };
    match sessions::check(&app.store, &app.lifetimes, token.value(), to_unix(app.now())).await {
        Ok(current) => Ok(Some(current)),
        Err(Error::Unauthenticated) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A form posted from one of this server's pages: its CSRF token is checked before the
/// fields are read, and a form without a good one is refused with "form expired".
pub struct FormPost<T = NoFields>(pub T);

/// A form with nothing in it but its CSRF token.
#[derive(Debug, Deserialize)]
pub struct NoFields {}

#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

#[allow(clippy::disallowed_types, reason = "FormPost is the one place that reads a page form")]
impl<T: DeserializeOwned + Send> FromRequest<App> for FormPost<T> {
    type Rejection = Response;

    async fn from_request(request: Request, app: &App) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let visitor = Visitor::from_request_parts(&mut parts, app).await?;
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), app)
            .await
            .map_err(IntoResponse::into_response)?;
        let form = |bytes| Request::from_parts(parts.clone(), Body::from(bytes));
        let token = Form::<CsrfField>::from_request(form(bytes.clone()), app).await.map(|f| f.0.csrf);
        if !token.is_ok_and(|token| visitor.posted_from_here(app, &token)) {
            return Err(PageError::FormExpired(Tr(visitor.lang)).into_response());
        }
        let Form(fields) =
            Form::<T>::from_request(form(bytes), app).await.map_err(IntoResponse::into_response)?;
        Ok(Self(fields))
    }
}

/// Why a page could not be shown as asked.
#[derive(Debug)]
pub enum PageError {
    /// The form's CSRF token is missing or stale.
    FormExpired(Tr),
    /// A duty comes first.
    Duty(Duty),
    Domain(Error, Tr),
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            Self::FormExpired(tr) => error_page(StatusCode::FORBIDDEN, tr, "error-form-expired"),
            Self::Duty(Duty::AcceptDpa) => Redirect::to("/dpa").into_response(),
            Self::Duty(Duty::ChangePassword) => Redirect::to("/password").into_response(),
            Self::Duty(Duty::RegisterPasskey) => Redirect::to("/passkey").into_response(),
            Self::Domain(Error::Unauthenticated, _) => Redirect::to("/login").into_response(),
            Self::Domain(Error::AccountBlocked { .. }, _) => Redirect::to("/login?blocked=1").into_response(),
            Self::Domain(Error::PendingDuty { pending }, tr) => match pending.first() {
                Some(duty) => Self::Duty(*duty).into_response(),
                None => Self::Domain(Error::Forbidden, tr).into_response(),
            },
            Self::Domain(error, tr) => {
                let (status, key) = match &error {
                    Error::Forbidden => (StatusCode::FORBIDDEN, "error-forbidden"),
                    Error::TargetBlocked => (StatusCode::FORBIDDEN, "error-target-blocked"),
                    Error::NotFound => (StatusCode::NOT_FOUND, "error-generic"),
                    Error::Unavailable | Error::Overloaded | Error::Contended => {
                        (StatusCode::SERVICE_UNAVAILABLE, "error-unavailable")
                    }
                    Error::Unexpected(e) => {
                        tracing::error!(error = format!("{e:#}"), "unexpected error on a page");
                        (StatusCode::INTERNAL_SERVER_ERROR, "error-generic")
                    }
                    _ => (StatusCode::BAD_REQUEST, "error-generic"),
                };
                let mut page = error_page(status, tr, key);
                if matches!(error, Error::Contended) {
                    crate::http::error::mark_contended(&mut page);
                }
                page
            }
        }
    }
}

/// The answer for a path that does not exist: a page for a browser, JSON for a program
/// (and for anything under `/api/`).
pub async fn not_found(visitor: Visitor, uri: Uri, headers: HeaderMap) -> Response {
    let wants_page = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_page && !uri.path().starts_with("/api/") {
        return error_page(StatusCode::NOT_FOUND, Tr(visitor.lang), "error-not-found");
    }
    crate::http::error::not_found().await
}

pub(super) fn error_page(status: StatusCode, tr: Tr, key: &str) -> Response {
    let page = Layout {
        tr,
        csrf: String::new(),
        user: None,
        acting: false,
        administers: false,
        error: Some(tr.t(key)),
        notice: None,
        languages: LANGUAGES,
        language_picked: false,
        poll: None,
        base: "/".into(),
        here: String::new(),
    };
    (status, templates::ErrorPage { page }).into_response()
}

/// "Too many failed attempts. Try again in N min.", the minutes rounded up.
pub fn locked_message(tr: Tr, retry_after: time::Duration) -> String {
    tr.t1("error-locked", "minutes", (retry_after.whole_seconds() + 59) / 60)
}

/// Back to the Security tab with a notice or error for it to show.
pub fn back_to_security(query: &str) -> Response {
    Redirect::to(&format!("/security?{query}")).into_response()
}
