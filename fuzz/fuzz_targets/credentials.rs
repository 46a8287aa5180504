//! The token a request presents (bearer header or session cookie): whatever the headers
//! hold, the token found is text that was in them, and a bearer header wins.
#![no_main]

use http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;
use portcullis::http::extract::presented_token;

fuzz_target!(|input: (Option<&[u8]>, Vec<&[u8]>)| {
    let (authorization, cookies) = input;
    let mut headers = HeaderMap::new();
    if let Some(value) = authorization.and_then(|v| HeaderValue::from_bytes(v).ok()) {
        headers.insert(header::AUTHORIZATION, value);
    }
    for cookie in cookies.iter().filter_map(|v| HeaderValue::from_bytes(v).ok()) {
        headers.append(header::COOKIE, cookie);
    }
    let Some(token) = presented_token(&headers) else {
        return;
    };
    let in_headers = headers.iter().any(|(_, v)| v.to_str().is_ok_and(|v| v.contains(token)));
    assert!(in_headers);
    if let Some(bearer) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        assert!(bearer.contains(token), "a bearer header wins over the cookie");
    }
});
