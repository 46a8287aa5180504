//! The application: the services a running server is made of (store, clock, hasher,
//! keys, outbox, settings), built once from the configuration. The HTTP faces hold it as
//! their state and hand each domain function only the parts it uses.

use std::sync::Arc;

use anyhow::Context;
use time::OffsetDateTime;

use crate::{
    clock::{Clock, SystemClock},
    config::Config,
    delivery::{Delivery, email::Mailer, sms::SmsGateway},
    integrations::Flespi,
    keys::SecretKey,
    passwords::Hasher,
    sessions::Lifetimes,
    store::Store,
};

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct App(Arc<State>);

pub struct State {
    pub config: Config,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub hasher: Hasher,
    pub keys: SecretKey,
    pub lifetimes: Lifetimes,
    /// The Data Protection Agreement users accept.
    pub dpa: crate::dpa::Texts,
    pub delivery: Delivery,
    pub flespi: Flespi,
    /// The keys that sign ID tokens, as this instance last read them.
    pub keyring: crate::oidc::Keyring,
    /// The public URL in force: the configured one, or the address the server bound.
    public_url: std::sync::OnceLock<url::Url>,
    /// Who passkeys are for, made from the public URL at first use.
    relying_party: std::sync::OnceLock<Result<crate::passkeys::RelyingParty, String>>,
}

impl std::ops::Deref for App {
    type Target = State;

    fn deref(&self) -> &State {
        &self.0
    }
}

impl App {
    /// Connects to the database, brings its schema up to date and loads the secret key.
    pub async fn new(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        crate::metrics::init();
        // One TLS provider for every client (SMTP, the SMS gateway, flespi): ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let keys = match &config.secret_key {
            Some(key) => key.clone(),
            None => SecretKey::load_or_generate(&config.data_dir)?,
        };
        let store = Store::connect(&config.database_url(), config.database_pool, keys.clone()).await?;
        store.migrate().await?;
        let threads = config
            .hash_threads
            .map(|n| n.get())
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
        let dpa = crate::dpa::Texts::load(config.dpa_file.as_deref()).context("PORTCULLIS_DPA_FILE")?;
        let mailer = Mailer::new(config.smtp_url.as_ref(), &config.smtp_from)?;
        let sms = config.sms_webhook_url.clone().map(SmsGateway::new).transpose()?;
        let delivery = Delivery {
            mailer: Arc::new(mailer),
            sms: sms.map(Arc::new),
            wake: Default::default(),
            claim_seconds: config.outbox_claim_seconds.into(),
        };
        let flespi = Flespi::new(config.flespi_url_eu.clone(), config.flespi_url_ru.clone())?;
        let hasher = Hasher::new(threads, config.hash_queue.map_or(threads * 32, |n| n.get()));
        Ok(Self(Arc::new(State {
            config,
            store,
            clock,
            hasher,
            keys,
            lifetimes: Lifetimes::default(),
            dpa,
            delivery,
            flespi,
            keyring: Default::default(),
            public_url: std::sync::OnceLock::new(),
            relying_party: std::sync::OnceLock::new(),
        })))
    }

    /// The app on the wall clock.
    pub async fn from_config(config: Config) -> anyhow::Result<Self> {
        Self::new(config, Arc::new(SystemClock)).await
    }

    /// What signing in uses.
    pub fn login(&self) -> crate::login::Context<'_> {
        crate::login::Context {
            store: &self.store,
            hasher: &self.hasher,
            outbox: &self.delivery,
            lifetimes: &self.lifetimes,
            relying_party: self.relying_party().ok(),
        }
    }

    /// What the OpenID Connect provider signs and checks tokens with.
    pub fn provider(&self) -> crate::oidc::Provider<'_> {
        crate::oidc::Provider {
            store: &self.store,
            secret: &self.keys,
            keyring: &self.keyring,
            lifetimes: &self.lifetimes,
            issuer: self.issuer(),
        }
    }

    /// The base of this server's URLs for the outside world: `PORTCULLIS_PUBLIC_URL`, or
    /// else the address the server listens on (known once it is bound: see
    /// [`App::bound_to`]).
    pub fn public_url(&self) -> &url::Url {
        self.public_url.get_or_init(|| self.config.public_url())
    }

    /// Records the address the server bound (port 0 picks one), for the public URL when
    /// none is configured.
    pub fn bound_to(&self, addr: std::net::SocketAddr) {
        let url = match &self.config.public_url {
            Some(url) => url.clone(),
            None => url::Url::parse(&format!("http://{addr}")).expect("a socket address is a valid URL"),
        };
        let _ = self.public_url.set(url);
    }

    /// The relying party passkeys are registered with: this server, by its public URL.
    pub fn relying_party(&self) -> crate::error::Result<&crate::passkeys::RelyingParty> {
        let made = self.relying_party.get_or_init(|| {
            crate::passkeys::RelyingParty::for_url(self.public_url()).map_err(|e| e.to_string())
        });
        made.as_ref().map_err(|e| crate::error::Error::Unexpected(anyhow::anyhow!("{e}")))
    }

    /// The OpenID Connect issuer: the public URL, without a trailing slash.
    pub fn issuer(&self) -> &str {
        self.public_url().as_str().trim_end_matches('/')
    }

    /// The current time, read once per request by the edges.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }
}
