//! The pages a person meets every day, as a finished product: their language, the home
//! dashboard, the Security tab's words, the blocked-account page, errors as pages. In a
//! real browser, on SQLite.

use portcullis::{lifecycle, rights::Actor, store::TermsChanges, users::UserRequest};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::{browser::Browser, helpers::*};

const NEW_PASSWORD: &str = "Tq5!walrus-Lantern";

/// A company whose admin has signed in once (agreement accepted), and `username` made
/// with `request`'s fields.
async fn company_with(username: &str, request: UserRequest) -> (TestApp, Company) {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let company = app.company("acme").await;
    let request = UserRequest { username: username.into(), can_change_password: true, ..request };
    app.user_from(company.account, company.admin, request).await;
    (app, company)
}

async fn ivans_language(app: &TestApp) -> String {
    app.column::<String>("SELECT language FROM users WHERE username = 'ivan'").await.remove(0)
}

/// Signs in with the form of the sign-in page the browser is on.
async fn sign_in_here(browser: &Browser, username: &str, password: &str) {
    browser.fill("#username", username).await;
    browser.fill("#password", password).await;
    browser.click("#sign-in").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_keeps_the_stored_language_and_the_security_tab_changes_it() {
    let request = UserRequest { language: Some("ru".into()), ..Default::default() };
    let (app, _) = company_with("ivan", request).await;
    let browser = Browser::open(&app).await;
    browser.sign_in("ivan", PASSWORD).await;
    assert!(browser.text("#agreement").await.contains("персональные данные"), "the agreement in Russian");
    browser.click("#accept-dpa").await;
    assert_eq!(browser.text("h1").await, "Главная");
    assert_eq!(ivans_language(&app).await, "ru", "an English browser did not overwrite it");

    browser.click("#security-link").await;
    browser.select("#language-choice", "es").await;
    browser.click("#save-language").await;
    assert_eq!(browser.text("#notice").await, "Se guardó su idioma.");
    assert_eq!(ivans_language(&app).await, "es");

    browser.click("#sign-out").await;
    browser.click("#lang-ru").await;
    sign_in_here(&browser, "ivan", PASSWORD).await;
    assert_eq!(ivans_language(&app).await, "ru", "a language picked on the sign-in page is kept");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_home_page_sums_up_the_account_and_says_what_needs_attention() {
    let request = UserRequest { email: Some("driver@fleet.example".into()), ..Default::default() };
    let (app, company) = company_with("driver", request).await;
    let changes = TermsChanges { blocking_at: Some(Some(app.now() + 3 * 86_400)), ..Default::default() };
    lifecycle::change_terms(&app.app.store, &Actor::operator(), company.account, &changes, app.now())
        .await
        .unwrap();
    let browser = Browser::open(&app).await;
    browser.sign_in("driver", PASSWORD).await;
    browser.click("#accept-dpa").await;
    assert_eq!(browser.text("#home-web").await, "Off");
    assert!(browser.text("#home-email").await.contains("Not confirmed"));
    assert_eq!(browser.text("#home-session-count").await, "1 open session");
    assert!(browser.text("#warning-blocking").await.contains("2030-03-04"));
    assert!(browser.text("#warning-email").await.contains("not confirmed"));
    assert!(browser.count("#warning-two-factor").await == 1);
    assert!(browser.text("#home-sign-ins").await.contains("Signed in"));
    assert_eq!(browser.count("#settings-link").await, 0, "a driver has no company settings");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_account_is_told_since_when_and_whom_to_call_in_its_language() {
    let request = UserRequest { language: Some("es".into()), ..Default::default() };
    let (app, company) = company_with("driver", request).await;
    let admin = app.signed_in("acme-admin").await;
    let path = format!("/api/v1/accounts/{}/two-factor-policy", company.account.0);
    let contact = json!({ "name": "Ops desk", "phone": "+35387000000", "email": "ops@fleet.example" });
    let policy = app.send(Method::PUT, &path, Some(&admin), Some(json!({ "contact": contact }))).await;
    assert_eq!(policy.status(), StatusCode::OK);
    let changes = TermsChanges { blocking_at: Some(Some(app.now() - 86_400)), ..Default::default() };
    lifecycle::change_terms(&app.app.store, &Actor::operator(), company.account, &changes, app.now())
        .await
        .unwrap();

    let browser = Browser::open(&app).await;
    browser.goto("/login?lang=es").await;
    sign_in_here(&browser, "driver", "a wrong password").await;
    assert_eq!(browser.count("#blocked").await, 0, "a wrong password learns nothing of the account");
    sign_in_here(&browser, "driver", PASSWORD).await;
    assert_eq!(browser.text("h1").await, "Su cuenta está bloqueada");
    assert!(browser.text("#blocked-since").await.contains("2030-02-28"));
    assert_eq!(browser.text("#blocked-contact-name").await, "Ops desk");

    let refused = app.login("driver", PASSWORD).await;
    let refused = json_of(refused, StatusCode::FORBIDDEN).await;
    assert_eq!(refused["error"], "account_blocked");
    assert_eq!(refused["contact"]["name"], "Ops desk");
    assert_eq!(refused["blocked_from"], "2030-02-28T09:00:00Z");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_page_is_a_page_for_a_browser_and_json_for_a_program() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = Browser::open(&app).await;
    browser.goto("/no-such-page?lang=ru").await;
    assert_eq!(browser.text("h1").await, "Извините");
    assert!(browser.text("#error").await.contains("Такой страницы нет"));
    browser.close().await;
    let answer = app.get("/api/v1/no-such-endpoint", None).await;
    assert_eq!(json_of(answer, StatusCode::NOT_FOUND).await["error"], "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_security_tab_names_each_mistake_for_what_it_is() {
    let (app, _) = company_with("driver", UserRequest::default()).await;
    app.signed_in("driver").await;
    let browser = Browser::open(&app).await;
    browser.sign_in("driver", PASSWORD).await;
    browser.goto("/security").await;

    browser.fill("#email", "driver@fleet.example").await;
    browser.click("#save-email").await;
    assert_eq!(browser.text("#error").await, "Enter your current password correctly to make this change.");

    browser.fill("#current-password", PASSWORD).await;
    browser.fill("#new-password", "password123").await;
    browser.fill("#new-password-again", "password123").await;
    browser.click("#change-password").await;
    let error = browser.text("#error").await;
    assert!(error.contains("too easy to guess"), "an 11-character common password: {error}");

    browser.fill("#current-password", PASSWORD).await;
    browser.fill("#new-password", NEW_PASSWORD).await;
    browser.fill("#new-password-again", NEW_PASSWORD).await;
    browser.click("#change-password").await;
    assert!(browser.text("#notice").await.contains("Your password has been changed"));
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_history_names_the_browser_and_whom_a_sign_in_acted_as() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let company = app.company("acme").await;
    let driver = app.user(company.account, company.admin, "driver").await;
    app.signed_in("driver").await;
    app.admin_may_act_as(&company, &[driver]).await;

    let browser = Browser::open(&app).await;
    browser.sign_in_as("acme-admin", PASSWORD, "driver").await;
    assert_eq!(browser.text("#who").await, "acme-admin (driver)");
    let history = browser.text("#home-sign-ins").await;
    assert!(history.contains("as driver"), "{history}");
    assert!(history.contains("Chrome") && history.contains(" on Linux"), "{history}");
    assert!(!history.contains("Mozilla/5.0"), "no raw user agent: {history}");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_one_other_session_says_so_in_the_singular() {
    let (app, _) = company_with("driver", UserRequest::default()).await;
    app.signed_in("driver").await;
    let browser = Browser::open(&app).await;
    browser.sign_in("driver", PASSWORD).await;
    browser.goto("/sessions").await;
    browser.click("#end-others").await;
    assert_eq!(browser.text("#notice").await, "1 other session was ended.");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_and_reaching_the_security_tab_work_by_keyboard_alone() {
    use fantoccini::key::Key;
    let (app, _) = company_with("driver", UserRequest::default()).await;
    app.signed_in("driver").await;
    let browser = Browser::open(&app).await;
    browser.goto("/login").await;
    let field = browser.client.find(fantoccini::Locator::Css("#username")).await.unwrap();
    field.click().await.unwrap();
    let typed = format!("driver{}{PASSWORD}{}", char::from(Key::Tab), char::from(Key::Enter));
    browser.client.active_element().await.unwrap().send_keys(&typed).await.unwrap();
    browser.arrive_at("/").await;
    assert_eq!(browser.text("#who").await, "driver");
    // Tab from the top: the brand, then the sections, in reading order.
    browser.client.execute("document.activeElement.blur();", vec![]).await.unwrap();
    let mut reached = Vec::new();
    for _ in 0..3 {
        let body = browser.client.find(fantoccini::Locator::Css("body")).await.unwrap();
        body.send_keys(&char::from(Key::Tab).to_string()).await.unwrap();
        let focused = browser.client.active_element().await.unwrap();
        reached.push(focused.attr("id").await.unwrap().unwrap_or_default());
    }
    assert_eq!(reached[1..], ["home-link".to_owned(), "security-link".to_owned()]);
    let outline = "return getComputedStyle(document.activeElement).outlineStyle;";
    assert_ne!(browser.client.execute(outline, vec![]).await.unwrap(), "none", "focus is visible");
    browser
        .client
        .active_element()
        .await
        .unwrap()
        .send_keys(&char::from(Key::Enter).to_string())
        .await
        .unwrap();
    browser.arrive_at("/security").await;
    browser.close().await;
}
