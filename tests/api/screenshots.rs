//! A tour of the main pages, at a desktop's width and at a phone's: pictures of them for
//! docs/screenshots/ (`scripts/screenshots` makes them), and the checks every page must
//! pass.

use std::path::PathBuf;

use crate::{
    browser::{Browser, DESKTOP, PHONE},
    helpers::*,
};

/// The pages of a signed-in company administrator, by name and address.
const SIGNED_IN: [(&str, &str); 12] = [
    ("home", "/"),
    ("security", "/security"),
    ("sessions", "/sessions"),
    ("switch", "/switch"),
    ("company", "/company"),
    ("users", "/company/users"),
    ("new-user", "/company/users/new"),
    ("audit", "/company/audit"),
    ("apps", "/company/apps"),
    ("accounts", "/accounts"),
    ("password", "/password"),
    ("not-found", "/no-such-page"),
];

/// Visits the main pages in a window `width` pixels wide, calling `visit` on each with
/// its name: signed out, on the way in with a code sent by SMS, and as a company's
/// administrator (the data processing agreement, then the pages of [`SIGNED_IN`]) who is
/// signed in elsewhere too.
async fn tour(width: u32, lang: &str, visit: impl AsyncFn(&Browser, &str)) {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let company = app.sms_driver(Some(10)).await;
    app.user(company.account, company.admin, "dispatcher").await;
    app.company_below(&company, "acme-north").await;
    app.token("acme-admin", PASSWORD).await;

    let browser = Browser::open_at(&app, width).await;
    browser.goto(&format!("/login?lang={lang}")).await;
    visit(&browser, "login").await;
    browser.goto("/forgot").await;
    visit(&browser, "forgot").await;
    browser.goto("/login").await;
    sign_in_here(&browser, "driver").await;
    if browser.path().await == "/login/code" {
        visit(&browser, "code").await;
    }
    browser.close().await;

    let browser = Browser::open_at(&app, width).await;
    browser.goto(&format!("/login?lang={lang}")).await;
    sign_in_here(&browser, "acme-admin").await;
    if browser.path().await == "/dpa" {
        visit(&browser, "dpa").await;
        browser.click("#accept-dpa").await;
    }
    for (name, path) in SIGNED_IN {
        browser.goto(path).await;
        visit(&browser, name).await;
    }
    browser.goto("/company/users").await;
    browser.click("#user-dispatcher .edit-user").await;
    visit(&browser, "user").await;
    browser.close().await;
}

async fn sign_in_here(browser: &Browser, username: &str) {
    browser.fill("#username", username).await;
    browser.fill("#password", PASSWORD).await;
    browser.click("#sign-in").await;
}

async fn shoot(browser: &Browser, name: &str) {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots").join(format!("{name}.png"));
    browser.save_screenshot(&file).await;
    println!("{} ({})", file.display(), browser.path().await);
}

// Ignored because it rewrites files under version control (docs/screenshots/) and checks
// nothing the unignored tour below does not: `scripts/screenshots` runs it on purpose.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes docs/screenshots/; scripts/screenshots runs it"]
async fn pictures_of_the_main_pages() {
    tour(DESKTOP, "en", async |browser, name| shoot(browser, name).await).await;
    let on_a_phone = async |browser: &Browser, name: &str| {
        if ["login", "home"].contains(&name) {
            shoot(browser, &format!("{name}-phone")).await;
        }
    };
    tour(PHONE, "en", on_a_phone).await;
}

/// Every page of the tour is checked as it loads (see `Browser::goto`): here at both
/// widths and in each language, since a longer word can push a button off a phone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_main_pages_are_accessible_and_fit_a_desktop_and_a_phone_in_every_language() {
    for (width, lang) in [(DESKTOP, "en"), (PHONE, "en"), (PHONE, "ru"), (PHONE, "es")] {
        tour(width, lang, async |_, _| {}).await;
    }
}
