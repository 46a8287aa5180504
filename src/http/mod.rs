//! The HTTP shell: routes, and the layers every request passes through (limits, headers,
//! metrics, tracing). Handlers are thin: they extract, call one domain function, and
//! answer; `error` turns domain errors into statuses.

use std::time::Instant;

use axum::{
    Router,
    extract::{DefaultBodyLimit, MatchedPath, Request},
    http::{HeaderName, HeaderValue, Method, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use tower_http::{set_header::SetResponseHeaderLayer, trace::TraceLayer};

use crate::app::App;

pub mod api;
pub mod error;
pub mod extract;
pub mod oauth;
mod ops;
mod retry;
mod web;

pub fn router(app: App) -> Router {
    let max_body = app.config.max_body_bytes;
    let deadline = std::time::Duration::from_secs(app.config.request_timeout_seconds);
    // Browsers that reached us over https are told to keep to it.
    let hsts = (app.config.public_url().scheme() == "https").then_some("max-age=31536000; includeSubDomains");
    let floor = app.config.bench_floor.then(|| Router::new().route("/bench/floor", get(ops::floor)));
    let site = Router::new()
        .merge(floor.unwrap_or_default())
        .merge(api::routes())
        .merge(web::routes())
        .merge(oauth::routes())
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .fallback(web::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn_with_state(max_body, retry::retry_contended))
        .layer(middleware::from_fn(finish_changes))
        .layer(middleware::from_fn_with_state(deadline, answer_in_time))
        .layer(middleware::from_fn(record_metrics))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            // The route, not the path: a path may hold a token (`/reset/<token>`), and so
            // may a query string (`?sid=`).
            let route = req.extensions().get::<MatchedPath>().map_or("(no route)", MatchedPath::as_str);
            tracing::info_span!("request", method = %req.method(), route = %route)
        }))
        .layer(header_layer(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header_layer(header::X_FRAME_OPTIONS, "DENY"))
        .layer(header_layer(header::REFERRER_POLICY, "no-referrer"))
        .layer(header_layer(header::CACHE_CONTROL, "no-store"))
        .layer(tower::util::option_layer(hsts.map(|v| header_layer(header::STRICT_TRANSPORT_SECURITY, v))))
        .layer(header_layer(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'",
        ))
        .with_state(app);
    // Outside the routes: a tab's request is routed by the path it has once the tab's
    // prefix is off.
    Router::new().fallback_service(tower::Layer::layer(&middleware::from_fn(web::tabs::enter), site))
}

fn header_layer(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}

/// Lets a request that may change something run to its end even when its client goes
/// away. Otherwise a dropped connection cancels the handler mid-transaction, and the
/// database connection it held can sit "idle in transaction", keeping row locks that
/// every later sign-in of the same account waits for.
async fn finish_changes(request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    match tokio::spawn(next.run(request)).await {
        Ok(response) => response,
        Err(e) => {
            crate::error::Error::Unexpected(anyhow::anyhow!("request task failed: {e}")).into_response()
        }
    }
}

/// Answers `503 timeout` to a request still unanswered at its deadline (a slow body, a
/// stalled database). A change under way still finishes (see [`finish_changes`]).
async fn answer_in_time(
    axum::extract::State(deadline): axum::extract::State<std::time::Duration>,
    request: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(deadline, next.run(request)).await {
        Ok(response) => response,
        Err(_) => error::timeout(),
    }
}

/// Counts requests by route and status and times them. Every label comes from a bounded
/// set, whatever clients send: routes are the router's patterns (unmatched paths are one
/// value), and methods outside the standard ones are `other`.
async fn record_metrics(request: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let method = known_method(request.method());
    let response = next.run(request).await;
    crate::metrics::request_done(
        route.as_deref().unwrap_or("unmatched"),
        method,
        response.status().as_u16(),
        start.elapsed(),
    );
    response
}

fn known_method(method: &Method) -> &'static str {
    static KNOWN: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::HEAD, "HEAD"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::PATCH, "PATCH"),
        (Method::DELETE, "DELETE"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::CONNECT, "CONNECT"),
        (Method::TRACE, "TRACE"),
    ];
    KNOWN.iter().find(|(m, _)| m == method).map_or("other", |(_, name)| name)
}
