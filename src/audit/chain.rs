//! The seal on each account's audit trail.
//!
//! Every event carries a MAC under a key derived from the server key, over the MAC of
//! the event before it and its own content. An account's trail is sealed in [`LANES`]
//! chains (lanes), each event in the lane of the person who acted (or was acted on), so the
//! people of one company write their events side by side rather than one at a time; a
//! lane's row keeps its newest number and MAC. Someone with write access to the database
//! but not the key can change, remove or reorder events only by breaking a chain. What a
//! chain alone cannot show is its tail cut off together with its head rolled back to an
//! earlier event: for that an operator exports signed heads ([`heads`]) to keep elsewhere
//! and checks the trail against them later (`portcullis audit verify --heads FILE`).
//!
//! Trails written before the chain was keyed (plain SHA-256) are reported by every
//! verification until the operator seals them, once, right after the upgrade
//! (`portcullis audit seal-legacy`, [`reseal_legacy`]): each is checked the old way and,
//! if intact, sealed with the key. The server never does this by itself, since anyone who
//! can write to the database could mark a rewritten trail as one from before. Such trails
//! are all in lane 0, as trails were one chain then.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{
    error::Result,
    keys::SecretKey,
    store::{AuditRow, Sealed, Store},
    values::{AccountId, UserId},
};

/// How many chains each account's trail is sealed in.
pub const LANES: i64 = 16;

/// The lane of an event of `person`: the one who acted, or else the one acted on. The
/// operator's account-wide events, of nobody, go in lane 0.
pub(super) fn lane_of(person: Option<UserId>) -> i32 {
    person.map_or(0, |user| user.0).rem_euclid(LANES) as i32
}

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

    /// The content as sealed. The lane is part of it from lane 1 on; events of lane 0 are
    /// sealed as they were before trails had lanes.
    fn content(&self) -> String {
        let mut content = serde_json::json!([
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
        if let (serde_json::Value::Array(fields), 1..) = (&mut content, self.lane) {
            fields.push(self.lane.into());
        }
        content.to_string()
    }

    fn of(row: &AuditRow) -> Self {
        Self {
            account_id: row.account_id,
            lane: row.lane,
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

/// Where an account's chain breaks: the first event of a lane that is not what the chain
/// says.
#[derive(Debug, Clone, Serialize)]
pub struct Break {
    pub account_id: AccountId,
    pub lane: i32,
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

/// The head of one lane of an account's chain, signed with the server key, for keeping
/// outside the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub account_id: AccountId,
    /// Heads exported before trails had lanes are of lane 0.
    #[serde(default)]
    pub lane: i32,
    pub seq: i64,
    /// Hex MAC of event `seq`.
    pub hash: String,
    /// Hex HMAC over the three fields above.
    pub signature: String,
}

impl Head {
    /// Signed as before lanes for lane 0, so heads exported then still verify.
    fn signature(keys: &SecretKey, account: AccountId, lane: i32, seq: i64, hash: &str) -> String {
        let signed = match lane {
            0 => format!("{account}:{seq}:{hash}"),
            lane => format!("{account}:{lane}:{seq}:{hash}"),
        };
        hex::encode(keys.keyed_hash("audit-head", signed.as_bytes()))
    }

    fn is_genuine(&self, keys: &SecretKey) -> bool {
        let expected = Self::signature(keys, self.account_id, self.lane, self.seq, &self.hash);
        expected.as_bytes().ct_eq(self.signature.as_bytes()).into()
    }
}

/// The signed head of every lane of every account's trail as it stands.
pub async fn heads(store: &Store, keys: &SecretKey) -> Result<Vec<Head>> {
    let mut tx = store.read().await?;
    let mut heads = Vec::new();
    for account in tx.account_ids().await? {
        for (lane, seq, head) in tx.audit_heads(account).await? {
            if let Some(head) = head {
                let hash = hex::encode(head);
                let signature = Head::signature(keys, account, lane, seq, &hash);
                heads.push(Head { account_id: account, lane, seq, hash, signature });
            }
        }
    }
    Ok(heads)
}

/// Walks every lane of every account's chain and reports the first event in each that was
/// changed, removed or reordered since it was written; then checks that every exported head
/// in `known` is still in its trail (a trail cut back to before it was rolled back).
pub async fn verify(store: &Store, keys: &SecretKey, known: &[Head]) -> Result<Verification> {
    let mut tx = store.read().await?;
    let accounts = tx.account_ids().await?;
    let mut result =
        Verification { accounts: accounts.len(), events: 0, heads_checked: known.len(), breaks: Vec::new() };
    for account in accounts {
        let mut events = tx.audit_events_of(account).await?;
        events.sort_by_key(|e| (e.lane, e.seq));
        result.events += events.len();
        let legacy = tx.audit_is_legacy(account).await?;
        let heads = tx.audit_heads(account).await?;
        // Every lane that has events or a head: a lane whose row is gone still has its events.
        let mut lanes: Vec<i32> = events.iter().map(|e| e.lane).chain(heads.iter().map(|h| h.0)).collect();
        lanes.sort_unstable();
        lanes.dedup();
        for lane in lanes {
            let of_lane: Vec<&AuditRow> = events.iter().filter(|e| e.lane == lane).collect();
            let (last_seq, head) =
                heads.iter().find(|h| h.0 == lane).map_or((0, None), |h| (h.1, h.2.as_deref()));
            let problem = if legacy && lane == 0 {
                Some((
                    1,
                    "written before trails were sealed with the key: run `portcullis audit seal-legacy` once after upgrading",
                ))
            } else {
                first_break(&of_lane, last_seq, head, |e, prev| e.hash(keys, prev))
            };
            if let Some((seq, problem)) = problem {
                result.breaks.push(Break { account_id: account, lane, seq, problem });
            }
        }
        if result.breaks.iter().any(|b| b.account_id == account) {
            continue;
        }
        for exported in known.iter().filter(|h| h.account_id == account) {
            let problem = if !exported.is_genuine(keys) {
                Some("an exported head was altered or signed with another key")
            } else if !events.iter().any(|e| {
                e.lane == exported.lane && e.seq == exported.seq && hex::encode(&e.hash) == exported.hash
            }) {
                Some("rolled back: an exported head is no longer in the trail")
            } else {
                None
            };
            if let Some(problem) = problem {
                result.breaks.push(Break {
                    account_id: account,
                    lane: exported.lane,
                    seq: exported.seq,
                    problem,
                });
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
        let mut events = tx.audit_events_of(account).await?;
        events.retain(|e| e.lane == 0);
        events.sort_by_key(|e| e.seq);
        let events: Vec<&AuditRow> = events.iter().collect();
        let heads = tx.audit_heads(account).await?;
        let (last_seq, head) = heads.iter().find(|h| h.0 == 0).map_or((0, None), |h| (h.1, h.2.as_deref()));
        if first_break(&events, last_seq, head, |e, prev| e.legacy_hash(prev)).is_some() {
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

/// The first break in one lane's events (ordered by number), given the number and hash
/// the lane's row says the chain ends with, and how an event's hash is made.
fn first_break(
    events: &[&AuditRow],
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
