//! The one place where errors become HTTP answers: a status, a stable snake_case code, a
//! message for people, and fields a client can act on. Internal detail is logged here and
//! never sent.

use axum::{
    Json,
    extract::rejection::{JsonRejection, PathRejection, QueryRejection},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;

use crate::error::Error;

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let message = self.to_string();
        let (status, code, extra) = match &self {
            Error::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials", json!({})),
            Error::Locked { retry_after } => {
                (StatusCode::LOCKED, "locked", json!({ "retry_after": retry_after.whole_seconds() }))
            }
            Error::AccountBlocked { notice } => {
                let details = notice.as_ref().map_or_else(
                    || json!({}),
                    |n| {
                        let since = crate::clock::from_unix(n.since).format(&Rfc3339).unwrap_or_default();
                        json!({ "blocked_from": since, "contact": n.contact })
                    },
                );
                (StatusCode::FORBIDDEN, "account_blocked", details)
            }
            Error::TargetBlocked => (StatusCode::FORBIDDEN, "target_account_blocked", json!({})),
            Error::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated", json!({})),
            Error::PendingDuty { pending } => {
                (StatusCode::FORBIDDEN, "pending_duty", json!({ "pending": pending }))
            }
            Error::Forbidden => (StatusCode::FORBIDDEN, "forbidden", json!({})),
            Error::CrossOrigin => (StatusCode::FORBIDDEN, "cross_origin", json!({})),
            Error::NotFound => (StatusCode::NOT_FOUND, "not_found", json!({})),
            Error::Conflict { field } => (StatusCode::CONFLICT, "conflict", json!({ "field": field })),
            Error::Invalid { field, .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid", json!({ "field": field }))
            }
            Error::InvalidCode { attempts_left, contact: None } => {
                (StatusCode::UNAUTHORIZED, "invalid_code", json!({ "attempts_left": attempts_left }))
            }
            Error::InvalidCode { attempts_left, contact: Some(contact) } => (
                StatusCode::UNAUTHORIZED,
                "invalid_code",
                json!({ "attempts_left": attempts_left, "contact": contact }),
            ),
            Error::NoCodeDestination { contact } => {
                (StatusCode::FORBIDDEN, "second_factor_unavailable", json!({ "contact": contact }))
            }
            Error::SmsUnavailable { reason } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "sms_unavailable", json!({ "reason": reason }))
            }
            // One code for both: to a client, either means "start this step again".
            Error::CodeExpired | Error::CeremonyExpired => (StatusCode::GONE, "code_expired", json!({})),
            Error::TooSoon { retry_after } => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_soon",
                json!({ "retry_after": retry_after.whole_seconds() }),
            ),
            Error::Overloaded => (StatusCode::SERVICE_UNAVAILABLE, "overloaded", json!({})),
            Error::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", json!({})),
            Error::Contended => (StatusCode::SERVICE_UNAVAILABLE, "contended", json!({})),
            Error::OAuth { error, .. } => (StatusCode::BAD_REQUEST, *error, json!({})),
            Error::Unreachable { service } => {
                (StatusCode::BAD_GATEWAY, "unreachable", json!({ "service": service }))
            }
            Error::Unexpected(e) => {
                tracing::error!(error = format!("{e:#}"), "unexpected error");
                let body = json!({ "error": "internal", "message": "something went wrong on our side" });
                return (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response();
            }
        };
        let retry_after = match &self {
            Error::Locked { retry_after } | Error::TooSoon { retry_after } => {
                Some(retry_after.whole_seconds())
            }
            Error::Overloaded | Error::Contended => Some(1),
            Error::Unavailable => Some(5),
            _ => None,
        };
        let mut response = error_response(status, code, &message, extra);
        if let Some(secs) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if matches!(self, Error::Contended) {
            mark_contended(&mut response);
        }
        response
    }
}

/// A request the server could not even read: bad JSON, wrong type, too large, a path or
/// query string that does not parse. Answered in the same JSON shape as every other error.
#[derive(Debug)]
pub struct BadRequest {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl From<JsonRejection> for BadRequest {
    fn from(r: JsonRejection) -> Self {
        let (status, code) = match &r {
            JsonRejection::JsonDataError(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            JsonRejection::JsonSyntaxError(_) => (StatusCode::BAD_REQUEST, "malformed_json"),
            JsonRejection::MissingJsonContentType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                (StatusCode::PAYLOAD_TOO_LARGE, "too_large")
            }
            other => (other.status(), "bad_request"),
        };
        Self { status, code, message: r.body_text() }
    }
}

impl From<PathRejection> for BadRequest {
    fn from(r: PathRejection) -> Self {
        // A path that names no resource (`/users/abc`) is simply not there.
        Self { status: StatusCode::NOT_FOUND, code: "not_found", message: r.body_text() }
    }
}

impl From<QueryRejection> for BadRequest {
    fn from(r: QueryRejection) -> Self {
        Self { status: StatusCode::BAD_REQUEST, code: "invalid_query", message: r.body_text() }
    }
}

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        error_response(self.status, self.code, &self.message, json!({}))
    }
}

fn error_response(status: StatusCode, code: &str, message: &str, extra: Value) -> Response {
    let mut body = json!({ "error": code, "message": message });
    if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
        body.extend(extra);
    }
    (status, Json(body)).into_response()
}

/// What the error mappings put on the answer of a request that the database aborted for a
/// concurrent one, which may be run again whole.
#[derive(Clone, Copy, Debug)]
struct Contended;

pub fn mark_contended(response: &mut Response) {
    response.extensions_mut().insert(Contended);
}

pub fn is_contended(response: &Response) -> bool {
    response.extensions().get::<Contended>().is_some()
}

/// An error answer in the usual shape, for the layers that answer before any handler.
pub fn answer(status: StatusCode, code: &str, message: &str) -> Response {
    error_response(status, code, message, json!({}))
}

/// The answer for a path that does not exist.
pub async fn not_found() -> Response {
    error_response(StatusCode::NOT_FOUND, "not_found", "no such endpoint", json!({}))
}

/// The answer for a request that took longer than the server allows.
pub fn timeout() -> Response {
    let message = "the request took too long; try again";
    let mut response = error_response(StatusCode::SERVICE_UNAVAILABLE, "timeout", message, json!({}));
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(1));
    response
}

/// The answer for a method a path does not take.
pub async fn method_not_allowed() -> Response {
    let message = "this endpoint does not take that method";
    error_response(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", message, json!({}))
}
