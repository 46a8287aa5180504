//! The second factor at sign-in: codes by SMS and email, the fallback from SMS to email,
//! resending, wrong codes, the company policy and each user's own setting.

use portcullis::users::UserRequest;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::Duration;

use crate::{db_test, helpers::*};

const MARKER: &str = "code is ";

/// Signs in with the right password, expecting a challenge.
async fn challenged(app: &TestApp, username: &str) -> Value {
    let answer = json_of(app.login(username, PASSWORD).await, StatusCode::OK).await;
    assert_eq!(answer["status"], "second_factor", "{answer}");
    answer
}

async fn verify(app: &TestApp, challenge: &Value, code: &str) -> reqwest::Response {
    app.post("/api/v1/login/verify", None, json!({ "challenge": challenge["challenge"], "code": code })).await
}

db_test! {
    async fn an_sms_user_signs_in_with_the_code_sent_by_sms_which_takes_one_from_the_quota(app: TestApp) {
        let company = app.sms_driver(Some(10)).await;
        let answer = challenged(&app, "driver").await;
        assert_eq!(answer["method"], "sms");
        assert_eq!(answer["channel"], "sms");
        assert_eq!(answer["destination"], "+35*******78");
        assert_eq!(answer["channels"], json!(["sms", "email"]));
        assert_eq!(answer["expires_at"], "2030-03-01T09:05:00Z");
        assert_eq!(answer["resend_at"], "2030-03-01T09:00:30Z");
        assert!(answer.get("token").is_none() && answer.get("fallback").is_none());
        let sms = app.sms.wait_for(1).await;
        assert_eq!(sms.to, "+35312345678");
        assert_eq!(app.sms_quota(company.account).await, 9);
        let signed_in = json_of(verify(&app, &answer, &sms.code()).await, StatusCode::OK).await;
        assert_eq!(signed_in["status"], "ok");
        let token = signed_in["token"].as_str().unwrap();
        let session = json_of(app.get("/api/v1/session", Some(token)).await, StatusCode::OK).await;
        assert_eq!(session["user"]["username"], "driver");
        let replayed = verify(&app, &answer, &sms.code()).await;
        assert_eq!(json_of(replayed, StatusCode::GONE).await["error"], "code_expired");
        let trail = app.audit_trail(company.account).await;
        assert!(trail.iter().any(|(a, d)| a == "second_factor.passed" && d["by"] == "sms"));
    }
}

db_test! {
    async fn when_the_sms_quota_is_used_up_the_code_goes_by_email_in_the_same_request(app: TestApp) {
        let company = app.sms_driver(Some(1)).await;
        let first = challenged(&app, "driver").await;
        assert_eq!(first["channel"], "sms");
        json_of(verify(&app, &first, &app.sms.wait_for(1).await.code()).await, StatusCode::OK).await;
        assert_eq!(app.sms_quota(company.account).await, 0);
        app.outbox_settled().await;
        app.advance(Duration::minutes(1));
        let second = challenged(&app, "driver").await;
        assert_eq!(second["channel"], "email");
        assert_eq!(second["fallback"], "quota_used_up");
        assert_eq!(second["destination"], "d*****@fleet.example");
        let mail = app.smtp.wait_for(1).await;
        assert_eq!(mail.to, ["driver@fleet.example"]);
        assert!(mail.data.contains("Subject: Your sign-in code"), "{}", mail.data);
        json_of(verify(&app, &second, &mail.code_after(MARKER)).await, StatusCode::OK).await;
        assert_eq!(app.sms.sent().len(), 1);
    }
}

db_test! {
    async fn a_gateway_that_refuses_turns_the_sms_into_an_email_and_gives_the_quota_back(app: TestApp) {
        let company = app.sms_driver(Some(5)).await;
        app.sms.refuse(true);
        let answer = challenged(&app, "driver").await;
        assert_eq!(answer["channel"], "email");
        assert_eq!(answer["fallback"], "gateway_failed");
        assert_eq!(app.sms_quota(company.account).await, 5);
        let code = app.smtp.wait_for(1).await.code_after(MARKER);
        json_of(verify(&app, &answer, &code).await, StatusCode::OK).await;
    }
}

db_test! {
    async fn every_reason_an_sms_cannot_be_sent_sends_the_code_by_email(app: TestApp) {
        let company = app.sms_driver(Some(5)).await;
        let cases = [
            ("UPDATE users SET can_send_sms = FALSE WHERE username = 'driver'", "sms_not_allowed"),
            ("UPDATE users SET phone_verified = FALSE WHERE username = 'driver'", "phone_not_confirmed"),
            ("UPDATE accounts SET sms_enabled = FALSE WHERE name = 'acme'", "sms_service_off"),
            ("UPDATE two_factor_policies SET delivery = 'email_only'", "email_only_policy"),
        ];
        let admin = app.signed_in("acme-admin").await;
        let path = format!("/api/v1/accounts/{}/two-factor-policy", company.account.0);
        let policy = json!({ "delivery": "sms_then_email" });
        json_of(app.send(Method::PUT, &path, Some(&admin), Some(policy)).await, StatusCode::OK).await;
        let reset = "UPDATE users SET can_send_sms = TRUE, phone_verified = TRUE WHERE username = 'driver'";
        for (n, (sql, reason)) in cases.into_iter().enumerate() {
            app.raw_sql(reset).await;
            app.raw_sql("UPDATE accounts SET sms_enabled = TRUE WHERE name = 'acme'").await;
            app.raw_sql(sql).await;
            app.advance(Duration::minutes(1));
            let answer = challenged(&app, "driver").await;
            assert_eq!((answer["channel"].as_str(), answer["fallback"].as_str()), (Some("email"), Some(reason)));
            let code = app.smtp.wait_for(n + 1).await.code_after(MARKER);
            json_of(verify(&app, &answer, &code).await, StatusCode::OK).await;
            // Recorded as sent before the clock moves on, or its claim would run out.
            app.outbox_settled().await;
        }
        assert!(app.sms.sent().is_empty());
        assert_eq!(app.sms_quota(company.account).await, 5);
    }
}

db_test! {
    async fn a_new_code_waits_thirty_seconds_voids_the_old_one_and_may_go_by_email(app: TestApp) {
        app.sms_driver(Some(10)).await;
        let answer = challenged(&app, "driver").await;
        let old = app.sms.wait_for(1).await.code();
        let body = json!({ "challenge": answer["challenge"], "channel": "email" });
        app.advance(Duration::seconds(20));
        let soon = app.post("/api/v1/login/resend", None, body.clone()).await;
        assert_eq!(soon.headers()["retry-after"], "10");
        assert_eq!(json_of(soon, StatusCode::TOO_MANY_REQUESTS).await["retry_after"], 10);
        app.advance(Duration::seconds(10));
        let resent = json_of(app.post("/api/v1/login/resend", None, body).await, StatusCode::OK).await;
        assert_eq!(resent["channel"], "email");
        assert_eq!(resent["resend_at"], "2030-03-01T09:01:00Z");
        let new = app.smtp.wait_for(1).await.code_after(MARKER);
        if new != old {
            assert_eq!(verify(&app, &answer, &old).await.status(), StatusCode::UNAUTHORIZED);
        }
        json_of(verify(&app, &answer, &new).await, StatusCode::OK).await;
    }
}

db_test! {
    async fn an_expired_code_answers_410_and_a_new_one_still_signs_in(app: TestApp) {
        app.sms_driver(Some(10)).await;
        let answer = challenged(&app, "driver").await;
        let code = app.sms.wait_for(1).await.code();
        app.outbox_settled().await;
        app.advance(Duration::minutes(5));
        assert_eq!(json_of(verify(&app, &answer, &code).await, StatusCode::GONE).await["error"], "code_expired");
        let resend = json!({ "challenge": answer["challenge"] });
        let resent = json_of(app.post("/api/v1/login/resend", None, resend).await, StatusCode::OK).await;
        assert_eq!(resent["channel"], "sms");
        let code = app.sms.wait_for(2).await.code();
        json_of(verify(&app, &answer, &code).await, StatusCode::OK).await;
    }
}

db_test! {
    async fn signing_in_again_within_thirty_seconds_sends_no_second_code(app: TestApp) {
        let company = app.sms_driver(Some(10)).await;
        let first = challenged(&app, "driver").await;
        let code = app.sms.wait_for(1).await.code();
        app.advance(Duration::seconds(5));
        let second = challenged(&app, "driver").await;
        assert_eq!(second["resend_at"], first["resend_at"]);
        assert_eq!(app.sms_quota(company.account).await, 9);
        assert_eq!(verify(&app, &first, &code).await.status(), StatusCode::GONE);
        json_of(verify(&app, &second, &code).await, StatusCode::OK).await;
        assert_eq!(app.sms.sent().len(), 1);
    }
}

db_test! {
    async fn the_third_wrong_code_names_the_contact_person_and_the_fifth_locks_the_user_for_fifteen_minutes(app: TestApp) {
        let company = app.sms_driver(Some(10)).await;
        let admin = app.signed_in("acme-admin").await;
        let path = format!("/api/v1/accounts/{}/two-factor-policy", company.account.0);
        let contact = json!({ "name": "Ops desk", "phone": "+35387000000", "email": "ops@fleet.example" });
        let policy = json!({ "delivery": "sms_then_email", "contact": contact });
        json_of(app.send(Method::PUT, &path, Some(&admin), Some(policy)).await, StatusCode::OK).await;
        let answer = challenged(&app, "driver").await;
        let code = app.sms.wait_for(1).await.code();
        for attempts_left in [4, 3] {
            let failed = json_of(verify(&app, &answer, wrong_code(&code)).await, StatusCode::UNAUTHORIZED).await;
            assert_eq!(failed["attempts_left"], attempts_left);
            assert!(failed.get("contact").is_none());
        }
        let third = json_of(verify(&app, &answer, wrong_code(&code)).await, StatusCode::UNAUTHORIZED).await;
        assert_eq!(third["attempts_left"], 2);
        assert_eq!(third["contact"], contact);
        let trail = app.audit_trail(company.account).await;
        assert_eq!(trail.iter().filter(|(a, _)| a == "second_factor.failed_3_times").count(), 1);
        let fourth = json_of(verify(&app, &answer, wrong_code(&code)).await, StatusCode::UNAUTHORIZED).await;
        assert_eq!((fourth["attempts_left"].as_i64(), &fourth["contact"]), (Some(1), &contact));
        let fifth = json_of(verify(&app, &answer, wrong_code(&code)).await, StatusCode::LOCKED).await;
        assert_eq!(fifth["retry_after"], 900);
        assert_eq!(verify(&app, &answer, &code).await.status(), StatusCode::GONE);
        // The right password cannot start another attempt until the lock ends.
        assert_eq!(app.login("driver", PASSWORD).await.status(), StatusCode::LOCKED);
        app.advance(Duration::minutes(15));
        let again = challenged(&app, "driver").await;
        let code = app.sms.wait_for(2).await.code();
        json_of(verify(&app, &again, &code).await, StatusCode::OK).await;
        let trail = app.audit_trail(company.account).await;
        assert!(trail.iter().any(|(a, d)| a == "user.locked" && d["scope"] == "code"));
        let wrong_codes = trail.iter().filter(|(a, d)| a == "sign_in.failed" && d["result"] == "wrong_code");
        assert_eq!(wrong_codes.count(), 5);
    }
}

db_test! {
    async fn wrong_passwords_and_wrong_codes_are_counted_apart(app: TestApp) {
        app.sms_driver(Some(10)).await;
        for _ in 0..4 {
            assert_eq!(app.login("driver", "not-the-password").await.status(), StatusCode::UNAUTHORIZED);
        }
        let answer = challenged(&app, "driver").await;
        let code = app.sms.wait_for(1).await.code();
        for _ in 0..4 {
            assert_eq!(verify(&app, &answer, wrong_code(&code)).await.status(), StatusCode::UNAUTHORIZED);
        }
        assert_eq!(app.login("driver", "not-the-password").await.status(), StatusCode::UNAUTHORIZED);
        json_of(verify(&app, &answer, &code).await, StatusCode::OK).await;
    }
}

db_test! {
    async fn a_code_by_email_survives_a_mail_server_that_is_down_and_a_restart(app: TestApp) {
        let mut app = app;
        let company = app.company("acme").await;
        let driver = UserRequest {
            username: "driver".into(),
            email: Some("driver@fleet.example".into()),
            email_verified: true,
            ..Default::default()
        };
        app.user_from(company.account, company.admin, driver).await;
        let token = app.signed_in("driver").await;
        let body = json!({ "method": "email", "apps": ["manager"] });
        let on = app.send(Method::PUT, "/api/v1/me/two-factor", Some(&token), Some(body)).await;
        assert_eq!(json_of(on, StatusCode::OK).await, json!({ "web": null, "manager": "email" }));
        app.smtp.stop();
        let login = json!({ "username": "driver", "password": PASSWORD, "app": "manager" });
        let answer = json_of(app.post("/api/v1/login", None, login).await, StatusCode::OK).await;
        assert_eq!((answer["method"].as_str(), answer["channels"].clone()), (Some("email"), json!(["email"])));
        app.stop_server();
        app.smtp.restart().await;
        let restarted = app.another_instance().await;
        // The failed try is due again after its back-off.
        restarted.advance(Duration::seconds(30));
        let code = restarted.smtp.wait_for(1).await.code_after(MARKER);
        json_of(verify(&restarted, &answer, &code).await, StatusCode::OK).await;
        // The web app still needs only the password.
        assert_eq!(json_of(restarted.login("driver", PASSWORD).await, StatusCode::OK).await["status"], "ok");
    }
}

db_test! {
    async fn turning_a_second_factor_on_needs_a_confirmed_address_and_every_change_is_audited(app: TestApp) {
        let company = app.company("acme").await;
        let driver = UserRequest { username: "driver".into(), email: Some("driver@fleet.example".into()), ..Default::default() };
        app.user_from(company.account, company.admin, driver).await;
        let token = app.signed_in("driver").await;
        let put = |body: Value| app.send(Method::PUT, "/api/v1/me/two-factor", Some(&token), Some(body));
        let refused = json_of(put(json!({ "method": "email" })).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(refused["field"], "method");
        assert_eq!(put(json!({ "method": "sms" })).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
        app.post("/api/v1/me/email/verification", Some(&token), json!({})).await;
        let code = app.smtp.wait_for(1).await.code_after(MARKER);
        app.post("/api/v1/me/email/verification/confirm", Some(&token), json!({ "code": code })).await;
        let on = put(json!({ "method": "email", "apps": ["web"] })).await;
        assert_eq!(json_of(on, StatusCode::OK).await, json!({ "web": "email", "manager": null }));
        let security = json_of(app.get("/api/v1/me/security", Some(&token)).await, StatusCode::OK).await;
        assert_eq!(security["two_factor"], json!({ "web": "email", "manager": null }));
        assert_eq!(security["email_verified"], true);
        assert_eq!(security["code_delivery"], "sms_then_email");
        let off = put(json!({ "method": "none", "current_password": PASSWORD })).await;
        assert_eq!(json_of(off, StatusCode::OK).await, json!({ "web": null, "manager": null }));
        let changes: Vec<_> = app
            .audit_trail(company.account)
            .await
            .into_iter()
            .filter(|(a, _)| a == "two_factor.changed")
            .map(|(_, d)| (d["app"].clone(), d["method"].clone(), d["before"].clone()))
            .collect();
        assert_eq!(changes, [
            (json!("web"), json!("email"), json!(null)),
            (json!("web"), json!(null), json!("email")),
        ]);
    }
}

db_test! {
    async fn a_new_address_on_the_security_settings_needs_the_password_and_must_be_confirmed_again(app: TestApp) {
        let company = app.company("acme").await;
        app.driver_with_confirmed_email(&company).await;
        let token = app.signed_in("driver").await;
        let patch = json!({ "email": "new@fleet.example", "phone": "+353 1 234 5678", "language": "es" });
        let without = app.send(Method::PATCH, "/api/v1/me/security", Some(&token), Some(patch.clone())).await;
        assert_eq!(json_of(without, StatusCode::UNPROCESSABLE_ENTITY).await["field"], "current_password");
        let mut wrong = patch.clone();
        wrong["current_password"] = json!("not-the-password");
        let wrong = app.send(Method::PATCH, "/api/v1/me/security", Some(&token), Some(wrong)).await;
        assert_eq!(json_of(wrong, StatusCode::UNPROCESSABLE_ENTITY).await["field"], "current_password");
        let mut patch = patch;
        patch["current_password"] = json!(PASSWORD);
        let changed = app.send(Method::PATCH, "/api/v1/me/security", Some(&token), Some(patch)).await;
        let changed = json_of(changed, StatusCode::OK).await;
        assert_eq!((changed["email"].as_str(), changed["email_verified"].as_bool()), (Some("new@fleet.example"), Some(false)));
        assert_eq!(changed["phone"], "+35312345678");
        assert_eq!(changed["language"], "es");
        let bad = app.send(Method::PATCH, "/api/v1/me/security", Some(&token), Some(json!({ "phone": "12" }))).await;
        assert_eq!(json_of(bad, StatusCode::UNPROCESSABLE_ENTITY).await["field"], "phone");
    }
}

db_test! {
    async fn the_policy_is_read_by_administrators_and_changed_only_by_the_company_s_own_top_users(app: TestApp) {
        let company = app.company("acme").await;
        let admin = app.signed_in("acme-admin").await;
        app.user(company.account, company.admin, "driver").await;
        let driver = app.signed_in("driver").await;
        let path = format!("/api/v1/accounts/{}/two-factor-policy", company.account.0);
        let default = json_of(app.get(&path, Some(&admin)).await, StatusCode::OK).await;
        assert_eq!(default, json!({
            "delivery": "sms_then_email",
            "contact": { "name": "", "phone": "", "email": "" },
            "defaults": { "web": false, "manager": false },
            "allow_trusted_devices": true,
            "require_passkey": { "web": "nobody", "manager": "nobody" },
        }));
        assert_eq!(app.get(&path, Some(&driver)).await.status(), StatusCode::FORBIDDEN);
        let policy = json!({ "delivery": "email_only", "contact": { "name": "Ops" }, "defaults": { "web": true, "manager": false } });
        let put = app.send(Method::PUT, &path, Some(&driver), Some(policy.clone())).await;
        assert_eq!(put.status(), StatusCode::FORBIDDEN);
        let bad = json!({ "delivery": "email_only", "contact": { "email": "nope" } });
        let bad = app.send(Method::PUT, &path, Some(&admin), Some(bad)).await;
        assert_eq!(json_of(bad, StatusCode::UNPROCESSABLE_ENTITY).await["field"], "contact.email");
        let saved = json_of(app.send(Method::PUT, &path, Some(&admin), Some(policy)).await, StatusCode::OK).await;
        assert_eq!(saved["contact"]["name"], "Ops");
        assert_eq!(json_of(app.get(&path, Some(&admin)).await, StatusCode::OK).await, saved);
        let (_, details) = app.audit_trail(company.account).await.into_iter().rfind(|(a, _)| a == "two_factor_policy.changed").unwrap();
        assert_eq!(details["after"], json!({ "delivery": "email_only", "contact.name": "Ops", "defaults.web": true }));
        // A top user of a parent account may read the child's policy but not change it.
        let child = json!({ "name": "acme-east", "admin": { "username": "east-admin", "password": PASSWORD } });
        let child = json_of(app.post("/api/v1/accounts", Some(&admin), child).await, StatusCode::CREATED).await;
        let child_path = format!("/api/v1/accounts/{}/two-factor-policy", child["account"]["id"]);
        assert_eq!(app.get(&child_path, Some(&admin)).await.status(), StatusCode::OK);
        let put = app.send(Method::PUT, &child_path, Some(&admin), Some(json!({ "delivery": "email_only" }))).await;
        assert_eq!(put.status(), StatusCode::FORBIDDEN);
    }
}

db_test! {
    async fn new_users_start_with_the_second_factor_the_company_defaults_say(app: TestApp) {
        let company = app.company("acme").await;
        let admin = app.signed_in("acme-admin").await;
        let path = format!("/api/v1/accounts/{}/two-factor-policy", company.account.0);
        let policy = json!({ "delivery": "email_only", "defaults": { "web": true, "manager": false } });
        json_of(app.send(Method::PUT, &path, Some(&admin), Some(policy)).await, StatusCode::OK).await;
        let new = json!({ "username": "driver", "password": PASSWORD, "email": "driver@fleet.example", "email_verified": true, "must_change_password": false });
        json_of(app.post("/api/v1/users", Some(&admin), new).await, StatusCode::CREATED).await;
        let answer = challenged(&app, "driver").await;
        assert_eq!((answer["method"].as_str(), answer["channel"].as_str()), (Some("email"), Some("email")));
        let code = app.smtp.wait_for(1).await.code_after(MARKER);
        json_of(verify(&app, &answer, &code).await, StatusCode::OK).await;
        let manager = json!({ "username": "driver", "password": PASSWORD, "app": "manager" });
        assert_eq!(json_of(app.post("/api/v1/login", None, manager).await, StatusCode::OK).await["status"], "ok");
        // Users who were there before keep what they had.
        assert_eq!(json_of(app.login("acme-admin", PASSWORD).await, StatusCode::OK).await["status"], "ok");
    }
}

db_test! {
    async fn a_user_with_no_address_for_a_code_is_told_to_ask_the_administrator(app: TestApp) {
        let company = app.company("acme").await;
        let admin = app.signed_in("acme-admin").await;
        let path = format!("/api/v1/accounts/{}/two-factor-policy", company.account.0);
        let policy = json!({ "delivery": "sms_then_email", "defaults": { "web": true, "manager": true } });
        json_of(app.send(Method::PUT, &path, Some(&admin), Some(policy)).await, StatusCode::OK).await;
        app.user(company.account, company.admin, "driver").await;
        let refused = json_of(app.login("driver", PASSWORD).await, StatusCode::FORBIDDEN).await;
        assert_eq!(refused["error"], "second_factor_unavailable");
        // A wrong password still gets the same answer as for anyone.
        let wrong = json_of(app.login("driver", "not-the-password").await, StatusCode::UNAUTHORIZED).await;
        assert_eq!(wrong["error"], "invalid_credentials");
    }
}
