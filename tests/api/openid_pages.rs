//! Signing in to an app, consenting and signing out, in a real Chromium: the way back to
//! the app after the sign-in form passes the Content-Security-Policy (`form-action
//! 'self'`), and every page on the way passes the accessibility checks.

use std::time::Duration;

use axum::{Router, extract::RawQuery, response::Html, routing::get};
use fantoccini::Locator;
use portcullis::{
    oidc::{Registration, clients},
    rights::Actor,
    values::AccountId,
};

use crate::{
    browser::{Browser, PHONE},
    helpers::*,
};

/// An app's own pages, where Portcullis sends people back: they show the query they got.
async fn relying_party() -> String {
    let page = |RawQuery(query): RawQuery| async move {
        Html(format!(
            "<!doctype html><html lang=\"en\"><head><title>Reports</title>\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\
             <body><main><h1>Reports</h1><p id=\"query\" style=\"overflow-wrap: anywhere\">{}</p></main></body></html>",
            query.unwrap_or_default().replace('<', "&lt;")
        ))
    };
    let app = Router::new().route("/callback", get(page)).route("/bye", get(page));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

async fn register(app: &TestApp, account: AccountId, rp: &str) -> String {
    let registration = Registration {
        name: "Reports".into(),
        redirect_uris: vec![format!("{rp}/callback")],
        post_logout_redirect_uris: vec![format!("{rp}/bye")],
        public: true,
        id_token_alg: None,
    };
    clients::register(&app.app.store, &Actor::operator(), account, registration, app.now())
        .await
        .unwrap()
        .client
        .client_id
}

/// The app's authorization request (PKCE with RFC 7636's example challenge).
fn authorize(client_id: &str, rp: &str) -> String {
    let callback =
        url::form_urlencoded::byte_serialize(format!("{rp}/callback").as_bytes()).collect::<String>();
    format!(
        "/oauth2/authorize?response_type=code&scope=openid%20email&client_id={client_id}&redirect_uri={callback}\
         &state=st8&nonce=n0nce&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
    )
}

/// Presses a button and waits until the browser has come to an address starting with
/// `prefix` (through redirects and pages that move on by themselves); answers it.
async fn press_until(browser: &Browser, css: &str, prefix: &str) -> String {
    let button = browser.client.find(Locator::Css(css)).await.unwrap_or_else(|_| panic!("{css} on the page"));
    button.click().await.unwrap();
    for _ in 0..600 {
        let url = browser.client.current_url().await.unwrap().to_string();
        let loaded = browser.client.execute("return document.readyState;", vec![]).await;
        if url.starts_with(prefix) && loaded.is_ok_and(|s| s == "complete") {
            browser.assert_accessible_and_fits().await;
            return url;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let url = browser.client.current_url().await.unwrap();
    panic!("pressing {css} led to {url}, not {prefix}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_in_to_an_app_in_a_browser_is_sent_back_to_it_and_signs_out_from_it() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let company = app.company("acme").await;
    app.signed_in("acme-admin").await;
    let rp = relying_party().await;
    let client_id = register(&app, company.account, &rp).await;
    let browser = Browser::open(&app).await;
    browser.goto(&authorize(&client_id, &rp)).await;
    assert_eq!(browser.path().await, "/login");
    browser.fill("#username", "acme-admin").await;
    browser.fill("#password", PASSWORD).await;
    let back = press_until(&browser, "#sign-in", &format!("{rp}/callback")).await;
    assert!(back.contains("code=") && back.contains("state=st8"), "{back}");

    browser
        .goto(&format!("/oauth2/logout?client_id={client_id}&post_logout_redirect_uri={rp}/bye&state=z"))
        .await;
    assert!(browser.text("#sign-out-request").await.contains("Reports asks to sign you out"));
    let gone = press_until(&browser, "#sign-out-confirm", &format!("{rp}/bye")).await;
    assert!(gone.ends_with("?state=z"), "{gone}");
    browser.goto("/").await;
    assert_eq!(browser.path().await, "/login");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_of_the_company_above_asks_for_consent_once_in_the_persons_language() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let parent = app.company("fleetco").await;
    app.company_below(&parent, "branch").await;
    app.signed_in("branch-admin").await;
    app.raw_sql("UPDATE users SET language = 'ru' WHERE username = 'branch-admin'").await;
    let rp = relying_party().await;
    let client_id = register(&app, parent.account, &rp).await;
    let browser = Browser::open(&app).await;
    browser.goto(&authorize(&client_id, &rp)).await;
    browser.fill("#username", "branch-admin").await;
    browser.fill("#password", PASSWORD).await;
    press_until(&browser, "#sign-in", &app.url("/oauth2/authorize")).await;
    assert_eq!(browser.text("h1").await, "Разрешить Reports?");
    assert!(browser.text("#consent").await.contains("приложение компании fleetco"));
    browser.set_width(PHONE).await;
    browser.assert_accessible_and_fits().await;
    let back = press_until(&browser, "#consent-allow", &format!("{rp}/callback")).await;
    assert!(back.contains("code="));
    // Given once: the next sign-in goes straight back.
    browser.goto(&authorize(&client_id, &rp)).await;
    assert!(browser.client.current_url().await.unwrap().to_string().starts_with(&format!("{rp}/callback")));
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_registers_and_removes_an_app_on_the_company_page() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.company("acme").await;
    app.signed_in("acme-admin").await;
    let browser = Browser::open(&app).await;
    browser.sign_in("acme-admin", PASSWORD).await;
    browser.goto("/company").await;
    browser.click("#company-apps-link").await;
    assert_eq!(browser.path().await, "/company/apps");
    browser.fill("#app-name", "Grafana").await;
    browser.fill("#app-redirect-uris", "https://grafana.example/login/generic_oauth").await;
    browser.click("#create-app").await;
    assert_eq!(browser.text("#created-client-secret").await.len(), 43);
    assert!(browser.text("#apps-table").await.contains("https://grafana.example/login/generic_oauth"));
    browser.set_width(PHONE).await;
    browser.assert_accessible_and_fits().await;
    browser.click_and_confirm(".delete-app").await;
    assert!(browser.text("#notice").await.contains("removed"));
    assert_eq!(browser.count("#apps-table").await, 0);
    browser.close().await;
}
