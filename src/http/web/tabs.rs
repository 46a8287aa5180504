//! Browser tabs with an identity of their own. A browser holds one session cookie, so
//! "Login as … in a new tab" would otherwise switch every tab. A tab of its own lives
//! under `/as/<tab>/`: its session cookie (`portcullis_tab`) is scoped to that path, and
//! on the way in this layer strips the prefix and presents that cookie as the session
//! cookie, so every page and the session check work there unchanged. On the way out, a
//! redirect stays in the tab and a session the tab is given is the tab's alone. Pages
//! link relatively, under a `<base>` of the tab's path ([`Tab::base`]).

use axum::{
    extract::Request,
    http::{HeaderValue, Uri, header},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};

use crate::http::extract::SESSION_COOKIE;

/// The cookie holding a tab's session, sent only to the tab's paths.
pub const TAB_COOKIE: &str = "portcullis_tab";

/// The tab a request came from, when not the browser's main one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tab(String);

impl Tab {
    /// A new tab's name: 64 random bits, as hex.
    pub fn new() -> Self {
        Self(format!("{:016x}", rand::random::<u64>()))
    }

    /// Where the tab's pages live: `/as/<tab>/`.
    pub fn base(&self) -> String {
        format!("/as/{}/", self.0)
    }

    fn parse(name: &str) -> Option<Self> {
        let fits = (1..=32).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric());
        fits.then(|| Self(name.to_owned()))
    }
}

/// Splits `/as/<tab>/rest` into the tab and `/rest`.
fn split(path: &str) -> Option<(Tab, &str)> {
    let rest = path.strip_prefix("/as/")?;
    let (name, page) = rest.find('/').map_or((rest, "/"), |at| rest.split_at(at));
    Some((Tab::parse(name)?, page))
}

/// The layer: runs a tab's request as a request of the main tab with the tab's session.
pub async fn enter(mut request: Request, next: Next) -> Response {
    let Some((tab, rest)) = split(request.uri().path()) else {
        return next.run(request).await;
    };
    if !request.uri().path().ends_with('/') && rest == "/" {
        // `/as/<tab>`: the tab's cookie is sent only below `/as/<tab>/`.
        return Redirect::to(&tab.base()).into_response();
    }
    let path_and_query = match request.uri().query() {
        Some(query) => format!("{rest}?{query}"),
        None => rest.to_owned(),
    };
    let Ok(uri) = Uri::builder().path_and_query(path_and_query).build() else {
        return next.run(request).await;
    };
    *request.uri_mut() = uri;
    let cookies = tab_cookies(request.headers().get_all(header::COOKIE).iter());
    request.headers_mut().remove(header::COOKIE);
    if let Some(cookies) = cookies {
        request.headers_mut().insert(header::COOKIE, cookies);
    }
    request.extensions_mut().insert(tab.clone());
    let mut response = next.run(request).await;
    keep_in_tab(&mut response, &tab);
    response
}

/// The request's cookies as the main tab would send them: the main session cookie left
/// out, the tab's session in its place.
fn tab_cookies<'a>(headers: impl Iterator<Item = &'a HeaderValue>) -> Option<HeaderValue> {
    let session = format!("{SESSION_COOKIE}=");
    let tab = format!("{TAB_COOKIE}=");
    let pairs: Vec<String> = headers
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|pair| !pair.is_empty() && !pair.starts_with(&session))
        .map(|pair| match pair.strip_prefix(&tab) {
            Some(value) => format!("{session}{value}"),
            None => pair.to_owned(),
        })
        .collect();
    HeaderValue::from_str(&pairs.join("; ")).ok().filter(|_| !pairs.is_empty())
}

/// Redirects within the site stay in the tab; the session cookie set becomes the tab's.
fn keep_in_tab(response: &mut Response, tab: &Tab) {
    let headers = response.headers_mut();
    if let Some(location) = headers.get(header::LOCATION).and_then(|v| v.to_str().ok())
        && location.starts_with('/')
        && !location.starts_with("//")
        && !location.starts_with("/as/")
        && let Ok(inside) = HeaderValue::from_str(&format!("/as/{}{location}", tab.0))
    {
        headers.insert(header::LOCATION, inside);
    }
    let set: Vec<HeaderValue> = headers.get_all(header::SET_COOKIE).iter().cloned().collect();
    headers.remove(header::SET_COOKIE);
    for cookie in set {
        let renamed = cookie
            .to_str()
            .ok()
            .and_then(|c| c.strip_prefix(SESSION_COOKIE)?.strip_prefix('='))
            .map(|rest| tab_cookie(rest, tab))
            .and_then(|c| HeaderValue::from_str(&c).ok());
        headers.append(header::SET_COOKIE, renamed.unwrap_or(cookie));
    }
}

/// `value; attributes` of a session cookie, as the tab's cookie on the tab's path.
fn tab_cookie(value_and_attributes: &str, tab: &Tab) -> String {
    let parts = value_and_attributes.split(';').map(str::trim).map(|part| {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case("path=") {
            format!("Path={}", tab.base())
        } else {
            part.to_owned()
        }
    });
    format!("{TAB_COOKIE}={}", parts.collect::<Vec<_>>().join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tab_path_splits_into_the_tab_and_the_page() {
        assert_eq!(split("/as/ab12/security"), Some((Tab("ab12".into()), "/security")));
        assert_eq!(split("/as/ab12/"), Some((Tab("ab12".into()), "/")));
        assert_eq!(split("/as/ab12"), Some((Tab("ab12".into()), "/")));
        assert_eq!(split("/security"), None);
        assert_eq!(split("/as/../x"), None);
    }

    #[test]
    fn in_a_tab_the_tab_cookie_is_the_session_and_the_main_one_is_not_sent() {
        let sent = [HeaderValue::from_static("portcullis_session=main; portcullis_tab=mine; csrf=c")];
        let cookies = tab_cookies(sent.iter()).unwrap();
        assert_eq!(cookies.to_str().unwrap(), "portcullis_session=mine; csrf=c");
        let only_main = [HeaderValue::from_static("portcullis_session=main")];
        assert_eq!(tab_cookies(only_main.iter()), None);
    }

    #[test]
    fn a_session_given_in_a_tab_is_scoped_to_the_tab() {
        let tab = Tab("t1".into());
        assert_eq!(
            tab_cookie("tok; HttpOnly; SameSite=Lax; Path=/; Max-Age=60", &tab),
            "portcullis_tab=tok; HttpOnly; SameSite=Lax; Path=/as/t1/; Max-Age=60"
        );
    }
}
