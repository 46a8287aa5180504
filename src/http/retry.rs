//! Runs a request again when the database aborted its transaction for a concurrent one
//! (SQLSTATE 40001 or 40P01). PostgreSQL does this only at the stricter isolation levels
//! or on a deadlock; CockroachDB and YugabyteDB, which run `SERIALIZABLE`, do it whenever
//! two transactions touch the same rows. The aborted transaction changed nothing, so the
//! request runs again from the start, body included, after a short random wait.
//!
//! The unit retried is the request, not the transaction: a request that commits more than
//! once (a sign-in counts its attempt before hashing, and decides after) is written so that
//! an earlier commit is safe to repeat.

use std::time::Duration;

use axum::{
    body::{Body, Bytes},
    extract::{Request, State},
    http::StatusCode,
    middleware::Next,
    response::Response,
};

/// How many times a request runs at most.
const ATTEMPTS: u32 = 5;

pub async fn retry_contended(State(max_body): State<usize>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let body: Bytes = match axum::body::to_bytes(body, max_body).await {
        Ok(body) => body,
        Err(e) => return unreadable(e),
    };
    let mut attempt = 1;
    loop {
        let request = Request::from_parts(parts.clone(), Body::from(body.clone()));
        let response = next.clone().run(request).await;
        if !super::error::is_contended(&response) {
            return response;
        }
        crate::metrics::contended(attempt == ATTEMPTS);
        if attempt == ATTEMPTS {
            return response;
        }
        tokio::time::sleep(backoff(attempt)).await;
        attempt += 1;
    }
}

/// A random wait of up to 2, 4, 8... milliseconds, so that the transactions that collided
/// do not collide again.
fn backoff(attempt: u32) -> Duration {
    Duration::from_micros(rand::random_range(0..=2000u64 << attempt.min(6)))
}

/// A body that could not be read whole: longer than the server takes, or cut off.
fn unreadable(e: axum::Error) -> Response {
    let too_long = e.into_inner().downcast_ref::<http_body_util::LengthLimitError>().is_some();
    let (status, code, message) = match too_long {
        true => (StatusCode::PAYLOAD_TOO_LARGE, "too_large", "the request body is too large"),
        false => (StatusCode::BAD_REQUEST, "bad_request", "the request body could not be read"),
    };
    super::error::answer(status, code, message)
}
