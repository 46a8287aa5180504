//! Typed codes: a one-time code is six digits or nothing, and telling a backup code
//! apart never panics, whatever was typed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::mfa::{backup, codes::OneTimeCode};

fuzz_target!(|typed: &str| {
    if let Some(code) = OneTimeCode::parse(typed) {
        let digits: String = typed.chars().filter(|c| c.is_ascii_digit()).collect();
        assert_eq!(digits.len(), 6, "{code:?} from {typed:?}");
    }
    let _ = backup::looks_like(typed);
});
