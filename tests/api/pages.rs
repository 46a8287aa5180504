//! The pages in a real browser. These run on SQLite: the pages call the same domain
//! functions the API suite proves on both databases.

use serde_json::json;

use crate::{browser::Browser, helpers::*};

const NEW_PASSWORD: &str = "Tq5!walrus-Lantern";

async fn app_with_company() -> (TestApp, Company) {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let company = app.company("acme").await;
    (app, company)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_accepting_the_agreement_and_signing_out() {
    let (app, _) = app_with_company().await;
    let browser = Browser::open(&app).await;
    browser.sign_in("acme-admin", PASSWORD).await;
    assert_eq!(browser.path().await, "/dpa");
    assert!(browser.text("#agreement").await.contains("personal data"));
    browser.click("#accept-dpa").await;
    assert_eq!(browser.path().await, "/");
    assert_eq!(browser.text("#username").await, "acme-admin");
    assert_eq!(browser.text("#who").await, "acme-admin");
    browser.click("#sign-out").await;
    assert_eq!(browser.path().await, "/login");
    browser.goto("/").await;
    assert_eq!(browser.path().await, "/login");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_shows_the_reason_and_marks_the_fields_red() {
    let (app, _) = app_with_company().await;
    let browser = Browser::open(&app).await;
    browser.sign_in("acme-admin", "not-my-password").await;
    assert_eq!(browser.path().await, "/login");
    assert!(browser.text("#error").await.contains("Wrong username or password"));
    assert_eq!(browser.attr("#password", "class").await.as_deref(), Some("invalid"));
    assert_eq!(
        browser
            .client
            .find(fantoccini::Locator::Css("#username"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("acme-admin")
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_language_chosen_on_the_sign_in_page_is_shown_and_remembered() {
    let (app, company) = app_with_company().await;
    let browser = Browser::open(&app).await;
    browser.goto("/login").await;
    assert_eq!(browser.text("#sign-in").await, "Sign in");
    browser.click("#lang-ru").await;
    assert_eq!(browser.text("#sign-in").await, "Войти");
    assert_eq!(browser.text("h1").await, "Вход");
    browser.fill("#username", "acme-admin").await;
    browser.fill("#password", PASSWORD).await;
    browser.click("#sign-in").await;
    assert_eq!(browser.text("#accept-dpa").await, "Принимаю");
    browser.click("#accept-dpa").await;
    assert_eq!(browser.text("h1").await, "Главная");
    let user = app.app.store.read().await.unwrap().user_by_id(company.admin).await.unwrap().unwrap();
    assert_eq!(user.language.code(), "ru");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_set_by_someone_else_is_changed_before_the_home_page() {
    let (app, company) = app_with_company().await;
    let driver = app.user(company.account, company.admin, "driver").await;
    let admin = app.signed_in("acme-admin").await;
    let patch = json!({ "password": "Kx7!admin-chosen-Pass" });
    app.send(reqwest::Method::PATCH, &format!("/api/v1/users/{}", driver.0), Some(&admin), Some(patch)).await;
    let browser = Browser::open(&app).await;
    browser.sign_in("driver", "Kx7!admin-chosen-Pass").await;
    browser.click("#accept-dpa").await;
    assert_eq!(browser.path().await, "/password");
    browser.goto("/security").await;
    assert_eq!(browser.path().await, "/password");
    browser.fill("#current-password", "Kx7!admin-chosen-Pass").await;
    browser.fill("#new-password", NEW_PASSWORD).await;
    browser.fill("#new-password-again", "something-else-Entirely9").await;
    browser.click("#change-password").await;
    assert!(browser.text("#error").await.contains("differ"));
    browser.fill("#current-password", "Kx7!admin-chosen-Pass").await;
    browser.fill("#new-password", NEW_PASSWORD).await;
    browser.fill("#new-password-again", NEW_PASSWORD).await;
    browser.click("#change-password").await;
    assert_eq!(browser.path().await, "/security");
    assert!(browser.text("#notice").await.contains("has been changed"));
    browser.goto("/").await;
    assert_eq!(browser.text("#username").await, "driver");
    browser.close().await;
    assert_eq!(app.login("driver", NEW_PASSWORD).await.status(), reqwest::StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_security_page_lists_sign_ins_including_failed_ones() {
    let (app, _) = app_with_company().await;
    app.login("acme-admin", "wrong-password").await;
    app.signed_in("acme-admin").await;
    let browser = Browser::open(&app).await;
    browser.sign_in("acme-admin", PASSWORD).await;
    browser.goto("/security").await;
    let history = browser.text("#login-history").await;
    assert!(history.contains("Wrong password"), "{history}");
    assert_eq!(history.matches("Signed in").count(), 2, "{history}");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_everywhere_else_from_the_sessions_page() {
    let (app, _) = app_with_company().await;
    let elsewhere = app.signed_in("acme-admin").await;
    let browser = Browser::open(&app).await;
    browser.sign_in("acme-admin", PASSWORD).await;
    browser.goto("/sessions").await;
    assert_eq!(browser.count("#sessions tbody tr").await, 2);
    browser.click("#end-others").await;
    assert!(browser.text("#notice").await.contains('1'));
    assert_eq!(
        app.get("/api/v1/session", Some(&elsewhere)).await.status(),
        reqwest::StatusCode::UNAUTHORIZED
    );
    assert_eq!(browser.count("#sessions tbody tr").await, 1);
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quick_login_link_works_only_from_the_address_of_its_session() {
    let (app, _) = app_with_company().await;
    let token = app.signed_in("acme-admin").await;
    let browser = Browser::open(&app).await;
    browser.goto(&format!("/?sid={token}")).await;
    assert_eq!(browser.path().await, "/");
    assert_eq!(browser.text("#username").await, "acme-admin");
    browser.close().await;
}

/// Polls `check` every 100 ms for up to 30 s.
async fn eventually<F: std::future::Future<Output = bool>>(mut check: impl FnMut() -> F) -> bool {
    for _ in 0..300 {
        if check().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_returns_to_sign_in_once_its_session_has_ended_elsewhere() {
    let app = TestApp::spawn_with(Backend::Sqlite, &["--page-poll-seconds", "1"]).await;
    app.company("acme").await;
    let browser = Browser::open(&app).await;
    browser.sign_in("acme-admin", PASSWORD).await;
    browser.click("#accept-dpa").await;
    assert_eq!(browser.text("#username").await, "acme-admin");
    let elsewhere = app.signed_in("acme-admin").await;
    app.send(reqwest::Method::DELETE, "/api/v1/sessions", Some(&elsewhere), None).await;
    assert!(
        eventually(|| async { browser.path().await == "/login" }).await,
        "the page stayed at {}",
        browser.path().await
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_cannot_reach_the_server_says_so() {
    let args = ["--page-poll-seconds", "1", "--connection-lost-seconds", "2"];
    let mut app = TestApp::spawn_with(Backend::Sqlite, &args).await;
    app.company("acme").await;
    let browser = Browser::open(&app).await;
    browser.sign_in("acme-admin", PASSWORD).await;
    browser.click("#accept-dpa").await;
    assert_eq!(browser.text("#username").await, "acme-admin");
    let banner = browser.client.find(fantoccini::Locator::Css("#connection-lost")).await.unwrap();
    assert!(!banner.is_displayed().await.unwrap());
    app.stop_server();
    assert!(eventually(|| async { banner.is_displayed().await.unwrap() }).await, "no banner");
    assert!(banner.text().await.unwrap().starts_with("Unable to connect to the server"));
    assert_eq!(browser.attr("#clock", "class").await.as_deref(), Some("clock lost"));
    browser.close().await;
}
