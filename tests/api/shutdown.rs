//! SIGTERM: the server stops taking connections at once, answers the request it is in
//! the middle of reading, finishes sending the message in hand, and exits cleanly.

use std::time::Duration;

use portcullis::users::UserRequest;
use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{helpers::*, process::Process};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_request_in_flight_and_the_message_in_hand_then_exits() {
    let mut app = TestApp::spawn(Backend::Sqlite).await;
    let company = app.company("acme").await;
    for name in ["first", "second"] {
        let request = UserRequest {
            username: name.into(),
            email: Some(format!("{name}@fleet.example")),
            email_verified: true,
            ..Default::default()
        };
        app.user_from(company.account, company.admin, request).await;
    }
    app.stop_server();
    let mut process = Process::start(&app, &["--shutdown-seconds", "10"]).await;
    let server = process.server.clone();
    app.smtp.slow_down(Duration::from_millis(1500));

    // A message in hand: the mail server takes a while to accept it.
    let forgot = json!({ "username": "first", "email": "first@fleet.example" });
    let queued = server.post("/api/v1/password/forgot", "first", None, forgot).await.expect("answered");
    assert_eq!(queued.status(), StatusCode::ACCEPTED);
    while app.smtp.most_at_once() == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A request in flight: its head is in, its body only half.
    let addr = server.url.trim_start_matches("http://").to_owned();
    let body = r#"{"username":"second","email":"second@fleet.example"}"#;
    let mut request = tokio::net::TcpStream::connect(&addr).await.expect("connects");
    // First a whole request on the same connection, answered: the server has surely
    // taken the connection in, not merely the kernel.
    request.write_all(format!("GET /healthz HTTP/1.1\r\nhost: {addr}\r\n\r\n").as_bytes()).await.unwrap();
    let mut answered = Vec::new();
    while !String::from_utf8_lossy(&answered).contains("\r\n\r\nok") {
        let mut chunk = [0; 512];
        let n = request.read(&mut chunk).await.expect("the health answer");
        assert!(n > 0, "the server closed the connection");
        answered.extend_from_slice(&chunk[..n]);
    }
    let head = format!(
        "POST /api/v1/password/forgot HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    request.write_all(head.as_bytes()).await.unwrap();
    request.write_all(&body.as_bytes()[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;

    process.terminate().await;
    let mut refused = false;
    for _ in 0..250 {
        if tokio::net::TcpStream::connect(&addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "new connections were still accepted 5 s after SIGTERM");
    request.write_all(&body.as_bytes()[10..]).await.unwrap();
    let mut answer = String::new();
    let read = tokio::time::timeout(Duration::from_secs(10), request.read_to_string(&mut answer)).await;
    read.expect("answered within the deadline").unwrap();
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");

    let exited = tokio::time::timeout(Duration::from_secs(15), process.exited())
        .await
        .expect("exits within its deadline");
    assert!(exited.success(), "{exited}");
    let mails = app.smtp.mails();
    assert_eq!(mails.len(), 1, "only the message in hand went");
    assert_eq!(mails[0].to, ["first@fleet.example"]);
    let sent: Vec<Option<i64>> = app.column("SELECT sent_at FROM outbox ORDER BY id").await;
    assert!(sent[0].is_some(), "the message in hand is recorded as sent, so no restart sends it again");
    assert_eq!(sent.len(), 2, "the request in flight queued its message for the next start");
}
