//! Second factors and the one-time codes that also confirm addresses.

pub mod codes;
