//! Prometheus metrics. The recorder is process-wide (the `metrics` crate's design), so
//! every app in a process shares it; it is installed on first use.

use std::{sync::OnceLock, time::Duration};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("http_request_duration_seconds".into()),
                &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5],
            )
            .expect("valid buckets")
            .set_buckets_for_metric(
                Matcher::Full("outbox_delay_seconds".into()),
                &[1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 3600.0],
            )
            .expect("valid buckets")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (by an embedding program); then ours
        // simply renders nothing of theirs.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Installs the recorder; call once at start-up so the first scrape is complete.
pub fn init() {
    handle();
}

pub fn render() -> String {
    handle().render()
}

pub fn request_done(route: &str, method: &'static str, status: u16, took: Duration) {
    let labels = [("route", route.to_owned()), ("method", method.to_owned()), ("status", status.to_string())];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels[..2]).record(took.as_secs_f64());
}

/// Counts sign-in attempts by outcome (`ok`, `invalid_credentials`, `locked`...).
pub fn sign_in(outcome: &'static str) {
    metrics::counter!("sign_ins_total", "outcome" => outcome).increment(1);
}

/// Counts sign-in codes sent, by channel, and whether an SMS user's went by email.
pub fn code_sent(channel: &'static str, fallback: bool) {
    metrics::counter!("second_factor_codes_sent_total", "channel" => channel, "fallback" => if fallback { "yes" } else { "no" })
        .increment(1);
}

/// Counts rows `purge` deleted, by kind.
pub fn purged(kind: &'static str, rows: u64) {
    metrics::counter!("purged_rows_total", "kind" => kind).increment(rows);
}

/// A message sent, `waited` seconds after it was queued.
pub fn outbox_sent(priority: &'static str, waited: i64) {
    metrics::histogram!("outbox_delay_seconds", "priority" => priority).record(waited as f64);
}

/// A message dropped because what it carried expired before it could be sent.
pub fn outbox_dropped(priority: &'static str) {
    metrics::counter!("outbox_dropped_total", "priority" => priority).increment(1);
}

/// What waits in the outbox of one priority: how many, and the age of the oldest.
pub fn outbox_backlog(priority: &'static str, waiting: i64, oldest_age: i64) {
    metrics::gauge!("outbox_waiting", "priority" => priority).set(waiting as f64);
    metrics::gauge!("outbox_oldest_age_seconds", "priority" => priority).set(oldest_age as f64);
}

/// A request run again because the database aborted it for a concurrent one; `gave_up`
/// when it was the last try.
pub fn contended(gave_up: bool) {
    metrics::counter!("contended_requests_total", "outcome" => if gave_up { "gave_up" } else { "retried" })
        .increment(1);
}
