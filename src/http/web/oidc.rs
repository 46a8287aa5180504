//! The OpenID Connect endpoints a browser visits: the authorization endpoint (which sends
//! the person through the ordinary sign-in and back), the consent page, and signing out at
//! an app's request (RP-initiated logout).

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    body::Bytes,
    extract::State,
    http::{Method, StatusCode, Uri},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{
    guard::{AnyPageSession, FormPost, PageError, PageSession, browser_session, error_page},
    returns,
    templates::Layout,
    visitor::Visitor,
};
use crate::{
    app::App,
    clock::to_unix,
    error::Error,
    http::{
        extract::Client as Peer,
        oauth::{Params, either_way},
    },
    i18n::Tr,
    oidc::{
        authorize::{self, Answer, Request},
        clients, grants,
    },
};

#[derive(Template, WebTemplate)]
#[template(path = "consent.html")]
struct ConsentPage {
    page: Layout,
    client: String,
    /// "<client>, an app of <company>, asks to sign you in."
    text: String,
    email: bool,
    /// The authorization request, to make again once the person has decided.
    request: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "sign_out.html")]
struct SignOutPage {
    page: Layout,
    client: Option<String>,
    request: String,
}

/// `GET|POST /oauth2/authorize`.
pub async fn authorize(
    State(app): State<App>,
    visitor: Visitor,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Result<Response, PageError> {
    let tr = Tr(visitor.lang);
    let request = match either_way(&method, &uri, &body) {
        Ok(params) => request_of(&params),
        Err(_) => return Ok(error_page(StatusCode::BAD_REQUEST, tr, "error-generic")),
    };
    let session = browser_session(&app, &visitor.jar).await.map_err(|e| PageError::Domain(e, tr))?;
    let now = to_unix(app.now());
    let answer = authorize::decide(&app.store, app.issuer(), &request, session.as_ref(), now)
        .await
        .map_err(|e| PageError::Domain(e, tr))?;
    Ok(match answer {
        Answer::Refuse(key) => error_page(StatusCode::BAD_REQUEST, tr, key),
        Answer::Redirect(to) => Redirect::to(&to).into_response(),
        Answer::SignIn { fresh, login_after } => {
            let back = format!(
                "/oauth2/authorize?{}",
                Request { prompt: None, login_after: login_after.or(request.login_after), ..request }.query()
            );
            let login = if fresh { "/login?fresh=1" } else { "/login" };
            (visitor.with_return(&back).jar, Redirect::to(login)).into_response()
        }
        Answer::Consent { client, scope } => {
            let tr = session.as_ref().map_or(tr, |s| Tr(s.language));
            let text = tr.with(
                "oidc-consent-text",
                [("client", client.name.clone().into()), ("company", client.account_name.into())],
            );
            let page = ConsentPage {
                page: visitor.layout(tr, session.as_ref()),
                client: client.name,
                text,
                email: scope.split(' ').any(|s| s == "email"),
                request: request.query(),
            };
            page.into_response()
        }
    })
}

/// The authorization request's parameters.
fn request_of(params: &Params) -> Request {
    let get = |name: &str| params.get(name).map(str::to_owned);
    Request {
        client_id: get("client_id"),
        redirect_uri: get("redirect_uri"),
        response_type: get("response_type"),
        scope: get("scope"),
        state: get("state"),
        nonce: get("nonce"),
        code_challenge: get("code_challenge"),
        code_challenge_method: get("code_challenge_method"),
        prompt: get("prompt"),
        max_age: get("max_age"),
        login_after: get("login_after").and_then(|v| v.parse().ok()),
    }
}

#[derive(Deserialize)]
pub struct DecisionForm {
    request: String,
    decision: String,
}

/// `POST /oauth2/consent`: the person allows the app, and the request is made again, or
/// refuses it, and the app is told so.
pub async fn consent(
    State(app): State<App>,
    visitor: Visitor,
    PageSession(current): PageSession,
    FormPost(form): FormPost<DecisionForm>,
) -> Result<Response, PageError> {
    let tr = Tr(current.language);
    let request = Params::parse(form.request.as_bytes()).map(|p| request_of(&p)).unwrap_or_default();
    let now = to_unix(app.now());
    let target = if form.decision == "allow" {
        authorize::consent(&app.store, &current, &request, now)
            .await
            .map_err(|e| PageError::Domain(e, tr))?;
        format!("/oauth2/authorize?{}", request.query())
    } else {
        match authorize::deny(&app.store, app.issuer(), &request)
            .await
            .map_err(|e| PageError::Domain(e, tr))?
        {
            Answer::Redirect(to) => to,
            _ => return Err(PageError::Domain(Error::NotFound, tr)),
        }
    };
    Ok(returns::onward(visitor, tr, target))
}

/// `GET|POST /oauth2/logout`: an app asks to sign the person out. With an ID token of
/// this very session (`id_token_hint`) the session ends at once; otherwise the person is
/// asked, so that no page elsewhere can sign anyone out. Either way they go back to the
/// app only at an address it registered for it.
pub async fn logout(
    State(app): State<App>,
    visitor: Visitor,
    peer: Peer,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Result<Response, PageError> {
    let tr = Tr(visitor.lang);
    let Ok(params) = either_way(&method, &uri, &body) else {
        return Ok(error_page(StatusCode::BAD_REQUEST, tr, "error-generic"));
    };
    let now = to_unix(app.now());
    let failed = |e| PageError::Domain(e, tr);
    let hint = match params.get("id_token_hint") {
        Some(token) => grants::hinted(app.provider(), token, now).await.map_err(failed)?,
        None => None,
    };
    let client_id = hint
        .as_ref()
        .and_then(|h| h["aud"].as_str().map(str::to_owned))
        .or(params.get("client_id").map(str::to_owned));
    let Ok(leaving) = leaving_to(&app, client_id.as_deref(), &params).await else {
        return Ok(error_page(StatusCode::BAD_REQUEST, tr, "error-oidc-redirect-uri"));
    };
    let Some(current) = browser_session(&app, &visitor.jar).await.map_err(failed)? else {
        return Ok(signed_out(visitor, tr, leaving.target, false));
    };
    let of_this_session = hint.as_ref().is_some_and(|h| h["sid"].as_str() == Some(&current.id.to_string()));
    if !of_this_session {
        let page = SignOutPage {
            page: visitor.layout(Tr(current.language), Some(&current)),
            client: leaving.client.as_ref().map(|c| c.name.clone()),
            request: resumed(client_id.as_deref(), &params),
        };
        return Ok(page.into_response());
    }
    grants::end_session(&app.store, &current, peer.ip, leaving.client.as_ref(), now).await.map_err(failed)?;
    Ok(signed_out(visitor.without_session(), tr, leaving.target, false))
}

/// What the sign-out page posts back: the app and where to return to, never the hint.
fn resumed(client_id: Option<&str>, params: &Params) -> String {
    let mut kept = url::form_urlencoded::Serializer::new(String::new());
    let back_to = params.get("post_logout_redirect_uri");
    for (name, value) in
        [("client_id", client_id), ("post_logout_redirect_uri", back_to), ("state", params.get("state"))]
    {
        if let Some(value) = value {
            kept.append_pair(name, value);
        }
    }
    kept.finish()
}

#[derive(Deserialize)]
pub struct SignOutForm {
    request: String,
}

/// `POST /oauth2/logout/confirm`: the person agreed to sign out.
pub async fn confirm_logout(
    State(app): State<App>,
    visitor: Visitor,
    peer: Peer,
    AnyPageSession(current): AnyPageSession,
    FormPost(form): FormPost<SignOutForm>,
) -> Result<Response, PageError> {
    let tr = Tr(current.language);
    let params = Params::parse(form.request.as_bytes()).unwrap_or_default();
    let leaving = leaving_to(&app, params.get("client_id"), &params).await.unwrap_or_default();
    let now = to_unix(app.now());
    grants::end_session(&app.store, &current, peer.ip, leaving.client.as_ref(), now)
        .await
        .map_err(|e| PageError::Domain(e, tr))?;
    Ok(signed_out(visitor.without_session(), tr, leaving.target, true))
}

/// The app a sign-out is for, and where to send the person afterwards.
#[derive(Default)]
struct Leaving {
    client: Option<clients::Client>,
    target: Option<String>,
}

/// `post_logout_redirect_uri` (with `state`) if the app registered it; an address it did
/// not register is an error.
async fn leaving_to(app: &App, client_id: Option<&str>, params: &Params) -> Result<Leaving, Error> {
    let client = match client_id {
        Some(id) => {
            let mut tx = app.store.read().await?;
            clients::find(&mut tx, id).await?
        }
        None => None,
    };
    let Some(uri) = params.get("post_logout_redirect_uri") else {
        return Ok(Leaving { client, target: None });
    };
    if !client.as_ref().is_some_and(|c| c.post_logout_redirect_uris.iter().any(|u| u == uri)) {
        return Err(Error::Forbidden);
    }
    let mut url = url::Url::parse(uri).map_err(|_| Error::Forbidden)?;
    if let Some(state) = params.get("state") {
        url.query_pairs_mut().append_pair("state", state);
    }
    Ok(Leaving { client, target: Some(url.into()) })
}

/// After signing out: back to the app, or the sign-in page saying so. After a form, the
/// way out is a page that moves on (see `returns`).
fn signed_out(visitor: Visitor, tr: Tr, target: Option<String>, after_form: bool) -> Response {
    match target {
        Some(target) if after_form => returns::onward(visitor, tr, target),
        Some(target) => (visitor.jar, Redirect::to(&target)).into_response(),
        None => (visitor.jar, Redirect::to("/login?signed_out=1")).into_response(),
    }
}
