//! Load for `bench/overload`, sent to a running server, with what it saw on stdout.
//! Every request comes through the proxy the server trusts (`X-Forwarded-For`), each
//! seeded user from an address of its own, as a crowd of people would.
//!
//! - `flood RATE SECONDS`: sign-ins of `bench-0`.. at RATE per second for SECONDS, each
//!   sent on schedule whatever became of the earlier ones (an open loop, as a crowd
//!   behaves); reports the answers by kind and the latency of each kind.
//! - `soak SECONDS`: mixed traffic, each kind on schedule: session checks (the tokens of
//!   `BENCH_TOKENS`), sign-ins of `bench-0`..49, sign-ins of users with an emailed code
//!   (`bench-1000`..1999) and reset requests (`bench-2000`..2999), their messages
//!   received by a mail server of its own on
//!   `--smtp-port`. Every 10 s it samples the server's RSS (`--pid`), the age of the
//!   outbox's oldest waiting message (`/metrics`) and the answers by kind.
//!
//! It exits non-zero when the server answered anything it should not have: a 5xx other
//! than a shed sign-in during a flood, any 5xx during a soak (but a shed sign-in with
//! `--sheds-allowed`).

// Load generation fails loudly, like a test.
#![allow(clippy::unwrap_used)]

#[path = "../tests/api/smtp.rs"]
#[allow(dead_code)]
mod smtp;

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use clap::{Parser, Subcommand};
use serde_json::json;

#[derive(Parser)]
struct Load {
    #[arg(long, env = "BENCH_URL")]
    url: String,
    #[arg(long, env = "BENCH_PASSWORD")]
    password: String,
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand)]
enum What {
    Flood {
        rate: f64,
        seconds: u64,
        /// Users signing in, in turn.
        #[arg(long, default_value_t = 50)]
        users: usize,
    },
    Soak {
        seconds: u64,
        /// The server's process, whose memory is sampled.
        #[arg(long)]
        pid: u32,
        #[arg(long)]
        smtp_port: u16,
        /// Session checks per second.
        #[arg(long, default_value_t = 1000.0)]
        checks: f64,
        /// Password sign-ins per second.
        #[arg(long, default_value_t = 10.0)]
        sign_ins: f64,
        /// Sign-ins per second that are sent an emailed code.
        #[arg(long, default_value_t = 3.0)]
        codes: f64,
        /// Reset requests per second.
        #[arg(long, default_value_t = 3.0)]
        resets: f64,
        /// A sign-in shed (`503 overloaded`, with `Retry-After`) is an answer that may
        /// come: on a busy shared machine a stall can fill the hashing queue.
        #[arg(long)]
        sheds_allowed: bool,
    },
}

/// Answers by kind (`200`, `503 overloaded`, `error`...), with their latencies.
#[derive(Default)]
struct Tally(Mutex<BTreeMap<String, Vec<Duration>>>);

impl Tally {
    fn record(&self, kind: String, took: Duration) {
        self.0.lock().unwrap().entry(kind).or_default().push(took);
    }

    fn take(&self) -> BTreeMap<String, Vec<Duration>> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Sends one request of kind `what` and records how it was answered: the status, and for
/// errors the `error` field of the body.
async fn send(tally: &Tally, what: &str, request: reqwest::RequestBuilder) {
    let started = Instant::now();
    let kind = match request.send().await {
        Err(_) => format!("{what} no answer"),
        Ok(answer) => {
            let status = answer.status();
            let body: serde_json::Value = answer.json().await.unwrap_or_default();
            match body["error"].as_str() {
                Some(error) if !status.is_success() => format!("{what} {} {error}", status.as_u16()),
                _ => format!("{what} {}", status.as_u16()),
            }
        }
    };
    tally.record(kind, started.elapsed());
}

/// A client that, like a proxy in front of the server, lets a kept-alive connection go
/// before the server would (after 10 s idle), so no request races the server's close.
fn client() -> reqwest::Client {
    reqwest::Client::builder().pool_idle_timeout(Duration::from_secs(5)).build().unwrap()
}

/// A request from `user`, through the proxy.
fn from(http: &reqwest::Client, url: &str, user: usize) -> impl Fn(&str) -> reqwest::RequestBuilder {
    let (http, url) = (http.clone(), url.to_owned());
    let ip = format!("10.{}.{}.{}", user >> 16 & 255, user >> 8 & 255, user & 255);
    move |path| http.post(format!("{url}{path}")).header("x-forwarded-for", &ip)
}

/// Sends `request(n)` for n = 0, 1, ... at `rate` per second until `end`, each in a task
/// of its own, and waits for the answers.
async fn on_schedule<F>(rate: f64, end: Instant, request: impl Fn(usize) -> F)
where
    F: Future<Output = ()> + Send + 'static,
{
    if rate <= 0.0 {
        return;
    }
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    let mut sent = tokio::task::JoinSet::new();
    for n in 0.. {
        ticks.tick().await;
        if Instant::now() >= end {
            break;
        }
        sent.spawn(request(n));
        while sent.try_join_next().is_some() {} // keeps only the requests in flight
    }
    sent.join_all().await;
}

fn report(title: &str, answers: &BTreeMap<String, Vec<Duration>>) {
    println!("{title}");
    for (kind, took) in answers {
        let mut took = took.clone();
        took.sort();
        println!(
            "  {kind:<24} {:>7} answers   p50 {:>9}   p99 {:>9}   max {:>9}",
            took.len(),
            ms(percentile(&took, 0.5)),
            ms(percentile(&took, 0.99)),
            ms(*took.last().unwrap())
        );
    }
}

async fn flood(load: &Load, rate: f64, seconds: u64, users: usize) -> bool {
    let http = client();
    let tally = Arc::new(Tally::default());
    let end = Instant::now() + Duration::from_secs(seconds);
    on_schedule(rate, end, |n| {
        let user = n % users;
        let body = json!({ "username": format!("bench-{user}"), "password": load.password });
        let request = from(&http, &load.url, user)("/api/v1/login").json(&body);
        let tally = tally.clone();
        async move { send(&tally, "sign-in", request).await }
    })
    .await;
    let answers = tally.take();
    report(&format!("sign-ins at {rate}/s for {seconds} s:"), &answers);
    answers.keys().all(|kind| kind == "sign-in 200" || kind == "sign-in 503 overloaded")
}

/// The server's resident memory, in MiB.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next());
    kib.and_then(|k| k.parse::<f64>().ok()).unwrap_or(0.0) / 1024.0
}

/// The age in seconds of the oldest message waiting in the outbox, from `/metrics`.
async fn outbox_age(http: &reqwest::Client, url: &str) -> f64 {
    let Ok(answer) = http.get(format!("{url}/metrics")).send().await else { return f64::NAN };
    let text = answer.text().await.unwrap_or_default();
    let ages = text.lines().filter(|l| l.starts_with("outbox_oldest_age_seconds"));
    ages.filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).fold(0.0, f64::max)
}

async fn soak(
    load: &Load,
    seconds: u64,
    (pid, smtp_port): (u32, u16),
    rates: [f64; 4],
    sheds_allowed: bool,
) -> bool {
    let wrong = |kind: &str| {
        let shed = kind.ends_with("sign-in 503 overloaded");
        (kind.contains(" 5") || kind.starts_with('5') || kind.contains("no answer"))
            && !(shed && sheds_allowed)
    };
    let mail = smtp::SmtpReceiver::start_on(smtp_port).await;
    let http = client();
    let tally = Arc::new(Tally::default());
    let started = Instant::now();
    let end = started + Duration::from_secs(seconds);
    let tokens: Vec<String> = std::fs::read_to_string(std::env::var("BENCH_TOKENS").unwrap())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();

    let tokens = Arc::new(tokens);
    let checks = tokio::spawn({
        let (http, url, tally) = (http.clone(), load.url.clone(), tally.clone());
        async move {
            on_schedule(rates[0], end, |n| {
                let request =
                    http.get(format!("{url}/api/v1/session")).bearer_auth(&tokens[n % tokens.len()]);
                let tally = tally.clone();
                async move { send(&tally, "check", request).await }
            })
            .await
        }
    });
    let kinds: [(&str, &str, usize, usize); 3] = [
        ("sign-in", "/api/v1/login", 0, 50),
        ("code sign-in", "/api/v1/login", 1000, 1000),
        ("reset", "/api/v1/password/forgot", 2000, 1000),
    ];
    let schedules = kinds.into_iter().zip(&rates[1..]).map(|((what, path, first, users), &rate)| {
        let (http, url, tally, password) =
            (http.clone(), load.url.clone(), tally.clone(), load.password.clone());
        tokio::spawn(async move {
            on_schedule(rate, end, |n| {
                let user = first + n % users;
                let username = format!("bench-{user}");
                let body = match path {
                    "/api/v1/password/forgot" => {
                        json!({ "username": username, "email": format!("{username}@bench.example") })
                    }
                    _ => json!({ "username": username, "password": password }),
                };
                let request = from(&http, &url, user)(path).json(&body);
                let tally = tally.clone();
                async move { send(&tally, what, request).await }
            })
            .await
        })
    });
    let schedules: Vec<_> = schedules.collect();

    let mut samples = Vec::new();
    let mut all: BTreeMap<String, Vec<Duration>> = BTreeMap::new();
    println!(
        "{:>6} {:>9} {:>14} {:>10} {:>7} {:>7}",
        "second", "RSS MiB", "outbox age s", "requests", "5xx", "mails"
    );
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_secs(10).min(end - Instant::now())).await;
        let answers = tally.take();
        let count = |f: &dyn Fn(&str) -> bool| {
            answers.iter().filter(|(k, _)| f(k)).map(|(_, v)| v.len()).sum::<usize>()
        };
        let errors = count(&|k| k.contains(" 5") || k.starts_with('5') || k.contains("no answer"));
        let sample = (started.elapsed().as_secs(), rss_mib(pid), outbox_age(&http, &load.url).await);
        println!(
            "{:>6} {:>9.1} {:>14.0} {:>10} {:>7} {:>7}",
            sample.0,
            sample.1,
            sample.2,
            count(&|_| true),
            errors,
            mail.mails().len()
        );
        samples.push(sample);
        for (kind, took) in answers {
            all.entry(kind).or_default().extend(took);
        }
    }
    for job in std::iter::once(checks).chain(schedules) {
        job.await.unwrap();
    }
    report(&format!("{seconds} s of mixed traffic:"), &all);
    let warm = samples.iter().find(|s| s.0 >= seconds.min(60)).map_or(0.0, |s| s.1);
    let last = samples.last().map_or(0.0, |s| s.1);
    let peak = samples.iter().map(|s| s.1).fold(0.0, f64::max);
    let oldest = samples.iter().map(|s| s.2).fold(0.0, f64::max);
    println!(
        "RSS after warm-up {warm:.1} MiB, at the end {last:.1} MiB ({:+.1}%), peak {peak:.1} MiB; oldest waiting message {oldest:.0} s; {} mails received",
        (last - warm) / warm * 100.0,
        mail.mails().len()
    );
    !all.keys().any(|kind| wrong(kind))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let load = Load::parse();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let fine = match load.what {
        What::Flood { rate, seconds, users } => flood(&load, rate, seconds, users).await,
        What::Soak { seconds, pid, smtp_port, checks, sign_ins, codes, resets, sheds_allowed } => {
            let rates = [checks, sign_ins, codes, resets];
            soak(&load, seconds, (pid, smtp_port), rates, sheds_allowed).await
        }
    };
    match fine {
        true => std::process::ExitCode::SUCCESS,
        false => {
            eprintln!("error: the server gave answers it should not have (above)");
            std::process::ExitCode::FAILURE
        }
    }
}
