//! The audit trail: who did what, as whom, to whom, when and from where.
//!
//! Domain functions call [`record`] inside the transaction that makes the change, so an
//! event exists exactly when its change does. Each account's events form a chain sealed
//! with the server key (see [`chain`]): an edited, removed or reordered event breaks it
//! where it happened, and nobody without the key can forge a new one.

pub mod chain;

pub use chain::{Break, Head, Verification, heads, reseal_legacy, verify};

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::{
    clock::from_unix,
    error::Result,
    rights::{Actor, ManagesAccount},
    store::{Sealed, Store, Tx},
    values::{AccountId, UserId},
};

/// An event about to be recorded.
#[derive(Debug, Clone)]
pub struct Event {
    pub account_id: AccountId,
    pub actor_id: Option<UserId>,
    pub acting_as_id: Option<UserId>,
    pub subject_id: Option<UserId>,
    pub action: &'static str,
    pub details: Value,
    pub ip: Option<String>,
}

impl Event {
    /// An event in `account`'s trail, done by `actor`. The person really there is the
    /// actor; when impersonating, the effective user is recorded beside them.
    pub fn new(account_id: AccountId, actor: &Actor, action: &'static str) -> Self {
        let (actor_id, acting_as_id) = match actor.impersonator {
            Some(real) => (Some(real), actor.user),
            None => (actor.user, None),
        };
        Self {
            account_id,
            actor_id,
            acting_as_id,
            subject_id: None,
            action,
            details: Value::Object(Default::default()),
            ip: actor.ip.clone(),
        }
    }

    pub fn subject(mut self, user: UserId) -> Self {
        self.subject_id = Some(user);
        self
    }

    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

/// Appends `event` to its account's chain, inside the caller's transaction.
pub async fn record(tx: &mut Tx, event: Event, now: i64) -> Result<()> {
    let lane = chain::lane_of(event.actor_id.or(event.subject_id));
    let (seq, prev) = tx.advance_audit_chain(event.account_id, lane).await?;
    let sealed = Sealed {
        account_id: event.account_id,
        lane,
        seq,
        at: now,
        actor_id: event.actor_id,
        acting_as_id: event.acting_as_id,
        subject_id: event.subject_id,
        action: event.action.to_owned(),
        details: event.details.to_string(),
        ip: event.ip,
    };
    let hash = sealed.hash(tx.keys(), prev.as_deref());
    tx.insert_audit_event(&sealed, prev.as_deref(), &hash).await
}

/// Someone an audit entry names.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Named {
    pub id: UserId,
    /// `null` once the user is gone.
    pub username: Option<String>,
}

/// One event of an account's trail, as administrators and auditors read it, with the
/// hashes that chain it to the one before.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Entry {
    /// Pass as `before` for older entries.
    pub id: i64,
    /// Which of the account's chains it is sealed in (see `portcullis audit verify`).
    pub lane: i32,
    /// Its number in its lane's chain.
    pub seq: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    /// Who did it: the person really there (`null`: the operator or the system).
    pub user: Option<Named>,
    /// As whom, when impersonating.
    pub acting_as: Option<Named>,
    /// For whom.
    pub subject: Option<Named>,
    pub action: String,
    #[schema(value_type = Object)]
    pub details: Value,
    pub ip: Option<String>,
    /// Hex MAC of the event before it in its lane (`null` for the first).
    pub prev_hash: Option<String>,
    /// Hex MAC (HMAC-SHA-256 under the audit key) over `prev_hash` and this event's content.
    pub hash: String,
}

/// Which events to list; `limit` is clamped to 1..=500.
pub type Filter<'a> = crate::store::AuditFilter<'a>;

/// A page of an account's trail, newest first, and the cursor of the next page. For
/// those who manage the account.
pub async fn page(
    store: &Store,
    actor: &Actor,
    account: AccountId,
    filter: &Filter<'_>,
) -> Result<(Vec<Entry>, Option<i64>)> {
    let mut tx = store.read().await?;
    ManagesAccount::check(&mut tx, actor, account).await?;
    let limit = filter.limit.clamp(1, 500);
    let rows = tx.audit_page(account, &Filter { limit: limit + 1, ..filter.clone() }).await?;
    let more = rows.len() as i64 > limit;
    let named = |id: Option<UserId>, username: Option<String>| id.map(|id| Named { id, username });
    let entries: Vec<Entry> = rows
        .into_iter()
        .take(limit as usize)
        .map(|r| Entry {
            id: r.id,
            lane: r.lane,
            seq: r.seq,
            time: from_unix(r.at),
            user: named(r.actor_id, r.actor_name),
            acting_as: named(r.acting_as_id, r.acting_as_name),
            subject: named(r.subject_id, r.subject_name),
            action: r.action,
            details: serde_json::from_str(&r.details).unwrap_or(Value::String(r.details)),
            ip: r.ip,
            prev_hash: r.prev_hash.map(hex::encode),
            hash: hex::encode(r.hash),
        })
        .collect();
    let next = if more { entries.last().map(|e| e.id) } else { None };
    Ok((entries, next))
}

/// What a spreadsheet cell starts with when the spreadsheet would run it.
pub const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Entries as CSV, one row each: time, user, acting as, for whom, action, details, IP,
/// lane, number and hashes, so an export can be checked offline.
pub fn to_csv(entries: &[Entry]) -> Result<String> {
    let mut out = csv::Writer::from_writer(Vec::new());
    // A spreadsheet would run a name starting with `=`, `+`, `-`, `@`, a tab or a carriage
    // return as a formula.
    let name = |n: &Option<Named>| match n.as_ref().and_then(|n| n.username.clone()) {
        Some(name) if name.starts_with(FORMULA_STARTS) => format!("'{name}"),
        name => name.unwrap_or_default(),
    };
    let failed = |e: csv::Error| crate::error::Error::Unexpected(e.into());
    out.write_record([
        "time",
        "user",
        "acting_as",
        "subject",
        "action",
        "details",
        "ip",
        "lane",
        "seq",
        "prev_hash",
        "hash",
    ])
    .map_err(failed)?;
    for e in entries {
        let time = e.time.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        out.write_record([
            time,
            name(&e.user),
            name(&e.acting_as),
            name(&e.subject),
            e.action.clone(),
            e.details.to_string(),
            e.ip.clone().unwrap_or_default(),
            e.lane.to_string(),
            e.seq.to_string(),
            e.prev_hash.clone().unwrap_or_default(),
            e.hash.clone(),
        ])
        .map_err(failed)?;
    }
    let bytes = out.into_inner().map_err(|e| crate::error::Error::Unexpected(anyhow::anyhow!("{e}")))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// One attempt in a person's login history.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SignIn {
    /// Where this entry stands: pass it as `before` for older ones.
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    /// `ok`, `wrong_password`, `account_blocked`...
    pub result: String,
    pub ip: Option<String>,
    pub app: String,
    pub user_agent: String,
    /// "Login as": the user the session acted as.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_as: Option<String>,
}

/// A page of a person's login history, newest first, and the cursor of the next page.
pub async fn login_history(
    store: &Store,
    user: UserId,
    before: Option<i64>,
    limit: i64,
) -> Result<(Vec<SignIn>, Option<i64>)> {
    let limit = limit.clamp(1, 200);
    let rows = store.read().await?.sign_ins_of(user, before, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let entries: Vec<SignIn> = rows
        .into_iter()
        .take(limit as usize)
        .map(|row| {
            let details: Value = serde_json::from_str(&row.details).unwrap_or_default();
            let text = |key: &str| details[key].as_str().unwrap_or_default().to_owned();
            SignIn {
                id: row.id,
                time: from_unix(row.at),
                result: text("result"),
                ip: row.ip,
                app: text("app"),
                user_agent: text("user_agent"),
                login_as: details["login_as"]["username"].as_str().map(str::to_owned),
            }
        })
        .collect();
    let next = if more { entries.last().map(|e| e.id) } else { None };
    Ok((entries, next))
}

/// A `{before, after}` pair holding only the fields that differ.
pub fn changes(before: &Value, after: &Value, password_changed: bool) -> Value {
    let (mut old, mut new) = (serde_json::Map::new(), serde_json::Map::new());
    if let (Value::Object(b), Value::Object(a)) = (before, after) {
        for (key, value) in a {
            if b.get(key) != Some(value) {
                old.insert(key.clone(), b.get(key).cloned().unwrap_or(Value::Null));
                new.insert(key.clone(), value.clone());
            }
        }
    }
    let mut out = serde_json::json!({ "before": old, "after": new });
    if password_changed {
        out["password_changed"] = Value::Bool(true);
    }
    out
}
