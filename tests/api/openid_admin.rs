//! Managing the apps that sign people in (OpenID Connect clients) and the signing keys:
//! the operator's commands, the administrators' API, and the company page.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{agent::Agent, cli::portcullis, db_test, helpers::*, openid::CALLBACK};

fn json_stdout(output: &std::process::Output) -> Value {
    assert!(output.status.success(), "failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

/// A token request with a code nobody issued: `invalid_grant` if the client proved who it
/// is, `invalid_client` if not.
async fn token_call(app: &TestApp, id: &str, secret: &str) -> StatusCode {
    let body = format!("grant_type=authorization_code&code=nothing&redirect_uri={CALLBACK}");
    let request = app.http.post(app.url("/oauth2/token")).basic_auth(id, Some(secret));
    let request = request.header("content-type", "application/x-www-form-urlencoded").body(body);
    request.send().await.unwrap().status()
}

db_test! {
    async fn the_operator_registers_lists_and_deletes_an_app_and_rotates_the_keys(app: TestApp) {
        app.company("acme").await;
        let created = json_stdout(&portcullis(&app, &[
            "client", "create", "--account", "acme", "--name", "Grafana", "--redirect-uri", CALLBACK,
            "--redirect-uri", "http://localhost:3000/login/generic_oauth", "--id-token-alg", "ES256", "--json",
        ]));
        let id = created["client_id"].as_str().unwrap().to_owned();
        let secret = created["client_secret"].as_str().unwrap().to_owned();
        assert_eq!(created["id_token_alg"], "ES256");
        assert_eq!(created["public"], false);
        let stored: Vec<Vec<u8>> = app.column("SELECT secret_hash FROM oidc_clients").await;
        assert!(!stored[0].windows(secret.len()).any(|w| w == secret.as_bytes()), "the secret is stored hashed");
        assert_eq!(token_call(&app, &id, &secret).await, StatusCode::BAD_REQUEST);
        assert_eq!(token_call(&app, &id, "wrong").await, StatusCode::UNAUTHORIZED);

        let listed = json_stdout(&portcullis(&app, &["client", "list", "--account", "acme", "--json"]));
        assert_eq!(listed[0]["client_id"], id);
        assert!(listed[0].get("client_secret").is_none());
        let refused = portcullis(&app, &["client", "create", "--account", "acme", "--name", "x", "--redirect-uri", "http://evil.example/cb"]);
        assert!(!refused.status.success());
        assert!(String::from_utf8_lossy(&refused.stderr).contains("https"));

        json_stdout(&portcullis(&app, &["client", "delete", "--client-id", &id, "--json"]));
        assert_eq!(token_call(&app, &id, &secret).await, StatusCode::UNAUTHORIZED);
        assert_eq!(json_stdout(&portcullis(&app, &["client", "list", "--json"])), json!([]));

        let rotated = json_stdout(&portcullis(&app, &["keys", "rotate", "--json"]));
        assert_eq!(rotated["published"].as_array().unwrap().len(), 3);
        let keys = json_stdout(&portcullis(&app, &["keys", "list", "--json"]));
        let kids: Vec<&str> = keys["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
        assert_eq!(kids.len(), 3);
        assert!(keys.to_string().find("\"d\"").is_none(), "no private key is ever printed");
        let sealed: Vec<Vec<u8>> = app.column("SELECT sealed FROM oidc_keys").await;
        for stored in sealed {
            let private = app.app.keys.open("oidc signing key", &stored).expect("sealed under the server key");
            assert!(!stored.windows(private.len()).any(|w| w == private), "never stored in the clear");
        }
    }
}

db_test! {
    async fn a_companys_administrators_manage_its_apps_through_the_api_and_no_one_else(app: TestApp) {
        let company = app.company("acme").await;
        let rival = app.company("rival").await;
        let admin = app.signed_in("acme-admin").await;
        let stranger = app.signed_in("rival-admin").await;
        let path = format!("/api/v1/accounts/{}/clients", company.account.0);
        let body = json!({ "name": "Reports", "redirect_uris": [CALLBACK], "public": true });
        let created = json_of(app.post(&path, Some(&admin), body.clone()).await, StatusCode::CREATED).await;
        assert!(created["client_secret"].is_null(), "a public client has no secret");
        let id = created["client_id"].as_str().unwrap();
        assert_eq!(app.post(&path, Some(&stranger), body).await.status(), StatusCode::FORBIDDEN);
        let bad = json!({ "name": "Reports", "redirect_uris": ["https://app.example/cb#fragment"] });
        assert_eq!(app.post(&path, Some(&admin), bad).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let listed = json_of(app.get(&path, Some(&admin)).await, StatusCode::OK).await;
        assert_eq!(listed["clients"][0]["client_id"], id);
        assert_eq!(app.get(&path, Some(&stranger)).await.status(), StatusCode::FORBIDDEN);
        // The rival cannot delete it, not even through its own account's path.
        let theirs = format!("/api/v1/accounts/{}/clients/{id}", rival.account.0);
        assert_eq!(app.send(Method::DELETE, &theirs, Some(&stranger), None).await.status(), StatusCode::NOT_FOUND);
        let ours = format!("{path}/{id}");
        assert_eq!(app.send(Method::DELETE, &ours, Some(&stranger), None).await.status(), StatusCode::FORBIDDEN);
        assert_eq!(app.send(Method::DELETE, &ours, Some(&admin), None).await.status(), StatusCode::NO_CONTENT);
        let trail = app.audit_trail(company.account).await;
        assert!(trail.iter().any(|(a, _)| a == "oidc_client.created"));
        assert!(trail.iter().any(|(a, _)| a == "oidc_client.deleted"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_registers_an_app_on_the_company_page_sees_its_secret_once_and_removes_it() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.company("acme").await;
    app.signed_in("acme-admin").await;
    let agent = Agent::new(&app);
    let login = agent.visit("/login").await;
    agent.sign_in(login, "acme-admin", PASSWORD).await;
    let page = agent.visit("/company/apps").await;
    let (_, status, body) = page.page();
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("No apps yet"));
    let body = body.to_owned();
    let fields = [
        ("name", "Grafana"),
        ("redirect_uris", &format!("{CALLBACK}\n\nhttps://grafana.example/login/generic_oauth\n") as &str),
        ("id_token_alg", "EdDSA"),
    ];
    let created = agent.submit(&body, "/company/apps", &fields).await;
    let (_, status, body) = created.page();
    assert_eq!(status, StatusCode::CREATED);
    assert!(body.contains("id=\"created-client-secret\""));
    assert!(body.contains("https://grafana.example/login/generic_oauth"));
    let again = agent.visit("/company/apps").await;
    assert!(!again.page().2.contains("created-client-secret"), "the secret is shown once");
    let body = again.page().2.to_owned();
    let action = body.split("action=\"company/apps/").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let removed = agent.submit(&body, &format!("/company/apps/{action}"), &[]).await;
    assert!(removed.page().2.contains("The app is removed"));
    assert!(removed.page().2.contains("No apps yet"));
    let wrong = agent.submit(&body, "/company/apps", &[("name", "X"), ("redirect_uris", "ftp://x")]).await;
    assert_eq!(wrong.page().1, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.page().2.contains("Check the redirect URIs"));
}
