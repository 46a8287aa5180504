//! The application: its state (store, clock, hasher, keys, settings), the router built
//! over it, and the server loop with graceful shutdown.

use std::{future::Future, net::SocketAddr, sync::Arc};

use anyhow::Context;
use time::OffsetDateTime;
use tokio::net::TcpListener;

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
        let delivery =
            Delivery { mailer: Arc::new(mailer), sms: sms.map(Arc::new), wake: Default::default() };
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

    /// The current time, read once per request by the edges.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Binds the configured address (port 0 picks a free one) and returns the server.
    pub async fn bind(self) -> anyhow::Result<Server> {
        let listener = TcpListener::bind(self.config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", self.config.listen))?;
        let addr = listener.local_addr()?;
        Ok(Server { app: self, listener, addr })
    }
}

/// A bound server, not yet serving.
pub struct Server {
    pub app: App,
    listener: TcpListener,
    addr: SocketAddr,
}

impl Server {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves, delivers the outbox and sends the day's notices until `shutdown`
    /// completes; then finishes the requests in flight.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let router = crate::http::router(self.app.clone());
        let (stop_jobs, jobs_stopped) = tokio::sync::watch::channel(());
        let stopped = move || {
            let mut rx = jobs_stopped.clone();
            async move {
                let _ = rx.changed().await;
            }
        };
        let jobs = [
            tokio::spawn(crate::delivery::run_worker(self.app.clone(), stopped())),
            tokio::spawn(crate::lifecycle::run_notices(self.app.clone(), stopped())),
        ];
        let limits = crate::http::serve::Limits {
            header_timeout: std::time::Duration::from_secs(self.app.config.header_timeout_seconds),
            max_connections: self.app.config.max_connections,
        };
        let served = crate::http::serve::serve(self.listener, router, limits, shutdown).await;
        let _ = stop_jobs.send(());
        for job in jobs {
            let _ = job.await;
        }
        self.app.store.close().await;
        served.context("server error")
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
