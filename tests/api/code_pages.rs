//! The sign-in code page and the Security tab's addresses and second factor, in a real
//! browser (on SQLite, like the other pages).

use portcullis::users::UserRequest;
use reqwest::{Method, StatusCode};
use serde_json::json;
use time::Duration;

use crate::{browser::Browser, helpers::*};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_code_turns_the_field_red_and_the_right_one_signs_in() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.sms_driver(Some(10)).await;
    let browser = Browser::open(&app).await;
    browser.sign_in("driver", PASSWORD).await;
    assert_eq!(browser.path().await, "/login/code");
    assert!(browser.text("#sent-to").await.contains("+35*******78"));
    assert!(browser.attr("#resend-sms", "disabled").await.is_some());
    assert!(browser.attr("#resend-email", "disabled").await.is_some());
    assert!(
        browser.text("#countdown").await.contains("30 s")
            || browser.text("#countdown").await.contains("29 s")
    );
    let code = app.sms.wait_for(1).await.code();
    browser.fill("#code", wrong_code(&code)).await;
    browser.click("#verify").await;
    assert_eq!(browser.attr("#code", "class").await.as_deref(), Some("invalid"));
    assert!(browser.text("#error").await.contains("Attempts left: 4"));
    browser.fill("#code", &code).await;
    browser.click("#verify").await;
    assert_eq!(browser.path().await, "/");
    assert!(browser.text("#who").await.contains("driver"));
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contact_person_appears_after_three_wrong_codes_and_a_new_code_may_come_by_email() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let company = app.sms_driver(Some(10)).await;
    let admin = app.signed_in("acme-admin").await;
    let path = format!("/api/v1/accounts/{}/two-factor-policy", company.account.0);
    let policy =
        json!({ "delivery": "sms_then_email", "contact": { "name": "Ops desk", "phone": "+35387000000" } });
    assert_eq!(app.send(Method::PUT, &path, Some(&admin), Some(policy)).await.status(), StatusCode::OK);
    let browser = Browser::open(&app).await;
    browser.sign_in("driver", PASSWORD).await;
    let code = app.sms.wait_for(1).await.code();
    for _ in 0..2 {
        browser.fill("#code", wrong_code(&code)).await;
        browser.click("#verify").await;
    }
    assert_eq!(browser.count("#contact").await, 0);
    browser.fill("#code", wrong_code(&code)).await;
    browser.click("#verify").await;
    assert_eq!(browser.text("#contact-name").await, "Ops desk");
    assert_eq!(browser.text("#contact-phone").await, "+35387000000");
    app.advance(Duration::seconds(30));
    browser.goto("/login/code").await;
    assert!(browser.attr("#resend-email", "disabled").await.is_none());
    browser.click("#resend-email").await;
    assert!(browser.text("#notice").await.contains("new code"));
    assert!(browser.text("#sent-to").await.contains("d*****@fleet.example"));
    let code = app.smtp.wait_for(1).await.code_after("code is ");
    browser.fill("#code", &code).await;
    browser.click("#verify").await;
    assert_eq!(browser.path().await, "/");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_security_tab_confirms_email_and_phone_and_turns_on_sms_codes_per_app() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let company = app.company_with_sms("acme", Some(10)).await;
    let driver = UserRequest { username: "driver".into(), can_send_sms: true, ..Default::default() };
    app.user_from(company.account, company.admin, driver).await;
    app.signed_in("driver").await;
    let browser = Browser::open(&app).await;
    browser.sign_in("driver", PASSWORD).await;
    browser.goto("/security").await;
    // SMS codes need a confirmed phone first.
    browser.select("#two-factor-web", "sms").await;
    browser.click("#save-two-factor").await;
    assert!(browser.text("#error").await.contains("Confirm the address first"));

    browser.fill("#email", "driver@fleet.example").await;
    browser.click("#save-email").await;
    assert!(browser.text("#error").await.contains("current password"));
    browser.fill("#email", "driver@fleet.example").await;
    browser.fill("#email-password", PASSWORD).await;
    browser.click("#save-email").await;
    assert_eq!(browser.text("#email-status").await, "Not confirmed");
    browser.click("#send-email").await;
    let code = app.smtp.wait_for(1).await.code_after("code is ");
    browser.fill("#email-code", &code).await;
    browser.click("#confirm-email").await;
    assert!(browser.text("#notice").await.contains("email address is confirmed"));
    assert_eq!(browser.text("#email-status").await, "Confirmed");

    browser.fill("#phone", "+353 1234 5678").await;
    browser.fill("#phone-password", PASSWORD).await;
    browser.click("#save-phone").await;
    browser.click("#send-sms").await;
    let sms = app.sms.wait_for(1).await;
    assert_eq!(sms.to, "+35312345678");
    browser
        .fill("#phone-code", &sms.text.chars().filter(char::is_ascii_digit).take(6).collect::<String>())
        .await;
    browser.click("#confirm-phone").await;
    assert_eq!(browser.text("#phone-status").await, "Confirmed");

    browser.select("#two-factor-web", "sms").await;
    browser.click("#save-two-factor").await;
    assert!(browser.text("#notice").await.contains("saved"));
    assert_eq!(browser.attr("#two-factor-web option[value=sms]", "selected").await.as_deref(), Some("true"));
    let login = json_of(app.login("driver", PASSWORD).await, StatusCode::OK).await;
    assert_eq!((login["status"].as_str(), login["channel"].as_str()), (Some("second_factor"), Some("sms")));
    let manager = json!({ "username": "driver", "password": PASSWORD, "app": "manager" });
    assert_eq!(json_of(app.post("/api/v1/login", None, manager).await, StatusCode::OK).await["status"], "ok");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authenticator_added_on_the_security_tab_signs_in_then_a_backup_code_and_a_trusted_browser() {
    use crate::authenticator::{base32_decode, totp_code};
    let app = TestApp::spawn(Backend::Sqlite).await;
    let company = app.company("acme").await;
    app.user(company.account, company.admin, "driver").await;
    app.signed_in("driver").await;
    let browser = Browser::open(&app).await;
    browser.sign_in("driver", PASSWORD).await;
    browser.goto("/security").await;
    browser.fill("#new-authenticator-password", PASSWORD).await;
    browser.click("#add-authenticator").await;
    assert_eq!(browser.count("#qr svg").await, 1);
    let secret = base32_decode(&browser.text("#totp-secret").await);
    browser.fill("#authenticator-code", wrong_code(&totp_code(&secret, app.now(), 6))).await;
    browser.click("#confirm-authenticator").await;
    assert_eq!(browser.attr("#authenticator-code", "class").await.as_deref(), Some("invalid"));
    assert_eq!(base32_decode(&browser.text("#totp-secret").await), secret, "the same secret again");
    browser.fill("#authenticator-code", &totp_code(&secret, app.now(), 6)).await;
    browser.click("#confirm-authenticator").await;
    assert_eq!(browser.count("#backup-codes li").await, 10);
    let codes = browser.text("#backup-codes").await;
    let first_code = codes.lines().next().unwrap().trim().to_owned();
    assert!(browser.attr("#download-codes", "href").await.unwrap().contains(&first_code));
    browser.click("#done").await;
    assert!(browser.text("#authenticator-status").await.starts_with("On"));
    assert_eq!(browser.text("#backup-codes-left").await, "Backup codes left: 10.");
    browser.click("#sign-out").await;

    app.advance(Duration::seconds(30));
    browser.sign_in("driver", PASSWORD).await;
    assert_eq!(browser.path().await, "/login/code");
    assert!(browser.text("#sent-to").await.contains("authenticator app"));
    assert_eq!(browser.count("#resend-form").await, 0);
    browser.fill("#code", &totp_code(&secret, app.now(), 6)).await;
    browser.click("#verify").await;
    assert_eq!(browser.path().await, "/");
    browser.click("#sign-out").await;

    browser.sign_in("driver", PASSWORD).await;
    browser.fill("#code", &first_code).await;
    browser.client.find(fantoccini::Locator::Css("#trust-device")).await.unwrap().click().await.unwrap();
    browser.click("#verify").await;
    assert_eq!(browser.path().await, "/");
    browser.goto("/security").await;
    assert_eq!(browser.text("#backup-codes-left").await, "Backup codes left: 9.");
    assert_eq!(browser.count("#trusted-devices .revoke-device").await, 1);
    browser.click("#sign-out").await;

    // This browser is trusted now: the password is enough.
    browser.sign_in("driver", PASSWORD).await;
    assert_eq!(browser.path().await, "/");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_sets_the_company_s_2fa_and_reads_it_in_the_audit_log() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let company = app.company("acme").await;
    app.user(company.account, company.admin, "driver").await;
    app.signed_in("acme-admin").await;
    app.signed_in("driver").await;
    let browser = Browser::open(&app).await;
    browser.sign_in("driver", PASSWORD).await;
    assert_eq!(browser.count("#settings-link").await, 0);
    browser.goto("/company").await;
    assert!(browser.text("#error").await.contains("right"));
    browser.goto("/").await;
    browser.click("#sign-out").await;

    browser.sign_in("acme-admin", PASSWORD).await;
    browser.click("#settings-link").await;
    browser.client.find(fantoccini::Locator::Css("#delivery-email")).await.unwrap().click().await.unwrap();
    browser.fill("#contact-name", "Ops desk").await;
    browser.fill("#contact-phone", "+35387000000").await;
    browser.click("#save-general").await;
    assert_eq!(browser.text("#notice").await, "Saved.");
    assert_eq!(browser.attr("#delivery-email", "checked").await.as_deref(), Some("true"));
    browser.client.find(fantoccini::Locator::Css("#default-web")).await.unwrap().click().await.unwrap();
    browser.click("#save-defaults").await;
    assert_eq!(browser.attr("#default-web", "checked").await.as_deref(), Some("true"));
    browser.fill("#contact-phone", "12").await;
    browser.click("#save-general").await;
    assert!(browser.text("#error").await.contains("international form"));

    browser.click("#company-audit-link").await;
    assert_eq!(browser.count("#audit-log tr.two_factor_policy-changed").await, 2);
    let newest = browser.text("#audit-log tbody tr:first-child").await;
    assert!(newest.contains("acme-admin") && newest.contains("Company 2FA settings changed"), "{newest}");

    browser.select("#filter-action", "sign_in").await;
    browser.click("#filter").await;
    assert!(browser.count("#audit-log tbody tr").await >= 2);
    assert_eq!(browser.count("#audit-log tr.two_factor_policy-changed").await, 0);
    assert!(browser.attr("#export-csv", "href").await.unwrap().ends_with("company/audit.csv?action=sign_in"));

    browser.click("#company-users-link").await;
    browser.click_and_confirm("#user-driver .end-sessions").await;
    assert!(browser.text("#notice").await.contains("sessions are ended"));
    browser.click("#company-audit-link").await;
    assert_eq!(browser.count("#audit-log tr.sessions-ended_by_administrator").await, 1);
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_password_is_reset_through_the_emailed_link_in_english_and_in_russian() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let company = app.company("acme").await;
    for (username, language) in [("driver", "en"), ("voditel", "ru")] {
        let user = UserRequest {
            username: username.into(),
            email: Some(format!("{username}@fleet.example")),
            email_verified: true,
            can_change_password: true,
            language: Some(language.into()),
            ..Default::default()
        };
        app.user_from(company.account, company.admin, user).await;
    }
    let browser = Browser::open(&app).await;
    for (n, (username, lang, title, sent, mail_words)) in [
        ("driver", "en", "Forgot your password?", "a link is on its way", "To get a new one"),
        ("voditel", "ru", "Забыли пароль?", "ссылка уже отправлена", "Чтобы получить новый"),
    ]
    .into_iter()
    .enumerate()
    {
        browser.goto(&format!("/login?lang={lang}")).await;
        browser.click("#forgot").await;
        assert_eq!(browser.text("h1").await, title);
        browser.fill("#username", username).await;
        browser.fill("#email", &format!("{username}@fleet.example")).await;
        browser.click("#reset-password").await;
        assert!(browser.text("#notice").await.contains(sent));
        let text = app.smtp.wait_for(n + 1).await.text();
        assert!(text.contains(mail_words), "{text}");
        let link = crate::recovery::link_in_mail(&app, n + 1).await;
        browser.goto(&link).await;
        // Opening the link alone changes nothing.
        assert_eq!(app.login(username, PASSWORD).await.status(), StatusCode::OK);
        browser.click("#get-new-password").await;
        let password = browser.text("#new-password").await;
        assert_eq!(browser.text("#reset-username").await, username);
        browser.click("#sign-in-link").await;
        browser.sign_in(username, &password).await;
        assert_eq!(browser.path().await, "/dpa", "first the agreement, then the forced change");
        browser.goto("/").await;
        browser.client.delete_all_cookies().await.unwrap();
    }
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_logs_in_as_a_driver_switches_with_the_search_and_switches_back() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    crate::tab_pages::administrator_with_two_targets_in(&app).await;
    let browser = Browser::open(&app).await;
    browser.sign_in_as("acme-admin", PASSWORD, "driver").await;
    assert_eq!(browser.text("#who").await, "acme-admin (driver)");
    assert_eq!(browser.text("#username").await, "driver");

    // Switching back asks first.
    browser.click_and_confirm("#switch-back").await;
    assert_eq!(browser.text("#who").await, "acme-admin");

    browser.click("#switch-link").await;
    assert_eq!(browser.count("#switch-targets tr.target").await, 2);
    browser.fill("#switch-q", "disp").await;
    assert!(browser.attr("#target-driver", "hidden").await.is_some(), "the live search hides the driver");
    assert!(browser.attr("#target-dispatcher", "hidden").await.is_none());
    browser.select("#switch-kind", "accounts").await;
    assert!(browser.attr("#target-dispatcher", "hidden").await.is_some(), "no account is called disp");
    browser.select("#switch-kind", "users").await;
    browser.click("#target-dispatcher .switch-to").await;
    assert_eq!(browser.text("#who").await, "acme-admin (dispatcher)");
    browser.goto("/switch").await;
    assert!(browser.text("main").await.contains("Switch back first"));
    browser.close().await;
}
