//! The keys that sign ID tokens: one per algorithm (RS256, which OpenID Connect requires,
//! ES256 and EdDSA), generated the first time one is needed, kept in the database sealed
//! under the server's secret key so that every instance signs with the same key, and
//! published as a JWK set.
//!
//! Every signature is made by ring, whose private-key operations run in constant time;
//! the `rsa` crate only generates the RSA key (ring cannot). A rotation publishes new keys
//! at once and signs with them once [`PUBLISH_AHEAD`] has passed, so relying parties that
//! cache the key set meet no unknown key; an old key stays published until the last token
//! it signed has expired.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use ring::{
    rand::SystemRandom,
    signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair},
};
use serde_json::{Value, json};

use crate::{
    error::{Error, Result},
    keys::SecretKey,
    store::{KeyRow, Store},
};

/// How long before it signs anything a new key is published.
pub const PUBLISH_AHEAD: i64 = 5 * 60;
/// How long a signed ID token is valid (the access token lives as long).
pub const TOKEN_LIFETIME: i64 = 5 * 60;
/// What the private keys are sealed for.
const SEALED_FOR: &str = "oidc signing key";
/// How long an instance keeps using the keys it read before reading them again.
const REREAD_AFTER: i64 = 30;

/// A signing algorithm offered for ID tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Alg {
    #[serde(rename = "RS256")]
    Rs256,
    #[serde(rename = "ES256")]
    Es256,
    #[serde(rename = "EdDSA")]
    EdDsa,
}

impl Alg {
    pub const ALL: [Alg; 3] = [Alg::Rs256, Alg::Es256, Alg::EdDsa];

    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Es256 => "ES256",
            Alg::EdDsa => "EdDSA",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// A parsed private key.
enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

impl Signer {
    fn parse(alg: Alg, pkcs8: &[u8]) -> Option<Self> {
        let rng = SystemRandom::new();
        Some(match alg {
            Alg::Rs256 => Self::Rsa(RsaKeyPair::from_pkcs8(pkcs8).ok()?),
            Alg::Es256 => Self::Ec(
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &rng).ok()?,
            ),
            Alg::EdDsa => Self::Ed(Ed25519KeyPair::from_pkcs8(pkcs8).ok()?),
        })
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        let rng = SystemRandom::new();
        let failed = |_| Error::Unexpected(anyhow::anyhow!("signing failed"));
        Ok(match self {
            Self::Rsa(key) => {
                let mut out = vec![0; key.public().modulus_len()];
                key.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut out).map_err(failed)?;
                out
            }
            Self::Ec(key) => key.sign(&rng, message).map_err(failed)?.as_ref().to_vec(),
            Self::Ed(key) => key.sign(message).as_ref().to_vec(),
        })
    }
}

/// The signing keys as one instance knows them: parsed once, read again now and then so
/// that a rotation made anywhere is followed everywhere.
#[derive(Default)]
pub struct Keyring {
    known: Mutex<Known>,
}

#[derive(Default)]
struct Known {
    read_at: Option<i64>,
    /// The key each algorithm signs with: its id and parsed key.
    current: HashMap<Alg, (String, Arc<Signer>)>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keyring(<keys>)")
    }
}

impl Keyring {
    /// A compact JWS of `claims`, signed with the current key of `alg`.
    pub async fn sign(
        &self,
        store: &Store,
        secret: &SecretKey,
        alg: Alg,
        claims: &Value,
        now: i64,
    ) -> Result<String> {
        let (kid, signer) = self.current(store, secret, alg, now).await?;
        let header = json!({ "alg": alg.as_str(), "typ": "JWT", "kid": kid });
        let mut jws = format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()));
        let signature = signer.sign(jws.as_bytes())?;
        jws.push('.');
        jws.push_str(&B64.encode(signature));
        Ok(jws)
    }

    async fn current(
        &self,
        store: &Store,
        secret: &SecretKey,
        alg: Alg,
        now: i64,
    ) -> Result<(String, Arc<Signer>)> {
        {
            let known = self.known.lock().expect("keyring");
            let fresh = known.read_at.is_some_and(|at| now - at < REREAD_AFTER && now >= at);
            if let (true, Some(current)) = (fresh, known.current.get(&alg)) {
                return Ok(current.clone());
            }
        }
        let mut rows = store.published_keys(now).await?;
        if !Alg::ALL.iter().all(|a| rows.iter().any(|r| r.alg == a.as_str() && r.retired_at.is_none())) {
            ensure(store, secret, now).await?;
            rows = store.published_keys(now).await?;
        }
        let mut current = HashMap::new();
        for alg in Alg::ALL {
            if let Some(row) = signing_key(&rows, alg, now) {
                let pkcs8 = secret.open(SEALED_FOR, &row.sealed).ok_or_else(|| {
                    Error::Unexpected(anyhow::anyhow!(
                        "signing key {} does not open with this secret key",
                        row.kid
                    ))
                })?;
                let signer = Signer::parse(alg, &pkcs8).ok_or_else(|| {
                    Error::Unexpected(anyhow::anyhow!("signing key {} is unreadable", row.kid))
                })?;
                current.insert(alg, (row.kid.clone(), Arc::new(signer)));
            }
        }
        let mut known = self.known.lock().expect("keyring");
        *known = Known { read_at: Some(now), current };
        known.current.get(&alg).cloned().ok_or_else(|| Error::Unexpected(anyhow::anyhow!("no {alg:?} key")))
    }
}

/// The key `alg` signs with at `now`, among those published: the newest one published
/// long enough ago, a successor before the key it replaced; or, when none is (a first
/// start, a rotation minutes old), the key being replaced, else the oldest.
fn signing_key(rows: &[KeyRow], alg: Alg, now: i64) -> Option<&KeyRow> {
    let published =
        || rows.iter().filter(|r| r.alg == alg.as_str() && r.retired_at.is_none_or(|at| at > now));
    let successor_first = |r: &&KeyRow| (r.retired_at.is_none(), r.created_at);
    let settled = published().filter(|r| r.created_at <= now - PUBLISH_AHEAD).max_by_key(successor_first);
    settled.or_else(|| published().min_by_key(successor_first))
}

/// Generates a key for every algorithm that has none still signing: once, however many
/// instances find them missing at the same moment.
pub async fn ensure(store: &Store, secret: &SecretKey, now: i64) -> Result<()> {
    let rows = store.published_keys(now).await?;
    let missing: Vec<Alg> = Alg::ALL
        .into_iter()
        .filter(|a| !rows.iter().any(|r| r.alg == a.as_str() && r.retired_at.is_none()))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let generated = generate_all(missing).await?;
    let mut tx = store.write().await?;
    tx.take_turn("signing_keys").await?;
    let present = tx.signing_algs().await?;
    for (alg, pkcs8, jwk) in generated {
        if !present.iter().any(|p| p == alg.as_str()) {
            tx.insert_key(&key_row(secret, alg, &pkcs8, jwk, now)).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Publishes a new key for every algorithm and retires the others: they sign until the
/// new ones take over and stay published until their last tokens have expired. Answers
/// the new keys' ids.
pub async fn rotate(store: &Store, secret: &SecretKey, now: i64) -> Result<Vec<String>> {
    let generated = generate_all(Alg::ALL.to_vec()).await?;
    let mut tx = store.write().await?;
    tx.take_turn("signing_keys").await?;
    tx.retire_keys(now + PUBLISH_AHEAD + TOKEN_LIFETIME).await?;
    let mut kids = Vec::new();
    for (alg, pkcs8, jwk) in generated {
        let row = key_row(secret, alg, &pkcs8, jwk, now);
        tx.insert_key(&row).await?;
        kids.push(row.kid);
    }
    tx.commit().await?;
    Ok(kids)
}

/// New keys of `algs`. RSA key generation takes a fraction of a second of CPU: off the
/// async threads.
async fn generate_all(algs: Vec<Alg>) -> Result<Vec<(Alg, zeroize::Zeroizing<Vec<u8>>, Value)>> {
    tokio::task::spawn_blocking(move || algs.into_iter().map(generate).collect::<Result<Vec<_>>>())
        .await
        .map_err(|e| Error::Unexpected(e.into()))?
}

/// A new key as stored: its id, the private half sealed, the public half as a JWK.
fn key_row(secret: &SecretKey, alg: Alg, pkcs8: &[u8], mut jwk: Value, now: i64) -> KeyRow {
    let kid = format!("{}-{:016x}", alg.as_str().to_lowercase(), rand::random::<u64>());
    jwk["kid"] = json!(kid);
    jwk["alg"] = json!(alg.as_str());
    jwk["use"] = json!("sig");
    KeyRow {
        kid,
        alg: alg.as_str().to_owned(),
        sealed: secret.seal(SEALED_FOR, pkcs8),
        public_jwk: jwk.to_string(),
        created_at: now,
        retired_at: None,
    }
}

/// A new private key (PKCS#8) and its public JWK.
fn generate(alg: Alg) -> Result<(Alg, zeroize::Zeroizing<Vec<u8>>, Value)> {
    let rng = SystemRandom::new();
    let failed = |what: &str| Error::Unexpected(anyhow::anyhow!("generating the {what} key failed"));
    match alg {
        Alg::Rs256 => {
            use rsa::{pkcs8::EncodePrivateKey, traits::PublicKeyParts};
            let key = rsa::RsaPrivateKey::new(&mut rand::rng(), 2048).map_err(|_| failed("RSA"))?;
            let der = key.to_pkcs8_der().map_err(|_| failed("RSA"))?;
            let jwk = json!({
                "kty": "RSA",
                "n": B64.encode(key.n().to_be_bytes_trimmed_vartime()),
                "e": B64.encode(key.e().to_be_bytes_trimmed_vartime()),
            });
            Ok((alg, zeroize::Zeroizing::new(der.as_bytes().to_vec()), jwk))
        }
        Alg::Es256 => {
            let doc = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(|_| failed("P-256"))?;
            let key =
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref(), &rng)
                    .map_err(|_| failed("P-256"))?;
            // An uncompressed point: 0x04, then x and y.
            let point = key.public_key().as_ref();
            let jwk = json!({
                "kty": "EC",
                "crv": "P-256",
                "x": B64.encode(&point[1..33]),
                "y": B64.encode(&point[33..65]),
            });
            Ok((alg, zeroize::Zeroizing::new(doc.as_ref().to_vec()), jwk))
        }
        Alg::EdDsa => {
            let doc = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| failed("Ed25519"))?;
            let key = Ed25519KeyPair::from_pkcs8(doc.as_ref()).map_err(|_| failed("Ed25519"))?;
            let jwk = json!({ "kty": "OKP", "crv": "Ed25519", "x": B64.encode(key.public_key().as_ref()) });
            Ok((alg, zeroize::Zeroizing::new(doc.as_ref().to_vec()), jwk))
        }
    }
}

/// The published keys as a JWK set.
pub async fn jwks(store: &Store, now: i64) -> Result<Value> {
    let keys: Vec<Value> = store
        .published_keys(now)
        .await?
        .iter()
        .filter_map(|r| serde_json::from_str(&r.public_jwk).ok())
        .collect();
    Ok(json!({ "keys": keys }))
}

/// The claims of a token this server signed with a key it still publishes, if the
/// signature holds (whether it expired is the caller's question).
pub async fn verify(store: &Store, jws: &str, now: i64) -> Result<Option<Value>> {
    let mut parts = jws.split('.');
    let (Some(header), Some(payload), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Ok(None);
    };
    let decode = |part: &str| B64.decode(part).ok();
    let Some(header) = decode(header).and_then(|h| serde_json::from_slice::<Value>(&h).ok()) else {
        return Ok(None);
    };
    let (Some(kid), Some(alg)) = (header["kid"].as_str(), header["alg"].as_str().and_then(Alg::parse)) else {
        return Ok(None);
    };
    let keys = store.published_keys(now).await?;
    let Some(jwk) = keys
        .iter()
        .find(|k| k.kid == kid && k.alg == alg.as_str())
        .and_then(|k| serde_json::from_str::<Value>(&k.public_jwk).ok())
    else {
        return Ok(None);
    };
    let (Some(sig), Some(message)) = (decode(sig), jws.rfind('.').map(|at| &jws[..at])) else {
        return Ok(None);
    };
    let holds = holds(alg, &jwk, message.as_bytes(), &sig);
    Ok(holds.then(|| decode(payload).and_then(|p| serde_json::from_slice(&p).ok())).flatten())
}

/// Whether `sig` is `alg`'s signature of `message` by the key published as `jwk`.
fn holds(alg: Alg, jwk: &Value, message: &[u8], sig: &[u8]) -> bool {
    let field = |name: &str| jwk[name].as_str().and_then(|v| B64.decode(v).ok()).unwrap_or_default();
    match alg {
        Alg::Rs256 => signature::RsaPublicKeyComponents { n: field("n"), e: field("e") }
            .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, sig)
            .is_ok(),
        Alg::Es256 => {
            let point = [&[4u8][..], &field("x"), &field("y")].concat();
            signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(message, sig)
                .is_ok()
        }
        Alg::EdDsa => {
            signature::UnparsedPublicKey::new(&signature::ED25519, field("x")).verify(message, sig).is_ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(alg: Alg, created_at: i64, retired_at: Option<i64>) -> KeyRow {
        KeyRow {
            kid: format!("{}-{created_at}", alg.as_str()),
            alg: alg.as_str().to_owned(),
            sealed: Vec::new(),
            public_jwk: String::new(),
            created_at,
            retired_at,
        }
    }

    #[test]
    fn a_rotated_key_signs_only_once_it_has_been_published_long_enough() {
        let old = row(Alg::EdDsa, 0, None);
        let new = row(Alg::EdDsa, 10_000, None);
        let rows = [old.clone(), new.clone(), row(Alg::Rs256, 10_000, None)];
        assert_eq!(signing_key(&rows, Alg::EdDsa, 10_000).unwrap().kid, old.kid);
        assert_eq!(signing_key(&rows, Alg::EdDsa, 10_000 + PUBLISH_AHEAD - 1).unwrap().kid, old.kid);
        assert_eq!(signing_key(&rows, Alg::EdDsa, 10_000 + PUBLISH_AHEAD).unwrap().kid, new.kid);
    }

    #[test]
    fn a_retired_key_signs_until_its_successor_settles_and_never_once_unpublished() {
        let rows = [row(Alg::Es256, 100, Some(400 + PUBLISH_AHEAD + 60)), row(Alg::Es256, 400, None)];
        assert_eq!(signing_key(&rows, Alg::Es256, 401).unwrap().created_at, 100);
        assert_eq!(signing_key(&rows, Alg::Es256, 400 + PUBLISH_AHEAD).unwrap().created_at, 400);
        let unpublished = [row(Alg::Es256, 100, Some(200)), row(Alg::Es256, 150, None)];
        assert_eq!(signing_key(&unpublished, Alg::Es256, 201).unwrap().created_at, 150);
        assert!(signing_key(&rows, Alg::Rs256, 400).is_none());
    }

    #[test]
    fn a_key_rotated_in_the_second_it_was_made_still_hands_over_only_once_its_successor_settles() {
        let rows = [row(Alg::Rs256, 100, Some(100 + PUBLISH_AHEAD + 300)), row(Alg::Rs256, 100, None)];
        assert!(signing_key(&rows, Alg::Rs256, 101).unwrap().retired_at.is_some());
        assert!(signing_key(&rows, Alg::Rs256, 100 + PUBLISH_AHEAD).unwrap().retired_at.is_none());
    }

    #[test]
    fn on_a_first_start_the_new_key_signs_at_once() {
        let rows = [row(Alg::EdDsa, 400, None)];
        assert_eq!(signing_key(&rows, Alg::EdDsa, 400).unwrap().created_at, 400);
    }

    #[test]
    fn generated_keys_sign_what_their_published_halves_verify() {
        for alg in Alg::ALL {
            let (_, pkcs8, jwk) = generate(alg).unwrap();
            let signer = Signer::parse(alg, &pkcs8).unwrap();
            let signature = signer.sign(b"message").unwrap();
            let ok = holds(alg, &jwk, b"message", &signature);
            assert!(ok, "{alg:?}");
            assert!(!jwk.to_string().contains("\"d\""), "no private part in the published key");
        }
    }
}
