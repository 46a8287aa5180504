//! Third-party settings of top users: the flespi token.
//!
//! A top user keeps a flespi token and its region (`eu` or `ru`, flespi's data centres in
//! the Netherlands and Russia). The token is encrypted with the server key (bound to the
//! user) and shown masked. A check asks flespi's REST API of that region about the token
//! (`GET /auth/info` with `Authorization: FlespiToken <token>`) and tells whether it is
//! active or expired, and until when; a token flespi no longer accepts is expired.
//!
//! Tokens come from the user's hand ([`Source::Manual`]). flespi also lets people sign in
//! on its own site and hands the new token to the page that opened it; supporting that is
//! a `Source::Login` variant, a page that opens flespi's sign-in window and receives
//! the token from flespi's origin (which the Content-Security-Policy must then allow), and
//! the same [`save`] with the region flespi reports.

use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use url::Url;

use crate::{
    audit::{self, Event},
    clock::from_unix,
    error::{Error, Result},
    keys::SecretKey,
    rights::Actor,
    store::{FlespiRow, Store, Tx},
    values::{User, UserId},
};

/// Where flespi keeps the data the token opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    Eu,
    Ru,
}

impl Region {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eu => "eu",
            Self::Ru => "ru",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "eu" => Ok(Self::Eu),
            "ru" => Ok(Self::Ru),
            _ => Err(Error::invalid("region", "use eu or ru")),
        }
    }
}

/// How the token reached Portcullis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Typed or pasted by the user.
    Manual,
}

/// What flespi said about a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    /// Past its expiry, disabled, or no longer accepted.
    Expired,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Checked {
    pub status: Status,
    /// When the token stops working, when flespi says (`null` for one it no longer knows).
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub checked_at: OffsetDateTime,
}

/// The stored token as its owner sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FlespiSettings {
    /// Masked: only the last characters show.
    pub token: String,
    pub region: Region,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// The last check's answer, if the token was checked.
    pub last_check: Option<Checked>,
}

impl From<FlespiRow> for FlespiSettings {
    fn from(row: FlespiRow) -> Self {
        let last_check = row.checked_at.map(|at| Checked {
            status: if row.active == Some(true) { Status::Active } else { Status::Expired },
            expires_at: row.expires_at.map(from_unix),
            checked_at: from_unix(at),
        });
        Self {
            token: format!("{}{}", "•".repeat(12), row.hint),
            region: Region::parse(&row.region).unwrap_or(Region::Eu),
            updated_at: from_unix(row.updated_at),
            last_check,
        }
    }
}

/// flespi's REST API, one base URL per region.
pub struct Flespi {
    client: reqwest::Client,
    eu: Url,
    ru: Url,
}

/// The part of flespi's `GET /auth/info` answer a check reads.
#[derive(Debug, Deserialize)]
struct AuthInfo {
    result: Vec<TokenInfo>,
}

#[derive(Debug, Deserialize)]
struct TokenInfo {
    #[serde(default = "enabled_by_default")]
    enabled: bool,
    /// A Unix time the token is valid until; 0 when it has none.
    #[serde(default)]
    expire: i64,
    /// Seconds the token stays valid after its last use; 0 when it has none.
    #[serde(default)]
    ttl: i64,
    #[serde(default)]
    created: i64,
    #[serde(default)]
    accessed: i64,
}

fn enabled_by_default() -> bool {
    true
}

impl TokenInfo {
    /// A token is valid while either its `expire` time or its `ttl` since the last use
    /// has not run out.
    fn expires_at(&self) -> Option<i64> {
        let by_ttl = (self.ttl > 0).then(|| self.created.max(self.accessed) + self.ttl);
        let by_date = (self.expire > 0).then_some(self.expire);
        by_date.max(by_ttl)
    }
}

impl Flespi {
    pub fn new(eu: Url, ru: Url) -> anyhow::Result<Self> {
        // A base is a directory: `https://host/flespi` means `https://host/flespi/auth/info`.
        let directory = |mut url: Url| {
            if !url.path().ends_with('/') {
                url.set_path(&format!("{}/", url.path()));
            }
            url
        };
        let (eu, ru) = (directory(eu), directory(ru));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .context("cannot set up the HTTP client for flespi")?;
        Ok(Self { client, eu, ru })
    }

    /// Asks flespi about `token`: whether it is active and until when.
    async fn ask(&self, region: Region, token: &str, now: i64) -> Result<(Status, Option<i64>)> {
        let base = match region {
            Region::Eu => &self.eu,
            Region::Ru => &self.ru,
        };
        let url = base.join("auth/info").map_err(anyhow::Error::from)?;
        let unreachable = |e: &dyn std::fmt::Display| {
            tracing::warn!(error = %e, region = region.as_str(), "flespi could not be asked about a token");
            Error::Unreachable { service: "flespi" }
        };
        let response = self
            .client
            .get(url)
            .header(reqwest::header::AUTHORIZATION, format!("FlespiToken {token}"))
            .send()
            .await
            .map_err(|e| unreachable(&e))?;
        let status = response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Ok((Status::Expired, None));
        }
        if !status.is_success() {
            return Err(unreachable(&format!("flespi answered {status}")));
        }
        let info = response.json::<AuthInfo>().await.map_err(|e| unreachable(&e))?;
        let token = info.result.first().ok_or_else(|| unreachable(&"flespi answered no token"))?;
        let expires_at = token.expires_at();
        let active = token.enabled && expires_at.is_none_or(|at| at > now);
        Ok((if active { Status::Active } else { Status::Expired }, expires_at))
    }
}

/// The actor, when a top user acting for themselves: only they see this section.
async fn top_user(tx: &mut Tx, actor: &Actor) -> Result<User> {
    let user = tx.user_by_id(actor.own_user()?).await?.ok_or(Error::Unauthenticated)?;
    if user.top_user { Ok(user) } else { Err(Error::Forbidden) }
}

/// The sealing purpose of a user's token: a sealed token opens for its owner only.
fn seal_purpose(user: UserId) -> String {
    format!("flespi-token:{user}")
}

/// The actor's stored token, masked; `None` when there is none.
pub async fn settings(store: &Store, actor: &Actor) -> Result<Option<FlespiSettings>> {
    let mut tx = store.read().await?;
    let user = top_user(&mut tx, actor).await?;
    Ok(tx.flespi_token(user.id).await?.map(FlespiSettings::from))
}

/// Stores the actor's token and its region, replacing any before; without a token, moves
/// the stored one to `region`.
pub async fn save(
    store: &Store,
    keys: &SecretKey,
    actor: &Actor,
    (token, region, source): (Option<&str>, Region, Source),
    now: i64,
) -> Result<FlespiSettings> {
    let token = token.map(checked_token).transpose()?;
    let mut tx = store.write().await?;
    let user = top_user(&mut tx, actor).await?;
    let (sealed, hint) = match token {
        Some(token) => {
            (keys.seal(&seal_purpose(user.id), token.as_bytes()), token[token.len() - 4..].to_owned())
        }
        None => {
            let stored = tx.flespi_token(user.id).await?;
            let stored =
                stored.ok_or_else(|| Error::invalid("token", "no token is stored yet: paste one"))?;
            (stored.token, stored.hint)
        }
    };
    tx.put_flespi_token(user.id, &sealed, &hint, region.as_str(), now).await?;
    let details = serde_json::json!({ "region": region, "source": source });
    let event = Event::new(user.account_id, actor, "integration.flespi_saved").subject(user.id);
    audit::record(&mut tx, event.details(details), now).await?;
    let row = tx.flespi_token(user.id).await?.ok_or(Error::NotFound)?;
    tx.commit().await?;
    Ok(row.into())
}

/// The token as flespi shows it, checked: 16 to 256 letters and digits (a leading
/// `FlespiToken ` is dropped).
fn checked_token(token: &str) -> Result<&str> {
    let token = token.trim();
    let token = token.strip_prefix("FlespiToken ").unwrap_or(token).trim();
    if token.len() < 16 || token.len() > 256 || !token.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(Error::invalid(
            "token",
            "paste the token as flespi shows it: 16 to 256 letters and digits",
        ));
    }
    Ok(token)
}

/// Forgets the actor's token.
pub async fn remove(store: &Store, actor: &Actor, now: i64) -> Result<()> {
    let mut tx = store.write().await?;
    let user = top_user(&mut tx, actor).await?;
    if !tx.delete_flespi_token(user.id).await? {
        return Err(Error::NotFound);
    }
    let event = Event::new(user.account_id, actor, "integration.flespi_removed").subject(user.id);
    audit::record(&mut tx, event, now).await?;
    Ok(tx.commit().await?)
}

/// Asks flespi about the actor's stored token and remembers the answer.
pub async fn check(
    store: &Store,
    keys: &SecretKey,
    flespi: &Flespi,
    actor: &Actor,
    now: i64,
) -> Result<Checked> {
    let (user, row) = {
        let mut tx = store.read().await?;
        let user = top_user(&mut tx, actor).await?;
        let row = tx.flespi_token(user.id).await?.ok_or(Error::NotFound)?;
        (user, row)
    };
    let token = keys.open(&seal_purpose(user.id), &row.token).and_then(|plain| String::from_utf8(plain).ok());
    let token = token.ok_or_else(|| {
        Error::invalid("token", "the stored token cannot be read with this server's key; enter it again")
    })?;
    let region =
        Region::parse(&row.region).map_err(|_| anyhow::anyhow!("unknown stored region {:?}", row.region))?;
    let (status, expires_at) = flespi.ask(region, &token, now).await?;
    let mut tx = store.write().await?;
    tx.record_flespi_check(user.id, &row.token, status == Status::Active, expires_at, now).await?;
    tx.commit().await?;
    Ok(Checked { status, expires_at: expires_at.map(from_unix), checked_at: from_unix(now) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(expire: i64, ttl: i64) -> TokenInfo {
        TokenInfo { enabled: true, expire, ttl, created: 1_000, accessed: 5_000 }
    }

    #[test]
    fn a_token_expires_at_its_date_or_a_ttl_after_its_last_use() {
        assert_eq!(info(90_000, 600).expires_at(), Some(90_000));
        assert_eq!(info(3_000, 600).expires_at(), Some(5_600));
        assert_eq!(info(0, 600).expires_at(), Some(5_600));
        assert_eq!(info(0, 0).expires_at(), None);
    }
}
