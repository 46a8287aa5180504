//! Seeds a benchmark population into the database the configuration names (the same
//! `PORTCULLIS_*` variables as the server), for `bench/run`:
//!
//! - `users N`: users `bench-0`.. `bench-<N-1>` in the account of `bench-admin`, with its
//!   password hash (one Argon2id hash for all) and confirmed email addresses;
//! - `companies N`: accounts `company-0`.. below the account of `bench-admin`, each with
//!   one user, `solo-0`.., with the same password (for sign-ins spread over companies);
//! - `sessions N`: open sessions of `bench-admin` that nobody presents, until the table
//!   holds N sessions, to see whether the session check slows down as it grows; with
//!   `--expired`, N more that ran out two days ago, for `purge` to delete;
//! - `two-factor FIRST N`: users FIRST..FIRST+N are sent an emailed code when they sign
//!   in on the web;
//! - `codes FIRST N FILE`: a sign-in waiting for an emailed code for users FIRST..FIRST+N,
//!   written to FILE as `challenge code` lines (the code read back from the outbox);
//! - `totp FIRST N FILE`: the same with an authenticator app: each user gets one, and
//!   FILE holds codes of the next 30-second step, good for a minute or more from the end
//!   of seeding;
//! - `oidc ALG N FILE`: an app (OpenID Connect client with a secret, ID tokens signed with
//!   ALG) and N authorization codes of the open sessions of the bench users, good for an
//!   hour rather than a minute so that the run can use them up; FILE gets the app's
//!   `client_id secret` on its first line, then a code per line; FILE.spare gets 64 more;
//! - `outbox-drained`: waits (up to 5 minutes) until the server has sent every queued
//!   message.

use std::{io::Write, sync::Arc};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use portcullis::{
    app::App,
    clock::{Clock, SystemClock, to_unix},
    config::Config,
    delivery::Message,
    mfa::{
        Method,
        challenge::{self, Signing},
        totp,
    },
    rights::Actor,
    values::AppKind,
};
use sqlx::{AssertSqlSafe, Connection};

#[derive(Parser)]
struct Seed {
    #[command(flatten)]
    config: Config,
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand)]
enum What {
    Users {
        count: i64,
    },
    Companies {
        count: i64,
    },
    Sessions {
        count: i64,
        #[arg(long)]
        expired: bool,
    },
    TwoFactor {
        first: i64,
        count: i64,
    },
    Codes {
        first: i64,
        count: i64,
        file: std::path::PathBuf,
    },
    Totp {
        first: i64,
        count: i64,
        file: std::path::PathBuf,
    },
    Oidc {
        alg: String,
        count: i64,
        file: std::path::PathBuf,
    },
    OutboxDrained,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let seed = Seed::parse();
    let url = seed.config.database_url();
    let app = App::new(seed.config, Arc::new(SystemClock)).await?;
    let now = to_unix(SystemClock.now());
    match seed.what {
        What::Users { count } if count <= 0 => {}
        What::Users { count } => {
            let sql = "WITH RECURSIVE n(i) AS (SELECT CAST(0 AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $1) \
                INSERT INTO users (account_id, username, creator_id, email, email_verified, password_hash, \
                    can_change_password, dpa_accepted_version, created_at) \
                SELECT a.account_id, 'bench-' || i, a.id, 'bench-' || i || '@bench.example', TRUE, a.password_hash, \
                    TRUE, 1, $2 FROM n, (SELECT id, account_id, password_hash FROM users WHERE username = 'bench-admin') a";
            execute(&url, sql, &[count, now]).await?;
            fill_skeletons(&app).await?;
        }
        What::Companies { count } => {
            let numbers = "WITH RECURSIVE n(i) AS (SELECT CAST(0 AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $1) ";
            let accounts = format!(
                "{numbers} INSERT INTO accounts (name, parent_id, created_at) \
                 SELECT 'company-' || i, a.account_id, $2 FROM n, (SELECT account_id FROM users WHERE username = 'bench-admin') a"
            );
            execute(&url, &accounts, &[count, now]).await?;
            let users = format!(
                "{numbers} INSERT INTO users (account_id, username, creator_id, email, email_verified, password_hash, \
                    can_change_password, dpa_accepted_version, created_at) \
                 SELECT c.id, 'solo-' || i, a.id, 'solo-' || i || '@bench.example', TRUE, a.password_hash, TRUE, 1, $2 \
                 FROM n JOIN accounts c ON c.name = 'company-' || i, \
                    (SELECT id, password_hash FROM users WHERE username = 'bench-admin') a"
            );
            execute(&url, &users, &[count, now]).await?;
            fill_skeletons(&app).await?;
        }
        What::Sessions { count, expired } => {
            // Expired ones ran out two days ago, past the day purge leaves them.
            let (count, at, lasting) = match expired {
                true => (count, now - 3 * 86400, 86400),
                false => (count - scalar(&url, "SELECT COUNT(*) FROM sessions").await?, now, 30 * 86400),
            };
            let token = if url.starts_with("sqlite") {
                "randomblob(32)"
            } else {
                "sha256(convert_to(gen_random_uuid()::text, 'UTF8'))"
            };
            let sql = format!(
                "WITH RECURSIVE n(i) AS (SELECT CAST(0 AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $1) \
                 INSERT INTO sessions (token_hash, user_id, app, ip, remember, created_at, last_seen_at, expires_at) \
                 SELECT {token}, u.id, 'web', '127.0.0.1', TRUE, $2, $2, $2 + $3 \
                 FROM n, (SELECT id FROM users WHERE username = 'bench-admin') u"
            );
            if count > 0 {
                execute(&url, &sql, &[count, at, lasting]).await?;
            }
        }
        What::TwoFactor { first, count } => {
            let sql = "WITH RECURSIVE n(i) AS (SELECT CAST($1 AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $1 + $2) \
                INSERT INTO two_factor_settings (user_id, app, method, updated_at) \
                SELECT u.id, 'web', 'email', $3 FROM n JOIN users u ON u.username = 'bench-' || n.i";
            execute(&url, sql, &[first, count, now]).await?;
        }
        What::Codes { first, count, file } => challenges(&app, Method::Email, (first, count), &file).await?,
        What::Totp { first, count, file } => challenges(&app, Method::Totp, (first, count), &file).await?,
        What::Oidc { alg, count, file } => oidc_codes(&app, &alg, count, &file, now).await?,
        What::OutboxDrained => {
            let unsent = "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND gave_up_at IS NULL";
            for _ in 0..3000 {
                if scalar(&url, unsent).await? == 0 {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
    app.store.close().await;
    Ok(())
}

/// One integer from the database `url` names.
async fn scalar(url: &str, sql: &'static str) -> anyhow::Result<i64> {
    if url.starts_with("sqlite") {
        Ok(sqlx::query_scalar(sql).fetch_one(&mut sqlx::SqliteConnection::connect(url).await?).await?)
    } else {
        Ok(sqlx::query_scalar(sql).fetch_one(&mut sqlx::PgConnection::connect(url).await?).await?)
    }
}

/// Runs one statement with integer parameters on whichever database `url` names.
/// The look-alike skeletons of the names just inserted, which a starting server would
/// otherwise compute one by one before it listens.
async fn fill_skeletons(app: &App) -> anyhow::Result<()> {
    app.store.migrate().await
}

async fn execute(url: &str, sql: &str, params: &[i64]) -> anyhow::Result<()> {
    let sql = AssertSqlSafe(sql.to_owned());
    if url.starts_with("sqlite") {
        let mut conn = sqlx::SqliteConnection::connect(url).await?;
        let query = params.iter().fold(sqlx::query(sql), |q, p| q.bind(*p));
        query.execute(&mut conn).await?;
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await?;
        let query = params.iter().fold(sqlx::query(sql), |q, p| q.bind(*p));
        query.execute(&mut conn).await?;
    }
    Ok(())
}

/// The redirect URI of the bench's app.
const BENCH_CALLBACK: &str = "https://bench.example/cb";

/// Registers an app and writes its credentials and `count` (+64 spare) codes.
async fn oidc_codes(
    app: &App,
    alg: &str,
    count: i64,
    file: &std::path::Path,
    now: i64,
) -> anyhow::Result<()> {
    use portcullis::{oidc, store::NewCode, tokens::Token};
    let account = app.store.read().await?.account_by_name("bench").await?.context("no account bench")?;
    let registration = oidc::Registration {
        name: format!("bench {alg}"),
        redirect_uris: vec![BENCH_CALLBACK.to_owned()],
        post_logout_redirect_uris: Vec::new(),
        public: false,
        id_token_alg: Some(oidc::Alg::parse(alg).context("RS256, ES256 or EdDSA")?),
    };
    let registered =
        oidc::clients::register(&app.store, &Actor::operator(), account.id, registration, now).await?;
    let sessions: Vec<i64> = {
        let url = app.config.database_url();
        let sql = "SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id \
                   WHERE u.username LIKE 'bench-%' AND u.username <> 'bench-admin' AND s.remember AND s.ended_at IS NULL";
        if url.starts_with("sqlite") {
            sqlx::query_scalar(sql).fetch_all(&mut sqlx::SqliteConnection::connect(&url).await?).await?
        } else {
            sqlx::query_scalar(sql).fetch_all(&mut sqlx::PgConnection::connect(&url).await?).await?
        }
    };
    anyhow::ensure!(!sessions.is_empty(), "no open sessions of bench users: sign them in first");
    let mut codes = Vec::new();
    let mut tx = app.store.write().await?;
    for i in 0..count + 64 {
        let code = Token::generate();
        let new = NewCode {
            client_id: &registered.client.client_id,
            session_id: sessions[i as usize % sessions.len()],
            redirect_uri: BENCH_CALLBACK,
            scope: "openid email",
            nonce: None,
            code_challenge: None,
        };
        tx.insert_code(&code.hash().0, &new, now, now + 3600).await?;
        codes.push(code.expose().to_owned());
    }
    tx.commit().await?;
    let secret = registered.client_secret.context("a confidential client")?;
    let mut out = std::fs::File::create(file)?;
    writeln!(out, "{} {secret}", registered.client.client_id)?;
    for code in &codes[..count as usize] {
        writeln!(out, "{code}")?;
    }
    let mut spare = std::fs::File::create(file.with_extension("spare"))?;
    for code in &codes[count as usize..] {
        writeln!(spare, "{code}")?;
    }
    Ok(())
}

/// Opens a sign-in challenge for each user and writes `challenge code` lines.
async fn challenges(
    app: &App,
    method: Method,
    (first, count): (i64, i64),
    file: &std::path::Path,
) -> anyhow::Result<()> {
    let mut opened = Vec::new();
    for i in first..first + count {
        let now = to_unix(SystemClock.now());
        let username = format!("bench-{i}");
        let user = app.store.read().await?.user_by_username(&username).await?;
        let user = user.with_context(|| format!("no user {username}"))?;
        let authenticator = match method {
            Method::Totp => Some(authenticator(app, Actor::user(user.id, None, None), now).await?),
            _ => None,
        };
        let signing = Signing {
            user: &user,
            method,
            app: AppKind::Web,
            remember: false,
            acting_as: None,
            ip: "127.0.0.1",
            user_agent: "bench",
        };
        let challenge =
            challenge::open(&app.store, &app.delivery, None, app.store.write().await?, signing, now).await?;
        opened.push((challenge.handle, user.email.map(|e| e.to_string()).unwrap_or_default(), authenticator));
    }
    // Codes of the step after this one: accepted from now on (one step of drift) for a
    // minute or more, and never before, since each app's confirming step is spent.
    let next_step = u64::try_from(to_unix(SystemClock.now()) + 30)?;
    let sent = sent_codes(app).await?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(file)?);
    for (handle, email, authenticator) in opened {
        let code = match authenticator {
            Some(totp) => totp.generate(next_step).to_string(),
            None => sent.get(&email).cloned().with_context(|| format!("no code for {email}"))?,
        };
        writeln!(out, "{} {code}", handle.expose())?;
    }
    out.flush()?;
    Ok(())
}

/// Gives the user an authenticator app, confirmed with its code of `now`.
async fn authenticator(app: &App, actor: Actor, now: i64) -> anyhow::Result<totp_rs::Totp> {
    // Adding an authenticator asks for the password: every seeded user has the admin's.
    let password = std::env::var("BENCH_PASSWORD").context("BENCH_PASSWORD is not set")?;
    let enrolment =
        totp::enrol(&app.store, &app.keys, &app.hasher, &actor, Some(password.into()), now).await?;
    let generator = totp_rs::Totp::from_url(&enrolment.otpauth_uri).map_err(|e| anyhow::anyhow!("{e}"))?;
    let code = generator.generate(u64::try_from(now)?).to_string();
    totp::confirm(&app.store, &app.keys, &actor, &code, now).await?;
    Ok(generator)
}

/// The code in the newest email to each address, read back from the outbox.
async fn sent_codes(app: &App) -> anyhow::Result<std::collections::HashMap<String, String>> {
    let url = app.config.database_url();
    let sql = "SELECT recipient, payload FROM outbox WHERE channel = 'email' ORDER BY id";
    let rows: Vec<(String, Vec<u8>)> = if url.starts_with("sqlite") {
        let mut conn = sqlx::SqliteConnection::connect(&url).await?;
        sqlx::query_as(sql).fetch_all(&mut conn).await?
    } else {
        let mut conn = sqlx::PgConnection::connect(&url).await?;
        sqlx::query_as(sql).fetch_all(&mut conn).await?
    };
    let mut codes = std::collections::HashMap::new();
    for (to, payload) in rows {
        let plain = app.keys.open("outbox", &payload).context("the outbox is sealed with another key")?;
        let Message::Email { text, .. } = serde_json::from_slice(&plain)? else { bail!("not an email") };
        if let Some(at) = text.find("code is ") {
            codes.insert(to, text[at + 8..at + 14].to_owned());
        }
    }
    Ok(codes)
}
