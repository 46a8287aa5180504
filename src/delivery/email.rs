//! Email over SMTP (plain, STARTTLS or TLS, from the URL), or into the log when no SMTP
//! server is configured, so a demo still shows its codes.

use anyhow::Context;
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Tokio1Executor,
    message::{Mailbox, MultiPart},
};
use url::Url;

pub enum Mailer {
    Smtp { transport: AsyncSmtpTransport<Tokio1Executor>, from: Mailbox },
    Log,
}

impl Mailer {
    /// `smtp://host:port` (plain; add `?tls=required` for STARTTLS) or `smtps://user:pass@host`.
    pub fn new(url: Option<&Url>, from: &str) -> anyhow::Result<Self> {
        let Some(url) = url else { return Ok(Self::Log) };
        let from = from.parse().context("PORTCULLIS_SMTP_FROM is not an email address")?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.as_str())
            .context("PORTCULLIS_SMTP_URL is not a usable SMTP URL")?
            .timeout(Some(std::time::Duration::from_secs(10)))
            .build();
        Ok(Self::Smtp { transport, from })
    }

    pub async fn send(&self, to: &str, subject: &str, text: &str, html: &str) -> anyhow::Result<()> {
        match self {
            Self::Smtp { transport, from } => {
                let email = lettre::Message::builder()
                    .from(from.clone())
                    .to(to.parse().context("not a deliverable address")?)
                    .subject(subject)
                    .multipart(MultiPart::alternative_plain_html(text.to_owned(), html.to_owned()))?;
                transport.send(email).await.context("the SMTP server refused or could not be reached")?;
                Ok(())
            }
            Self::Log => {
                tracing::warn!(
                    to,
                    subject,
                    body = text,
                    "EMAIL NOT SENT: no PORTCULLIS_SMTP_URL is configured, so it is written here instead"
                );
                Ok(())
            }
        }
    }
}
