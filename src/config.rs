//! One typed configuration, read from flags or the environment (flags win), shared by
//! every command. Values are checked as they are parsed, so a bad value stops the
//! program at start-up with a one-line reason naming the variable.

use std::{net::SocketAddr, num::NonZeroUsize, path::PathBuf};

use clap::Args;
use url::Url;

use crate::keys::SecretKey;

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Database: `sqlite://PATH` or `postgres://USER@HOST/DB`. Default: a SQLite file in
    /// the data directory.
    #[arg(long, env = "PORTCULLIS_DATABASE_URL", global = true, value_parser = parse_database_url)]
    pub database_url: Option<String>,

    /// Where the SQLite file and the generated secret key live.
    #[arg(long, env = "PORTCULLIS_DATA_DIR", global = true, default_value = "./data")]
    pub data_dir: PathBuf,

    /// Address to listen on.
    #[arg(long, env = "PORTCULLIS_LISTEN", global = true, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Base URL used in links inside emails. Default: `http://<listen>`.
    #[arg(long, env = "PORTCULLIS_PUBLIC_URL", global = true)]
    pub public_url: Option<Url>,

    /// 32-byte key (64 hex digits) for encrypting secrets at rest and keyed hashes.
    /// Default: generated into the data directory on first start and reused.
    #[arg(long, env = "PORTCULLIS_SECRET_KEY", global = true, hide_env_values = true)]
    pub secret_key: Option<SecretKey>,

    /// SMTP server for outgoing email, e.g. `smtp://127.0.0.1:2525` or
    /// `smtps://user:pass@host`. Unset: emails are written to the log.
    #[arg(long, env = "PORTCULLIS_SMTP_URL", global = true, hide_env_values = true)]
    pub smtp_url: Option<Url>,

    /// Sender address of outgoing email.
    #[arg(long, env = "PORTCULLIS_SMTP_FROM", global = true, default_value = "portcullis@localhost")]
    pub smtp_from: String,

    /// SMS gateway: receives POST JSON `{"to","text"}`; any 2xx means sent. Unset: no SMS.
    #[arg(long, env = "PORTCULLIS_SMS_WEBHOOK_URL", global = true)]
    pub sms_webhook_url: Option<Url>,

    /// Base URL of flespi's REST API in the EU region.
    #[arg(long, env = "PORTCULLIS_FLESPI_URL_EU", global = true, default_value = "https://flespi.io")]
    pub flespi_url_eu: Url,

    /// Base URL of flespi's REST API in the RU region.
    #[arg(long, env = "PORTCULLIS_FLESPI_URL_RU", global = true, default_value = "https://flespi.ru")]
    pub flespi_url_ru: Url,

    /// Comma-separated domains of apps behind forward auth (nginx `auth_request`, Traefik,
    /// Caddy): after signing in, people are sent back only to these hosts and their
    /// subdomains (`example.com` covers `app.example.com`).
    #[arg(long, env = "PORTCULLIS_FORWARD_AUTH_DOMAINS", global = true, value_delimiter = ',')]
    pub forward_auth_domains: Vec<String>,

    /// The domain of the session cookie, to share it with apps on sibling hosts behind
    /// forward auth (`example.com` for `auth.example.com` and `app.example.com`). Default:
    /// this host only.
    #[arg(long, env = "PORTCULLIS_COOKIE_DOMAIN", global = true)]
    pub cookie_domain: Option<String>,

    /// Comma-separated addresses of proxies whose `X-Forwarded-For` is believed.
    #[arg(long, env = "PORTCULLIS_TRUSTED_PROXIES", global = true, value_delimiter = ',')]
    pub trusted_proxies: Vec<std::net::IpAddr>,

    /// How many password hashes may run at once. Default: the number of cores.
    #[arg(long, env = "PORTCULLIS_HASH_THREADS", global = true)]
    pub hash_threads: Option<NonZeroUsize>,

    /// Password hashes that may wait for a thread; beyond them a sign-in is answered
    /// `503 overloaded` at once. Default: 32 per hashing thread.
    #[arg(long, env = "PORTCULLIS_HASH_QUEUE", global = true)]
    pub hash_queue: Option<NonZeroUsize>,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "PORTCULLIS_MAX_BODY_BYTES", global = true, default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,

    /// Seconds a client has to send a request's whole head (method, path, headers). A
    /// kept-alive connection that starts no new request within this time is closed too:
    /// it is also the idle limit of a connection.
    #[arg(long, env = "PORTCULLIS_HEADER_TIMEOUT_SECONDS", global = true, default_value_t = 10)]
    pub header_timeout_seconds: u64,

    /// Seconds a request may take from its head to the answer (reading the body
    /// included); past it the client gets `503 timeout`. A change already under way still
    /// finishes.
    #[arg(long, env = "PORTCULLIS_REQUEST_TIMEOUT_SECONDS", global = true, default_value_t = 30)]
    pub request_timeout_seconds: u64,

    /// On SIGTERM or Ctrl-C, seconds the requests in flight and the messages being sent
    /// have to finish; then the server stops anyway.
    #[arg(long, env = "PORTCULLIS_SHUTDOWN_SECONDS", global = true, default_value_t = 20)]
    pub shutdown_seconds: u64,

    /// Connections served at once; further clients wait in the listen queue until one
    /// closes.
    #[arg(long, env = "PORTCULLIS_MAX_CONNECTIONS", global = true, default_value_t = 4096)]
    pub max_connections: usize,

    /// How often a signed-in page asks whether its session still stands, in seconds.
    #[arg(long, env = "PORTCULLIS_PAGE_POLL_SECONDS", global = true, default_value_t = 15)]
    pub page_poll_seconds: u64,

    /// After how many seconds without an answer a page says the connection is lost.
    #[arg(long, env = "PORTCULLIS_CONNECTION_LOST_SECONDS", global = true, default_value_t = 120)]
    pub connection_lost_seconds: u64,

    /// A text file with the Data Protection Agreement users must accept. Default: a
    /// short built-in agreement.
    #[arg(long, env = "PORTCULLIS_DPA_FILE", global = true)]
    pub dpa_file: Option<PathBuf>,

    /// How long a password reset link works, in hours.
    #[arg(long, env = "PORTCULLIS_RESET_LINK_HOURS", global = true, default_value_t = 24)]
    pub reset_link_hours: u32,

    /// The hour of the day (UTC, 0-23) from which the day's notices of coming account
    /// blocking are sent.
    #[arg(long, env = "PORTCULLIS_NOTICE_HOUR", global = true, default_value_t = 9,
          value_parser = clap::value_parser!(u8).range(0..=23))]
    pub notice_hour: u8,

    /// Seconds between two runs of `purge` in this instance (0: never; run
    /// `portcullis purge` from a timer instead). Every instance may run it.
    #[arg(long, env = "PORTCULLIS_PURGE_SECONDS", global = true, default_value_t = 600)]
    pub purge_seconds: u64,

    /// Messages this instance sends at once.
    #[arg(long, env = "PORTCULLIS_OUTBOX_SENDERS", global = true, default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub outbox_senders: u16,

    /// Seconds a sender may hold a message before any instance may send it again: how
    /// late a message in hand when an instance died goes out. Keep it above the mail
    /// server's and the SMS gateway's timeouts (10 s and 5 s per step), or a slow send may
    /// go twice.
    #[arg(long, env = "PORTCULLIS_OUTBOX_CLAIM_SECONDS", global = true, default_value_t = 60,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub outbox_claim_seconds: u16,

    /// Connections each instance keeps to PostgreSQL at most (SQLite: fixed). Instances times
    /// this must stay below the server's `max_connections`.
    #[arg(long, env = "PORTCULLIS_DATABASE_POOL", global = true, default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub database_pool: u32,

    /// Serve `GET /bench/floor`, one primary-key `SELECT` on the pool: the reference the
    /// benchmark measures the session check against. Off in production.
    #[arg(long, env = "PORTCULLIS_BENCH_FLOOR", global = true, hide = true)]
    pub bench_floor: bool,

    /// Write logs as JSON lines instead of text.
    #[arg(long, env = "PORTCULLIS_LOG_JSON", global = true)]
    pub log_json: bool,
}

impl Config {
    /// The database URL in force: the configured one, or the SQLite file in the data dir.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("portcullis.db").display()))
    }

    /// The base of links sent to people.
    pub fn public_url(&self) -> Url {
        self.public_url.clone().unwrap_or_else(|| {
            Url::parse(&format!("http://{}", self.listen)).expect("a socket address is a valid URL")
        })
    }
}

fn parse_database_url(s: &str) -> Result<String, String> {
    let known = ["sqlite:", "postgres://", "postgresql://"];
    if known.iter().any(|prefix| s.starts_with(prefix)) {
        Ok(s.to_owned())
    } else {
        Err("use sqlite://PATH or postgres://USER@HOST/DATABASE".to_owned())
    }
}
