//! Backup codes: ten single-use codes for when the authenticator app is out of reach,
//! shown once, kept only as keyed hashes and compared in constant time.

use subtle::ConstantTimeEq;

use crate::{
    audit::{self, Event},
    error::{Error, Result},
    keys::SecretKey,
    rights::Actor,
    store::{Store, Tx},
    values::UserId,
};

/// How many codes a set holds.
pub const COUNT: usize = 10;

/// At or below this many codes left, the user is warned to make a new set.
pub const FEW_LEFT: i64 = 2;

/// Letters and digits that cannot be mistaken for one another.
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// A new code: ten characters shown as `xxxxx-xxxxx` (about 50 bits).
fn generate() -> String {
    use rand::RngExt;
    let mut rng = rand::rng();
    let chars: String = (0..10).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect();
    format!("{}-{}", &chars[..5], &chars[5..])
}

/// What a person typed, without dashes, spaces or capitals; `None` unless it could be a
/// backup code.
fn normalize(typed: &str) -> Option<String> {
    let code: String =
        typed.chars().filter(|c| !matches!(c, ' ' | '-')).map(|c| c.to_ascii_lowercase()).collect();
    (code.len() == 10 && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

fn hash(keys: &SecretKey, normalized: &str) -> [u8; 32] {
    keys.keyed_hash("backup-code", normalized.as_bytes())
}

/// Whether a typed code looks like a backup code rather than a six-digit one.
pub fn looks_like(typed: &str) -> bool {
    normalize(typed).is_some()
}

/// Replaces the user's backup codes with a new set, inside the caller's transaction, and
/// returns it (the only time it is shown).
pub(crate) async fn replace(tx: &mut Tx, keys: &SecretKey, user: UserId, now: i64) -> Result<Vec<String>> {
    let codes: Vec<String> = (0..COUNT).map(|_| generate()).collect();
    let hashes: Vec<[u8; 32]> = codes.iter().map(|c| hash(keys, &c.replace('-', ""))).collect();
    tx.replace_backup_codes(user, &hashes, now).await?;
    Ok(codes)
}

/// Spends the backup code typed, if it is one of the user's unused ones.
pub(crate) async fn accept(
    tx: &mut Tx,
    keys: &SecretKey,
    user: UserId,
    typed: &str,
    now: i64,
) -> Result<bool> {
    let Some(code) = normalize(typed) else { return Ok(false) };
    let typed_hash = hash(keys, &code);
    let mut found = None;
    for (id, stored) in tx.unused_backup_codes(user).await? {
        if bool::from(typed_hash.ct_eq(&stored[..])) {
            found = Some(id);
        }
    }
    match found {
        Some(id) => tx.use_backup_code(id, now).await,
        None => Ok(false),
    }
}

/// How many unused backup codes the user has.
pub async fn left(tx: &mut Tx, user: UserId) -> Result<i64> {
    tx.backup_codes_left(user).await
}

/// A new set for a user with an authenticator; the old codes stop working.
pub async fn regenerate(store: &Store, keys: &SecretKey, actor: &Actor, now: i64) -> Result<Vec<String>> {
    let id = actor.own_user()?;
    let mut tx = store.write().await?;
    let user = tx.user_by_id(id).await?.ok_or(Error::Unauthenticated)?;
    if !super::method::means(&mut tx, id).await?.authenticator {
        return Err(Error::invalid("method", "add an authenticator app first"));
    }
    let codes = replace(&mut tx, keys, id, now).await?;
    audit::record(&mut tx, Event::new(user.account_id, actor, "backup_codes.regenerated").subject(id), now)
        .await?;
    tx.commit().await?;
    Ok(codes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_ten_unambiguous_characters_and_typing_forgives_case_and_dashes() {
        let code = generate();
        assert_eq!(code.len(), 11);
        assert!(looks_like(&code));
        assert_eq!(normalize(&code.to_uppercase().replace('-', " ")), Some(code.replace('-', "")));
        assert!(!looks_like("123456"));
        assert!(!looks_like("abcde-fghi0"), "0 is not in the alphabet");
    }
}
