//! An account's life: blocking dates (also from an account above), services and quotas
//! set from above, and the daily notices before the blocking date, under a moved clock.

use portcullis::{lifecycle, rights::Actor, store::TermsChanges, users::UserRequest, values::UserId};
use reqwest::{Method, StatusCode};
use serde_json::json;
use time::{Duration, format_description::well_known::Rfc3339};

use crate::{browser::Browser, db_test, helpers::*};

/// Sets an account's terms as the operator would at the command line.
async fn set_terms(app: &TestApp, company: &Company, changes: TermsChanges) {
    lifecycle::change_terms(&app.app.store, &Actor::operator(), company.account, &changes, app.now())
        .await
        .expect("terms changed");
}

/// `at` seconds from now, as RFC 3339.
fn rfc3339(app: &TestApp, after: Duration) -> String {
    (time::OffsetDateTime::from_unix_timestamp(app.now()).unwrap() + after).format(&Rfc3339).unwrap()
}

async fn patch_account(
    app: &TestApp,
    token: &str,
    company: &Company,
    body: serde_json::Value,
) -> reqwest::Response {
    let path = format!("/api/v1/accounts/{}", company.account.0);
    app.send(Method::PATCH, &path, Some(token), Some(body)).await
}

db_test! {
    async fn sign_in_is_refused_from_the_blocking_date_on_and_open_sessions_end(app: TestApp) {
        let reseller = app.company("reseller").await;
        let fleet = app.company_below(&reseller, "fleet").await;
        app.user(fleet.account, fleet.admin, "driver").await;
        let driver = app.signed_in("driver").await;
        let admin = app.signed_in("reseller-admin").await;
        let at = rfc3339(&app, Duration::minutes(2));
        let answer = patch_account(&app, &admin, &fleet, json!({ "blocking_date": at })).await;
        let account = json_of(answer, StatusCode::OK).await;
        assert_eq!(account["blocking_date"], json!(at));
        assert_eq!(account["blocked_from"], json!(at));
        assert_eq!(app.get("/api/v1/session", Some(&driver)).await.status(), StatusCode::OK);

        app.advance(Duration::minutes(2));
        let refused = json_of(app.get("/api/v1/session", Some(&driver)).await, StatusCode::FORBIDDEN).await;
        assert_eq!(refused["error"], "account_blocked");
        // The session ended with that answer.
        assert_eq!(app.get("/api/v1/session", Some(&driver)).await.status(), StatusCode::UNAUTHORIZED);
        let login = json_of(app.login("driver", PASSWORD).await, StatusCode::FORBIDDEN).await;
        assert_eq!(login["error"], "account_blocked");
        // A wrong password still says nothing about the account.
        assert_eq!(app.login("driver", "Wrong-password-1!").await.status(), StatusCode::UNAUTHORIZED);
        // The account above is not blocked.
        assert_eq!(app.get("/api/v1/session", Some(&admin)).await.status(), StatusCode::OK);

        let later = rfc3339(&app, Duration::days(30));
        let moved = patch_account(&app, &admin, &fleet, json!({ "blocking_date": later })).await;
        assert_eq!(moved.status(), StatusCode::OK);
        assert_eq!(app.login("driver", PASSWORD).await.status(), StatusCode::OK);
    }
}

db_test! {
    async fn accounts_below_a_blocked_account_are_blocked_until_its_date_is_cleared(app: TestApp) {
        let top = app.company("top").await;
        let reseller = app.company_below(&top, "reseller").await;
        let fleet = app.company_below(&reseller, "fleet").await;
        let fleet_admin = app.signed_in("fleet-admin").await;
        let admin = app.signed_in("top-admin").await;
        let own = rfc3339(&app, Duration::days(10));
        let answer = patch_account(&app, &admin, &fleet, json!({ "blocking_date": own })).await;
        assert_eq!(answer.status(), StatusCode::OK);
        let now = rfc3339(&app, Duration::ZERO);
        let answer = patch_account(&app, &admin, &reseller, json!({ "blocking_date": now })).await;
        assert_eq!(answer.status(), StatusCode::OK);

        let path = format!("/api/v1/accounts/{}", fleet.account.0);
        let seen = json_of(app.get(&path, Some(&admin)).await, StatusCode::OK).await;
        assert_eq!((seen["blocking_date"].clone(), seen["blocked_from"].clone()), (json!(own), json!(now)));
        assert_eq!(app.get("/api/v1/session", Some(&fleet_admin)).await.status(), StatusCode::FORBIDDEN);
        assert_eq!(app.login("fleet-admin", PASSWORD).await.status(), StatusCode::FORBIDDEN);

        let cleared = patch_account(&app, &admin, &reseller, json!({ "blocking_date": null })).await;
        assert_eq!(json_of(cleared, StatusCode::OK).await["blocking_date"], json!(null));
        let seen = json_of(app.get(&path, Some(&admin)).await, StatusCode::OK).await;
        assert_eq!(seen["blocked_from"], json!(own));
        assert_eq!(app.login("fleet-admin", PASSWORD).await.status(), StatusCode::OK);
    }
}

db_test! {
    async fn nobody_acts_as_a_user_whose_account_is_blocked(app: TestApp) {
        let reseller = app.company("reseller").await;
        let fleet = app.company_below(&reseller, "fleet").await;
        let admin = app.signed_in("reseller-admin").await;
        let grant = json!({ "rights": ["act_as"] });
        let path = format!("/api/v1/users/{}/grants/{}", reseller.admin.0, fleet.admin.0);
        assert_eq!(app.send(Method::PUT, &path, Some(&admin), Some(grant)).await.status(), StatusCode::OK);
        let now = rfc3339(&app, Duration::ZERO);
        assert_eq!(patch_account(&app, &admin, &fleet, json!({ "blocking_date": now })).await.status(), StatusCode::OK);
        let login_as = json!({ "username": "reseller-admin", "password": PASSWORD, "login_as": "fleet-admin" });
        let refused = json_of(app.post("/api/v1/login", None, login_as).await, StatusCode::FORBIDDEN).await;
        assert_eq!(refused["error"], "target_account_blocked");
        let switch = json!({ "user_id": fleet.admin.0 });
        let refused = json_of(app.post("/api/v1/impersonation", Some(&admin), switch).await, StatusCode::FORBIDDEN).await;
        assert_eq!(refused["error"], "target_account_blocked");
    }
}

db_test! {
    async fn an_accounts_own_top_users_see_its_terms_but_only_accounts_above_change_them(app: TestApp) {
        let reseller = app.company_with_sms("reseller", Some(100)).await;
        let fleet = app.company_below(&reseller, "fleet").await;
        app.user(fleet.account, fleet.admin, "driver").await;
        let fleet_admin = app.signed_in("fleet-admin").await;
        let driver = app.signed_in("driver").await;
        let admin = app.signed_in("reseller-admin").await;
        let path = format!("/api/v1/accounts/{}", fleet.account.0);
        let seen = json_of(app.get(&path, Some(&fleet_admin)).await, StatusCode::OK).await;
        assert_eq!(seen["services"], json!({ "sms": null, "email_notifications": false }));
        assert_eq!(app.get(&path, Some(&driver)).await.status(), StatusCode::FORBIDDEN);
        let extend = json!({ "blocking_date": null, "services": { "sms": { "quota": 1000 } } });
        let refused = patch_account(&app, &fleet_admin, &fleet, extend).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);

        let services = json!({ "services": { "sms": { "quota": 25 }, "email_notifications": true } });
        let changed = json_of(patch_account(&app, &admin, &fleet, services).await, StatusCode::OK).await;
        assert_eq!(changed["services"], json!({ "sms": { "quota": 25 }, "email_notifications": true }));
        let off = json!({ "services": { "sms": null } });
        let changed = json_of(patch_account(&app, &admin, &fleet, off).await, StatusCode::OK).await;
        assert_eq!(changed["services"], json!({ "sms": null, "email_notifications": true }));
        let negative = json!({ "services": { "sms": { "quota": -1 } } });
        let invalid = json_of(patch_account(&app, &admin, &fleet, negative).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(invalid["field"], "sms_quota");
        let bad_date = json!({ "blocking_date": "next tuesday" });
        let invalid = json_of(patch_account(&app, &admin, &fleet, bad_date).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(invalid["field"], "blocking_date");

        let changes: Vec<_> =
            app.audit_trail(fleet.account).await.into_iter().filter(|(a, _)| a == "account.updated").collect();
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[0].1["before"], json!({ "sms": null, "email_notifications": false }));
        assert_eq!(changes[0].1["after"], json!({ "sms": { "quota": 25 }, "email_notifications": true }));
        assert_eq!(changes[1].1["after"], json!({ "sms": null }));
    }
}

db_test! {
    async fn codes_fall_back_to_email_once_the_quota_is_set_to_zero_and_the_change_is_audited(app: TestApp) {
        let company = app.sms_driver(Some(10)).await;
        set_terms(&app, &company, TermsChanges { sms_quota: Some(Some(0)), ..Default::default() }).await;
        let login = json_of(app.login("driver", PASSWORD).await, StatusCode::OK).await;
        assert_eq!((login["channel"].clone(), login["fallback"].clone()), (json!("email"), json!("quota_used_up")));
        let trail = app.audit_trail(company.account).await;
        let (_, details) = trail.iter().find(|(a, _)| a == "account.updated").expect("the change is audited");
        assert_eq!(details["before"]["sms"], json!({ "quota": 10 }));
        assert_eq!(details["after"]["sms"], json!({ "quota": 0 }));
    }
}

/// A company with the `email_notifications` service on (when `service`), blocked 7 days
/// from now, and its user `watcher` with an email address, opted in (when `opted_in`).
async fn watched_company(app: &TestApp, service: bool, opted_in: bool) -> (Company, UserId) {
    let company = app.company("acme").await;
    let watcher = UserRequest {
        username: "watcher".into(),
        email: Some("watcher@fleet.example".into()),
        email_verified: true,
        ..Default::default()
    };
    let watcher = app.user_from(company.account, company.admin, watcher).await;
    let token = app.signed_in("watcher").await;
    let patch = json!({ "notify_account_blocking": opted_in });
    let answer = app.send(Method::PATCH, "/api/v1/me/security", Some(&token), Some(patch)).await;
    assert_eq!(json_of(answer, StatusCode::OK).await["notify_account_blocking"], json!(opted_in));
    let changes = TermsChanges {
        blocking_at: Some(Some(app.now() + 7 * 86_400)),
        email_notifications: Some(service),
        ..Default::default()
    };
    set_terms(app, &company, changes).await;
    (company, watcher)
}

/// Runs the day's notice job on `app` as the server's scheduler does.
async fn run_notices(app: &TestApp) -> usize {
    lifecycle::send_notices(&app.app.store, app.app.config.notice_hour, app.now())
        .await
        .expect("the notice job runs")
}

db_test! {
    async fn a_notice_arrives_on_each_of_the_five_days_before_blocking_and_not_before(app: TestApp) {
        watched_company(&app, true, true).await;
        let mut days_left_seen = Vec::new();
        for day in 0..9 {
            if day > 0 {
                app.advance(Duration::days(1));
            }
            run_notices(&app).await;
            assert_eq!(run_notices(&app).await, 0, "a second run on day {day} sends nothing");
            let before = days_left_seen.len();
            let expected = if (2..=6).contains(&day) { before + 1 } else { before };
            assert_eq!(app.outbox_attempts().await.len(), expected, "notices queued by day {day}");
            if expected > before {
                let mail = app.smtp.wait_for(expected).await;
                assert_eq!(mail.to, ["watcher@fleet.example"]);
                assert!(mail.data.contains("Subject: Your account will be blocked on 2030-03-08 09:00 UTC"));
                let text = mail.text();
                let at = text.find("Days left: ").expect("the days left") + 11;
                days_left_seen.push(text[at..at + 1].to_owned());
                app.outbox_settled().await;
            }
        }
        assert_eq!(days_left_seen, ["5", "4", "3", "2", "1"]);
    }
}

db_test! {
    async fn no_notice_goes_out_without_the_service_or_the_opt_in(app: TestApp) {
        let (company, _) = watched_company(&app, false, true).await;
        let other = UserRequest {
            username: "bystander".into(),
            email: Some("b@fleet.example".into()),
            email_verified: true,
            ..Default::default()
        };
        app.user_from(company.account, company.admin, other).await;
        let unconfirmed =
            UserRequest { username: "unconfirmed".into(), email: Some("u@fleet.example".into()), ..Default::default() };
        app.user_from(company.account, company.admin, unconfirmed).await;
        let token = app.signed_in("unconfirmed").await;
        let opt_in = json!({ "notify_account_blocking": true });
        let answer = app.send(Method::PATCH, "/api/v1/me/security", Some(&token), Some(opt_in)).await;
        assert_eq!(answer.status(), StatusCode::OK);
        app.advance(Duration::days(3));
        assert_eq!(run_notices(&app).await, 0);
        set_terms(&app, &company, TermsChanges { email_notifications: Some(true), ..Default::default() }).await;
        run_notices(&app).await;
        let only = "only the user who opted in with a confirmed address, once the service is on";
        assert_eq!(app.outbox_attempts().await.len(), 1, "{only}");
        assert_eq!(app.smtp.wait_for(1).await.to, ["watcher@fleet.example"]);
    }
}

db_test! {
    async fn notices_wait_for_the_hour_of_the_day(app: TestApp) {
        watched_company(&app, true, true).await;
        app.advance(Duration::days(3) - Duration::minutes(1));
        assert_eq!(run_notices(&app).await, 0, "08:59 is before the hour");
        assert!(app.outbox_attempts().await.is_empty());
        app.advance(Duration::minutes(1));
        run_notices(&app).await;
        assert_eq!(app.outbox_attempts().await.len(), 1);
    }
}

db_test! {
    async fn three_instances_on_one_database_send_each_days_notice_once(app: TestApp) {
        watched_company(&app, true, true).await;
        let (second, third) = (app.another_instance().await, app.another_instance().await);
        for day in 3..=5 {
            for instance in [&app, &second, &third] {
                instance.clock.set(START + Duration::days(day));
            }
            let (a, b, c) = tokio::join!(run_notices(&app), run_notices(&second), run_notices(&third));
            assert!(a + b + c <= 1, "day {day}: at most one notice among the instances");
            assert_eq!(app.outbox_attempts().await.len() as i64, day - 2, "day {day}: one notice a day");
        }
        assert_eq!(app.outbox_attempts().await.len(), 3);
        app.smtp.wait_for(3).await;
    }
}

db_test! {
    async fn an_instance_that_was_down_catches_up_when_it_starts_without_sending_twice(app: TestApp) {
        let mut app = app;
        watched_company(&app, true, true).await;
        app.stop_server();
        // Back three days later, past the usual hour: the scheduler runs at start.
        app.clock.set(START + Duration::days(3) + Duration::hours(5));
        let restarted = app.another_instance().await;
        let mail = app.smtp.wait_for(1).await;
        assert!(mail.text().contains("Days left: 4"));
        assert_eq!(run_notices(&restarted).await, 0);
        restarted.advance(Duration::hours(1));
        let again = restarted.another_instance().await;
        assert_eq!(run_notices(&again).await, 0);
        assert_eq!(app.outbox_attempts().await.len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_blocked_from_the_accounts_page_sends_its_users_to_a_clear_page() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let reseller = app.company_with_sms("reseller", Some(100)).await;
    let fleet = app.company_below(&reseller, "fleet").await;
    app.signed_in("reseller-admin").await;
    app.signed_in("fleet-admin").await;
    let browser = Browser::open(&app).await;
    browser.sign_in("reseller-admin", PASSWORD).await;
    browser.click("#settings-link").await;
    browser.click("#accounts-link").await;
    let form = format!("#account-{}", fleet.account.0);
    browser.set_value(&format!("{form} .blocking-date"), "2030-03-01T09:02").await;
    browser.toggle(&format!("{form} .sms")).await;
    browser.fill(&format!("{form} .sms-quota"), "5").await;
    browser.click(&format!("{form} .save-account")).await;
    assert_eq!(browser.text("#notice").await, "Account saved.");
    assert_eq!(
        browser.attr(&format!("{form} .blocking-date"), "value").await.as_deref(),
        Some("2030-03-01T09:02")
    );
    browser.close().await;

    let browser = Browser::open(&app).await;
    browser.sign_in("fleet-admin", PASSWORD).await;
    browser.goto("/accounts").await;
    assert_eq!(browser.text("#own-blocking-date").await, "2030-03-01 09:02:00 UTC");
    assert_eq!(browser.text("#own-sms").await, "On, 5 messages left");
    assert_eq!(browser.count("#children form").await, 0);
    browser.goto("/security").await;
    assert_eq!(browser.count("#notices-service-off").await, 1);
    browser.toggle("#notify-account-blocking").await;
    browser.click("#save-notices").await;
    assert_eq!(browser.text("#notice").await, "Notice settings saved.");
    assert!(browser.attr("#notify-account-blocking", "checked").await.is_some());

    app.advance(Duration::minutes(2));
    browser.goto("/security").await;
    assert_eq!(browser.path().await, "/login");
    assert!(browser.text("#error").await.contains("Your account is blocked"));
    browser.sign_in("fleet-admin", PASSWORD).await;
    assert_eq!(browser.text("h1").await, "Your account is blocked");
    assert_eq!(browser.text("#blocked-since").await, "Blocked since 2030-03-01 09:02:00 UTC.");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_top_user_creates_an_account_below_theirs_whose_administrator_signs_in() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.company_with_sms("reseller", Some(100)).await;
    app.signed_in("reseller-admin").await;
    let browser = Browser::open(&app).await;
    browser.sign_in("reseller-admin", PASSWORD).await;
    browser.goto("/accounts").await;
    browser.fill("#new-account-name", "fleet").await;
    browser.fill("#new-account-admin", "reseller-admin").await;
    browser.fill("#new-account-password", "Tq5!walrus-Lantern").await;
    browser.fill("#new-account-sms", "20").await;
    browser.click("#create-account").await;
    assert_eq!(browser.text("#error").await, "This account name or username is taken.");
    assert_eq!(
        browser.attr("#new-account-sms", "value").await.as_deref(),
        Some("20"),
        "the form keeps its values"
    );
    browser.fill("#new-account-admin", "fleet-boss").await;
    browser.fill("#new-account-password", "Tq5!walrus-Lantern").await;
    browser.click("#create-account").await;
    assert!(browser.text("#notice").await.starts_with("The account is created."));
    assert!(browser.text("#children").await.contains("fleet"));
    browser.close().await;

    let answer = app.login("fleet-boss", "Tq5!walrus-Lantern").await;
    let signed_in = json_of(answer, StatusCode::OK).await;
    assert_eq!(signed_in["session"]["account"]["name"], "fleet");
    assert_eq!(signed_in["session"]["pending"], json!(["accept_dpa", "change_password"]));
}
