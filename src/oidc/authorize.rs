//! The authorization endpoint's decision: whether a client's request may send the browser
//! back to it at all, whether the person must sign in (again) or consent first, and
//! otherwise a single-use code, a minute long, bound to the Portcullis session that signed
//! them in. Signing in itself is the ordinary sign-in with everything it enforces.
//!
//! Until the client and its redirect URI are known to match, nothing is sent to the URI:
//! the person sees the reason on a page (no open redirect). Anything wrong after that goes
//! back to the client as an OAuth error.

use url::Url;

use super::clients::{self, Client};
use crate::{
    error::{Error, Result},
    sessions::Current,
    store::{NewCode, Store},
    tokens::Token,
};

/// How long a code may wait for its exchange.
pub const CODE_LIFETIME: i64 = 60;

/// The scopes this provider knows; others asked for are left out of the grant.
const SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// An authorization request, as its query string or form gave it.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    /// Set by this server when it sends the person to sign in again (`prompt=login`,
    /// `max_age`): a sign-in from before this moment does not count.
    pub login_after: Option<i64>,
}

impl Request {
    /// The request as a query string again.
    pub fn query(&self) -> String {
        let login_after = self.login_after.map(|at| at.to_string());
        let fields = [
            ("client_id", &self.client_id),
            ("redirect_uri", &self.redirect_uri),
            ("response_type", &self.response_type),
            ("scope", &self.scope),
            ("state", &self.state),
            ("nonce", &self.nonce),
            ("code_challenge", &self.code_challenge),
            ("code_challenge_method", &self.code_challenge_method),
            ("prompt", &self.prompt),
            ("max_age", &self.max_age),
            ("login_after", &login_after),
        ];
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in fields {
            if let Some(value) = value {
                query.append_pair(name, value);
            }
        }
        query.finish()
    }
}

/// What the browser is to see next.
#[derive(Debug)]
pub enum Answer {
    /// The request names no client or redirect URI that match: say so on a page.
    Refuse(&'static str),
    /// Back to the client, with a code or an error.
    Redirect(String),
    /// The person must sign in first (or finish a duty); `fresh`: even if signed in
    /// already, and then no sign-in from before `login_after` counts.
    SignIn { fresh: bool, login_after: Option<i64> },
    /// The person must consent to give the client of another company what it asks for.
    Consent { client: Client, scope: String },
}

/// Decides on `request` for the browser's session (if any).
pub async fn decide(
    store: &Store,
    issuer: &str,
    request: &Request,
    session: Option<&Current>,
    now: i64,
) -> Result<Answer> {
    // Everything is read first: a request refused or sent to sign in writes nothing.
    let mut tx = store.read().await?;
    let Some(client) = clients::find(&mut tx, request.client_id.as_deref().unwrap_or_default()).await? else {
        return Ok(Answer::Refuse("error-oidc-unknown-client"));
    };
    let Some(redirect_uri) = request.redirect_uri.clone().filter(|uri| client.redirect_uris.contains(uri))
    else {
        return Ok(Answer::Refuse("error-oidc-redirect-uri"));
    };
    let back = Back { redirect_uri: &redirect_uri, state: request.state.as_deref(), issuer };
    if request.response_type.as_deref() != Some("code") {
        return Ok(back.error("unsupported_response_type", "only the code flow is offered"));
    }
    let scope = granted_scope(request.scope.as_deref().unwrap_or_default());
    if !scope.split(' ').any(|s| s == "openid") {
        return Ok(back.error("invalid_scope", "the openid scope is required"));
    }
    match (request.code_challenge.as_deref(), request.code_challenge_method.as_deref()) {
        (Some(challenge), Some("S256")) if challenge.len() == 43 => {}
        (Some(_), _) => return Ok(back.error("invalid_request", "use code_challenge_method=S256")),
        (None, _) if client.public => {
            return Ok(back.error("invalid_request", "a public client must use PKCE"));
        }
        (None, _) => {}
    }
    let max_age = match request.max_age.as_deref().map(str::parse::<i64>) {
        None => None,
        Some(Ok(age)) if age >= 0 => Some(age),
        Some(_) => return Ok(back.error("invalid_request", "max_age is a number of seconds")),
    };
    let prompts: Vec<&str> = request.prompt.as_deref().unwrap_or_default().split(' ').collect();
    let silent = prompts.contains(&"none");
    let Some(current) = session else {
        if silent {
            return Ok(back.error("login_required", "nobody is signed in"));
        }
        return Ok(Answer::SignIn { fresh: false, login_after: None });
    };
    let signed_in_at = tx.sign_in_facts(current.id).await?.map_or(0, |f| f.auth_time);
    let too_old = max_age.is_some_and(|age| now - signed_in_at > age)
        || request.login_after.is_some_and(|after| signed_in_at < after);
    if prompts.contains(&"login") || too_old {
        if silent {
            return Ok(back.error("login_required", "the person must sign in again"));
        }
        // Once signed in again, the request comes back without `prompt=login` but not
        // satisfied by any sign-in from before now.
        return Ok(Answer::SignIn { fresh: true, login_after: Some(now) });
    }
    if !current.pending.is_empty() {
        if silent {
            return Ok(back.error("interaction_required", "the person has steps to finish first"));
        }
        // The sign-in stands; once the duty is done the request comes back as it was.
        return Ok(Answer::SignIn { fresh: false, login_after: None });
    }
    if !tx.account_lineage(current.account.id).await?.contains(&client.account_id) {
        return Ok(back.error("access_denied", "this app is not offered to your company"));
    }
    if current.account.id != client.account_id {
        let given = tx.consent(current.user.id, &client.client_id).await?;
        let covers = given.is_some_and(|given| scope.split(' ').all(|s| given.split(' ').any(|g| g == s)));
        if !covers {
            if silent {
                return Ok(back.error("consent_required", "the person has not consented yet"));
            }
            return Ok(Answer::Consent { client, scope });
        }
    }
    let code = Token::generate();
    let new = NewCode {
        client_id: &client.client_id,
        session_id: current.id,
        redirect_uri: &redirect_uri,
        scope: &scope,
        nonce: request.nonce.as_deref(),
        code_challenge: request.code_challenge.as_deref(),
    };
    drop(tx);
    let mut tx = store.write().await?;
    tx.insert_code(&code.hash().0, &new, now, now + CODE_LIFETIME).await?;
    tx.commit().await?;
    Ok(back.with(&[("code", code.expose())]))
}

/// The person consents to give the client what `request` asks for.
pub async fn consent(store: &Store, current: &Current, request: &Request, now: i64) -> Result<()> {
    let mut tx = store.write().await?;
    let client = clients::find(&mut tx, request.client_id.as_deref().unwrap_or_default()).await?;
    let client = client.ok_or(Error::NotFound)?;
    if !tx.account_lineage(current.account.id).await?.contains(&client.account_id) {
        return Err(Error::Forbidden);
    }
    let scope = granted_scope(request.scope.as_deref().unwrap_or_default());
    tx.give_consent(current.user.id, &client.client_id, &scope, now).await?;
    tx.commit().await?;
    Ok(())
}

/// The person refused the client what it asked for.
pub async fn deny(store: &Store, issuer: &str, request: &Request) -> Result<Answer> {
    let mut tx = store.read().await?;
    let client = clients::find(&mut tx, request.client_id.as_deref().unwrap_or_default()).await?;
    let Some(redirect_uri) =
        request.redirect_uri.as_ref().filter(|uri| client.is_some_and(|c| c.redirect_uris.contains(uri)))
    else {
        return Err(Error::NotFound);
    };
    let back = Back { redirect_uri, state: request.state.as_deref(), issuer };
    Ok(back.error("access_denied", "the person did not consent"))
}

/// The known scopes of a request, in the order asked, each once.
fn granted_scope(asked: &str) -> String {
    let mut granted: Vec<&str> = Vec::new();
    for scope in asked.split(' ').filter(|s| SCOPES.contains(s)) {
        if !granted.contains(&scope) {
            granted.push(scope);
        }
    }
    granted.join(" ")
}

/// The way back to the client.
struct Back<'a> {
    redirect_uri: &'a str,
    state: Option<&'a str>,
    issuer: &'a str,
}

impl Back<'_> {
    /// The redirect URI with `params`, the request's `state` and the issuer (RFC 9207).
    fn with(&self, params: &[(&str, &str)]) -> Answer {
        let Ok(mut url) = Url::parse(self.redirect_uri) else {
            return Answer::Refuse("error-oidc-redirect-uri");
        };
        {
            let mut query = url.query_pairs_mut();
            for (name, value) in params {
                query.append_pair(name, value);
            }
            if let Some(state) = self.state {
                query.append_pair("state", state);
            }
            query.append_pair("iss", self.issuer);
        }
        Answer::Redirect(url.into())
    }

    fn error(&self, error: &str, description: &str) -> Answer {
        self.with(&[("error", error), ("error_description", description)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_repeated_scopes_are_left_out_of_the_grant() {
        assert_eq!(granted_scope("openid email admin openid profile"), "openid email profile");
        assert_eq!(granted_scope(""), "");
    }

    #[test]
    fn the_way_back_keeps_the_clients_own_query_and_adds_state_and_issuer() {
        let back =
            Back { redirect_uri: "https://app.example/cb?x=1", state: Some("s t"), issuer: "https://id" };
        let Answer::Redirect(to) = back.with(&[("code", "abc")]) else { panic!("a redirect") };
        assert_eq!(to, "https://app.example/cb?x=1&code=abc&state=s+t&iss=https%3A%2F%2Fid");
    }
}
