//! "Login as" in a tab of its own: each tab keeps its identity, in a real browser; and
//! signing out where the tabs came from signs out of them too.

use fantoccini::{Locator, wd::WindowHandle};
use portcullis::values::UserId;
use reqwest::StatusCode;

use crate::{
    agent::{Agent, Stop},
    browser::Browser,
    db_test,
    helpers::*,
};

/// `acme`, whose administrator may act as its `driver` and `dispatcher` (who have
/// signed in once, so no first-login duty stands in the way).
pub async fn administrator_with_two_targets_in(app: &TestApp) -> (UserId, UserId) {
    let company = app.company("acme").await;
    let driver = app.user(company.account, company.admin, "driver").await;
    let dispatcher = app.user(company.account, company.admin, "dispatcher").await;
    for user in ["driver", "dispatcher"] {
        app.signed_in(user).await;
    }
    app.admin_may_act_as(&company, &[driver, dispatcher]).await;
    (driver, dispatcher)
}

/// An administrator who may act as `driver` and `dispatcher`, signed in in the browser.
async fn administrator_with_two_targets() -> (TestApp, Browser) {
    let app = TestApp::spawn(Backend::Sqlite).await;
    administrator_with_two_targets_in(&app).await;
    let browser = Browser::open(&app).await;
    browser.sign_in("acme-admin", PASSWORD).await;
    assert_eq!(browser.text("#who").await, "acme-admin");
    (app, browser)
}

/// Clicks "Open in a new tab" for `user` and returns the new tab, switched to.
async fn open_in_new_tab(browser: &Browser, user: &str) -> WindowHandle {
    let before = browser.client.windows().await.unwrap();
    browser.goto("/switch").await;
    browser
        .client
        .find(Locator::Css(&format!("#target-{user} .switch-new-tab")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    for _ in 0..600 {
        let now = browser.client.windows().await.unwrap();
        if let Some(new) = now.into_iter().find(|w| !before.contains(w)) {
            browser.client.switch_to_window(new.clone()).await.unwrap();
            for _ in 0..600 {
                if browser.path().await.starts_with("/as/") && browser.count("#who").await == 1 {
                    return new;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            panic!("the new tab did not open a page of its own");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no new tab opened");
}

/// Whom the page's background session check (`static/app.js`, relative to the page's
/// base) finds signed in.
async fn session_seen_by_the_page(browser: &Browser) -> String {
    let script = "const done = arguments[0]; fetch('api/v1/session?background=true')\
                  .then(r => r.json()).then(s => done(s.user.username));";
    browser.client.execute_async(script, vec![]).await.unwrap().as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_as_in_a_new_tab_leaves_the_first_tab_as_it_was() {
    let (_app, browser) = administrator_with_two_targets().await;
    let first = browser.client.window().await.unwrap();
    let driver_tab = open_in_new_tab(&browser, "driver").await;
    assert_eq!(browser.text("#who").await, "acme-admin (driver)");
    assert_eq!(session_seen_by_the_page(&browser).await, "driver", "the page's own session check too");
    browser.click("#security-link").await;
    assert!(browser.path().await.starts_with("/as/"), "links stay in the tab");
    assert_eq!(browser.text("#who").await, "acme-admin (driver)");

    browser.client.switch_to_window(first.clone()).await.unwrap();
    browser.goto("/").await;
    assert_eq!(browser.text("#who").await, "acme-admin", "the first tab is still the administrator");
    assert_eq!(session_seen_by_the_page(&browser).await, "acme-admin");
    let dispatcher_tab = open_in_new_tab(&browser, "dispatcher").await;
    assert_eq!(browser.text("#who").await, "acme-admin (dispatcher)");

    browser.client.switch_to_window(driver_tab).await.unwrap();
    browser.client.refresh().await.unwrap();
    assert_eq!(browser.text("#who").await, "acme-admin (driver)", "each tab keeps its own identity");
    browser.client.switch_to_window(dispatcher_tab).await.unwrap();
    browser.client.refresh().await.unwrap();
    assert_eq!(browser.text("#who").await, "acme-admin (dispatcher)");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_back_in_one_tab_leaves_the_others_alone() {
    let (_app, browser) = administrator_with_two_targets().await;
    let first = browser.client.window().await.unwrap();
    let driver_tab = open_in_new_tab(&browser, "driver").await;
    browser.client.switch_to_window(first.clone()).await.unwrap();
    let dispatcher_tab = open_in_new_tab(&browser, "dispatcher").await;

    browser.client.switch_to_window(driver_tab).await.unwrap();
    browser.click_and_confirm("#switch-back").await;
    assert_eq!(browser.text("#who").await, "acme-admin");
    assert!(browser.path().await.starts_with("/as/"), "the tab stays a tab of its own");

    browser.client.switch_to_window(dispatcher_tab).await.unwrap();
    browser.client.refresh().await.unwrap();
    assert_eq!(browser.text("#who").await, "acme-admin (dispatcher)");
    browser.client.switch_to_window(first).await.unwrap();
    browser.client.refresh().await.unwrap();
    assert_eq!(browser.text("#who").await, "acme-admin");
    browser.click("#sign-out").await;
    assert_eq!(browser.path().await, "/login");
    browser.close().await;
}

#[tokio::test]
async fn a_tab_without_its_trailing_slash_is_sent_to_it_and_a_stranger_in_a_tab_signs_in_first() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let bare = app.get("/as/0123abcd", None).await;
    assert!(bare.status().is_redirection());
    assert_eq!(bare.headers()["location"], "/as/0123abcd/");
    // Inside a tab only the tab's own cookie counts: the main session is not carried in.
    app.company("acme").await;
    let token = app.signed_in("acme-admin").await;
    let inside = app
        .http
        .get(app.url("/as/0123abcd/security"))
        .header("cookie", format!("portcullis_session={token}"))
        .send()
        .await
        .unwrap();
    assert!(inside.status().is_redirection());
    assert_eq!(inside.headers()["location"], "/as/0123abcd/login");
    let api = app
        .http
        .get(app.url("/as/0123abcd/api/v1/session"))
        .header("cookie", format!("portcullis_tab={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(api, StatusCode::OK).await["user"]["username"], "acme-admin");
}

/// Whom the page `stop` shows as signed in: `acme-admin (driver)` while acting.
fn who(stop: &Stop) -> String {
    let (_, _, body) = stop.page();
    let from = body.find(r#"id="who">"#).expect("a signed-in page") + r#"id="who">"#.len();
    body[from..from + body[from..].find('<').unwrap()].to_owned()
}

/// Opens "Login as `user`" in a new tab, from the first tab's switcher; answers the tab's
/// address (`/as/<tab>/`).
async fn tab_acting_as(agent: &Agent, user: UserId) -> String {
    let switcher = agent.visit("/switch").await;
    let opened = agent.submit(switcher.page().2, &format!("/switch/{}?tab=new", user.0), &[]).await;
    let path = opened.page().0.to_owned();
    assert!(path.starts_with("/as/"), "{path}");
    path
}

db_test! {
    async fn signing_out_signs_out_of_the_tabs_opened_from_there_and_a_tab_signs_out_alone(app: TestApp) {
        let (driver, dispatcher) = administrator_with_two_targets_in(&app).await;
        let agent = Agent::new(&app);
        let home = agent.sign_in(agent.visit("/login").await, "acme-admin", PASSWORD).await;
        assert_eq!(who(&home), "acme-admin");
        let driver_tab = tab_acting_as(&agent, driver).await;
        let dispatcher_tab = tab_acting_as(&agent, dispatcher).await;
        assert_eq!(who(&agent.visit(&driver_tab).await), "acme-admin (driver)");

        // A tab signs out of itself only.
        let page = agent.visit(&dispatcher_tab).await;
        let out = agent.submit(page.page().2, &format!("{dispatcher_tab}logout"), &[]).await;
        assert_eq!(out.page().0, format!("{dispatcher_tab}login"));
        assert_eq!(who(&agent.visit(&driver_tab).await), "acme-admin (driver)");
        assert_eq!(who(&agent.visit("/").await), "acme-admin");

        // The first tab acts as the dispatcher in place: its tabs go along with it.
        let switcher = agent.visit("/switch").await;
        let acting = agent.submit(switcher.page().2, &format!("/switch/{}", dispatcher.0), &[]).await;
        assert_eq!(who(&acting), "acme-admin (dispatcher)");
        assert_eq!(who(&agent.visit(&driver_tab).await), "acme-admin (driver)");

        // Signing out there leaves nobody signed in as someone else in a tab left open.
        let out = agent.submit(acting.page().2, "/logout", &[]).await;
        assert_eq!(out.page().0, "/login");
        assert_eq!(agent.visit(&driver_tab).await.page().0, format!("{driver_tab}login"));
        let acting = app.column::<i64>("SELECT COUNT(*) FROM sessions WHERE ended_at IS NULL AND acting_as_id IS NOT NULL").await;
        assert_eq!(acting, [0]);
    }
}

db_test! {
    async fn a_tab_opened_while_its_first_session_signs_out_does_not_outlive_it(app: TestApp) {
        let company = app.company("acme").await;
        let driver = app.user(company.account, company.admin, "driver").await;
        app.signed_in("driver").await;
        app.admin_may_act_as(&company, &[driver]).await;
        for round in 0..5 {
            let agent = Agent::new(&app);
            agent.sign_in(agent.visit("/login").await, "acme-admin", PASSWORD).await;
            let switcher = agent.visit("/switch").await;
            let (_, _, page) = switcher.page();
            let opening = format!("/switch/{}?tab=new", driver.0);
            tokio::join!(agent.submit(page, &opening, &[]), agent.submit(page, "/logout", &[]));
            let acting = app
                .column::<i64>("SELECT COUNT(*) FROM sessions WHERE ended_at IS NULL AND acting_as_id IS NOT NULL")
                .await;
            assert_eq!(acting, [0], "round {round}");
        }
    }
}
