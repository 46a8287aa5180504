//! Signing in to the platform's other apps with OpenID Connect, driven by a real relying
//! party (the `openidconnect` crate): discovery, the code flow with PKCE through the
//! ordinary sign-in pages, ID tokens it verifies, refresh, userinfo, introspection,
//! revocation and signing out, with the second factor, impersonation and blocking.

use std::sync::OnceLock;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
    core::{CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata},
};
use portcullis::{
    oidc::{Alg, Registration, clients},
    rights::Actor,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use time::Duration;

use crate::{
    agent::{Agent, field_of},
    db_test,
    helpers::*,
};

pub const CALLBACK: &str = "https://reports.example/callback";
const SIGNED_OUT: &str = "https://reports.example/bye";

type Rp = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The relying party's HTTP client: reqwest, as the `openidconnect` crate asks for it.
async fn rp_http(request: openidconnect::HttpRequest) -> Result<openidconnect::HttpResponse, reqwest::Error> {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    let client = CLIENT.get_or_init(|| {
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
    });
    let (parts, body) = request.into_parts();
    let response =
        client.request(parts.method, parts.uri.to_string()).headers(parts.headers).body(body).send().await?;
    let mut answer = openidconnect::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        answer = answer.header(name, value);
    }
    Ok(answer.body(response.bytes().await?.to_vec()).unwrap())
}

/// An app registered for `account`: its id and secret (`None` for a public client).
pub async fn register(
    app: &TestApp,
    account: portcullis::values::AccountId,
    public: bool,
    alg: Option<Alg>,
) -> (String, Option<String>) {
    let registration = Registration {
        name: "Reports".into(),
        redirect_uris: vec![CALLBACK.into()],
        post_logout_redirect_uris: vec![SIGNED_OUT.into()],
        public,
        id_token_alg: alg,
    };
    let registered = clients::register(&app.app.store, &Actor::operator(), account, registration, app.now())
        .await
        .unwrap();
    (registered.client.client_id, registered.client_secret)
}

/// The relying party, configured from the discovery document.
async fn relying_party(app: &TestApp, client_id: &str, secret: Option<&str>) -> Rp {
    let issuer = IssuerUrl::new(app.url("")).unwrap();
    let metadata = CoreProviderMetadata::discover_async(issuer, &rp_http).await.expect("discovery");
    CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client_id.to_owned()),
        secret.map(|s| ClientSecret::new(s.to_owned())),
    )
    .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).unwrap())
}

/// The usual world: the company `acme`, whose administrator has accepted the agreement,
/// and a confidential app of it, as its relying party sees it.
async fn acme_with_app(app: &TestApp) -> (Company, String, Option<String>, Rp) {
    let company = app.company("acme").await;
    app.signed_in("acme-admin").await;
    let (id, secret) = register(app, company.account, false, None).await;
    let rp = relying_party(app, &id, secret.as_deref()).await;
    (company, id, secret, rp)
}

/// One sign-in of the relying party, up to the code.
struct Attempt {
    url: String,
    state: CsrfToken,
    nonce: Nonce,
    verifier: openidconnect::PkceCodeVerifier,
}

fn attempt(rp: &Rp, extra: &[(&str, &str)]) -> Attempt {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = rp
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge);
    for (name, value) in extra {
        request = request.add_extra_param(*name, *value);
    }
    let (url, state, nonce) = request.url();
    Attempt { url: url.to_string(), state, nonce, verifier }
}

/// The code in the app's callback URL, after checking its `state` and issuer.
fn code_of(app: &TestApp, callback: &str, attempt: &Attempt) -> AuthorizationCode {
    assert!(callback.starts_with(CALLBACK), "{callback}");
    let url = url::Url::parse(callback).unwrap();
    let param = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    assert_eq!(param("state").as_deref(), Some(attempt.state.secret().as_str()));
    assert_eq!(param("iss"), Some(app.url("")));
    AuthorizationCode::new(param("code").unwrap_or_else(|| panic!("a code: {callback}")))
}

/// The claims of a JWT, unverified (after the relying party verified it).
fn payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// The tokens of a full sign-in: the person signs in through the pages, the relying
/// party exchanges the code and verifies the ID token.
async fn sign_in_to_the_app(
    app: &TestApp,
    rp: &Rp,
    username: &str,
) -> (openidconnect::core::CoreTokenResponse, Value) {
    signs_in(app, rp, &Agent::new(app), username).await
}

/// The same in a browser that keeps its cookies (its Portcullis session) for more.
async fn signs_in(
    app: &TestApp,
    rp: &Rp,
    agent: &Agent,
    username: &str,
) -> (openidconnect::core::CoreTokenResponse, Value) {
    let attempt = attempt(rp, &[]);
    let login = agent.visit(&attempt.url).await;
    let back = agent.sign_in(login, username, PASSWORD).await;
    exchange(app, rp, back.away(), attempt).await
}

async fn exchange(
    app: &TestApp,
    rp: &Rp,
    callback: &str,
    attempt: Attempt,
) -> (openidconnect::core::CoreTokenResponse, Value) {
    let code = code_of(app, callback, &attempt);
    let tokens = rp
        .exchange_code(code)
        .unwrap()
        .set_pkce_verifier(attempt.verifier)
        .request_async(&rp_http)
        .await
        .expect("tokens");
    let id_token = tokens.id_token().expect("an ID token");
    let verifier = rp.id_token_verifier().set_allowed_algs([
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        CoreJwsSigningAlgorithm::EdDsa,
    ]);
    id_token.claims(&verifier, &attempt.nonce).expect("an ID token the relying party verifies");
    let claims = payload(&id_token.to_string());
    (tokens, claims)
}

/// `POST` a form to an endpoint with HTTP Basic client credentials.
async fn post_form(
    app: &TestApp,
    path: &str,
    client: (&str, Option<&str>),
    form: &[(&str, &str)],
) -> reqwest::Response {
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
    let mut request =
        app.http.post(app.url(path)).header("content-type", "application/x-www-form-urlencoded").body(body);
    if let (id, Some(secret)) = client {
        request = request.basic_auth(id, Some(secret));
    }
    request.send().await.unwrap()
}

/// The token request of a code.
fn code_form<'a>(code: &'a str, verifier: &'a str) -> [(&'a str, &'a str); 4] {
    [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", CALLBACK),
        ("code_verifier", verifier),
    ]
}

async fn introspect(app: &TestApp, client: (&str, Option<&str>), token: &str) -> Value {
    json_of(post_form(app, "/oauth2/introspect", client, &[("token", token)]).await, StatusCode::OK).await
}

async fn userinfo(app: &TestApp, token: &str) -> reqwest::Response {
    app.get("/oauth2/userinfo", Some(token)).await
}

db_test! {
    async fn an_app_signs_a_person_in_through_the_pages_and_learns_who_they_are(app: TestApp) {
        let (company, id, secret, rp) = acme_with_app(&app).await;
        let (tokens, claims) = sign_in_to_the_app(&app, &rp, "acme-admin").await;
        assert_eq!(claims["sub"], company.admin.0.to_string());
        assert_eq!(claims["preferred_username"], "acme-admin");
        assert_eq!(claims["account"], json!({ "id": company.account.0, "name": "acme" }));
        assert_eq!(claims["amr"], json!(["pwd"]));
        assert_eq!(claims["auth_time"], app.now());
        assert_eq!(claims["aud"], id);
        assert!(claims.get("act").is_none());
        assert!(tokens.expires_in().is_some_and(|d| d.as_secs() == 300));

        let access = tokens.access_token();
        let info: openidconnect::core::CoreUserInfoClaims =
            rp.user_info(access.clone(), None).unwrap().request_async(&rp_http).await.expect("userinfo");
        assert_eq!(info.subject().as_str(), company.admin.0.to_string());
        let introspected = introspect(&app, (&id, secret.as_deref()), access.secret()).await;
        assert_eq!(introspected["active"], true);
        assert_eq!(introspected["username"], "acme-admin");
        assert_eq!(introspected["client_id"], id);
        assert_eq!(introspected["exp"], app.now() + 300);

        let trail = app.audit_trail(company.account).await;
        assert!(trail.iter().any(|(a, d)| a == "oidc.granted" && d["client_id"] == id), "{trail:?}");
    }
}

db_test! {
    async fn the_second_factor_is_passed_before_the_app_gets_its_code(app: TestApp) {
        let company = app.sms_driver(Some(10)).await;
        let (id, secret) = register(&app, company.account, false, None).await;
        let rp = relying_party(&app, &id, secret.as_deref()).await;
        let agent = Agent::new(&app);
        let attempt = attempt(&rp, &[]);
        let login = agent.visit(&attempt.url).await;
        let code_page = agent.sign_in(login, "driver", PASSWORD).await;
        let (path, _, body) = code_page.page();
        assert_eq!(path, "/login/code");
        let sms = app.sms.wait_for(1).await;
        let wrong = agent.submit(body, "/login/code", &[("code", wrong_code(&sms.code()))]).await;
        assert_eq!(wrong.page().0, "/login/code", "a wrong code keeps the person on the code page");
        let page = wrong.page().2.to_owned();
        let back = agent.submit(&page, "/login/code", &[("code", &sms.code())]).await;
        let (_, claims) = exchange(&app, &rp, back.away(), attempt).await;
        assert_eq!(claims["amr"], json!(["pwd", "sms", "mfa"]));
        assert_eq!(claims["preferred_username"], "driver");
    }
}

db_test! {
    async fn login_as_through_an_app_gives_the_target_as_subject_and_the_person_in_act(app: TestApp) {
        let company = app.company("acme").await;
        let driver = app.user(company.account, company.admin, "driver").await;
        app.admin_may_act_as(&company, &[driver]).await;
        app.signed_in("acme-admin").await;
        let (id, secret) = register(&app, company.account, false, None).await;
        let rp = relying_party(&app, &id, secret.as_deref()).await;
        let agent = Agent::new(&app);
        let attempt = attempt(&rp, &[]);
        let login = agent.visit(&attempt.url).await;
        let body = login.page().2.to_owned();
        let form = [("username", "acme-admin"), ("password", PASSWORD), ("login_as", "driver")];
        let back = agent.submit(&body, "/login", &form).await;
        let (tokens, claims) = exchange(&app, &rp, back.away(), attempt).await;
        assert_eq!(claims["sub"], driver.0.to_string());
        assert_eq!(claims["preferred_username"], "driver");
        assert_eq!(claims["act"]["sub"], company.admin.0.to_string());
        assert_eq!(claims["act"]["preferred_username"], "acme-admin");
        let introspected = introspect(&app, (&id, secret.as_deref()), tokens.access_token().secret()).await;
        assert_eq!(introspected["sub"], driver.0.to_string());
        assert_eq!(introspected["act"]["sub"], company.admin.0.to_string());
    }
}

db_test! {
    async fn a_refresh_token_works_once_and_a_reused_one_revokes_the_whole_grant(app: TestApp) {
        let (company, id, secret, rp) = acme_with_app(&app).await;
        let (tokens, _) = sign_in_to_the_app(&app, &rp, "acme-admin").await;
        let first = tokens.refresh_token().unwrap().clone();
        app.advance(Duration::minutes(4));
        let refreshed = rp.exchange_refresh_token(&first).unwrap().request_async(&rp_http).await.expect("refreshed");
        let second = refreshed.refresh_token().unwrap().clone();
        assert_ne!(second.secret(), first.secret());
        assert_eq!(payload(&refreshed.id_token().unwrap().to_string())["preferred_username"], "acme-admin");
        let access = refreshed.access_token().clone();
        assert_eq!(introspect(&app, (&id, secret.as_deref()), access.secret()).await["active"], true);

        // The first token again: someone else holds it, so everything of the grant stops.
        let replayed = rp.exchange_refresh_token(&first).unwrap().request_async(&rp_http).await;
        assert!(replayed.is_err());
        assert_eq!(introspect(&app, (&id, secret.as_deref()), access.secret()).await["active"], false);
        assert!(rp.exchange_refresh_token(&second).unwrap().request_async(&rp_http).await.is_err());
        assert_eq!(userinfo(&app, access.secret()).await.status(), StatusCode::UNAUTHORIZED);
        let trail = app.audit_trail(company.account).await;
        assert!(trail.iter().any(|(a, _)| a == "oidc.refreshed"));
        assert!(trail.iter().any(|(a, _)| a == "oidc.refresh_reused"));
    }
}

db_test! {
    async fn a_code_works_once_within_a_minute_and_a_replayed_one_revokes_its_tokens(app: TestApp) {
        let (company, id, secret, rp) = acme_with_app(&app).await;
        let agent = Agent::new(&app);

        let late = attempt(&rp, &[]);
        let login = agent.visit(&late.url).await;
        let back = agent.sign_in(login, "acme-admin", PASSWORD).await;
        let code = code_of(&app, back.away(), &late);
        app.advance(Duration::seconds(61));
        let expired = rp.exchange_code(code).unwrap().set_pkce_verifier(late.verifier).request_async(&rp_http).await;
        assert!(expired.is_err(), "a code a minute old is refused");

        let attempt = attempt(&rp, &[]);
        let callback = agent.visit(&attempt.url).await.away().to_owned();
        let code = code_of(&app, &callback, &attempt);
        let verifier = attempt.verifier.secret().clone();
        let (tokens, _) = exchange(&app, &rp, &callback, attempt).await;
        let again = post_form(&app, "/oauth2/token", (&id, secret.as_deref()), &code_form(code.secret(), &verifier)).await;
        assert_eq!(json_of(again, StatusCode::BAD_REQUEST).await["error"], "invalid_grant");
        let access = tokens.access_token().secret();
        assert_eq!(introspect(&app, (&id, secret.as_deref()), access).await["active"], false);
        let trail = app.audit_trail(company.account).await;
        assert!(trail.iter().any(|(a, _)| a == "oidc.code_reused"), "{trail:?}");
    }
}

db_test! {
    async fn the_token_endpoint_refuses_what_does_not_match_the_authorization(app: TestApp) {
        let company = app.company("acme").await;
        app.signed_in("acme-admin").await;
        let (id, secret) = register(&app, company.account, false, None).await;
        let (other, other_secret) = register(&app, company.account, false, None).await;
        let rp = relying_party(&app, &id, secret.as_deref()).await;
        let agent = Agent::new(&app);
        let attempt = attempt(&rp, &[]);
        let login = agent.visit(&attempt.url).await;
        let back = agent.sign_in(login, "acme-admin", PASSWORD).await;
        let code = code_of(&app, back.away(), &attempt);
        let verifier = attempt.verifier.secret().clone();
        let form = |verifier| code_form(code.secret(), verifier);
        let wrong_secret = post_form(&app, "/oauth2/token", (&id, Some("not-the-secret")), &form("x")).await;
        assert_eq!(wrong_secret.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(json_of(wrong_secret, StatusCode::UNAUTHORIZED).await["error"], "invalid_client");
        let other_client = post_form(&app, "/oauth2/token", (&other, other_secret.as_deref()), &form("x")).await;
        assert_eq!(json_of(other_client, StatusCode::BAD_REQUEST).await["error"], "invalid_grant");
        let wrong_verifier = "wrong-verifier-wrong-verifier-wrong-verifier-0123";
        let bad_pkce = post_form(&app, "/oauth2/token", (&id, secret.as_deref()), &form(wrong_verifier)).await;
        assert_eq!(json_of(bad_pkce, StatusCode::BAD_REQUEST).await["error"], "invalid_grant");
        let trail = app.audit_trail(company.account).await;
        let refusals: Vec<&Value> = trail.iter().filter(|(a, _)| a == "oidc.refused").map(|(_, d)| d).collect();
        assert_eq!(refusals.len(), 2, "{trail:?}");
        assert!(refusals.iter().any(|d| d["reason"] == "pkce") && refusals.iter().any(|d| d["reason"] == "other_client"));
        // None of these used the code up.
        let good = post_form(&app, "/oauth2/token", (&id, secret.as_deref()), &form(&verifier)).await;
        assert!(json_of(good, StatusCode::OK).await["id_token"].is_string());
        let unsupported = post_form(&app, "/oauth2/token", (&id, secret.as_deref()), &[("grant_type", "password")]).await;
        assert_eq!(json_of(unsupported, StatusCode::BAD_REQUEST).await["error"], "unsupported_grant_type");
        let twice = app.http.post(app.url("/oauth2/token")).header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=refresh_token&grant_type=refresh_token").basic_auth(&id, secret.as_deref()).send().await.unwrap();
        assert_eq!(json_of(twice, StatusCode::BAD_REQUEST).await["error"], "invalid_request");
    }
}

db_test! {
    async fn the_authorization_endpoint_never_sends_anyone_to_an_address_the_app_did_not_register(app: TestApp) {
        let company = app.company("acme").await;
        app.signed_in("acme-admin").await;
        let (id, _) = register(&app, company.account, true, None).await;
        let agent = Agent::new(&app);
        let query = |client: &str, redirect: &str, extra: &str| {
            format!("/oauth2/authorize?response_type=code&scope=openid&client_id={client}&redirect_uri={}&state=s{extra}",
                url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>())
        };
        let unknown = agent.visit(&query("nobody", CALLBACK, "")).await;
        assert_eq!(unknown.page().1, StatusCode::BAD_REQUEST);
        assert!(unknown.page().2.contains("This app is not known here"));
        let elsewhere = agent.visit(&query(&id, "https://evil.example/cb", "")).await;
        assert_eq!(elsewhere.page().1, StatusCode::BAD_REQUEST);
        assert!(elsewhere.page().2.contains("did not register"));
        // Wrong only after the client and address are known: told to the app.
        let no_pkce = agent.visit(&query(&id, CALLBACK, "")).await;
        assert!(no_pkce.away().contains("error=invalid_request") && no_pkce.away().contains("state=s"));
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        let silent = agent.visit(&query(&id, CALLBACK, &format!("&code_challenge={challenge}&code_challenge_method=S256&prompt=none"))).await;
        assert!(silent.away().contains("error=login_required"), "{silent:?}");
        let plain = agent.visit(&query(&id, CALLBACK, &format!("&code_challenge={challenge}&code_challenge_method=plain"))).await;
        assert!(plain.away().contains("error=invalid_request"));
        let no_openid = agent.visit(&query(&id, CALLBACK, "").replace("scope=openid", "scope=email")).await;
        assert!(no_openid.away().contains("error=invalid_scope"));
    }
}

db_test! {
    async fn a_public_client_signs_in_with_pkce_alone(app: TestApp) {
        let company = app.company("acme").await;
        app.signed_in("acme-admin").await;
        let (id, secret) = register(&app, company.account, true, None).await;
        assert!(secret.is_none());
        let rp = relying_party(&app, &id, None).await;
        let (tokens, claims) = sign_in_to_the_app(&app, &rp, "acme-admin").await;
        assert_eq!(claims["aud"], id);
        // A public client cannot introspect.
        let refused = post_form(&app, "/oauth2/introspect", (&id, None), &[("token", tokens.access_token().secret()), ("client_id", &id)]).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        // But it may revoke its own tokens.
        let revoked = post_form(&app, "/oauth2/revoke", (&id, None), &[("token", tokens.refresh_token().unwrap().secret()), ("client_id", &id)]).await;
        assert_eq!(revoked.status(), StatusCode::OK);
        assert_eq!(userinfo(&app, tokens.access_token().secret()).await.status(), StatusCode::UNAUTHORIZED);
    }
}

db_test! {
    async fn revoking_signing_out_and_blocking_stop_an_apps_tokens_at_once(app: TestApp) {
        let company = app.company("acme").await;
        app.signed_in("acme-admin").await;
        let (id, secret) = register(&app, company.account, false, None).await;
        let client = (id.as_str(), secret.as_deref());
        let rp = relying_party(&app, &id, secret.as_deref()).await;

        let (tokens, _) = sign_in_to_the_app(&app, &rp, "acme-admin").await;
        let revoked = post_form(&app, "/oauth2/revoke", client, &[("token", tokens.access_token().secret())]).await;
        assert_eq!(revoked.status(), StatusCode::OK);
        assert_eq!(introspect(&app, client, tokens.access_token().secret()).await["active"], false);
        assert!(rp.exchange_refresh_token(tokens.refresh_token().unwrap()).unwrap().request_async(&rp_http).await.is_err());
        let unknown = post_form(&app, "/oauth2/revoke", client, &[("token", "never-issued")]).await;
        assert_eq!(unknown.status(), StatusCode::OK);

        // Signing out of Portcullis ends every app's grant of that session.
        let agent = Agent::new(&app);
        let (tokens, _) = signs_in(&app, &rp, &agent, "acme-admin").await;
        let home = agent.visit("/").await;
        agent.submit(home.page().2, "/logout", &[]).await;
        assert_eq!(introspect(&app, client, tokens.access_token().secret()).await["active"], false);
        assert_eq!(userinfo(&app, tokens.access_token().secret()).await.status(), StatusCode::UNAUTHORIZED);

        // A blocked account: refused at once, refresh too.
        let (tokens, _) = sign_in_to_the_app(&app, &rp, "acme-admin").await;
        app.raw_sql(&format!("UPDATE accounts SET blocked_from = {} WHERE id = {}", app.now() - 1, company.account.0)).await;
        assert_eq!(introspect(&app, client, tokens.access_token().secret()).await["active"], false);
        assert!(rp.exchange_refresh_token(tokens.refresh_token().unwrap()).unwrap().request_async(&rp_http).await.is_err());
        let trail = app.audit_trail(company.account).await;
        assert!(trail.iter().any(|(a, _)| a == "oidc.revoked"));
    }
}

db_test! {
    async fn an_app_signs_the_person_out_of_portcullis_and_gets_them_back(app: TestApp) {
        let (company, id, secret, rp) = acme_with_app(&app).await;
        let agent = Agent::new(&app);
        let (tokens, _) = signs_in(&app, &rp, &agent, "acme-admin").await;
        let hint = tokens.id_token().unwrap().to_string();
        let bye = url::form_urlencoded::byte_serialize(SIGNED_OUT.as_bytes()).collect::<String>();

        // Without a hint of this session, the person is asked.
        let asked = agent.visit(&format!("/oauth2/logout?client_id={id}&post_logout_redirect_uri={bye}&state=x")).await;
        let (path, _, body) = asked.page();
        assert_eq!(path, "/oauth2/logout");
        assert!(body.contains("Reports asks to sign you out"));
        let page = body.to_owned();
        // An address the app did not register is refused outright.
        let evil = agent.visit(&format!("/oauth2/logout?client_id={id}&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F")).await;
        assert_eq!(evil.page().1, StatusCode::BAD_REQUEST);
        assert_eq!(introspect(&app, (&id, secret.as_deref()), tokens.access_token().secret()).await["active"], true);
        let left = agent.submit(&page, "/oauth2/logout/confirm", &[("request", &field_of(&page, "request"))]).await;
        assert_eq!(left.away(), format!("{SIGNED_OUT}?state=x"));
        assert_eq!(introspect(&app, (&id, secret.as_deref()), tokens.access_token().secret()).await["active"], false);
        assert_eq!(agent.visit("/").await.page().0, "/login");

        // With the ID token as hint, at once.
        let (tokens, _) = signs_in(&app, &rp, &agent, "acme-admin").await;
        let hint2 = tokens.id_token().unwrap().to_string();
        assert_ne!(hint, hint2);
        let left = agent.visit(&format!("/oauth2/logout?id_token_hint={hint2}&post_logout_redirect_uri={bye}")).await;
        assert_eq!(left.away(), SIGNED_OUT);
        assert_eq!(agent.visit("/").await.page().0, "/login");
        let trail = app.audit_trail(company.account).await;
        assert_eq!(trail.iter().filter(|(a, _)| a == "oidc.signed_out").count(), 2);
    }
}

db_test! {
    async fn prompt_login_and_max_age_make_the_person_sign_in_again(app: TestApp) {
        let (_, _, _, rp) = acme_with_app(&app).await;
        let agent = Agent::new(&app);
        let first = attempt(&rp, &[]);
        let login = agent.visit(&first.url).await;
        let back = agent.sign_in(login, "acme-admin", PASSWORD).await;
        let (_, claims) = exchange(&app, &rp, back.away(), first).await;
        let signed_in_at = claims["auth_time"].as_i64().unwrap();

        app.advance(Duration::minutes(2));
        let quiet = attempt(&rp, &[]);
        let back = agent.visit(&quiet.url).await;
        let (_, claims) = exchange(&app, &rp, back.away(), quiet).await;
        assert_eq!(claims["auth_time"], signed_in_at, "signed in already: straight back");

        let old = attempt(&rp, &[("max_age", "60")]);
        let login = agent.visit(&old.url).await;
        assert_eq!(login.page().0, "/login", "a sign-in two minutes old is too old for max_age=60");
        let back = agent.sign_in(login, "acme-admin", PASSWORD).await;
        let (_, claims) = exchange(&app, &rp, back.away(), old).await;
        assert_eq!(claims["auth_time"], app.now());

        app.advance(Duration::seconds(5));
        let again = attempt(&rp, &[("prompt", "login")]);
        let login = agent.visit(&again.url).await;
        assert_eq!(login.page().0, "/login");
        let back = agent.sign_in(login, "acme-admin", PASSWORD).await;
        let (_, claims) = exchange(&app, &rp, back.away(), again).await;
        assert_eq!(claims["auth_time"], app.now());
    }
}

db_test! {
    async fn a_person_signed_in_with_a_duty_pending_does_it_and_is_back_in_the_app_without_signing_in_again(app: TestApp) {
        let company = app.company("acme").await;
        let (id, secret) = register(&app, company.account, false, None).await;
        let rp = relying_party(&app, &id, secret.as_deref()).await;
        let agent = Agent::new(&app);
        let login = agent.visit("/login").await;
        assert_eq!(agent.sign_in(login, "acme-admin", PASSWORD).await.page().0, "/dpa");
        app.advance(Duration::minutes(1));
        let attempt = attempt(&rp, &[]);
        let dpa = agent.visit(&attempt.url).await;
        let (path, _, body) = dpa.page();
        assert_eq!(path, "/dpa", "the duty first, no new sign-in");
        let page = body.to_owned();
        let back = agent.submit(&page, "/dpa", &[]).await;
        let (_, claims) = exchange(&app, &rp, back.away(), attempt).await;
        assert_eq!(claims["auth_time"], app.now() - 60, "the sign-in of a minute ago stands");
    }
}

db_test! {
    async fn duties_come_first_and_then_the_person_is_back_in_the_app(app: TestApp) {
        let company = app.company("acme").await;
        let (id, secret) = register(&app, company.account, false, None).await;
        let rp = relying_party(&app, &id, secret.as_deref()).await;
        let agent = Agent::new(&app);
        let attempt = attempt(&rp, &[]);
        let login = agent.visit(&attempt.url).await;
        let dpa = agent.sign_in(login, "acme-admin", PASSWORD).await;
        let (path, _, body) = dpa.page();
        assert_eq!(path, "/dpa", "the agreement comes first");
        let page = body.to_owned();
        let back = agent.submit(&page, "/dpa", &[]).await;
        let (_, claims) = exchange(&app, &rp, back.away(), attempt).await;
        assert_eq!(claims["preferred_username"], "acme-admin");
    }
}

db_test! {
    async fn an_app_serves_its_company_and_those_below_which_consent_once_but_no_other(app: TestApp) {
        let parent = app.company("fleetco").await;
        let branch = app.company_below(&parent, "branch").await;
        let rival = app.company("rival").await;
        for name in ["fleetco-admin", "branch-admin", "rival-admin"] {
            app.signed_in(name).await;
        }
        let _ = (branch, rival);
        let (id, secret) = register(&app, parent.account, false, None).await;
        let rp = relying_party(&app, &id, secret.as_deref()).await;

        let agent = Agent::new(&app);
        let attempt_1 = attempt(&rp, &[]);
        let login = agent.visit(&attempt_1.url).await;
        let consent = agent.sign_in(login, "branch-admin", PASSWORD).await;
        let (path, _, body) = consent.page();
        assert_eq!(path, "/oauth2/authorize");
        assert!(body.contains("Reports, an app of fleetco, asks to sign you in"), "{body}");
        assert!(body.contains("your email address"));
        let page = body.to_owned();
        let back = agent.submit(&page, "/oauth2/consent", &[("request", &field_of(&page, "request")), ("decision", "allow")]).await;
        let (_, claims) = exchange(&app, &rp, back.away(), attempt_1).await;
        assert_eq!(claims["account"]["name"], "branch");
        let attempt_2 = attempt(&rp, &[]);
        let back = agent.visit(&attempt_2.url).await;
        exchange(&app, &rp, back.away(), attempt_2).await;

        let denied = Agent::new(&app);
        let attempt_3 = attempt(&rp, &[]);
        let login = denied.visit(&attempt_3.url).await;
        let refused = denied.sign_in(login, "rival-admin", PASSWORD).await;
        assert!(refused.away().contains("error=access_denied"), "a company beside the app's is not served");
    }
}

db_test! {
    async fn id_tokens_are_signed_as_each_app_asks_and_rotated_keys_stay_published_until_their_tokens_expire(app: TestApp) {
        let company = app.company("acme").await;
        app.signed_in("acme-admin").await;
        for alg in [Alg::EdDsa, Alg::Es256, Alg::Rs256] {
            let (id, secret) = register(&app, company.account, false, Some(alg)).await;
            let rp = relying_party(&app, &id, secret.as_deref()).await;
            let (tokens, _) = sign_in_to_the_app(&app, &rp, "acme-admin").await;
            let header = tokens.id_token().unwrap().to_string();
            let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header.split('.').next().unwrap()).unwrap()).unwrap();
            assert_eq!(header["alg"], alg.as_str());
        }
        let published = |app: &TestApp| {
            let url = app.url("/oauth2/jwks");
            async move { reqwest::get(url).await.unwrap().json::<Value>().await.unwrap()["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect::<Vec<_>>() }
        };
        let before = published(&app).await;
        assert_eq!(before.len(), 3);
        let rotated = portcullis::oidc::signing::rotate(&app.app.store, &app.app.keys, app.now()).await.unwrap();
        let during = published(&app).await;
        assert_eq!(during.len(), 6, "old and new keys are published together");
        let (id, secret) = register(&app, company.account, false, None).await;
        let rp = relying_party(&app, &id, secret.as_deref()).await;
        let kid = |tokens: &openidconnect::core::CoreTokenResponse| {
            let jwt = tokens.id_token().unwrap().to_string();
            let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').next().unwrap()).unwrap()).unwrap();
            header["kid"].as_str().unwrap().to_owned()
        };
        let (tokens, _) = sign_in_to_the_app(&app, &rp, "acme-admin").await;
        assert!(before.contains(&kid(&tokens)), "the old key signs until the new one has been published long enough");
        app.advance(Duration::minutes(6));
        let (tokens, _) = sign_in_to_the_app(&app, &rp, "acme-admin").await;
        assert!(rotated.contains(&kid(&tokens)), "then the new one signs");
        assert_eq!(published(&app).await.len(), 6, "the old keys stay until their tokens have expired");
        app.advance(Duration::minutes(5));
        let after = published(&app).await;
        assert_eq!(after.len(), 3);
        assert!(after.iter().all(|k| rotated.contains(k)));
    }
}

db_test! {
    async fn introspection_answers_only_apps_of_the_tokens_company(app: TestApp) {
        let company = app.company("acme").await;
        let rival = app.company("rival").await;
        app.signed_in("acme-admin").await;
        let (id, secret) = register(&app, company.account, false, None).await;
        let (api, api_secret) = register(&app, company.account, false, None).await;
        let (foreign, foreign_secret) = register(&app, rival.account, false, None).await;
        let rp = relying_party(&app, &id, secret.as_deref()).await;
        let (tokens, _) = sign_in_to_the_app(&app, &rp, "acme-admin").await;
        let access = tokens.access_token().secret();
        assert_eq!(introspect(&app, (&api, api_secret.as_deref()), access).await["active"], true, "a resource server of the company");
        assert_eq!(introspect(&app, (&foreign, foreign_secret.as_deref()), access).await, json!({ "active": false }));
        let forged = format!("9{access}");
        assert_eq!(introspect(&app, (&id, secret.as_deref()), &forged).await, json!({ "active": false }));
        // The rival's app cannot revoke the company's tokens either.
        let foreign_revoke = post_form(&app, "/oauth2/revoke", (&foreign, foreign_secret.as_deref()), &[("token", access)]).await;
        assert_eq!(foreign_revoke.status(), StatusCode::OK);
        assert_eq!(introspect(&app, (&id, secret.as_deref()), access).await["active"], true);
    }
}

db_test! {
    async fn a_deleted_app_loses_its_tokens_and_purge_clears_what_ran_out(app: TestApp) {
        let (_, id, secret, rp) = acme_with_app(&app).await;
        let (tokens, _) = sign_in_to_the_app(&app, &rp, "acme-admin").await;
        clients::delete(&app.app.store, &Actor::operator(), None, &id, app.now()).await.unwrap();
        assert_eq!(userinfo(&app, tokens.access_token().secret()).await.status(), StatusCode::UNAUTHORIZED);
        let token_call = post_form(&app, "/oauth2/token", (&id, secret.as_deref()), &[("grant_type", "refresh_token"), ("refresh_token", tokens.refresh_token().unwrap().secret())]).await;
        assert_eq!(token_call.status(), StatusCode::UNAUTHORIZED);
        app.advance(Duration::days(40));
        let purged = portcullis::purge::run(&app.app.store, app.app.lifetimes.idle, app.now()).await.unwrap();
        let count = |kind: &str| purged.0.iter().find(|(k, _)| *k == kind).map(|(_, n)| *n).unwrap();
        assert_eq!(count("oidc_grants"), 1);
        assert_eq!(count("oidc_refresh_tokens"), 1);
        assert_eq!(count("oidc_codes"), 1);
        assert!(count("expired_sessions") + count("idle_sessions") + count("ended_sessions") >= 1);
    }
}

db_test! {
    async fn two_refreshes_with_one_token_at_once_leave_no_working_tokens(app: TestApp) {
        let company = app.company("acme").await;
        app.signed_in("acme-admin").await;
        let (id, secret) = register(&app, company.account, false, None).await;
        let client = (id.as_str(), secret.as_deref());
        let rp = relying_party(&app, &id, secret.as_deref()).await;
        let (tokens, _) = sign_in_to_the_app(&app, &rp, "acme-admin").await;
        let refresh = tokens.refresh_token().unwrap().secret().clone();
        let form = [("grant_type", "refresh_token"), ("refresh_token", refresh.as_str())];
        let (a, b) = tokio::join!(post_form(&app, "/oauth2/token", client, &form), post_form(&app, "/oauth2/token", client, &form));
        let mut statuses = [a.status(), b.status()];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::OK, StatusCode::BAD_REQUEST], "one wins, one is a reuse");
        let winner = if a.status() == StatusCode::OK { a } else { b };
        let winner = json_of(winner, StatusCode::OK).await;
        // The reuse revoked the grant, the winner's new tokens with it.
        let access = winner["access_token"].as_str().unwrap();
        assert_eq!(introspect(&app, client, access).await["active"], false);
        let next = [("grant_type", "refresh_token"), ("refresh_token", winner["refresh_token"].as_str().unwrap())];
        assert_eq!(post_form(&app, "/oauth2/token", client, &next).await.status(), StatusCode::BAD_REQUEST);
    }
}

db_test! {
    async fn one_code_exchanged_twice_at_once_gives_tokens_once_and_then_none(app: TestApp) {
        let company = app.company("acme").await;
        app.signed_in("acme-admin").await;
        let (id, secret) = register(&app, company.account, false, None).await;
        let client = (id.as_str(), secret.as_deref());
        let rp = relying_party(&app, &id, secret.as_deref()).await;
        let agent = Agent::new(&app);
        let attempt = attempt(&rp, &[]);
        let login = agent.visit(&attempt.url).await;
        let back = agent.sign_in(login, "acme-admin", PASSWORD).await;
        let code = code_of(&app, back.away(), &attempt);
        let form = code_form(code.secret(), attempt.verifier.secret());
        let (a, b) = tokio::join!(post_form(&app, "/oauth2/token", client, &form), post_form(&app, "/oauth2/token", client, &form));
        let mut statuses = [a.status(), b.status()];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::OK, StatusCode::BAD_REQUEST]);
        let winner = if a.status() == StatusCode::OK { a } else { b };
        let winner = json_of(winner, StatusCode::OK).await;
        let access = winner["access_token"].as_str().unwrap();
        assert_eq!(introspect(&app, client, access).await["active"], false, "the replay revoked what the code gave");
    }
}
