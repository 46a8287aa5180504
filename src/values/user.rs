//! A user as the domain works with one: every field its own type, read from the store
//! and converted there once, so no code above the store parses a stored string again.

use super::{
    fields::{Email, Language, Phone, StoredHash, Username},
    ids::{AccountId, UserId},
};

#[derive(Debug, Clone)]
pub struct User {
    pub id: UserId,
    pub account_id: AccountId,
    pub username: Username,
    /// The user who made this one: the management hierarchy.
    pub creator_id: Option<UserId>,
    /// An administrator of the account.
    pub top_user: bool,
    pub email: Option<Email>,
    pub email_verified: bool,
    pub phone: Option<Phone>,
    pub phone_verified: bool,
    pub password_hash: StoredHash,
    pub can_change_password: bool,
    pub can_send_sms: bool,
    pub must_change_password: bool,
    pub language: Language,
    pub dpa_accepted_version: i64,
    pub notify_account_blocking: bool,
    pub created_at: i64,
}

impl User {
    /// The email address, if its owner confirmed it: codes and links go nowhere else,
    /// since an address an administrator typed may not be theirs.
    pub fn confirmed_email(&self) -> Option<&Email> {
        self.email.as_ref().filter(|_| self.email_verified)
    }

    /// The phone number, if its owner confirmed it.
    pub fn confirmed_phone(&self) -> Option<&Phone> {
        self.phone.as_ref().filter(|_| self.phone_verified)
    }
}
