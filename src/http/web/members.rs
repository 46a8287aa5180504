//! The company's users, for its administrators: the list with each user's state, a form
//! to create a user and one to edit a user (fields, rights, the rights others hold on
//! them), and the actions on a user (reset the second factor, unlock, end sessions).
//! Each calls the domain function the API calls, so the page allows what the API does.

use std::collections::HashMap;

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{
    company_templates::{MemberForm, MemberLine, MemberPage, MembersPage, RightsLine},
    guard::{CompanyAdmin, FormPost, PageError},
    templates::show_time,
    visitor::Visitor,
};
use crate::{
    app::App,
    clock::{from_unix, to_unix},
    error::Error,
    http::extract::Client,
    i18n::Tr,
    mfa::{self, Method},
    users::{self, Member, Selection, UserChanges, UserRequest},
    values::{Right, UserId},
};

/// The notices the pages may come back with; anything else in the address is ignored.
const NOTICES: &[&str] =
    &["user-created", "user-saved", "rights-saved", "two-factor-reset", "unlocked", "sessions-ended"];

#[derive(Debug, Default, Deserialize)]
pub struct Outcome {
    done: Option<String>,
}

/// How many users a page of the list shows.
const PER_PAGE: usize = 50;

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    done: Option<String>,
    #[serde(default)]
    q: String,
    /// From 1.
    page: Option<usize>,
}

fn notice(tr: Tr, outcome: &Outcome) -> Option<String> {
    outcome.done.as_deref().filter(|d| NOTICES.contains(d)).map(|d| tr.t(&format!("company-{d}")))
}

fn line(tr: Tr, member: Member, me: UserId) -> MemberLine {
    let method = |m: Option<Method>| tr.t(&format!("security-method-{}", m.map_or("none", Method::as_str)));
    let has_second_factor =
        member.authenticator || member.two_factor.web.is_some() || member.two_factor.manager.is_some();
    MemberLine {
        id: member.user.id.0,
        username: member.user.username.to_string(),
        top_user: member.user.top_user,
        me: member.user.id == me,
        email: member.user.email.map(|e| e.to_string()).unwrap_or_default(),
        web: method(member.two_factor.web),
        manager: method(member.two_factor.manager),
        has_second_factor,
        locked: member.locked,
        last_sign_in: member
            .last_sign_in
            .map(|(at, result)| {
                format!("{} · {}", show_time(from_unix(at)), tr.t(&format!("result-{result}")))
            })
            .unwrap_or_default(),
        may_act_as: member.may_act_as,
    }
}

/// `GET /company/users`.
pub async fn list(
    State(app): State<App>,
    visitor: Visitor,
    session: CompanyAdmin,
    client: Client,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    let current = &session.0;
    let tr = Tr(current.language);
    let actor = current.actor(client.ip);
    let number = query.page.unwrap_or(1).max(1);
    let offset = (number - 1).saturating_mul(PER_PAGE);
    let selection = Selection { search: query.q.clone(), offset, limit: PER_PAGE };
    let (members, total) =
        users::members(&app.store, &actor, current.account.id, &selection, to_unix(app.now()))
            .await
            .map_err(|e| PageError::Domain(e, tr))?;
    let mut page = visitor.layout(tr, Some(current));
    page.notice = notice(tr, &Outcome { done: query.done });
    let shown = (selection.offset + 1, selection.offset + members.len());
    let q: String = url::form_urlencoded::byte_serialize(query.q.as_bytes()).collect();
    let link = |n: usize| format!("company/users?q={q}&page={n}");
    let range = [("from", shown.0.min(total).into()), ("to", shown.1.into()), ("total", total.into())];
    let list = MembersPage {
        page,
        account: current.account.name.clone(),
        users: members.into_iter().map(|m| line(tr, m, current.user.id)).collect(),
        q: query.q,
        range: tr.with("company-users-range", range),
        previous: (number > 1).then(|| link(number - 1)),
        next: (shown.1 < total).then(|| link(number + 1)),
    };
    Ok((visitor.jar, list).into_response())
}

/// The user form's fields as posted; the edit form also posts each field's value as the
/// page showed it (`*_was`), so that only what the administrator changed is written.
/// (No `Debug`: it holds a password.)
#[derive(Default, Deserialize)]
pub struct UserFields {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    email: String,
    email_verified: Option<String>,
    #[serde(default)]
    phone: String,
    phone_verified: Option<String>,
    can_change_password: Option<String>,
    can_send_sms: Option<String>,
    must_change_password: Option<String>,
    top_user: Option<String>,
    #[serde(default)]
    language: String,
    #[serde(flatten)]
    was: HashMap<String, String>,
}

impl UserFields {
    fn text(value: &str) -> Option<String> {
        Some(value.trim().to_owned()).filter(|v| !v.is_empty())
    }

    /// The password as typed: spaces in it are part of it.
    fn password(&self) -> Option<crate::passwords::Password> {
        Some(self.password.clone()).filter(|p| !p.is_empty()).map(Into::into)
    }

    fn request(&self) -> UserRequest {
        UserRequest {
            username: self.username.trim().to_owned(),
            password: self.password(),
            email: Self::text(&self.email),
            email_verified: self.email_verified.is_some(),
            phone: Self::text(&self.phone),
            phone_verified: self.phone_verified.is_some(),
            can_change_password: self.can_change_password.is_some(),
            can_send_sms: self.can_send_sms.is_some(),
            must_change_password: Some(self.must_change_password.is_some()),
            language: Self::text(&self.language),
        }
    }

    /// What differs from what the page showed.
    fn changes(&self) -> UserChanges {
        let was = |name: &str| self.was.get(&format!("{name}_was")).map(String::as_str).unwrap_or_default();
        let text = |name: &str, now: &str| (now.trim() != was(name)).then(|| Self::text(now));
        let flag = |name: &str, now: &Option<String>| {
            (now.is_some() != (was(name) == "on")).then_some(now.is_some())
        };
        let (email, phone) = (text("email", &self.email), text("phone", &self.phone));
        // A new address is confirmed exactly when the box says so, ticked before or not.
        let vouched = |changed: bool, name: &str, now: &Option<String>| {
            if changed { Some(now.is_some()) } else { flag(name, now) }
        };
        UserChanges {
            email_verified: vouched(email.is_some(), "email_verified", &self.email_verified),
            phone_verified: vouched(phone.is_some(), "phone_verified", &self.phone_verified),
            email,
            phone,
            password: self.password(),
            can_change_password: flag("can_change_password", &self.can_change_password),
            can_send_sms: flag("can_send_sms", &self.can_send_sms),
            must_change_password: flag("must_change_password", &self.must_change_password),
            top_user: flag("top_user", &self.top_user),
            language: (self.language != was("language")).then(|| self.language.clone()),
        }
    }

    fn form(&self) -> MemberForm {
        MemberForm {
            username: self.username.clone(),
            email: self.email.clone(),
            email_verified: self.email_verified.is_some(),
            phone: self.phone.clone(),
            phone_verified: self.phone_verified.is_some(),
            can_change_password: self.can_change_password.is_some(),
            can_send_sms: self.can_send_sms.is_some(),
            must_change_password: self.must_change_password.is_some(),
            top_user: self.top_user.is_some(),
            language: self.language.clone(),
        }
    }
}

/// What the form says of a refused user, in words.
fn refusal(tr: Tr, error: &Error) -> Option<String> {
    let key = match error {
        Error::Conflict { .. } => "company-error-username-taken",
        Error::Invalid { field: "username", .. } => "company-error-username",
        Error::Invalid { field: "email", .. } => "security-error-invalid-email",
        Error::Invalid { field: "phone", .. } => "security-error-invalid-phone",
        Error::Invalid { field: "password", message } if message.starts_with("use at ") => {
            "error-password-length"
        }
        Error::Invalid { field: "password", message } if message.contains("required") => {
            "company-error-password-needed"
        }
        Error::Invalid { field: "password", .. } => "error-password-weak",
        _ => return None,
    };
    Some(tr.t(key))
}

/// `GET /company/users/new`.
pub async fn new(visitor: Visitor, session: CompanyAdmin) -> Response {
    let current = &session.0;
    let page = visitor.layout(Tr(current.language), Some(current));
    let form = MemberForm {
        can_change_password: true,
        must_change_password: true,
        ..MemberForm::new(current.language.code())
    };
    let new =
        MemberPage { page, id: None, form, was: MemberForm::default(), holders: Vec::new(), member: None };
    (visitor.jar, new).into_response()
}

/// `POST /company/users`: a new user, made by the administrator (who will manage them).
pub async fn create(
    State(app): State<App>,
    visitor: Visitor,
    session: CompanyAdmin,
    client: Client,
    FormPost(fields): FormPost<UserFields>,
) -> Result<Response, PageError> {
    let current = &session.0;
    let tr = Tr(current.language);
    let actor = current.actor(client.ip);
    let request = fields.request();
    let (account, now) = (current.account.id, to_unix(app.now()));
    match users::create(&app.store, &app.hasher, &actor, account, Some(current.user.id), &request, now).await
    {
        Ok(user) => {
            Ok(Redirect::to(&format!("/company/users/{}?done=user-created", user.id.0)).into_response())
        }
        Err(e) => match refusal(tr, &e) {
            Some(message) => {
                let mut page = visitor.layout(tr, Some(current));
                page.error = Some(message);
                let (form, was) = (fields.form(), MemberForm::default());
                let edit = MemberPage { page, id: None, form, was, holders: Vec::new(), member: None };
                Ok((StatusCode::UNPROCESSABLE_ENTITY, visitor.jar, edit).into_response())
            }
            None => Err(PageError::Domain(e, tr)),
        },
    }
}

/// `GET /company/users/{id}`.
pub async fn edit(
    State(app): State<App>,
    visitor: Visitor,
    session: CompanyAdmin,
    client: Client,
    Path(id): Path<i64>,
    Query(outcome): Query<Outcome>,
) -> Result<Response, PageError> {
    let current = &session.0;
    let tr = Tr(current.language);
    let mut page = visitor.layout(tr, Some(current));
    page.notice = notice(tr, &outcome);
    let edit = member_page(&app, current, &client, UserId(id), page).await?;
    Ok((visitor.jar, edit).into_response())
}

async fn member_page(
    app: &App,
    current: &crate::sessions::Current,
    client: &Client,
    id: UserId,
    page: super::templates::Layout,
) -> Result<MemberPage, PageError> {
    let tr = Tr(current.language);
    let failed = |e| PageError::Domain(e, tr);
    let actor = current.actor(client.ip);
    let member = users::member(&app.store, &actor, id, to_unix(app.now())).await.map_err(failed)?;
    let holders = users::holders(&app.store, &actor, id).await.map_err(failed)?;
    let user = &member.user;
    let form = MemberForm {
        username: user.username.to_string(),
        email: user.email.as_ref().map(ToString::to_string).unwrap_or_default(),
        email_verified: user.email_verified,
        phone: user.phone.as_ref().map(ToString::to_string).unwrap_or_default(),
        phone_verified: user.phone_verified,
        can_change_password: user.can_change_password,
        can_send_sms: user.can_send_sms,
        must_change_password: user.must_change_password,
        top_user: user.top_user,
        language: user.language.code().to_owned(),
    };
    let holders = holders
        .into_iter()
        .map(|h| RightsLine { id: h.id.0, username: h.username, act_as: h.act_as, manage: h.manage })
        .collect();
    let member = Some(line(tr, member, current.user.id));
    Ok(MemberPage { page, id: Some(id.0), was: form.clone(), form, holders, member })
}

/// `POST /company/users/{id}`: the fields the administrator changed.
pub async fn save(
    State(app): State<App>,
    visitor: Visitor,
    session: CompanyAdmin,
    client: Client,
    Path(id): Path<i64>,
    FormPost(fields): FormPost<UserFields>,
) -> Result<Response, PageError> {
    let current = &session.0;
    let tr = Tr(current.language);
    let actor = current.actor(client.ip);
    let changes = fields.changes();
    match users::update(&app.store, &app.hasher, &actor, UserId(id), &changes, to_unix(app.now())).await {
        Ok(_) => Ok(Redirect::to(&format!("/company/users/{id}?done=user-saved")).into_response()),
        Err(e) => match refusal(tr, &e) {
            Some(message) => {
                let mut page = visitor.layout(tr, Some(current));
                page.error = Some(message);
                // The fields as typed, to correct; `was` stays what is stored, so the
                // next save writes every change this one did not.
                let mut edit = member_page(&app, current, &client, UserId(id), page).await?;
                edit.form = MemberForm { username: edit.form.username.clone(), ..fields.form() };
                Ok((StatusCode::UNPROCESSABLE_ENTITY, visitor.jar, edit).into_response())
            }
            None => Err(PageError::Domain(e, tr)),
        },
    }
}

/// `POST /company/users/{id}/rights`: the rights each user holds on this one, as ticked
/// (`act_as_<holder>`, `manage_<holder>`); only the boxes the administrator changed are
/// written (`was_<holder>` is what the page showed).
pub async fn save_rights(
    State(app): State<App>,
    session: CompanyAdmin,
    client: Client,
    Path(id): Path<i64>,
    FormPost(fields): FormPost<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let current = &session.0;
    let failed = |e| PageError::Domain(e, Tr(current.language));
    let (actor, target, now) = (current.actor(client.ip), UserId(id), to_unix(app.now()));
    // The holders as the domain knows them (which also proves the administrator manages
    // the target); the form speaks only for the holders its page showed.
    for holder in users::holders(&app.store, &actor, target).await.map_err(failed)? {
        let Some(was) = fields.get(&format!("was_{}", holder.id.0)) else {
            continue;
        };
        // A box the administrator changed decides its right; an untouched one keeps the
        // right as stored now, whatever the page showed (another administrator may have
        // changed it since).
        let shown: Vec<&str> = was.split(',').collect();
        let (mut changed, mut rights) = (false, Vec::new());
        for (right, name, held) in
            [(Right::ActAs, "act_as", holder.act_as), (Right::Manage, "manage", holder.manage)]
        {
            let ticked = fields.contains_key(&format!("{name}_{}", holder.id.0));
            let touched = ticked != shown.contains(&name);
            changed |= touched && ticked != held;
            if (touched && ticked) || (!touched && held) {
                rights.push(right);
            }
        }
        if changed {
            users::set_grants(&app.store, &actor, holder.id, target, &rights, now).await.map_err(failed)?;
        }
    }
    Ok(Redirect::to(&format!("/company/users/{id}?done=rights-saved#rights")).into_response())
}

/// `POST /company/users/{id}/{action}`: reset the second factor, unlock, end sessions.
pub async fn act(
    State(app): State<App>,
    session: CompanyAdmin,
    client: Client,
    Path((id, action)): Path<(i64, String)>,
    _: FormPost,
) -> Result<Response, PageError> {
    let current = &session.0;
    let (actor, target, now) = (current.actor(client.ip), UserId(id), to_unix(app.now()));
    let done = match action.as_str() {
        "reset-two-factor" => mfa::reset(&app.store, &actor, target, now).await.map(|_| "two-factor-reset"),
        "unlock" => users::unlock(&app.store, &actor, target, now).await.map(|_| "unlocked"),
        "end-sessions" => {
            users::end_sessions(&app.store, &actor, target, now).await.map(|_| "sessions-ended")
        }
        _ => Err(Error::NotFound),
    }
    .map_err(|e| PageError::Domain(e, Tr(current.language)))?;
    Ok(Redirect::to(&format!("/company/users?done={done}")).into_response())
}
