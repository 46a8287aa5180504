//! The company audit log through the API: who may read it, what it records (once each,
//! with the right actor), filters, pages and the CSV export with the chain's hashes.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::Duration;

use crate::{db_test, helpers::*};

fn audit_path(company: &Company, query: &str) -> String {
    format!("/api/v1/accounts/{}/audit?{query}", company.account.0)
}

async fn events(app: &TestApp, token: &str, company: &Company, query: &str) -> Vec<Value> {
    let page = json_of(app.get(&audit_path(company, query), Some(token)).await, StatusCode::OK).await;
    page["events"].as_array().unwrap().clone()
}

fn count(events: &[Value], action: &str) -> usize {
    events.iter().filter(|e| e["action"] == action).count()
}

db_test! {
    async fn only_administrators_of_the_account_read_its_audit_log(app: TestApp) {
        let acme = app.company("acme").await;
        app.company("globex").await;
        app.user(acme.account, acme.admin, "driver").await;
        let admin = app.signed_in("acme-admin").await;
        let driver = app.signed_in("driver").await;
        let stranger = app.signed_in("globex-admin").await;
        assert_eq!(app.get(&audit_path(&acme, ""), Some(&driver)).await.status(), StatusCode::FORBIDDEN);
        assert_eq!(app.get(&audit_path(&acme, ""), Some(&stranger)).await.status(), StatusCode::FORBIDDEN);
        assert_eq!(app.get(&audit_path(&acme, ""), None).await.status(), StatusCode::UNAUTHORIZED);
        let seen = events(&app, &admin, &acme, "").await;
        assert!(seen.iter().all(|e| e["hash"].as_str().unwrap().len() == 64));
        assert!(seen.iter().any(|e| e["action"] == "user.created" && e["subject"]["username"] == "driver"));
    }
}

db_test! {
    async fn each_security_event_is_recorded_once_with_who_did_it(app: TestApp) {
        let acme = app.company("acme").await;
        let driver_id = app.user(acme.account, acme.admin, "driver").await;
        let admin = app.signed_in("acme-admin").await;
        let driver = app.signed_in("driver").await;
        let policy_path = format!("/api/v1/accounts/{}/two-factor-policy", acme.account.0);
        let policy = json!({ "delivery": "email_only", "contact": { "name": "Ops" } });
        json_of(app.send(Method::PUT, &policy_path, Some(&admin), Some(policy)).await, StatusCode::OK).await;
        for _ in 0..5 {
            app.login("driver", "not-the-password").await;
        }
        let unlock = format!("/api/v1/users/{}/unlock", driver_id.0);
        let unlocked = json_of(app.post(&unlock, Some(&admin), json!({})).await, StatusCode::OK).await;
        assert_eq!(unlocked["was_locked"], true);
        assert_eq!(app.login("driver", PASSWORD).await.status(), StatusCode::OK);
        let patch = json!({ "email": "driver@fleet.example", "current_password": PASSWORD });
        json_of(app.send(Method::PATCH, "/api/v1/me/security", Some(&driver), Some(patch)).await, StatusCode::OK).await;
        let grants = format!("/api/v1/users/{}/grants/{}", acme.admin.0, driver_id.0);
        json_of(app.send(Method::PUT, &grants, Some(&admin), Some(json!({ "rights": ["act_as"] }))).await, StatusCode::OK).await;
        assert_eq!(app.send(Method::DELETE, &grants, Some(&admin), None).await.status(), StatusCode::NO_CONTENT);
        let end = format!("/api/v1/users/{}/sessions", driver_id.0);
        let ended = json_of(app.send(Method::DELETE, &end, Some(&admin), None).await, StatusCode::OK).await;
        assert_eq!(ended["ended"], 2);
        assert_eq!(app.get("/api/v1/session", Some(&driver)).await.status(), StatusCode::UNAUTHORIZED);

        let log = events(&app, &admin, &acme, "limit=500").await;
        let admin_id = json!(acme.admin.0);
        let by = |action: &str| log.iter().find(|e| e["action"] == action).unwrap_or_else(|| panic!("no {action}"));
        for (action, times, actor) in [
            ("two_factor_policy.changed", 1, admin_id.clone()),
            ("user.locked", 1, Value::Null),
            ("user.unlocked", 1, admin_id.clone()),
            ("user.updated", 1, json!(driver_id.0)),
            ("grant.added", 1, admin_id.clone()),
            ("grant.removed", 1, admin_id.clone()),
            ("sessions.ended_by_administrator", 1, admin_id.clone()),
        ] {
            assert_eq!(count(&log, action), times, "{action}");
            assert_eq!(by(action)["user"]["id"], actor, "{action}");
        }
        assert_eq!(count(&log, "sign_in.failed"), 5);
        assert_eq!(by("user.locked")["subject"]["username"], "driver");
        assert_eq!(by("two_factor_policy.changed")["details"]["after"]["delivery"], "email_only");
        assert_eq!(by("user.updated")["details"]["after"]["email"], "driver@fleet.example");
        assert!(by("user.locked")["ip"].is_string());
        // Each event names the hash of the one before it in its lane.
        let lanes: std::collections::BTreeSet<i64> = log.iter().map(|e| e["lane"].as_i64().unwrap()).collect();
        assert!(lanes.len() > 1, "the administrator's and the driver's events are sealed side by side");
        for lane in lanes {
            let of_lane: Vec<&Value> = log.iter().filter(|e| e["lane"] == lane).collect();
            for pair in of_lane.windows(2) {
                assert_eq!(pair[0]["prev_hash"], pair[1]["hash"]);
                assert_eq!(pair[0]["seq"].as_i64().unwrap(), pair[1]["seq"].as_i64().unwrap() + 1);
            }
        }
    }
}

db_test! {
    async fn filters_by_action_user_and_time_and_pages_without_gaps(app: TestApp) {
        let acme = app.company("acme").await;
        let driver_id = app.user(acme.account, acme.admin, "driver").await;
        app.advance(Duration::days(2));
        let admin = app.signed_in("acme-admin").await;
        for _ in 0..3 {
            app.login("driver", "not-the-password").await;
        }
        app.signed_in("driver").await;
        let sign_ins = events(&app, &admin, &acme, "action=sign_in&limit=500").await;
        assert_eq!(sign_ins.len(), 5, "admin and driver sign-ins, failed ones too");
        let failed = events(&app, &admin, &acme, "action=sign_in.failed").await;
        assert_eq!(failed.len(), 3);
        let mine = events(&app, &admin, &acme, &format!("user={}&limit=500", driver_id.0)).await;
        assert!(mine.iter().all(|e| e["subject"]["id"] == json!(driver_id.0) || e["user"]["id"] == json!(driver_id.0)));
        let all = events(&app, &admin, &acme, "limit=500").await;
        let recent = events(&app, &admin, &acme, "since=2030-03-02T00:00:00Z&limit=500").await;
        let after_the_2nd = all.iter().filter(|e| e["time"].as_str().unwrap() >= "2030-03-02").count();
        assert_eq!(recent.len(), after_the_2nd);
        assert_eq!(recent.len(), 7, "two sign-ins and agreements, three failures");
        let early = events(&app, &admin, &acme, "until=2030-03-02T00:00:00Z&limit=500").await;
        assert_eq!(early.len() + recent.len(), all.len());
        let mut walked = Vec::new();
        let mut query = "limit=2".to_owned();
        loop {
            let page = json_of(app.get(&audit_path(&acme, &query), Some(&admin)).await, StatusCode::OK).await;
            walked.extend(page["events"].as_array().unwrap().iter().map(|e| e["id"].as_i64().unwrap()));
            match page["next"].as_i64() {
                Some(next) => query = format!("limit=2&before={next}"),
                None => break,
            }
        }
        let ids: Vec<i64> = all.iter().map(|e| e["id"].as_i64().unwrap()).collect();
        assert_eq!(walked, ids);
    }
}

db_test! {
    async fn the_csv_export_carries_each_event_and_its_hashes(app: TestApp) {
        let acme = app.company("acme").await;
        app.user(acme.account, acme.admin, "=driver").await;
        let admin = app.signed_in("acme-admin").await;
        let response = app.get(&audit_path(&acme, "format=csv&limit=500"), Some(&admin)).await;
        assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
        let text = response.text().await.unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("time,user,acting_as,subject,action,details,ip,lane,seq,prev_hash,hash"));
        let all = events(&app, &admin, &acme, "limit=500").await;
        assert_eq!(lines.clone().count(), all.len());
        let created = lines.find(|l| l.contains("user.created") && l.contains("driver")).unwrap();
        assert!(created.contains(",'=driver,"), "a name that looks like a formula is defused: {created}");
        assert!(created.ends_with(all.iter().find(|e| e["subject"]["username"] == "=driver").unwrap()["hash"].as_str().unwrap()));
    }
}

db_test! {
    async fn sign_ins_of_many_people_of_one_company_at_once_are_all_sealed_in_a_trail_that_verifies(app: TestApp) {
        // Each person's events go in a lane of their own, so the sign-ins do not queue on
        // one chain head; two instances write at once.
        let acme = app.company("acme").await;
        let names: Vec<String> = (0..24).map(|i| format!("driver-{i}")).collect();
        for name in &names {
            app.user(acme.account, acme.admin, name).await;
        }
        let other = app.another_instance().await;
        let sign_ins = names.iter().enumerate().map(|(i, name)| {
            let instance = if i % 2 == 0 { &app } else { &other };
            instance.login(name, PASSWORD)
        });
        for answer in futures_util::future::join_all(sign_ins).await {
            assert_eq!(answer.status(), StatusCode::OK);
        }
        let lanes = app.column::<i32>("SELECT DISTINCT lane FROM audit_events WHERE action = 'sign_in'").await;
        assert_eq!(lanes.len(), 16, "24 people fill every lane");
        let verified = crate::cli::portcullis(&app, &["audit", "verify", "--json"]);
        assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stderr));
    }
}
