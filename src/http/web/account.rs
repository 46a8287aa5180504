//! The signed-in user's own pages: security (addresses and their confirmation, the
//! second factor per app, notices, password, login history) and sessions.

use axum::{
    extract::{Path, Query, State},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{
    guard::{FormPost, PageError, PageSession, back_to_security},
    templates::{
        Agent, DeviceLine, HistoryRow, PasskeyLine, SecurityPage, SessionLine, SessionsPage, show_time,
    },
    visitor::Visitor,
};
use crate::{
    app::App,
    audit,
    clock::to_unix,
    error::Error,
    http::extract::Client,
    i18n::Tr,
    integrations,
    mfa::{self, Method, devices},
    passkeys,
    policy::CodeDelivery,
    sessions,
    users::{self, OwnChanges},
    values::AppKind,
    verification::{self, Channel},
};

#[derive(Debug, Deserialize)]
pub struct SecurityQuery {
    before: Option<i64>,
    changed: Option<String>,
    /// What just succeeded, as a notice key.
    done: Option<String>,
    /// What just failed, as an error key.
    error: Option<String>,
    /// `email` or `phone`: a code was sent, show the line to type it.
    sent: Option<String>,
    /// After signing in with a backup code, when few are left.
    backup_codes_left: Option<i64>,
}

/// The notices and errors the security page may be sent back with; anything else in
/// the address is ignored.
const OUTCOMES: &[&str] = &[
    "address-saved",
    "email-confirmed",
    "phone-confirmed",
    "two-factor-saved",
    "authenticator-removed",
    "passkey-removed",
    "error-last-passkey",
    "device-revoked",
    "error-invalid-email",
    "error-invalid-phone",
    "error-wrong-code",
    "error-code-expired",
    "error-too-soon",
    "error-sms-unavailable",
    "error-two-factor-unconfirmed",
    "error-password-needed",
    "notices-saved",
    "language-saved",
    "flespi-saved",
    "flespi-removed",
    "flespi-checked",
    "error-flespi-token",
    "error-flespi-unreachable",
];

fn outcome(tr: Tr, key: Option<&str>) -> Option<String> {
    key.filter(|k| OUTCOMES.contains(k)).map(|k| tr.t(&format!("security-{k}")))
}

pub async fn security(
    State(app): State<App>,
    visitor: Visitor,
    session: PageSession,
    client: Client,
    Query(query): Query<SecurityQuery>,
) -> Result<Response, PageError> {
    let current = &session.0;
    let tr = Tr(current.language);
    let failed = |e| PageError::Domain(e, tr);
    let me = current.signed_in_user();
    let settings = users::security(&app.store, current.user.id).await.map_err(failed)?;
    let (entries, next) = audit::login_history(&app.store, me, query.before, 20).await.map_err(failed)?;
    let history = history_rows(tr, entries);
    let mut page = visitor.layout(tr, Some(current));
    page.notice = outcome(tr, query.done.as_deref());
    page.error = outcome(tr, query.error.as_deref());
    if let Some(left) = query.backup_codes_left {
        page.error = Some(tr.t1("security-backup-codes-running-out", "count", left));
    }
    let devices = devices::list(&app.store, current.user.id, to_unix(app.now()))
        .await
        .map_err(failed)?
        .into_iter()
        .map(|d| DeviceLine {
            id: d.id,
            agent: Agent::of(tr, d.user_agent),
            ip: d.ip,
            trusted_at: show_time(d.trusted_at),
            expires_at: show_time(d.expires_at),
        })
        .collect();
    let passkeys = passkeys::list(&app.store, current.user.id)
        .await
        .map_err(failed)?
        .into_iter()
        .map(|p| PasskeyLine {
            id: p.id,
            name: p.name,
            added: show_time(p.created_at),
            last_used: p.last_used_at.map(show_time),
        })
        .collect();
    if query.changed.is_some() {
        page.notice = Some(tr.t("password-changed"));
    }
    let flespi = if settings.top_user && current.impersonator.is_none() {
        let stored = integrations::settings(&app.store, &current.actor(client.ip)).await.map_err(failed)?;
        Some(super::integrations::section(tr, stored))
    } else {
        None
    };
    let can_change_password = settings.can_change_password && current.impersonator.is_none();
    let method = |m: Option<Method>| m.map_or("none", Method::as_str);
    let security = SecurityPage {
        page,
        language: settings.language,
        can_change_password,
        email: settings.email.unwrap_or_default(),
        email_verified: settings.email_verified,
        phone: settings.phone.unwrap_or_default(),
        phone_verified: settings.phone_verified,
        sent: query.sent.filter(|s| s == "email" || s == "phone"),
        web: method(settings.two_factor.web),
        manager: method(settings.two_factor.manager),
        sms_allowed: settings.code_delivery == CodeDelivery::SmsThenEmail,
        authenticator: settings.authenticator,
        backup_codes_left: settings.backup_codes_left,
        notify_account_blocking: settings.notify_account_blocking,
        email_notifications_service: settings.email_notifications_service,
        flespi,
        devices,
        passkeys,
        history,
        next,
    };
    Ok((visitor.jar, security).into_response())
}

/// Sign-ins as the login history shows them.
pub(super) fn history_rows(tr: Tr, entries: Vec<audit::SignIn>) -> Vec<HistoryRow> {
    entries
        .into_iter()
        .map(|e| HistoryRow {
            time: show_time(e.time),
            result_text: tr.t(&format!("result-{}", e.result)),
            result: e.result,
            ip: e.ip.unwrap_or_default(),
            app: match e.app.as_str() {
                app @ ("web" | "manager") => tr.t(&format!("security-app-{app}")),
                other => other.to_owned(),
            },
            agent: Agent::of(tr, e.user_agent),
            as_whom: e.login_as.map(|name| tr.t1("history-as", "name", name)),
        })
        .collect()
}

/// `email` or `phone` in a path, as the channel that confirms it.
fn address(kind: &str) -> Result<Channel, PageError> {
    match kind {
        "email" => Ok(Channel::Email),
        "phone" => Ok(Channel::Sms),
        _ => Err(PageError::Domain(Error::NotFound, Tr(Default::default()))),
    }
}

#[derive(Deserialize)]
pub struct LanguageForm {
    language: String,
}

/// `POST /security/language`: the language of pages, emails and SMS from now on.
pub async fn save_language(
    State(app): State<App>,
    session: PageSession,
    client: Client,
    FormPost(form): FormPost<LanguageForm>,
) -> Result<Response, PageError> {
    let changes = OwnChanges { language: Some(form.language), ..Default::default() };
    let actor = session.0.actor(client.ip);
    users::update_own(&app.store, &app.hasher, &actor, &changes, to_unix(app.now()))
        .await
        .map_err(|e| PageError::Domain(e, Tr(session.0.language)))?;
    Ok(back_to_security("done=language-saved#language"))
}

#[derive(Deserialize)]
pub struct AddressForm {
    value: String,
    current_password: String,
}

/// `POST /security/{email|phone}`: a new address, unconfirmed until its code is typed.
pub async fn save_address(
    State(app): State<App>,
    session: PageSession,
    client: Client,
    Path(kind): Path<String>,
    FormPost(form): FormPost<AddressForm>,
) -> Result<Response, PageError> {
    let channel = address(&kind)?;
    let value = Some(form.value.trim().to_owned()).filter(|v| !v.is_empty());
    let current_password = Some(form.current_password.into());
    let changes = match channel {
        Channel::Email => OwnChanges { email: Some(value), current_password, ..Default::default() },
        Channel::Sms => OwnChanges { phone: Some(value), current_password, ..Default::default() },
    };
    let actor = session.0.actor(client.ip);
    match users::update_own(&app.store, &app.hasher, &actor, &changes, to_unix(app.now())).await {
        Ok(_) => Ok(back_to_security("done=address-saved")),
        Err(Error::Invalid { field: "current_password", .. }) => {
            Ok(back_to_security("error=error-password-needed"))
        }
        Err(Error::Invalid { .. }) => Ok(back_to_security(&format!("error=error-invalid-{kind}"))),
        Err(e) => Err(PageError::Domain(e, Tr(session.0.language))),
    }
}

/// `POST /security/{email|phone}/send`: a code to confirm the address.
pub async fn send_address_code(
    State(app): State<App>,
    session: PageSession,
    client: Client,
    Path(kind): Path<String>,
    _: FormPost,
) -> Result<Response, PageError> {
    let channel = address(&kind)?;
    let actor = session.0.actor(client.ip);
    let gateway = app.delivery.sms.is_some();
    let now = to_unix(app.now());
    let result = verification::send_code(&app.store, &app.keys, gateway, &actor, channel, now).await;
    app.delivery.wake.notify_one();
    match result {
        Ok(_) => Ok(back_to_security(&format!("sent={kind}"))),
        Err(Error::TooSoon { .. }) => Ok(back_to_security(&format!("sent={kind}&error=error-too-soon"))),
        Err(Error::SmsUnavailable { .. }) => Ok(back_to_security("error=error-sms-unavailable")),
        Err(Error::Invalid { .. }) => Ok(back_to_security(&format!("error=error-invalid-{kind}"))),
        Err(e) => Err(PageError::Domain(e, Tr(session.0.language))),
    }
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
}

/// `POST /security/{email|phone}/confirm`: the code that confirms the address.
pub async fn confirm_address(
    State(app): State<App>,
    session: PageSession,
    client: Client,
    Path(kind): Path<String>,
    FormPost(form): FormPost<CodeForm>,
) -> Result<Response, PageError> {
    let channel = address(&kind)?;
    let actor = session.0.actor(client.ip);
    match verification::confirm(&app.store, &app.keys, &actor, channel, &form.code, to_unix(app.now())).await
    {
        Ok(()) => Ok(back_to_security(&format!("done={kind}-confirmed"))),
        Err(Error::InvalidCode { .. }) => {
            Ok(back_to_security(&format!("sent={kind}&error=error-wrong-code")))
        }
        Err(Error::CodeExpired) => Ok(back_to_security("error=error-code-expired")),
        Err(e) => Err(PageError::Domain(e, Tr(session.0.language))),
    }
}

#[derive(Deserialize)]
pub struct TwoFactorForm {
    web: String,
    manager: String,
    current_password: Option<String>,
}

/// `POST /security/two-factor`: the second factor for each app.
pub async fn save_two_factor(
    State(app): State<App>,
    session: PageSession,
    client: Client,
    FormPost(form): FormPost<TwoFactorForm>,
) -> Result<Response, PageError> {
    let actor = session.0.actor(client.ip);
    let changes =
        [(AppKind::Web, Method::parse(&form.web)), (AppKind::Manager, Method::parse(&form.manager))];
    let password = form.current_password.filter(|p| !p.is_empty()).map(Into::into);
    match mfa::set(&app.store, &app.hasher, &actor, &changes, password, to_unix(app.now())).await {
        Ok(_) => {}
        Err(Error::Invalid { field: "current_password", .. }) => {
            return Ok(back_to_security("error=error-password-needed"));
        }
        Err(Error::Invalid { .. }) => return Ok(back_to_security("error=error-two-factor-unconfirmed")),
        Err(e) => return Err(PageError::Domain(e, Tr(session.0.language))),
    }
    Ok(back_to_security("done=two-factor-saved"))
}

#[derive(Deserialize)]
pub struct NoticesForm {
    notify_account_blocking: Option<String>,
}

/// `POST /security/notices`: whether to hear by email that the account will be blocked.
pub async fn save_notices(
    State(app): State<App>,
    session: PageSession,
    client: Client,
    FormPost(form): FormPost<NoticesForm>,
) -> Result<Response, PageError> {
    let changes = OwnChanges {
        notify_account_blocking: Some(form.notify_account_blocking.is_some()),
        ..Default::default()
    };
    let actor = session.0.actor(client.ip);
    users::update_own(&app.store, &app.hasher, &actor, &changes, to_unix(app.now()))
        .await
        .map_err(|e| PageError::Domain(e, Tr(session.0.language)))?;
    Ok(back_to_security("done=notices-saved"))
}

#[derive(Debug, Deserialize)]
pub struct SessionsQuery {
    ended: Option<u64>,
}

pub async fn sessions(
    State(app): State<App>,
    visitor: Visitor,
    session: PageSession,
    Query(query): Query<SessionsQuery>,
) -> Result<Response, PageError> {
    let current = &session.0;
    let tr = Tr(current.language);
    let listed = sessions::list(&app.store, &app.lifetimes, current, to_unix(app.now()))
        .await
        .map_err(|e| PageError::Domain(e, tr))?;
    let lines = listed
        .into_iter()
        .map(|s| SessionLine {
            id: s.id,
            app: s.app.as_str(),
            ip: s.ip,
            agent: Agent::of(tr, s.user_agent),
            created_at: show_time(s.created_at),
            last_seen_at: show_time(s.last_seen_at),
            current: s.current,
            acting_by: s.impersonator.map(|name| tr.t1("session-acting-by", "name", name)),
        })
        .collect();
    let mut page = visitor.layout(tr, Some(current));
    if let Some(count) = query.ended {
        page.notice = Some(tr.t1("sessions-ended", "count", count));
    }
    Ok((visitor.jar, SessionsPage { page, sessions: lines }).into_response())
}

pub async fn end_others(
    State(app): State<App>,
    session: PageSession,
    _: FormPost,
) -> Result<Response, PageError> {
    let ended = sessions::end_others(&app.store, &session.0, to_unix(app.now()))
        .await
        .map_err(|e| PageError::Domain(e, Tr(session.0.language)))?;
    Ok(Redirect::to(&format!("/sessions?ended={ended}")).into_response())
}

pub async fn end_one(
    State(app): State<App>,
    session: PageSession,
    Path(id): Path<i64>,
    _: FormPost,
) -> Result<Response, PageError> {
    sessions::end_own(&app.store, &session.0, id, to_unix(app.now()))
        .await
        .map_err(|e| PageError::Domain(e, Tr(session.0.language)))?;
    Ok(Redirect::to("/sessions").into_response())
}
