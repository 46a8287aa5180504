//! Usernames: any text either is refused or becomes a name of 1 to 64 characters in
//! NFKC with nothing invisible, that parses to itself again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::values::{MAX_USERNAME_CHARS, Username};

fuzz_target!(|text: &str| {
    let Ok(name) = Username::parse(text) else {
        return;
    };
    let s = name.as_str();
    let chars = s.chars().count();
    assert!((1..=MAX_USERNAME_CHARS).contains(&chars));
    assert_eq!(s.trim(), s);
    assert!(!s.chars().any(char::is_control));
    assert_eq!(Username::parse(s).expect("a parsed name parses again").as_str(), s);
    let _ = name.skeleton();
});
