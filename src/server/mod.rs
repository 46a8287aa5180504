//! The server's assembly: the application bound to its address, the router over it, the
//! background workers (outbox, blocking notices, purge) and the connection loop, started and
//! stopped together.

use std::{future::Future, net::SocketAddr, time::Duration};

use anyhow::Context;
use tokio::net::TcpListener;

use crate::app::App;

mod serve;
mod workers;

/// A bound server, not yet serving.
pub struct Server {
    pub app: App,
    listener: TcpListener,
    addr: SocketAddr,
}

impl Server {
    /// Binds the configured address (port 0 picks a free one) and returns the server.
    pub async fn bind(app: App) -> anyhow::Result<Server> {
        let listener = TcpListener::bind(app.config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", app.config.listen))?;
        let addr = listener.local_addr()?;
        app.bound_to(addr);
        Ok(Server { app, listener, addr })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves, delivers the outbox, sends the day's notices and purges until `shutdown`
    /// completes; then stops accepting connections and finishes the requests in flight
    /// and the messages being sent, within the shutdown deadline.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let router = crate::http::router(self.app.clone());
        let (stop_jobs, jobs_stopped) = tokio::sync::watch::channel(());
        let stopped = move || {
            let mut rx = jobs_stopped.clone();
            async move {
                let _ = rx.changed().await;
            }
        };
        let mut jobs = vec![
            tokio::spawn(workers::send_notices(self.app.clone(), stopped())),
            tokio::spawn(workers::purge(self.app.clone(), stopped())),
        ];
        for sender in 0..self.app.config.outbox_senders {
            jobs.push(tokio::spawn(workers::deliver_outbox(self.app.clone(), sender, stopped())));
        }
        let deadline = Duration::from_secs(self.app.config.shutdown_seconds);
        let limits = serve::Limits {
            header_timeout: Duration::from_secs(self.app.config.header_timeout_seconds),
            max_connections: self.app.config.max_connections,
            shutdown_deadline: deadline,
        };
        // The workers stop when the server does: each finishes what it has in hand.
        let shutdown = async move {
            shutdown.await;
            let _ = stop_jobs.send(());
        };
        let served = serve::serve(self.listener, router, limits, shutdown).await;
        let finished = async {
            for job in jobs {
                let _ = job.await;
            }
        };
        if tokio::time::timeout(deadline, finished).await.is_err() {
            tracing::warn!("a worker was still busy when the shutdown deadline passed; stopping anyway");
        }
        // A connection still held by a request cut off at the deadline would keep the
        // close waiting; what it wrote is committed or rolled back by the database anyway.
        if tokio::time::timeout(Duration::from_secs(2), self.app.store.close()).await.is_err() {
            tracing::warn!("a database connection was still in use at exit");
        }
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
