//! The ground floor: the small checked values everything above is made of, and the
//! records built from them (`User`, `Account`). Nothing here imports anything above the
//! ground floor; a value from outside is parsed once, at the edge, into a type that
//! cannot hold a bad value, and a stored one is converted once, in the store.

pub mod account;
pub mod contact;
pub mod device;
pub mod fields;
pub mod ids;
pub mod session;
pub mod user;

pub use account::Account;
pub use contact::Contact;
pub use fields::{
    Email, Language, MAX_EMAIL_LEN, MAX_USERNAME_CHARS, Phone, Right, StoredHash, Username, skeleton_of,
};
pub use ids::{AccountId, UserId};
pub use session::{AppKind, Duty};
pub use user::User;
