//! A stand-in for the platform's SMS gateway: a real HTTP server that records every
//! `{"to","text"}` it is sent, and can be told to refuse.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicBool, Ordering},
};

use axum::{Json, Router, extract::State, http::StatusCode, routing::post};
use serde::Deserialize;
use tokio::sync::Notify;

#[derive(Debug, Clone, Deserialize)]
pub struct Sms {
    pub to: String,
    pub text: String,
}

impl Sms {
    /// The six-digit code in the text.
    pub fn code(&self) -> String {
        let at = self.text.find("code is ").unwrap_or_else(|| panic!("no code in {:?}", self.text));
        self.text[at + 8..].chars().take(6).collect()
    }
}

#[derive(Default)]
pub struct SmsGateway {
    pub url: String,
    sent: Mutex<Vec<Sms>>,
    arrived: Notify,
    refusing: AtomicBool,
}

impl SmsGateway {
    pub async fn start() -> Arc<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/sms", listener.local_addr().unwrap());
        let gateway = Arc::new(Self { url, ..Default::default() });
        let router = Router::new().route("/sms", post(receive)).with_state(gateway.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        gateway
    }

    /// From now on, answer 503 to every message (or, with `false`, accept them again).
    pub fn refuse(&self, refusing: bool) {
        self.refusing.store(refusing, Ordering::SeqCst);
    }

    pub fn sent(&self) -> Vec<Sms> {
        self.sent.lock().unwrap().clone()
    }

    /// Waits (up to 30 s) until `count` messages have arrived and returns the last.
    pub async fn wait_for(&self, count: usize) -> Sms {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let notified = self.arrived.notified();
            if let Some(sms) = self.sent.lock().unwrap().get(count - 1) {
                return sms.clone();
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("only {} of {count} SMS arrived", self.sent().len());
            }
        }
    }
}

async fn receive(State(gateway): State<Arc<SmsGateway>>, Json(sms): Json<Sms>) -> StatusCode {
    if gateway.refusing.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    gateway.sent.lock().unwrap().push(sms);
    gateway.arrived.notify_waiters();
    StatusCode::OK
}
