//! Two writes to one user at once, for each pair of requests that touch the same row:
//! each keeps the other's change. Every race is run several times, since one round may
//! happen to run the two in turn; the slow request is one that hashes a password, which
//! is where a write based on an earlier read would lose the other's change.

use portcullis::values::{User, UserId};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{db_test, helpers::*};

const ROUNDS: usize = 4;

async fn user(app: &TestApp, id: UserId) -> User {
    app.app.store.read().await.unwrap().user_by_id(id).await.unwrap().unwrap()
}

async fn patch_user(app: &TestApp, by: &str, id: UserId, patch: Value) -> StatusCode {
    app.send(Method::PATCH, &format!("/api/v1/users/{}", id.0), Some(by), Some(patch)).await.status()
}

async fn patch_own(app: &TestApp, token: &str, patch: Value) -> StatusCode {
    app.send(Method::PATCH, "/api/v1/me/security", Some(token), Some(patch)).await.status()
}

/// Signs in on the sign-in page in `language`, as a browser would; the status of the answer.
async fn page_sign_in(app: &TestApp, username: &str, language: &str) -> StatusCode {
    let browser = reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none());
    let browser = browser.build().unwrap();
    let page = browser.get(app.url("/login")).send().await.unwrap().text().await.unwrap();
    let at = page.find("name=\"csrf\" value=\"").expect("a form token") + 19;
    let csrf: String = page[at..].chars().take_while(|c| *c != '"').collect();
    let form =
        [("csrf", csrf.as_str()), ("username", username), ("password", PASSWORD), ("language", language)];
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
    let post = browser.post(app.url("/login")).header("content-type", "application/x-www-form-urlencoded");
    post.body(body).send().await.unwrap().status()
}

/// A company whose administrator made `deputy`, a second administrator with an address.
async fn deputy(app: &TestApp) -> (Company, UserId, String) {
    let company = app.company("acme").await;
    let deputy = app.user(company.account, company.admin, "deputy").await;
    let admin = app.signed_in("acme-admin").await;
    let promote = json!({ "top_user": true, "email": "deputy@fleet.example", "email_verified": true });
    assert_eq!(patch_user(app, &admin, deputy, promote).await, StatusCode::OK);
    (company, deputy, admin)
}

db_test! {
    async fn an_address_change_while_an_administrator_demotes_the_user_keeps_the_demotion(app: TestApp) {
        let (_, deputy, admin) = deputy(&app).await;
        let own = app.signed_in("deputy").await;
        for round in 0..ROUNDS {
            assert_eq!(patch_user(&app, &admin, deputy, json!({ "top_user": true })).await, StatusCode::OK);
            let email = format!("deputy{round}@fleet.example");
            let change = json!({ "email": email, "current_password": PASSWORD });
            let (changed, demoted) = tokio::join!(
                patch_own(&app, &own, change),
                patch_user(&app, &admin, deputy, json!({ "top_user": false })),
            );
            assert_eq!((changed, demoted), (StatusCode::OK, StatusCode::OK));
            let row = user(&app, deputy).await;
            assert!(!row.top_user, "round {round}: the demotion was lost");
            assert_eq!(row.email.map(|e| e.to_string()), Some(email), "round {round}");
            assert!(!row.email_verified, "round {round}: a new address is unconfirmed");
        }
    }
}

db_test! {
    async fn a_password_set_by_an_administrator_keeps_the_language_the_user_chose_meanwhile(app: TestApp) {
        let (_, deputy, admin) = deputy(&app).await;
        app.signed_in("deputy").await;
        let mut password = PASSWORD.to_owned();
        for (round, language) in ["es", "ru", "en", "es"].into_iter().enumerate() {
            let own = app.token("deputy", &password).await;
            let new = format!("Tq5!walrus-Lantern-{round}");
            let (set, chose) = tokio::join!(
                patch_user(&app, &admin, deputy, json!({ "password": new, "must_change_password": false })),
                patch_own(&app, &own, json!({ "language": language })),
            );
            assert_eq!(set, StatusCode::OK, "round {round}");
            // The new password ends the user's sessions: a request that came after is refused.
            if chose == StatusCode::OK {
                assert_eq!(user(&app, deputy).await.language.code(), language, "round {round}: the language was lost");
            }
            assert_eq!(app.login("deputy", &new).await.status(), StatusCode::OK, "round {round}");
            password = new;
        }
    }
}

db_test! {
    async fn a_sign_in_that_changes_the_language_keeps_a_promotion_made_meanwhile(app: TestApp) {
        let (company, _, admin) = deputy(&app).await;
        let driver = app.user(company.account, company.admin, "driver").await;
        app.signed_in("driver").await;
        for (round, language) in ["ru", "es", "ru", "es"].into_iter().enumerate() {
            assert_eq!(patch_user(&app, &admin, driver, json!({ "can_send_sms": false })).await, StatusCode::OK);
            let (signed_in, changed) = tokio::join!(
                page_sign_in(&app, "driver", language),
                patch_user(&app, &admin, driver, json!({ "can_send_sms": true })),
            );
            assert_eq!((signed_in, changed), (StatusCode::SEE_OTHER, StatusCode::OK), "round {round}");
            let row = user(&app, driver).await;
            assert!(row.can_send_sms, "round {round}: the administrator's change was lost");
            assert_eq!(row.language.code(), language, "round {round}");
        }
    }
}

db_test! {
    async fn a_password_change_keeps_what_an_administrator_changed_meanwhile(app: TestApp) {
        let (_, deputy, admin) = deputy(&app).await;
        let mut password = PASSWORD.to_owned();
        for round in 0..ROUNDS {
            let own = app.token("deputy", &password).await;
            let new = format!("Tq5!walrus-Lantern-{round}");
            let change = json!({ "current_password": password, "new_password": new, "new_password_confirmation": new });
            let sms = round % 2 == 0;
            let (changed, patched) = tokio::join!(
                app.post("/api/v1/password/change", Some(&own), change),
                patch_user(&app, &admin, deputy, json!({ "can_send_sms": sms, "phone": format!("+3531234567{round}") })),
            );
            assert_eq!((changed.status(), patched), (StatusCode::NO_CONTENT, StatusCode::OK), "round {round}");
            let row = user(&app, deputy).await;
            assert_eq!(row.can_send_sms, sms, "round {round}: the administrator's change was lost");
            assert_eq!(row.phone.map(|p| p.to_string()), Some(format!("+3531234567{round}")), "round {round}");
            assert_eq!(app.login("deputy", &new).await.status(), StatusCode::OK, "round {round}: the password was lost");
            password = new;
        }
    }
}

db_test! {
    async fn a_followed_reset_link_keeps_what_an_administrator_changed_meanwhile(app: TestApp) {
        let (_, deputy, admin) = deputy(&app).await;
        for round in 0..ROUNDS {
            app.advance(time::Duration::minutes(2));
            let forgot = json!({ "username": "deputy", "email": "deputy@fleet.example" });
            assert_eq!(app.post("/api/v1/password/forgot", None, forgot).await.status(), StatusCode::ACCEPTED);
            let link = crate::recovery::link_in_mail(&app, round + 1).await;
            app.outbox_settled().await;
            let (sms, language) = (round % 2 == 0, ["ru", "es"][round % 2]);
            let base = app.url("");
            let ((status, page), patched) = tokio::join!(
                follow(&base, &link),
                patch_user(&app, &admin, deputy, json!({ "can_send_sms": sms, "language": language })),
            );
            assert_eq!((status, patched), (StatusCode::OK, StatusCode::OK), "round {round}");
            let row = user(&app, deputy).await;
            assert_eq!(row.can_send_sms, sms, "round {round}: the administrator's change was lost");
            assert_eq!(row.language.code(), language, "round {round}");
            let password = new_password(&page);
            assert_eq!(app.login("deputy", &password).await.status(), StatusCode::OK, "round {round}");
        }
    }
}

db_test! {
    async fn sign_ins_of_one_user_at_once_all_succeed(app: TestApp) {
        // Each right password clears the user's failure counter while the next sign-in of
        // the same user is reading it: the counter row may vanish between two statements.
        // (Three at once: a sixth attempt in flight would meet five reserved as failures.)
        app.company("acme").await;
        for round in 0..8 {
            let answers = futures_util::future::join_all((0..3).map(|_| app.login("acme-admin", PASSWORD))).await;
            for answer in answers {
                assert_eq!(answer.status(), StatusCode::OK, "round {round}");
            }
        }
    }
}

/// On an engine that runs every transaction `SERIALIZABLE`, the races above abort one of
/// each colliding pair (SQLSTATE 40001); the server runs the aborted request again, so
/// clients see every request succeed and every change kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_serializable_isolation_colliding_requests_are_run_again_and_all_succeed() {
    let app = TestApp::spawn_serializable().await;
    let (_, deputy, admin) = deputy(&app).await;
    let own = app.signed_in("deputy").await;
    for round in 0..ROUNDS * 2 {
        let sign_ins = futures_util::future::join_all((0..3).map(|_| app.login("deputy", PASSWORD)));
        let language = if round % 2 == 0 { "ru" } else { "es" };
        let changes = futures_util::future::join(
            patch_user(&app, &admin, deputy, json!({ "can_send_sms": round % 2 == 0 })),
            patch_own(&app, &own, json!({ "language": language })),
        );
        let (sign_ins, (by_admin, by_self)) = futures_util::future::join(sign_ins, changes).await;
        for answer in sign_ins {
            assert_eq!(answer.status(), StatusCode::OK, "round {round}");
        }
        assert_eq!((by_admin, by_self), (StatusCode::OK, StatusCode::OK), "round {round}");
        let stored = user(&app, deputy).await;
        assert_eq!(
            (stored.can_send_sms, stored.language.code()),
            (round % 2 == 0, language),
            "round {round}"
        );
    }
}
