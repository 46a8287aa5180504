//! A `kill -9` in the middle of mixed load loses nothing. The real binary runs as a
//! process of its own while people sign in, sign in with an emailed code, change their
//! passwords and ask for reset links; halfway through, it is killed. After a restart on
//! the same database every acknowledged sign-in still holds, every acknowledged password
//! change still stands, every message the server queued arrives (at least once: one being
//! sent at the moment of the kill arrives twice, and is counted), and the audit chain
//! verifies. `PORTCULLIS_CRASH_ROUNDS` repeats it (`bench/crash` runs 20 rounds).

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use crate::{
    cli::portcullis,
    helpers::*,
    process::{Process, Server},
};
use futures_util::{StreamExt, stream};
use portcullis::users::UserRequest;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// People of each kind in a round.
const EACH: usize = 10;
/// Requests in flight at once.
const AT_ONCE: usize = 8;
const NEW_PASSWORD: &str = "Tq5!walrus-Lantern-crash";
/// A message claimed by the killed server is sent again once its claim runs out.
const CLAIM: &[&str] = &["--outbox-claim-seconds", "2"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Signs in without a second factor: the session must survive.
    SignIn,
    /// Signs in with an emailed code: the code's message must arrive.
    Code,
    /// Changes the password: the new one must work.
    Change,
    /// Asks for a reset link: its message must arrive.
    Reset,
}

const KINDS: [Kind; 4] = [Kind::SignIn, Kind::Code, Kind::Change, Kind::Reset];

#[derive(Debug, Clone)]
struct Person {
    kind: Kind,
    username: String,
    email: String,
    /// Signed in before the load, for those who change their password.
    token: Option<String>,
}

/// What the server answered: success (with the session's token, for a sign-in), or
/// nothing, because it died first; the request may or may not have been committed.
#[derive(Debug, Clone)]
enum Outcome {
    Acknowledged(Option<String>),
    Unanswered,
}

/// The people of round `round`, created in the company: sign-ins on the web ask for an
/// emailed code (the company's default), those in the manager app do not.
async fn people(app: &TestApp, company: &Company, round: usize) -> Vec<Person> {
    let mut people = Vec::new();
    for i in 0..EACH {
        for kind in KINDS {
            let username = format!("r{round}-{kind:?}-{i}").to_lowercase();
            let email = format!("{username}@fleet.example");
            let request = UserRequest {
                username: username.clone(),
                email: Some(email.clone()),
                email_verified: true,
                can_change_password: true,
                ..Default::default()
            };
            app.user_from(company.account, company.admin, request).await;
            people.push(Person { kind, username, email, token: None });
        }
    }
    people
}

async fn act(server: &Server, person: &Person) -> Outcome {
    let answer = match person.kind {
        Kind::SignIn => server.sign_in(&person.username, PASSWORD).await,
        Kind::Code => {
            let body = json!({ "username": person.username, "password": PASSWORD });
            server.post("/api/v1/login", &person.username, None, body).await
        }
        Kind::Change => {
            let body = json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD, "new_password_confirmation": NEW_PASSWORD });
            server.post("/api/v1/password/change", &person.username, person.token.as_deref(), body).await
        }
        Kind::Reset => {
            let body = json!({ "username": person.username, "email": person.email });
            server.post("/api/v1/password/forgot", &person.username, None, body).await
        }
    };
    let Ok(answer) = answer else { return Outcome::Unanswered };
    let status = answer.status();
    let Ok(body) = answer.bytes().await else { return Outcome::Unanswered };
    assert!(
        status.is_success(),
        "{:?} of {}: {status} {}",
        person.kind,
        person.username,
        String::from_utf8_lossy(&body)
    );
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match person.kind {
        Kind::SignIn => assert_eq!(body["status"], "ok", "{body}"),
        Kind::Code => assert_eq!(body["status"], "second_factor", "{body}"),
        Kind::Change | Kind::Reset => {}
    }
    Outcome::Acknowledged(body["token"].as_str().map(str::to_owned))
}

/// Runs the people's requests, `AT_ONCE` at a time, and kills the server with SIGKILL
/// once half of them have been answered.
async fn load_and_kill(mut process: Process, people: Vec<Person>) -> Vec<(Person, Outcome)> {
    let answered = Arc::new(AtomicUsize::new(0));
    let load = tokio::spawn({
        let (server, answered) = (process.server.clone(), answered.clone());
        async move {
            let requests = stream::iter(people).map(|person| {
                let (server, answered) = (&server, &answered);
                async move {
                    let outcome = act(server, &person).await;
                    if let Outcome::Acknowledged(_) = outcome {
                        answered.fetch_add(1, Ordering::SeqCst);
                    }
                    (person, outcome)
                }
            });
            requests.buffer_unordered(AT_ONCE).collect::<Vec<_>>().await
        }
    });
    let half = EACH * KINDS.len() / 2;
    while answered.load(Ordering::SeqCst) < half {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    process.child.kill().await.expect("SIGKILL");
    load.await.expect("the load ran")
}

/// Waits until every address in `expected` has mail, and returns how many messages
/// arrived more than once.
async fn delivered(app: &TestApp, expected: &[&str]) -> usize {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mut received: HashMap<String, usize> = HashMap::new();
        for mail in app.smtp.mails() {
            for to in mail.to {
                *received.entry(to).or_default() += 1;
            }
        }
        let missing: Vec<_> = expected.iter().filter(|to| !received.contains_key(**to)).collect();
        if missing.is_empty() {
            return expected.iter().map(|to| received[*to] - 1).sum();
        }
        assert!(tokio::time::Instant::now() < deadline, "never delivered: {missing:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One crash: load, kill, restart, and the proof that nothing acknowledged was lost.
/// Returns the messages that arrived twice.
async fn crash_round(app: &TestApp, mut people: Vec<Person>, round: usize) -> usize {
    let process = Process::start(app, CLAIM).await;
    let server = &process.server;
    for person in people.iter_mut().filter(|p| p.kind == Kind::Change) {
        let answer = server.sign_in(&person.username, PASSWORD).await.expect("signed in");
        let token = json_of(answer, StatusCode::OK).await["token"].as_str().expect("a token").to_owned();
        let accepted =
            server.post("/api/v1/session/accept-dpa", &person.username, Some(&token), json!({})).await;
        assert_eq!(accepted.expect("answered").status(), StatusCode::OK);
        person.token = Some(token);
    }
    let outcomes = load_and_kill(process, people).await;

    let process = Process::start(app, CLAIM).await;
    let server = &process.server;
    let mut awaited_mail = Vec::new();
    for (person, outcome) in &outcomes {
        let acknowledged = matches!(outcome, Outcome::Acknowledged(_));
        match (person.kind, outcome) {
            (Kind::SignIn, Outcome::Acknowledged(token)) => {
                assert!(
                    server.session_holds(token.as_deref().expect("a token")).await,
                    "{} lost their session",
                    person.username
                );
            }
            (Kind::Change, _) => {
                let new = server.sign_in(&person.username, NEW_PASSWORD).await.expect("answered").status();
                let old = server.sign_in(&person.username, PASSWORD).await.expect("answered").status();
                match acknowledged {
                    true => assert_eq!(
                        (new, old),
                        (StatusCode::OK, StatusCode::UNAUTHORIZED),
                        "{} lost their change",
                        person.username
                    ),
                    false => assert!(
                        (new == StatusCode::OK) != (old == StatusCode::OK),
                        "{}: {new} {old}",
                        person.username
                    ),
                }
            }
            (Kind::Code | Kind::Reset, Outcome::Acknowledged(_)) => awaited_mail.push(person.email.as_str()),
            _ => {}
        }
    }
    let twice = delivered(app, &awaited_mail).await;
    let verified = portcullis(app, &["audit", "verify"]);
    assert!(verified.status.success(), "audit verify: {}", String::from_utf8_lossy(&verified.stdout));
    let acknowledged = outcomes.iter().filter(|(_, o)| matches!(o, Outcome::Acknowledged(_))).count();
    println!(
        "crash round {round}: {acknowledged} of {} requests acknowledged before SIGKILL, none lost; {} messages awaited, {twice} arrived twice",
        outcomes.len(),
        awaited_mail.len()
    );
    drop(process);
    twice
}

async fn crash_rounds(backend: Backend) {
    let rounds: usize =
        std::env::var("PORTCULLIS_CRASH_ROUNDS").map_or(1, |n| n.parse().expect("a number of rounds"));
    let mut app = TestApp::spawn(backend).await;
    let company = app.company("acme").await;
    let admin = app.signed_in("acme-admin").await;
    let path = format!("/api/v1/accounts/{}/two-factor-policy", company.account.0);
    let policy = json!({ "delivery": "email_only", "defaults": { "web": true, "manager": false } });
    json_of(app.send(reqwest::Method::PUT, &path, Some(&admin), Some(policy)).await, StatusCode::OK).await;
    let mut everyone = Vec::new();
    for round in 0..rounds {
        everyone.push(people(&app, &company, round).await);
    }
    app.stop_server();
    // Messages go out more slowly than they are queued, so some are waiting, and one is
    // in hand, when the server dies.
    app.smtp.slow_down(Duration::from_millis(150));
    let mut twice = 0;
    for (round, people) in everyone.into_iter().enumerate() {
        twice += crash_round(&app, people, round).await;
    }
    println!("{rounds} crashes on {backend:?}: nothing lost, {twice} messages arrived twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_during_mixed_load_loses_no_acknowledged_write_or_queued_message_on_sqlite() {
    crash_rounds(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_during_mixed_load_loses_no_acknowledged_write_or_queued_message_on_postgres() {
    crash_rounds(Backend::Postgres).await;
}
