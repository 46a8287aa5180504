use reqwest::{Method, StatusCode};
use serde_json::json;
use time::Duration;

use crate::{db_test, helpers::*};

const MARKER: &str = "code is ";

/// A company whose user `driver` has an unconfirmed address; returns the driver's token.
async fn driver_with_email(app: &TestApp) -> String {
    let company = app.company("acme").await;
    let driver = app.user(company.account, company.admin, "driver").await;
    let admin = app.signed_in("acme-admin").await;
    let patch = json!({ "email": "driver@fleet.example" });
    let path = format!("/api/v1/users/{}", driver.0);
    json_of(app.send(Method::PATCH, &path, Some(&admin), Some(patch)).await, StatusCode::OK).await;
    app.signed_in("driver").await
}

async fn email_verified(app: &TestApp) -> bool {
    let mut tx = app.app.store.read().await.unwrap();
    tx.user_by_username("driver").await.unwrap().unwrap().email_verified
}

db_test! {
    async fn a_code_sent_over_smtp_confirms_the_email_address(app: TestApp) {
        let token = driver_with_email(&app).await;
        let sent = app.post("/api/v1/me/email/verification", Some(&token), json!({})).await;
        let sent = json_of(sent, StatusCode::ACCEPTED).await;
        assert_eq!(sent["destination"], "d*****@fleet.example");
        let mail = app.smtp.wait_for(1).await;
        assert_eq!(mail.to, ["driver@fleet.example"]);
        assert!(mail.data.contains("Subject: Confirm your email address"), "{}", mail.data);
        let code = mail.code_after(MARKER);
        assert!(!email_verified(&app).await);
        let confirmed = app.post("/api/v1/me/email/verification/confirm", Some(&token), json!({ "code": code })).await;
        assert_eq!(json_of(confirmed, StatusCode::OK).await["verified"], true);
        assert!(email_verified(&app).await);
        let again = app.post("/api/v1/me/email/verification/confirm", Some(&token), json!({ "code": code })).await;
        assert_eq!(json_of(again, StatusCode::GONE).await["error"], "code_expired");
    }
}

db_test! {
    async fn a_wrong_code_counts_down_and_a_code_expires_after_five_minutes(app: TestApp) {
        let token = driver_with_email(&app).await;
        app.post("/api/v1/me/email/verification", Some(&token), json!({})).await;
        let code = app.smtp.wait_for(1).await.code_after(MARKER);
        app.outbox_settled().await;
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let answer = app.post("/api/v1/me/email/verification/confirm", Some(&token), json!({ "code": wrong })).await;
        let answer = json_of(answer, StatusCode::UNAUTHORIZED).await;
        assert_eq!(answer["error"], "invalid_code");
        assert_eq!(answer["attempts_left"], 4);
        app.advance(Duration::minutes(4));
        assert_eq!(app.get("/api/v1/session", Some(&token)).await.status(), StatusCode::OK);
        app.advance(Duration::minutes(1));
        let late = app.post("/api/v1/me/email/verification/confirm", Some(&token), json!({ "code": code })).await;
        assert_eq!(json_of(late, StatusCode::GONE).await["error"], "code_expired");
        assert!(!email_verified(&app).await);
    }
}

db_test! {
    async fn a_new_code_waits_thirty_seconds_and_voids_the_old_one(app: TestApp) {
        let token = driver_with_email(&app).await;
        app.post("/api/v1/me/email/verification", Some(&token), json!({})).await;
        let first = app.smtp.wait_for(1).await.code_after(MARKER);
        app.advance(Duration::seconds(10));
        let soon = app.post("/api/v1/me/email/verification", Some(&token), json!({})).await;
        assert_eq!(soon.headers()["retry-after"], "20");
        assert_eq!(json_of(soon, StatusCode::TOO_MANY_REQUESTS).await["error"], "too_soon");
        app.advance(Duration::seconds(20));
        json_of(app.post("/api/v1/me/email/verification", Some(&token), json!({})).await, StatusCode::ACCEPTED).await;
        let second = app.smtp.wait_for(2).await.code_after(MARKER);
        if first != second {
            let old = app.post("/api/v1/me/email/verification/confirm", Some(&token), json!({ "code": first })).await;
            assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
        }
        let new = app.post("/api/v1/me/email/verification/confirm", Some(&token), json!({ "code": second })).await;
        assert_eq!(new.status(), StatusCode::OK);
    }
}

db_test! {
    async fn an_email_queued_while_the_mail_server_is_down_arrives_after_it_and_the_app_restart(app: TestApp) {
        let mut app = app;
        let token = driver_with_email(&app).await;
        app.smtp.stop();
        json_of(app.post("/api/v1/me/email/verification", Some(&token), json!({})).await, StatusCode::ACCEPTED).await;
        app.outbox_tried().await;
        assert_eq!(app.outbox_attempts().await, [1]);
        assert!(app.smtp.mails().is_empty());
        app.stop_server();
        app.smtp.restart().await;
        let restarted = app.another_instance().await;
        restarted.advance(Duration::seconds(30));
        let code = restarted.smtp.wait_for(1).await.code_after(MARKER);
        let confirmed = restarted.post("/api/v1/me/email/verification/confirm", Some(&token), json!({ "code": code })).await;
        assert_eq!(confirmed.status(), StatusCode::OK);
        assert_eq!(restarted.outbox_attempts().await, [2]);
    }
}

db_test! {
    async fn the_outbox_keeps_codes_encrypted(app: TestApp) {
        let token = driver_with_email(&app).await;
        app.post("/api/v1/me/email/verification", Some(&token), json!({})).await;
        let code = app.smtp.wait_for(1).await.code_after(MARKER);
        let payloads = app.outbox_payloads().await;
        assert_eq!(payloads.len(), 1);
        assert!(!payloads[0].windows(6).any(|w| w == code.as_bytes()));
        let contains = |needle: &[u8]| payloads[0].windows(needle.len()).any(|w| w == needle);
        assert!(!contains(b"subject") && !contains(b"driver@fleet.example"));
    }
}

/// The driver of `driver_with_email` with a phone and the right to receive SMS, in an
/// account whose `sms` service has `quota` messages.
async fn driver_with_phone(app: &TestApp, quota: i64) -> String {
    let token = driver_with_email(app).await;
    let admin = app.signed_in("acme-admin").await;
    let patch = json!({ "phone": "+35312345678", "can_send_sms": true });
    json_of(app.send(Method::PATCH, "/api/v1/users/2", Some(&admin), Some(patch)).await, StatusCode::OK)
        .await;
    app.raw_sql(&format!("UPDATE accounts SET sms_enabled = TRUE, sms_quota = {quota}")).await;
    token
}

async fn sms_quota(app: &TestApp) -> i64 {
    let mut tx = app.app.store.read().await.unwrap();
    tx.account_by_name("acme").await.unwrap().unwrap().sms_quota
}

db_test! {
    async fn a_phone_is_confirmed_by_an_sms_code_that_takes_one_from_the_quota(app: TestApp) {
        let token = driver_with_phone(&app, 2).await;
        let sent = app.post("/api/v1/me/phone/verification", Some(&token), json!({})).await;
        let sent = json_of(sent, StatusCode::ACCEPTED).await;
        assert_eq!(sent["channel"], "sms");
        assert_eq!(sent["destination"], "+35*******78");
        let sms = app.sms.wait_for(1).await;
        assert_eq!(sms.to, "+35312345678");
        let code: String = sms.text[sms.text.find(MARKER).unwrap() + MARKER.len()..].chars().take(6).collect();
        let confirmed = app.post("/api/v1/me/phone/verification/confirm", Some(&token), json!({ "code": code })).await;
        assert_eq!(confirmed.status(), StatusCode::OK);
        let mut tx = app.app.store.read().await.unwrap();
        assert!(tx.user_by_username("driver").await.unwrap().unwrap().phone_verified);
        drop(tx);
        assert_eq!(sms_quota(&app).await, 1);
    }
}

db_test! {
    async fn no_sms_goes_out_without_quota_or_the_right_and_the_answer_says_why(app: TestApp) {
        let token = driver_with_phone(&app, 0).await;
        let refused = app.post("/api/v1/me/phone/verification", Some(&token), json!({})).await;
        let refused = json_of(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(refused["error"], "sms_unavailable");
        assert!(refused["reason"].as_str().unwrap().contains("quota"));
        app.raw_sql("UPDATE accounts SET sms_quota = 5").await;
        app.raw_sql("UPDATE users SET can_send_sms = FALSE WHERE username = 'driver'").await;
        let refused = app.post("/api/v1/me/phone/verification", Some(&token), json!({})).await;
        let refused = json_of(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(refused["reason"].as_str().unwrap().contains("may not receive"));
        assert_eq!(sms_quota(&app).await, 5);
        assert!(app.sms.sent().is_empty());
    }
}

db_test! {
    async fn an_sms_the_gateway_refuses_is_tried_again_later(app: TestApp) {
        let token = driver_with_phone(&app, 2).await;
        app.sms.refuse(true);
        json_of(app.post("/api/v1/me/phone/verification", Some(&token), json!({})).await, StatusCode::ACCEPTED).await;
        let mut tries = 0;
        while app.outbox_attempts().await.last() != Some(&1) {
            tries += 1;
            assert!(tries < 100, "the worker never tried");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(app.sms.sent().is_empty());
    }
}
