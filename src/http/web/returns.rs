//! Coming back after signing in. An app's authorization request or a page behind forward
//! auth sends the browser to `/login?next=<where it was>`; the place is remembered in a
//! cookie while the person signs in, passes the second factor and finishes any duty, and
//! the home page, where every sign-in ends, sends them on.
//!
//! Only two kinds of place are allowed (no open redirect): a path of this server, and a
//! URL on a host of `PORTCULLIS_FORWARD_AUTH_DOMAINS`. The last step is a page that moves on
//! by itself rather than a redirect: a redirect would continue the navigation of the
//! sign-in form, which the Content-Security-Policy's `form-action 'self'` keeps on this
//! server.

use askama::Template;
use askama_web::WebTemplate;
use axum::response::{IntoResponse, Response};
use url::Url;

use super::{templates::Layout, visitor::Visitor};
use crate::{app::App, i18n::Tr};

/// Whether the browser may be sent to `target` after signing in.
pub fn allowed(app: &App, target: &str) -> bool {
    if target.chars().any(|c| c.is_control() || c == '\\') {
        return false;
    }
    if target.starts_with('/') {
        return !target.starts_with("//");
    }
    let Ok(url) = Url::parse(target) else { return false };
    let Some(host) = url.host_str() else { return false };
    let ours = url.origin() == app.public_url().origin();
    let listed = app.config.forward_auth_domains.iter().any(|domain| {
        let domain = domain.trim().trim_start_matches('.');
        !domain.is_empty() && (host == domain || host.ends_with(&format!(".{domain}")))
    });
    matches!(url.scheme(), "http" | "https") && url.username().is_empty() && (ours || listed)
}

#[derive(Template, WebTemplate)]
#[template(path = "onward.html")]
struct OnwardPage {
    page: Layout,
    target: String,
}

/// A page that sends the browser on to `target` at once (and offers a link).
pub fn onward(visitor: Visitor, tr: Tr, target: String) -> Response {
    let page = OnwardPage { page: visitor.layout(tr, None), target };
    (visitor.jar, page).into_response()
}
