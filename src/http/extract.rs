//! What handlers pull out of a request: a JSON body with clear errors, the client's
//! address and user agent, and the session behind the token.

use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRequest, FromRequestParts},
    http::{HeaderMap, header, request::Parts},
};

use crate::{
    app::App,
    clock::to_unix,
    error::Error,
    http::error::BadRequest,
    rights::Actor,
    sessions::{self, Current},
};

/// The cookie that carries the session token in browsers.
pub const SESSION_COOKIE: &str = "portcullis_session";

/// A JSON body; unreadable ones are answered with a JSON error naming the problem.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(BadRequest))]
pub struct ApiJson<T>(pub T);

/// Path parameters; ones that do not parse are answered with a JSON `not_found`.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(BadRequest))]
pub struct ApiPath<T>(pub T);

/// A query string; an unreadable one is answered with a JSON `invalid_query`.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(BadRequest))]
pub struct ApiQuery<T>(pub T);

/// Who is calling, as far as the network tells.
#[derive(Debug, Clone)]
pub struct Client {
    pub ip: IpAddr,
    pub user_agent: String,
}

impl FromRequestParts<App> for Client {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Error> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .ok_or_else(|| anyhow::anyhow!("no peer address"))?;
        let ip = client_ip(peer, &parts.headers, &app.config.trusted_proxies);
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(256).collect())
            .unwrap_or_default();
        Ok(Self { ip, user_agent })
    }
}

/// The client's address: the peer's, unless the peer is a trusted proxy, in which case
/// the nearest address in `X-Forwarded-For` that is not one. Entries are read from the
/// nearest hop outwards; one that is not an address (`unknown`, garbage) stops the walk
/// at the last trusted hop, since everything beyond it is the client's own say.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let mut nearest_trusted = peer;
    for entry in entries.into_iter().rev() {
        match forwarded_address(entry) {
            Some(ip) if trusted.contains(&ip) => nearest_trusted = ip,
            Some(ip) => return ip,
            None => break,
        }
    }
    nearest_trusted
}

/// One `X-Forwarded-For` entry: an address, perhaps with a port (`203.0.113.9:4711`,
/// `[2001:db8::1]:4711`).
fn forwarded_address(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry.parse::<IpAddr>().ok().or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// The token the client presented: a bearer token, or else the session cookie.
pub fn presented_token(headers: &HeaderMap) -> Option<&str> {
    presented(headers).map(|(token, _)| token)
}

/// How a token came: a cookie is sent by the browser whoever asked it to, a bearer
/// token only by a client that holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Carrier {
    Bearer,
    Cookie,
}

fn presented(headers: &HeaderMap) -> Option<(&str, Carrier)> {
    if let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        return value.strip_prefix("Bearer ").map(|t| (t.trim(), Carrier::Bearer));
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(SESSION_COOKIE)?.strip_prefix('='))
        .map(|t| (t, Carrier::Cookie))
}

/// Whether a request was made by a page of this server: its `Origin` is the public URL's
/// or the host it was sent to; without `Origin`, the browser's `Sec-Fetch-Site` says
/// `same-origin`. (Every browser sends one of them on a request that may change
/// something; a client that sends neither should use a bearer token.)
fn same_origin(headers: &HeaderMap, public_url: &url::Url) -> bool {
    let header = |name| headers.get(name).and_then(|v: &axum::http::HeaderValue| v.to_str().ok());
    match header(header::ORIGIN.as_str()) {
        Some(origin) => {
            origin == public_url.origin().ascii_serialization()
                || header(header::HOST.as_str()).is_some_and(|host| {
                    origin.split_once("://").is_some_and(|(_, origin_host)| origin_host == host)
                })
        }
        None => header("sec-fetch-site") == Some("same-origin"),
    }
}

/// A signed-in session with no duty pending: what most endpoints require.
#[derive(Debug, Clone)]
pub struct Session(pub Current);

/// A signed-in session, duties pending or not: for the duties themselves, reading the
/// session and signing out.
#[derive(Debug, Clone)]
pub struct AnySession(pub Current);

impl FromRequestParts<App> for AnySession {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Error> {
        let (token, carrier) = presented(&parts.headers).ok_or(Error::Unauthenticated)?;
        // A cookie rides along on requests other sites make: a change it authorizes must
        // come from our own pages (bearer clients are not at risk).
        if carrier == Carrier::Cookie
            && !parts.method.is_safe()
            && !same_origin(&parts.headers, &app.config.public_url())
        {
            return Err(Error::CrossOrigin);
        }
        let current = sessions::check(&app.store, &app.lifetimes, token, to_unix(app.now())).await?;
        Ok(Self(current))
    }
}

impl FromRequestParts<App> for Session {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Error> {
        let AnySession(current) = AnySession::from_request_parts(parts, app).await?;
        if !current.pending.is_empty() {
            return Err(Error::PendingDuty { pending: current.pending });
        }
        Ok(Self(current))
    }
}

impl Session {
    /// The acting user, for rights checks and the audit trail.
    pub fn actor(&self, client: &Client) -> Actor {
        self.0.actor(client.ip)
    }
}

impl AnySession {
    pub fn actor(&self, client: &Client) -> Actor {
        self.0.actor(client.ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.9, 198.51.100.7".parse().unwrap());
        assert_eq!(client_ip(proxy, &headers, &[proxy]), "198.51.100.7".parse::<IpAddr>().unwrap());
        assert_eq!(client_ip(proxy, &headers, &[]), proxy);
    }

    #[test]
    fn a_forwarded_entry_that_is_not_an_address_lets_no_client_supplied_address_through() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert("x-forwarded-for", value.parse().unwrap());
            client_ip(proxy, &headers, &[proxy])
        };
        assert_eq!(with("6.6.6.6, 198.51.100.7:4711"), "198.51.100.7".parse::<IpAddr>().unwrap());
        assert_eq!(with("6.6.6.6, [2001:db8::1]:4711"), "2001:db8::1".parse::<IpAddr>().unwrap());
        assert_eq!(with("6.6.6.6, unknown"), proxy);
        assert_eq!(with("6.6.6.6, not an address"), proxy);
        assert_eq!(with("6.6.6.6, 10.0.0.1, unknown"), proxy);
    }

    #[test]
    fn a_cookie_request_is_same_origin_only_with_a_matching_origin_or_fetch_site() {
        let public: url::Url = "https://id.fleet.example".parse().unwrap();
        let with = |pairs: &[(&'static str, &'static str)]| {
            let mut headers = HeaderMap::new();
            for (name, value) in pairs {
                headers.insert(*name, value.parse().unwrap());
            }
            same_origin(&headers, &public)
        };
        assert!(with(&[("origin", "https://id.fleet.example")]));
        assert!(with(&[("origin", "http://127.0.0.1:8080"), ("host", "127.0.0.1:8080")]));
        assert!(!with(&[("origin", "https://evil.example"), ("host", "id.fleet.example")]));
        assert!(!with(&[("origin", "null")]));
        assert!(with(&[("sec-fetch-site", "same-origin")]));
        assert!(!with(&[("sec-fetch-site", "cross-site")]));
        assert!(!with(&[]));
    }

    #[test]
    fn a_bearer_token_wins_over_the_cookie() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, "a=b; portcullis_session=fromcookie".parse().unwrap());
        assert_eq!(presented_token(&headers), Some("fromcookie"));
        headers.insert(header::AUTHORIZATION, "Bearer frombearer".parse().unwrap());
        assert_eq!(presented_token(&headers), Some("frombearer"));
    }
}
