//! Acting as another user: who may act as whom, no chains, the effective user's rights,
//! switching back, login as, and where it is written down.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use portcullis::{rights::Actor, values::Right};

use crate::{db_test, helpers::*};

/// `acme` with `driver` (made by the admin) and the admin holding `act_as` on the driver.
async fn company_with_grant(app: &TestApp) -> (Company, portcullis::values::UserId, String) {
    let company = app.company("acme").await;
    let driver = app.user(company.account, company.admin, "driver").await;
    app.signed_in("driver").await;
    let admin = app.signed_in("acme-admin").await;
    let path = format!("/api/v1/users/{}/grants/{}", company.admin.0, driver.0);
    json_of(
        app.send(Method::PUT, &path, Some(&admin), Some(json!({ "rights": ["act_as"] }))).await,
        StatusCode::OK,
    )
    .await;
    (company, driver, admin)
}

async fn act_as(app: &TestApp, token: &str, user: portcullis::values::UserId) -> reqwest::Response {
    app.post("/api/v1/impersonation", Some(token), json!({ "user_id": user })).await
}

db_test! {
    async fn acting_as_needs_the_act_as_grant_and_a_new_token_replaces_the_old(app: TestApp) {
        let (company, driver, admin) = company_with_grant(&app).await;
        let targets = json_of(app.get("/api/v1/impersonation/targets?q=DRI", Some(&admin)).await, StatusCode::OK).await;
        assert_eq!(targets["targets"][0]["user"]["username"], "driver");
        assert_eq!(targets["targets"][0]["account"]["name"], "acme");
        let by_account = app.get("/api/v1/impersonation/targets?q=acme&kind=users", Some(&admin)).await;
        assert_eq!(json_of(by_account, StatusCode::OK).await["targets"], json!([]));
        let switched = json_of(act_as(&app, &admin, driver).await, StatusCode::OK).await;
        assert_eq!(switched["session"]["user"]["username"], "driver");
        assert_eq!(switched["session"]["acting_as"]["username"], "driver");
        assert_eq!(switched["session"]["impersonator"]["username"], "acme-admin");
        assert_eq!(app.get("/api/v1/session", Some(&admin)).await.status(), StatusCode::UNAUTHORIZED);
        let token = switched["token"].as_str().unwrap();
        let session = json_of(app.get("/api/v1/session", Some(token)).await, StatusCode::OK).await;
        assert_eq!(session["impersonator"]["username"], "acme-admin");
        // No grant, no impersonation; and never as someone who manages you.
        app.user(company.account, company.admin, "other").await;
        let other = app.signed_in("other").await;
        assert_eq!(act_as(&app, &other, driver).await.status(), StatusCode::FORBIDDEN);
        // Nobody grants rights on themselves: the operator does it here.
        let store = &app.app.store;
        portcullis::users::set_grants(store, &Actor::operator(), driver, company.admin, &[Right::ActAs], app.now()).await.unwrap();
        let driver_token = app.signed_in("driver").await;
        assert_eq!(act_as(&app, &driver_token, company.admin).await.status(), StatusCode::FORBIDDEN);
        let none = app.get("/api/v1/impersonation/targets", Some(&driver_token)).await;
        assert_eq!(json_of(none, StatusCode::OK).await["targets"], json!([]));
    }
}

db_test! {
    async fn an_acting_session_has_only_the_user_s_rights_cannot_chain_and_switches_back(app: TestApp) {
        let (company, driver, admin) = company_with_grant(&app).await;
        let helper = app.user(company.account, company.admin, "helper").await;
        let path = format!("/api/v1/users/{}/grants/{}", driver.0, helper.0);
        json_of(app.send(Method::PUT, &path, Some(&admin), Some(json!({ "rights": ["manage", "act_as"] }))).await, StatusCode::OK).await;
        let path = format!("/api/v1/users/{}/grants/{}", company.admin.0, helper.0);
        json_of(app.send(Method::PUT, &path, Some(&admin), Some(json!({ "rights": ["act_as"] }))).await, StatusCode::OK).await;
        let switched = json_of(act_as(&app, &admin, driver).await, StatusCode::OK).await;
        let acting = switched["token"].as_str().unwrap().to_owned();
        let audit = format!("/api/v1/accounts/{}/audit", company.account.0);
        assert_eq!(app.get(&audit, Some(&acting)).await.status(), StatusCode::FORBIDDEN, "the driver's rights");
        let chained = act_as(&app, &acting, helper).await;
        assert_eq!(json_of(chained, StatusCode::UNPROCESSABLE_ENTITY).await["field"], "user_id");
        let patch = app.send(Method::PATCH, &format!("/api/v1/users/{}", helper.0), Some(&acting), Some(json!({ "language": "es" }))).await;
        assert_eq!(patch.status(), StatusCode::OK, "what the driver may do");
        let own = app.send(Method::PUT, "/api/v1/me/two-factor", Some(&acting), Some(json!({ "method": "none" }))).await;
        assert_eq!(own.status(), StatusCode::FORBIDDEN, "nobody changes another's second factor");
        let back = json_of(app.send(Method::DELETE, "/api/v1/impersonation", Some(&acting), None).await, StatusCode::OK).await;
        assert_eq!(back["session"]["user"]["username"], "acme-admin");
        assert_eq!(back["session"]["impersonator"], Value::Null);
        assert_eq!(app.get("/api/v1/session", Some(&acting)).await.status(), StatusCode::UNAUTHORIZED);
        let restored = back["token"].as_str().unwrap();
        let log = json_of(app.get(&format!("{audit}?limit=500"), Some(restored)).await, StatusCode::OK).await;
        let events = log["events"].as_array().unwrap();
        let by = |action: &str| events.iter().find(|e| e["action"] == action).unwrap_or_else(|| panic!("no {action}")).clone();
        let updated = by("user.updated");
        assert_eq!((updated["user"]["username"].as_str(), updated["acting_as"]["username"].as_str()), (Some("acme-admin"), Some("driver")));
        assert_eq!(by("impersonation.started")["subject"]["username"], "driver");
        assert_eq!(by("impersonation.ended")["user"]["username"], "acme-admin");
        let history = json_of(app.get("/api/v1/me/login-history", Some(restored)).await, StatusCode::OK).await;
        assert!(history["entries"].as_array().unwrap().iter().all(|e| e.get("login_as").is_none()), "switching is no sign-in");
    }
}

db_test! {
    async fn login_as_acts_as_the_user_and_the_signer_s_history_names_both(app: TestApp) {
        let (_, _, _) = company_with_grant(&app).await;
        let body = json!({ "username": "acme-admin", "password": PASSWORD, "login_as": "driver" });
        let signed_in = json_of(app.post("/api/v1/login", None, body).await, StatusCode::OK).await;
        assert_eq!(signed_in["session"]["user"]["username"], "driver");
        assert_eq!(signed_in["session"]["impersonator"]["username"], "acme-admin");
        let token = signed_in["token"].as_str().unwrap();
        let history = json_of(app.get("/api/v1/me/login-history", Some(token)).await, StatusCode::OK).await;
        assert_eq!(history["entries"][0]["login_as"], "driver", "the signer's history");
        let driver = app.signed_in("driver").await;
        let theirs = json_of(app.get("/api/v1/me/login-history", Some(&driver)).await, StatusCode::OK).await;
        assert!(theirs["entries"].as_array().unwrap().iter().all(|e| e.get("login_as").is_none()));
        let refused = json!({ "username": "driver", "password": PASSWORD, "login_as": "acme-admin" });
        assert_eq!(json_of(app.post("/api/v1/login", None, refused).await, StatusCode::FORBIDDEN).await["error"], "forbidden");
        let wrong = json!({ "username": "acme-admin", "password": "not-it", "login_as": "driver" });
        assert_eq!(app.post("/api/v1/login", None, wrong).await.status(), StatusCode::UNAUTHORIZED);
    }
}

db_test! {
    async fn with_login_as_the_second_factor_is_the_signer_s_own(app: TestApp) {
        let (_, _, admin) = company_with_grant(&app).await;
        let patch = json!({ "email": "boss@fleet.example", "current_password": PASSWORD });
        json_of(app.send(Method::PATCH, "/api/v1/me/security", Some(&admin), Some(patch)).await, StatusCode::OK).await;
        app.post("/api/v1/me/email/verification", Some(&admin), json!({})).await;
        let code = app.smtp.wait_for(1).await.code_after("code is ");
        app.post("/api/v1/me/email/verification/confirm", Some(&admin), json!({ "code": code })).await;
        let on = json!({ "method": "email" });
        json_of(app.send(Method::PUT, "/api/v1/me/two-factor", Some(&admin), Some(on)).await, StatusCode::OK).await;
        let body = json!({ "username": "acme-admin", "password": PASSWORD, "login_as": "driver" });
        let answer = json_of(app.post("/api/v1/login", None, body).await, StatusCode::OK).await;
        assert_eq!(answer["destination"], "b***@fleet.example");
        let code = app.smtp.wait_for(2).await.code_after("code is ");
        let verify = json!({ "challenge": answer["challenge"], "code": code });
        let signed_in = json_of(app.post("/api/v1/login/verify", None, verify).await, StatusCode::OK).await;
        assert_eq!(signed_in["session"]["user"]["username"], "driver");
        assert_eq!(signed_in["session"]["impersonator"]["username"], "acme-admin");
    }
}

db_test! {
    async fn a_signer_with_duties_pending_does_them_as_themselves_while_acting(app: TestApp) {
        let company = app.company("acme").await;
        let driver = app.user(company.account, company.admin, "driver").await;
        let setup = app.token("acme-admin", PASSWORD).await;
        app.post("/api/v1/session/accept-dpa", Some(&setup), json!({})).await;
        let path = format!("/api/v1/users/{}/grants/{}", company.admin.0, driver.0);
        json_of(app.send(Method::PUT, &path, Some(&setup), Some(json!({ "rights": ["act_as"] }))).await, StatusCode::OK).await;
        app.raw_sql("UPDATE accounts SET dpa_version = 2").await;
        let body = json!({ "username": "acme-admin", "password": PASSWORD, "login_as": "driver" });
        let signed_in = json_of(app.post("/api/v1/login", None, body).await, StatusCode::OK).await;
        assert_eq!(signed_in["pending"], json!(["accept_dpa"]), "the signer's duty");
        let token = signed_in["token"].as_str().unwrap();
        let accepted = json_of(app.post("/api/v1/session/accept-dpa", Some(token), json!({})).await, StatusCode::OK).await;
        assert_eq!(accepted["version"], 2);
        let session = json_of(app.get("/api/v1/session", Some(token)).await, StatusCode::OK).await;
        assert_eq!((session["user"]["username"].as_str(), session["pending"].clone()), (Some("driver"), json!([])));
        let driver_now = app.token("driver", PASSWORD).await;
        let theirs = json_of(app.get("/api/v1/session", Some(&driver_now)).await, StatusCode::OK).await;
        assert_eq!(theirs["pending"], json!(["accept_dpa"]), "the driver still has their own to do");
    }
}
