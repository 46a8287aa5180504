//! One-time codes sent by email or SMS: six digits from a CSPRNG, kept only as a keyed
//! hash, compared in constant time, valid for five minutes.

use std::fmt;

use subtle::ConstantTimeEq;

use crate::keys::SecretKey;

/// How long a code is valid, in seconds.
pub const VALIDITY: i64 = 5 * 60;

/// How many wrong tries a code survives.
pub const MAX_ATTEMPTS: i64 = 5;

/// A code as sent or typed. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct OneTimeCode(String);

impl fmt::Debug for OneTimeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OneTimeCode(<redacted>)")
    }
}

impl OneTimeCode {
    pub fn generate() -> Self {
        use rand::RngExt;
        Self(format!("{:06}", rand::rng().random_range(0..1_000_000u32)))
    }

    /// What a person typed, with spaces and dashes forgiven; `None` unless six digits.
    pub fn parse(typed: &str) -> Option<Self> {
        let digits: String = typed.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        (digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit())).then_some(Self(digits))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The stored form, bound to the server key so a stolen table cannot be brute-forced
    /// offline.
    pub fn hash(&self, keys: &SecretKey) -> [u8; 32] {
        keys.keyed_hash("one-time-code", self.0.as_bytes())
    }

    pub fn matches(&self, keys: &SecretKey, stored: &[u8]) -> bool {
        self.hash(keys).ct_eq(stored).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_typed_codes_forgive_spaces() {
        for _ in 0..100 {
            let code = OneTimeCode::generate();
            assert_eq!(code.expose().len(), 6);
            assert!(code.expose().bytes().all(|b| b.is_ascii_digit()));
        }
        assert_eq!(OneTimeCode::parse(" 123 456 ").unwrap().expose(), "123456");
        assert!(OneTimeCode::parse("12345").is_none());
        assert!(OneTimeCode::parse("12345a").is_none());
    }

    #[test]
    fn a_code_matches_only_its_own_hash_under_the_same_key() {
        let key = SecretKey::generate();
        let code = OneTimeCode::parse("042042").unwrap();
        let stored = code.hash(&key);
        assert!(code.matches(&key, &stored));
        assert!(!OneTimeCode::parse("042043").unwrap().matches(&key, &stored));
        assert!(!code.matches(&SecretKey::generate(), &stored));
        assert!(!format!("{code:?}").contains("042042"));
    }
}
