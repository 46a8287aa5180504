//! Sessions: who a token stands for, and for how long.
//!
//! A session is created at every sign-in (and every impersonation switch) with a new
//! random token, of which only the hash is stored. A remembered session lasts 30 days at
//! most; one that is not remembered also ends after 5 minutes without a request. The
//! check is the hot path of the whole platform: one SHA-256, one indexed read, and a
//! write of "last seen" only when the last one is a few seconds old.

use serde::Serialize;
use time::OffsetDateTime;

use crate::{
    audit::{self, Event},
    clock::from_unix,
    error::{Error, Result},
    rights::Actor,
    store::{NewSession, SessionRow, SessionView, Store, Tx},
    tokens::{Token, TokenHash},
    values::{AccountId, AppKind, Duty, Language, UserId},
};

/// How long sessions last, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    /// A session that is not remembered ends after this long without a request.
    pub idle: i64,
    /// The longest any session lasts.
    pub max: i64,
    /// "Last seen" is written at most this often per session.
    pub touch_every: i64,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self { idle: 5 * 60, max: 30 * 24 * 3600, touch_every: 5 }
    }
}

/// Starts a session inside the caller's transaction; the token is shown to the client
/// once and never stored.
pub async fn start(tx: &mut Tx, lifetimes: &Lifetimes, new: &NewSession, now: i64) -> Result<(Token, i64)> {
    let token = Token::generate();
    let id = tx.insert_session(&token.hash(), new, now, now + lifetimes.max).await?;
    Ok((token, id))
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserRef {
    pub id: UserId,
    pub username: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AccountRef {
    pub id: AccountId,
    pub name: String,
}

/// The answer to "who holds this token?".
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Current {
    /// The session's own id, as listed in `GET /api/v1/sessions`.
    pub id: i64,
    /// The effective user: whom services should act for.
    pub user: UserRef,
    /// The effective user's account.
    pub account: AccountRef,
    /// The user being impersonated, if any (the same as `user`).
    pub acting_as: Option<UserRef>,
    /// The person really signed in, when impersonating.
    pub impersonator: Option<UserRef>,
    pub app: AppKind,
    pub remember_me: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Duties to finish before anything else.
    pub pending: Vec<Duty>,
    /// The language of the person signed in.
    #[serde(skip)]
    pub language: Language,
    /// The effective user's email address, confirmed or not.
    #[serde(skip)]
    pub email: Option<String>,
    /// An administrator of their account, signed in as themselves: the company's
    /// settings are theirs (pages offer them; each action checks again).
    #[serde(skip)]
    pub administers: bool,
}

impl Current {
    /// The person who signed in (the impersonator, when impersonating).
    pub fn signed_in_user(&self) -> UserId {
        self.impersonator.as_ref().map_or(self.user.id, |u| u.id)
    }

    /// The session as the actor of a change made from `ip`.
    pub fn actor(&self, ip: std::net::IpAddr) -> Actor {
        Actor::user(self.user.id, self.impersonator.as_ref().map(|u| u.id), Some(ip.to_string()))
    }
}

/// Checks a presented token. Ends (and refuses) a session that went idle or whose
/// account is blocked.
pub async fn check(store: &Store, lifetimes: &Lifetimes, presented: &str, now: i64) -> Result<Current> {
    let view = lookup(store, lifetimes, presented, now).await?;
    touch(store, lifetimes, view, now).await
}

/// Checks a presented token without recording a visit: for a page's background poll,
/// which must not keep an idle session alive.
pub async fn peek(store: &Store, lifetimes: &Lifetimes, presented: &str, now: i64) -> Result<Current> {
    Ok(current_of(lookup(store, lifetimes, presented, now).await?, lifetimes))
}

/// Quick login by link (`/?sid=`): the session, but only for a client at the address the
/// session was created from. From anywhere else it is refused, logged and audited, and
/// the session is left as it was.
pub async fn check_from(
    store: &Store,
    lifetimes: &Lifetimes,
    presented: &str,
    ip: &str,
    now: i64,
) -> Result<Current> {
    let view = lookup(store, lifetimes, presented, now).await?;
    if view.ip != ip {
        tracing::warn!(%ip, "quick login refused: the link was opened from another address");
        let mut tx = store.write().await?;
        let stranger = Actor { ip: Some(ip.to_owned()), ..Actor::default() };
        let details = serde_json::json!({ "session_ip": view.ip });
        let event = Event::new(view.account_id, &stranger, "session.quick_login_refused")
            .subject(view.user_id)
            .details(details);
        audit::record(&mut tx, event, now).await?;
        tx.commit().await?;
        return Err(Error::Forbidden);
    }
    touch(store, lifetimes, view, now).await
}

/// A session found by other means than its token (by the grant an app holds, by the code
/// it was given), checked like a token: an app using it is the person using the session,
/// so the visit is recorded.
pub async fn check_view(
    store: &Store,
    lifetimes: &Lifetimes,
    view: SessionView,
    now: i64,
) -> Result<Current> {
    let view = live(store, lifetimes, view, now).await?;
    touch(store, lifetimes, view, now).await
}

/// The live session behind a token, without recording the visit.
async fn lookup(store: &Store, lifetimes: &Lifetimes, presented: &str, now: i64) -> Result<SessionView> {
    let view = store.session_by_hash(&TokenHash::of(presented)).await?.ok_or(Error::Unauthenticated)?;
    live(store, lifetimes, view, now).await
}

/// The session, unless it went idle, ran out or its account is blocked (then it ends).
async fn live(store: &Store, lifetimes: &Lifetimes, view: SessionView, now: i64) -> Result<SessionView> {
    if now >= end_of(&view, lifetimes) {
        store.end_session(view.id, now).await?;
        return Err(Error::Unauthenticated);
    }
    let blocked = [view.blocked_from, view.acting_blocked_from].into_iter().flatten().any(|at| at <= now);
    if blocked {
        store.end_session(view.id, now).await?;
        return Err(Error::AccountBlocked { notice: None });
    }
    Ok(view)
}

/// Records the visit (at most once every few seconds) and answers with the session.
async fn touch(store: &Store, lifetimes: &Lifetimes, mut view: SessionView, now: i64) -> Result<Current> {
    if now - view.last_seen_at >= lifetimes.touch_every {
        store.touch_session(view.id, now).await?;
        view.last_seen_at = now;
    }
    Ok(current_of(view, lifetimes))
}

/// When a session ends if nothing more happens.
fn end_of(view: &SessionView, lifetimes: &Lifetimes) -> i64 {
    if view.remember { view.expires_at } else { view.expires_at.min(view.last_seen_at + lifetimes.idle) }
}

fn current_of(view: SessionView, lifetimes: &Lifetimes) -> Current {
    let mut pending = Vec::new();
    if view.dpa_version > view.dpa_accepted_version {
        pending.push(Duty::AcceptDpa);
    }
    if view.must_change_password {
        pending.push(Duty::ChangePassword);
    }
    if view.passkey_due {
        pending.push(Duty::RegisterPasskey);
    }
    let expires_at = from_unix(end_of(&view, lifetimes));
    let administers = view.top_user && view.acting_id.is_none();
    let signed_in = UserRef { id: view.user_id, username: view.username };
    let own_account = AccountRef { id: view.account_id, name: view.account_name };
    let email = if view.acting_id.is_some() { view.acting_email } else { view.email };
    let (user, account, acting_as, impersonator) = match (view.acting_id, view.acting_username) {
        (Some(id), Some(username)) => {
            let acting = UserRef { id, username };
            let account = AccountRef {
                id: view.acting_account_id.unwrap_or(own_account.id),
                name: view.acting_account_name.unwrap_or_default(),
            };
            (acting.clone(), account, Some(acting), Some(signed_in))
        }
        _ => (signed_in, own_account, None, None),
    };
    Current {
        id: view.id,
        user,
        account,
        acting_as,
        impersonator,
        app: AppKind::parse(&view.app),
        remember_me: view.remember,
        expires_at,
        pending,
        language: Language::parse(&view.language).unwrap_or_default(),
        email,
        administers,
    }
}

/// One of a user's open sessions, as listed to its owner.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Listed {
    pub id: i64,
    pub app: AppKind,
    pub ip: String,
    pub user_agent: String,
    pub remember_me: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen_at: OffsetDateTime,
    /// Whether this is the session making the request.
    pub current: bool,
    /// Who signed in to this session to act as the user (support staff, an
    /// administrator); the user may end it like their own.
    pub impersonator: Option<String>,
}

/// The open sessions of the person signed in to `current`, and those of others acting as
/// them.
pub async fn list(store: &Store, lifetimes: &Lifetimes, current: &Current, now: i64) -> Result<Vec<Listed>> {
    let mut tx = store.read().await?;
    let rows = tx.open_sessions_of_user(current.signed_in_user(), now).await?;
    Ok(rows
        .into_iter()
        .filter(|r| r.remember || now < r.last_seen_at + lifetimes.idle)
        .map(|r: SessionRow| Listed {
            current: r.id == current.id,
            impersonator: r.impersonator,
            id: r.id,
            app: AppKind::parse(&r.app),
            ip: r.ip,
            user_agent: r.user_agent,
            remember_me: r.remember,
            created_at: from_unix(r.created_at),
            last_seen_at: from_unix(r.last_seen_at),
        })
        .collect())
}

/// Ends the session making the request ("sign out"), and the tabs of their own it
/// opened: nobody stays signed in as someone else in a tab left open.
pub async fn end(store: &Store, current: &Current, now: i64) -> Result<()> {
    let mut tx = store.write().await?;
    let signer = current.signed_in_user();
    // Already ended by a request at the same moment: signed out all the same.
    tx.end_session_of_user(signer, current.id, now).await?;
    tx.end_tabs_opened_from(current.id, signer, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Ends one of the caller's own sessions (or one acting as them), and the tabs of their
/// own the caller opened from it.
pub async fn end_own(store: &Store, current: &Current, id: i64, now: i64) -> Result<()> {
    let mut tx = store.write().await?;
    let signer = current.signed_in_user();
    if !tx.end_session_of_user(signer, id, now).await? {
        return Err(Error::NotFound);
    }
    tx.end_tabs_opened_from(id, signer, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Ends every session of the caller but this one ("sign out everywhere else").
pub async fn end_others(store: &Store, current: &Current, now: i64) -> Result<u64> {
    let mut tx = store.write().await?;
    let ended = tx.end_sessions_of_user(current.signed_in_user(), Some(current.id), now).await?;
    tx.commit().await?;
    Ok(ended)
}
