use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{db_test, helpers::*};

fn new_user(username: &str) -> Value {
    json!({ "username": username, "password": PASSWORD, "email": format!("{username}@fleet.example") })
}

db_test! {
    async fn a_top_user_creates_a_user_in_their_account_and_becomes_its_creator(app: TestApp) {
        let company = app.company("acme").await;
        let token = app.signed_in("acme-admin").await;
        let body = json_of(app.post("/api/v1/users", Some(&token), new_user("driver")).await, StatusCode::CREATED).await;
        assert_eq!(body["username"], "driver");
        assert_eq!(body["account_id"], company.account.0);
        assert_eq!(body["creator_id"], company.admin.0);
        assert_eq!(body["email_verified"], false);
        assert_eq!(app.login("driver", PASSWORD).await.status(), StatusCode::OK);
    }
}

db_test! {
    async fn a_duplicate_username_is_a_409_naming_the_field(app: TestApp) {
        app.company("acme").await;
        let token = app.signed_in("acme-admin").await;
        app.post("/api/v1/users", Some(&token), new_user("driver")).await;
        let body = json_of(app.post("/api/v1/users", Some(&token), new_user("driver")).await, StatusCode::CONFLICT).await;
        assert_eq!(body["error"], "conflict");
        assert_eq!(body["field"], "username");
    }
}

db_test! {
    async fn invalid_fields_are_named(app: TestApp) {
        app.company("acme").await;
        let token = app.signed_in("acme-admin").await;
        let cases = [
            (json!({ "username": " padded", "password": PASSWORD }), "username"),
            (json!({ "username": "driver", "password": "short" }), "password"),
            (json!({ "username": "driver", "password": "password123" }), "password"),
            (json!({ "username": "driver", "password": PASSWORD, "email": "nope" }), "email"),
            (json!({ "username": "driver", "password": PASSWORD, "phone": "12345" }), "phone"),
            (json!({ "username": "driver", "password": PASSWORD, "language": "de" }), "language"),
        ];
        for (body, field) in cases {
            let answer = json_of(app.post("/api/v1/users", Some(&token), body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
            assert_eq!(answer["field"], field, "{answer}");
        }
        assert_eq!(app.login("driver", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    }
}

db_test! {
    async fn a_user_without_rights_gets_403_and_nothing_changes(app: TestApp) {
        let company = app.company("acme").await;
        app.user(company.account, company.admin, "driver").await;
        let token = app.signed_in("driver").await;
        let body = json_of(app.post("/api/v1/users", Some(&token), new_user("intruder")).await, StatusCode::FORBIDDEN).await;
        assert_eq!(body["error"], "forbidden");
        let path = format!("/api/v1/users/{}", company.admin.0);
        let patch = json!({ "email": "stolen@evil.example" });
        assert_eq!(app.send(Method::PATCH, &path, Some(&token), Some(patch)).await.status(), StatusCode::FORBIDDEN);
        assert_eq!(app.login("intruder", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
        let admin = app.app.store.read().await.unwrap().user_by_id(company.admin).await.unwrap().unwrap();
        assert_eq!(admin.email, None);
    }
}

db_test! {
    async fn another_company_s_administrator_can_touch_nothing_here(app: TestApp) {
        let acme = app.company("acme").await;
        let driver = app.user(acme.account, acme.admin, "driver").await;
        app.company("rival").await;
        let rival = app.signed_in("rival-admin").await;
        let body = json!({ "username": "mole", "password": PASSWORD, "account_id": acme.account.0 });
        assert_eq!(app.post("/api/v1/users", Some(&rival), body).await.status(), StatusCode::FORBIDDEN);
        let path = format!("/api/v1/users/{}", driver.0);
        let patch = json!({ "can_send_sms": true });
        assert_eq!(app.send(Method::PATCH, &path, Some(&rival), Some(patch)).await.status(), StatusCode::FORBIDDEN);
        let grant = format!("/api/v1/users/{}/grants/{}", driver.0, acme.admin.0);
        let rights = json!({ "rights": ["act_as"] });
        assert_eq!(app.send(Method::PUT, &grant, Some(&rival), Some(rights)).await.status(), StatusCode::FORBIDDEN);
    }
}

db_test! {
    async fn a_user_manages_the_users_it_created_and_their_descendants_only(app: TestApp) {
        let company = app.company("acme").await;
        let manager = app.user(company.account, company.admin, "manager").await;
        let peer = app.user(company.account, company.admin, "peer").await;
        let team_lead = app.user(company.account, manager, "team-lead").await;
        let driver = app.user(company.account, team_lead, "driver").await;
        let token = app.signed_in("manager").await;
        for (target, expected) in [(team_lead, StatusCode::OK), (driver, StatusCode::OK), (peer, StatusCode::FORBIDDEN)] {
            let path = format!("/api/v1/users/{}", target.0);
            let patch = json!({ "language": "es" });
            assert_eq!(app.send(Method::PATCH, &path, Some(&token), Some(patch)).await.status(), expected);
        }
    }
}

db_test! {
    async fn changing_an_email_makes_it_unconfirmed_and_is_audited_with_before_and_after(app: TestApp) {
        let company = app.company("acme").await;
        let token = app.signed_in("acme-admin").await;
        let mut body = new_user("driver");
        body["email"] = json!("old@fleet.example");
        let created = json_of(app.post("/api/v1/users", Some(&token), body).await, StatusCode::CREATED).await;
        let id = created["id"].as_i64().unwrap();
        app.raw_sql(&format!("UPDATE users SET email_verified = TRUE WHERE id = {id}")).await;
        let patch = json!({ "email": "new@fleet.example", "can_send_sms": true });
        let path = format!("/api/v1/users/{id}");
        let updated = json_of(app.send(Method::PATCH, &path, Some(&token), Some(patch)).await, StatusCode::OK).await;
        assert_eq!(updated["email"], "new@fleet.example");
        assert_eq!(updated["email_verified"], false);
        assert_eq!(updated["can_send_sms"], true);
        let events = app.app.store.read().await.unwrap().audit_events_of(company.account).await.unwrap();
        let event = events.iter().find(|e| e.action == "user.updated").expect("an audit event");
        let details: Value = serde_json::from_str(&event.details).unwrap();
        assert_eq!(details["before"]["email"], "old@fleet.example");
        assert_eq!(details["after"]["email"], "new@fleet.example");
        assert_eq!(details["after"]["email_verified"], false);
        assert_eq!(event.actor_id, Some(company.admin));
    }
}

db_test! {
    async fn a_null_in_a_patch_clears_the_field_and_a_missing_one_keeps_it(app: TestApp) {
        app.company("acme").await;
        let token = app.signed_in("acme-admin").await;
        let mut body = new_user("driver");
        body["phone"] = json!("+35312345678");
        let id = json_of(app.post("/api/v1/users", Some(&token), body).await, StatusCode::CREATED).await["id"].clone();
        let path = format!("/api/v1/users/{id}");
        let patch = json!({ "phone": null });
        let updated = json_of(app.send(Method::PATCH, &path, Some(&token), Some(patch)).await, StatusCode::OK).await;
        assert!(updated["phone"].is_null());
        assert_eq!(updated["email"], "driver@fleet.example");
    }
}

db_test! {
    async fn grants_are_set_replaced_and_removed(app: TestApp) {
        let company = app.company("acme").await;
        let driver = app.user(company.account, company.admin, "driver").await;
        let token = app.signed_in("acme-admin").await;
        let path = format!("/api/v1/users/{}/grants/{}", company.admin.0, driver.0);
        let put = |rights: Value| app.send(Method::PUT, &path, Some(&token), Some(json!({ "rights": rights })));
        let body = json_of(put(json!(["act_as", "manage"])).await, StatusCode::OK).await;
        assert_eq!(body["rights"], json!(["act_as", "manage"]));
        let body = json_of(put(json!(["act_as"])).await, StatusCode::OK).await;
        assert_eq!(body["rights"], json!(["act_as"]));
        let mut tx = app.app.store.read().await.unwrap();
        assert_eq!(tx.grants_between(company.admin, driver).await.unwrap(), vec!["act_as".to_owned()]);
        drop(tx);
        assert_eq!(app.send(Method::DELETE, &path, Some(&token), None).await.status(), StatusCode::NO_CONTENT);
        let mut tx = app.app.store.read().await.unwrap();
        assert!(tx.grants_between(company.admin, driver).await.unwrap().is_empty());
        let events = tx.audit_events_of(company.account).await.unwrap();
        let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).filter(|a| a.starts_with("grant.")).collect();
        assert_eq!(actions, ["grant.added", "grant.added", "grant.removed", "grant.removed"]);
    }
}

db_test! {
    async fn the_manage_grant_lets_a_peer_manage_a_user(app: TestApp) {
        let company = app.company("acme").await;
        let dispatcher = app.user(company.account, company.admin, "dispatcher").await;
        let driver = app.user(company.account, company.admin, "driver").await;
        let admin = app.signed_in("acme-admin").await;
        let token = app.signed_in("dispatcher").await;
        let path = format!("/api/v1/users/{}", driver.0);
        let patch = json!({ "language": "ru" });
        assert_eq!(app.send(Method::PATCH, &path, Some(&token), Some(patch.clone())).await.status(), StatusCode::FORBIDDEN);
        let grant = format!("/api/v1/users/{}/grants/{}", dispatcher.0, driver.0);
        let rights = json!({ "rights": ["manage"] });
        json_of(app.send(Method::PUT, &grant, Some(&admin), Some(rights)).await, StatusCode::OK).await;
        let updated = json_of(app.send(Method::PATCH, &path, Some(&token), Some(patch)).await, StatusCode::OK).await;
        assert_eq!(updated["language"], "ru");
    }
}

db_test! {
    async fn a_top_user_creates_a_child_account_and_manages_its_users(app: TestApp) {
        let company = app.company_with_sms("acme", Some(100)).await;
        let token = app.signed_in("acme-admin").await;
        let body = json!({
            "name": "acme-north",
            "admin": { "username": "north-admin", "password": PASSWORD },
            "sms_quota": 50,
            "email_notifications": true,
        });
        let created = json_of(app.post("/api/v1/accounts", Some(&token), body).await, StatusCode::CREATED).await;
        assert_eq!(created["account"]["parent_id"], company.account.0);
        assert_eq!(created["account"]["services"], json!({ "sms": { "quota": 50 }, "email_notifications": true }));
        assert_eq!(created["admin"]["top_user"], true);
        assert_eq!(created["admin"]["must_change_password"], true);
        let path = format!("/api/v1/users/{}", created["admin"]["id"]);
        let patch = json!({ "can_send_sms": true });
        assert_eq!(app.send(Method::PATCH, &path, Some(&token), Some(patch)).await.status(), StatusCode::OK);
    }
}

db_test! {
    async fn account_names_are_unique(app: TestApp) {
        app.company("acme").await;
        app.company("acme-north").await;
        let token = app.signed_in("acme-admin").await;
        let body = json!({ "name": "acme-north", "admin": { "username": "other-admin", "password": PASSWORD } });
        let answer = json_of(app.post("/api/v1/accounts", Some(&token), body).await, StatusCode::CONFLICT).await;
        assert_eq!(answer["field"], "name");
        assert_eq!(app.login("other-admin", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    }
}

db_test! {
    async fn a_user_who_is_not_top_cannot_create_accounts(app: TestApp) {
        let company = app.company("acme").await;
        app.user(company.account, company.admin, "driver").await;
        let token = app.signed_in("driver").await;
        let body = json!({ "name": "shadow", "admin": { "username": "shadow-admin", "password": PASSWORD } });
        assert_eq!(app.post("/api/v1/accounts", Some(&token), body).await.status(), StatusCode::FORBIDDEN);
    }
}

db_test! {
    async fn two_instances_on_one_database_see_each_other_s_writes(app: TestApp) {
        app.company("acme").await;
        let other = app.another_instance().await;
        let token = app.signed_in("acme-admin").await;
        json_of(other.get("/api/v1/session", Some(&token)).await, StatusCode::OK).await;
        json_of(other.post("/api/v1/users", Some(&token), new_user("driver")).await, StatusCode::CREATED).await;
        assert_eq!(app.login("driver", PASSWORD).await.status(), StatusCode::OK);
    }
}

db_test! {
    async fn only_those_who_administer_the_account_make_administrators(app: TestApp) {
        let company = app.company("acme").await;
        let manager = app.user(company.account, company.admin, "manager").await;
        let driver = app.user(company.account, manager, "driver").await;
        let token = app.signed_in("manager").await;
        let path = format!("/api/v1/users/{}", driver.0);
        let promote = json!({ "top_user": true });
        assert_eq!(app.send(Method::PATCH, &path, Some(&token), Some(promote.clone())).await.status(), StatusCode::FORBIDDEN);
        let row = app.app.store.read().await.unwrap().user_by_id(driver).await.unwrap().unwrap();
        assert!(!row.top_user);
        let admin = app.signed_in("acme-admin").await;
        let body = json_of(app.send(Method::PATCH, &path, Some(&admin), Some(promote)).await, StatusCode::OK).await;
        assert_eq!(body["top_user"], true);
    }
}
