//! The real binary as a process of its own, on a test app's database, data directory,
//! mail server and SMS gateway, behind a proxy (each request says which client address
//! it comes from): for the tests that kill it or send it a signal.

use std::process::{ExitStatus, Stdio};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

use crate::helpers::TestApp;

pub struct Process {
    pub child: Child,
    pub server: Server,
}

/// Where a process listens, and a client for it.
#[derive(Clone)]
pub struct Server {
    pub url: String,
    pub http: reqwest::Client,
}

impl Process {
    /// Starts `portcullis serve` with `extra` configuration and waits until it listens.
    pub async fn start(app: &TestApp, extra: &[&str]) -> Self {
        let data_dir = app.dir.path().display().to_string();
        let smtp = app.smtp.url();
        let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(["--database-url", &app.database_url, "--data-dir", &data_dir, "--listen", "127.0.0.1:0"])
            .args(["--smtp-url", &smtp, "--sms-webhook-url", &app.sms.url, "--trusted-proxies", "127.0.0.1"])
            .args(extra)
            .arg("serve")
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("the binary starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = lines.next_line().await.expect("stdout").expect("the server says where it listens");
        let url = first.rsplit(' ').next().expect("a URL").trim_end_matches('/').to_owned();
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self { child, server: Server { url, http: reqwest::Client::new() } }
    }

    /// Sends SIGTERM, as a service manager does to stop a service.
    pub async fn terminate(&self) {
        let pid = self.child.id().expect("still running").to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().await.expect("kill runs");
        assert!(sent.success());
    }

    pub async fn exited(&mut self) -> ExitStatus {
        self.child.wait().await.expect("the process is waited for")
    }
}

impl Server {
    /// A request as the proxy sends it, from a client address of `username`'s own.
    pub async fn post(
        &self,
        path: &str,
        username: &str,
        token: Option<&str>,
        body: Value,
    ) -> reqwest::Result<reqwest::Response> {
        let octet = username.bytes().fold(0u8, |h, b| h.wrapping_mul(31).wrapping_add(b));
        let mut request = self
            .http
            .post(format!("{}{path}", self.url))
            .header("x-forwarded-for", format!("10.{}.0.{octet}", username.len()))
            .json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await
    }

    /// Signs in to the manager app.
    pub async fn sign_in(&self, username: &str, password: &str) -> reqwest::Result<reqwest::Response> {
        let body = json!({ "username": username, "password": password, "app": "manager" });
        self.post("/api/v1/login", username, None, body).await
    }

    pub async fn session_holds(&self, token: &str) -> bool {
        let check = self.http.get(format!("{}/api/v1/session", self.url)).bearer_auth(token).send().await;
        check.expect("the server answers").status() == StatusCode::OK
    }
}
