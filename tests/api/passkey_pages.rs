//! Passkeys in a real Chromium with WebDriver's virtual authenticator (a platform
//! authenticator that verifies its user): added on the Security tab, used to sign in
//! from the sign-in page, to answer the code page, and added when the company asks for
//! one; in English, Russian and Spanish, and every page passes the accessibility checks.

use reqwest::StatusCode;
use serde_json::json;

use crate::{
    browser::{Browser, PHONE},
    helpers::*,
};

/// `driver` of `acme` in `language`, agreement accepted; a browser with an authenticator.
async fn driver_in_a_browser(language: &str) -> (TestApp, Company, Browser) {
    let app = TestApp::spawn_on_localhost(Backend::Sqlite).await;
    let company = app.company("acme").await;
    app.user(company.account, company.admin, "driver").await;
    app.signed_in("driver").await;
    app.raw_sql(&format!("UPDATE users SET language = '{language}' WHERE username = 'driver'")).await;
    let browser = Browser::open(&app).await;
    browser.add_passkey_authenticator().await;
    (app, company, browser)
}

/// Adds a passkey named `name` on the Security tab.
async fn add_on_the_security_tab(browser: &Browser, name: &str) {
    browser.goto("/security").await;
    browser.fill("#passkey-name", name).await;
    browser.click("#add-passkey").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_added_on_the_security_tab_signs_in_from_the_sign_in_pages_autofill_without_a_password() {
    let (app, _, browser) = driver_in_a_browser("en").await;
    browser.sign_in("driver", PASSWORD).await;
    add_on_the_security_tab(&browser, "Work laptop").await;
    let listed = browser.text("#passkey-list").await;
    assert!(listed.contains("Work laptop") && listed.contains("Not used yet"), "{listed}");
    browser.click("#sign-out").await;
    // The sign-in page offers the passkey in the browser's autofill list (conditional
    // mediation); the virtual authenticator picks it at once, as a person would.
    browser.arrive_at("/").await;
    let used: Vec<Option<i64>> = app.column("SELECT last_used_at FROM passkeys").await;
    assert!(used[0].is_some(), "the sign-in used the passkey");
    let amr: Vec<String> = app.column("SELECT amr FROM sessions ORDER BY id DESC LIMIT 1").await;
    assert_eq!(amr, ["hwk user mfa"]);
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_answers_the_code_page_after_the_password_in_russian_on_a_phone() {
    let (app, _, browser) = driver_in_a_browser("ru").await;
    browser.set_width(PHONE).await;
    browser.sign_in("driver", PASSWORD).await;
    add_on_the_security_tab(&browser, "Телефон").await;
    browser.select("#two-factor-web", "passkey").await;
    browser.click("#save-two-factor").await;
    browser.click("#sign-out").await;
    // The password, by the API, whose challenge the code page takes over: on the sign-in
    // page the virtual authenticator would answer the autofill before a password is typed.
    let challenge = json_of(app.login("driver", PASSWORD).await, StatusCode::OK).await;
    let handle = challenge["challenge"].as_str().unwrap().to_owned();
    browser.goto("/forgot?lang=ru").await;
    let script = "document.cookie = 'portcullis_challenge=' + arguments[0] + '; path=/';";
    browser.client.execute(script, vec![handle.into()]).await.unwrap();
    browser.goto("/login/code").await;
    assert_eq!(browser.text("#use-passkey").await, "Использовать ключ доступа");
    assert!(browser.text("#sent-to").await.contains("запросите код"));
    browser.click("#use-passkey").await;
    assert_eq!(browser.path().await, "/");
    let amr: Vec<String> = app.column("SELECT amr FROM sessions ORDER BY id DESC LIMIT 1").await;
    assert_eq!(amr, ["pwd hwk mfa"]);
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_company_that_asks_for_passkeys_leads_the_person_to_add_one_in_spanish() {
    let (app, company, browser) = driver_in_a_browser("es").await;
    let admin = app.signed_in("acme-admin").await;
    browser.sign_in("acme-admin", PASSWORD).await;
    browser.goto("/company").await;
    browser.select("#passkey-web", "everyone").await;
    browser.click("#save-passkeys").await;
    let path = format!("/api/v1/accounts/{}/two-factor-policy", company.account.0);
    let policy = json_of(app.get(&path, Some(&admin)).await, StatusCode::OK).await;
    assert_eq!(policy["require_passkey"], json!({ "web": "everyone", "manager": "nobody" }));
    browser.click("#sign-out").await;
    browser.sign_in("driver", PASSWORD).await;
    assert_eq!(browser.path().await, "/passkey");
    assert_eq!(browser.text("h1").await, "Añada una llave de acceso");
    browser.goto("/security").await;
    assert_eq!(browser.path().await, "/passkey", "nothing else until the passkey is added");
    browser.click("#add-passkey").await;
    browser.goto("/").await;
    assert_eq!(browser.path().await, "/");
    let names: Vec<String> = app.column("SELECT name FROM passkeys").await;
    assert_eq!(names, ["Passkey 1"]);
    browser.close().await;
}
