//! Who may call what: every route of the API (as the OpenAPI document lists them) and
//! every page, against every kind of caller, with the outcome written down in one table.
//! A route the document lists without a row here fails the test, so a new endpoint
//! cannot be added without deciding who may call it.
//!
//! The world: `reseller` with `fleet` below it. In `fleet`: its top user, the `driver`
//! every path points at (made by the top user), a `plain` user, a `demoted` former top
//! user, and `pending`, who has not accepted the agreement. `rival` is another company;
//! `support` (in `reseller`) acts as the driver; `closed` is blocked, with its `closed-user`.
//! Each call gets a session of its own, made straight in the database, so what one call
//! changes (a password, a grant) does not decide another's outcome.

use std::collections::BTreeSet;

use portcullis::{
    lifecycle,
    rights::Actor,
    sessions::{self, Lifetimes},
    store::{NewSession, TermsChanges},
    values::{AppKind, UserId},
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{db_test, helpers::*};

/// The kinds of caller, in the table's column order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Anonymous,
    PendingDuty,
    PlainUser,
    TargetAdmin,
    ParentAdmin,
    OtherCompany,
    ActingAsTarget,
    Demoted,
    BlockedUser,
}

const CALLERS: [Caller; 9] = [
    Caller::Anonymous,
    Caller::PendingDuty,
    Caller::PlainUser,
    Caller::TargetAdmin,
    Caller::ParentAdmin,
    Caller::OtherCompany,
    Caller::ActingAsTarget,
    Caller::Demoted,
    Caller::BlockedUser,
];

/// What a call came to, as far as authorization goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Let through: a 2xx, or an answer about the request itself (422, 409, 410, 429...).
    Ok,
    /// `401 unauthenticated`, or a page sending the visitor to sign in.
    Anon,
    /// `403 forbidden` (or a page saying so).
    No,
    /// `403 pending_duty`, or a page sending the visitor to the duty.
    Duty,
    /// `403 account_blocked`, or a page saying the account is blocked.
    Blk,
}

use Outcome::{Anon, Blk, Duty, No, Ok};

/// One row: a method and route (as the router spells it), the body to send, and the
/// outcome per caller in [`CALLERS`] order.
struct Row {
    method: &'static str,
    route: &'static str,
    body: fn(&World) -> Option<Value>,
    expect: [Outcome; 9],
}

/// A passkey's answer in the right shape, proving nothing.
fn passkey_answer() -> Value {
    let response = json!({ "clientDataJSON": "e30", "attestationObject": "oA", "authenticatorData": "AA", "signature": "AA" });
    json!({ "id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": response, "clientExtensionResults": {} })
}

fn none(_: &World) -> Option<Value> {
    None
}

fn empty(_: &World) -> Option<Value> {
    Some(json!({}))
}

const PUBLIC: [Outcome; 9] = [Ok; 9];
/// Any signed-in session without a duty, for itself.
const OWN: [Outcome; 9] = [Anon, Duty, Ok, Ok, Ok, Ok, Ok, Ok, Blk];
/// Any signed-in session, duties pending or not.
const OWN_ANY: [Outcome; 9] = [Anon, Ok, Ok, Ok, Ok, Ok, Ok, Ok, Blk];
/// The user's own security settings: never from a session acting as them.
const OWN_NOT_ACTING: [Outcome; 9] = [Anon, Duty, Ok, Ok, Ok, Ok, No, Ok, Blk];
/// Administration of the driver: the driver's administrators only.
const MANAGES_DRIVER: [Outcome; 9] = [Anon, Duty, No, Ok, Ok, No, No, No, Blk];
/// The fleet account's own policy: its own top users only.
const FLEET_WITHIN: [Outcome; 9] = [Anon, Duty, No, Ok, No, No, No, No, Blk];
/// Reading the fleet account: its top users and those above.
const FLEET_READ: [Outcome; 9] = [Anon, Duty, No, Ok, Ok, No, No, No, Blk];
/// The fleet account's terms: administrators above it only.
const FLEET_ABOVE: [Outcome; 9] = [Anon, Duty, No, No, Ok, No, No, No, Blk];
/// Top users, each in their own account.
const TOP_USERS: [Outcome; 9] = [Anon, Duty, No, Ok, Ok, Ok, No, No, Blk];

#[rustfmt::skip]
fn api_rows() -> Vec<Row> {
    vec![
        Row { method: "POST", route: "/api/v1/login", body: |_| Some(json!({ "username": "nobody", "password": "not-it" })), expect: PUBLIC },
        Row { method: "POST", route: "/api/v1/login/verify", body: |_| Some(json!({ "challenge": "none", "code": "000000" })), expect: PUBLIC },
        Row { method: "POST", route: "/api/v1/login/resend", body: |_| Some(json!({ "challenge": "none" })), expect: PUBLIC },
        Row { method: "POST", route: "/api/v1/login/passkey/options", body: empty, expect: PUBLIC },
        Row { method: "POST", route: "/api/v1/login/passkey", body: |_| Some(json!({ "challenge": "none", "credential": passkey_answer() })), expect: PUBLIC },
        Row { method: "POST", route: "/api/v1/password/forgot", body: |_| Some(json!({ "username": "nobody", "email": "x@fleet.example" })), expect: PUBLIC },
        Row { method: "GET", route: "/api/v1/session", body: none, expect: OWN_ANY },
        Row { method: "DELETE", route: "/api/v1/session", body: none, expect: OWN_ANY },
        Row { method: "POST", route: "/api/v1/session/accept-dpa", body: empty, expect: OWN_ANY },
        Row { method: "POST", route: "/api/v1/password/change", body: |_| Some(json!({ "current_password": "not-it", "new_password": "Xq7!long-enough-pass", "new_password_confirmation": "Xq7!long-enough-pass" })), expect: OWN_ANY },
        Row { method: "GET", route: "/api/v1/sessions", body: none, expect: OWN },
        Row { method: "DELETE", route: "/api/v1/sessions", body: none, expect: OWN },
        Row { method: "DELETE", route: "/api/v1/sessions/{id}", body: none, expect: OWN },
        Row { method: "GET", route: "/api/v1/impersonation/targets", body: none, expect: OWN },
        Row { method: "POST", route: "/api/v1/impersonation", body: |w| Some(json!({ "user_id": w.driver })), expect: [Anon, Duty, No, No, No, No, Ok, No, Blk] },
        Row { method: "DELETE", route: "/api/v1/impersonation", body: none, expect: OWN },
        Row { method: "GET", route: "/api/v1/me/login-history", body: none, expect: OWN },
        Row { method: "GET", route: "/api/v1/me/security", body: none, expect: OWN },
        Row { method: "PATCH", route: "/api/v1/me/security", body: |_| Some(json!({ "language": "es" })), expect: OWN_NOT_ACTING },
        Row { method: "PUT", route: "/api/v1/me/two-factor", body: |_| Some(json!({ "method": "none" })), expect: OWN_NOT_ACTING },
        Row { method: "POST", route: "/api/v1/me/totp", body: empty, expect: OWN_NOT_ACTING },
        Row { method: "DELETE", route: "/api/v1/me/totp", body: |_| Some(json!({ "password": "not-it" })), expect: OWN_NOT_ACTING },
        Row { method: "POST", route: "/api/v1/me/totp/confirm", body: |_| Some(json!({ "code": "000000" })), expect: OWN_NOT_ACTING },
        Row { method: "POST", route: "/api/v1/me/backup-codes", body: empty, expect: OWN_NOT_ACTING },
        Row { method: "GET", route: "/api/v1/me/trusted-devices", body: none, expect: OWN },
        Row { method: "POST", route: "/api/v1/me/passkeys/registration/options", body: empty, expect: OWN_NOT_ACTING },
        Row { method: "GET", route: "/api/v1/me/passkeys", body: none, expect: OWN },
        Row { method: "POST", route: "/api/v1/me/passkeys", body: |_| Some(json!({ "credential": passkey_answer() })), expect: OWN_NOT_ACTING },
        Row { method: "DELETE", route: "/api/v1/me/passkeys/{id}", body: |_| Some(json!({ "current_password": "not-it" })), expect: OWN_NOT_ACTING },
        Row { method: "DELETE", route: "/api/v1/me/trusted-devices/{id}", body: none, expect: OWN_NOT_ACTING },
        Row { method: "POST", route: "/api/v1/me/email/verification", body: empty, expect: OWN_NOT_ACTING },
        Row { method: "POST", route: "/api/v1/me/email/verification/confirm", body: |_| Some(json!({ "code": "000000" })), expect: OWN_NOT_ACTING },
        Row { method: "POST", route: "/api/v1/me/phone/verification", body: empty, expect: OWN_NOT_ACTING },
        Row { method: "POST", route: "/api/v1/me/phone/verification/confirm", body: |_| Some(json!({ "code": "000000" })), expect: OWN_NOT_ACTING },
        Row { method: "GET", route: "/api/v1/me/integrations/flespi", body: none, expect: TOP_USERS },
        Row { method: "PUT", route: "/api/v1/me/integrations/flespi", body: |_| Some(json!({ "token": "0123456789abcdefABCDEF", "region": "eu" })), expect: TOP_USERS },
        Row { method: "DELETE", route: "/api/v1/me/integrations/flespi", body: none, expect: TOP_USERS },
        Row { method: "POST", route: "/api/v1/me/integrations/flespi/check", body: empty, expect: TOP_USERS },
        Row { method: "POST", route: "/api/v1/accounts", body: |w| Some(json!({ "name": unique("account"), "parent_id": w.fleet, "admin": { "username": unique("admin"), "password": PASSWORD } })), expect: FLEET_READ },
        Row { method: "GET", route: "/api/v1/accounts/{id}", body: none, expect: FLEET_READ },
        Row { method: "PATCH", route: "/api/v1/accounts/{id}", body: |_| Some(json!({ "services": { "email_notifications": true } })), expect: FLEET_ABOVE },
        Row { method: "GET", route: "/api/v1/accounts/{id}/two-factor-policy", body: none, expect: FLEET_READ },
        Row { method: "PUT", route: "/api/v1/accounts/{id}/two-factor-policy", body: |_| Some(json!({ "allow_trusted_devices": true })), expect: FLEET_WITHIN },
        Row { method: "GET", route: "/api/v1/accounts/{id}/audit", body: none, expect: FLEET_READ },
        Row { method: "POST", route: "/api/v1/users", body: |w| Some(json!({ "username": unique("user"), "password": PASSWORD, "account_id": w.fleet })), expect: FLEET_READ },
        Row { method: "PATCH", route: "/api/v1/users/{id}", body: |_| Some(json!({ "language": "es" })), expect: MANAGES_DRIVER },
        Row { method: "POST", route: "/api/v1/users/{id}/two-factor/reset", body: empty, expect: MANAGES_DRIVER },
        Row { method: "POST", route: "/api/v1/users/{id}/unlock", body: empty, expect: MANAGES_DRIVER },
        Row { method: "DELETE", route: "/api/v1/users/{id}/sessions", body: none, expect: MANAGES_DRIVER },
        Row { method: "PUT", route: "/api/v1/users/{id}/grants/{target_id}", body: |_| Some(json!({ "rights": [] })), expect: MANAGES_DRIVER },
        Row { method: "DELETE", route: "/api/v1/users/{id}/grants/{target_id}", body: none, expect: MANAGES_DRIVER },
        Row { method: "GET", route: "/api/v1/accounts/{id}/clients", body: none, expect: FLEET_READ },
        Row { method: "POST", route: "/api/v1/accounts/{id}/clients", body: |_| Some(json!({ "name": "matrix", "redirect_uris": ["https://app.fleet.example/cb"] })), expect: FLEET_WITHIN },
        Row { method: "DELETE", route: "/api/v1/accounts/{id}/clients/{client_id}", body: none, expect: FLEET_WITHIN },
        Row { method: "GET", route: "/api/v1/forward-auth", body: none, expect: [Anon, Anon, Ok, Ok, Ok, Ok, Ok, Ok, Anon] },
        Row { method: "GET", route: "/api/v1/openapi.json", body: none, expect: PUBLIC },
    ]
}

/// A name no other call used.
fn unique(prefix: &str) -> String {
    format!("{prefix}-{:08x}", rand::random::<u32>())
}

/// Everyone in the world, and the ids paths point at.
struct World {
    fleet: i64,
    driver: i64,
    users: Users,
}

struct Users {
    pending: UserId,
    plain: UserId,
    fleet_admin: UserId,
    reseller_admin: UserId,
    rival_admin: UserId,
    support: UserId,
    demoted: UserId,
    closed_user: UserId,
    driver: UserId,
}

async fn world(app: &TestApp) -> World {
    let reseller = app.company_with_sms("reseller", Some(100)).await;
    let fleet = app.company_below(&reseller, "fleet").await;
    let rival = app.company("rival").await;
    let closed = app.company_below(&reseller, "closed").await;
    let driver = app.user(fleet.account, fleet.admin, "driver").await;
    let plain = app.user(fleet.account, fleet.admin, "plain").await;
    let demoted = app.user(fleet.account, fleet.admin, "demoted").await;
    let pending = app.user(fleet.account, fleet.admin, "pending").await;
    let support = app.user(reseller.account, reseller.admin, "support").await;
    let closed_user = app.user(closed.account, closed.admin, "closed-user").await;
    let operator = Actor::operator();
    let top = portcullis::users::UserChanges { top_user: Some(true), ..Default::default() };
    portcullis::users::update(&app.app.store, &app.app.hasher, &operator, demoted, &top, app.now())
        .await
        .unwrap();
    let demote = portcullis::users::UserChanges { top_user: Some(false), ..Default::default() };
    portcullis::users::update(&app.app.store, &app.app.hasher, &operator, demoted, &demote, app.now())
        .await
        .unwrap();
    let store = &app.app.store;
    portcullis::users::set_grants(
        store,
        &operator,
        support,
        driver,
        &[portcullis::values::Right::ActAs],
        app.now(),
    )
    .await
    .unwrap();
    let block = TermsChanges { blocking_at: Some(Some(app.now())), ..Default::default() };
    lifecycle::change_terms(store, &operator, closed.account, &block, app.now()).await.unwrap();
    // Everyone but `pending` has accepted the agreement.
    app.raw_sql(
        "UPDATE users SET dpa_accepted_version = (SELECT dpa_version FROM accounts WHERE accounts.id = users.account_id) \
         WHERE username <> 'pending'",
    )
    .await;
    let users = Users {
        pending,
        plain,
        fleet_admin: fleet.admin,
        reseller_admin: reseller.admin,
        rival_admin: rival.admin,
        support,
        demoted,
        closed_user,
        driver,
    };
    World { fleet: fleet.account.0, driver: driver.0, users }
}

/// A fresh session for the caller, straight in the database.
async fn session_of(app: &TestApp, world: &World, caller: Caller) -> Option<String> {
    let u = &world.users;
    let (user, acting) = match caller {
        Caller::Anonymous => return None,
        Caller::PendingDuty => {
            // An earlier call may have been the duty itself: it is pending again.
            app.raw_sql("UPDATE users SET dpa_accepted_version = 0 WHERE username = 'pending'").await;
            (u.pending, None)
        }
        Caller::PlainUser => (u.plain, None),
        Caller::TargetAdmin => (u.fleet_admin, None),
        Caller::ParentAdmin => (u.reseller_admin, None),
        Caller::OtherCompany => (u.rival_admin, None),
        Caller::ActingAsTarget => (u.support, Some(u.driver)),
        Caller::Demoted => (u.demoted, None),
        Caller::BlockedUser => (u.closed_user, None),
    };
    let new = NewSession {
        user_id: user,
        acting_as_id: acting,
        app: AppKind::Web,
        ip: "127.0.0.1".into(),
        user_agent: "matrix".into(),
        remember: true,
        signed_in: None,
        amr: "pwd".into(),
        passkey_due: false,
        opened_from: None,
    };
    let mut tx = app.app.store.write().await.unwrap();
    let (token, _) = sessions::start(&mut tx, &Lifetimes::default(), &new, app.now()).await.unwrap();
    tx.commit().await.unwrap();
    Some(token.expose().to_owned())
}

fn path_of(route: &str, world: &World) -> String {
    let id = if route.starts_with("/api/v1/accounts/") { world.fleet } else { world.driver };
    route
        .replace("{target_id}", &world.users.plain.0.to_string())
        .replace("{client_id}", "no-such-client")
        .replace("{id}", &id.to_string())
}

fn outcome_of(status: StatusCode, body: &Value) -> Outcome {
    match (status, body["error"].as_str()) {
        (StatusCode::UNAUTHORIZED, Some("unauthenticated")) => Anon,
        (StatusCode::FORBIDDEN, Some("pending_duty")) => Duty,
        (StatusCode::FORBIDDEN, Some("account_blocked")) => Blk,
        (StatusCode::FORBIDDEN, Some("forbidden")) => No,
        _ => Ok,
    }
}

db_test! {
    async fn every_api_route_answers_each_kind_of_caller_as_the_table_says(app: TestApp) {
        let rows = api_rows();
        let documented: BTreeSet<(String, String)> = documented_routes(&app).await;
        let tabled: BTreeSet<(String, String)> = rows.iter().map(|r| (r.method.to_owned(), r.route.to_owned())).collect();
        let missing: Vec<_> = documented.difference(&tabled).collect();
        assert!(missing.is_empty(), "routes without a row in the table: {missing:?}");
        let stale: Vec<_> = tabled.difference(&documented).collect();
        assert!(stale.is_empty(), "rows for routes the document does not list: {stale:?}");

        let world = world(&app).await;
        let mut wrong = Vec::new();
        for row in &rows {
            for (caller, expected) in CALLERS.iter().zip(row.expect) {
                let token = session_of(&app, &world, *caller).await;
                let method = Method::from_bytes(row.method.as_bytes()).unwrap();
                let answer = app.send(method, &path_of(row.route, &world), token.as_deref(), (row.body)(&world)).await;
                let status = answer.status();
                let body: Value = answer.json().await.unwrap_or(Value::Null);
                let actual = outcome_of(status, &body);
                if actual != expected {
                    wrong.push(format!("{} {} as {caller:?}: expected {expected:?}, got {status} {body}", row.method, row.route));
                }
            }
        }
        assert!(wrong.is_empty(), "{} cells differ:\n{}", wrong.len(), wrong.join("\n"));
    }
}

/// Every (method, path) the OpenAPI document lists.
async fn documented_routes(app: &TestApp) -> BTreeSet<(String, String)> {
    let doc: Value = app.get("/api/v1/openapi.json", None).await.json().await.unwrap();
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    routes.insert(("GET".to_owned(), "/api/v1/openapi.json".to_owned()));
    routes
}

/// A page route and its outcome per caller.
struct PageRow {
    method: &'static str,
    route: &'static str,
    expect: [Outcome; 9],
}

const PAGE_PUBLIC: [Outcome; 9] = [Ok; 9];
const PAGE_OWN: [Outcome; 9] = [Anon, Duty, Ok, Ok, Ok, Ok, Ok, Ok, Blk];
const PAGE_OWN_ANY: [Outcome; 9] = [Anon, Ok, Ok, Ok, Ok, Ok, Ok, Ok, Blk];
const PAGE_OWN_NOT_ACTING: [Outcome; 9] = [Anon, Duty, Ok, Ok, Ok, Ok, No, Ok, Blk];
/// The company page: top users, each of their own account.
const PAGE_COMPANY: [Outcome; 9] = [Anon, Duty, No, Ok, Ok, Ok, No, No, Blk];
/// Pages that send everyone to the sign-in page: the code step without a sign-in waiting
/// for its code, and signing out itself.
const TO_SIGN_IN: [Outcome; 9] = [Anon; 9];
const SIGN_OUT: [Outcome; 9] = [Anon, Anon, Anon, Anon, Anon, Anon, Anon, Anon, Blk];

#[rustfmt::skip]
fn page_rows() -> Vec<PageRow> {
    let row = |method, route, expect| PageRow { method, route, expect };
    vec![
        row("GET", "/", PAGE_OWN),
        row("GET", "/login", PAGE_PUBLIC),
        row("POST", "/login", PAGE_PUBLIC),
        row("GET", "/login/code", TO_SIGN_IN),
        row("POST", "/login/code", TO_SIGN_IN),
        row("POST", "/login/code/resend", TO_SIGN_IN),
        row("POST", "/login/code/cancel", TO_SIGN_IN),
        row("POST", "/login/passkey", PAGE_PUBLIC),
        row("GET", "/passkey", PAGE_OWN),
        row("POST", "/logout", SIGN_OUT),
        row("GET", "/switch", PAGE_OWN),
        row("POST", "/switch/back", PAGE_OWN_ANY),
        row("POST", "/switch/{id}", [Anon, Duty, No, No, No, No, Ok, No, Blk]),
        row("GET", "/forgot", PAGE_PUBLIC),
        row("POST", "/forgot", PAGE_PUBLIC),
        row("GET", "/reset/{token}", PAGE_PUBLIC),
        row("POST", "/reset/{token}", PAGE_PUBLIC),
        row("GET", "/dpa", PAGE_OWN_ANY),
        row("POST", "/dpa", PAGE_OWN_ANY),
        row("GET", "/password", PAGE_OWN),
        row("POST", "/password", PAGE_OWN_ANY),
        row("GET", "/security", PAGE_OWN),
        row("POST", "/security/two-factor", PAGE_OWN_NOT_ACTING),
        row("POST", "/security/authenticator", PAGE_OWN_NOT_ACTING),
        row("POST", "/security/authenticator/confirm", PAGE_OWN_NOT_ACTING),
        row("POST", "/security/authenticator/disable", PAGE_OWN_NOT_ACTING),
        row("POST", "/security/backup-codes", PAGE_OWN_NOT_ACTING),
        row("POST", "/security/devices/{id}/revoke", PAGE_OWN_NOT_ACTING),
        row("POST", "/security/passkeys/{id}/remove", PAGE_OWN_NOT_ACTING),
        row("POST", "/security/notices", PAGE_OWN_NOT_ACTING),
        row("POST", "/security/language", PAGE_OWN_NOT_ACTING),
        row("POST", "/security/flespi", [Anon, Duty, No, Ok, Ok, Ok, No, No, Blk]),
        row("POST", "/security/flespi/check", [Anon, Duty, No, Ok, Ok, Ok, No, No, Blk]),
        row("POST", "/security/flespi/remove", [Anon, Duty, No, Ok, Ok, Ok, No, No, Blk]),
        row("POST", "/security/{kind}", PAGE_OWN_NOT_ACTING),
        row("POST", "/security/{kind}/send", PAGE_OWN_NOT_ACTING),
        row("POST", "/security/{kind}/confirm", PAGE_OWN_NOT_ACTING),
        row("GET", "/sessions", PAGE_OWN),
        row("POST", "/sessions/others/end", PAGE_OWN),
        row("POST", "/sessions/{id}/end", PAGE_OWN),
        row("GET", "/accounts", PAGE_COMPANY),
        row("POST", "/accounts", PAGE_COMPANY),
        row("POST", "/accounts/{id}", [Anon, Duty, No, No, Ok, No, No, No, Blk]),
        row("GET", "/company", PAGE_COMPANY),
        row("GET", "/company/audit.csv", PAGE_COMPANY),
        row("POST", "/company/general", PAGE_COMPANY),
        row("POST", "/company/defaults", PAGE_COMPANY),
        row("POST", "/company/passkeys", PAGE_COMPANY),
        row("GET", "/company/audit", PAGE_COMPANY),
        row("GET", "/company/users", PAGE_COMPANY),
        row("POST", "/company/users", PAGE_COMPANY),
        row("GET", "/company/users/new", PAGE_COMPANY),
        row("GET", "/company/users/{id}", [Anon, Duty, No, Ok, Ok, No, No, No, Blk]),
        row("POST", "/company/users/{id}", [Anon, Duty, No, Ok, Ok, No, No, No, Blk]),
        row("POST", "/company/users/{id}/rights", [Anon, Duty, No, Ok, Ok, No, No, No, Blk]),
        row("POST", "/company/users/{id}/{action}", [Anon, Duty, No, Ok, Ok, No, No, No, Blk]),
        row("GET", "/company/apps", PAGE_COMPANY),
        row("POST", "/company/apps", PAGE_COMPANY),
        row("POST", "/company/apps/{client_id}/delete", PAGE_COMPANY),
        row("GET", "/oauth2/authorize", [Ok, Ok, Ok, Ok, Ok, Ok, Ok, Ok, Blk]),
        row("POST", "/oauth2/authorize", [Ok, Ok, Ok, Ok, Ok, Ok, Ok, Ok, Blk]),
        row("POST", "/oauth2/consent", PAGE_OWN),
        row("GET", "/oauth2/logout", [Ok, Ok, Ok, Ok, Ok, Ok, Ok, Ok, Blk]),
        row("POST", "/oauth2/logout", [Ok, Ok, Ok, Ok, Ok, Ok, Ok, Ok, Blk]),
        row("POST", "/oauth2/logout/confirm", PAGE_OWN_ANY),
        row("GET", "/static/app.js", PAGE_PUBLIC),
        row("GET", "/static/app.css", PAGE_PUBLIC),
        row("GET", "/static/passkeys.js", PAGE_PUBLIC),
    ]
}

/// Every field any form of the pages reads, so each form parses and the call reaches
/// the rights it is about.
fn form_body(csrf: &str) -> String {
    let fields = [
        ("csrf", csrf),
        ("username", "nobody"),
        ("password", "not-it"),
        ("login_as", ""),
        ("code", "000000"),
        ("challenge", "none"),
        ("credential", "{}"),
        ("email", "someone@fleet.example"),
        ("phone", "+35312345678"),
        ("current_password", "not-it"),
        ("new_password", "Xq7!long-enough-pass"),
        ("new_password_confirmation", "Xq7!long-enough-pass"),
        ("web", "none"),
        ("passkey_web", "nobody"),
        ("passkey_manager", "nobody"),
        ("manager", "none"),
        ("token", "0123456789abcdefABCDEF"),
        ("region", "eu"),
        ("delivery", "sms_then_email"),
        ("contact_name", ""),
        ("contact_phone", ""),
        ("contact_email", ""),
        ("blocking_date", ""),
        ("blocking_date_was", ""),
        ("sms_quota", ""),
        ("sms_quota_was", ""),
        ("channel", "email"),
        ("value", "someone@fleet.example"),
        ("language", "en"),
        ("name", "matrix-new"),
        ("admin_username", "matrix-new-admin"),
        ("admin_password", "Xq7!long-enough-pass"),
        ("redirect_uris", "https://app.fleet.example/cb"),
        ("request", "client_id=no-such-client"),
        ("decision", "deny"),
    ];
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish()
}

fn page_path(route: &str, world: &World) -> String {
    let id = if route.starts_with("/accounts/") { world.fleet } else { world.driver };
    route
        .replace("{id}", &id.to_string())
        .replace("{token}", "not-a-token")
        .replace("{kind}", "email")
        .replace("{action}", "unlock")
        .replace("{client_id}", "no-such-client")
}

fn page_outcome(status: StatusCode, location: Option<&str>) -> Outcome {
    match (status.is_redirection(), location) {
        (true, Some(to)) if to.starts_with("/login?blocked") => Blk,
        (true, Some(to)) if to == "/login" || to.starts_with("/login?expired") => Anon,
        (true, Some(to)) if to == "/dpa" || to == "/password" => Duty,
        _ if status == StatusCode::FORBIDDEN => No,
        _ => Ok,
    }
}

/// Every (method, path) the pages' router declares, read from its source: the pages have
/// no document of their own.
fn declared_page_routes() -> BTreeSet<(String, String)> {
    declared_routes(include_str!("../../src/http/web/mod.rs"))
}

/// Every (method, path) a router's source declares with `.route(...)`.
fn declared_routes(source: &str) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for chunk in source.split(".route(").skip(1) {
        let Some(path) = chunk.trim_start().strip_prefix('"').and_then(|rest| rest.split('"').next()) else {
            continue;
        };
        // The handlers of this route: up to the next `.route(` (or the end of the list).
        let handlers = chunk.split("\n}").next().unwrap_or(chunk);
        for method in ["get", "post", "put", "patch", "delete"] {
            if handlers.contains(&format!("{method}(")) {
                routes.insert((method.to_uppercase(), path.to_owned()));
            }
        }
    }
    routes
}

#[test]
fn every_page_route_has_a_row_in_the_table() {
    let declared = declared_page_routes();
    assert!(declared.len() > 30, "the router's source was not read: {declared:?}");
    let tabled: BTreeSet<(String, String)> =
        page_rows().iter().map(|r| (r.method.to_owned(), r.route.to_owned())).collect();
    let missing: Vec<_> = declared.difference(&tabled).collect();
    assert!(missing.is_empty(), "page routes without a row in the table: {missing:?}");
    let stale: Vec<_> = tabled.difference(&declared).collect();
    assert!(stale.is_empty(), "rows for pages the router does not declare: {stale:?}");
}

db_test! {
    async fn every_page_answers_each_kind_of_caller_as_the_table_says(app: TestApp) {
        let world = world(&app).await;
        // One form token for all: it belongs to the browser's seed cookie, not a session.
        let login = app.get("/login", None).await;
        let seed = login.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok())
            .find_map(|c| c.strip_prefix("portcullis_csrf=")).map(|c| c.split(';').next().unwrap().to_owned()).unwrap();
        let page = login.text().await.unwrap();
        let at = page.find("name=\"csrf\" value=\"").unwrap() + 19;
        let csrf: String = page[at..].chars().take_while(|c| *c != '"').collect();
        let mut wrong = Vec::new();
        for row in page_rows() {
            for (caller, expected) in CALLERS.iter().zip(row.expect) {
                let token = session_of(&app, &world, *caller).await;
                let mut cookie = format!("portcullis_csrf={seed}");
                if let Some(token) = &token {
                    cookie.push_str(&format!("; portcullis_session={token}"));
                }
                let method = Method::from_bytes(row.method.as_bytes()).unwrap();
                let mut request = app.http.request(method.clone(), app.url(&page_path(row.route, &world))).header("cookie", cookie);
                if method == Method::POST {
                    request = request.header("content-type", "application/x-www-form-urlencoded").body(form_body(&csrf));
                }
                let answer = request.send().await.unwrap();
                let status = answer.status();
                let location = answer.headers().get("location").and_then(|l| l.to_str().ok()).map(str::to_owned);
                let actual = page_outcome(status, location.as_deref());
                if actual != expected {
                    wrong.push(format!("{} {} as {caller:?}: expected {expected:?}, got {status} {location:?}", row.method, row.route));
                }
            }
        }
        assert!(wrong.is_empty(), "{} cells differ:\n{}", wrong.len(), wrong.join("\n"));
    }
}

/// The OpenID Connect provider's machine endpoints (described by its discovery document,
/// not the OpenAPI one): the public documents for everyone, and everything else only for an
/// app's credentials. A Portcullis session of any kind, sent as a bearer token (and as the
/// token to introspect or revoke), gets nobody in.
#[rustfmt::skip]
fn oauth_rows() -> Vec<(&'static str, &'static str, StatusCode)> {
    vec![
        ("GET", "/.well-known/openid-configuration", StatusCode::OK),
        ("GET", "/oauth2/jwks", StatusCode::OK),
        ("POST", "/oauth2/token", StatusCode::UNAUTHORIZED),
        ("GET", "/oauth2/userinfo", StatusCode::UNAUTHORIZED),
        ("POST", "/oauth2/userinfo", StatusCode::UNAUTHORIZED),
        ("POST", "/oauth2/introspect", StatusCode::UNAUTHORIZED),
        ("POST", "/oauth2/revoke", StatusCode::UNAUTHORIZED),
    ]
}

#[test]
fn every_oauth_route_has_a_row_in_the_table() {
    let declared = declared_routes(include_str!("../../src/http/oauth/mod.rs"));
    let tabled: BTreeSet<(String, String)> =
        oauth_rows().iter().map(|(m, r, _)| ((*m).to_owned(), (*r).to_owned())).collect();
    assert_eq!(declared, tabled);
}

db_test! {
    async fn the_oauth_endpoints_answer_no_portcullis_session_of_any_kind(app: TestApp) {
        let world = world(&app).await;
        let mut wrong = Vec::new();
        for (method, route, expected) in oauth_rows() {
            for caller in CALLERS {
                let token = session_of(&app, &world, caller).await;
                let presented = token.clone().unwrap_or_else(|| "nothing".to_owned());
                let form = format!("grant_type=refresh_token&refresh_token={presented}&token={presented}");
                let method = Method::from_bytes(method.as_bytes()).unwrap();
                let mut request = app.http.request(method.clone(), app.url(route));
                if let Some(token) = &token {
                    request = request.bearer_auth(token).header("cookie", format!("portcullis_session={token}"));
                }
                if method == Method::POST {
                    request = request.header("content-type", "application/x-www-form-urlencoded").body(form);
                }
                let status = request.send().await.unwrap().status();
                if status != expected {
                    wrong.push(format!("{method} {route} as {caller:?}: expected {expected}, got {status}"));
                }
            }
        }
        assert!(wrong.is_empty(), "{} cells differ:\n{}", wrong.len(), wrong.join("\n"));
    }
}
