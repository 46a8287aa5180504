//! The operator's command line. Every command reads the same configuration as `serve`,
//! prints a line for people or JSON with `--json`, and exits non-zero with a one-line
//! reason when it fails.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde_json::json;

mod manage;
mod openid;

pub use manage::{AccountCommand, RightArg, UserCommand};
pub use openid::{ClientCommand, KeysCommand};

use crate::{
    app::App,
    audit,
    clock::to_unix,
    config::Config,
    demo, purge,
    server::{self, Server},
};

#[derive(Debug, Parser)]
#[command(
    name = "portcullis",
    version,
    about = "Authentication and account security for multi-tenant platforms"
)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,

    /// Print the result as JSON.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (JSON API, pages, metrics).
    Serve {
        /// Seed the demo company when it is not there yet.
        #[arg(long)]
        demo: bool,
    },
    /// Bring the database schema up to date.
    Migrate,
    /// Seed the demo company and print how to sign in.
    Demo,
    /// Manage accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage the apps that sign people in through Portcullis (OpenID Connect clients).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage the keys that sign ID tokens.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Check the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Delete what has expired (sessions, challenges, reset links, trusted devices,
    /// codes, failure counters, delivered messages, old notices) and print how much.
    /// Audit events are kept. Every instance also runs it on a schedule.
    Purge,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk every account's sealed chain; fail naming the first event that was changed,
    /// removed or reordered.
    Verify {
        /// Heads exported earlier by `audit heads`: also fail if a trail was cut back to
        /// before one of them.
        #[arg(long, value_name = "FILE")]
        heads: Option<PathBuf>,
    },
    /// Print every account's chain head, signed with the server key, as JSON: keep it
    /// outside the database and check against it later with `audit verify --heads`.
    Heads,
    /// Once, right after upgrading from a version whose trails were not sealed with the
    /// key: check each old trail and seal it. Never run it otherwise: a trail marked as
    /// old that you did not upgrade is a trail someone rewrote.
    SealLegacy,
}

/// Runs a command to completion.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let app = App::from_config(cli.config.clone()).await?;
    let (text, value) = match cli.command {
        Command::Serve { demo } => return serve(app, demo).await,
        Command::Migrate => ("the database schema is up to date".to_owned(), json!({ "migrated": true })),
        Command::Demo => {
            let seeded = demo::seed_if_missing(&app.store, &app.hasher, to_unix(app.now())).await?;
            (
                demo_text(&app, seeded.is_some()),
                json!({ "url": app.config.public_url().as_str(), "seeded": seeded }),
            )
        }
        Command::Account(command) => manage::account(&app, command).await?,
        Command::User(command) => manage::user(&app, command).await?,
        Command::Client(command) => openid::client(&app, command).await?,
        Command::Keys(command) => openid::keys(&app, command).await?,
        Command::Purge => {
            let purged = purge::run(&app.store, app.lifetimes.idle, to_unix(app.now())).await?;
            let counts: serde_json::Map<String, serde_json::Value> =
                purged.0.iter().map(|(kind, n)| ((*kind).to_owned(), json!(n))).collect();
            let lines: Vec<String> = purged.0.iter().map(|(kind, n)| format!("  {kind}: {n}")).collect();
            (format!("purged {} rows\n{}", purged.total(), lines.join("\n")), counts.into())
        }
        Command::Audit(AuditCommand::SealLegacy) => {
            let sealed = audit::reseal_legacy(&app.store).await?;
            (format!("{sealed} audit trail(s) sealed with the server key"), json!({ "sealed": sealed }))
        }
        Command::Audit(AuditCommand::Heads) => {
            let heads = audit::heads(&app.store, &app.keys).await?;
            let value = serde_json::to_value(&heads)?;
            (value.to_string(), value)
        }
        Command::Audit(AuditCommand::Verify { heads }) => {
            let known: Vec<audit::Head> = match heads {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read {}", path.display()))?;
                    serde_json::from_str(&text)
                        .with_context(|| format!("{} is not a file of `audit heads`", path.display()))?
                }
                None => Vec::new(),
            };
            let found = audit::verify(&app.store, &app.keys, &known).await?;
            let value = serde_json::to_value(&found)?;
            if let Some(first) = found.breaks.first() {
                if cli.json {
                    println!("{value}");
                }
                anyhow::bail!(
                    "the audit trail of account {} breaks at event {} of lane {}: {}{}",
                    first.account_id,
                    first.seq,
                    first.lane,
                    first.problem,
                    match found.breaks.len() {
                        1 => String::new(),
                        n => format!(" (and {} more breaks)", n - 1),
                    }
                );
            }
            let text = format!(
                "the audit trail is intact: {} events in {} account(s){}",
                found.events,
                found.accounts,
                match found.heads_checked {
                    0 => String::new(),
                    n => format!(", and {n} exported head(s) still in it"),
                }
            );
            (text, value)
        }
    };
    if cli.json {
        println!("{value}");
    } else {
        println!("{text}");
    }
    Ok(())
}

async fn serve(app: App, seed_demo: bool) -> anyhow::Result<()> {
    let seeded = if seed_demo {
        demo::seed_if_missing(&app.store, &app.hasher, to_unix(app.now())).await?.is_some()
    } else {
        false
    };
    let server = Server::bind(app).await?;
    // The keys that sign ID tokens, made on the first start (in the background: the RSA
    // key takes a moment); instances starting together make them once.
    let keys = server.app.clone();
    tokio::spawn(async move {
        if let Err(e) = crate::oidc::signing::ensure(&keys.store, &keys.keys, to_unix(keys.now())).await {
            tracing::warn!(error = %e, "the ID token signing keys could not be made yet; they will be at first use");
        }
    });
    let url = server
        .app
        .config
        .public_url
        .clone()
        .map_or_else(|| format!("http://{}", server.addr()), String::from);
    tracing::info!(%url, "portcullis is listening");
    println!("Portcullis is running at {url}");
    if seed_demo {
        println!("{}", demo_text(&server.app, seeded));
    }
    server.run(server::shutdown_signal()).await
}

fn demo_text(app: &App, seeded: bool) -> String {
    let state = if seeded { "created" } else { "already there" };
    let log = if app.config.smtp_url.is_none() { ", shown in this log" } else { "" };
    let sms = match app.config.sms_webhook_url {
        Some(_) => {
            format!("a code by SMS; the company has {} SMS, then codes come by email{log}", demo::SMS_QUOTA)
        }
        None => format!("a code by SMS; with no SMS gateway configured, codes come by email{log}"),
    };
    format!(
        "Demo company \"{}\" ({state}). Sign in at {} as\n  {} / {}  (top user)\n  {} / {}  (subordinate)\n  \
         {} / {}  ({sms})\n  {} / {}  (top user of \"{}\", an account below with a blocking date, which the \
         top user moves on the Accounts page)",
        demo::ACCOUNT,
        app.config.public_url(),
        demo::ADMIN,
        demo::ADMIN_PASSWORD,
        demo::DRIVER,
        demo::DRIVER_PASSWORD,
        demo::DISPATCHER,
        demo::DISPATCHER_PASSWORD,
        demo::BRANCH_ADMIN,
        demo::BRANCH_ADMIN_PASSWORD,
        demo::BRANCH,
    )
}
