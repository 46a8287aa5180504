//! The checked values a user is made of: names, addresses, languages, rights. Each is parsed at the edge into a type that cannot hold a bad value.

use std::fmt;

use serde::{Deserialize, Serialize};

use unicode_normalization::UnicodeNormalization;
use unicode_security::{GeneralSecurityProfile, general_security_profile::IdentifierType};

use crate::error::{Error, Result};

/// The longest username, in characters.
pub const MAX_USERNAME_CHARS: usize = 64;

/// A username: 1 to 64 characters in Unicode's compatibility form (NFKC: `ｄｅｍｏ` is
/// `demo`), with no control, invisible or direction-changing characters and no spaces at
/// the ends. Names that look alike ([`Username::skeleton`]) cannot both exist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    /// A value read back from the database, which was checked when it was written.
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    pub fn parse(s: &str) -> Result<Self> {
        let s: String = s.nfkc().collect();
        let chars = s.chars().count();
        if chars == 0 || chars > MAX_USERNAME_CHARS {
            return Err(Error::invalid("username", "use 1 to 64 characters"));
        }
        if s.trim() != s || s.chars().any(|c| c.is_control() || is_invisible(c)) {
            return Err(Error::invalid(
                "username",
                "no spaces at the ends and no control, invisible or direction characters",
            ));
        }
        Ok(Self(s))
    }

    /// What the name looks like (Unicode TR39's skeleton): `demо` with a Cyrillic `о`
    /// and `demo` have the same one.
    pub fn skeleton(&self) -> String {
        skeleton_of(&self.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checked names and addresses read as the text they are.
macro_rules! text {
    ($($name:ident),*) => {$(
        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}

text!(Username, Email, Phone);

/// The TR39 skeleton of any name, stored or typed.
pub fn skeleton_of(name: &str) -> String {
    unicode_security::skeleton(name).collect()
}

/// Characters that show nothing or change the direction of what follows (zero-width
/// spaces and joiners, bidi controls, tags...): Unicode's default-ignorable code points.
fn is_invisible(c: char) -> bool {
    c.identifier_type() == Some(IdentifierType::Default_Ignorable)
}

/// The longest email address (RFC 5321's limit on a path).
pub const MAX_EMAIL_LEN: usize = 254;

/// An email address, checked for shape only; confirming it is a separate step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// A value read back from the database, which was checked when it was written.
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        let valid = s.len() <= MAX_EMAIL_LEN
            && !s.chars().any(|c| c.is_whitespace() || c.is_control())
            && s.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
            });
        if valid { Ok(Self(s.to_owned())) } else { Err(Error::invalid("email", "not an email address")) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A phone number in E.164 form: `+` and 8 to 15 digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    /// A value read back from the database, which was checked when it was written.
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    pub fn parse(s: &str) -> Result<Self> {
        let digits: String = s.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')')).collect();
        let valid = digits.strip_prefix('+').is_some_and(|d| {
            (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0')
        });
        if valid {
            Ok(Self(digits))
        } else {
            Err(Error::invalid("phone", "use the international form, e.g. +35312345678"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The languages the pages and messages are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    En,
    Ru,
    Es,
}

impl Language {
    pub const ALL: [Language; 3] = [Language::En, Language::Ru, Language::Es];

    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Ru => "ru",
            Self::Es => "es",
        }
    }

    /// A language read back from the database; one it does not know reads as English.
    pub fn from_stored(s: &str) -> Self {
        Self::parse(s).unwrap_or_default()
    }

    pub fn parse(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|l| l.code() == s)
            .ok_or_else(|| Error::invalid("language", "use en, ru or es"))
    }
}

/// A stored password hash. Never printed.
#[derive(Clone, PartialEq, Eq, sqlx::Type)]
#[sqlx(transparent)]
pub struct StoredHash(pub String);

impl fmt::Debug for StoredHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoredHash(<redacted>)")
    }
}

/// A right one user holds on another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Right {
    /// Sign in as the target ("Login as").
    ActAs,
    /// Manage the target as if one had created it.
    Manage,
}

impl Right {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ActAs => "act_as",
            Self::Manage => "manage",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_keep_their_case_and_refuse_blank_or_padded_values() {
        assert_eq!(Username::parse("Dispatcher").unwrap().as_str(), "Dispatcher");
        assert!(Username::parse("").is_err());
        assert!(Username::parse(" admin").is_err());
        assert!(Username::parse("a\u{7}b").is_err());
        assert!(Username::parse(&"u".repeat(65)).is_err());
    }

    #[test]
    fn usernames_are_normalized_and_refuse_invisible_and_direction_characters() {
        assert_eq!(Username::parse("ｄｅｍｏ").unwrap().as_str(), "demo");
        for bad in ["demo\u{200b}", "\u{202e}omed", "de\u{2066}mo", "demo\u{feff}", "de\u{00ad}mo"] {
            assert!(Username::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Username::parse("водитель-1").unwrap().as_str(), "водитель-1");
    }

    #[test]
    fn names_that_look_alike_share_a_skeleton() {
        let latin = Username::parse("demo").unwrap();
        let cyrillic_o = Username::parse("dem\u{043e}").unwrap();
        assert_ne!(latin, cyrillic_o);
        assert_eq!(latin.skeleton(), cyrillic_o.skeleton());
        assert_ne!(latin.skeleton(), Username::parse("demo2").unwrap().skeleton());
    }

    #[test]
    fn emails_and_phones_are_checked_for_shape() {
        assert!(Email::parse("ops@fleet.example").is_ok());
        for bad in ["ops", "ops@", "@fleet.example", "ops@fleet", "o ps@fleet.example"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Phone::parse("+353 1 234-5678").unwrap().as_str(), "+35312345678");
        for bad in ["35312345678", "+0123456789", "+12", "+3531234567890123"] {
            assert!(Phone::parse(bad).is_err(), "{bad}");
        }
    }
}
