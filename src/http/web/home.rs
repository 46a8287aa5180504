//! The home page: a small dashboard of the person's own security (the second factor per
//! app, addresses, sessions, last sign-ins) and what needs their attention.

use axum::{
    extract::{Query, State},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{
    account::history_rows,
    guard::{PageError, PageSession, browser_session},
    login::quick_login,
    returns,
    templates::{Address, HomePage, Warning, show_time},
    visitor::Visitor,
};
use crate::{
    app::App,
    audit,
    clock::{from_unix, to_unix},
    http::extract::Client,
    i18n::Tr,
    mfa::{Method, backup},
    sessions,
    users::{self, SecuritySettings},
};

#[derive(Debug, Deserialize)]
pub struct HomeQuery {
    sid: Option<String>,
}

/// `/`: the home page, or quick login when the link carries `?sid=`.
pub async fn home(
    State(app): State<App>,
    visitor: Visitor,
    client: Client,
    Query(query): Query<HomeQuery>,
) -> Result<Response, PageError> {
    if let Some(sid) = query.sid {
        return quick_login(&app, visitor, &client, &sid).await;
    }
    let Some(current) =
        browser_session(&app, &visitor.jar).await.map_err(|e| PageError::Domain(e, Tr(visitor.lang)))?
    else {
        return Ok(Redirect::to("/login").into_response());
    };
    let current = PageSession::ready(current)?.0;
    let tr = Tr(current.language);
    let (visitor, back_to) = visitor.take_return();
    if let Some(target) = back_to.filter(|t| returns::allowed(&app, t)) {
        return Ok(returns::onward(visitor, tr, target));
    }
    let failed = |e| PageError::Domain(e, tr);
    let now = to_unix(app.now());
    let settings = users::security(&app.store, current.user.id).await.map_err(failed)?;
    let sessions = sessions::list(&app.store, &app.lifetimes, &current, now).await.map_err(failed)?.len();
    let (sign_ins, _) =
        audit::login_history(&app.store, current.signed_in_user(), None, 3).await.map_err(failed)?;
    let method = |m: Option<Method>| tr.t(&format!("security-method-{}", m.map_or("none", Method::as_str)));
    let home = HomePage {
        page: visitor.layout(tr, Some(&current)),
        username: current.user.username.clone(),
        account: current.account.name.clone(),
        web: method(settings.two_factor.web),
        manager: method(settings.two_factor.manager),
        email: Address::of(tr, settings.email.as_deref(), settings.email_verified),
        phone: Address::of(tr, settings.phone.as_deref(), settings.phone_verified),
        sessions,
        sign_ins: history_rows(tr, sign_ins),
        warnings: warnings(tr, &settings, now),
    };
    Ok((visitor.jar, home).into_response())
}

/// What needs the person's attention, most pressing first.
fn warnings(tr: Tr, settings: &SecuritySettings, now: i64) -> Vec<Warning> {
    let mut found = Vec::new();
    if let Some(at) = settings.account_blocked_from.filter(|at| *at > now) {
        let text = tr.t1("home-warning-blocking", "date", show_time(from_unix(at)));
        found.push(Warning { id: "warning-blocking", text, link: None });
    }
    if settings.authenticator && settings.backup_codes_left <= backup::FEW_LEFT {
        let text = tr.t1("security-backup-codes-running-out", "count", settings.backup_codes_left);
        found.push(Warning { id: "warning-backup-codes", text, link: Some("security#authenticator") });
    }
    let unconfirmed = [
        ("warning-email", &settings.email, settings.email_verified, "home-warning-email"),
        ("warning-phone", &settings.phone, settings.phone_verified, "home-warning-phone"),
    ];
    for (id, address, verified, key) in unconfirmed {
        if address.is_some() && !verified {
            found.push(Warning { id, text: tr.t(key), link: Some("security#addresses") });
        }
    }
    if settings.two_factor.web.is_none() && settings.two_factor.manager.is_none() {
        found.push(Warning {
            id: "warning-two-factor",
            text: tr.t("home-warning-two-factor"),
            link: Some("security#two-factor"),
        });
    }
    found
}
