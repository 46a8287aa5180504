use std::process::{Command, Output};

use reqwest::StatusCode;
use serde_json::Value;

use crate::{db_test, helpers::*};

/// Runs the real binary against the test app's database.
pub fn portcullis(app: &TestApp, args: &[&str]) -> Output {
    let data_dir = app.dir.path().display().to_string();
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["--database-url", &app.database_url, "--data-dir", &data_dir])
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("the binary runs")
}

fn json_stdout(output: &Output) -> Value {
    assert!(output.status.success(), "failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

db_test! {
    async fn the_operator_creates_an_account_and_a_user_whose_password_works(app: TestApp) {
        let account = json_stdout(&portcullis(&app, &[
            "account", "create", "--name", "Fleet One", "--admin", "boss", "--admin-password", PASSWORD,
            "--admin-email", "boss@fleet.example", "--sms-quota", "25", "--email-notifications",
            "--blocking-date", "2031-01-01T00:00:00Z", "--json",
        ]));
        assert_eq!(account["name"], "Fleet One");
        let user = json_stdout(&portcullis(&app, &[
            "user", "create", "--account", "Fleet One", "--username", "dispatcher", "--password", PASSWORD,
            "--phone", "+35312345678", "--phone-verified", "--can-send-sms", "--language", "ru", "--json",
        ]));
        assert_eq!(user["username"], "dispatcher");
        let row = app.app.store.read().await.unwrap().user_by_username("dispatcher").await.unwrap().unwrap();
        assert_eq!(row.creator_id.map(|c| c.0), account["admin_id"].as_i64());
        assert!(row.phone_verified && row.can_send_sms && !row.must_change_password);
        assert_eq!(row.language.code(), "ru");
        assert_eq!(app.login("dispatcher", PASSWORD).await.status(), StatusCode::OK);
        let acc = app.app.store.read().await.unwrap().account_by_name("Fleet One").await.unwrap().unwrap();
        assert!(acc.sms_enabled && acc.email_notifications);
        assert_eq!(acc.sms_quota, 25);
        assert_eq!(acc.blocking_at, Some(1_924_992_000));
    }
}

db_test! {
    async fn the_operator_blocks_an_account_and_changes_its_services(app: TestApp) {
        app.company("acme").await;
        let blocked = json_stdout(&portcullis(&app, &[
            "account", "update", "--name", "acme", "--blocking-date", "2030-03-01T08:00:00Z",
            "--sms-quota", "40", "--email-notifications", "on", "--json",
        ]));
        assert_eq!(blocked["blocking_date"], "2030-03-01T08:00:00Z");
        assert_eq!(blocked["services"]["sms"]["quota"], 40);
        assert_eq!(blocked["services"]["email_notifications"], true);
        assert_eq!(app.login("acme-admin", PASSWORD).await.status(), StatusCode::FORBIDDEN);

        let output = portcullis(&app, &["account", "update", "--name", "acme", "--no-blocking-date", "--no-sms"]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        assert_eq!(
            String::from_utf8_lossy(&output.stdout).trim(),
            "account \"acme\" (id 1): blocking date none, blocked from none; sms off; email notifications on"
        );
        assert_eq!(app.login("acme-admin", PASSWORD).await.status(), StatusCode::OK);
        let shown = json_stdout(&portcullis(&app, &["account", "show", "--name", "acme", "--json"]));
        assert_eq!(shown["services"]["sms"], Value::Null);
        let actions: Vec<_> = app.audit_trail(portcullis::values::AccountId(1)).await;
        assert_eq!(actions.iter().filter(|(a, _)| a == "account.updated").count(), 2);
        let clash = portcullis(&app, &["account", "update", "--name", "acme", "--sms-quota", "1", "--no-sms"]);
        assert!(!clash.status.success());
    }
}

db_test! {
    async fn a_failing_command_exits_non_zero_with_a_one_line_reason(app: TestApp) {
        app.company("acme").await;
        let output = portcullis(&app, &[
            "account", "create", "--name", "acme", "--admin", "other", "--admin-password", PASSWORD,
        ]);
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.trim(), "error: name is already taken");
        let output = portcullis(&app, &["user", "create", "--account", "nope", "--username", "x", "--password", PASSWORD]);
        assert_eq!(String::from_utf8_lossy(&output.stderr).trim(), "error: no account named \"nope\"");
    }
}

db_test! {
    async fn the_operator_grants_act_as_and_unlocks_a_locked_user(app: TestApp) {
        let company = app.company("acme").await;
        app.user(company.account, company.admin, "driver").await;
        let granted = json_stdout(&portcullis(&app, &[
            "user", "grant", "--user", "acme-admin", "--target", "driver", "--right", "act-as", "--json",
        ]));
        assert_eq!(granted["right"], "act_as");
        let rights = app.app.store.read().await.unwrap().grants_between(company.admin, portcullis::values::UserId(2)).await.unwrap();
        assert_eq!(rights, ["act_as"]);
        for _ in 0..5 {
            app.login("driver", "wrong-password").await;
        }
        assert_eq!(app.login("driver", PASSWORD).await.status(), StatusCode::LOCKED);
        let unlocked = json_stdout(&portcullis(&app, &["user", "unlock", "--username", "driver", "--json"]));
        assert_eq!(unlocked["was_locked"], true);
        assert_eq!(app.login("driver", PASSWORD).await.status(), StatusCode::OK);
    }
}

db_test! {
    async fn the_demo_command_seeds_a_company_to_sign_in_to_once(app: TestApp) {
        let first = json_stdout(&portcullis(&app, &["demo", "--json"]));
        assert_eq!(first["seeded"]["admin"][0], "demo");
        let again = json_stdout(&portcullis(&app, &["demo", "--json"]));
        assert!(again["seeded"].is_null());
        let password = first["seeded"]["admin"][1].as_str().unwrap();
        assert_eq!(app.login("demo", password).await.status(), StatusCode::OK);
        let driver_password = first["seeded"]["subordinate"][1].as_str().unwrap();
        assert_eq!(app.login("driver", driver_password).await.status(), StatusCode::OK);
        // The branch is blocked 30 days after the command ran, by the wall clock.
        #[allow(clippy::disallowed_methods, reason = "the command ran on the wall clock")]
        app.clock.set(time::OffsetDateTime::now_utc());
        let east_password = first["seeded"]["branch_admin"][1].as_str().unwrap();
        let east = json_of(app.login("east", east_password).await, StatusCode::OK).await;
        assert_eq!(east["session"]["account"]["name"], "Demo Fleet East");
    }
}

db_test! {
    async fn audit_verify_passes_on_an_untouched_trail_and_names_an_edited_or_removed_event(app: TestApp) {
        let company = app.company("acme").await;
        let driver = app.user(company.account, company.admin, "driver").await;
        app.login("driver", "wrong-password").await;
        app.signed_in("driver").await;
        let intact = json_stdout(&portcullis(&app, &["audit", "verify", "--json"]));
        assert!(intact["events"].as_u64().unwrap() >= 5);
        assert_eq!(intact["breaks"], serde_json::json!([]));

        let lane = driver.0 % 16;
        app.raw_sql(&format!("UPDATE audit_events SET details = '{{\"result\":\"ok\"}}' WHERE account_id = 1 AND lane = {lane} AND seq = 2")).await;
        let output = portcullis(&app, &["audit", "verify"]);
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        let expected = format!("error: the audit trail of account 1 breaks at event 2 of lane {lane}: changed after it was written");
        assert_eq!(stderr.trim(), expected);
    }
}

db_test! {
    async fn audit_verify_notices_events_removed_from_the_end(app: TestApp) {
        app.company("acme").await;
        app.signed_in("acme-admin").await;
        app.raw_sql("DELETE FROM audit_events WHERE seq = (SELECT MAX(seq) FROM audit_events)").await;
        let output = portcullis(&app, &["audit", "verify"]);
        assert!(!output.status.success());
        assert!(String::from_utf8_lossy(&output.stderr).contains("later events were removed"));
    }
}

/// Re-chains an account's trail as one chain (lane 0) with plain SHA-256, head included: as
/// trails were written before they had lanes and were keyed, and as anyone without the key
/// could.
async fn rechain_with_sha256(app: &TestApp, account: portcullis::values::AccountId) {
    use sha2::{Digest, Sha256};
    let blob = |b: &[u8]| match app.backend {
        Backend::Sqlite => format!("X'{}'", hex::encode(b)),
        Backend::Postgres => format!("decode('{}', 'hex')", hex::encode(b)),
    };
    let events = app.app.store.read().await.unwrap().audit_events_of(account).await.unwrap();
    // Numbers far above any in use first, so that renumbering never meets a taken one.
    app.raw_sql(&format!(
        "UPDATE audit_events SET lane = 0, seq = seq + 1000000 * (lane + 1) WHERE account_id = {account}"
    ))
    .await;
    let mut prev: Option<Vec<u8>> = None;
    for (seq, e) in (1..).zip(&events) {
        let content = serde_json::json!([
            e.account_id,
            seq,
            e.at,
            e.actor_id,
            e.acting_as_id,
            e.subject_id,
            e.action,
            e.details,
            e.ip
        ]);
        let mut h = Sha256::new();
        h.update(prev.as_deref().unwrap_or(&[]));
        h.update(content.to_string().as_bytes());
        let hash = h.finalize().to_vec();
        let prev_sql = prev.as_deref().map_or("NULL".to_owned(), blob);
        app.raw_sql(&format!(
            "UPDATE audit_events SET seq = {seq}, prev_hash = {prev_sql}, hash = {} WHERE id = {}",
            blob(&hash),
            e.id
        ))
        .await;
        prev = Some(hash);
    }
    app.raw_sql(&format!("DELETE FROM audit_chains WHERE account_id = {account}")).await;
    app.raw_sql(&format!(
        "INSERT INTO audit_chains (account_id, lane, seq, head) VALUES ({account}, 0, {}, {})",
        events.len(),
        blob(&prev.unwrap())
    ))
    .await;
}

db_test! {
    async fn a_trail_from_before_keyed_chains_is_sealed_once_by_the_operator_and_then_verifies(app: TestApp) {
        let company = app.company("acme").await;
        app.signed_in("acme-admin").await;
        rechain_with_sha256(&app, company.account).await;
        app.raw_sql("UPDATE accounts SET audit_legacy = TRUE WHERE id = 1").await;
        let output = portcullis(&app, &["audit", "verify"]);
        assert!(String::from_utf8_lossy(&output.stderr).contains("run `portcullis audit seal-legacy`"));
        assert!(portcullis(&app, &["audit", "seal-legacy"]).status.success());
        assert_eq!(app.column::<bool>("SELECT audit_legacy FROM accounts").await, [false]);
        let output = portcullis(&app, &["audit", "verify"]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
}

db_test! {
    async fn a_trail_rewritten_and_rechained_without_the_key_is_found(app: TestApp) {
        let company = app.company("acme").await;
        app.user(company.account, company.admin, "driver").await;
        app.signed_in("driver").await;
        app.raw_sql("UPDATE audit_events SET details = '{\"result\":\"ok\"}' WHERE account_id = 1 AND action = 'sign_in'").await;
        // The attacker re-chains every event with the hash the trail once used, and the head.
        rechain_with_sha256(&app, company.account).await;
        let output = portcullis(&app, &["audit", "verify"]);
        assert!(!output.status.success());
        assert!(String::from_utf8_lossy(&output.stderr).contains("breaks at event 1 of lane 0: changed after it was written"));
        // Nor does marking the trail as one from before keyed chains help.
        app.raw_sql("UPDATE accounts SET audit_legacy = TRUE WHERE id = 1").await;
        let output = portcullis(&app, &["audit", "verify"]);
        assert!(String::from_utf8_lossy(&output.stderr).contains("written before trails were sealed"));
    }
}

db_test! {
    async fn a_trail_cut_back_before_an_exported_head_is_found(app: TestApp) {
        let company = app.company("acme").await;
        let driver = app.user(company.account, company.admin, "driver").await;
        app.signed_in("driver").await;
        let heads = portcullis(&app, &["audit", "heads"]);
        assert!(heads.status.success());
        let file = app.dir.path().join("heads.json");
        std::fs::write(&file, &heads.stdout).unwrap();
        let exported: Value = serde_json::from_slice(&heads.stdout).unwrap();
        // The head of the driver's lane: the driver signs in again below.
        let lane = driver.0 % 16;
        let at = exported.as_array().unwrap().iter().position(|h| h["lane"] == lane).expect("the driver's lane");
        let seq = exported[at]["seq"].as_i64().unwrap();
        app.signed_in("driver").await;
        let file_arg = file.display().to_string();
        assert!(portcullis(&app, &["audit", "verify", "--heads", &file_arg]).status.success());

        // Cut the tail back to before the exported head, and roll the head back with it.
        app.raw_sql(&format!("DELETE FROM audit_events WHERE account_id = 1 AND lane = {lane} AND seq >= {seq}")).await;
        let earlier = seq - 1;
        app.raw_sql(&format!("UPDATE audit_chains SET seq = {earlier}, head = (SELECT hash FROM audit_events WHERE account_id = 1 AND lane = {lane} AND seq = {earlier}) WHERE account_id = 1 AND lane = {lane}")).await;
        assert!(portcullis(&app, &["audit", "verify"]).status.success(), "the chain alone cannot tell");
        let output = portcullis(&app, &["audit", "verify", "--heads", &file_arg]);
        assert!(!output.status.success());
        assert!(String::from_utf8_lossy(&output.stderr).contains("rolled back"), "{}", String::from_utf8_lossy(&output.stderr));

        // A heads file edited to match is refused: its signature no longer fits.
        let mut forged = exported.clone();
        forged[at]["seq"] = Value::from(earlier);
        std::fs::write(&file, forged.to_string()).unwrap();
        let output = portcullis(&app, &["audit", "verify", "--heads", &file_arg]);
        assert!(String::from_utf8_lossy(&output.stderr).contains("altered"));
    }
}

#[test]
fn every_command_has_help() {
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["account", "create", "--help"],
        &["account", "update", "--help"],
        &["user", "grant", "--help"],
        &["audit", "verify", "--help"],
        &["audit", "heads", "--help"],
        &["audit", "seal-legacy", "--help"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_portcullis")).args(args).output().unwrap();
        assert!(output.status.success());
        assert!(String::from_utf8_lossy(&output.stdout).contains("Usage:"));
    }
}

#[test]
fn a_secret_key_of_the_wrong_length_stops_the_start_with_a_clear_reason() {
    let output = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["--secret-key", "abcd", "migrate"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("64 hexadecimal digits"), "{stderr}");
}

#[test]
fn an_unsupported_database_url_is_refused_at_start() {
    let output = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["--database-url", "mysql://x", "migrate"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("sqlite://"));
}

#[test]
fn an_unreachable_database_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["--data-dir", &dir.path().display().to_string()])
        .args(["--database-url", "postgres://postgres@127.0.0.1:1/none", "migrate"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("error: cannot connect to PostgreSQL"), "{stderr}");
}

db_test! {
    async fn an_instance_older_than_the_database_refuses_to_start_and_says_why(app: TestApp) {
        // A newer release migrated the database past what this binary knows.
        app.raw_sql(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (9999, 'from a newer release', TRUE, X'00', 0)"
            .replace("X'00'", if matches!(app.backend, Backend::Postgres) { "'\\x00'" } else { "X'00'" })
            .as_str(),
        )
        .await;
        let output = portcullis(&app, &["migrate"]);
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("the database was migrated by a newer release of Portcullis (migration 9999"), "{stderr}");
    }
}

db_test! {
    async fn the_logs_never_show_a_password_a_token_a_challenge_a_code_or_a_reset_link(app: TestApp) {
        use tokio::io::AsyncBufReadExt;
        // Only the server under watch may send mail.
        let mut app = app;
        app.stop_server();
        portcullis(&app, &["account", "create", "--name", "acme", "--admin", "boss", "--admin-password", PASSWORD]);
        portcullis(&app, &[
            "user", "create", "--account", "acme", "--username", "driver", "--password", PASSWORD,
            "--email", "driver@fleet.example",
        ]);
        let data_dir = app.dir.path().display().to_string();
        let smtp_url = app.smtp.url();
        let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(["--database-url", &app.database_url, "--data-dir", &data_dir, "--listen", "127.0.0.1:0"])
            .args(["--smtp-url", &smtp_url, "--flespi-url-eu", "http://127.0.0.1:9/", "serve"])
            .env("RUST_LOG", "trace")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        // Drain the logs while the server runs, or a full pipe would stall it.
        let mut stderr = server.stderr.take().unwrap();
        let logs = tokio::spawn(async move {
            let mut text = String::new();
            tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut text).await.unwrap();
            text
        });
        let mut stdout = tokio::io::BufReader::new(server.stdout.take().unwrap()).lines();
        let first = stdout.next_line().await.unwrap().unwrap();
        let base = first.rsplit(' ').next().unwrap().to_owned();
        let http = reqwest::Client::new();
        let login = serde_json::json!({ "username": "driver", "password": PASSWORD });
        let body: Value = http.post(format!("{base}/api/v1/login")).json(&login).send().await.unwrap().json().await.unwrap();
        let token = body["token"].as_str().unwrap().to_owned();
        let bearer = format!("Bearer {token}");
        let accept = http.post(format!("{base}/api/v1/session/accept-dpa")).header("authorization", &bearer);
        assert!(accept.send().await.unwrap().status().is_success());
        let sent = http.post(format!("{base}/api/v1/me/email/verification")).header("authorization", &bearer);
        assert_eq!(sent.send().await.unwrap().status(), reqwest::StatusCode::ACCEPTED);
        let code = app.smtp.wait_for(1).await.code_after("code is ");
        let confirm = serde_json::json!({ "code": code });
        let confirmed = http
            .post(format!("{base}/api/v1/me/email/verification/confirm"))
            .header("authorization", &bearer)
            .json(&confirm)
            .send()
            .await
            .unwrap();
        assert!(confirmed.status().is_success());
        let on = http.put(format!("{base}/api/v1/me/two-factor")).header("authorization", &bearer);
        let on = on.json(&serde_json::json!({ "method": "email" })).send().await.unwrap();
        assert!(on.status().is_success());
        let challenge: Value = http.post(format!("{base}/api/v1/login")).json(&login).send().await.unwrap().json().await.unwrap();
        let challenge = challenge["challenge"].as_str().unwrap().to_owned();
        let sign_in_code = app.smtp.wait_for(2).await.code_after("code is ");
        let verify = serde_json::json!({ "challenge": challenge, "code": sign_in_code });
        let verified: Value = http.post(format!("{base}/api/v1/login/verify")).json(&verify).send().await.unwrap().json().await.unwrap();
        let second_token = verified["token"].as_str().unwrap_or_else(|| panic!("{verified}")).to_owned();
        let link = http.get(format!("{base}/?sid={token}")).send().await.unwrap();
        assert!(link.status().is_redirection() || link.status().is_success());
        let forgot = serde_json::json!({ "username": "driver", "email": "driver@fleet.example" });
        let asked = http.post(format!("{base}/api/v1/password/forgot")).json(&forgot).send().await.unwrap();
        assert_eq!(asked.status(), reqwest::StatusCode::ACCEPTED);
        let mail = app.smtp.wait_for(3).await.text();
        let at = mail.find("/reset/").unwrap();
        let reset_link: String = mail[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_')).collect();
        let (status, page) = follow(base.trim_end_matches('/'), &reset_link).await;
        assert_eq!(status, reqwest::StatusCode::OK);
        let new_password = new_password(&page);
        let reset_token = reset_link.trim_start_matches("/reset/").to_owned();
        let boss = serde_json::json!({ "username": "boss", "password": PASSWORD });
        let body: Value = http.post(format!("{base}/api/v1/login")).json(&boss).send().await.unwrap().json().await.unwrap();
        let boss = format!("Bearer {}", body["token"].as_str().unwrap());
        let accept = http.post(format!("{base}/api/v1/session/accept-dpa")).header("authorization", &boss);
        assert!(accept.send().await.unwrap().status().is_success());
        let flespi_token = "Fl3spiTokenThatMustNeverBeLoggedFl3spiTokenThatMustNeverBeLogged";
        let flespi = format!("{base}/api/v1/me/integrations/flespi");
        let saved = http.put(&flespi).header("authorization", &boss);
        let saved = saved.json(&serde_json::json!({ "token": flespi_token, "region": "eu" })).send().await.unwrap();
        assert!(saved.status().is_success());
        let checked = http.post(format!("{flespi}/check")).header("authorization", &boss).send().await.unwrap();
        assert_eq!(checked.status(), reqwest::StatusCode::BAD_GATEWAY);
        // SIGTERM, and read everything the server wrote.
        std::process::Command::new("kill").arg(server.id().unwrap().to_string()).status().unwrap();
        server.wait().await.unwrap();
        let logs = logs.await.unwrap();
        assert!(logs.contains("sign_in") || logs.contains("/api/v1/login"), "the logs are too quiet to judge: {logs}");
        assert!(logs.contains("flespi could not be asked"), "the failed check is logged");
        let secrets = [PASSWORD, &token, &code, &challenge, &sign_in_code, &second_token, &reset_token, &new_password];
        for secret in secrets.into_iter().chain([flespi_token]) {
            assert!(!shows(&logs, secret), "{secret:?} appears in the logs");
        }
    }
}

/// Whether `secret` appears in `logs` as itself, not inside a longer word or number: a six-digit
/// code is bound to turn up now and then among the microseconds of trace timestamps or in a hex digest.
fn shows(logs: &str, secret: &str) -> bool {
    let word_at = |at: Option<char>| at.is_some_and(|c| c.is_ascii_alphanumeric());
    logs.match_indices(secret).any(|(at, _)| {
        !word_at(logs[..at].chars().next_back()) && !word_at(logs[at + secret.len()..].chars().next())
    })
}
