//! The audit trail: who did what, as whom, to whom, when and from where.
//!
//! Domain functions call [`record`] inside the transaction that makes the change, so an
//! event exists exactly when its change does. Each account's events form a hash chain:
//! an event's hash covers the previous event's hash and its own content, and the account
//! row keeps the newest hash and number, so an edited, removed or reordered event breaks
//! the chain where it happened.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::{
    accounts::AccountId,
    clock::from_unix,
    error::Result,
    rights::Actor,
    store::{AuditRow, Store, Tx},
    users::UserId,
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

/// The fields of an event that its hash covers, as they are stored.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub account_id: AccountId,
    pub seq: i64,
    pub at: i64,
    pub actor_id: Option<UserId>,
    pub acting_as_id: Option<UserId>,
    pub subject_id: Option<UserId>,
    pub action: String,
    pub details: String,
    pub ip: Option<String>,
}

impl Sealed {
    /// SHA-256 over the previous hash and an unambiguous encoding of the content.
    pub fn hash(&self, prev: Option<&[u8]>) -> [u8; 32] {
        let content = serde_json::json!([
            self.account_id,
            self.seq,
            self.at,
            self.actor_id,
            self.acting_as_id,
            self.subject_id,
            self.action,
            self.details,
            self.ip,
        ]);
        let mut h = Sha256::new();
        h.update(prev.unwrap_or(&[]));
        h.update(content.to_string().as_bytes());
        h.finalize().into()
    }
}

/// Appends `event` to its account's chain, inside the caller's transaction.
pub async fn record(tx: &mut Tx, event: Event, now: i64) -> Result<()> {
    let (seq, prev) = tx.advance_audit_chain(event.account_id).await?;
    let sealed = Sealed {
        account_id: event.account_id,
        seq,
        at: now,
        actor_id: event.actor_id,
        acting_as_id: event.acting_as_id,
        subject_id: event.subject_id,
        action: event.action.to_owned(),
        details: event.details.to_string(),
        ip: event.ip,
    };
    let hash = sealed.hash(prev.as_deref());
    tx.insert_audit_event(&sealed, prev.as_deref(), &hash).await
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
            }
        })
        .collect();
    let next = if more { entries.last().map(|e| e.id) } else { None };
    Ok((entries, next))
}

/// Where an account's chain breaks: the first event that is not what the chain says.
#[derive(Debug, Clone, Serialize)]
pub struct Break {
    pub account_id: AccountId,
    /// The number the event at the break has, or should have had.
    pub seq: i64,
    pub problem: &'static str,
}

/// What `verify` found.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    pub accounts: usize,
    pub events: usize,
    pub breaks: Vec<Break>,
}

/// Walks every account's chain and reports the first event in each that was changed,
/// removed or reordered since it was written.
pub async fn verify(store: &Store) -> Result<Verification> {
    let mut tx = store.read().await?;
    let accounts = tx.account_ids().await?;
    let mut result = Verification { accounts: accounts.len(), events: 0, breaks: Vec::new() };
    for account in accounts {
        let events = tx.audit_events_of(account).await?;
        let (last_seq, head) = tx.audit_head(account).await?;
        result.events += events.len();
        if let Some(problem) = first_break(&events, last_seq, head.as_deref()) {
            result.breaks.push(Break { account_id: account, seq: problem.0, problem: problem.1 });
        }
    }
    Ok(result)
}

/// The first break in one account's events (ordered by number), given the number and
/// hash the account row says the chain ends with.
fn first_break(events: &[AuditRow], last_seq: i64, head: Option<&[u8]>) -> Option<(i64, &'static str)> {
    let mut prev: Option<&[u8]> = None;
    for (expected, event) in (1..).zip(events) {
        if event.seq != expected {
            return Some((expected, "missing or out of order"));
        }
        if event.prev_hash.as_deref() != prev {
            return Some((expected, "does not follow the event before it"));
        }
        let sealed = Sealed {
            account_id: event.account_id,
            seq: event.seq,
            at: event.at,
            actor_id: event.actor_id,
            acting_as_id: event.acting_as_id,
            subject_id: event.subject_id,
            action: event.action.clone(),
            details: event.details.clone(),
            ip: event.ip.clone(),
        };
        if sealed.hash(prev)[..] != event.hash[..] {
            return Some((expected, "changed after it was written"));
        }
        prev = Some(&event.hash);
    }
    let count = events.len() as i64;
    if count != last_seq || prev != head {
        return Some((count + 1, "missing: later events were removed"));
    }
    None
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
