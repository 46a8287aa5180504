//! "Forgot your password?": the same answer for any pair, one request a minute, a link
//! read from a real SMTP server, single-use and expiring, and what a reset ends.

use portcullis::users::UserRequest;
use reqwest::StatusCode;
use serde_json::json;
use time::Duration;

use crate::{db_test, helpers::*};

async fn driver_with_email(app: &TestApp) -> Company {
    let company = app.company("acme").await;
    let driver = UserRequest {
        username: "driver".into(),
        email: Some("driver@fleet.example".into()),
        email_verified: true,
        can_change_password: true,
        ..Default::default()
    };
    app.user_from(company.account, company.admin, driver).await;
    company
}

async fn forgot(app: &TestApp, username: &str, email: &str) -> reqwest::Response {
    app.post("/api/v1/password/forgot", None, json!({ "username": username, "email": email })).await
}

/// The link in the `n`th email, as a path.
pub async fn link_in_mail(app: &TestApp, n: usize) -> String {
    let text = app.smtp.wait_for(n).await.text();
    let at = text.find("/reset/").unwrap_or_else(|| panic!("no link in {text}"));
    text[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_')).collect()
}

db_test! {
    async fn matching_and_non_matching_pairs_get_the_same_answer_and_only_a_match_gets_mail(app: TestApp) {
        driver_with_email(&app).await;
        let unknown = forgot(&app, "nobody", "driver@fleet.example").await;
        let wrong_email = forgot(&app, "acme-admin", "driver@fleet.example").await;
        let right = forgot(&app, "driver", "Driver@Fleet.example").await;
        for answer in [unknown, wrong_email, right] {
            assert_eq!(answer.status(), StatusCode::ACCEPTED);
            assert_eq!(answer.text().await.unwrap(), "");
        }
        let mail = app.smtp.wait_for(1).await;
        assert_eq!(mail.to, ["driver@fleet.example"]);
        assert!(mail.data.contains("Subject: Reset your password"));
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(app.smtp.mails().len(), 1);
    }
}

db_test! {
    async fn a_reset_may_be_asked_for_once_a_minute_per_username_even_an_unknown_one(app: TestApp) {
        driver_with_email(&app).await;
        assert_eq!(forgot(&app, "driver", "driver@fleet.example").await.status(), StatusCode::ACCEPTED);
        app.advance(Duration::seconds(20));
        let soon = forgot(&app, "driver", "other@fleet.example").await;
        assert_eq!(soon.headers()["retry-after"], "40");
        assert_eq!(json_of(soon, StatusCode::TOO_MANY_REQUESTS).await["error"], "too_soon");
        assert_eq!(forgot(&app, "nobody", "x@fleet.example").await.status(), StatusCode::ACCEPTED);
        assert_eq!(forgot(&app, "nobody", "x@fleet.example").await.status(), StatusCode::TOO_MANY_REQUESTS);
        app.advance(Duration::seconds(40));
        assert_eq!(forgot(&app, "driver", "driver@fleet.example").await.status(), StatusCode::ACCEPTED);
    }
}

db_test! {
    async fn the_old_password_works_until_the_link_is_used_once_and_the_reset_ends_every_session(app: TestApp) {
        let company = driver_with_email(&app).await;
        let session = app.signed_in("driver").await;
        forgot(&app, "driver", "driver@fleet.example").await;
        let link = link_in_mail(&app, 1).await;
        assert_eq!(app.login("driver", PASSWORD).await.status(), StatusCode::OK, "ignoring the mail changes nothing");
        let page = app.get(&link, None).await;
        assert_eq!(page.status(), StatusCode::OK, "opening the link alone changes nothing");
        assert_eq!(app.login("driver", PASSWORD).await.status(), StatusCode::OK);
        let (status, page) = follow(&app.url(""), &link).await;
        assert_eq!(status, StatusCode::OK);
        let password = new_password(&page);
        assert_eq!(password.len(), 16);
        assert_eq!(app.login("driver", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(app.get("/api/v1/session", Some(&session)).await.status(), StatusCode::UNAUTHORIZED);
        let signed_in = json_of(app.login("driver", &password).await, StatusCode::OK).await;
        assert!(signed_in["pending"].as_array().unwrap().contains(&json!("change_password")));
        let (again, page) = follow(&app.url(""), &link).await;
        assert_eq!(again, StatusCode::GONE);
        assert!(page.contains("used already"));
        let trail = app.audit_trail(company.account).await;
        assert_eq!(trail.iter().filter(|(a, _)| a == "password.reset_requested").count(), 1);
        let (_, reset) = trail.iter().find(|(a, _)| a == "password.reset").unwrap();
        assert_eq!(reset["sessions_ended"], 3);
    }
}

db_test! {
    async fn a_link_expires_after_a_day_and_a_newer_request_voids_the_older_link(app: TestApp) {
        driver_with_email(&app).await;
        forgot(&app, "driver", "driver@fleet.example").await;
        let first = link_in_mail(&app, 1).await;
        app.outbox_settled().await;
        app.advance(Duration::minutes(1));
        forgot(&app, "driver", "driver@fleet.example").await;
        let second = link_in_mail(&app, 2).await;
        let (status, page) = follow(&app.url(""), &first).await;
        assert_eq!(status, StatusCode::GONE);
        assert!(page.contains("expired or a newer one replaced it"));
        app.advance(Duration::hours(24));
        assert_eq!(follow(&app.url(""), &second).await.0, StatusCode::GONE);
        assert_eq!(follow(&app.url(""), "/reset/not-a-token").await.0, StatusCode::GONE);
        assert_eq!(app.login("driver", PASSWORD).await.status(), StatusCode::OK);
    }
}
