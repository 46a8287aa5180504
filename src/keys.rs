//! The server's secret key: given in the configuration, or generated once into the data
//! directory (mode 0600) and reused. Keyed hashes of short secrets (one-time codes, CSRF
//! tokens) and encryption of secrets at rest (queued messages) are derived from it, each
//! purpose with its own label so one use can never stand in for another.

use std::{fmt, io::Write, path::Path, str::FromStr};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

const KEY_FILE: &str = "secret.key";

#[derive(Clone)]
pub struct SecretKey(Zeroizing<[u8; 32]>);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl FromStr for SecretKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut key = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(s.trim(), key.as_mut())
            .map_err(|_| "the secret key must be 64 hexadecimal digits (32 bytes)".to_owned())?;
        Ok(Self(key))
    }
}

impl SecretKey {
    pub fn generate() -> Self {
        Self(Zeroizing::new(rand::random()))
    }

    /// Reads `secret.key` from `dir`, or creates it (readable by the owner alone).
    pub fn load_or_generate(dir: &Path) -> anyhow::Result<Self> {
        use anyhow::Context;
        let path = dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => text.parse().map_err(|e: String| anyhow::anyhow!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
                let key = Self::generate();
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file =
                    options.open(&path).with_context(|| format!("cannot create {}", path.display()))?;
                writeln!(file, "{}", hex::encode(key.0.as_ref()))?;
                Ok(key)
            }
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Encrypts `plaintext` (ChaCha20-Poly1305 under a key derived for `purpose`, random
    /// nonce first).
    pub fn seal(&self, purpose: &str, plaintext: &[u8]) -> Vec<u8> {
        use chacha20poly1305::{ChaCha20Poly1305, KeyInit, aead::Aead};
        let cipher = ChaCha20Poly1305::new(&self.keyed_hash(purpose, b"seal").into());
        let nonce: [u8; 12] = rand::random();
        let mut out = nonce.to_vec();
        out.extend(cipher.encrypt(&nonce.into(), plaintext).expect("encryption of a slice"));
        out
    }

    /// Decrypts what [`SecretKey::seal`] made for the same `purpose`; `None` if it was
    /// altered or made under another key.
    pub fn open(&self, purpose: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        use chacha20poly1305::{ChaCha20Poly1305, KeyInit, aead::Aead};
        let cipher = ChaCha20Poly1305::new(&self.keyed_hash(purpose, b"seal").into());
        let (nonce, ciphertext) = sealed.split_at_checked(12)?;
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        cipher.decrypt(&nonce.into(), ciphertext).ok()
    }

    /// HMAC-SHA-256 of `data` under a key derived for `purpose`.
    pub fn keyed_hash(&self, purpose: &str, data: &[u8]) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.0.as_ref()).expect("any key length");
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(data);
        mac.finalize().into_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_is_written_owner_only_and_read_back_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let first = SecretKey::load_or_generate(dir.path()).unwrap();
        let second = SecretKey::load_or_generate(dir.path()).unwrap();
        assert_eq!(first.keyed_hash("t", b"x"), second.keyed_hash("t", b"x"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_key_of_the_wrong_length_is_refused() {
        assert!("abcd".parse::<SecretKey>().is_err());
        assert!("zz".repeat(32).parse::<SecretKey>().is_err());
        assert!("ab".repeat(32).parse::<SecretKey>().is_ok());
    }

    #[test]
    fn sealed_data_opens_only_with_the_same_key_and_purpose_and_unaltered() {
        let key = SecretKey::generate();
        let sealed = key.seal("outbox", b"your code is 123456");
        assert!(!sealed.windows(6).any(|w| w == b"123456"));
        assert_eq!(key.open("outbox", &sealed).as_deref(), Some(&b"your code is 123456"[..]));
        assert_eq!(key.open("other", &sealed), None);
        assert_eq!(SecretKey::generate().open("outbox", &sealed), None);
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert_eq!(key.open("outbox", &altered), None);
    }

    #[test]
    fn purposes_give_different_hashes() {
        let key = SecretKey::generate();
        assert_ne!(key.keyed_hash("a", b"x"), key.keyed_hash("b", b"x"));
    }
}
