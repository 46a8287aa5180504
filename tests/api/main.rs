//! Black-box tests through the HTTP API (and the command line), each on a fresh
//! database, every one on SQLite and on PostgreSQL.

// A test that unwraps fails loudly, which is what a test should do.
#![allow(clippy::unwrap_used)]

mod browser;
mod helpers;

mod administration;
mod attacks;
mod audit_log;
pub mod authenticator;
mod cli;
mod code_pages;
mod crash;
mod flespi;
mod impersonation;
mod lifecycle;
mod login;
mod matrix;
mod operations;
mod outage;
mod outbox;
mod pages;
mod process;
mod purge;
mod races;
mod recovery;
mod sessions;
mod shutdown;
mod sms;
mod smtp;
mod two_factor;
mod verification;
