//! Endpoints for operators and orchestrators: liveness, readiness, metrics.

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
};
use serde_json::json;

use crate::app::App;

/// The process is up.
pub async fn healthz() -> &'static str {
    "ok"
}

/// The process can serve: its database answers.
pub async fn readyz(State(app): State<App>) -> impl IntoResponse {
    if app.store.ping().await {
        (StatusCode::OK, Json(json!({ "status": "ready" })))
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "database unreachable" })))
    }
}

/// Prometheus metrics in the text exposition format.
pub async fn metrics() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], crate::metrics::render())
}

/// `GET /bench/floor` (only with `PORTCULLIS_BENCH_FLOOR`): one primary-key `SELECT` on the
/// same pool as the session check, and nothing else; the benchmark's reference.
pub async fn floor(State(app): State<App>) -> crate::error::Result<&'static str> {
    Ok(if app.store.floor_probe().await? { "ok" } else { "empty" })
}
