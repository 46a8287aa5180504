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
    pub dpa_text: String,
    pub delivery: Delivery,
    pub flespi: Flespi,
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
        let store = Store::connect(&config.database_url(), keys.clone()).await?;
        store.migrate().await?;
        let threads = config
            .hash_threads
            .map(|n| n.get())
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
        let dpa_text = match &config.dpa_file {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("cannot read PORTCULLIS_DPA_FILE {}", path.display()))?,
            None => crate::dpa::DEFAULT_TEXT.to_owned(),
        };
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
            dpa_text,
            delivery,
            flespi,
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
        }
    }

    /// The current time, read once per request by the edges.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }
}
