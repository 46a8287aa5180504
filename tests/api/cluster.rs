//! Three instances of the real binary on one PostgreSQL database behind HAProxy, started by
//! `scripts/cluster` (the deployment the README describes): what one instance does, the
//! others see at once, and the cluster keeps answering while its instances restart.

use std::{net::TcpListener, process::Command, sync::LazyLock, time::Duration};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::{helpers::*, process::Server, smtp::Mail};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/cluster");

/// One cluster at a time: each is four processes on the machine's two cores.
static CLUSTERS: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(1));

pub struct Cluster {
    /// HAProxy, in front of every instance.
    pub front: Server,
    pub instances: Vec<Server>,
    dir: String,
    port: u16,
    _turn: SemaphorePermit<'static>,
}

impl Cluster {
    /// Stops `app`'s own server (its clock is not the wall clock the instances run on), then
    /// starts `n` instances on its database, mail server and SMS gateway, with its key.
    pub async fn start(app: &mut TestApp, n: usize, extra_env: &[(&str, &str)]) -> Self {
        let turn = CLUSTERS.acquire().await.expect("semaphore");
        app.stop_server();
        let port = free_ports(n + 1);
        let dir = app.dir.path().join("cluster").display().to_string();
        let key = std::fs::read_to_string(app.dir.path().join("secret.key")).expect("the key");
        let smtp = app.smtp.url();
        let mut command = Command::new(SCRIPT);
        command
            .args(["start", &n.to_string()])
            .env("CLUSTER_DIR", &dir)
            .env("CLUSTER_PORT", port.to_string())
            .env("PORTCULLIS_BIN", env!("CARGO_BIN_EXE_portcullis"))
            .env("PORTCULLIS_DATABASE_URL", &app.database_url)
            .env("PORTCULLIS_SECRET_KEY", key.trim())
            .env("PORTCULLIS_SMTP_URL", &smtp)
            .env("PORTCULLIS_SMS_WEBHOOK_URL", &app.sms.url)
            .env("PORTCULLIS_OUTBOX_CLAIM_SECONDS", "3")
            .envs(extra_env.iter().copied());
        let started = command.output().expect("scripts/cluster runs");
        assert!(started.status.success(), "the cluster starts: {}", String::from_utf8_lossy(&started.stderr));
        let server = |p: u16| Server { url: format!("http://127.0.0.1:{p}"), http: reqwest::Client::new() };
        let instances = (1..=n as u16).map(|i| server(port + i)).collect();
        Self { front: server(port), instances, dir, port, _turn: turn }
    }

    /// Runs `scripts/cluster` with `args` on this cluster; whether it succeeded.
    pub fn script(&self, args: &[&str]) -> bool {
        let mut command = Command::new(SCRIPT);
        command.args(args).env("CLUSTER_DIR", &self.dir).env("CLUSTER_PORT", self.port.to_string());
        let output = command.output().expect("scripts/cluster runs");
        if !output.status.success() {
            eprintln!("scripts/cluster {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        }
        output.status.success()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.script(&["stop"]);
    }
}

/// The first of `n` consecutive ports that are free now.
fn free_ports(n: usize) -> u16 {
    loop {
        let base = TcpListener::bind("127.0.0.1:0").expect("a port").local_addr().expect("an address").port();
        let Some(last) = base.checked_add(n as u16) else { continue };
        if (base..last).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok()) {
            return base;
        }
    }
}

async fn json(response: reqwest::Result<reqwest::Response>) -> (StatusCode, Value) {
    let response = response.expect("an answer");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn session_status(server: &Server, token: &str) -> StatusCode {
    let check = server.http.get(format!("{}/api/v1/session", server.url)).bearer_auth(token).send().await;
    check.expect("an answer").status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_started_at_once_on_an_empty_database_migrate_it_once_and_all_serve() {
    let mut app = TestApp::spawn(Backend::Postgres).await;
    // Not the test server's database, which it migrated: one nobody has touched.
    app.database_url = fresh_postgres_database().await;
    let cluster = Cluster::start(&mut app, 3, &[]).await;
    for instance in &cluster.instances {
        let ready = instance.http.get(format!("{}/readyz", instance.url)).send().await.expect("an answer");
        assert_eq!(ready.status(), StatusCode::OK);
    }
    let mut db = <sqlx::PgConnection as sqlx::Connection>::connect(&app.database_url).await.expect("connect");
    let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
        .fetch_all(&mut db)
        .await
        .expect("read");
    assert!(versions.len() >= 13, "{versions:?}");
    let mut distinct = versions.clone();
    distinct.dedup();
    assert_eq!(versions, distinct, "each migration ran once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guesses_spread_over_every_instance_lock_the_username_on_all_of_them() {
    let mut app = TestApp::spawn(Backend::Postgres).await;
    app.company("acme").await;
    let cluster = Cluster::start(&mut app, 3, &[]).await;
    // HAProxy takes turns: the five wrong passwords reach all three instances.
    for _ in 0..5 {
        let (status, _) = json(cluster.front.sign_in("acme-admin", "not-the-password").await).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    for instance in &cluster.instances {
        let (status, body) = json(instance.sign_in("acme-admin", PASSWORD).await).await;
        assert_eq!(status, StatusCode::LOCKED, "{} lets the right password in: {body}", instance.url);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_challenge_opened_on_one_instance_is_finished_on_another() {
    let mut app = TestApp::spawn(Backend::Postgres).await;
    let company = app.company("acme").await;
    let driver = app.driver_with_confirmed_email(&company).await;
    let token = app.signed_in("driver").await;
    let on = app.send(
        reqwest::Method::PUT,
        "/api/v1/me/two-factor",
        Some(&token),
        Some(json!({ "method": "email" })),
    );
    assert!(on.await.status().is_success());
    let _ = driver;
    let mails_before = app.smtp.mails().len();
    let cluster = Cluster::start(&mut app, 3, &[]).await;
    let [first, second, third] = &cluster.instances[..] else { panic!("three instances") };

    let (status, opened) = json(first.sign_in("driver", PASSWORD).await).await;
    assert_eq!(status, StatusCode::OK, "{opened}");
    let challenge = opened["challenge"].as_str().expect("a challenge").to_owned();
    let code = app.smtp.wait_for(mails_before + 1).await.code_after("code is ");
    let verify = json!({ "challenge": challenge, "code": code });
    let (status, verified) = json(second.post("/api/v1/login/verify", "driver", None, verify).await).await;
    assert_eq!(status, StatusCode::OK, "{verified}");
    let token = verified["token"].as_str().expect("a session");
    assert_eq!(session_status(third, token).await, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_or_a_revoked_grant_on_one_instance_is_refused_by_the_others_at_once() {
    let mut app = TestApp::spawn(Backend::Postgres).await;
    let company = app.company("acme").await;
    let driver = app.user(company.account, company.admin, "driver").await;
    app.admin_may_act_as(&company, &[driver]).await;
    let cluster = Cluster::start(&mut app, 3, &[]).await;
    let [first, second, third] = &cluster.instances[..] else { panic!("three instances") };

    let (_, signed) = json(first.sign_in("driver", PASSWORD).await).await;
    let token = signed["token"].as_str().expect("a session").to_owned();
    for instance in &cluster.instances {
        assert_eq!(session_status(instance, &token).await, StatusCode::OK);
    }
    let logout = first.http.delete(format!("{}/api/v1/session", first.url)).bearer_auth(&token).send().await;
    assert!(logout.expect("an answer").status().is_success());
    assert_eq!(session_status(second, &token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(session_status(third, &token).await, StatusCode::UNAUTHORIZED);

    // The administrator acts as the driver on one instance, and the grant is revoked on
    // another: the acting session stops on the third.
    let (_, admin) = json(first.sign_in("acme-admin", PASSWORD).await).await;
    let admin = admin["token"].as_str().expect("a session").to_owned();
    let accept = first.post("/api/v1/session/accept-dpa", "acme-admin", Some(&admin), json!({})).await;
    assert!(accept.expect("an answer").status().is_success());
    let (_, acting) = json(
        first.post("/api/v1/impersonation", "acme-admin", Some(&admin), json!({ "user_id": driver })).await,
    )
    .await;
    let acting = acting["token"].as_str().unwrap_or_else(|| panic!("an acting session: {acting}")).to_owned();
    assert_eq!(session_status(third, &acting).await, StatusCode::OK);
    let (_, second_admin) = json(second.sign_in("acme-admin", PASSWORD).await).await;
    let second_admin = second_admin["token"].as_str().expect("a session").to_owned();
    let grant = format!("{}/api/v1/users/{}/grants/{}", second.url, company.admin.0, driver.0);
    let revoked =
        second.http.put(grant).bearer_auth(&second_admin).json(&json!({ "rights": [] })).send().await;
    assert!(revoked.expect("an answer").status().is_success());
    assert_eq!(session_status(third, &acting).await, StatusCode::UNAUTHORIZED);
}

/// Queues a reset link for each of `users` through HAProxy.
async fn ask_for_resets(front: &Server, users: &[String]) {
    for user in users {
        let body = json!({ "username": user, "email": format!("{user}@fleet.example") });
        let (status, _) = json(front.post("/api/v1/password/forgot", user, None, body).await).await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
}

/// `count` users of one company, each with a confirmed address `<name>@fleet.example`.
async fn users_with_addresses(app: &TestApp, prefix: &str, count: usize) -> Vec<String> {
    let company = app.company(&format!("{prefix}-co")).await;
    let mut names = Vec::new();
    for i in 0..count {
        let name = format!("{prefix}-{i}");
        let request = portcullis::users::UserRequest {
            username: name.clone(),
            email: Some(format!("{name}@fleet.example")),
            email_verified: true,
            ..Default::default()
        };
        app.user_from(company.account, company.admin, request).await;
        names.push(name);
    }
    names
}

/// How many messages went to each address.
fn per_address(mails: &[Mail]) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for mail in mails {
        for to in &mail.to {
            *counts.entry(to.clone()).or_default() += 1;
        }
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_instance_sends_from_one_outbox_and_each_message_goes_out_once() {
    let mut app = TestApp::spawn(Backend::Postgres).await;
    let users = users_with_addresses(&app, "calm", 30).await;
    // No instance dies here: a claim that cannot run out makes any second copy a fault.
    let cluster = Cluster::start(&mut app, 3, &[("PORTCULLIS_OUTBOX_CLAIM_SECONDS", "60")]).await;
    ask_for_resets(&cluster.front, &users).await;
    app.smtp.wait_for(users.len()).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let counts = per_address(&app.smtp.mails());
    assert_eq!(counts.len(), users.len());
    assert!(counts.values().all(|n| *n == 1), "a message went out twice: {counts:?}");
    let _ = cluster;
}

/// A message an instance held when it was killed goes out again once its claim runs out
/// (at least once); a message the killed instance had already handed to the mail server
/// but not yet marked sent goes out twice, and only those.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_killed_mid_send_loses_no_message_and_duplicates_only_what_it_held() {
    let mut app = TestApp::spawn(Backend::Postgres).await;
    let users = users_with_addresses(&app, "busy", 24).await;
    // Each message takes a second to hand over (well within the claim, six seconds, so
    // only the killed instance's claims run out): every sender of every instance is in
    // the middle of one when instance 1 is killed.
    app.smtp.slow_down(Duration::from_secs(1));
    let cluster = Cluster::start(&mut app, 3, &[("PORTCULLIS_OUTBOX_CLAIM_SECONDS", "6")]).await;
    ask_for_resets(&cluster.front, &users).await;
    assert!(app.smtp.mails().len() < users.len(), "the kill comes while messages wait");
    assert!(cluster.script(&["kill", "1"]));
    app.smtp.slow_down(Duration::ZERO);
    app.smtp.wait_for(users.len()).await;
    app.outbox_settled().await;
    let counts = per_address(&app.smtp.mails());
    assert_eq!(counts.len(), users.len(), "every message arrived");
    let duplicates: usize = counts.values().map(|n| n - 1).sum();
    // At most what the killed instance's senders held at once.
    assert!(duplicates <= 4, "{duplicates} duplicates: {counts:?}");
    println!("messages {}, duplicates after the kill {duplicates}", users.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_run_on_every_instance_at_once_deletes_each_row_once() {
    let mut app = TestApp::spawn(Backend::Postgres).await;
    app.company("acme").await;
    let cluster = Cluster::start(&mut app, 3, &[]).await;
    for _ in 0..30 {
        let (status, _) = json(cluster.front.sign_in("acme-admin", PASSWORD).await).await;
        assert_eq!(status, StatusCode::OK);
    }
    // Every session ended two days ago: purge's to delete.
    app.raw_sql("UPDATE sessions SET ended_at = 0").await;
    let key = std::fs::read_to_string(app.dir.path().join("secret.key")).expect("the key");
    let purges: Vec<_> = (0..3)
        .map(|_| {
            tokio::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
                .args(["--database-url", &app.database_url, "--secret-key", key.trim(), "purge", "--json"])
                .output()
        })
        .collect();
    let mut deleted = 0;
    for output in futures_util::future::join_all(purges).await {
        let output = output.expect("purge runs");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let report: Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
        let sessions =
            ["expired_sessions", "ended_sessions", "idle_sessions"].map(|kind| report[kind].as_u64());
        deleted +=
            sessions.into_iter().map(|n| n.unwrap_or_else(|| panic!("sessions in {report}"))).sum::<u64>();
    }
    assert_eq!(deleted, 30, "each row was deleted by one purge");
    assert_eq!(app.column::<i64>("SELECT COUNT(*) FROM sessions").await, [0]);
    let _ = cluster;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_under_sign_ins_and_session_checks_fails_no_request() {
    let mut app = TestApp::spawn(Backend::Postgres).await;
    let company = app.company("acme").await;
    let names: Vec<String> = (0..4).map(|i| format!("driver-{i}")).collect();
    for name in &names {
        app.user(company.account, company.admin, name).await;
    }
    let cluster = Cluster::start(&mut app, 3, &[]).await;
    let (_, signed) = json(cluster.front.sign_in("driver-0", PASSWORD).await).await;
    let token = signed["token"].as_str().expect("a session").to_owned();

    let running = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let load = |kind: usize| {
        let (front, running, token, name) =
            (cluster.front.clone(), running.clone(), token.clone(), names[kind].clone());
        tokio::spawn(async move {
            let (mut done, mut failed) = (0, Vec::new());
            while running.load(std::sync::atomic::Ordering::Relaxed) {
                let status = match kind {
                    0 | 1 => front.sign_in(&name, PASSWORD).await.map(|r| r.status()),
                    _ => front
                        .http
                        .get(format!("{}/api/v1/session", front.url))
                        .bearer_auth(&token)
                        .send()
                        .await
                        .map(|r| r.status()),
                };
                match status {
                    Ok(status) if status.is_success() => done += 1,
                    other => failed.push(format!("{other:?}")),
                }
            }
            (done, failed)
        })
    };
    let workers: Vec<_> = (0..4).map(load).collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let restart = tokio::task::spawn_blocking({
        let (dir, port) = (cluster.dir.clone(), cluster.port);
        move || {
            let output = Command::new(SCRIPT)
                .arg("restart")
                .env("CLUSTER_DIR", dir)
                .env("CLUSTER_PORT", port.to_string())
                .output()
                .expect("scripts/cluster runs");
            output.status.success()
        }
    });
    assert!(restart.await.expect("the restart ran"), "the rolling restart finished");
    tokio::time::sleep(Duration::from_millis(500)).await;
    running.store(false, std::sync::atomic::Ordering::Relaxed);
    let (mut done, mut failed) = (0, Vec::new());
    for worker in workers {
        let (d, f) = worker.await.expect("the load ran");
        done += d;
        failed.extend(f);
    }
    println!("requests during the rolling restart: {done} answered, {} failed", failed.len());
    assert!(done > 50, "the load ran: {done}");
    assert!(
        failed.is_empty(),
        "{} of {} failed: {:?}",
        failed.len(),
        done + failed.len(),
        &failed[..failed.len().min(5)]
    );
}
