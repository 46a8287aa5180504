//! Company administration from the browser: the users table, creating and editing a
//! user, the rights others hold on them, the actions on them, and the audit log in
//! words. In a real browser, on SQLite.

use reqwest::StatusCode;

use crate::{browser::Browser, helpers::*};

const NEW_PASSWORD: &str = "Tq5!walrus-Lantern";

/// A company whose administrator is signed in in the browser, on the users page.
async fn administrator_on_the_users_page() -> (TestApp, Company, Browser) {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let company = app.company("acme").await;
    app.signed_in("acme-admin").await;
    let browser = Browser::open(&app).await;
    browser.sign_in("acme-admin", PASSWORD).await;
    browser.click("#settings-link").await;
    browser.click("#company-users-link").await;
    (app, company, browser)
}

async fn driver_row(app: &TestApp) -> (String, bool, bool, String) {
    let sql = "SELECT language || ' ' || email_verified || ' ' || must_change_password || ' ' || \
               COALESCE(phone, '-') FROM users WHERE username = 'driver'";
    let row = app.column::<String>(sql).await.remove(0);
    let parts: Vec<&str> = row.split(' ').collect();
    (parts[0].to_owned(), parts[1] == "1", parts[2] == "1", parts[3].to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_creates_a_user_edits_them_and_gives_the_right_to_act_as_them() {
    let (app, _, browser) = administrator_on_the_users_page().await;
    browser.click("#new-user").await;
    browser.fill("#new-username", "driver").await;
    browser.fill("#new-user-password", NEW_PASSWORD).await;
    browser.fill("#user-email", "driver@fleet.example").await;
    browser.toggle("#user-email-verified").await;
    browser.select("#user-language", "ru").await;
    browser.click("#save-user").await;
    assert_eq!(browser.text("#notice").await, "The user is created.");
    assert_eq!(browser.text("h1").await, "driver");
    assert_eq!(driver_row(&app).await, ("ru".into(), true, true, "-".into()));

    browser.toggle("#user-must-change-password").await;
    browser.fill("#user-phone", "+35312345678").await;
    browser.click("#save-user").await;
    assert_eq!(browser.text("#notice").await, "The user is saved.");
    assert_eq!(driver_row(&app).await, ("ru".into(), true, false, "+35312345678".into()));

    assert_eq!(browser.count("#user-driver .login-as").await, 0);
    browser.toggle("#holder-acme-admin .act-as").await;
    browser.click("#save-rights").await;
    assert_eq!(browser.text("#notice").await, "The rights are saved.");
    assert!(browser.attr("#holder-acme-admin .act-as", "checked").await.is_some());
    browser.click("#company-users-link").await;
    browser.click("#user-driver .login-as").await;
    assert_eq!(browser.text("#who").await, "acme-admin (driver)");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_username_taken_or_a_weak_password_is_said_and_the_form_keeps_what_was_typed() {
    let (app, company, browser) = administrator_on_the_users_page().await;
    app.user(company.account, company.admin, "driver").await;
    browser.click("#new-user").await;
    browser.fill("#new-username", "driver").await;
    browser.fill("#new-user-password", NEW_PASSWORD).await;
    browser.fill("#user-email", "second@fleet.example").await;
    browser.click("#save-user").await;
    assert_eq!(browser.text("#error").await, "This username is taken.");
    assert_eq!(
        browser
            .client
            .find(fantoccini::Locator::Css("#user-email"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("second@fleet.example")
    );

    browser.fill("#new-username", "driver2").await;
    browser.fill("#new-user-password", "password123").await;
    browser.click("#save-user").await;
    assert!(browser.text("#error").await.contains("too easy to guess"));
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_on_a_user_are_offered_only_when_they_apply_and_a_destructive_one_asks_first() {
    let (app, company, browser) = administrator_on_the_users_page().await;
    app.user(company.account, company.admin, "driver").await;
    browser.goto("/company/users").await;
    assert_eq!(browser.count("#user-driver .unlock").await, 0, "not locked");
    assert_eq!(browser.count("#user-driver .reset-two-factor").await, 0, "no second factor to reset");
    assert_eq!(browser.count("#user-acme-admin .end-sessions").await, 0, "nothing to do to oneself");
    for _ in 0..5 {
        let refused = app.login("driver", "a wrong password").await;
        assert_ne!(refused.status(), StatusCode::OK);
    }
    browser.goto("/company/users").await;
    assert_eq!(browser.text("#user-driver .state").await, "Locked out");
    browser.click("#user-driver .unlock").await;
    assert_eq!(browser.text("#notice").await, "The user is unlocked.");
    assert_eq!(browser.text("#user-driver .state").await, "Active");
    assert!(browser.text("#user-driver").await.contains("Wrong password"), "the last sign-in is shown");
    browser.click_and_confirm("#user-driver .end-sessions").await;
    assert!(browser.text("#notice").await.contains("sessions are ended"));
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_reads_as_words_and_names_the_person_of_each_event() {
    let (app, company, browser) = administrator_on_the_users_page().await;
    app.user(company.account, company.admin, "driver").await;
    let refused = app.login("driver", "a wrong password").await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    browser.click("#company-audit-link").await;
    let failed = browser.text("#audit-log tr.sign_in-failed").await;
    assert!(failed.contains("driver (not signed in)"), "{failed}");
    assert!(failed.contains("Result: wrong password."), "{failed}");
    let created = browser.text("#audit-log tr.user-created").await;
    assert!(created.contains("driver") && created.contains("May receive SMS: no."), "{created}");
    let table = browser.text("#audit-log").await;
    assert!(!table.contains('{') && !table.contains('"'), "no JSON on the page: {table}");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_who_is_not_an_administrator_finds_no_user_administration() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let company = app.company("acme").await;
    app.user(company.account, company.admin, "driver").await;
    app.signed_in("driver").await;
    let browser = Browser::open(&app).await;
    browser.sign_in("driver", PASSWORD).await;
    for path in ["/company/users", "/company/users/new", &format!("/company/users/{}", company.admin.0)] {
        browser.goto(path).await;
        assert!(browser.text("#error").await.contains("right"), "{path}");
    }
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_cannot_open_a_user_of_another_company() {
    let (app, _, browser) = administrator_on_the_users_page().await;
    let other = app.company("globex").await;
    let stranger = app.user(other.account, other.admin, "stranger").await;
    for path in [format!("/company/users/{}", stranger.0), format!("/company/users/{}", other.admin.0)] {
        browser.goto(&path).await;
        assert!(browser.text("#error").await.contains("right"), "{path}");
    }
    assert_eq!(browser.count("#user-stranger").await, 0);
    browser.goto("/company/users").await;
    assert_eq!(browser.count("#user-stranger").await, 0, "the list is the company's own");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_refused_once_is_still_written_when_the_form_is_corrected() {
    let (app, company, browser) = administrator_on_the_users_page().await;
    let driver = app.user(company.account, company.admin, "driver").await;
    browser.goto(&format!("/company/users/{}", driver.0)).await;
    browser.toggle("#user-can-send-sms").await;
    browser.fill("#user-phone", "12").await;
    browser.click("#save-user").await;
    assert_eq!(browser.text("#error").await, "Use the international form, e.g. +35312345678.");
    assert!(browser.attr("#user-can-send-sms", "checked").await.is_some(), "the form keeps what was ticked");
    browser.fill("#user-phone", "+35312345678").await;
    browser.click("#save-user").await;
    assert_eq!(browser.text("#notice").await, "The user is saved.");
    let sms: Vec<bool> = app.column("SELECT can_send_sms FROM users WHERE username = 'driver'").await;
    assert_eq!(sms, [true], "the box ticked before the refusal is saved too");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_loaded_before_another_administrator_revoked_a_right_does_not_give_it_back() {
    let (app, company, browser) = administrator_on_the_users_page().await;
    let driver = app.user(company.account, company.admin, "driver").await;
    let dispatcher = app.user(company.account, company.admin, "dispatcher").await;
    let admin = app.signed_in("acme-admin").await;
    let path = format!("/api/v1/users/{}/grants/{}", dispatcher.0, driver.0);
    let put = |rights: serde_json::Value| {
        app.send(reqwest::Method::PUT, &path, Some(&admin), Some(serde_json::json!({ "rights": rights })))
    };
    assert_eq!(put(serde_json::json!(["act_as"])).await.status(), StatusCode::OK);
    browser.goto(&format!("/company/users/{}", driver.0)).await;
    assert!(browser.attr("#holder-dispatcher .act-as", "checked").await.is_some());

    assert_eq!(put(serde_json::json!([])).await.status(), StatusCode::OK, "revoked elsewhere meanwhile");
    browser.toggle("#holder-dispatcher .manage").await;
    browser.click("#save-rights").await;
    assert_eq!(browser.text("#notice").await, "The rights are saved.");
    let rights: Vec<String> = app.column("SELECT right_name FROM grants ORDER BY right_name").await;
    assert_eq!(rights, ["manage"], "act_as stays revoked; manage, ticked here, is given");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_company_is_listed_fifty_users_a_page_and_searched_by_name() {
    let (app, _, browser) = administrator_on_the_users_page().await;
    // 60 more users, made straight in the database: a large company without 60 hashings.
    app.raw_sql(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60) \
         INSERT INTO users (account_id, username, creator_id, password_hash, created_at) \
         SELECT u.account_id, 'driver' || substr('0' || i, -2), u.id, u.password_hash, u.created_at \
         FROM n, users u WHERE u.username = 'acme-admin'",
    )
    .await;
    browser.goto("/company/users").await;
    assert_eq!(browser.count("#users-table tbody tr").await, 50);
    assert_eq!(browser.text("#users-range").await, "Users 1–50 of 61");
    browser.click("#users-next").await;
    assert_eq!(browser.count("#users-table tbody tr").await, 11);
    assert_eq!(browser.text("#users-range").await, "Users 51–61 of 61");
    assert_eq!(browser.count("#users-next").await, 0);
    browser.fill("#users-q", "DRIVER4").await;
    browser.click("#find-users").await;
    assert_eq!(browser.text("#users-range").await, "Users 1–10 of 10", "driver40 to driver49, any case");
    assert_eq!(browser.count("#users-previous").await, 0);
    browser.close().await;
}
