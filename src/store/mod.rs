//! The storage seam. The backend (SQLite or PostgreSQL) is chosen once at start-up from
//! the database URL; nothing outside this module asks which one runs.
//!
//! Every query is written once, in `$N` SQL that both dialects accept, and the
//! `with_tx!`/`with_pool!` macros run it on whichever connection type is live, so the
//! compiler checks each query against both drivers. Queries are grouped by concept, one
//! file each, as methods on [`Tx`] (reads and writes inside a transaction) or [`Store`]
//! (the few reads that need none, such as the session check).

mod accounts;
mod audit;
mod authenticators;
mod breaker;
mod clients;
mod db;
mod integrations;
mod notices;
mod oidc;
mod outbox;
mod passkeys;
mod purge;
mod resets;
mod session_check;
mod sessions;
mod sqlite_reads;
mod throttles;
mod two_factor;
mod users;
mod verifications;

pub use accounts::{NewAccount, TermsChanges};
pub use audit::{AuditFilter, AuditListRow, AuditRow, Sealed};
pub use authenticators::{AuthenticatorRow, DeviceRow};
pub use clients::ClientRow;
pub use db::{Store, Tx};
pub use integrations::FlespiRow;
pub use notices::NoticeRecipient;
pub use oidc::{CodeRow, GrantRow, KeyRow, NewClient, NewCode, RefreshRow, SessionPeople};
pub use outbox::{Backlog, NewMessage, OutboxRow};
pub use passkeys::{CeremonyRow, NewPasskey, PasskeyRow};
pub use purge::Expired;
pub use resets::ResetRow;
pub use session_check::{GrantView, SessionView};
pub use sessions::{NewSession, SessionRow, SignInFacts};
pub use throttles::Counter;
pub use two_factor::{ChallengeCode, ChallengeRow, NewChallenge, PolicyRow};
pub use users::{NewUser, TargetRow};
pub use verifications::VerificationRow;
