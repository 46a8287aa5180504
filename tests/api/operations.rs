use reqwest::StatusCode;
use serde_json::json;

use crate::{db_test, helpers::*};

db_test! {
    async fn health_and_readiness_answer(app: TestApp) {
        assert_eq!(app.get("/healthz", None).await.text().await.unwrap(), "ok");
        let ready = json_of(app.get("/readyz", None).await, StatusCode::OK).await;
        assert_eq!(ready["status"], "ready");
    }
}

db_test! {
    async fn readiness_fails_when_the_database_is_gone(app: TestApp) {
        app.app.store.close().await;
        assert_eq!(app.get("/readyz", None).await.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}

db_test! {
    async fn metrics_count_requests_by_route_and_status(app: TestApp) {
        app.login("nobody", "whatever-it-is").await;
        let text = app.get("/metrics", None).await.text().await.unwrap();
        assert!(text.contains(r#"http_requests_total{route="/api/v1/login",method="POST",status="401"}"#), "{text}");
        assert!(text.contains("http_request_duration_seconds_bucket"), "{text}");
        assert!(text.contains(r#"sign_ins_total{outcome="invalid_credentials"}"#), "{text}");
    }
}

db_test! {
    async fn the_openapi_document_lists_the_endpoints(app: TestApp) {
        let doc = json_of(app.get("/api/v1/openapi.json", None).await, StatusCode::OK).await;
        assert!(doc["openapi"].as_str().unwrap().starts_with('3'));
        for path in ["/api/v1/login", "/api/v1/session", "/api/v1/users/{id}", "/api/v1/accounts"] {
            assert!(doc["paths"].get(path).is_some(), "{path} missing");
        }
    }
}

db_test! {
    async fn unknown_paths_get_a_json_404_and_every_answer_carries_strict_headers(app: TestApp) {
        let response = app.get("/api/v1/nothing-here", None).await;
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        assert_eq!(response.headers()["x-frame-options"], "DENY");
        assert!(response.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'self'"));
        let body = json_of(response, StatusCode::NOT_FOUND).await;
        assert_eq!(body["error"], "not_found");
    }
}

db_test! {
    async fn malformed_json_is_a_400_naming_the_problem(app: TestApp) {
        let response = app
            .http
            .post(app.url("/api/v1/login"))
            .header("content-type", "application/json")
            .body(r#"{"username": "a", "#)
            .send()
            .await
            .unwrap();
        let body = json_of(response, StatusCode::BAD_REQUEST).await;
        assert_eq!(body["error"], "malformed_json");
    }
}

db_test! {
    async fn a_body_that_is_not_json_is_a_415(app: TestApp) {
        let response = app.http.post(app.url("/api/v1/login")).body("username=a").send().await.unwrap();
        let body = json_of(response, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
        assert_eq!(body["error"], "unsupported_media_type");
    }
}

db_test! {
    async fn an_oversized_body_is_a_413_and_nothing_is_hashed(app: TestApp) {
        let huge = "x".repeat(200 * 1024);
        let response = app.post("/api/v1/login", None, json!({ "username": "a", "password": huge })).await;
        let body = json_of(response, StatusCode::PAYLOAD_TOO_LARGE).await;
        assert_eq!(body["error"], "too_large");
    }
}

db_test! {
    async fn unknown_fields_are_refused_by_name(app: TestApp) {
        let response = app.post("/api/v1/login", None, json!({ "username": "a", "password": "b", "admin": true })).await;
        let body = json_of(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(body["message"].as_str().unwrap().contains("admin"), "{body}");
    }
}

db_test! {
    async fn a_form_posted_without_its_csrf_token_is_refused_and_signs_nobody_in(app: TestApp) {
        app.company("acme").await;
        let form = format!("csrf=forged&username=acme-admin&password={}", PASSWORD.replace('#', "%23").replace('!', "%21"));
        let response = app
            .http
            .post(app.url("/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", "portcullis_csrf=seed-of-some-other-page")
            .body(form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let cookies: Vec<_> = response.headers().get_all("set-cookie").iter().map(|c| c.to_str().unwrap().to_owned()).collect();
        assert!(cookies.iter().all(|c| !c.starts_with("portcullis_session=")), "{cookies:?}");
        assert!(response.text().await.unwrap().contains("The form has expired"));
        let events = app.app.store.read().await.unwrap().audit_events_of(portcullis::values::AccountId(1)).await.unwrap();
        assert!(events.iter().all(|e| !e.action.starts_with("sign_in")));
    }
}

db_test! {
    async fn a_signed_in_page_form_with_a_forged_token_is_refused_and_changes_nothing(app: TestApp) {
        let acme = app.company("acme").await;
        let token = app.signed_in("acme-admin").await;
        let form = "csrf=forged&delivery=email_only&contact_name=Mallory&contact_phone=&contact_email=";
        let response = app
            .http
            .post(app.url("/company/general"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", format!("portcullis_session={token}; portcullis_csrf=seed-of-some-other-page"))
            .body(form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert!(response.text().await.unwrap().contains("The form has expired"));
        let path = format!("/api/v1/accounts/{}/two-factor-policy", acme.account);
        let policy = json_of(app.get(&path, Some(&token)).await, StatusCode::OK).await;
        assert_eq!(policy["delivery"], "sms_then_email", "{policy}");
        assert_eq!(policy["contact"]["name"], "", "{policy}");
    }
}

db_test! {
    async fn a_server_behind_https_tells_browsers_to_keep_to_it(app: TestApp) {
        let plain = app.get("/healthz", None).await;
        assert!(plain.headers().get("strict-transport-security").is_none());
        let app = TestApp::spawn_with(app.backend, &["--public-url", "https://auth.fleet.example"]).await;
        let response = app.get("/healthz", None).await;
        assert_eq!(response.headers()["strict-transport-security"], "max-age=31536000; includeSubDomains");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_benchmark_floor_is_served_only_when_asked_for() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    assert_eq!(app.get("/bench/floor", None).await.status(), StatusCode::NOT_FOUND);
    let bench = TestApp::spawn_with(Backend::Sqlite, &["--bench-floor"]).await;
    bench.company("acme").await;
    let floor = bench.get("/bench/floor", None).await;
    assert_eq!(floor.status(), StatusCode::OK);
    assert_eq!(floor.text().await.unwrap(), "ok");
}
