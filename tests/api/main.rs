//! Black-box tests through the HTTP API (and the command line), each on a fresh
//! database, every one on SQLite and on PostgreSQL.

// A test that unwraps fails loudly, which is what a test should do.
#![allow(clippy::unwrap_used)]

mod agent;
mod browser;
mod helpers;
mod soft_passkey;

mod administration;
mod attacks;
mod audit_log;
pub mod authenticator;
pub mod cli;
mod cluster;
mod code_pages;
mod company_pages;
mod crash;
mod finished_pages;
mod flespi;
mod forward_auth;
mod impersonation;
mod lifecycle;
mod login;
mod matrix;
mod openid;
mod openid_admin;
mod openid_pages;
mod operations;
mod outage;
mod outbox;
mod pages;
mod passkey_pages;
mod passkeys;
mod process;
mod purge;
mod races;
mod recovery;
mod screenshots;
mod sessions;
mod shutdown;
mod sms;
mod smtp;
pub mod tab_pages;
mod two_factor;
mod verification;
