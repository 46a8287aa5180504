//! A real headless Chromium, driven over WebDriver by Debian's chromedriver, for the
//! page tests. Each test gets its own driver and empty profile; at most two browsers run
//! at once so the suite fits a small machine.

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    sync::LazyLock,
    time::Duration,
};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::helpers::TestApp;

mod checks;
mod window;

pub use window::{DESKTOP, PHONE};

/// WebDriver's "Add Virtual Authenticator" (WebAuthn Level 2, §11.3).
#[derive(Debug)]
struct VirtualAuthenticator;

impl fantoccini::wd::WebDriverCompatibleCommand for VirtualAuthenticator {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/webauthn/authenticator", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        let options = json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserConsenting": true,
            "isUserVerified": true,
        });
        (axum::http::Method::POST, Some(options.to_string()))
    }
}

static BROWSERS: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(2));

pub struct Browser {
    pub client: Client,
    base: String,
    driver: Child,
    _profile: tempfile::TempDir,
    _permit: SemaphorePermit<'static>,
}

impl Browser {
    pub async fn open(app: &TestApp) -> Self {
        let permit = BROWSERS.acquire().await.expect("semaphore");
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new(std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into()))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs (apt-get install chromium-driver; scripts/test does it)");
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--no-first-run", "--window-size=1280,900", "--lang=en-US", "--hide-scrollbars",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }
        });
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let mut builder = ClientBuilder::new(connector);
        builder.capabilities(capabilities.as_object().unwrap().clone());
        let url = format!("http://127.0.0.1:{port}");
        let mut tries = 0;
        let client = loop {
            match builder.connect(&url).await {
                Ok(client) => break client,
                Err(e) if tries < 50 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let _ = e;
                }
                Err(e) => panic!("cannot start a browser session: {e}"),
            }
        };
        let base = app.app.public_url().as_str().trim_end_matches('/').to_owned();
        Self { client, base, driver, _profile: profile, _permit: permit }
    }

    /// Gives the browser a platform authenticator of the kind a phone or laptop has
    /// (WebDriver's virtual authenticator): it keeps discoverable passkeys and verifies
    /// its user, who always consents.
    pub async fn add_passkey_authenticator(&self) {
        self.client.issue_cmd(VirtualAuthenticator).await.expect("a virtual authenticator");
    }

    pub async fn goto(&self, path: &str) {
        self.client.goto(&format!("{}{}", self.base, path)).await.expect("navigates");
        self.arrived().await;
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.client.find(Locator::Css(css)).await.unwrap_or_else(|_| panic!("{css} on the page"));
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }

    /// Sets a field's value as a script would, for fields whose typing depends on the
    /// browser's locale (dates and times).
    pub async fn set_value(&self, css: &str, value: &str) {
        let script = "document.querySelector(arguments[0]).value = arguments[1];";
        self.client.execute(script, vec![css.into(), value.into()]).await.expect("the script runs");
    }

    /// Chooses the option with `value` in a drop-down list.
    pub async fn select(&self, css: &str, value: &str) {
        let list = self.client.find(Locator::Css(css)).await.unwrap_or_else(|_| panic!("{css} on the page"));
        list.select_by_value(value).await.unwrap();
    }

    /// Ticks or unticks a checkbox.
    pub async fn toggle(&self, css: &str) {
        let field = self.client.find(Locator::Css(css)).await.unwrap_or_else(|_| panic!("{css} on the page"));
        field.click().await.unwrap();
    }

    /// Clicks a link or button and waits until the page it leads to has replaced this one.
    pub async fn click(&self, css: &str) {
        self.click_then(css, false).await;
    }

    /// Clicks a button that asks first ("End every session?"), says yes, and waits for
    /// the page it leads to.
    pub async fn click_and_confirm(&self, css: &str) {
        self.click_then(css, true).await;
    }

    async fn click_then(&self, css: &str, confirm: bool) {
        let old_page = self.client.find(Locator::Css("html")).await.expect("a page");
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("{css} on the page"))
            .click()
            .await
            .unwrap();
        if confirm {
            self.client.accept_alert().await.expect("the button asks first");
        }
        // Generous: a sign-in hashes its password on low-priority threads, which a loaded
        // machine may hold back for seconds. A passing test waits no longer for it.
        for _ in 0..600 {
            if old_page.tag_name().await.is_err() {
                return self.arrived().await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("clicking {css} led nowhere");
    }

    /// Every page a test reaches is checked once loaded: no serious accessibility fault,
    /// nothing wider than the window.
    async fn arrived(&self) {
        for _ in 0..1500 {
            let state = self.client.execute("return document.readyState;", vec![]).await;
            if state.is_ok_and(|s| s == "complete") {
                return self.assert_accessible_and_fits().await;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the page never finished loading");
    }

    pub async fn text(&self, css: &str) -> String {
        let element = self
            .client
            .wait()
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("{css} on the page"));
        element.text().await.unwrap()
    }

    pub async fn count(&self, css: &str) -> usize {
        self.client.find_all(Locator::Css(css)).await.unwrap().len()
    }

    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.client.find(Locator::Css(css)).await.unwrap().attr(name).await.unwrap()
    }

    pub async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_owned()
    }

    /// Waits (up to 30 s) until the browser has come to `path` by itself: a script that
    /// signs in, a page that moves on.
    pub async fn arrive_at(&self, path: &str) {
        for _ in 0..600 {
            if self.path().await == path {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the browser stayed at {}, not {path}", self.path().await);
    }

    /// Signs in through the sign-in page.
    pub async fn sign_in(&self, username: &str, password: &str) {
        self.goto("/login").await;
        self.fill("#username", username).await;
        self.fill("#password", password).await;
        self.click("#sign-in").await;
    }

    /// Signs in with "Login as" on the sign-in page: as `username`, acting as `target`.
    pub async fn sign_in_as(&self, username: &str, password: &str, target: &str) {
        self.goto("/login").await;
        self.fill("#username", username).await;
        self.fill("#password", password).await;
        self.client.find(Locator::Css("#login-as summary")).await.unwrap().click().await.unwrap();
        self.fill("#login-as-user", target).await;
        self.click("#sign-in-as").await;
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}
