//! What the OAuth endpoints read and how they refuse: form parameters (each at most once,
//! as RFC 6749 requires), the client's credentials (HTTP Basic or in the form, never
//! both), and errors in OAuth's own shape (`{"error", "error_description"}`).

use std::collections::HashMap;

use axum::{
    Json,
    body::Bytes,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::json;

use crate::{error::Error, oidc::Credentials};

/// A refusal in OAuth's shape.
pub struct OAuthError(pub Error);

impl From<Error> for OAuthError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let (status, error, description) = match self.0 {
            Error::OAuth { error, description } => (StatusCode::BAD_REQUEST, error, description),
            Error::InvalidCredentials => {
                let body =
                    json!({ "error": "invalid_client", "error_description": "client authentication failed" });
                let mut response = (StatusCode::UNAUTHORIZED, Json(body)).into_response();
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"portcullis\""));
                return response;
            }
            Error::Unauthenticated => {
                let mut response =
                    (StatusCode::UNAUTHORIZED, Json(json!({ "error": "invalid_token" }))).into_response();
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
                return response;
            }
            // Everything else (a database out of reach, an overload) keeps the API's answer.
            other => return other.into_response(),
        };
        (status, Json(json!({ "error": error, "error_description": description }))).into_response()
    }
}

/// Form or query parameters, each name at most once.
#[derive(Debug, Default)]
pub struct Params(HashMap<String, String>);

impl Params {
    pub fn parse(bytes: &[u8]) -> Result<Self, Error> {
        let mut map = HashMap::new();
        for (name, value) in url::form_urlencoded::parse(bytes) {
            if map.insert(name.clone().into_owned(), value.into_owned()).is_some() {
                return Err(Error::oauth("invalid_request", format!("{name} is given more than once")));
            }
        }
        Ok(Self(map))
    }

    /// A parameter's value; an empty one counts as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub fn require(&self, name: &str) -> Result<&str, Error> {
        self.get(name).ok_or_else(|| Error::oauth("invalid_request", format!("{name} is missing")))
    }
}

/// The parameters of a request a browser sends either way: the query of a `GET`, the
/// form of a `POST` (the authorization and sign-out endpoints).
pub fn either_way(method: &axum::http::Method, uri: &axum::http::Uri, body: &Bytes) -> Result<Params, Error> {
    if method == axum::http::Method::POST {
        Params::parse(body)
    } else {
        Params::parse(uri.query().unwrap_or_default().as_bytes())
    }
}

/// The body of a form post to an OAuth endpoint.
pub fn form(headers: &HeaderMap, body: &Bytes) -> Result<Params, Error> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return Err(Error::oauth("invalid_request", "send application/x-www-form-urlencoded"));
    }
    Params::parse(body)
}

/// How the client says who it is: HTTP Basic (`client_secret_basic`), the form
/// (`client_secret_post`), or its id alone (a public client).
pub fn credentials(headers: &HeaderMap, params: &Params) -> Result<Credentials, Error> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .map(|encoded| {
            let decoded = STANDARD.decode(encoded.trim()).ok().and_then(|d| String::from_utf8(d).ok());
            let (id, secret) =
                decoded.as_deref().and_then(|d| d.split_once(':')).ok_or(Error::InvalidCredentials)?;
            // RFC 6749 §2.3.1: both halves are form-encoded first.
            let decode = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned())
            };
            Ok::<_, Error>(Credentials {
                client_id: decode(id).unwrap_or_default(),
                secret: decode(secret).filter(|s| !s.is_empty()),
            })
        })
        .transpose()?;
    match (basic, params.get("client_secret")) {
        (Some(_), Some(_)) => Err(Error::oauth("invalid_request", "authenticate the client one way only")),
        (Some(basic), None) => Ok(basic),
        (None, secret) => Ok(Credentials {
            client_id: params.get("client_id").ok_or(Error::InvalidCredentials)?.to_owned(),
            secret: secret.map(str::to_owned),
        }),
    }
}

/// The bearer token of a request (userinfo), from the header or a form post.
pub fn bearer(headers: &HeaderMap, params: Option<&Params>) -> Option<String> {
    let header = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    header
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned())
        .or_else(|| params.and_then(|p| p.get("access_token")).map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parameter_given_twice_is_refused() {
        assert!(Params::parse(b"a=1&b=2").is_ok());
        assert!(matches!(Params::parse(b"a=1&a=2"), Err(Error::OAuth { error: "invalid_request", .. })));
    }

    #[test]
    fn basic_credentials_are_form_decoded_and_exclusive_of_the_form() {
        let mut headers = HeaderMap::new();
        let encoded = STANDARD.encode("my%20app:s%2Bcret");
        headers.insert(header::AUTHORIZATION, format!("Basic {encoded}").parse().unwrap());
        let c = credentials(&headers, &Params::default()).unwrap();
        assert_eq!((c.client_id.as_str(), c.secret.as_deref()), ("my app", Some("s+cret")));
        let both = Params::parse(b"client_secret=x").unwrap();
        assert!(credentials(&headers, &both).is_err());
        let public = Params::parse(b"client_id=abc").unwrap();
        let c = credentials(&HeaderMap::new(), &public).unwrap();
        assert_eq!((c.client_id.as_str(), c.secret), ("abc", None));
    }
}
