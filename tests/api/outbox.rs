//! The outbox's order and pace: sign-in codes first, accounts taking turns, several
//! messages at once, and a code that expired while the mail server was away dropped
//! rather than sent late.

use portcullis::users::UserRequest;
use reqwest::{Method, StatusCode};
use serde_json::json;
use time::Duration;

use crate::{db_test, helpers::*};

async fn user_with_email(app: &TestApp, company: &Company, username: &str) {
    let user = UserRequest {
        username: username.into(),
        email: Some(format!("{username}@fleet.example")),
        email_verified: true,
        ..Default::default()
    };
    app.user_from(company.account, company.admin, user).await;
}

async fn forgot(app: &TestApp, username: &str) {
    let body = json!({ "username": username, "email": format!("{username}@fleet.example") });
    assert_eq!(app.post("/api/v1/password/forgot", None, body).await.status(), StatusCode::ACCEPTED);
}

/// `driver` of `company`, whose sign-in codes come by email.
async fn email_code_user(app: &TestApp, company: &Company, username: &str) {
    user_with_email(app, company, username).await;
    let token = app.signed_in(username).await;
    let on = json!({ "method": "email" });
    assert_eq!(
        app.send(Method::PUT, "/api/v1/me/two-factor", Some(&token), Some(on)).await.status(),
        StatusCode::OK
    );
}

async fn outbox_rows(app: &TestApp) -> i64 {
    app.column::<i64>("SELECT COUNT(*) FROM outbox").await[0]
}

db_test! {
    async fn a_sign_in_code_goes_first_and_a_flooded_company_does_not_delay_another(app: TestApp) {
        // One sender, so that the order the messages arrive in is the order they were taken.
        let mut first = app;
        first.stop_server();
        let app = first.another_instance_with(&["--outbox-senders", "1"]).await;
        let flooded = app.company("flooded").await;
        let quiet = app.company("quiet").await;
        let signing = app.company("signing").await;
        email_code_user(&app, &signing, "signer").await;
        user_with_email(&app, &quiet, "quiet-user").await;
        for n in 0..20 {
            user_with_email(&app, &flooded, &format!("flood{n}")).await;
        }
        app.smtp.stop();
        for n in 0..20 {
            forgot(&app, &format!("flood{n}")).await;
        }
        forgot(&app, "quiet-user").await;
        let challenge = json_of(app.login("signer", PASSWORD).await, StatusCode::OK).await;
        assert_eq!(challenge["channel"], "email");
        assert_eq!(outbox_rows(&app).await, 22);
        app.outbox_tried().await;

        // The mail server is back: every message is due again, and the code goes first.
        app.smtp.restart().await;
        app.advance(Duration::seconds(31));
        app.smtp.wait_for(22).await;
        let order: Vec<String> = app.smtp.mails().iter().map(|m| m.to[0].clone()).collect();
        let place = |who: &str| order.iter().position(|to| to.starts_with(who)).unwrap();
        // The code, then each company's first message (the flood's came first), then the flood.
        assert_eq!(place("signer"), 0, "{order:?}");
        assert_eq!(place("quiet-user"), 2, "{order:?}");
    }
}

db_test! {
    async fn a_code_that_expired_while_the_mail_server_was_away_is_dropped_not_sent(app: TestApp) {
        let company = app.company("acme").await;
        email_code_user(&app, &company, "driver").await;
        app.smtp.stop();
        let challenge = json_of(app.login("driver", PASSWORD).await, StatusCode::OK).await;
        assert_eq!(challenge["channel"], "email");
        app.outbox_tried().await;
        app.smtp.restart().await;
        app.advance(Duration::minutes(6));
        // A message queued now still goes: the sender is running.
        user_with_email(&app, &company, "dispatcher").await;
        forgot(&app, "dispatcher").await;
        let mail = app.smtp.wait_for(1).await;
        assert_eq!(mail.to, ["dispatcher@fleet.example"]);
        app.outbox_settled().await;
        let errors = app.column::<String>("SELECT last_error FROM outbox WHERE gave_up_at IS NOT NULL").await;
        assert_eq!(errors, ["expired before it could be sent"]);
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(app.smtp.mails().len(), 1, "the expired code was not sent");
        let metrics = app.get("/metrics", None).await.text().await.unwrap();
        assert!(metrics.contains("outbox_dropped_total{priority=\"sign_in_code\"}"), "{metrics}");
    }
}

db_test! {
    async fn several_messages_are_sent_at_once_to_a_slow_mail_server(app: TestApp) {
        let company = app.company("acme").await;
        for n in 0..8 {
            user_with_email(&app, &company, &format!("driver{n}")).await;
        }
        // All eight become due at one moment: queued while the mail server is away, tried
        // once, and due again when the clock moves on.
        app.smtp.stop();
        for n in 0..8 {
            forgot(&app, &format!("driver{n}")).await;
        }
        app.outbox_tried().await;
        app.smtp.slow_down(std::time::Duration::from_millis(300));
        app.smtp.restart().await;
        app.advance(Duration::seconds(31));
        app.smtp.wait_for(8).await;
        assert!(app.smtp.most_at_once() >= 2, "one at a time: {}", app.smtp.most_at_once());
        let metrics = app.get("/metrics", None).await.text().await.unwrap();
        assert!(metrics.contains("outbox_waiting{priority=\"awaited\"}"), "{metrics}");
        assert!(metrics.contains("outbox_delay_seconds_count{priority=\"awaited\"}"), "{metrics}");
    }
}
