//! The seal on each account's audit trail.
//!
//! Every event carries a MAC under a key derived from the server key, over the MAC of
//! the event before it and its own content; the account row keeps the newest number and
//! MAC. Someone with write access to the database but not the key can change, remove or
//! reorder events only by breaking the chain. What the chain alone cannot show is the tail
//! cut off together with the head rolled back to an earlier event: for that an operator
//! exports signed heads ([`heads`]) to keep elsewhere and checks the trail against them
//! later (`portcullis audit verify --heads FILE`).
//!
//! Trails written before the chain was keyed (plain SHA-256) are reported by every
//! verification until the operator seals them, once, right after the upgrade
//! (`portcullis audit seal-legacy`, [`reseal_legacy`]): each is checked the old way and,
//! if intact, sealed with the key. The server never does this by itself, since anyone who
//! can write to the database could mark a rewritten trail as one from before.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{
    error::Result,
    keys::SecretKey,
    store::{AuditRow, Sealed, Store},
    values::AccountId,
};

impl Sealed {
    /// The event's MAC: HMAC-SHA-256 under the audit key, over the previous MAC and an
    /// unambiguous encoding of the content.
    pub fn hash(&self, keys: &SecretKey, prev: Option<&[u8]>) -> [u8; 32] {
        keys.keyed_hash("audit-chain", &self.chained(prev))
    }

    /// The unkeyed SHA-256 of trails written before the chain was keyed.
    fn legacy_hash(&self, prev: Option<&[u8]>) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(prev.unwrap_or(&[]));
        h.update(self.content().as_bytes());
        h.finalize().into()
    }

    fn chained(&self, prev: Option<&[u8]>) -> Vec<u8> {
        let prev = prev.unwrap_or(&[]);
        let mut bytes = Vec::with_capacity(1 + prev.len() + 256);
        bytes.push(u8::try_from(prev.len()).unwrap_or(u8::MAX));
        bytes.extend_from_slice(prev);
        bytes.extend_from_slice(self.content().as_bytes());
        bytes
    }

    fn content(&self) -> String {
        serde_json::json!([
            self.account_id,
            self.seq,
            self.at,
            self.actor_id,
            self.acting_as_id,
            self.subject_id,
            self.action,
            self.details,
            self.ip,
        ])
        .to_string()
    }

    fn of(row: &AuditRow) -> Self {
        Self {
            account_id: row.account_id,
            seq: row.seq,
            at: row.at,
            actor_id: row.actor_id,
            acting_as_id: row.acting_as_id,
            subject_id: row.subject_id,
            action: row.action.clone(),
            details: row.details.clone(),
            ip: row.ip.clone(),
        }
    }
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
    /// Exported heads checked against the trails.
    pub heads_checked: usize,
    pub breaks: Vec<Break>,
}

/// An account's chain head, signed with the server key, for keeping outside the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub account_id: AccountId,
    pub seq: i64,
    /// Hex MAC of event `seq`.
    pub hash: String,
    /// Hex HMAC over the three fields above.
    pub signature: String,
}

impl Head {
    fn signature(keys: &SecretKey, account: AccountId, seq: i64, hash: &str) -> String {
        hex::encode(keys.keyed_hash("audit-head", format!("{account}:{seq}:{hash}").as_bytes()))
    }

    fn is_genuine(&self, keys: &SecretKey) -> bool {
        let expected = Self::signature(keys, self.account_id, self.seq, &self.hash);
        expected.as_bytes().ct_eq(self.signature.as_bytes()).into()
    }
}

/// The signed head of every account's trail as it stands.
pub async fn heads(store: &Store, keys: &SecretKey) -> Result<Vec<Head>> {
    let mut tx = store.read().await?;
    let mut heads = Vec::new();
    for account in tx.account_ids().await? {
        let (seq, head) = tx.audit_head(account).await?;
        if let Some(head) = head {
            let hash = hex::encode(head);
            let signature = Head::signature(keys, account, seq, &hash);
            heads.push(Head { account_id: account, seq, hash, signature });
        }
    }
    Ok(heads)
}

/// Walks every account's chain and reports the first event in each that was changed,
/// removed or reordered since it was written; then checks that every exported head in
/// `known` is still in its trail (a trail cut back to before it was rolled back).
pub async fn verify(store: &Store, keys: &SecretKey, known: &[Head]) -> Result<Verification> {
    let mut tx = store.read().await?;
    let accounts = tx.account_ids().await?;
    let mut result =
        Verification { accounts: accounts.len(), events: 0, heads_checked: known.len(), breaks: Vec::new() };
    for account in accounts {
        let events = tx.audit_events_of(account).await?;
        let (last_seq, head) = tx.audit_head(account).await?;
        result.events += events.len();
        let problem = if tx.audit_is_legacy(account).await? {
            Some((
                1,
                "written before trails were sealed with the key: run `portcullis audit seal-legacy` once after upgrading",
            ))
        } else {
            first_break(&events, last_seq, head.as_deref(), |e, prev| e.hash(keys, prev))
        };
        if let Some((seq, problem)) = problem {
            result.breaks.push(Break { account_id: account, seq, problem });
            continue;
        }
        for exported in known.iter().filter(|h| h.account_id == account) {
            let problem = if !exported.is_genuine(keys) {
                Some("an exported head was altered or signed with another key")
            } else if !events.iter().any(|e| e.seq == exported.seq && hex::encode(&e.hash) == exported.hash) {
                Some("rolled back: an exported head is no longer in the trail")
            } else {
                None
            };
            if let Some(problem) = problem {
                result.breaks.push(Break { account_id: account, seq: exported.seq, problem });
                break;
            }
        }
    }
    Ok(result)
}

/// Seals with the key the trails written before the chain was keyed, if their unkeyed
/// chain is intact; returns how many were sealed. For the operator, once, at the upgrade.
pub async fn reseal_legacy(store: &Store) -> Result<usize> {
    let legacy = store.read().await?.legacy_audit_accounts().await?;
    let mut sealed = 0;
    for account in legacy {
        let mut tx = store.write().await?;
        let events = tx.audit_events_of(account).await?;
        let (last_seq, head) = tx.audit_head(account).await?;
        if first_break(&events, last_seq, head.as_deref(), |e, prev| e.legacy_hash(prev)).is_some() {
            tracing::warn!(%account, "an audit trail was broken before it could be sealed; it is left as it is");
            continue;
        }
        let mut prev: Option<[u8; 32]> = None;
        for event in &events {
            let hash = Sealed::of(event).hash(tx.keys(), prev.as_ref().map(|p| &p[..]));
            tx.reseal_audit_event(event.id, prev.as_ref().map(|p| &p[..]), &hash).await?;
            prev = Some(hash);
        }
        tx.finish_audit_reseal(account, prev.as_ref().map(|p| &p[..])).await?;
        tx.commit().await?;
        sealed += 1;
    }
    Ok(sealed)
}

/// The first break in one account's events (ordered by number), given the number and
/// hash the account row says the chain ends with, and how an event's hash is made.
fn first_break(
    events: &[AuditRow],
    last_seq: i64,
    head: Option<&[u8]>,
    hash: impl Fn(&Sealed, Option<&[u8]>) -> [u8; 32],
) -> Option<(i64, &'static str)> {
    let mut prev: Option<&[u8]> = None;
    for (expected, event) in (1..).zip(events) {
        if event.seq != expected {
            return Some((expected, "missing or out of order"));
        }
        if event.prev_hash.as_deref() != prev {
            return Some((expected, "does not follow the event before it"));
        }
        if !bool::from(hash(&Sealed::of(event), prev)[..].ct_eq(&event.hash[..])) {
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
