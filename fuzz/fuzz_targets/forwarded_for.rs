//! `X-Forwarded-For` from a trusted proxy: whatever the header says, the client address
//! is the peer, a trusted proxy, or an address written in the header, never anything
//! made up, and an untrusted peer's header is never believed.
#![no_main]

use std::net::IpAddr;

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use portcullis::http::extract::client_ip;

fuzz_target!(|values: Vec<&[u8]>| {
    let proxy: IpAddr = "10.0.0.1".parse().unwrap();
    let mut headers = HeaderMap::new();
    for value in &values {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append("x-forwarded-for", value);
        }
    }
    let stranger: IpAddr = "192.0.2.1".parse().unwrap();
    assert_eq!(client_ip(stranger, &headers, &[proxy]), stranger);
    let found = client_ip(proxy, &headers, &[proxy]);
    if found != proxy {
        let text: String = headers
            .get_all("x-forwarded-for")
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect::<Vec<_>>()
            .join(",");
        let written = text.split(',').any(|entry| {
            let entry = entry.trim();
            entry.parse::<IpAddr>().ok() == Some(found)
                || entry.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()) == Some(found)
        });
        assert!(written, "{found} is not in {text:?}");
    }
});
