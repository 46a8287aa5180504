//! The accounts page, for top users: their own account's blocking date and services (set
//! from above, shown here), those of the accounts right below, which they set, and a new
//! account below theirs with its first top user.

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;
use time::{PrimitiveDateTime, macros::format_description};

use super::{
    company_templates::{AccountTerms, AccountsPage, NewAccountForm},
    guard::{FormPost, PageError, PageSession},
    templates::show_time,
    visitor::Visitor,
};
use crate::{
    accounts::{self, AccountRequest},
    app::App,
    clock::{from_unix, to_unix},
    error::Error,
    http::extract::Client,
    i18n::Tr,
    lifecycle,
    store::TermsChanges,
    users::UserRequest,
    values::{Account, AccountId},
};

/// How a `datetime-local` field writes a time.
const FIELD_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]");

fn terms(a: Account, now: i64) -> AccountTerms {
    AccountTerms {
        id: a.id.0,
        name: a.name,
        blocking_date: a
            .blocking_at
            .and_then(|at| from_unix(at).format(FIELD_FORMAT).ok())
            .unwrap_or_default(),
        blocked_from: a.blocked_from.map(|at| show_time(from_unix(at))).unwrap_or_default(),
        blocked: a.blocked_from.is_some_and(|at| at <= now),
        sms: a.sms_enabled,
        sms_quota: a.sms_quota,
        email_notifications: a.email_notifications,
    }
}

#[derive(Debug, Deserialize)]
pub struct AccountsQuery {
    done: Option<String>,
    error: Option<String>,
}

/// The notices the page may come back with.
const NOTICES: &[&str] = &["saved", "created"];

/// `GET /accounts`.
pub async fn page(
    State(app): State<App>,
    visitor: Visitor,
    session: PageSession,
    client: Client,
    Query(query): Query<AccountsQuery>,
) -> Result<Response, PageError> {
    let current = &session.0;
    let tr = Tr(current.language);
    let mut page = visitor.layout(tr, Some(current));
    page.notice =
        query.done.filter(|d| NOTICES.contains(&d.as_str())).map(|d| tr.t(&format!("accounts-{d}")));
    page.error = query.error.filter(|e| e == "invalid").map(|_| tr.t("accounts-invalid"));
    let accounts = accounts_page(&app, current, &client, page, NewAccountForm::default()).await?;
    Ok((visitor.jar, accounts).into_response())
}

async fn accounts_page(
    app: &App,
    current: &crate::sessions::Current,
    client: &Client,
    page: super::templates::Layout,
    new: NewAccountForm,
) -> Result<AccountsPage, PageError> {
    let failed = |e| PageError::Domain(e, Tr(current.language));
    let actor = current.actor(client.ip);
    let now = to_unix(app.now());
    let own = lifecycle::terms(&app.store, &actor, current.account.id).await.map_err(failed)?;
    let children = lifecycle::children(&app.store, &actor, current.account.id).await.map_err(failed)?;
    Ok(AccountsPage {
        page,
        own: terms(own, now),
        children: children.into_iter().map(|a| terms(a, now)).collect(),
        new,
    })
}

impl NewAccountForm {
    fn request(&self, parent: AccountId) -> Option<AccountRequest> {
        let sms_quota = match self.sms_quota.trim() {
            "" => None,
            quota => Some(quota.parse().ok()?),
        };
        Some(AccountRequest {
            name: self.name.trim().to_owned(),
            parent: Some(parent),
            blocking_at: None,
            sms_quota,
            email_notifications: self.email_notifications.is_some(),
            admin: UserRequest {
                username: self.admin_username.trim().to_owned(),
                password: Some(self.admin_password.clone().into()),
                email: Some(self.admin_email.trim().to_owned()).filter(|e| !e.is_empty()),
                can_change_password: true,
                must_change_password: Some(true),
                ..Default::default()
            },
        })
    }
}

/// `POST /accounts`: a new account below the viewer's own, with its first top user.
pub async fn create(
    State(app): State<App>,
    visitor: Visitor,
    session: PageSession,
    client: Client,
    FormPost(form): FormPost<NewAccountForm>,
) -> Result<Response, PageError> {
    let current = &session.0;
    let tr = Tr(current.language);
    let actor = current.actor(client.ip);
    let created = match form.request(current.account.id) {
        Some(request) => {
            accounts::create(&app.store, &app.hasher, &actor, &request, to_unix(app.now())).await
        }
        None => Err(Error::invalid("sms_quota", "a whole number")),
    };
    let key = match created {
        Ok(_) => return Ok(Redirect::to("/accounts?done=created").into_response()),
        Err(Error::Conflict { .. }) => "accounts-error-taken",
        Err(Error::Invalid { field: "name", .. }) => "accounts-error-name",
        Err(Error::Invalid { field: "username", .. }) => "company-error-username",
        Err(Error::Invalid { field: "email", .. }) => "security-error-invalid-email",
        Err(Error::Invalid { field: "password", message }) if message.starts_with("use at ") => {
            "error-password-length"
        }
        Err(Error::Invalid { field: "password", .. }) => "error-password-weak",
        Err(Error::Invalid { .. }) => "accounts-invalid",
        Err(e) => return Err(PageError::Domain(e, tr)),
    };
    let mut page = visitor.layout(tr, Some(current));
    page.error = Some(tr.t(key));
    let accounts = accounts_page(&app, current, &client, page, form).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, visitor.jar, accounts).into_response())
}

/// The terms form: each field with the value the page showed (`*_was`), so that only
/// what the administrator changed is written, not what the page showed a while ago.
#[derive(Deserialize)]
pub struct TermsForm {
    /// `YYYY-MM-DDTHH:MM` in UTC; empty clears it.
    blocking_date: String,
    blocking_date_was: String,
    sms: Option<String>,
    sms_was: Option<String>,
    sms_quota: String,
    sms_quota_was: String,
    email_notifications: Option<String>,
    email_notifications_was: Option<String>,
}

impl TermsForm {
    fn changes(&self) -> Option<TermsChanges> {
        let blocking_at = match self.blocking_date.trim() {
            date if date == self.blocking_date_was => None,
            "" => Some(None),
            date => Some(Some(to_unix(PrimitiveDateTime::parse(date, FIELD_FORMAT).ok()?.assume_utc()))),
        };
        let quota = match self.sms_quota.trim() {
            "" => 0,
            quota => quota.parse().ok()?,
        };
        let sms_changed =
            self.sms.is_some() != self.sms_was.is_some() || self.sms_quota.trim() != self.sms_quota_was;
        let email_notifications = self.email_notifications.is_some();
        Some(TermsChanges {
            blocking_at,
            sms_quota: sms_changed.then_some(self.sms.is_some().then_some(quota)),
            email_notifications: (email_notifications != self.email_notifications_was.is_some())
                .then_some(email_notifications),
        })
    }
}

/// `POST /accounts/{id}`: the blocking date and services of an account below.
pub async fn save(
    State(app): State<App>,
    session: PageSession,
    client: Client,
    Path(id): Path<i64>,
    FormPost(form): FormPost<TermsForm>,
) -> Result<Response, PageError> {
    let Some(changes) = form.changes() else {
        return Ok(Redirect::to("/accounts?error=invalid").into_response());
    };
    let actor = session.0.actor(client.ip);
    match lifecycle::change_terms(&app.store, &actor, AccountId(id), &changes, to_unix(app.now())).await {
        Ok(_) => Ok(Redirect::to("/accounts?done=saved").into_response()),
        Err(Error::Invalid { .. }) => Ok(Redirect::to("/accounts?error=invalid").into_response()),
        Err(e) => Err(PageError::Domain(e, Tr(session.0.language))),
    }
}
