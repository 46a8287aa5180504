//! The company settings, for the account's top users: how codes travel and whom users
//! call after 3 wrong codes, whether new users start with 2FA on; and the audit log
//! (filtered, paged, in words; exported as CSV). The users are `members`.

use axum::{
    extract::{Query, State},
    http::header,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;
use time::{Date, OffsetDateTime, macros::format_description};

use super::{
    company_templates::{AuditPage, CompanyPage, UserLine},
    guard::{CompanyAdmin, FormPost, PageError},
    visitor::Visitor,
};
use crate::{
    accounts,
    app::App,
    audit,
    clock::to_unix,
    error::Error,
    http::extract::Client,
    i18n::Tr,
    policy::{self, CodeDelivery, PasskeyRequirement, PasskeyRule, PolicyChange},
    values::{Contact, UserId},
};

/// The actions the log can be filtered by, in the order the list shows them.
pub const ACTIONS: &[&str] = &[
    "two_factor.changed",
    "two_factor_policy.changed",
    "two_factor.reset",
    "passkey.added",
    "passkey.removed",
    "second_factor.sent",
    "second_factor.passed",
    "second_factor.failed_3_times",
    "user.locked",
    "user.unlocked",
    "sign_in",
    "sign_in.failed",
    "session.quick_login_refused",
    "sessions.ended_by_administrator",
    "impersonation.started",
    "impersonation.ended",
    "password.changed",
    "user.created",
    "user.updated",
    "verification.sent",
    "verification.confirmed",
    "authenticator.enabled",
    "authenticator.disabled",
    "backup_codes.regenerated",
    "trusted_device.added",
    "trusted_device.revoked",
    "grant.added",
    "grant.removed",
    "dpa.accepted",
    "account.created",
    "account.updated",
    "integration.flespi_saved",
    "integration.flespi_removed",
    "oidc.granted",
    "oidc.refreshed",
    "oidc.revoked",
    "oidc.code_reused",
    "oidc.refresh_reused",
    "oidc.signed_out",
    "oidc.refused",
    "oidc_client.created",
    "oidc_client.deleted",
];

#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    pub before: Option<i64>,
    pub action: Option<String>,
    pub user: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    pub from: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    pub to: Option<String>,
    pub done: Option<String>,
    pub error: Option<String>,
}

impl AuditQuery {
    fn day(text: &Option<String>) -> Option<i64> {
        let text = text.as_deref().filter(|t| !t.is_empty())?;
        let date = Date::parse(text, format_description!("[year]-[month]-[day]")).ok()?;
        Some(to_unix(date.midnight().assume_utc()))
    }

    fn filter(&self, limit: i64) -> audit::Filter<'_> {
        audit::Filter {
            before: self.before,
            action: self.action.as_deref().filter(|a| ACTIONS.contains(a)),
            user: self.user.as_deref().and_then(|u| u.parse().ok()).map(UserId),
            since: Self::day(&self.from),
            until: Self::day(&self.to).map(|d| d + 86_400),
            limit,
        }
    }

    /// The filters as a query string, for the next page and the CSV link.
    fn query_string(&self) -> String {
        let pairs = [("action", &self.action), ("user", &self.user), ("from", &self.from), ("to", &self.to)];
        pairs
            .iter()
            .filter_map(|(k, v)| {
                v.as_deref().filter(|v| !v.is_empty()).map(|v| format!("{k}={}", urlencode(v)))
            })
            .collect::<Vec<_>>()
            .join("&")
    }
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// `GET /company`: how codes travel, the contact person, trusted devices, and 2FA for
/// new users.
pub async fn page(
    State(app): State<App>,
    visitor: Visitor,
    session: CompanyAdmin,
    client: Client,
    Query(query): Query<AuditQuery>,
) -> Result<Response, PageError> {
    let current = &session.0;
    let tr = Tr(current.language);
    let actor = current.actor(client.ip);
    let policy =
        policy::get(&app.store, &actor, current.account.id).await.map_err(|e| PageError::Domain(e, tr))?;
    let mut page = visitor.layout(tr, Some(current));
    page.notice =
        query.done.as_deref().filter(|d| COMPANY_NOTICES.contains(d)).map(|d| tr.t(&format!("company-{d}")));
    page.error =
        query.error.as_deref().filter(|e| *e == "invalid-contact").map(|_| tr.t("company-invalid-contact"));
    let company = CompanyPage {
        page,
        account: current.account.name.clone(),
        email_only: policy.delivery == CodeDelivery::EmailOnly,
        contact: policy.contact.clone(),
        allow_trusted_devices: policy.allow_trusted_devices,
        default_web: policy.defaults.web,
        default_manager: policy.defaults.manager,
        passkeys: policy.require_passkey,
    };
    Ok((visitor.jar, company).into_response())
}

/// `GET /company/audit`: the log, filtered and paged, in words.
pub async fn audit_log(
    State(app): State<App>,
    visitor: Visitor,
    session: CompanyAdmin,
    client: Client,
    Query(query): Query<AuditQuery>,
) -> Result<Response, PageError> {
    let current = &session.0;
    let tr = Tr(current.language);
    let failed = |e| PageError::Domain(e, tr);
    let actor = current.actor(client.ip);
    let (entries, next) =
        audit::page(&app.store, &actor, current.account.id, &query.filter(25)).await.map_err(failed)?;
    let users = accounts::users(&app.store, &actor, current.account.id).await.map_err(failed)?;
    let log = entries.iter().map(|e| super::audit_words::line(tr, e)).collect();
    let filters = query.query_string();
    let audit = AuditPage {
        page: visitor.layout(tr, Some(current)),
        account: current.account.name.clone(),
        users: users.into_iter().map(|u| UserLine { id: u.id.0, username: u.username.to_string() }).collect(),
        log,
        next: next.map(|n| {
            if filters.is_empty() { format!("before={n}") } else { format!("{filters}&before={n}") }
        }),
        csv: if filters.is_empty() {
            "company/audit.csv".into()
        } else {
            format!("company/audit.csv?{filters}")
        },
        actions: ACTIONS,
        chosen_action: query.action.clone().unwrap_or_default(),
        chosen_user: query.user.clone().unwrap_or_default(),
        from: query.from.clone().unwrap_or_default(),
        to: query.to.clone().unwrap_or_default(),
    };
    Ok((visitor.jar, audit).into_response())
}

const COMPANY_NOTICES: &[&str] = &["saved"];

/// `GET /company/audit.csv`: the filtered log, up to 10,000 events, as CSV.
pub async fn audit_csv(
    State(app): State<App>,
    session: CompanyAdmin,
    client: Client,
    Query(query): Query<AuditQuery>,
) -> Result<Response, PageError> {
    let current = &session.0;
    let tr = Tr(current.language);
    let failed = |e| PageError::Domain(e, tr);
    let mut entries = Vec::new();
    let mut filter = query.filter(500);
    loop {
        let (page, next) = audit::page(&app.store, &current.actor(client.ip), current.account.id, &filter)
            .await
            .map_err(failed)?;
        entries.extend(page);
        match next {
            Some(before) if entries.len() < 10_000 => filter.before = Some(before),
            _ => break,
        }
    }
    let csv = audit::to_csv(&entries).map_err(failed)?;
    let stamp = OffsetDateTime::from_unix_timestamp(to_unix(app.now()))
        .map(|t| t.date().to_string())
        .unwrap_or_default();
    let disposition = format!("attachment; filename=\"audit-{stamp}.csv\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        csv,
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct GeneralForm {
    delivery: String,
    contact_name: String,
    contact_phone: String,
    contact_email: String,
    allow_trusted_devices: Option<String>,
}

/// `POST /company/general`: the delivery method, the contact person, trusted devices.
pub async fn save_general(
    State(app): State<App>,
    session: CompanyAdmin,
    client: Client,
    FormPost(form): FormPost<GeneralForm>,
) -> Result<Response, PageError> {
    let change = PolicyChange {
        delivery: Some(if form.delivery == "email_only" {
            CodeDelivery::EmailOnly
        } else {
            CodeDelivery::SmsThenEmail
        }),
        contact: Some(Contact {
            name: form.contact_name,
            phone: form.contact_phone,
            email: form.contact_email,
        }),
        allow_trusted_devices: Some(form.allow_trusted_devices.is_some()),
        defaults: None,
        require_passkey: None,
    };
    save(&app, &session, &client, change).await
}

#[derive(Deserialize)]
pub struct DefaultsForm {
    web: Option<String>,
    manager: Option<String>,
}

#[derive(Deserialize)]
pub struct PasskeysForm {
    passkey_web: PasskeyRule,
    passkey_manager: PasskeyRule,
}

/// `POST /company/passkeys`: who must sign in with a passkey, per app.
pub async fn save_passkeys(
    State(app): State<App>,
    session: CompanyAdmin,
    client: Client,
    FormPost(form): FormPost<PasskeysForm>,
) -> Result<Response, PageError> {
    let rule = PasskeyRequirement { web: form.passkey_web, manager: form.passkey_manager };
    save(&app, &session, &client, PolicyChange { require_passkey: Some(rule), ..Default::default() }).await
}

/// `POST /company/defaults`: 2FA for new users, per app.
pub async fn save_defaults(
    State(app): State<App>,
    session: CompanyAdmin,
    client: Client,
    FormPost(form): FormPost<DefaultsForm>,
) -> Result<Response, PageError> {
    let defaults = policy::Defaults { web: form.web.is_some(), manager: form.manager.is_some() };
    save(&app, &session, &client, PolicyChange { defaults: Some(defaults), ..Default::default() }).await
}

async fn save(
    app: &App,
    session: &CompanyAdmin,
    client: &Client,
    change: PolicyChange,
) -> Result<Response, PageError> {
    let current = &session.0;
    let tr = Tr(current.language);
    let actor = current.actor(client.ip);
    match policy::put(&app.store, &actor, current.account.id, &change, to_unix(app.now())).await {
        Ok(_) => Ok(Redirect::to("/company?done=saved").into_response()),
        Err(Error::Invalid { .. }) => Ok(Redirect::to("/company?error=invalid-contact").into_response()),
        Err(e) => Err(PageError::Domain(e, tr)),
    }
}
