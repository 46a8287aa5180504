//! Passkeys through the API, answered by the test's own software authenticator: adding,
//! listing and removing them, and signing in without a password under the same rules as
//! a password sign-in.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use portcullis::users::UserRequest;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::Duration;

use crate::{db_test, helpers::*, soft_passkey::SoftPasskey};

/// The origin a browser on this server reports: its address, served as `localhost`.
fn origin(app: &TestApp) -> String {
    format!("http://localhost:{}", app.addr.port())
}

/// Adds a passkey for the session's user, by the API, and returns it.
async fn register(app: &TestApp, token: &str, key: &mut SoftPasskey, name: &str) -> Value {
    let options = app.post("/api/v1/me/passkeys/registration/options", Some(token), json!({})).await;
    let options = json_of(options, StatusCode::OK).await;
    let credential = key.create(&options["publicKey"]);
    let added =
        app.post("/api/v1/me/passkeys", Some(token), json!({ "name": name, "credential": credential })).await;
    json_of(added, StatusCode::CREATED).await
}

/// Fresh options for a sign-in with a passkey: `(challenge, publicKey)`.
async fn sign_in_options(app: &TestApp) -> (String, Value) {
    let options =
        json_of(app.post("/api/v1/login/passkey/options", None, json!({})).await, StatusCode::OK).await;
    (options["challenge"].as_str().unwrap().to_owned(), options["publicKey"].clone())
}

async fn sign_in_with(app: &TestApp, key: &mut SoftPasskey, extra: Value) -> reqwest::Response {
    let (challenge, options) = sign_in_options(app).await;
    let mut body = json!({ "challenge": challenge, "credential": key.get(&options) });
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    app.post("/api/v1/login/passkey", None, body).await
}

/// `driver` of `acme`, signed in, with one passkey.
async fn driver_with_passkey(app: &TestApp) -> (Company, String, SoftPasskey) {
    let company = app.company("acme").await;
    app.user(company.account, company.admin, "driver").await;
    let token = app.signed_in("driver").await;
    let mut key = SoftPasskey::es256(&origin(app));
    register(app, &token, &mut key, "Work laptop").await;
    (company, token, key)
}

async fn history_results(app: &TestApp, token: &str) -> Vec<String> {
    let history = json_of(app.get("/api/v1/me/login-history", Some(token)).await, StatusCode::OK).await;
    let entries = history["entries"].as_array().unwrap();
    entries.iter().map(|e| e["result"].as_str().unwrap_or_default().to_owned()).collect()
}

db_test! {
    async fn a_passkey_added_from_the_api_signs_in_without_a_password(app: TestApp) {
        let company = app.company("acme").await;
        app.user(company.account, company.admin, "driver").await;
        let token = app.signed_in("driver").await;
        let options = app.post("/api/v1/me/passkeys/registration/options", Some(&token), json!({})).await;
        let options = json_of(options, StatusCode::OK).await["publicKey"].clone();
        assert_eq!(options["rp"]["id"], "localhost");
        assert_eq!(options["user"]["name"], "driver");
        assert_eq!(options["authenticatorSelection"]["residentKey"], "required", "discoverable, for sign-in without a username");
        assert_eq!(options["authenticatorSelection"]["userVerification"], "required");
        assert_eq!(options["attestation"], "none");
        let mut key = SoftPasskey::es256(&origin(&app));
        let credential = key.create(&options);
        let added = app.post("/api/v1/me/passkeys", Some(&token), json!({ "name": "Work laptop", "credential": credential })).await;
        let added = json_of(added, StatusCode::CREATED).await;
        assert_eq!(added["name"], "Work laptop");
        assert!(added["created_at"].is_string() && added["id"].is_i64());

        let (challenge, request) = sign_in_options(&app).await;
        assert_eq!(request["allowCredentials"], json!([]), "nobody's passkeys are listed");
        assert_eq!(request["userVerification"], "required");
        let body = json!({ "challenge": challenge, "credential": key.get(&request), "remember_me": true });
        let signed_in = json_of(app.post("/api/v1/login/passkey", None, body).await, StatusCode::OK).await;
        assert_eq!(signed_in["status"], "ok");
        assert_eq!(signed_in["session"]["user"]["username"], "driver");
        assert_eq!(signed_in["session"]["remember_me"], true);
        let new_token = signed_in["token"].as_str().unwrap();
        let session = json_of(app.get("/api/v1/session", Some(new_token)).await, StatusCode::OK).await;
        assert_eq!(session["user"]["username"], "driver");

        let listed = json_of(app.get("/api/v1/me/passkeys", Some(&token)).await, StatusCode::OK).await;
        let passkeys = listed["passkeys"].as_array().unwrap();
        assert_eq!(passkeys.len(), 1);
        assert_eq!(passkeys[0]["name"], "Work laptop");
        assert_eq!(passkeys[0]["backup_eligible"], true);
        assert!(passkeys[0]["last_used_at"].is_string(), "{listed}");
        let trail = app.audit_trail(company.account).await;
        assert!(trail.iter().any(|(action, d)| action == "passkey.added" && d["name"] == "Work laptop"));
        let sign_in = trail.iter().rev().find(|(action, _)| action == "sign_in").unwrap();
        assert_eq!(sign_in.1["passkey"], true, "{:?}", sign_in.1);
        let counts: Vec<i64> = app.column("SELECT sign_count FROM passkeys").await;
        assert_eq!(counts, [1], "the counter is kept");
    }
}

db_test! {
    async fn an_answer_signs_in_once_and_only_to_its_own_options(app: TestApp) {
        let (_, _, mut key) = driver_with_passkey(&app).await;
        let (challenge, options) = sign_in_options(&app).await;
        let answer = key.get(&options);
        let body = json!({ "challenge": challenge, "credential": answer });
        json_of(app.post("/api/v1/login/passkey", None, body.clone()).await, StatusCode::OK).await;
        let replayed = json_of(app.post("/api/v1/login/passkey", None, body).await, StatusCode::GONE).await;
        assert_eq!(replayed["error"], "code_expired");
        assert_eq!(
            replayed["message"],
            "the passkey request has expired or was answered already; ask for new options"
        );
        // The same answer to new options: their challenge is not the one it signed.
        let (challenge, _) = sign_in_options(&app).await;
        let body = json!({ "challenge": challenge, "credential": answer });
        let refused = json_of(app.post("/api/v1/login/passkey", None, body).await, StatusCode::UNAUTHORIZED).await;
        assert_eq!(refused["error"], "invalid_credentials");
        // Options run out after five minutes.
        let (challenge, options) = sign_in_options(&app).await;
        app.advance(Duration::minutes(5));
        let body = json!({ "challenge": challenge, "credential": key.get(&options) });
        assert_eq!(app.post("/api/v1/login/passkey", None, body).await.status(), StatusCode::GONE);
    }
}

db_test! {
    async fn one_address_may_begin_three_hundred_sign_ins_a_minute_and_is_then_told_to_wait(app: TestApp) {
        let ask = || app.post("/api/v1/login/passkey/options", None, json!({}));
        for _ in 0..10 {
            let batch = futures_util::future::join_all((0..30).map(|_| ask())).await;
            assert!(batch.iter().all(|answer| answer.status() == StatusCode::OK));
        }
        let refused = ask().await;
        let wait: i64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        let refused = json_of(refused, StatusCode::TOO_MANY_REQUESTS).await;
        assert_eq!((refused["error"].as_str(), refused["retry_after"].as_i64()), (Some("too_soon"), Some(wait)));
        assert!((1..=60).contains(&wait), "{wait}");
        let kept = app.column::<i64>("SELECT COUNT(*) FROM passkey_ceremonies").await;
        assert_eq!(kept, [300], "a refused request keeps nothing");
        app.advance(Duration::seconds(wait));
        json_of(ask().await, StatusCode::OK).await;
    }
}

db_test! {
    async fn a_wrong_origin_an_unknown_passkey_and_a_tampered_signature_get_the_same_refusal(app: TestApp) {
        let (_, token, mut key) = driver_with_passkey(&app).await;
        key.origin = "http://localhost.evil.example".into();
        let phished = json_of(sign_in_with(&app, &mut key, json!({})).await, StatusCode::UNAUTHORIZED).await;
        key.origin = origin(&app);
        let mut stranger = SoftPasskey::es256(&origin(&app));
        stranger.user_handle = key.user_handle.clone();
        let unknown = json_of(sign_in_with(&app, &mut stranger, json!({})).await, StatusCode::UNAUTHORIZED).await;
        let (challenge, options) = sign_in_options(&app).await;
        let mut answer = key.get(&options);
        // One bit of the signature's first integer turned over.
        let mut signature = B64.decode(answer["response"]["signature"].as_str().unwrap()).unwrap();
        signature[10] ^= 0x01;
        answer["response"]["signature"] = json!(B64.encode(signature));
        let body = json!({ "challenge": challenge, "credential": answer });
        let tampered = json_of(app.post("/api/v1/login/passkey", None, body).await, StatusCode::UNAUTHORIZED).await;
        assert_eq!(phished, unknown, "nothing tells an unknown passkey from a wrong answer");
        assert_eq!(tampered, unknown);
        // The right answer still works, and the owner's history shows the two refusals.
        json_of(sign_in_with(&app, &mut key, json!({})).await, StatusCode::OK).await;
        let results = history_results(&app, &token).await;
        assert_eq!(results.iter().filter(|r| *r == "wrong_passkey").count(), 2, "{results:?}");
    }
}

db_test! {
    async fn a_cloned_authenticator_is_refused_once_its_counter_goes_back(app: TestApp) {
        let (company, token, mut key) = driver_with_passkey(&app).await;
        key.synced = false;
        // Not synced now, as at registration: a passkey's eligibility may not change.
        let mut device_bound = SoftPasskey::es256(&origin(&app));
        device_bound.synced = false;
        register(&app, &token, &mut device_bound, "Security key").await;
        for _ in 0..3 {
            json_of(sign_in_with(&app, &mut device_bound, json!({})).await, StatusCode::OK).await;
        }
        // A copy made after the first use answers with a lower count.
        device_bound.counter = 1;
        let cloned = json_of(sign_in_with(&app, &mut device_bound, json!({})).await, StatusCode::UNAUTHORIZED).await;
        assert_eq!(cloned["error"], "invalid_credentials");
        let results = history_results(&app, &token).await;
        assert!(results.contains(&"passkey_counter_went_back".to_owned()), "{results:?}");
        let counts: Vec<i64> = app.column("SELECT sign_count FROM passkeys ORDER BY id").await;
        assert_eq!(counts[1], 3, "the refused answer counted nothing");
        let trail = app.audit_trail(company.account).await;
        assert!(trail.iter().any(|(a, d)| a == "sign_in.failed" && d["result"] == "passkey_counter_went_back"));
    }
}

db_test! {
    async fn only_es256_and_rs256_passkeys_are_offered_and_an_eddsa_one_is_refused(app: TestApp) {
        let company = app.company("acme").await;
        app.user(company.account, company.admin, "driver").await;
        let token = app.signed_in("driver").await;
        let options = app.post("/api/v1/me/passkeys/registration/options", Some(&token), json!({})).await;
        let options = json_of(options, StatusCode::OK).await["publicKey"].clone();
        let algs: Vec<i64> = options["pubKeyCredParams"].as_array().unwrap().iter().map(|p| p["alg"].as_i64().unwrap()).collect();
        assert!(algs.contains(&-7) && algs.contains(&-257) && !algs.contains(&-8), "{algs:?}");
        let mut key = SoftPasskey::eddsa(&origin(&app));
        let answer = key.create(&options);
        let refused = app.post("/api/v1/me/passkeys", Some(&token), json!({ "credential": answer })).await;
        assert_eq!(json_of(refused, StatusCode::UNPROCESSABLE_ENTITY).await["field"], "credential");
        let listed = json_of(app.get("/api/v1/me/passkeys", Some(&token)).await, StatusCode::OK).await;
        assert_eq!(listed["passkeys"], json!([]));
    }
}

db_test! {
    async fn a_registration_is_the_sessions_own_and_a_passkey_is_added_once(app: TestApp) {
        let (company, token, _) = driver_with_passkey(&app).await;
        app.user(company.account, company.admin, "other").await;
        let other = app.signed_in("other").await;
        // Options given to one session are not finished by another, even of the same user.
        let options = app.post("/api/v1/me/passkeys/registration/options", Some(&token), json!({})).await;
        let options = json_of(options, StatusCode::OK).await["publicKey"].clone();
        let mut key = SoftPasskey::es256(&origin(&app));
        let answer = key.create(&options);
        let second = app.signed_in("driver").await;
        for session in [&other, &second] {
            let stolen = app.post("/api/v1/me/passkeys", Some(session), json!({ "credential": answer })).await;
            assert_eq!(stolen.status(), StatusCode::GONE);
        }
        json_of(app.post("/api/v1/me/passkeys", Some(&token), json!({ "credential": answer })).await, StatusCode::CREATED).await;
        // The same authenticator's credential again, for another user: refused.
        let options = app.post("/api/v1/me/passkeys/registration/options", Some(&other), json!({})).await;
        let options = json_of(options, StatusCode::OK).await["publicKey"].clone();
        let again = key.create(&options);
        let taken = app.post("/api/v1/me/passkeys", Some(&other), json!({ "credential": again })).await;
        assert_eq!(taken.status(), StatusCode::CONFLICT);
        let names: Vec<String> = app.column("SELECT name FROM passkeys ORDER BY id").await;
        assert_eq!(names, ["Work laptop", "Passkey 2"]);
    }
}

db_test! {
    async fn a_session_acting_as_someone_adds_no_passkey_to_them(app: TestApp) {
        let company = app.company("acme").await;
        let driver = app.user(company.account, company.admin, "driver").await;
        app.admin_may_act_as(&company, &[driver]).await;
        let admin = app.signed_in("acme-admin").await;
        let acting = app.post("/api/v1/impersonation", Some(&admin), json!({ "user_id": driver })).await;
        let acting = json_of(acting, StatusCode::OK).await["token"].as_str().unwrap().to_owned();
        let options = app.post("/api/v1/me/passkeys/registration/options", Some(&acting), json!({})).await;
        assert_eq!(options.status(), StatusCode::FORBIDDEN);
        let mut key = SoftPasskey::es256(&origin(&app));
        let forged = key.create(&json!({ "challenge": "AAAA", "rp": { "id": "localhost" }, "user": { "id": "AAAA" } }));
        let added = app.post("/api/v1/me/passkeys", Some(&acting), json!({ "credential": forged })).await;
        assert_eq!(added.status(), StatusCode::FORBIDDEN);
        let removed = app.send(Method::DELETE, "/api/v1/me/passkeys/1", Some(&acting), Some(json!({ "current_password": PASSWORD }))).await;
        assert_eq!(removed.status(), StatusCode::FORBIDDEN);
    }
}

db_test! {
    async fn removing_a_passkey_takes_the_current_password_and_only_ones_own(app: TestApp) {
        let (company, token, mut key) = driver_with_passkey(&app).await;
        let id = json_of(app.get("/api/v1/me/passkeys", Some(&token)).await, StatusCode::OK).await["passkeys"][0]["id"].as_i64().unwrap();
        let path = format!("/api/v1/me/passkeys/{id}");
        app.user(company.account, company.admin, "other").await;
        let other = app.signed_in("other").await;
        let not_theirs = app.send(Method::DELETE, &path, Some(&other), Some(json!({ "current_password": PASSWORD }))).await;
        assert_eq!(not_theirs.status(), StatusCode::NOT_FOUND);
        let wrong = app.send(Method::DELETE, &path, Some(&token), Some(json!({ "current_password": "not it at all" }))).await;
        assert_eq!(json_of(wrong, StatusCode::UNPROCESSABLE_ENTITY).await["field"], "current_password");
        let removed = app.send(Method::DELETE, &path, Some(&token), Some(json!({ "current_password": PASSWORD }))).await;
        assert_eq!(removed.status(), StatusCode::NO_CONTENT);
        assert_eq!(sign_in_with(&app, &mut key, json!({})).await.status(), StatusCode::UNAUTHORIZED);
        let trail = app.audit_trail(company.account).await;
        assert!(trail.iter().any(|(a, d)| a == "passkey.removed" && d["name"] == "Work laptop"));
    }
}

db_test! {
    async fn a_passkey_sign_in_meets_the_lock_outs_duties_and_blocking_of_a_password_one(app: TestApp) {
        let reseller = app.company("reseller").await;
        let fleet = app.company_below(&reseller, "fleet").await;
        app.user(fleet.account, fleet.admin, "driver").await;
        let token = app.signed_in("driver").await;
        let mut key = SoftPasskey::es256(&origin(&app));
        register(&app, &token, &mut key, "Phone").await;
        // Five wrong passwords lock the user, for passkeys too.
        for _ in 0..5 {
            app.login("driver", "wrong password").await;
        }
        let locked = json_of(sign_in_with(&app, &mut key, json!({})).await, StatusCode::LOCKED).await;
        assert!(locked["retry_after"].as_i64().unwrap() > 0);
        app.advance(Duration::minutes(16));
        // A duty pending is pending after a passkey too.
        app.raw_sql("UPDATE users SET must_change_password = TRUE WHERE username = 'driver'").await;
        let signed_in = json_of(sign_in_with(&app, &mut key, json!({})).await, StatusCode::OK).await;
        assert_eq!(signed_in["pending"], json!(["change_password"]));
        // A blocked account is refused, with its notice.
        let admin = app.signed_in("reseller-admin").await;
        let at = time::OffsetDateTime::from_unix_timestamp(app.now()).unwrap().format(&time::format_description::well_known::Rfc3339).unwrap();
        let path = format!("/api/v1/accounts/{}", fleet.account.0);
        let blocked = app.send(Method::PATCH, &path, Some(&admin), Some(json!({ "blocking_date": at }))).await;
        assert_eq!(blocked.status(), StatusCode::OK);
        let refused = json_of(sign_in_with(&app, &mut key, json!({})).await, StatusCode::FORBIDDEN).await;
        assert_eq!(refused["error"], "account_blocked");
    }
}

/// `acme-admin`, holding `act_as` on `driver`, with a passkey; the driver's id.
async fn admin_with_passkey_who_may_act_as_driver(
    app: &TestApp,
) -> (portcullis::values::UserId, SoftPasskey) {
    let company = app.company("acme").await;
    let driver = app.user(company.account, company.admin, "driver").await;
    app.admin_may_act_as(&company, &[driver]).await;
    let admin = app.signed_in("acme-admin").await;
    let mut key = SoftPasskey::es256(&origin(app));
    register(app, &admin, &mut key, "Laptop").await;
    (driver, key)
}

db_test! {
    async fn login_as_with_a_passkey_acts_as_the_target_and_names_the_signer(app: TestApp) {
        let (_, mut key) = admin_with_passkey_who_may_act_as_driver(&app).await;
        let signed_in = sign_in_with(&app, &mut key, json!({ "login_as": "driver" })).await;
        let signed_in = json_of(signed_in, StatusCode::OK).await;
        assert_eq!(signed_in["session"]["user"]["username"], "driver");
        assert_eq!(signed_in["session"]["impersonator"]["username"], "acme-admin");
        let refused = sign_in_with(&app, &mut key, json!({ "login_as": "acme-admin-nobody" })).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    }
}

db_test! {
    async fn a_ceremony_begun_on_one_instance_finishes_on_another_and_one_answer_sent_twice_at_once_signs_in_once(app: TestApp) {
        let company = app.company("acme").await;
        app.user(company.account, company.admin, "driver").await;
        let token = app.signed_in("driver").await;
        let other = app.another_instance().await;
        let options = app.post("/api/v1/me/passkeys/registration/options", Some(&token), json!({})).await;
        let options = json_of(options, StatusCode::OK).await;
        let mut key = SoftPasskey::es256(&origin(&app));
        let answer = key.create(&options["publicKey"]);
        let added = other.post("/api/v1/me/passkeys", Some(&token), json!({ "credential": answer })).await;
        assert_eq!(added.status(), StatusCode::CREATED);
        let (challenge, request) = sign_in_options(&other).await;
        let body = json!({ "challenge": challenge, "credential": key.get(&request) });
        let (a, b) = tokio::join!(
            app.post("/api/v1/login/passkey", None, body.clone()),
            other.post("/api/v1/login/passkey", None, body.clone()),
        );
        let mut statuses = [a.status(), b.status()];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::OK, StatusCode::GONE]);
    }
}

/// `driver` of `acme` with a confirmed email address and a passkey that is the second
/// factor in both apps.
async fn driver_with_passkey_as_second_factor(app: &TestApp) -> (Company, String, SoftPasskey) {
    let company = app.company("acme").await;
    let driver = UserRequest {
        username: "driver".into(),
        email: Some("driver@fleet.example".into()),
        email_verified: true,
        ..Default::default()
    };
    app.user_from(company.account, company.admin, driver).await;
    let token = app.signed_in("driver").await;
    let mut key = SoftPasskey::es256(&origin(app));
    register(app, &token, &mut key, "Phone").await;
    let on = app
        .send(Method::PUT, "/api/v1/me/two-factor", Some(&token), Some(json!({ "method": "passkey" })))
        .await;
    assert_eq!(json_of(on, StatusCode::OK).await, json!({ "web": "passkey", "manager": "passkey" }));
    (company, token, key)
}

async fn challenged(app: &TestApp) -> Value {
    let answer = json_of(app.login("driver", PASSWORD).await, StatusCode::OK).await;
    assert_eq!(answer["status"], "second_factor", "{answer}");
    answer
}

db_test! {
    async fn a_passkey_as_the_second_factor_answers_the_challenge_a_password_opens(app: TestApp) {
        let (company, _, mut key) = driver_with_passkey_as_second_factor(&app).await;
        let challenge = challenged(&app).await;
        assert_eq!(challenge["method"], "passkey");
        assert_eq!(challenge["channels"], json!(["sms", "email"]), "a code instead, for a passkey out of reach");
        let allowed = challenge["publicKey"]["allowCredentials"].as_array().unwrap();
        assert_eq!(allowed.len(), 1, "the driver's own passkey is offered");
        assert!(app.smtp.mails().is_empty(), "nothing is sent");
        // A wrong answer counts as a wrong code; the challenge may be answered again.
        let mut answer = key.get(&challenge["publicKey"]);
        answer["response"]["clientDataJSON"] = json!("e30");
        let body = json!({ "challenge": challenge["challenge"], "credential": answer });
        let wrong = json_of(app.post("/api/v1/login/verify", None, body).await, StatusCode::UNAUTHORIZED).await;
        assert_eq!((wrong["error"].as_str(), wrong["attempts_left"].as_i64()), (Some("invalid_code"), Some(4)));
        let body = json!({ "challenge": challenge["challenge"], "credential": key.get(&challenge["publicKey"]) });
        let signed_in = json_of(app.post("/api/v1/login/verify", None, body.clone()).await, StatusCode::OK).await;
        assert_eq!(signed_in["session"]["user"]["username"], "driver");
        let replayed = app.post("/api/v1/login/verify", None, body).await;
        assert_eq!(replayed.status(), StatusCode::GONE, "the challenge is over");
        let trail = app.audit_trail(company.account).await;
        assert!(trail.iter().any(|(a, d)| a == "second_factor.passed" && d["by"] == "passkey"));
        assert!(trail.iter().any(|(a, d)| a == "sign_in.failed" && d["result"] == "wrong_passkey"));
        let amr: Vec<String> = app.column("SELECT amr FROM sessions ORDER BY id DESC LIMIT 1").await;
        assert_eq!(amr, ["pwd hwk mfa"]);
    }
}

db_test! {
    async fn a_passkey_out_of_reach_gives_way_to_a_code_by_email_at_once(app: TestApp) {
        let (_, _, _) = driver_with_passkey_as_second_factor(&app).await;
        let challenge = challenged(&app).await;
        let body = json!({ "challenge": challenge["challenge"], "channel": "email" });
        let sent = json_of(app.post("/api/v1/login/resend", None, body).await, StatusCode::OK).await;
        assert_eq!(sent["channel"], "email");
        let code = app.smtp.wait_for(1).await.code_after("code is ");
        let body = json!({ "challenge": challenge["challenge"], "code": code });
        let signed_in = json_of(app.post("/api/v1/login/verify", None, body).await, StatusCode::OK).await;
        assert_eq!(signed_in["status"], "ok");
        let neither = app.post("/api/v1/login/verify", None, json!({ "challenge": "x" })).await;
        assert_eq!(neither.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
}

db_test! {
    async fn the_passkey_factor_needs_a_passkey_and_keeps_its_last_one(app: TestApp) {
        let company = app.company("acme").await;
        let driver = app.user(company.account, company.admin, "driver").await;
        let token = app.signed_in("driver").await;
        let refused = app.send(Method::PUT, "/api/v1/me/two-factor", Some(&token), Some(json!({ "method": "passkey" }))).await;
        assert_eq!(json_of(refused, StatusCode::UNPROCESSABLE_ENTITY).await["field"], "method");
        let mut key = SoftPasskey::es256(&origin(&app));
        let id = register(&app, &token, &mut key, "Phone").await["id"].as_i64().unwrap();
        let on = app.send(Method::PUT, "/api/v1/me/two-factor", Some(&token), Some(json!({ "method": "passkey" }))).await;
        assert_eq!(on.status(), StatusCode::OK);
        let path = format!("/api/v1/me/passkeys/{id}");
        let last = app.send(Method::DELETE, &path, Some(&token), Some(json!({ "current_password": PASSWORD }))).await;
        assert_eq!(json_of(last, StatusCode::UNPROCESSABLE_ENTITY).await["field"], "id");
        // An administrator's reset, for a lost phone, takes the passkeys too.
        let admin = app.signed_in("acme-admin").await;
        let reset = app.post(&format!("/api/v1/users/{}/two-factor/reset", driver.0), Some(&admin), json!({})).await;
        assert!(reset.status().is_success(), "{}", reset.status());
        let listed = json_of(app.get("/api/v1/me/passkeys", Some(&token)).await, StatusCode::OK).await;
        assert_eq!(listed["passkeys"], json!([]));
        assert_eq!(sign_in_with(&app, &mut key, json!({})).await.status(), StatusCode::UNAUTHORIZED);
    }
}

/// The company's policy asks for passkeys by `rule`, set by its administrator `admin`.
async fn require_passkeys(app: &TestApp, company: &Company, admin: &str, rule: Value) {
    let admin = app.signed_in(admin).await;
    let path = format!("/api/v1/accounts/{}/two-factor-policy", company.account.0);
    let body = json!({ "require_passkey": rule });
    let changed = json_of(app.send(Method::PUT, &path, Some(&admin), Some(body)).await, StatusCode::OK).await;
    assert_eq!(changed["require_passkey"], rule);
}

db_test! {
    async fn a_company_that_requires_passkeys_leads_those_without_one_to_add_one_and_asks_the_others_for_theirs(app: TestApp) {
        let company = app.company("acme").await;
        app.user(company.account, company.admin, "driver").await;
        require_passkeys(&app, &company, "acme-admin", json!({ "web": "administrators", "manager": "everyone" })).await;
        // The driver in the web app: not covered.
        let web = json_of(app.login("driver", PASSWORD).await, StatusCode::OK).await;
        assert!(!web["pending"].as_array().unwrap().contains(&json!("register_passkey")), "{web}");
        // The administrator, who has none: signed in, owing a passkey before anything else.
        let signed_in = json_of(app.login("acme-admin", PASSWORD).await, StatusCode::OK).await;
        assert!(signed_in["pending"].as_array().unwrap().contains(&json!("register_passkey")), "{signed_in}");
        let token = signed_in["token"].as_str().unwrap().to_owned();
        app.post("/api/v1/session/accept-dpa", Some(&token), json!({})).await;
        let refused = json_of(app.get("/api/v1/sessions", Some(&token)).await, StatusCode::FORBIDDEN).await;
        assert_eq!((refused["error"].as_str(), refused["pending"].clone()), (Some("pending_duty"), json!(["register_passkey"])));
        let mut key = SoftPasskey::es256(&origin(&app));
        register(&app, &token, &mut key, "Laptop").await;
        assert_eq!(app.get("/api/v1/sessions", Some(&token)).await.status(), StatusCode::OK, "the duty is done");
        // Next time the password is not enough: the passkey is the second factor, whatever
        // the administrator's own setting, and a trusted device does not stand in for it.
        let challenge = json_of(app.login("acme-admin", PASSWORD).await, StatusCode::OK).await;
        assert_eq!((challenge["status"].as_str(), challenge["method"].as_str()), (Some("second_factor"), Some("passkey")));
        let body = json!({ "challenge": challenge["challenge"], "credential": key.get(&challenge["publicKey"]) });
        let signed_in = json_of(app.post("/api/v1/login/verify", None, body).await, StatusCode::OK).await;
        assert_eq!(signed_in["pending"], json!([]));
        // The manager app asks everyone: the driver too.
        let body = json!({ "username": "driver", "password": PASSWORD, "app": "manager" });
        let manager = json_of(app.post("/api/v1/login", None, body).await, StatusCode::OK).await;
        assert!(manager["pending"].as_array().unwrap().contains(&json!("register_passkey")), "{manager}");
        let trail = app.audit_trail(company.account).await;
        assert!(trail.iter().any(|(a, d)| a == "two_factor_policy.changed" && d["after"]["require_passkey.web"] == "administrators"), "{trail:?}");
    }
}

db_test! {
    async fn the_sign_in_pages_passkey_form_signs_in_acting_as_someone_and_refuses_a_wrong_answer_on_the_page(app: TestApp) {
        let (driver, mut key) = admin_with_passkey_who_may_act_as_driver(&app).await;
        let agent = crate::agent::Agent::new(&app);
        let login = agent.visit("/login").await;
        let (_, _, page) = login.page();
        // What the page's script sends: the options' handle and the answer, as JSON.
        let (challenge, options) = sign_in_options(&app).await;
        let mut wrong = key.get(&options);
        wrong["response"]["clientDataJSON"] = json!("e30");
        let fields = [("challenge", challenge.as_str()), ("credential", &wrong.to_string()), ("login_as", "")];
        let refused = agent.submit(page, "/login/passkey", &fields).await;
        let (path, status, body) = refused.page();
        assert_eq!((path, status), ("/login/passkey", StatusCode::UNAUTHORIZED));
        assert!(body.contains("This passkey was not accepted."), "{body}");
        let (challenge, options) = sign_in_options(&app).await;
        let answer = key.get(&options).to_string();
        let fields = [("challenge", challenge.as_str()), ("credential", answer.as_str()), ("login_as", "driver")];
        let home = agent.submit(body, "/login/passkey", &fields).await;
        let (path, status, _) = home.page();
        assert_eq!((path, status), ("/", StatusCode::OK));
        let acting: Vec<Option<i64>> = app.column("SELECT acting_as_id FROM sessions ORDER BY id DESC LIMIT 1").await;
        assert_eq!(acting, [Some(driver.0)], "\"Login as\" names the target");
    }
}
