//! The operator's commands on accounts and users.

use clap::Subcommand;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::{
    accounts::{self, AccountRequest},
    app::App,
    clock::{from_unix, to_unix},
    lifecycle,
    rights::Actor,
    store::TermsChanges,
    users::{self, UserRequest},
    values::Right,
};

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create an account with its top user.
    Create {
        #[arg(long)]
        name: String,
        /// Username of the account's top user.
        #[arg(long)]
        admin: String,
        #[arg(long)]
        admin_password: String,
        #[arg(long)]
        admin_email: Option<String>,
        /// Name of the parent account.
        #[arg(long)]
        parent: Option<String>,
        /// Turn the `sms` service on with this many messages.
        #[arg(long)]
        sms_quota: Option<i64>,
        /// Turn the `email_notifications` service on.
        #[arg(long)]
        email_notifications: bool,
        /// When the account is blocked (RFC 3339, e.g. 2027-01-31T00:00:00Z).
        #[arg(long, value_parser = parse_rfc3339)]
        blocking_date: Option<OffsetDateTime>,
    },
    /// Show an account's blocking date and services.
    Show {
        #[arg(long)]
        name: String,
    },
    /// Change an account's blocking date and services; what is not given stays.
    Update {
        #[arg(long)]
        name: String,
        /// Block the account (and every account below it) from then on (RFC 3339).
        #[arg(long, value_parser = parse_rfc3339, conflicts_with = "no_blocking_date")]
        blocking_date: Option<OffsetDateTime>,
        /// Clear the blocking date: the account is no longer blocked.
        #[arg(long)]
        no_blocking_date: bool,
        /// Turn the `sms` service on with this many messages left.
        #[arg(long, conflicts_with = "no_sms")]
        sms_quota: Option<i64>,
        /// Turn the `sms` service off.
        #[arg(long)]
        no_sms: bool,
        /// Turn the `email_notifications` service on or off.
        #[arg(long, value_name = "on|off", value_parser = clap::builder::BoolishValueParser::new())]
        email_notifications: Option<bool>,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user in an account.
    Create {
        /// Name of the account.
        #[arg(long)]
        account: String,
        #[arg(long)]
        username: String,
        #[arg(long)]
        password: String,
        /// Username of the user that creates it (its manager). Default: the account's
        /// top user who created the account.
        #[arg(long)]
        creator: Option<String>,
        #[arg(long)]
        email: Option<String>,
        /// The email address was already confirmed elsewhere.
        #[arg(long)]
        email_verified: bool,
        /// Phone number in international form (E.164).
        #[arg(long)]
        phone: Option<String>,
        /// The phone number was already confirmed elsewhere.
        #[arg(long)]
        phone_verified: bool,
        #[arg(long)]
        can_change_password: bool,
        #[arg(long)]
        can_send_sms: bool,
        #[arg(long)]
        must_change_password: bool,
        /// en, ru or es.
        #[arg(long)]
        language: Option<String>,
    },
    /// Give a user a right on another user.
    Grant {
        /// Who receives the right.
        #[arg(long)]
        user: String,
        /// On whom.
        #[arg(long)]
        target: String,
        #[arg(long, value_enum)]
        right: RightArg,
    },
    /// Lift a lock-out after failed sign-in or code attempts.
    Unlock {
        #[arg(long)]
        username: String,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum RightArg {
    ActAs,
    Manage,
}

impl From<RightArg> for Right {
    fn from(r: RightArg) -> Self {
        match r {
            RightArg::ActAs => Right::ActAs,
            RightArg::Manage => Right::Manage,
        }
    }
}

fn parse_rfc3339(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("not an RFC 3339 time ({e}), e.g. 2027-01-31T00:00:00Z"))
}

pub(super) async fn account(app: &App, command: AccountCommand) -> anyhow::Result<(String, Value)> {
    let now = to_unix(app.now());
    let (name, changes) = match command {
        AccountCommand::Create {
            name,
            admin,
            admin_password,
            admin_email,
            parent,
            sms_quota,
            email_notifications,
            blocking_date,
        } => {
            let admin = UserRequest {
                username: admin,
                password: Some(admin_password.into()),
                email: admin_email,
                can_change_password: true,
                must_change_password: Some(false),
                ..Default::default()
            };
            let request = AccountRequest {
                name,
                parent: None,
                blocking_at: blocking_date.map(to_unix),
                sms_quota,
                email_notifications,
                admin,
            };
            return create_account(app, request, parent).await;
        }
        AccountCommand::Show { name } => (name, None),
        AccountCommand::Update {
            name,
            blocking_date,
            no_blocking_date,
            sms_quota,
            no_sms,
            email_notifications,
        } => {
            let changes = TermsChanges {
                blocking_at: (blocking_date.is_some() || no_blocking_date)
                    .then(|| blocking_date.map(to_unix)),
                sms_quota: (sms_quota.is_some() || no_sms).then_some(sms_quota),
                email_notifications,
            };
            (name, Some(changes))
        }
    };
    let id = account_named(app, &name).await?.id;
    let account = match changes {
        Some(changes) => lifecycle::change_terms(&app.store, &Actor::operator(), id, &changes, now).await?,
        None => lifecycle::terms(&app.store, &Actor::operator(), id).await?,
    };
    let show = |at: Option<i64>| at.map_or_else(|| "none".to_owned(), |at| rfc3339(from_unix(at)));
    let sms = if account.sms_enabled { format!("on, {} left", account.sms_quota) } else { "off".to_owned() };
    let text = format!(
        "account \"{}\" (id {}): blocking date {}, blocked from {}; sms {sms}; email notifications {}",
        account.name,
        account.id,
        show(account.blocking_at),
        show(account.blocked_from),
        if account.email_notifications { "on" } else { "off" },
    );
    let value = json!({
        "account_id": account.id,
        "name": account.name,
        "blocking_date": account.blocking_at.map(|at| rfc3339(from_unix(at))),
        "blocked_from": account.blocked_from.map(|at| rfc3339(from_unix(at))),
        "services": {
            "sms": account.sms_enabled.then(|| json!({ "quota": account.sms_quota })),
            "email_notifications": account.email_notifications,
        },
    });
    Ok((text, value))
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

async fn create_account(
    app: &App,
    mut request: AccountRequest,
    parent: Option<String>,
) -> anyhow::Result<(String, Value)> {
    request.parent = match parent {
        Some(parent) => Some(account_named(app, &parent).await?.id),
        None => None,
    };
    let now = to_unix(app.now());
    let (account, admin) =
        accounts::create(&app.store, &app.hasher, &Actor::operator(), &request, now).await?;
    let text =
        format!("created account \"{}\" (id {}) with top user {}", account.name, account.id, admin.username);
    Ok((text, json!({ "account_id": account.id, "name": account.name, "admin_id": admin.id })))
}

pub(super) async fn user(app: &App, command: UserCommand) -> anyhow::Result<(String, Value)> {
    let now = to_unix(app.now());
    match command {
        UserCommand::Create {
            account,
            username,
            password,
            creator,
            email,
            email_verified,
            phone,
            phone_verified,
            can_change_password,
            can_send_sms,
            must_change_password,
            language,
        } => {
            let account = account_named(app, &account).await?;
            let creator = match creator {
                Some(name) => Some(user_named(app, &name).await?.id),
                None => app.store.read().await?.account_creator(account.id).await?,
            };
            let request = UserRequest {
                username,
                password: Some(password.into()),
                email,
                email_verified,
                phone,
                phone_verified,
                can_change_password,
                can_send_sms,
                must_change_password: Some(must_change_password),
                language,
            };
            let operator = Actor::operator();
            let user =
                users::create(&app.store, &app.hasher, &operator, account.id, creator, &request, now).await?;
            let text = format!("created user {} (id {}) in \"{}\"", user.username, user.id, account.name);
            Ok((text, json!({ "user_id": user.id, "username": user.username, "account_id": account.id })))
        }
        UserCommand::Grant { user, target, right } => {
            let (holder, on) = (user_named(app, &user).await?, user_named(app, &target).await?);
            let right = Right::from(right);
            let mut rights: Vec<Right> = app
                .store
                .read()
                .await?
                .grants_between(holder.id, on.id)
                .await?
                .iter()
                .filter_map(|r| parse_right(r))
                .collect();
            rights.push(right);
            users::set_grants(&app.store, &Actor::operator(), holder.id, on.id, &rights, now).await?;
            let text = format!("{} now holds {} on {}", holder.username, right.as_str(), on.username);
            Ok((text, json!({ "user": holder.username, "target": on.username, "right": right })))
        }
        UserCommand::Unlock { username } => {
            let user = user_named(app, &username).await?;
            let was_locked = users::unlock(&app.store, &Actor::operator(), user.id, now).await?;
            let text = if was_locked {
                format!("{username} is unlocked")
            } else {
                format!("{username} was not locked")
            };
            Ok((text, json!({ "username": username, "was_locked": was_locked })))
        }
    }
}

fn parse_right(s: &str) -> Option<Right> {
    [Right::ActAs, Right::Manage].into_iter().find(|r| r.as_str() == s)
}

pub(super) async fn account_named(app: &App, name: &str) -> anyhow::Result<crate::values::Account> {
    let found = app.store.read().await?.account_by_name(name).await?;
    found.ok_or_else(|| anyhow::anyhow!("no account named {name:?}"))
}

async fn user_named(app: &App, username: &str) -> anyhow::Result<crate::values::User> {
    let found = app.store.read().await?.user_by_username(username).await?;
    found.ok_or_else(|| anyhow::anyhow!("no user named {username:?}"))
}
