//! The pages people use: sign-in, first-login duties, home, security and sessions. Each
//! page is one typed template over a shared layout, every string translated; forms work
//! without JavaScript and carry a CSRF token; the only script is a static file (the
//! Content-Security-Policy allows no inline code).

use axum::{
    Router,
    extract::{FromRequestParts, Query},
    http::{StatusCode, header, request::Parts},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use axum_extra::extract::{
    CookieJar,
    cookie::{Cookie, SameSite},
};
use serde::Deserialize;

use crate::{
    app::App,
    clock::to_unix,
    error::Error,
    http::extract::SESSION_COOKIE,
    i18n::Tr,
    sessions::{self, Current},
    values::{Duty, Language},
};

mod account;
mod accounts;
mod authenticator;
mod code;
mod company;
mod csrf;
mod duties;
mod integrations;
mod login;
mod recovery;
mod switch;
mod templates;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/", get(login::home))
        .route("/login", get(login::page).post(login::submit))
        .route("/login/code", get(code::page).post(code::submit))
        .route("/login/code/resend", post(code::resend))
        .route("/login/code/cancel", post(code::cancel))
        .route("/logout", post(login::logout))
        .route("/switch", get(switch::page))
        .route("/switch/back", post(switch::back))
        .route("/switch/{id}", post(switch::start))
        .route("/forgot", get(recovery::forgot_page).post(recovery::forgot_submit))
        .route("/reset/{token}", get(recovery::reset_page).post(recovery::reset_submit))
        .route("/dpa", get(duties::dpa_page).post(duties::dpa_accept))
        .route("/password", get(duties::password_page).post(duties::password_submit))
        .route("/security", get(account::security))
        .route("/security/two-factor", post(account::save_two_factor))
        .route("/security/authenticator", post(authenticator::start))
        .route("/security/authenticator/confirm", post(authenticator::confirm))
        .route("/security/authenticator/disable", post(authenticator::disable))
        .route("/security/backup-codes", post(authenticator::regenerate))
        .route("/security/devices/{id}/revoke", post(authenticator::revoke_device))
        .route("/security/notices", post(account::save_notices))
        .route("/security/flespi", post(integrations::save))
        .route("/security/flespi/check", post(integrations::check))
        .route("/security/flespi/remove", post(integrations::remove))
        .route("/security/{kind}", post(account::save_address))
        .route("/security/{kind}/send", post(account::send_address_code))
        .route("/security/{kind}/confirm", post(account::confirm_address))
        .route("/sessions", get(account::sessions))
        .route("/accounts", get(accounts::page))
        .route("/accounts/{id}", post(accounts::save))
        .route("/company", get(company::page))
        .route("/company/audit.csv", get(company::audit_csv))
        .route("/company/general", post(company::save_general))
        .route("/company/defaults", post(company::save_defaults))
        .route("/company/users/{id}/{action}", post(company::user_action))
        .route("/sessions/others/end", post(account::end_others))
        .route("/sessions/{id}/end", post(account::end_one))
        .route(
            "/static/app.js",
            get(|| asset("text/javascript; charset=utf-8", include_str!("static/app.js"))),
        )
        .route("/static/app.css", get(|| asset("text/css; charset=utf-8", include_str!("static/app.css"))))
}

async fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], body)
        .into_response()
}

/// The languages offered on the sign-in page, as (code, own name).
pub const LANGUAGES: &[(&str, &str)] = &[("en", "English"), ("ru", "Русский"), ("es", "Español")];

const LANGUAGE_COOKIE: &str = "portcullis_lang";

/// Holds the handle of a sign-in waiting for its code.
const CHALLENGE_COOKIE: &str = "portcullis_challenge";

/// Holds the token of a browser the user chose to trust: no code is asked there.
const DEVICE_COOKIE: &str = "portcullis_device";

/// What the shared layout shows around every page.
pub struct Layout {
    pub tr: Tr,
    pub csrf: String,
    /// The top bar's name of who is signed in; `None` on the sign-in pages.
    pub user: Option<String>,
    /// Acting as someone else: the top bar offers to switch back.
    pub acting: bool,
    pub error: Option<String>,
    pub notice: Option<String>,
    pub languages: &'static [(&'static str, &'static str)],
    /// For signed-in pages: how often to ask for the session and when to call the
    /// connection lost, in milliseconds.
    pub poll: Option<(u64, u64)>,
}

#[derive(Debug, Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

/// Someone looking at a page, signed in or not: their language, their cookies, and the
/// CSRF token for the forms on the page.
pub struct Visitor {
    pub lang: Language,
    pub jar: CookieJar,
    pub csrf: String,
    secure: bool,
    poll: (u64, u64),
}

impl FromRequestParts<App> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Response> {
        let jar = CookieJar::from_headers(&parts.headers);
        let secure = app.config.public_url().scheme() == "https";
        let chosen = Query::<LangQuery>::try_from_uri(&parts.uri)
            .ok()
            .and_then(|q| q.0.lang)
            .and_then(|l| Language::parse(&l).ok());
        let remembered = jar.get(LANGUAGE_COOKIE).and_then(|c| Language::parse(c.value()).ok());
        let lang = chosen.or(remembered).unwrap_or_else(|| from_accept_language(&parts.headers));
        let mut jar = jar;
        if chosen.is_some() {
            jar = jar.add(cookie(
                LANGUAGE_COOKIE,
                lang.code().to_owned(),
                secure,
                Some(time::Duration::days(365)),
            ));
        }
        let (jar, csrf) = csrf::token(&app.keys, jar, secure);
        let config = &app.config;
        let poll = (config.page_poll_seconds * 1000, config.connection_lost_seconds * 1000);
        Ok(Self { lang, jar, csrf, secure, poll })
    }
}

impl Visitor {
    pub fn layout(&self, tr: Tr, user: Option<&Current>) -> Layout {
        Layout {
            tr,
            csrf: self.csrf.clone(),
            user: user.map(top_bar_name),
            acting: user.is_some_and(|u| u.impersonator.is_some()),
            error: None,
            notice: None,
            languages: LANGUAGES,
            poll: user.map(|_| self.poll),
        }
    }

    /// Signs the browser in with `token`.
    pub fn with_session(mut self, token: &str, remember: bool) -> Self {
        let max_age = remember.then(|| time::Duration::days(30));
        self.jar = self.jar.add(cookie(SESSION_COOKIE, token.to_owned(), self.secure, max_age));
        self
    }

    /// Remembers a sign-in waiting for its code, for as long as it can wait.
    pub fn with_challenge(mut self, handle: &str) -> Self {
        let max_age = time::Duration::seconds(crate::mfa::challenge::LIFETIME);
        self.jar = self.jar.add(cookie(CHALLENGE_COOKIE, handle.to_owned(), self.secure, Some(max_age)));
        self
    }

    /// Remembers that the user trusts this browser, for as long as the trust lasts.
    pub fn with_trusted_device(mut self, token: &str) -> Self {
        let max_age = time::Duration::seconds(crate::mfa::devices::LIFETIME);
        self.jar = self.jar.add(cookie(DEVICE_COOKIE, token.to_owned(), self.secure, Some(max_age)));
        self
    }

    pub fn without_challenge(mut self) -> Self {
        self.jar = self.jar.remove(Cookie::build(CHALLENGE_COOKIE).path("/"));
        self
    }

    pub fn without_session(mut self) -> Self {
        self.jar = self.jar.remove(Cookie::build(SESSION_COOKIE).path("/"));
        self
    }

    pub fn check_csrf(&self, app: &App, presented: &str) -> Result<(), PageError> {
        if csrf::verify(&app.keys, &self.jar, presented) {
            Ok(())
        } else {
            Err(PageError::FormExpired(Tr(self.lang)))
        }
    }
}

/// "admin" or, when impersonating, "admin (driver)".
fn top_bar_name(c: &Current) -> String {
    match &c.impersonator {
        Some(real) => format!("{} ({})", real.username, c.user.username),
        None => c.user.username.clone(),
    }
}

/// An HttpOnly, SameSite=Lax cookie for the whole site; without `max_age` it lasts as
/// long as the browser runs.
fn cookie(
    name: &'static str,
    value: String,
    secure: bool,
    max_age: Option<time::Duration>,
) -> Cookie<'static> {
    let mut c =
        Cookie::build((name, value)).path("/").http_only(true).secure(secure).same_site(SameSite::Lax);
    if let Some(age) = max_age {
        c = c.max_age(age);
    }
    c.build()
}

/// "Too many failed attempts. Try again in N min.", the minutes rounded up.
fn locked_message(tr: Tr, retry_after: time::Duration) -> String {
    tr.t1("error-locked", "minutes", (retry_after.whole_seconds() + 59) / 60)
}

/// Back to the Security tab with a notice or error for it to show.
fn back_to_security(query: &str) -> Response {
    Redirect::to(&format!("/security?{query}")).into_response()
}

fn from_accept_language(headers: &axum::http::HeaderMap) -> Language {
    let header = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("");
    header
        .split(',')
        .filter_map(|part| part.split(';').next()?.trim().get(..2))
        .find_map(|code| Language::parse(&code.to_ascii_lowercase()).ok())
        .unwrap_or_default()
}

/// The browser's session; pages that need one send everyone else to the sign-in page.
pub struct PageSession(pub Current);

impl FromRequestParts<App> for PageSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Response> {
        match browser_session(app, &CookieJar::from_headers(&parts.headers)).await {
            Ok(Some(current)) => Ok(Self(current)),
            Ok(None) => Err(Redirect::to("/login").into_response()),
            Err(Error::AccountBlocked) => Err(Redirect::to("/login?blocked=1").into_response()),
            Err(e) => Err(e.into_response()),
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

impl PageSession {
    /// Sends a session with a duty pending to that duty's page.
    pub fn require_no_duty(&self) -> Result<(), PageError> {
        match self.0.pending.first() {
            Some(duty) => Err(PageError::Duty(*duty)),
            None => Ok(()),
        }
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
            Self::Domain(Error::Unauthenticated, _) => Redirect::to("/login").into_response(),
            Self::Domain(Error::AccountBlocked, _) => Redirect::to("/login?blocked=1").into_response(),
            Self::Domain(Error::PendingDuty { pending }, tr) => match pending.first() {
                Some(duty) => Self::Duty(*duty).into_response(),
                None => Self::Domain(Error::Forbidden, tr).into_response(),
            },
            Self::Domain(error, tr) => {
                let (status, key) = match &error {
                    Error::Forbidden => (StatusCode::FORBIDDEN, "error-forbidden"),
                    Error::TargetBlocked => (StatusCode::FORBIDDEN, "error-target-blocked"),
                    Error::NotFound => (StatusCode::NOT_FOUND, "error-generic"),
                    Error::Unexpected(e) => {
                        tracing::error!(error = format!("{e:#}"), "unexpected error on a page");
                        (StatusCode::INTERNAL_SERVER_ERROR, "error-generic")
                    }
                    _ => (StatusCode::BAD_REQUEST, "error-generic"),
                };
                error_page(status, tr, key)
            }
        }
    }
}

fn error_page(status: StatusCode, tr: Tr, key: &str) -> Response {
    let page = Layout {
        tr,
        csrf: String::new(),
        user: None,
        acting: false,
        error: Some(tr.t(key)),
        notice: None,
        languages: LANGUAGES,
        poll: None,
    };
    (status, templates::ErrorPage { page }).into_response()
}
