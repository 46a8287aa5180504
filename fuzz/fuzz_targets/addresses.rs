//! Email addresses and phone numbers: refused, or kept in a shape that parses to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::values::{Email, MAX_EMAIL_LEN, Phone};

fuzz_target!(|text: &str| {
    if let Ok(email) = Email::parse(text) {
        let s = email.as_str();
        assert!(s.len() <= MAX_EMAIL_LEN && s.contains('@'));
        assert!(!s.chars().any(|c| c.is_whitespace() || c.is_control()));
        assert_eq!(Email::parse(s).expect("parses again").as_str(), s);
    }
    if let Ok(phone) = Phone::parse(text) {
        let s = phone.as_str();
        let digits = s.strip_prefix('+').expect("international form");
        assert!((8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(Phone::parse(s).expect("parses again").as_str(), s);
    }
});
