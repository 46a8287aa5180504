//! Authenticator apps, backup codes and trusted devices. Codes come from the test's own
//! RFC 6238 implementation (checked against the RFC's SHA-1 vectors), never from the
//! server's.

use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::Duration;

use crate::{db_test, helpers::*};

/// RFC 4648 base32, as authenticator apps read it.
pub fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut value, mut out) = (0u32, 0u32, Vec::new());
    for c in text.trim_end_matches('=').bytes() {
        let index = ALPHABET.iter().position(|&a| a == c.to_ascii_uppercase()).expect("base32") as u32;
        value = (value << 5) | index;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((value >> bits) as u8);
            value &= (1 << bits) - 1;
        }
    }
    out
}

/// RFC 6238 with HMAC-SHA-1 and 30-second steps: the code for `unix`, `digits` long.
pub fn totp_code(secret: &[u8], unix: i64, digits: u32) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret).unwrap();
    mac.update(&((unix / 30) as u64).to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = (hash[19] & 0x0f) as usize;
    let binary = u32::from_be_bytes(hash[offset..offset + 4].try_into().unwrap()) & 0x7fff_ffff;
    format!("{:0width$}", binary % 10u32.pow(digits), width = digits as usize)
}

#[test]
fn the_test_s_own_totp_matches_the_rfc_6238_sha1_vectors() {
    let secret = b"12345678901234567890";
    for (time, code) in
        [(59, "94287082"), (1111111109, "07081804"), (1234567890, "89005924"), (2000000000, "69279037")]
    {
        assert_eq!(totp_code(secret, time, 8), code);
    }
}

/// The secret in an `otpauth://` URI.
fn secret_of(uri: &str) -> Vec<u8> {
    let url = url::Url::parse(uri).unwrap();
    let secret = url.query_pairs().find(|(k, _)| k == "secret").expect("a secret").1.into_owned();
    base32_decode(&secret)
}

/// `driver` in company `acme` with an authenticator set up; returns the company, the
/// driver's token, the secret and the backup codes.
async fn enrolled(app: &TestApp) -> (Company, String, Vec<u8>, Vec<String>) {
    let company = app.company("acme").await;
    app.user(company.account, company.admin, "driver").await;
    let token = app.signed_in("driver").await;
    let enrolment = json_of(
        app.post("/api/v1/me/totp", Some(&token), json!({ "password": PASSWORD })).await,
        StatusCode::CREATED,
    )
    .await;
    let secret = secret_of(enrolment["otpauth_uri"].as_str().unwrap());
    let code = totp_code(&secret, app.now(), 6);
    let confirmed = app.post("/api/v1/me/totp/confirm", Some(&token), json!({ "code": code })).await;
    let codes = json_of(confirmed, StatusCode::OK).await["backup_codes"].as_array().unwrap().clone();
    let codes = codes.iter().map(|c| c.as_str().unwrap().to_owned()).collect();
    // The code that confirmed it is spent: move on to the next step.
    app.advance(Duration::seconds(30));
    (company, token, secret, codes)
}

async fn challenged(app: &TestApp, body: Value) -> Value {
    let answer = json_of(app.post("/api/v1/login", None, body).await, StatusCode::OK).await;
    assert_eq!(answer["status"], "second_factor", "{answer}");
    answer
}

fn driver() -> Value {
    json!({ "username": "driver", "password": PASSWORD })
}

async fn verify(app: &TestApp, challenge: &Value, code: &str) -> reqwest::Response {
    app.post("/api/v1/login/verify", None, json!({ "challenge": challenge["challenge"], "code": code })).await
}

db_test! {
    async fn an_authenticator_added_by_scanning_its_uri_signs_in_with_its_codes(app: TestApp) {
        let company = app.company("acme").await;
        app.user(company.account, company.admin, "driver").await;
        let token = app.signed_in("driver").await;
        let enrolment = json_of(app.post("/api/v1/me/totp", Some(&token), json!({ "password": PASSWORD })).await, StatusCode::CREATED).await;
        let uri = enrolment["otpauth_uri"].as_str().unwrap();
        assert!(uri.starts_with("otpauth://totp/Portcullis:driver?"), "{uri}");
        assert!(uri.contains("issuer=Portcullis"), "{uri}");
        assert_eq!(secret_of(uri).len(), 20, "a 160-bit secret");
        assert_eq!(base32_decode(enrolment["secret"].as_str().unwrap()), secret_of(uri));
        assert!(enrolment["qr_svg"].as_str().unwrap().contains("<svg"));
        // Not on until confirmed.
        assert_eq!(json_of(app.login("driver", PASSWORD).await, StatusCode::OK).await["status"], "ok");
        let wrong = app.post("/api/v1/me/totp/confirm", Some(&token), json!({ "code": "000000" })).await;
        if totp_code(&secret_of(uri), app.now(), 6) != "000000" {
            assert_eq!(json_of(wrong, StatusCode::UNPROCESSABLE_ENTITY).await["field"], "code");
        }
        let code = totp_code(&secret_of(uri), app.now(), 6);
        let confirmed = json_of(app.post("/api/v1/me/totp/confirm", Some(&token), json!({ "code": code })).await, StatusCode::OK).await;
        assert_eq!(confirmed["backup_codes"].as_array().unwrap().len(), 10);
        let security = json_of(app.get("/api/v1/me/security", Some(&token)).await, StatusCode::OK).await;
        assert_eq!(security["two_factor"], json!({ "web": "totp", "manager": "totp" }));
        assert_eq!((security["authenticator"].as_bool(), security["backup_codes_left"].as_i64()), (Some(true), Some(10)));
        app.advance(Duration::seconds(30));
        let answer = challenged(&app, driver()).await;
        assert_eq!(answer["method"], "totp");
        assert_eq!(answer["channels"], json!([]));
        assert!(answer.get("channel").is_none() && answer.get("destination").is_none());
        let code = totp_code(&secret_of(uri), app.now(), 6);
        let signed_in = json_of(verify(&app, &answer, &code).await, StatusCode::OK).await;
        assert_eq!(signed_in["status"], "ok");
        assert!(app.smtp.mails().is_empty() && app.sms.sent().is_empty());
        let resend = app.post("/api/v1/login/resend", None, json!({ "challenge": answer["challenge"] })).await;
        assert_eq!(resend.status(), StatusCode::GONE);
        let trail = app.audit_trail(company.account).await;
        assert!(trail.iter().any(|(a, _)| a == "authenticator.enabled"));
    }
}

db_test! {
    async fn a_code_one_step_early_or_late_is_accepted_but_not_two_and_never_twice(app: TestApp) {
        let (_, _, secret, _) = enrolled(&app).await;
        app.advance(Duration::seconds(60));
        let now = app.now();
        for (offset, accepted) in [(-60, false), (60, false), (-30, true)] {
            let answer = challenged(&app, driver()).await;
            let status = verify(&app, &answer, &totp_code(&secret, now + offset, 6)).await.status();
            assert_eq!(status == StatusCode::OK, accepted, "a code {offset} s off");
        }
        let ahead = totp_code(&secret, now + 30, 6);
        json_of(verify(&app, &challenged(&app, driver()).await, &ahead).await, StatusCode::OK).await;
        // Once a later step is accepted, no earlier one is, and no step twice.
        for code in [totp_code(&secret, now, 6), ahead] {
            let refused = verify(&app, &challenged(&app, driver()).await, &code).await;
            assert_eq!(json_of(refused, StatusCode::UNAUTHORIZED).await["error"], "invalid_code");
        }
    }
}

db_test! {
    async fn wrong_authenticator_codes_count_toward_the_same_lock(app: TestApp) {
        let (_, _, secret, _) = enrolled(&app).await;
        let answer = challenged(&app, driver()).await;
        let right = totp_code(&secret, app.now(), 6);
        for _ in 0..4 {
            assert_eq!(verify(&app, &answer, wrong_code(&right)).await.status(), StatusCode::UNAUTHORIZED);
        }
        assert_eq!(verify(&app, &answer, wrong_code(&right)).await.status(), StatusCode::LOCKED);
        assert_eq!(app.login("driver", PASSWORD).await.status(), StatusCode::LOCKED);
    }
}

db_test! {
    async fn each_backup_code_works_once_and_a_new_set_voids_the_old(app: TestApp) {
        let (_, token, _, codes) = enrolled(&app).await;
        let answer = challenged(&app, driver()).await;
        let signed_in = json_of(verify(&app, &answer, &codes[0].to_uppercase()).await, StatusCode::OK).await;
        assert_eq!(signed_in["backup_codes_left"], 9);
        assert!(signed_in.get("backup_codes_running_out").is_none());
        let again = verify(&app, &challenged(&app, driver()).await, &codes[0]).await;
        assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
        for code in &codes[1..7] {
            json_of(verify(&app, &challenged(&app, driver()).await, code).await, StatusCode::OK).await;
        }
        let eighth = json_of(verify(&app, &challenged(&app, driver()).await, &codes[7]).await, StatusCode::OK).await;
        assert_eq!((eighth["backup_codes_left"].as_i64(), eighth["backup_codes_running_out"].as_bool()), (Some(2), Some(true)));
        let fresh = json_of(app.post("/api/v1/me/backup-codes", Some(&token), json!({})).await, StatusCode::OK).await;
        let fresh: Vec<&str> = fresh["backup_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
        assert_eq!(fresh.len(), 10);
        let old = verify(&app, &challenged(&app, driver()).await, &codes[8]).await;
        assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
        json_of(verify(&app, &challenged(&app, driver()).await, fresh[0]).await, StatusCode::OK).await;
    }
}

db_test! {
    async fn the_secret_is_stored_sealed_and_never_shown_again(app: TestApp) {
        let (_, token, secret, codes) = enrolled(&app).await;
        let mut tx = app.app.store.read().await.unwrap();
        let driver = tx.user_by_username("driver").await.unwrap().unwrap();
        let stored = tx.authenticator(driver.id).await.unwrap().unwrap().secret.unwrap();
        assert!(!stored.windows(secret.len()).any(|w| w == secret.as_slice()));
        let stored_codes = tx.unused_backup_codes(driver.id).await.unwrap();
        for (_, hash) in &stored_codes {
            assert!(codes.iter().all(|c| !hash.windows(5).any(|w| w == &c.as_bytes()[..5])));
        }
        drop(tx);
        let security = app.get("/api/v1/me/security", Some(&token)).await.text().await.unwrap();
        assert!(!security.contains("otpauth") && !security.contains("secret"));
    }
}

db_test! {
    async fn replacing_or_removing_the_authenticator_needs_the_password_and_is_audited(app: TestApp) {
        let (company, token, _, _) = enrolled(&app).await;
        let again = app.post("/api/v1/me/totp", Some(&token), json!({})).await;
        assert_eq!(json_of(again, StatusCode::UNPROCESSABLE_ENTITY).await["field"], "password");
        let replaced = app.post("/api/v1/me/totp", Some(&token), json!({ "password": PASSWORD })).await;
        let new_secret = secret_of(json_of(replaced, StatusCode::CREATED).await["otpauth_uri"].as_str().unwrap());
        let code = totp_code(&new_secret, app.now(), 6);
        json_of(app.post("/api/v1/me/totp/confirm", Some(&token), json!({ "code": code })).await, StatusCode::OK).await;
        let wrong = app.send(Method::DELETE, "/api/v1/me/totp", Some(&token), Some(json!({ "password": "not-it" }))).await;
        assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let removed = app.send(Method::DELETE, "/api/v1/me/totp", Some(&token), Some(json!({ "password": PASSWORD }))).await;
        assert_eq!(removed.status(), StatusCode::NO_CONTENT);
        assert_eq!(json_of(app.login("driver", PASSWORD).await, StatusCode::OK).await["status"], "ok");
        let actions: Vec<String> = app.audit_trail(company.account).await.into_iter().map(|(a, _)| a).collect();
        assert_eq!(actions.iter().filter(|a| *a == "authenticator.enabled").count(), 2);
        assert!(actions.contains(&"authenticator.disabled".to_owned()));
    }
}

db_test! {
    async fn an_administrator_resets_the_second_factor_of_a_user_who_lost_the_phone(app: TestApp) {
        let (company, driver_token, _, _) = enrolled(&app).await;
        let admin = app.signed_in("acme-admin").await;
        let driver_id = json_of(app.get("/api/v1/session", Some(&driver_token)).await, StatusCode::OK).await["user"]["id"].clone();
        app.user(company.account, company.admin, "other").await;
        let other = app.signed_in("other").await;
        let path = format!("/api/v1/users/{driver_id}/two-factor/reset");
        assert_eq!(app.post(&path, Some(&other), json!({})).await.status(), StatusCode::FORBIDDEN);
        assert_eq!(app.post(&path, Some(&admin), json!({})).await.status(), StatusCode::NO_CONTENT);
        assert_eq!(json_of(app.login("driver", PASSWORD).await, StatusCode::OK).await["status"], "ok");
        let trail = app.audit_trail(company.account).await;
        let (_, details) = trail.iter().find(|(a, _)| a == "two_factor.reset").unwrap();
        assert_eq!(details["authenticator_removed"], true);
    }
}

db_test! {
    async fn a_trusted_device_skips_the_code_until_it_is_revoked_or_the_password_changes(app: TestApp) {
        let (company, token, secret, _) = enrolled(&app).await;
        let answer = challenged(&app, driver()).await;
        let body = json!({ "challenge": answer["challenge"], "code": totp_code(&secret, app.now(), 6), "trust_device": true });
        let signed_in = json_of(app.post("/api/v1/login/verify", None, body).await, StatusCode::OK).await;
        let device = signed_in["device_token"].as_str().unwrap().to_owned();
        let with_device = json!({ "username": "driver", "password": PASSWORD, "device_token": device });
        assert_eq!(json_of(app.post("/api/v1/login", None, with_device.clone()).await, StatusCode::OK).await["status"], "ok");
        // The device token is no password: a wrong password still fails.
        let wrong = json!({ "username": "driver", "password": "not-it", "device_token": device });
        assert_eq!(app.post("/api/v1/login", None, wrong).await.status(), StatusCode::UNAUTHORIZED);
        let devices = json_of(app.get("/api/v1/me/trusted-devices", Some(&token)).await, StatusCode::OK).await;
        let id = devices["devices"][0]["id"].clone();
        assert_eq!(devices["devices"].as_array().unwrap().len(), 1);
        let revoked = app.send(Method::DELETE, &format!("/api/v1/me/trusted-devices/{id}"), Some(&token), None).await;
        assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
        challenged(&app, with_device.clone()).await;

        app.advance(Duration::seconds(30));
        let answer = challenged(&app, driver()).await;
        let body = json!({ "challenge": answer["challenge"], "code": totp_code(&secret, app.now(), 6), "trust_device": true });
        let signed_in = json_of(app.post("/api/v1/login/verify", None, body).await, StatusCode::OK).await;
        let device = signed_in["device_token"].as_str().unwrap().to_owned();
        let new_password = "Tq5!walrus-Lantern";
        let change = json!({ "current_password": PASSWORD, "new_password": new_password, "new_password_confirmation": new_password });
        assert_eq!(app.post("/api/v1/password/change", Some(&token), change).await.status(), StatusCode::NO_CONTENT);
        let with_device = json!({ "username": "driver", "password": new_password, "device_token": device });
        challenged(&app, with_device).await;

        // A company may forbid trusting devices at all.
        let admin = app.signed_in("acme-admin").await;
        let path = format!("/api/v1/accounts/{}/two-factor-policy", company.account.0);
        let policy = json!({ "delivery": "sms_then_email", "allow_trusted_devices": false });
        json_of(app.send(Method::PUT, &path, Some(&admin), Some(policy)).await, StatusCode::OK).await;
        app.advance(Duration::seconds(30));
        let answer = challenged(&app, json!({ "username": "driver", "password": new_password })).await;
        let body = json!({ "challenge": answer["challenge"], "code": totp_code(&secret, app.now(), 6), "trust_device": true });
        let signed_in = json_of(app.post("/api/v1/login/verify", None, body).await, StatusCode::OK).await;
        assert!(signed_in.get("device_token").is_none());
    }
}

db_test! {
    async fn wrong_passwords_given_to_change_the_authenticator_lock_the_username(app: TestApp) {
        let (_, token, _, _) = enrolled(&app).await;
        for _ in 0..5 {
            let wrong = app.send(Method::DELETE, "/api/v1/me/totp", Some(&token), Some(json!({ "password": "not-it" }))).await;
            assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
        }
        let right = app.send(Method::DELETE, "/api/v1/me/totp", Some(&token), Some(json!({ "password": PASSWORD }))).await;
        assert_eq!(json_of(right, StatusCode::LOCKED).await["error"], "locked");
        assert_eq!(app.login("driver", PASSWORD).await.status(), StatusCode::LOCKED);
    }
}

db_test! {
    async fn each_app_gets_the_challenge_of_its_own_method_even_moments_apart(app: TestApp) {
        let (_, token, secret, _) = enrolled(&app).await;
        let patch = json!({ "email": "driver@fleet.example", "current_password": PASSWORD });
        json_of(app.send(Method::PATCH, "/api/v1/me/security", Some(&token), Some(patch)).await, StatusCode::OK).await;
        app.post("/api/v1/me/email/verification", Some(&token), json!({})).await;
        let code = app.smtp.wait_for(1).await.code_after("code is ");
        app.post("/api/v1/me/email/verification/confirm", Some(&token), json!({ "code": code })).await;
        let web = json!({ "method": "email", "apps": ["web"], "current_password": PASSWORD });
        json_of(app.send(Method::PUT, "/api/v1/me/two-factor", Some(&token), Some(web)).await, StatusCode::OK).await;
        let by_email = challenged(&app, driver()).await;
        assert_eq!(by_email["method"], "email");
        app.advance(Duration::seconds(5));
        let manager = challenged(&app, json!({ "username": "driver", "password": PASSWORD, "app": "manager" })).await;
        assert_eq!(manager["method"], "totp");
        json_of(verify(&app, &manager, &totp_code(&secret, app.now(), 6)).await, StatusCode::OK).await;
    }
}

db_test! {
    async fn a_sign_in_started_before_a_password_change_cannot_be_finished_after_it(app: TestApp) {
        let (_, token, secret, _) = enrolled(&app).await;
        let answer = challenged(&app, driver()).await;
        let new_password = "Tq5!walrus-Lantern";
        let change = json!({ "current_password": PASSWORD, "new_password": new_password, "new_password_confirmation": new_password });
        assert_eq!(app.post("/api/v1/password/change", Some(&token), change).await.status(), StatusCode::NO_CONTENT);
        let late = verify(&app, &answer, &totp_code(&secret, app.now(), 6)).await;
        assert_eq!(json_of(late, StatusCode::GONE).await["error"], "code_expired");
    }
}
