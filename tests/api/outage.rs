//! The database goes away and comes back: while it is gone the API answers a clear
//! `503 unavailable` at once and pages a clear page; when it returns, everything works
//! again without a restart, and nothing committed before is lost. The test stops and
//! starts a PostgreSQL cluster of its own (`scripts/services.sh` makes it), so the rest
//! of the suite keeps its database.

use std::{process::Command, time::Instant};

use reqwest::StatusCode;

use crate::helpers::*;

fn cluster(action: &str) {
    let cluster = std::env::var("PORTCULLIS_TEST_OUTAGE_CLUSTER")
        .expect("PORTCULLIS_TEST_OUTAGE_CLUSTER names the cluster to stop (scripts/test sets it)");
    let (version, name) = cluster.split_once(' ').expect("`<version> <name>`");
    let done = Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", version, name, action])
        .status()
        .expect("pg_ctlcluster runs");
    assert!(done.success() || action == "start", "pg_ctlcluster {action} failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_database_down_requests_get_a_clear_503_and_all_recovers_when_it_returns() {
    let server = std::env::var("PORTCULLIS_TEST_OUTAGE_POSTGRES_URL")
        .expect("PORTCULLIS_TEST_OUTAGE_POSTGRES_URL is the cluster to stop (scripts/test sets it)");
    cluster("start");
    let app = TestApp::spawn_on(Backend::Postgres, fresh_database_on(&server).await).await;
    app.company("acme").await;
    let token = app.signed_in("acme-admin").await;

    cluster("stop");
    let asked = Instant::now();
    let check = app.get("/api/v1/session", Some(&token)).await;
    assert_eq!(check.headers()["retry-after"], "5");
    assert_eq!(json_of(check, StatusCode::SERVICE_UNAVAILABLE).await["error"], "unavailable");
    assert!(asked.elapsed().as_secs() < 6, "answered after {:?}", asked.elapsed());
    let login = app.login("acme-admin", PASSWORD).await;
    assert_eq!(json_of(login, StatusCode::SERVICE_UNAVAILABLE).await["error"], "unavailable");
    let page = app
        .http
        .get(app.url("/"))
        .header("cookie", format!("portcullis_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.text().await.unwrap().contains("The service is briefly unavailable"));
    assert_eq!(app.get("/readyz", None).await.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);

    cluster("start");
    let back = Instant::now();
    loop {
        let status = app.get("/api/v1/session", Some(&token)).await.status();
        if status == StatusCode::OK {
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(back.elapsed().as_secs() < 30, "the server did not recover");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(app.login("acme-admin", PASSWORD).await.status(), StatusCode::OK);
    assert_eq!(app.get("/readyz", None).await.status(), StatusCode::OK);
}
