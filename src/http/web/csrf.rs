//! CSRF protection for forms: a random seed in an HttpOnly cookie, and in each form an
//! HMAC of it under the server key. A cross-site page can neither read the seed nor forge
//! the HMAC, and a cookie planted by a sibling domain is useless without the key.

use axum_extra::extract::{CookieJar, cookie::Cookie};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use subtle::ConstantTimeEq;

use crate::keys::SecretKey;

const COOKIE: &str = "portcullis_csrf";

/// The form token for this browser, creating its seed cookie if it has none.
pub fn token(key: &SecretKey, jar: CookieJar, secure: bool) -> (CookieJar, String) {
    if let Some(seed) = jar.get(COOKIE).map(|c| c.value().to_owned()) {
        let token = sign(key, &seed);
        return (jar, token);
    }
    let seed = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let token = sign(key, &seed);
    let cookie = Cookie::build((COOKIE, seed))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(axum_extra::extract::cookie::SameSite::Strict)
        .build();
    (jar.add(cookie), token)
}

/// Whether `presented` is this browser's form token.
pub fn verify(key: &SecretKey, jar: &CookieJar, presented: &str) -> bool {
    let Some(seed) = jar.get(COOKIE) else {
        return false;
    };
    sign(key, seed.value()).as_bytes().ct_eq(presented.as_bytes()).into()
}

fn sign(key: &SecretKey, seed: &str) -> String {
    URL_SAFE_NO_PAD.encode(key.keyed_hash("csrf", seed.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_verifies_only_with_its_own_seed_and_key() {
        let key = SecretKey::generate();
        let (jar, token) = token(&key, CookieJar::new(), false);
        assert!(verify(&key, &jar, &token));
        assert!(!verify(&key, &jar, "forged"));
        assert!(!verify(&SecretKey::generate(), &jar, &token));
        let (other_jar, _) = super::token(&key, CookieJar::new(), false);
        assert!(!verify(&key, &other_jar, &token));
        assert!(!verify(&key, &CookieJar::new(), &token));
    }
}
