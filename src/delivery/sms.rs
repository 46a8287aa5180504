//! SMS through the platform's HTTP gateway: POST JSON `{"to","text"}`, any 2xx is sent.

use std::time::Duration;

use anyhow::Context;
use url::Url;

pub struct SmsGateway {
    client: reqwest::Client,
    url: Url,
}

impl SmsGateway {
    pub fn new(url: Url) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .context("cannot set up the HTTP client for the SMS gateway")?;
        Ok(Self { client, url })
    }

    pub async fn send(&self, to: &str, text: &str) -> anyhow::Result<()> {
        let response = self
            .client
            .post(self.url.clone())
            .json(&serde_json::json!({ "to": to, "text": text }))
            .send()
            .await
            .context("the SMS gateway could not be reached")?;
        let status = response.status();
        anyhow::ensure!(status.is_success(), "the SMS gateway answered {status}");
        Ok(())
    }
}
