//! The signed-in user's own pages: security (password, login history) and sessions.

use axum::{
    Form,
    extract::{Path, Query, State},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{
    PageError, PageSession, Visitor,
    login::CsrfForm,
    templates::{HistoryRow, SecurityPage, SessionLine, SessionsPage, show_time},
};
use crate::{app::App, audit, clock::to_unix, i18n::Tr, sessions};

#[derive(Debug, Deserialize)]
pub struct SecurityQuery {
    before: Option<i64>,
    changed: Option<String>,
}

pub async fn security(
    State(app): State<App>,
    visitor: Visitor,
    session: PageSession,
    Query(query): Query<SecurityQuery>,
) -> Result<Response, PageError> {
    session.require_no_duty()?;
    let current = &session.0;
    let tr = Tr(current.language);
    let failed = |e| PageError::Domain(e, tr);
    let me = current.signed_in_user();
    let user = app.store.read().await.map_err(|e| failed(e.into()))?.user_by_id(me).await.map_err(failed)?;
    let (entries, next) = audit::login_history(&app.store, me, query.before, 20).await.map_err(failed)?;
    let history = entries
        .into_iter()
        .map(|e| HistoryRow {
            time: show_time(e.time),
            result_text: tr.t(&format!("result-{}", e.result)),
            result: e.result,
            ip: e.ip.unwrap_or_default(),
            app: e.app,
            user_agent: e.user_agent,
        })
        .collect();
    let mut page = visitor.layout(tr, Some(current));
    if query.changed.is_some() {
        page.notice = Some(tr.t("password-changed"));
    }
    let can_change_password = user.is_some_and(|u| u.can_change_password) && current.impersonator.is_none();
    Ok((visitor.jar, SecurityPage { page, can_change_password, history, next }).into_response())
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
    session.require_no_duty()?;
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
            user_agent: s.user_agent,
            created_at: show_time(s.created_at),
            last_seen_at: show_time(s.last_seen_at),
            current: s.current,
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
    visitor: Visitor,
    session: PageSession,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    visitor.check_csrf(&app, &form.csrf)?;
    session.require_no_duty()?;
    let ended = sessions::end_others(&app.store, &session.0, to_unix(app.now()))
        .await
        .map_err(|e| PageError::Domain(e, Tr(session.0.language)))?;
    Ok(Redirect::to(&format!("/sessions?ended={ended}")).into_response())
}

pub async fn end_one(
    State(app): State<App>,
    visitor: Visitor,
    session: PageSession,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    visitor.check_csrf(&app, &form.csrf)?;
    session.require_no_duty()?;
    sessions::end_own(&app.store, &session.0, id, to_unix(app.now()))
        .await
        .map_err(|e| PageError::Domain(e, Tr(session.0.language)))?;
    Ok(Redirect::to("/sessions").into_response())
}
