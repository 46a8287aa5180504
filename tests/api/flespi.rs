//! The flespi settings of top users, checked against a local stand-in that answers
//! `GET /auth/info` as flespi's REST API does.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode as Status, header},
    routing::get,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{browser::Browser, db_test, helpers::*};

/// Tokens flespi knows: each with its `expire` time (Unix seconds).
#[derive(Default)]
pub struct FlespiStandIn {
    pub url: String,
    tokens: Mutex<HashMap<String, i64>>,
    /// The `Authorization` headers it was sent.
    pub seen: Mutex<Vec<String>>,
}

impl FlespiStandIn {
    pub async fn start() -> Arc<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/eu", listener.local_addr().unwrap());
        let stand_in = Arc::new(Self { url, ..Default::default() });
        let router = Router::new().route("/eu/auth/info", get(auth_info)).with_state(stand_in.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        stand_in
    }

    pub fn knows(&self, token: &str, expire: i64) {
        self.tokens.lock().unwrap().insert(token.to_owned(), expire);
    }
}

/// As flespi: 200 with the token's fields for a token it knows, 401 for any other.
async fn auth_info(State(stand_in): State<Arc<FlespiStandIn>>, headers: HeaderMap) -> (Status, Json<Value>) {
    let presented = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
    stand_in.seen.lock().unwrap().push(presented.to_owned());
    let token = presented.strip_prefix("FlespiToken ").unwrap_or_default();
    match stand_in.tokens.lock().unwrap().get(token) {
        Some(expire) => (
            Status::OK,
            Json(json!({ "result": [{
                "id": 7, "cid": 42, "info": "portcullis", "enabled": true,
                "expire": expire, "ttl": 0, "created": expire - 365 * 86_400, "accessed": 0,
                "access": { "type": 1 },
            }] })),
        ),
        None => {
            (Status::UNAUTHORIZED, Json(json!({ "errors": [{ "code": 401, "reason": "Invalid token" }] })))
        }
    }
}

const ACTIVE: &str = "Wq3AbcdEFGhijkLMNopqRSTuvwXYZ0123456789abcdefghijklmnopqrstuvAc7e";
const EXPIRED: &str = "Zz9AbcdEFGhijkLMNopqRSTuvwXYZ0123456789abcdefghijklmnopqrstuvEx9d";

/// A server whose `eu` region is the stand-in and whose `ru` region is down.
async fn with_flespi(backend: Backend) -> (TestApp, Arc<FlespiStandIn>) {
    let flespi = FlespiStandIn::start().await;
    let closed = "http://127.0.0.1:9/";
    let app =
        TestApp::spawn_with(backend, &["--flespi-url-eu", &flespi.url, "--flespi-url-ru", closed]).await;
    flespi.knows(ACTIVE, app.now() + 300 * 86_400);
    flespi.knows(EXPIRED, app.now() - 10 * 86_400);
    (app, flespi)
}

const PATH: &str = "/api/v1/me/integrations/flespi";

db_test! {
    async fn flespi_settings_are_for_top_users_only_and_keep_the_token_encrypted(app: TestApp) {
        let company = app.company("acme").await;
        app.user(company.account, company.admin, "driver").await;
        let driver = app.signed_in("driver").await;
        let admin = app.signed_in("acme-admin").await;
        let body = json!({ "token": ACTIVE, "region": "eu" });
        assert_eq!(app.get(PATH, Some(&driver)).await.status(), StatusCode::FORBIDDEN);
        let refused = app.send(Method::PUT, PATH, Some(&driver), Some(body.clone())).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert_eq!(app.post(&format!("{PATH}/check"), Some(&driver), json!({})).await.status(), StatusCode::FORBIDDEN);
        let security = json_of(app.get("/api/v1/me/security", Some(&driver)).await, StatusCode::OK).await;
        assert_eq!(security["top_user"], json!(false));

        assert_eq!(app.get(PATH, Some(&admin)).await.status(), StatusCode::NOT_FOUND);
        let saved = app.send(Method::PUT, PATH, Some(&admin), Some(body)).await;
        let saved = json_of(saved, StatusCode::OK).await;
        assert_eq!(saved["token"], json!(format!("{}Ac7e", "•".repeat(12))));
        assert_eq!(saved["region"], "eu");
        let shown = json_of(app.get(PATH, Some(&admin)).await, StatusCode::OK).await;
        assert_eq!(shown["token"], saved["token"]);
        assert!(!shown.to_string().contains(ACTIVE));
        let stored: Vec<Vec<u8>> = app.column("SELECT token FROM flespi_tokens").await;
        assert!(!stored[0].windows(16).any(|w| w == &ACTIVE.as_bytes()[..16]), "the token is encrypted at rest");

        let invalid = app.send(Method::PUT, PATH, Some(&admin), Some(json!({ "token": "short", "region": "eu" }))).await;
        assert_eq!(json_of(invalid, StatusCode::UNPROCESSABLE_ENTITY).await["field"], "token");
        let region = app.send(Method::PUT, PATH, Some(&admin), Some(json!({ "token": ACTIVE, "region": "us" }))).await;
        assert_eq!(region.status(), StatusCode::UNPROCESSABLE_ENTITY);

        let removed = app.send(Method::DELETE, PATH, Some(&admin), None).await;
        assert_eq!(removed.status(), StatusCode::NO_CONTENT);
        assert_eq!(app.get(PATH, Some(&admin)).await.status(), StatusCode::NOT_FOUND);
        let actions: Vec<_> = app.audit_trail(company.account).await.into_iter().map(|(a, _)| a).collect();
        assert!(actions.contains(&"integration.flespi_saved".to_owned()));
        assert!(actions.contains(&"integration.flespi_removed".to_owned()));
    }
}

mod check {
    use super::*;

    async fn save_and_check(app: &TestApp, admin: &str, token: &str, region: &str) -> reqwest::Response {
        let body = json!({ "token": token, "region": region });
        assert_eq!(app.send(Method::PUT, PATH, Some(admin), Some(body)).await.status(), StatusCode::OK);
        app.post(&format!("{PATH}/check"), Some(admin), json!({})).await
    }

    async fn a_check_says_active_expired_or_unreachable(backend: Backend) {
        let (app, flespi) = with_flespi(backend).await;
        app.company("acme").await;
        let admin = app.signed_in("acme-admin").await;

        let active = json_of(save_and_check(&app, &admin, ACTIVE, "eu").await, StatusCode::OK).await;
        assert_eq!(active["status"], "active");
        let in_300_days = time::OffsetDateTime::from_unix_timestamp(app.now() + 300 * 86_400).unwrap();
        let in_300_days = in_300_days.format(&time::format_description::well_known::Rfc3339).unwrap();
        assert_eq!(active["expires_at"], json!(in_300_days));
        assert_eq!(flespi.seen.lock().unwrap().last().unwrap(), &format!("FlespiToken {ACTIVE}"));
        let shown = json_of(app.get(PATH, Some(&admin)).await, StatusCode::OK).await;
        assert_eq!(shown["last_check"]["status"], "active");

        let expired = json_of(save_and_check(&app, &admin, EXPIRED, "eu").await, StatusCode::OK).await;
        assert_eq!(expired["status"], "expired");
        assert!(expired["expires_at"].is_string());

        let unknown = "Un1knownTokenUn1knownTokenUn1knownTokenUn1knownTokenUn1knownTok";
        let gone = json_of(save_and_check(&app, &admin, unknown, "eu").await, StatusCode::OK).await;
        assert_eq!((gone["status"].clone(), gone["expires_at"].clone()), (json!("expired"), json!(null)));

        let down = json_of(save_and_check(&app, &admin, ACTIVE, "ru").await, StatusCode::BAD_GATEWAY).await;
        assert_eq!((down["error"].clone(), down["service"].clone()), (json!("unreachable"), json!("flespi")));
        assert_eq!(flespi.seen.lock().unwrap().len(), 3, "the ru region went elsewhere");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        a_check_says_active_expired_or_unreachable(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        a_check_says_active_expired_or_unreachable(Backend::Postgres).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_top_user_stores_and_checks_a_token_on_the_security_tab_and_others_do_not_see_it() {
    let (app, _flespi) = with_flespi(Backend::Sqlite).await;
    let company = app.company("acme").await;
    app.user(company.account, company.admin, "driver").await;
    app.signed_in("acme-admin").await;
    app.signed_in("driver").await;
    let browser = Browser::open(&app).await;
    browser.sign_in("acme-admin", PASSWORD).await;
    browser.goto("/security").await;
    browser.fill("#flespi-token-input", ACTIVE).await;
    browser.select("#flespi-region", "eu").await;
    browser.click("#save-flespi").await;
    assert!(browser.text("#flespi-token").await.ends_with("Ac7e"));
    browser.click("#check-flespi").await;
    assert!(browser.text("#flespi-status").await.starts_with("Active, expires"));
    // The region alone changes: the token field left empty keeps the stored token.
    browser.select("#flespi-region", "ru").await;
    browser.click("#save-flespi").await;
    assert!(browser.text("#flespi-token").await.ends_with("Ac7e"), "the token is kept");
    browser.click("#check-flespi").await;
    assert!(browser.text("#error").await.contains("flespi could not be reached"));
    browser.select("#flespi-region", "eu").await;
    browser.click("#save-flespi").await;
    browser.click("#check-flespi").await;
    assert!(browser.text("#flespi-status").await.starts_with("Active, expires"), "the kept token works");
    browser.close().await;

    let browser = Browser::open(&app).await;
    browser.sign_in("driver", PASSWORD).await;
    browser.goto("/security").await;
    assert_eq!(browser.count("#flespi").await, 0);
    assert_eq!(browser.count("#notices").await, 1);
    browser.close().await;
}
