//! `purge`: what has run out is deleted a day after its end, in batches, by the command
//! and by every instance on its schedule; what still lives and the audit trail stay.

use std::collections::HashMap;

use reqwest::{Method, StatusCode};
use serde_json::json;
use time::Duration;

use crate::{cli::portcullis, db_test, helpers::*};

async fn purge_now(app: &TestApp) -> HashMap<&'static str, u64> {
    let purged = portcullis::purge::run(&app.app.store, app.app.lifetimes.idle, app.now());
    purged.await.unwrap().0.into_iter().collect()
}

/// A failure counter last touched in 1970: long run out.
const STALE_THROTTLE: &str =
    "INSERT INTO throttles (scope, subject, failures, window_start) VALUES ('password', 'user:ghost', 1, 0)";

async fn throttles(app: &TestApp) -> i64 {
    app.column::<i64>("SELECT COUNT(*) FROM throttles WHERE subject = 'user:ghost'").await[0]
}

db_test! {
    async fn purge_deletes_what_ran_out_and_keeps_live_sessions_and_the_audit_trail(app: TestApp) {
        let company = app.company("acme").await;
        app.driver_with_confirmed_email(&company).await;
        let remembered = json!({ "username": "acme-admin", "password": PASSWORD, "remember_me": true });
        let remembered = json_of(app.post("/api/v1/login", None, remembered).await, StatusCode::OK).await;
        let remembered = remembered["token"].as_str().unwrap().to_owned();
        let driver = app.signed_in("driver").await;
        let on = json!({ "method": "email" });
        assert_eq!(app.send(Method::PUT, "/api/v1/me/two-factor", Some(&driver), Some(on)).await.status(), StatusCode::OK);
        let challenge = json_of(app.login("driver", PASSWORD).await, StatusCode::OK).await;
        assert_eq!(challenge["status"], "second_factor");
        let forgot = json!({ "username": "driver", "email": "driver@fleet.example" });
        assert_eq!(app.post("/api/v1/password/forgot", None, forgot).await.status(), StatusCode::ACCEPTED);
        assert_eq!(app.login("nobody", "a wrong password").await.status(), StatusCode::UNAUTHORIZED);
        app.smtp.wait_for(2).await;
        // Received is not yet recorded as sent: a message recorded after the clock moves
        // would be sent "two days later" and kept.
        app.outbox_settled().await;
        let audited = app.audit_trail(company.account).await.len();

        // Nothing has run out yet; the messages were sent a moment ago.
        assert_eq!(purge_now(&app).await.values().sum::<u64>(), 0);

        // The reset link lived a day; everything is kept a day past its end.
        app.advance(Duration::days(2) + Duration::minutes(1));
        let purged = purge_now(&app).await;
        assert_eq!(purged["idle_sessions"], 1, "{purged:?}");
        assert_eq!(purged["challenges"], 1, "{purged:?}");
        assert_eq!(purged["reset_links"], 1, "{purged:?}");
        assert_eq!(purged["sent_messages"], 2, "{purged:?}");
        assert!(purged["throttles"] >= 2, "the unknown name's and the address's: {purged:?}");
        assert_eq!(app.column::<i64>("SELECT COUNT(*) FROM throttles").await[0], 0);
        assert_eq!(app.get("/api/v1/session", Some(&remembered)).await.status(), StatusCode::OK);
        assert_eq!(app.get("/api/v1/session", Some(&driver)).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(app.audit_trail(company.account).await.len(), audited);
        let chain = portcullis::audit::verify(&app.app.store, &app.app.keys, &[]).await.unwrap();
        assert!(chain.breaks.is_empty());
        assert_eq!(purge_now(&app).await.values().sum::<u64>(), 0, "a second run finds nothing");

        // The remembered session goes a day after its 30 days.
        app.advance(Duration::days(29));
        assert_eq!(purge_now(&app).await["expired_sessions"], 1);
    }
}

db_test! {
    async fn purge_deletes_in_batches_until_nothing_is_left(app: TestApp) {
        let values: Vec<String> = (0..portcullis::purge::BATCH * 2 + 7)
            .map(|i| format!("('password', 'user:ghost{i}', 1, 0)"))
            .collect();
        app.raw_sql(&format!(
            "INSERT INTO throttles (scope, subject, failures, window_start) VALUES {}",
            values.join(", ")
        ))
        .await;
        assert_eq!(purge_now(&app).await["throttles"], 1007);
    }
}

db_test! {
    async fn the_purge_command_prints_what_it_deleted(app: TestApp) {
        app.raw_sql(STALE_THROTTLE).await;
        let output = portcullis(&app, &["purge", "--json"]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let counts: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(counts["throttles"], 1);
        assert_eq!(counts["expired_sessions"], 0);
        assert_eq!(throttles(&app).await, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_instance_purges_on_its_schedule() {
    let app = TestApp::spawn_with(Backend::Sqlite, &["--purge-seconds", "1"]).await;
    app.raw_sql(STALE_THROTTLE).await;
    for _ in 0..50 {
        if throttles(&app).await == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the stale counter is still there");
}
