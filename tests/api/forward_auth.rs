//! Forward auth behind a real nginx (`auth_request`): a small app is reachable through
//! nginx only for people signed in to Portcullis, learns who they are from the headers
//! nginx sets from Portcullis's answer, and a browser that is not signed in goes through
//! the sign-in pages and comes back to the page it asked for.

use std::process::{Child, Command, Stdio};

use axum::{Router, http::HeaderMap};
use reqwest::StatusCode;

use crate::{agent::Agent, db_test, helpers::*};

/// nginx in front of `app`, protecting a small app of its own, for the life of a test.
struct Nginx {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Nginx {
    async fn start(portcullis: &TestApp) -> Self {
        let backend = protected_app().await;
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let root = dir.path().display();
        let config = format!(
            r#"daemon off;
master_process off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location = /portcullis-auth {{
            internal;
            proxy_pass http://{portcullis}/api/v1/forward-auth?status=401;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
        }}
        location / {{
            auth_request /portcullis-auth;
            auth_request_set $user $upstream_http_remote_user;
            auth_request_set $account $upstream_http_remote_account;
            auth_request_set $impersonator $upstream_http_remote_impersonator;
            auth_request_set $signin $upstream_http_location;
            error_page 401 = @signin;
            proxy_set_header Remote-User $user;
            proxy_set_header Remote-Account $account;
            proxy_set_header Remote-Impersonator $impersonator;
            proxy_pass http://{backend};
        }}
        location @signin {{
            if ($signin = "") {{ return 401; }}
            return 302 $signin;
        }}
    }}
}}
"#,
            portcullis = portcullis.addr,
        );
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, config).unwrap();
        let binary =
            if std::path::Path::new("/usr/sbin/nginx").exists() { "/usr/sbin/nginx" } else { "nginx" };
        let mut child = Command::new(binary)
            .args(["-e", &format!("{root}/error.log"), "-p", &root.to_string(), "-c"])
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx (scripts/services.sh ensure_nginx installs it)");
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Self { child, url, _dir: dir };
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        let log = std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
        panic!("nginx did not start: {log}");
    }
}

/// The app behind nginx: it says whom nginx told it the visitor is.
async fn protected_app() -> std::net::SocketAddr {
    let app = Router::new().fallback(|headers: HeaderMap| async move {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        format!(
            "reports for {} of {}{}",
            header("remote-user"),
            header("remote-account"),
            match header("remote-impersonator").as_str() {
                "" => String::new(),
                by => format!(" (acting: {by})"),
            }
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn spawn() -> (TestApp, Nginx) {
    let app = TestApp::spawn_with(Backend::Sqlite, &["--forward-auth-domains", "127.0.0.1"]).await;
    let nginx = Nginx::start(&app).await;
    (app, nginx)
}

db_test! {
    async fn the_forward_auth_check_names_the_person_and_refuses_everyone_else(app: TestApp) {
        let company = app.company("acme").await;
        let token = app.signed_in("acme-admin").await;
        let check = |token: Option<&str>, accept: &str| {
            let mut request = app.http.get(app.url("/api/v1/forward-auth")).header("accept", accept)
                .header("x-forwarded-proto", "https").header("x-forwarded-host", "reports.example.com")
                .header("x-forwarded-uri", "/fleet?day=1");
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            request.send()
        };
        let ok = check(Some(&token), "*/*").await.unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(ok.headers()["remote-user"], "acme-admin");
        assert_eq!(ok.headers()["remote-account"], "acme");
        assert!(ok.headers().get("remote-impersonator").is_none());
        let api = check(None, "application/json").await.unwrap();
        assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
        // A browser, but for a host nobody listed: no redirect anywhere.
        let unlisted = check(None, "text/html").await.unwrap();
        assert_eq!(unlisted.status(), StatusCode::UNAUTHORIZED);
        assert!(unlisted.headers().get("location").is_none());
        let _ = company;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_lets_only_signed_in_people_through_and_tells_the_app_who_they_are() {
    let (app, nginx) = spawn().await;
    let company = app.company("acme").await;
    let driver = app.user(company.account, company.admin, "driver").await;
    app.admin_may_act_as(&company, &[driver]).await;
    let token = app.signed_in("acme-admin").await;
    let page = format!("{}/fleet/report?day=1", nginx.url);

    let signed_in =
        app.http.get(&page).bearer_auth(&token).header("remote-user", "forged").send().await.unwrap();
    assert_eq!(signed_in.status(), StatusCode::OK);
    assert_eq!(signed_in.text().await.unwrap(), "reports for acme-admin of acme");
    let cookie =
        app.http.get(&page).header("cookie", format!("portcullis_session={token}")).send().await.unwrap();
    assert_eq!(cookie.text().await.unwrap(), "reports for acme-admin of acme");

    let anonymous = app.http.get(&page).header("remote-user", "acme-admin").send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "a forged header gets nobody in");

    // Someone acting as the driver is named too.
    let acting = app.signed_in("acme-admin").await;
    let switched =
        app.post("/api/v1/impersonation", Some(&acting), serde_json::json!({ "user_id": driver.0 })).await;
    let switched = json_of(switched, StatusCode::OK).await;
    let acting = switched["token"].as_str().unwrap();
    let answer = app.http.get(&page).bearer_auth(acting).send().await.unwrap().text().await.unwrap();
    assert_eq!(answer, "reports for driver of acme (acting: acme-admin)");

    // Signed out: refused at once.
    app.send(reqwest::Method::DELETE, "/api/v1/session", Some(&token), None).await;
    let after = app.http.get(&page).bearer_auth(&token).send().await.unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_is_sent_to_sign_in_and_back_to_the_page_it_asked_for() {
    let (app, nginx) = spawn().await;
    app.company("acme").await;
    app.signed_in("acme-admin").await;
    let page = format!("{}/fleet/report?day=1&week=2", nginx.url);
    let browser = Agent::new(&app);
    let first = browser.http.get(&page).header("accept", "text/html").send().await.unwrap();
    assert_eq!(first.status(), StatusCode::FOUND);
    let login = first.headers()["location"].to_str().unwrap().to_owned();
    assert!(login.starts_with(&app.url("/login?next=")), "{login}");
    let at_login = browser.visit(&login).await;
    let back = browser.sign_in(at_login, "acme-admin", PASSWORD).await;
    assert_eq!(back.away(), page, "back to the very page, query and all");
    let answer = browser.http.get(&page).header("accept", "text/html").send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.text().await.unwrap(), "reports for acme-admin of acme");

    // The sign-in page sends nobody to a host that is not listed.
    let elsewhere = Agent::new(&app);
    let at_login = elsewhere.visit("/login?next=https%3A%2F%2Fevil.example%2F").await;
    let home = elsewhere.sign_in(at_login, "acme-admin", PASSWORD).await;
    assert_eq!(home.page().0, "/");
}
