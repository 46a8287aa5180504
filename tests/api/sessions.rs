use reqwest::{Method, StatusCode};
use serde_json::json;
use time::Duration;

use crate::{db_test, helpers::*};

async fn remembered_token(app: &TestApp, username: &str) -> String {
    let body = json!({ "username": username, "password": PASSWORD, "remember_me": true });
    let body = json_of(app.post("/api/v1/login", None, body).await, StatusCode::OK).await;
    body["token"].as_str().unwrap().to_owned()
}

db_test! {
    async fn a_session_that_is_not_remembered_ends_after_five_idle_minutes(app: TestApp) {
        app.company("acme").await;
        let token = app.signed_in("acme-admin").await;
        app.advance(Duration::minutes(4));
        assert_eq!(app.get("/api/v1/session", Some(&token)).await.status(), StatusCode::OK);
        app.advance(Duration::minutes(4));
        assert_eq!(app.get("/api/v1/session", Some(&token)).await.status(), StatusCode::OK);
        app.advance(Duration::minutes(5));
        let body = json_of(app.get("/api/v1/session", Some(&token)).await, StatusCode::UNAUTHORIZED).await;
        assert_eq!(body["error"], "unauthenticated");
        app.advance(Duration::seconds(-30));
        assert_eq!(app.get("/api/v1/session", Some(&token)).await.status(), StatusCode::UNAUTHORIZED);
    }
}

db_test! {
    async fn a_remembered_session_survives_idleness_but_not_thirty_days(app: TestApp) {
        app.company("acme").await;
        let token = remembered_token(&app, "acme-admin").await;
        app.advance(Duration::days(29));
        let session = json_of(app.get("/api/v1/session", Some(&token)).await, StatusCode::OK).await;
        assert_eq!(session["remember_me"], true);
        app.advance(Duration::days(1));
        assert_eq!(app.get("/api/v1/session", Some(&token)).await.status(), StatusCode::UNAUTHORIZED);
    }
}

db_test! {
    async fn signing_out_ends_the_session(app: TestApp) {
        app.company("acme").await;
        let token = app.signed_in("acme-admin").await;
        let response = app.send(Method::DELETE, "/api/v1/session", Some(&token), None).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(app.get("/api/v1/session", Some(&token)).await.status(), StatusCode::UNAUTHORIZED);
    }
}

db_test! {
    async fn every_sign_in_gets_a_new_token(app: TestApp) {
        app.company("acme").await;
        let first = app.token("acme-admin", PASSWORD).await;
        let second = app.token("acme-admin", PASSWORD).await;
        assert_ne!(first, second);
    }
}

db_test! {
    async fn a_made_up_token_is_unauthenticated(app: TestApp) {
        let response = app.get("/api/v1/session", Some("not-a-real-token")).await;
        assert_eq!(json_of(response, StatusCode::UNAUTHORIZED).await["error"], "unauthenticated");
        assert_eq!(app.get("/api/v1/session", None).await.status(), StatusCode::UNAUTHORIZED);
    }
}

db_test! {
    async fn the_session_cookie_is_accepted_like_a_bearer_token(app: TestApp) {
        app.company("acme").await;
        let token = app.signed_in("acme-admin").await;
        let response = app
            .http
            .get(app.url("/api/v1/session"))
            .header("cookie", format!("portcullis_session={token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
}

db_test! {
    async fn a_user_lists_and_ends_their_own_sessions(app: TestApp) {
        app.company("acme").await;
        let first = app.signed_in("acme-admin").await;
        let second = app.signed_in("acme-admin").await;
        let list = json_of(app.get("/api/v1/sessions", Some(&second)).await, StatusCode::OK).await;
        let sessions = list["sessions"].as_array().unwrap();
        assert_eq!(sessions.len(), 2);
        assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
        let other = sessions.iter().find(|s| s["current"] == false).unwrap()["id"].as_i64().unwrap();
        let path = format!("/api/v1/sessions/{other}");
        assert_eq!(app.send(Method::DELETE, &path, Some(&second), None).await.status(), StatusCode::NO_CONTENT);
        assert_eq!(app.get("/api/v1/session", Some(&first)).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(app.get("/api/v1/session", Some(&second)).await.status(), StatusCode::OK);
    }
}

db_test! {
    async fn nobody_can_end_another_user_s_session(app: TestApp) {
        let company = app.company("acme").await;
        app.user(company.account, company.admin, "driver").await;
        let admin = app.signed_in("acme-admin").await;
        let driver = app.signed_in("driver").await;
        let driver_session = json_of(app.get("/api/v1/session", Some(&driver)).await, StatusCode::OK).await["id"]
            .as_i64()
            .unwrap();
        let path = format!("/api/v1/sessions/{driver_session}");
        assert_eq!(app.send(Method::DELETE, &path, Some(&admin), None).await.status(), StatusCode::NOT_FOUND);
        assert_eq!(app.get("/api/v1/session", Some(&driver)).await.status(), StatusCode::OK);
    }
}

db_test! {
    async fn signing_out_everywhere_else_keeps_only_this_session(app: TestApp) {
        app.company("acme").await;
        let first = app.signed_in("acme-admin").await;
        let second = app.signed_in("acme-admin").await;
        let third = app.signed_in("acme-admin").await;
        let body = json_of(app.send(Method::DELETE, "/api/v1/sessions", Some(&third), None).await, StatusCode::OK).await;
        assert_eq!(body["ended"], 2);
        for gone in [&first, &second] {
            assert_eq!(app.get("/api/v1/session", Some(gone)).await.status(), StatusCode::UNAUTHORIZED);
        }
        assert_eq!(app.get("/api/v1/session", Some(&third)).await.status(), StatusCode::OK);
    }
}

db_test! {
    async fn changing_the_password_ends_every_other_session_and_the_old_password(app: TestApp) {
        app.company("acme").await;
        let other = app.signed_in("acme-admin").await;
        let token = app.signed_in("acme-admin").await;
        let new = "Tq5!walrus-Lantern";
        let body = json!({ "current_password": PASSWORD, "new_password": new, "new_password_confirmation": new });
        let response = app.post("/api/v1/password/change", Some(&token), body).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(app.get("/api/v1/session", Some(&other)).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(app.get("/api/v1/session", Some(&token)).await.status(), StatusCode::OK);
        assert_eq!(app.login("acme-admin", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(app.login("acme-admin", new).await.status(), StatusCode::OK);
    }
}

db_test! {
    async fn a_password_change_names_the_field_that_is_wrong(app: TestApp) {
        app.company("acme").await;
        let token = app.signed_in("acme-admin").await;
        let cases = [
            ("wrong-current", "Tq5!walrus-Lantern", "Tq5!walrus-Lantern", "current_password"),
            (PASSWORD, "Tq5!walrus-Lantern", "Tq5!walrus-Lanterm", "new_password_confirmation"),
            (PASSWORD, "password1", "password1", "new_password"),
        ];
        for (current, new, again, field) in cases {
            let body = json!({ "current_password": current, "new_password": new, "new_password_confirmation": again });
            let body = json_of(app.post("/api/v1/password/change", Some(&token), body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
            assert_eq!(body["field"], field, "{body}");
        }
        assert_eq!(app.login("acme-admin", PASSWORD).await.status(), StatusCode::OK);
    }
}

db_test! {
    async fn a_user_without_the_right_cannot_change_the_password(app: TestApp) {
        let company = app.company("acme").await;
        let driver = app.user(company.account, company.admin, "driver").await;
        let admin = app.signed_in("acme-admin").await;
        let patch = json!({ "can_change_password": false });
        let path = format!("/api/v1/users/{}", driver.0);
        json_of(app.send(Method::PATCH, &path, Some(&admin), Some(patch)).await, StatusCode::OK).await;
        let token = app.signed_in("driver").await;
        let new = "Tq5!walrus-Lantern";
        let body = json!({ "current_password": PASSWORD, "new_password": new, "new_password_confirmation": new });
        let body = json_of(app.post("/api/v1/password/change", Some(&token), body).await, StatusCode::FORBIDDEN).await;
        assert_eq!(body["error"], "forbidden");
    }
}

db_test! {
    async fn a_password_set_by_an_administrator_must_be_changed_at_the_next_sign_in(app: TestApp) {
        let company = app.company("acme").await;
        let driver = app.user(company.account, company.admin, "driver").await;
        let admin = app.signed_in("acme-admin").await;
        let chosen = "Kx7!admin-chosen-Pass";
        let path = format!("/api/v1/users/{}", driver.0);
        let patch = json!({ "password": chosen });
        json_of(app.send(Method::PATCH, &path, Some(&admin), Some(patch)).await, StatusCode::OK).await;
        let body = json_of(app.login("driver", chosen).await, StatusCode::OK).await;
        assert_eq!(body["pending"], json!(["accept_dpa", "change_password"]));
        let token = body["token"].as_str().unwrap();
        app.post("/api/v1/session/accept-dpa", Some(token), json!({})).await;
        let new = "Tq5!walrus-Lantern";
        let change = json!({ "current_password": chosen, "new_password": new, "new_password_confirmation": new });
        assert_eq!(app.post("/api/v1/password/change", Some(token), change).await.status(), StatusCode::NO_CONTENT);
        let session = json_of(app.get("/api/v1/session", Some(token)).await, StatusCode::OK).await;
        assert_eq!(session["pending"], json!([]));
    }
}

async fn login_from(app: &TestApp, address: &str) -> String {
    let response = app
        .http
        .post(app.url("/api/v1/login"))
        .header("x-forwarded-for", address)
        .json(&json!({ "username": "acme-admin", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    json_of(response, StatusCode::OK).await["token"].as_str().unwrap().to_owned()
}

db_test! {
    async fn a_quick_login_link_from_another_address_is_refused_and_the_session_survives(app: TestApp) {
        let app = TestApp::spawn_with(app.backend, &["--trusted-proxies", "127.0.0.1"]).await;
        app.company("acme").await;
        let token = login_from(&app, "203.0.113.5").await;
        let link = app.url(&format!("/?sid={token}"));
        let refused = app.http.get(&link).header("x-forwarded-for", "198.51.100.7").send().await.unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert!(refused.headers().get_all("set-cookie").iter().all(|c| !c.to_str().unwrap().contains("portcullis_session")));
        assert!(refused.text().await.unwrap().contains("only from the computer"));
        assert_eq!(app.get("/api/v1/session", Some(&token)).await.status(), StatusCode::OK);
        let accepted = app.http.get(&link).header("x-forwarded-for", "203.0.113.5").send().await.unwrap();
        assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
        let cookies: Vec<&str> = accepted.headers().get_all("set-cookie").iter().map(|c| c.to_str().unwrap()).collect();
        let session_cookie = cookies.iter().find(|c| c.starts_with("portcullis_session=")).expect("a session cookie");
        assert!(session_cookie.starts_with(&format!("portcullis_session={token};")), "{session_cookie}");
        assert!(session_cookie.contains("HttpOnly") && session_cookie.contains("SameSite=Lax"), "{session_cookie}");
        let events = app.app.store.read().await.unwrap().audit_events_of(portcullis::values::AccountId(1)).await.unwrap();
        let refused: Vec<_> = events.iter().filter(|e| e.action == "session.quick_login_refused").collect();
        assert_eq!(refused.len(), 1, "{events:?}");
        assert_eq!(refused[0].ip.as_deref(), Some("198.51.100.7"));
    }
}

db_test! {
    async fn the_login_history_pages_through_attempts_newest_first(app: TestApp) {
        app.company("acme").await;
        app.login("acme-admin", "wrong-password").await;
        let token = app.signed_in("acme-admin").await;
        for _ in 0..3 {
            app.advance(Duration::seconds(10));
            app.token("acme-admin", PASSWORD).await;
        }
        let first = json_of(app.get("/api/v1/me/login-history?limit=3", Some(&token)).await, StatusCode::OK).await;
        let entries = first["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 3);
        assert!(entries.iter().all(|e| e["result"] == "ok" && e["ip"] == "127.0.0.1" && e["app"] == "web"));
        assert!(entries[0]["time"].as_str().unwrap() > entries[2]["time"].as_str().unwrap());
        let next = first["next"].as_i64().unwrap();
        let path = format!("/api/v1/me/login-history?limit=3&before={next}");
        let second = json_of(app.get(&path, Some(&token)).await, StatusCode::OK).await;
        let results: Vec<&str> = second["entries"].as_array().unwrap().iter().map(|e| e["result"].as_str().unwrap()).collect();
        assert_eq!(results, ["ok", "wrong_password"]);
        assert!(second["next"].is_null());
    }
}

db_test! {
    async fn many_session_checks_at_once_each_get_their_own_session(app: TestApp) {
        // On PostgreSQL checks arriving together are read in one query: each must still get
        // its own user, and an ended session must stay refused among live ones.
        let company = app.company("acme").await;
        let mut tokens = Vec::new();
        for i in 0..12 {
            let name = format!("driver-{i}");
            app.user(company.account, company.admin, &name).await;
            tokens.push((name.clone(), app.token(&name, PASSWORD).await));
        }
        let ended = tokens.pop().expect("a token").1;
        assert_eq!(app.send(Method::DELETE, "/api/v1/session", Some(&ended), None).await.status(), StatusCode::NO_CONTENT);
        let app = &app;
        let checks = (0..4).flat_map(|_| tokens.iter()).map(|(name, token)| async move {
            let body = json_of(app.get("/api/v1/session", Some(token)).await, StatusCode::OK).await;
            assert_eq!(body["user"]["username"], name.as_str());
        });
        let ended = &ended;
        let refused = (0..4).map(|_| async move {
            assert_eq!(app.get("/api/v1/session", Some(ended)).await.status(), StatusCode::UNAUTHORIZED);
        });
        futures_util::future::join(futures_util::future::join_all(checks), futures_util::future::join_all(refused)).await;
    }
}
