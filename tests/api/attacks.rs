//! Attacks tried against the server, each a test named after the attack: escalations of
//! rights, races against the lock-outs, and abuse of what anonymous clients may send.

use portcullis::{accounts::MAX_NESTING, lifecycle, rights::Actor, store::TermsChanges, values::UserId};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::Duration;

use crate::{db_test, helpers::*};

/// Signs in on the sign-in page as a browser would; the page that answers.
async fn sign_in_on_the_page(app: &TestApp, username: &str, password: &str) -> String {
    let browser = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let page = browser.get(app.url("/login")).send().await.unwrap().text().await.unwrap();
    let at = page.find("name=\"csrf\" value=\"").expect("a form token") + 19;
    let csrf: String = page[at..].chars().take_while(|c| *c != '"').collect();
    let form = [("csrf", csrf.as_str()), ("username", username), ("password", password)];
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
    let post = browser.post(app.url("/login")).header("content-type", "application/x-www-form-urlencoded");
    post.body(body).send().await.unwrap().text().await.unwrap()
}

async fn grant(app: &TestApp, by: &str, holder: UserId, target: UserId, rights: Value) -> StatusCode {
    let path = format!("/api/v1/users/{}/grants/{}", holder.0, target.0);
    app.send(Method::PUT, &path, Some(by), Some(json!({ "rights": rights }))).await.status()
}

async fn patch_user(app: &TestApp, by: &str, user: UserId, patch: Value) -> StatusCode {
    app.send(Method::PATCH, &format!("/api/v1/users/{}", user.0), Some(by), Some(patch)).await.status()
}

/// A reseller whose `support` user holds `act_as` on the top user of the fleet below it;
/// returns the fleet, `support`, and the token of `support` acting as its top user.
async fn support_acting_as_fleet_admin(app: &TestApp) -> (Company, UserId, String) {
    let reseller = app.company("reseller").await;
    let fleet = app.company_below(&reseller, "fleet").await;
    let support = app.user(reseller.account, reseller.admin, "support").await;
    app.signed_in("fleet-admin").await;
    let admin = app.signed_in("reseller-admin").await;
    assert_eq!(grant(app, &admin, support, fleet.admin, json!(["act_as"])).await, StatusCode::OK);
    let acting = support_acting_as(app, fleet.admin).await;
    (fleet, support, acting)
}

/// `support` signed in and acting as `target`: the acting session's token.
async fn support_acting_as(app: &TestApp, target: UserId) -> String {
    let token = app.signed_in("support").await;
    let switched = app.post("/api/v1/impersonation", Some(&token), json!({ "user_id": target })).await;
    json_of(switched, StatusCode::OK).await["token"].as_str().unwrap().to_owned()
}

db_test! {
    async fn nesting_accounts_past_the_cap_is_refused_and_blocking_reaches_the_deepest_level(app: TestApp) {
        let top = app.company("level0").await;
        let mut deepest = app.company_below(&top, "level1").await;
        for level in 2..=MAX_NESTING {
            deepest = app.company_below(&deepest, &format!("level{level}")).await;
        }
        let bottom = app.signed_in(&format!("level{MAX_NESTING}-admin")).await;
        let body = json!({ "name": "too-deep", "admin": { "username": "too-deep-admin", "password": PASSWORD } });
        let refused = json_of(app.post("/api/v1/accounts", Some(&bottom), body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(refused["field"], "parent_id");

        let top_admin = app.signed_in("level0-admin").await;
        let path = format!("/api/v1/accounts/{}", deepest.account.0);
        assert_eq!(app.get(&path, Some(&top_admin)).await.status(), StatusCode::OK, "the top sees the deepest");
        let block = TermsChanges { blocking_at: Some(Some(app.now())), ..Default::default() };
        lifecycle::change_terms(&app.app.store, &Actor::operator(), top.account, &block, app.now()).await.unwrap();
        assert_eq!(app.get("/api/v1/session", Some(&bottom)).await.status(), StatusCode::FORBIDDEN);
        let again = app.login(&format!("level{MAX_NESTING}-admin"), PASSWORD).await;
        assert_eq!(json_of(again, StatusCode::FORBIDDEN).await["error"], "account_blocked");
    }
}

db_test! {
    async fn a_stolen_top_user_session_cannot_change_its_own_credentials_through_administration(app: TestApp) {
        let company = app.company("acme").await;
        let admin = app.signed_in("acme-admin").await;
        let new_password = "Zk4!stolen-Harbour-9";
        for patch in [json!({ "password": new_password }), json!({ "email": "thief@evil.example" }), json!({ "phone": "+35399999999" })] {
            assert_eq!(patch_user(&app, &admin, company.admin, patch).await, StatusCode::FORBIDDEN);
        }
        let reset = format!("/api/v1/users/{}/two-factor/reset", company.admin.0);
        assert_eq!(app.post(&reset, Some(&admin), json!({})).await.status(), StatusCode::FORBIDDEN);
        assert_eq!(app.login("acme-admin", new_password).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(app.login("acme-admin", PASSWORD).await.status(), StatusCode::OK);
    }
}

db_test! {
    async fn a_session_acting_as_a_top_user_cannot_take_over_its_credentials_grants_or_policy(app: TestApp) {
        let (fleet, _, acting) = support_acting_as_fleet_admin(&app).await;
        let new_password = "Zk4!stolen-Harbour-9";
        assert_eq!(patch_user(&app, &acting, fleet.admin, json!({ "password": new_password })).await, StatusCode::FORBIDDEN);
        assert_eq!(patch_user(&app, &acting, fleet.admin, json!({ "email": "x@evil.example" })).await, StatusCode::FORBIDDEN);
        let driver = app.user(fleet.account, fleet.admin, "driver").await;
        assert_eq!(grant(&app, &acting, fleet.admin, driver, json!(["act_as"])).await, StatusCode::FORBIDDEN);
        assert_eq!(grant(&app, &acting, driver, fleet.admin, json!(["manage"])).await, StatusCode::FORBIDDEN);
        let policy = json!({ "delivery": "email_only", "allow_trusted_devices": true });
        let path = format!("/api/v1/accounts/{}/two-factor-policy", fleet.account.0);
        assert_eq!(app.send(Method::PUT, &path, Some(&acting), Some(policy)).await.status(), StatusCode::FORBIDDEN);
        assert_eq!(app.login("fleet-admin", new_password).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(patch_user(&app, &acting, driver, json!({ "language": "es" })).await, StatusCode::OK, "the user's own rights");
    }
}

db_test! {
    async fn taking_away_act_as_ends_the_sessions_acting_under_it_at_once(app: TestApp) {
        let (fleet, support, acting) = support_acting_as_fleet_admin(&app).await;
        assert_eq!(app.get("/api/v1/session", Some(&acting)).await.status(), StatusCode::OK);
        let admin = app.signed_in("reseller-admin").await;
        let path = format!("/api/v1/users/{}/grants/{}", support.0, fleet.admin.0);
        assert_eq!(app.send(Method::DELETE, &path, Some(&admin), None).await.status(), StatusCode::NO_CONTENT);
        assert_eq!(app.get("/api/v1/session", Some(&acting)).await.status(), StatusCode::UNAUTHORIZED);
    }
}

db_test! {
    async fn ending_a_user_s_sessions_ends_those_acting_as_them_which_the_user_can_see(app: TestApp) {
        let (fleet, _, acting) = support_acting_as_fleet_admin(&app).await;
        let own = app.signed_in("fleet-admin").await;
        let listed = json_of(app.get("/api/v1/sessions", Some(&own)).await, StatusCode::OK).await;
        let by: Vec<&Value> = listed["sessions"].as_array().unwrap().iter().map(|s| &s["impersonator"]).collect();
        assert!(by.contains(&&json!("support")), "{listed}");
        let change = json!({ "current_password": PASSWORD, "new_password": "Tq5!walrus-Lantern", "new_password_confirmation": "Tq5!walrus-Lantern" });
        assert_eq!(app.post("/api/v1/password/change", Some(&own), change).await.status(), StatusCode::NO_CONTENT);
        assert_eq!(app.get("/api/v1/session", Some(&acting)).await.status(), StatusCode::UNAUTHORIZED);

        let acting = support_acting_as(&app, fleet.admin).await;
        let admin = app.signed_in("reseller-admin").await;
        let end = format!("/api/v1/users/{}/sessions", fleet.admin.0);
        assert_eq!(app.send(Method::DELETE, &end, Some(&admin), None).await.status(), StatusCode::OK);
        assert_eq!(app.get("/api/v1/session", Some(&acting)).await.status(), StatusCode::UNAUTHORIZED);
    }
}

db_test! {
    async fn a_demoted_top_user_loses_power_over_the_administrator_it_created(app: TestApp) {
        let company = app.company("acme").await;
        let first = app.signed_in("acme-admin").await;
        let body = json!({ "username": "second", "password": PASSWORD, "must_change_password": false });
        let second = json_of(app.post("/api/v1/users", Some(&first), body).await, StatusCode::CREATED).await;
        let second = UserId(second["id"].as_i64().unwrap());
        assert_eq!(patch_user(&app, &first, second, json!({ "top_user": true })).await, StatusCode::OK);
        let second_token = app.signed_in("second").await;
        assert_eq!(patch_user(&app, &second_token, company.admin, json!({ "top_user": false })).await, StatusCode::OK);

        assert_eq!(patch_user(&app, &first, second, json!({ "password": "Zk4!stolen-Harbour-9" })).await, StatusCode::FORBIDDEN);
        let reset = format!("/api/v1/users/{}/two-factor/reset", second.0);
        assert_eq!(app.post(&reset, Some(&first), json!({})).await.status(), StatusCode::FORBIDDEN);
        assert_eq!(grant(&app, &first, company.admin, second, json!(["act_as"])).await, StatusCode::FORBIDDEN);
        assert_eq!(patch_user(&app, &first, company.admin, json!({ "top_user": true })).await, StatusCode::FORBIDDEN);
        let me = json_of(app.get("/api/v1/session", Some(&first)).await, StatusCode::OK).await;
        assert_eq!(me["user"]["username"], "acme-admin");
        assert_eq!(app.login("second", PASSWORD).await.status(), StatusCode::OK);
    }
}

db_test! {
    async fn a_burst_of_parallel_wrong_passwords_gets_no_more_guesses_than_the_lock_allows(app: TestApp) {
        let company = app.company("acme").await;
        app.user(company.account, company.admin, "driver").await;
        let guesses = (0..29).map(|i| {
            let body = json!({ "username": "driver", "password": format!("wrong-guess-{i}") });
            app.post("/api/v1/login", None, body)
        });
        let statuses: Vec<StatusCode> = futures_util::future::join_all(guesses).await.iter().map(|r| r.status()).collect();
        let evaluated = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
        assert!(evaluated <= 5, "{evaluated} guesses were checked: {statuses:?}");
        assert!(statuses.iter().all(|s| [StatusCode::UNAUTHORIZED, StatusCode::LOCKED].contains(s)), "{statuses:?}");
        assert_eq!(app.login("driver", PASSWORD).await.status(), StatusCode::LOCKED);
    }
}

db_test! {
    async fn made_up_http_methods_do_not_grow_the_metrics(app: TestApp) {
        for i in 0..20 {
            let method = Method::from_bytes(format!("PROBE{i}").as_bytes()).unwrap();
            app.send(method, "/api/v1/session", None, None).await;
        }
        let metrics = app.get("/metrics", None).await.text().await.unwrap();
        assert!(!metrics.contains("PROBE"), "a label per made-up method");
        assert!(metrics.contains("method=\"other\""));
    }
}

db_test! {
    async fn oversized_names_are_refused_before_anything_is_stored_and_made_up_names_are_bounded(app: TestApp) {
        let huge = "u".repeat(60_000);
        let forgot = json!({ "username": huge, "email": "x@fleet.example" });
        assert_eq!(app.post("/api/v1/password/forgot", None, forgot).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let login = json!({ "username": "u".repeat(65), "password": "whatever" });
        assert_eq!(app.post("/api/v1/login", None, login).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(app.column::<i64>("SELECT COUNT(*) FROM throttles").await, [0]);
        let mut refused = 0;
        for i in 0..40 {
            let forgot = json!({ "username": format!("nobody-{i}"), "email": "x@fleet.example" });
            if app.post("/api/v1/password/forgot", None, forgot).await.status() == StatusCode::TOO_MANY_REQUESTS {
                refused += 1;
            }
        }
        assert_eq!(refused, 10, "one address makes at most 30 requests in 15 minutes");
        let rows = app.column::<i64>("SELECT COUNT(*) FROM throttles WHERE scope = 'reset'").await[0];
        assert!(rows <= 31, "{rows} counters");
    }
}

db_test! {
    async fn a_tenant_cannot_mint_sms_quota_it_does_not_hold(app: TestApp) {
        app.company("acme").await;
        let admin = app.signed_in("acme-admin").await;
        let child = |name: &str, quota: i64| json!({ "name": name, "admin": { "username": format!("{name}-admin"), "password": PASSWORD }, "sms_quota": quota });
        let minted = json_of(app.post("/api/v1/accounts", Some(&admin), child("north", 1_000_000_000)).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(minted["field"], "sms_quota");

        app.company_with_sms("reseller", Some(100)).await;
        let reseller = app.signed_in("reseller-admin").await;
        let over = app.post("/api/v1/accounts", Some(&reseller), child("fleet", 101)).await;
        assert_eq!(over.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let fleet = json_of(app.post("/api/v1/accounts", Some(&reseller), child("fleet", 100)).await, StatusCode::CREATED).await;
        let path = format!("/api/v1/accounts/{}", fleet["account"]["id"]);
        let raise = json!({ "services": { "sms": { "quota": 500 } } });
        assert_eq!(app.send(Method::PATCH, &path, Some(&reseller), Some(raise)).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let lower = json!({ "services": { "sms": { "quota": 10 } } });
        assert_eq!(app.send(Method::PATCH, &path, Some(&reseller), Some(lower)).await.status(), StatusCode::OK);
    }
}

db_test! {
    async fn alternating_apps_cannot_send_codes_faster_than_the_resend_rule(app: TestApp) {
        app.sms_driver(Some(10)).await;
        let sign_in = |which: &str| app.post("/api/v1/login", None, json!({ "username": "driver", "password": PASSWORD, "app": which }));
        assert_eq!(json_of(sign_in("web").await, StatusCode::OK).await["status"], "second_factor");
        let refused = json_of(sign_in("manager").await, StatusCode::TOO_MANY_REQUESTS).await;
        assert_eq!(refused["error"], "too_soon");
        assert_eq!(json_of(sign_in("web").await, StatusCode::OK).await["status"], "second_factor");
        app.sms.wait_for(1).await;
        assert_eq!(app.sms.sent().len(), 1);
        app.advance(Duration::seconds(30));
        assert_eq!(json_of(sign_in("manager").await, StatusCode::OK).await["status"], "second_factor");
        app.sms.wait_for(2).await;
    }
}

db_test! {
    async fn a_page_s_background_poll_does_not_keep_an_idle_session_alive(app: TestApp) {
        let company = app.company("acme").await;
        app.user(company.account, company.admin, "driver").await;
        let token = app.signed_in("driver").await;
        for _ in 0..3 {
            app.advance(Duration::minutes(2));
            let poll = app.get("/api/v1/session?background=true", Some(&token)).await;
            if poll.status() != StatusCode::OK {
                assert_eq!(poll.status(), StatusCode::UNAUTHORIZED);
                return;
            }
        }
        panic!("a session polled in the background never went idle");
    }
}

db_test! {
    async fn cookie_authenticated_api_changes_from_another_origin_are_refused(app: TestApp) {
        let company = app.company("acme").await;
        app.user(company.account, company.admin, "driver").await;
        let token = app.token("driver", PASSWORD).await;
        let cookie = format!("portcullis_session={token}");
        let accept = |origin: &str| {
            app.http
                .post(app.url("/api/v1/session/accept-dpa"))
                .header("cookie", &cookie)
                .header("origin", origin)
                .header("content-type", "text/plain")
                .send()
        };
        let refused = json_of(accept("https://evil.example").await.unwrap(), StatusCode::FORBIDDEN).await;
        assert_eq!(refused["error"], "cross_origin");
        let unlock = format!("/api/v1/users/{}/unlock", company.admin.0);
        let foreign = app.http.post(app.url(&unlock)).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(json_of(foreign, StatusCode::FORBIDDEN).await["error"], "cross_origin", "no origin at all");
        let own = format!("http://{}", app.addr);
        assert_eq!(accept(&own).await.unwrap().status(), StatusCode::OK);
        let bearer = app.http.post(app.url("/api/v1/session/accept-dpa")).bearer_auth(&token).header("origin", "https://evil.example");
        assert_eq!(bearer.send().await.unwrap().status(), StatusCode::OK, "bearer clients are unaffected");
    }
}

db_test! {
    async fn turning_two_factor_off_or_adding_an_authenticator_needs_the_password(app: TestApp) {
        let company = app.company("acme").await;
        app.driver_with_confirmed_email(&company).await;
        let token = app.signed_in("driver").await;
        let put = |body: Value| app.send(Method::PUT, "/api/v1/me/two-factor", Some(&token), Some(body));
        let on = put(json!({ "method": "email" })).await;
        assert_eq!(on.status(), StatusCode::OK, "turning a factor on needs no password");
        let off = json_of(put(json!({ "method": "none" })).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(off["field"], "current_password");
        let wrong = put(json!({ "method": "none", "apps": ["web"], "current_password": "not-it" })).await;
        assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let enrol = json_of(app.post("/api/v1/me/totp", Some(&token), json!({})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(enrol["field"], "password");
        let security = json_of(app.get("/api/v1/me/security", Some(&token)).await, StatusCode::OK).await;
        assert_eq!(security["two_factor"], json!({ "web": "email", "manager": "email" }));
        let off = put(json!({ "method": "none", "current_password": PASSWORD })).await;
        assert_eq!(json_of(off, StatusCode::OK).await, json!({ "web": null, "manager": null }));
    }
}

db_test! {
    async fn a_bad_path_query_or_method_gets_a_json_error(app: TestApp) {
        let company = app.company("acme").await;
        let admin = app.signed_in("acme-admin").await;
        let path = app.send(Method::PATCH, "/api/v1/users/not-a-number", Some(&admin), Some(json!({}))).await;
        assert_eq!(json_of(path, StatusCode::NOT_FOUND).await["error"], "not_found");
        let query = app.get("/api/v1/me/login-history?limit=many", Some(&admin)).await;
        assert_eq!(json_of(query, StatusCode::BAD_REQUEST).await["error"], "invalid_query");
        let audit = format!("/api/v1/accounts/{}/audit?before=yesterday", company.account.0);
        assert_eq!(json_of(app.get(&audit, Some(&admin)).await, StatusCode::BAD_REQUEST).await["error"], "invalid_query");
        let method = app.send(Method::DELETE, "/api/v1/login", None, None).await;
        assert_eq!(json_of(method, StatusCode::METHOD_NOT_ALLOWED).await["error"], "method_not_allowed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_sending_half_a_request_head_is_cut_off_at_the_deadline() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_with(Backend::Sqlite, &["--header-timeout-seconds", "1"]).await;
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: portcullis\r\nX-Slow: ").await.unwrap();
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    let closed =
        tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    assert!(closed.is_ok(), "the connection was still open after 10 s");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "closed after {:?}", started.elapsed());
    assert!(!String::from_utf8_lossy(&answer).contains("200 OK"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    let app = TestApp::spawn_with(Backend::Sqlite, &["--max-connections", "2"]).await;
    let first = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let _second = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let url = app.url("/healthz");
    let third = tokio::spawn(async move { reqwest::get(url).await.map(|r| r.status()) });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!third.is_finished(), "a third connection was served beside two open ones");
    drop(first);
    let answered = tokio::time::timeout(std::time::Duration::from_secs(5), third).await;
    assert_eq!(answered.expect("served once a slot was free").unwrap().unwrap(), StatusCode::OK);
}

db_test! {
    async fn codes_and_reset_links_never_go_to_an_address_nobody_confirmed(app: TestApp) {
        let company = app.company("acme").await;
        let admin = app.signed_in("acme-admin").await;
        let path = format!("/api/v1/accounts/{}/two-factor-policy", company.account.0);
        let policy = json!({ "contact": { "name": "Ops desk", "phone": "+35315550100" } });
        json_of(app.send(Method::PUT, &path, Some(&admin), Some(policy)).await, StatusCode::OK).await;
        let driver = app.driver_with_confirmed_email(&company).await;
        let token = app.signed_in("driver").await;
        let on = app.send(Method::PUT, "/api/v1/me/two-factor", Some(&token), Some(json!({ "method": "email" }))).await;
        assert_eq!(on.status(), StatusCode::OK);
        // An administrator (or a thief with an administrator's session) types another address.
        assert_eq!(patch_user(&app, &admin, driver, json!({ "email": "thief@evil.example" })).await, StatusCode::OK);
        let refused = json_of(app.login("driver", PASSWORD).await, StatusCode::FORBIDDEN).await;
        assert_eq!(refused["error"], "second_factor_unavailable");
        assert_eq!(refused["contact"]["name"], "Ops desk");
        let page = sign_in_on_the_page(&app, "driver", PASSWORD).await;
        assert!(page.contains("Ops desk, +35315550100"), "the sign-in page names whom to call");
        let forgot = json!({ "username": "driver", "email": "thief@evil.example" });
        assert_eq!(app.post("/api/v1/password/forgot", None, forgot).await.status(), StatusCode::ACCEPTED);
        assert!(app.outbox_attempts().await.is_empty(), "a message was queued for an unconfirmed address");

        // Only when the administrator says the address is confirmed (and that is audited).
        let vouch = json!({ "email": "driver@fleet.example", "email_verified": true });
        assert_eq!(patch_user(&app, &admin, driver, vouch).await, StatusCode::OK);
        let answer = json_of(app.login("driver", PASSWORD).await, StatusCode::OK).await;
        assert_eq!(answer["status"], "second_factor");
        let updated: Vec<Value> = app.audit_trail(company.account).await.into_iter().filter(|(a, _)| a == "user.updated").map(|(_, d)| d).collect();
        assert_eq!(updated.last().unwrap()["after"]["email_verified"], true);
    }
}

db_test! {
    async fn a_username_that_hides_characters_or_looks_like_another_is_refused(app: TestApp) {
        app.company("acme").await;
        let admin = app.signed_in("acme-admin").await;
        let create = |name: &str| app.post("/api/v1/users", Some(&admin), json!({ "username": name, "password": PASSWORD }));
        assert_eq!(create("demo").await.status(), StatusCode::CREATED);
        for hidden in ["demo\u{200b}", "\u{202e}omed", "de\u{2060}mo"] {
            let refused = json_of(create(hidden).await, StatusCode::UNPROCESSABLE_ENTITY).await;
            assert_eq!(refused["field"], "username", "{hidden:?}");
        }
        for look_alike in ["dem\u{043e}", "ｄｅｍｏ", "DEMO".to_lowercase().as_str()] {
            let refused = json_of(create(look_alike).await, StatusCode::CONFLICT).await;
            assert_eq!(refused["field"], "username", "{look_alike:?}");
        }
        assert_eq!(create("demo2").await.status(), StatusCode::CREATED);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_flood_beyond_the_hashing_queue_is_shed_at_once_and_counts_no_failure() {
    let app = TestApp::spawn_with(Backend::Sqlite, &["--hash-threads", "1", "--hash-queue", "1"]).await;
    let guesses = (0..12).map(|i| {
        app.post("/api/v1/login", None, json!({ "username": format!("nobody-{i}"), "password": "not-it" }))
    });
    let answers = futures_util::future::join_all(guesses).await;
    let shed: Vec<_> = answers.iter().filter(|a| a.status() == StatusCode::SERVICE_UNAVAILABLE).collect();
    assert!(
        !shed.is_empty(),
        "nothing was shed: {:?}",
        answers.iter().map(|a| a.status()).collect::<Vec<_>>()
    );
    assert!(shed.iter().all(|a| a.headers().get("retry-after").is_some()));
    let checked = answers.iter().filter(|a| a.status() == StatusCode::UNAUTHORIZED).count();
    assert_eq!(checked + shed.len(), 12);
    let counted = app
        .column::<i64>("SELECT COALESCE(SUM(failures), 0) FROM throttles WHERE subject LIKE 'user:%'")
        .await;
    assert_eq!(counted, [checked as i64], "a shed attempt was counted as a failure");
    assert_eq!(app.get("/api/v1/session", None).await.status(), StatusCode::UNAUTHORIZED, "checks go on");
}
