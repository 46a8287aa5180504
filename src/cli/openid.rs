//! The operator's commands for the OpenID Connect provider: the apps that sign people in
//! through Portcullis, and the keys that sign their ID tokens.

use clap::Subcommand;
use serde_json::{Value, json};

use super::manage::account_named;
use crate::{
    app::App,
    clock::to_unix,
    oidc::{self, Alg, Registration, clients},
    rights::Actor,
};

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register an app of an account; prints its client_id and, for a confidential
    /// client, its secret (shown this once).
    Create {
        /// Name of the account whose people the app serves (and of the accounts below).
        #[arg(long)]
        account: String,
        /// The app's name, as people see it.
        #[arg(long)]
        name: String,
        /// Where the app receives the sign-in (matched exactly); repeat for several.
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// Where the app may send people after signing them out; repeat for several.
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// A public client (a mobile or single-page app): no secret, PKCE required.
        #[arg(long)]
        public: bool,
        /// How its ID tokens are signed: RS256 (default), ES256 or EdDSA.
        #[arg(long, value_parser = parse_alg)]
        id_token_alg: Option<Alg>,
    },
    /// List the apps (of one account, or of all).
    List {
        #[arg(long)]
        account: Option<String>,
    },
    /// Remove an app: its grants are revoked and its tokens stop working at once.
    Delete {
        #[arg(long)]
        client_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Publish new signing keys. They sign ID tokens five minutes later (once relying
    /// parties have had time to fetch them); the old keys stay published until the last
    /// token they signed has expired.
    Rotate,
    /// List the published signing keys.
    List,
}

fn parse_alg(s: &str) -> Result<Alg, String> {
    Alg::parse(s).ok_or_else(|| "use RS256, ES256 or EdDSA".to_owned())
}

pub(super) async fn client(app: &App, command: ClientCommand) -> anyhow::Result<(String, Value)> {
    let operator = Actor::operator();
    let now = to_unix(app.now());
    Ok(match command {
        ClientCommand::Create {
            account,
            name,
            redirect_uris,
            post_logout_redirect_uris,
            public,
            id_token_alg,
        } => {
            let account = account_named(app, &account).await?;
            let registration =
                Registration { name, redirect_uris, post_logout_redirect_uris, public, id_token_alg };
            let registered = clients::register(&app.store, &operator, account.id, registration, now).await?;
            let mut text = format!("client_id: {}", registered.client.client_id);
            if let Some(secret) = &registered.client_secret {
                text.push_str(&format!("\nclient_secret: {secret}\n(the secret is shown this once)"));
            }
            (text, serde_json::to_value(&registered)?)
        }
        ClientCommand::List { account } => {
            let account = match account {
                Some(name) => Some(account_named(app, &name).await?.id),
                None => None,
            };
            let listed = clients::list(&app.store, &operator, account).await?;
            let lines: Vec<String> = listed
                .iter()
                .map(|c| {
                    let kind = if c.public { "public" } else { "confidential" };
                    format!(
                        "{}  {}  ({}, {kind})  {}",
                        c.client_id,
                        c.name,
                        c.account_name,
                        c.redirect_uris.join(" ")
                    )
                })
                .collect();
            let text = if lines.is_empty() { "no clients".to_owned() } else { lines.join("\n") };
            (text, serde_json::to_value(&listed)?)
        }
        ClientCommand::Delete { client_id } => {
            clients::delete(&app.store, &operator, None, &client_id, now).await?;
            (
                format!("client {client_id} deleted; its tokens no longer work"),
                json!({ "deleted": client_id }),
            )
        }
    })
}

pub(super) async fn keys(app: &App, command: KeysCommand) -> anyhow::Result<(String, Value)> {
    let now = to_unix(app.now());
    Ok(match command {
        KeysCommand::Rotate => {
            let kids = oidc::signing::rotate(&app.store, &app.keys, now).await?;
            let text = format!(
                "published {}; they sign from {} minutes on, and the old keys stay published until their tokens expire",
                kids.join(", "),
                oidc::signing::PUBLISH_AHEAD / 60
            );
            (text, json!({ "published": kids }))
        }
        KeysCommand::List => {
            let set = oidc::signing::jwks(&app.store, now).await?;
            let keys = set["keys"].as_array().cloned().unwrap_or_default();
            let lines: Vec<String> = keys
                .iter()
                .map(|k| format!("{}  {}", k["kid"].as_str().unwrap_or(""), k["alg"].as_str().unwrap_or("")))
                .collect();
            let text = if lines.is_empty() {
                "no keys yet (made at the first sign-in)".to_owned()
            } else {
                lines.join("\n")
            };
            (text, set)
        }
    })
}
