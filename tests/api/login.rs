use portcullis::{lifecycle, rights::Actor, store::TermsChanges};
use reqwest::StatusCode;
use serde_json::json;
use time::Duration;

use crate::{db_test, helpers::*};

db_test! {
    async fn the_right_password_opens_a_session_that_the_session_check_recognises(app: TestApp) {
        let company = app.company("acme").await;
        let body = json_of(app.login("acme-admin", PASSWORD).await, StatusCode::OK).await;
        assert_eq!(body["status"], "ok");
        assert_eq!(body["session"]["user"]["username"], "acme-admin");
        let token = body["token"].as_str().unwrap();
        assert_eq!(token.len(), 43);
        let session = json_of(app.get("/api/v1/session", Some(token)).await, StatusCode::OK).await;
        assert_eq!(session["user"]["id"], company.admin.0);
        assert_eq!(session["account"]["name"], "acme");
        assert_eq!(session["app"], "web");
        assert!(session["acting_as"].is_null() && session["impersonator"].is_null());
    }
}

db_test! {
    async fn a_wrong_password_and_an_unknown_user_get_the_same_answer(app: TestApp) {
        app.company("acme").await;
        let wrong = json_of(app.login("acme-admin", "not-the-password").await, StatusCode::UNAUTHORIZED).await;
        let unknown = json_of(app.login("nobody-here", "not-the-password").await, StatusCode::UNAUTHORIZED).await;
        assert_eq!(wrong, unknown);
        assert_eq!(wrong["error"], "invalid_credentials");
    }
}

db_test! {
    async fn usernames_are_case_sensitive(app: TestApp) {
        app.company("acme").await;
        assert_eq!(app.login("ACME-admin", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    }
}

db_test! {
    async fn five_wrong_passwords_lock_the_username_even_against_the_right_one(app: TestApp) {
        app.company("acme").await;
        for _ in 0..5 {
            assert_eq!(app.login("acme-admin", "wrong-password").await.status(), StatusCode::UNAUTHORIZED);
        }
        let response = app.login("acme-admin", PASSWORD).await;
        assert_eq!(response.headers()["retry-after"], "900");
        let body = json_of(response, StatusCode::LOCKED).await;
        assert_eq!(body["error"], "locked");
        assert_eq!(body["retry_after"], 900);
    }
}

db_test! {
    async fn a_lock_ends_after_its_time_and_the_next_one_lasts_twice_as_long(app: TestApp) {
        app.company("acme").await;
        for _ in 0..5 {
            app.login("acme-admin", "wrong-password").await;
        }
        app.advance(Duration::minutes(15));
        assert_eq!(app.login("acme-admin", "wrong-password").await.status(), StatusCode::UNAUTHORIZED);
        for _ in 0..4 {
            app.login("acme-admin", "wrong-password").await;
        }
        let body = json_of(app.login("acme-admin", PASSWORD).await, StatusCode::LOCKED).await;
        assert_eq!(body["retry_after"], 1800);
    }
}

db_test! {
    async fn unknown_usernames_lock_like_known_ones(app: TestApp) {
        for _ in 0..5 {
            app.login("ghost", "wrong-password").await;
        }
        assert_eq!(app.login("ghost", "wrong-password").await.status(), StatusCode::LOCKED);
    }
}

db_test! {
    async fn a_success_clears_earlier_failures(app: TestApp) {
        app.company("acme").await;
        for _ in 0..4 {
            app.login("acme-admin", "wrong-password").await;
        }
        app.token("acme-admin", PASSWORD).await;
        for _ in 0..4 {
            app.login("acme-admin", "wrong-password").await;
        }
        assert_eq!(app.login("acme-admin", PASSWORD).await.status(), StatusCode::OK);
    }
}

db_test! {
    async fn locks_are_shared_by_every_instance_on_the_database(app: TestApp) {
        app.company("acme").await;
        let other = app.another_instance().await;
        for _ in 0..5 {
            other.login("acme-admin", "wrong-password").await;
        }
        assert_eq!(app.login("acme-admin", PASSWORD).await.status(), StatusCode::LOCKED);
    }
}

db_test! {
    async fn sign_in_is_refused_once_the_blocking_date_has_passed(app: TestApp) {
        let company = app.company("acme").await;
        let changes = TermsChanges { blocking_at: Some(Some(app.now() + 60)), ..Default::default() };
        lifecycle::change_terms(&app.app.store, &Actor::operator(), company.account, &changes, app.now())
            .await
            .unwrap();
        app.token("acme-admin", PASSWORD).await;
        app.advance(Duration::minutes(1));
        let body = json_of(app.login("acme-admin", PASSWORD).await, StatusCode::FORBIDDEN).await;
        assert_eq!(body["error"], "account_blocked");
        assert_eq!(app.login("acme-admin", "wrong-password").await.status(), StatusCode::UNAUTHORIZED);
    }
}

db_test! {
    async fn a_new_user_must_accept_the_agreement_before_anything_else(app: TestApp) {
        app.company("acme").await;
        let body = json_of(app.login("acme-admin", PASSWORD).await, StatusCode::OK).await;
        assert_eq!(body["pending"], json!(["accept_dpa"]));
        let token = body["token"].as_str().unwrap();
        let refused = json_of(app.get("/api/v1/sessions", Some(token)).await, StatusCode::FORBIDDEN).await;
        assert_eq!(refused["error"], "pending_duty");
        assert_eq!(refused["pending"], json!(["accept_dpa"]));
        json_of(app.post("/api/v1/session/accept-dpa", Some(token), json!({})).await, StatusCode::OK).await;
        let session = json_of(app.get("/api/v1/session", Some(token)).await, StatusCode::OK).await;
        assert_eq!(session["pending"], json!([]));
        assert_eq!(app.get("/api/v1/sessions", Some(token)).await.status(), StatusCode::OK);
    }
}
