//! Someone looking at a page, signed in or not: the language they read, their cookies,
//! and the CSRF token for the forms on the page.

use axum::{
    extract::{FromRequestParts, Query},
    http::{header, request::Parts},
    response::Response,
};
use axum_extra::extract::{
    CookieJar,
    cookie::{Cookie, SameSite},
};
use serde::Deserialize;

use super::{
    csrf,
    tabs::{TAB_COOKIE, Tab},
    templates::{LANGUAGES, Layout},
};
use crate::{app::App, http::extract::SESSION_COOKIE, i18n::Tr, sessions::Current, values::Language};

pub(super) const LANGUAGE_COOKIE: &str = "portcullis_lang";

/// Holds the handle of a sign-in waiting for its code.
pub(super) const CHALLENGE_COOKIE: &str = "portcullis_challenge";

/// Holds the token of a browser the user chose to trust: no code is asked there.
pub(super) const DEVICE_COOKIE: &str = "portcullis_device";

/// Where to go once signed in (see [`Visitor::with_return`]).
const RETURN_COOKIE: &str = "portcullis_return";

#[derive(Debug, Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

/// Someone looking at a page, signed in or not: their language, their cookies, and the
/// CSRF token for the forms on the page.
pub struct Visitor {
    pub lang: Language,
    /// The language was picked on a page of this browser (`?lang=`, then remembered), not
    /// guessed from the browser's own languages.
    pub picked: bool,
    pub jar: CookieJar,
    pub csrf: String,
    secure: bool,
    /// The session cookie's domain, when shared with apps behind forward auth.
    cookie_domain: Option<String>,
    poll: (u64, u64),
    /// Where the page's relative links start: `/`, or a tab's own path.
    base: String,
    /// The page's own path, relative: for links that only change its query.
    here: String,
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
        let base = parts.extensions.get::<Tab>().map_or_else(|| "/".to_owned(), Tab::base);
        let here = parts.uri.path().trim_start_matches('/').to_owned();
        let picked = chosen.is_some() || remembered.is_some();
        let cookie_domain = app.config.cookie_domain.clone();
        Ok(Self { lang, picked, jar, csrf, secure, cookie_domain, poll, base, here })
    }
}

impl Visitor {
    pub fn layout(&self, tr: Tr, user: Option<&Current>) -> Layout {
        Layout {
            tr,
            csrf: self.csrf.clone(),
            user: user.map(top_bar_name),
            acting: user.is_some_and(|u| u.impersonator.is_some()),
            administers: user.is_some_and(|u| u.administers),
            error: None,
            notice: None,
            languages: LANGUAGES,
            language_picked: self.picked,
            poll: user.map(|_| self.poll),
            base: self.base.clone(),
            here: self.here.clone(),
        }
    }

    /// Signs the browser in with `token`.
    pub fn with_session(mut self, token: &str, remember: bool) -> Self {
        let max_age = remember.then(|| time::Duration::days(30));
        let mut c = cookie(SESSION_COOKIE, token.to_owned(), self.secure, max_age);
        if let Some(domain) = &self.cookie_domain {
            c.set_domain(domain.clone());
        }
        self.jar = self.jar.add(c);
        self
    }

    /// Remembers where to send the browser once it is signed in (and through its
    /// duties): an app's authorization request, or a page behind forward auth.
    pub fn with_return(mut self, target: &str) -> Self {
        let max_age = time::Duration::minutes(30);
        self.jar = self.jar.add(cookie(RETURN_COOKIE, target.to_owned(), self.secure, Some(max_age)));
        self
    }

    /// Where the browser was to go back to, forgotten as it is read.
    pub fn take_return(mut self) -> (Self, Option<String>) {
        let target = self.jar.get(RETURN_COOKIE).map(|c| c.value().to_owned());
        if target.is_some() {
            self.jar = self.jar.remove(Cookie::build(RETURN_COOKIE).path("/"));
        }
        (self, target)
    }

    /// Opens a tab of its own signed in with `token`, leaving this tab's session alone.
    pub fn with_tab_session(mut self, tab: &Tab, token: &str, remember: bool) -> Self {
        let max_age = remember.then(|| time::Duration::days(30));
        let mut c = cookie(TAB_COOKIE, token.to_owned(), self.secure, max_age);
        c.set_path(tab.base());
        self.jar = self.jar.add(c);
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
        let mut gone = Cookie::build(SESSION_COOKIE).path("/");
        if let Some(domain) = &self.cookie_domain {
            gone = gone.domain(domain.clone());
        }
        self.jar = self.jar.remove(gone);
        self
    }

    /// Whether `presented` is the CSRF token of a form this browser was given.
    pub(super) fn posted_from_here(&self, app: &App, presented: &str) -> bool {
        csrf::verify(&app.keys, &self.jar, presented)
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
pub(super) fn cookie(
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

fn from_accept_language(headers: &axum::http::HeaderMap) -> Language {
    let header = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("");
    header
        .split(',')
        .filter_map(|part| part.split(';').next()?.trim().get(..2))
        .find_map(|code| Language::parse(&code.to_ascii_lowercase()).ok())
        .unwrap_or_default()
}
