//! `TestApp`: the real server on port 0 with a fresh database (a SQLite file in a
//! temporary directory, or a new PostgreSQL database), a clock the test moves, and typed
//! helpers for the calls tests make again and again.

use std::{net::SocketAddr, sync::Arc};

use clap::Parser;
use portcullis::{
    accounts::{self, AccountRequest},
    app::App,
    cli::Cli,
    clock::{ManualClock, to_unix},
    rights::Actor,
    users::{self, UserRequest},
    values::{AccountId, UserId},
};
use reqwest::{Response, StatusCode};

use crate::{sms::SmsGateway, smtp::SmtpReceiver};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime, macros::datetime};

/// Where the default test PostgreSQL server is; CI starts one there.
const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Runs one test body on SQLite and on PostgreSQL, as `<name>::sqlite` and
/// `<name>::postgres`.
#[macro_export]
macro_rules! db_test {
    ($(#[$meta:meta])* async fn $name:ident($app:ident: TestApp) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(#[$meta])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $app = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Sqlite).await;
                $body
            }

            $(#[$meta])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let $app = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Postgres).await;
                $body
            }
        }
    };
}

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub backend: Backend,
    /// The SMTP server the app sends its email to.
    pub smtp: Arc<SmtpReceiver>,
    /// The SMS gateway the app sends its SMS to.
    pub sms: Arc<SmsGateway>,
    pub addr: SocketAddr,
    pub app: App,
    pub clock: Arc<ManualClock>,
    pub http: reqwest::Client,
    pub database_url: String,
    pub dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

/// A strong password for test users.
pub const PASSWORD: &str = "Vq8#mLz2!pRt-harbour";

pub const START: OffsetDateTime = datetime!(2030-03-01 09:00 UTC);

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, &[]).await
    }

    /// A server started with extra command-line configuration.
    pub async fn spawn_with(backend: Backend, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let database_url = match backend {
            Backend::Sqlite => format!("sqlite://{}", dir.path().join("test.db").display()),
            Backend::Postgres => fresh_postgres_database().await,
        };
        Self::start(
            backend,
            (SmtpReceiver::start().await, SmsGateway::start().await),
            dir,
            database_url,
            (extra, START),
        )
        .await
    }

    /// A server a browser knows as `http://localhost:PORT` (its public URL), as passkeys
    /// need: browsers take none for an IP address.
    pub async fn spawn_on_localhost(backend: Backend) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let (listen, public) = (format!("127.0.0.1:{port}"), format!("http://localhost:{port}"));
        Self::spawn_with(backend, &["--listen", &listen, "--public-url", &public]).await
    }

    /// A server on the database at `database_url`, made beforehand.
    pub async fn spawn_on(backend: Backend, database_url: String) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let services = (SmtpReceiver::start().await, SmsGateway::start().await);
        Self::start(backend, services, dir, database_url, (&[], START)).await
    }

    /// A server on a fresh PostgreSQL database whose transactions all run `SERIALIZABLE`,
    /// as on CockroachDB or YugabyteDB: two that touch the same rows abort one (40001).
    pub async fn spawn_serializable() -> Self {
        let url = fresh_postgres_database().await;
        let name = url.rsplit('/').next().expect("a database name").to_owned();
        let set = format!("ALTER DATABASE {name} SET default_transaction_isolation TO 'serializable'");
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await.expect("connect");
        sqlx::query(sqlx::AssertSqlSafe(set)).execute(&mut conn).await.expect("serializable by default");
        Self::spawn_on(Backend::Postgres, url).await
    }

    /// Starts another server on the same database and data directory (a second
    /// instance, or the same one after a restart), its clock at this one's time. It has
    /// this one's public URL, as the instances of a cluster do.
    pub async fn another_instance(&self) -> Self {
        self.another_instance_with(&[]).await
    }

    /// [`Self::another_instance`], with more command-line arguments.
    pub async fn another_instance_with(&self, more: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let key = std::fs::read_to_string(self.dir.path().join("secret.key")).expect("key");
        let key = key.trim().to_owned();
        std::fs::write(dir.path().join("secret.key"), &key).expect("key copied");
        let mut extra = vec!["--secret-key", &key, "--public-url", self.app.public_url().as_str()];
        extra.extend_from_slice(more);
        Self::start(
            self.backend,
            (self.smtp.clone(), self.sms.clone()),
            dir,
            self.database_url.clone(),
            (&extra, portcullis::clock::Clock::now(&*self.clock)),
        )
        .await
    }

    async fn start(
        backend: Backend,
        (smtp, sms): (Arc<SmtpReceiver>, Arc<SmsGateway>),
        dir: tempfile::TempDir,
        database_url: String,
        (extra, at): (&[&str], OffsetDateTime),
    ) -> Self {
        let data_dir = dir.path().display().to_string();
        let smtp_url = smtp.url();
        let mut args = vec![
            "portcullis",
            "--database-url",
            &database_url,
            "--data-dir",
            &data_dir,
            "--smtp-url",
            &smtp_url,
            "--sms-webhook-url",
            &sms.url,
        ];
        if !extra.contains(&"--listen") {
            args.extend_from_slice(&["--listen", "127.0.0.1:0"]);
        }
        args.extend_from_slice(extra);
        args.push("serve");
        let config = Cli::try_parse_from(args).expect("test configuration").config;
        let clock = Arc::new(ManualClock::new(at));
        let app = App::new(config, clock.clone()).await.expect("app starts");
        let server = portcullis::server::Server::bind(app.clone()).await.expect("binds");
        let addr = server.addr();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { backend, smtp, sms, addr, app, clock, http, database_url, dir, stop: Some(stop) }
    }

    /// Runs SQL straight on the database, behind the server's back (to tamper with it).
    pub async fn raw_sql(&self, sql: &str) {
        use sqlx::Connection;
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match self.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.database_url).await.unwrap();
                sqlx::query(sql).execute(&mut conn).await.unwrap();
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.database_url).await.unwrap();
                sqlx::query(sql).execute(&mut conn).await.unwrap();
            }
        }
    }

    /// How many times the outbox has tried to send each message so far, oldest first.
    pub async fn outbox_attempts(&self) -> Vec<i64> {
        self.column("SELECT attempts FROM outbox ORDER BY id").await
    }

    /// Waits until every message the outbox holds is recorded as sent (or given up): a
    /// test that moves the clock while a message is still in a sender's hand would see
    /// its claim run out and the message sent twice, as after a crash.
    pub async fn outbox_settled(&self) {
        for _ in 0..1200 {
            let waiting: Vec<i64> =
                self.column("SELECT id FROM outbox WHERE sent_at IS NULL AND gave_up_at IS NULL").await;
            if waiting.is_empty() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("the outbox did not settle");
    }

    /// Waits until the senders have tried every message that waits and recorded the
    /// failure. A message only claimed is not enough: a failure recorded after the test
    /// moves the clock would put the next try beyond the test's reach.
    pub async fn outbox_tried(&self) {
        for _ in 0..1200 {
            let untried: Vec<i64> = self
                .column("SELECT id FROM outbox WHERE sent_at IS NULL AND gave_up_at IS NULL AND last_error IS NULL")
                .await;
            if untried.is_empty() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("the senders left messages untried");
    }

    /// The stored payloads of the outbox, oldest first.
    pub async fn outbox_payloads(&self) -> Vec<Vec<u8>> {
        self.column("SELECT payload FROM outbox ORDER BY id").await
    }

    /// One column of a query, read straight from the database.
    pub async fn column<T>(&self, sql: &'static str) -> Vec<T>
    where
        T: Send + Unpin + for<'r> sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
        T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
    {
        use sqlx::Connection;
        match self.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.database_url).await.unwrap();
                sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap()
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.database_url).await.unwrap();
                sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap()
            }
        }
    }

    /// Stops the server (gracefully, as on SIGTERM); the database stays.
    pub fn stop_server(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn now(&self) -> i64 {
        to_unix(portcullis::clock::Clock::now(&*self.clock))
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut request = self.http.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request sent")
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("request sent")
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        self.send(reqwest::Method::POST, path, token, Some(body)).await
    }

    pub async fn login(&self, username: &str, password: &str) -> Response {
        self.post("/api/v1/login", None, json!({ "username": username, "password": password })).await
    }

    /// Signs in, expecting success, and returns the token.
    pub async fn token(&self, username: &str, password: &str) -> String {
        let response = self.login(username, password).await;
        let body = json_of(response, StatusCode::OK).await;
        body["token"].as_str().expect("a token").to_owned()
    }

    /// Signs in and fulfils the first-login duties, returning a token free to do anything.
    pub async fn signed_in(&self, username: &str) -> String {
        let token = self.token(username, PASSWORD).await;
        let response = self.post("/api/v1/session/accept-dpa", Some(&token), json!({})).await;
        assert_eq!(response.status(), StatusCode::OK);
        token
    }

    /// Creates a company through the domain, as the operator would at the command line:
    /// `<name>` with the top user `<name>-admin`.
    pub async fn company(&self, name: &str) -> Company {
        self.company_with_sms(name, None).await
    }

    /// A company whose `sms` service is on with `quota` messages when `Some`.
    pub async fn company_with_sms(&self, name: &str, quota: Option<i64>) -> Company {
        self.new_company(name, None, quota).await
    }

    /// A company below `parent`, made by the operator, with its top user `<name>-admin`.
    pub async fn company_below(&self, parent: &Company, name: &str) -> Company {
        self.new_company(name, Some(parent.account), None).await
    }

    async fn new_company(&self, name: &str, parent: Option<AccountId>, quota: Option<i64>) -> Company {
        let request = AccountRequest {
            name: name.to_owned(),
            parent,
            sms_quota: quota,
            admin: UserRequest {
                username: format!("{name}-admin"),
                password: Some(PASSWORD.to_owned().into()),
                can_change_password: true,
                must_change_password: Some(false),
                ..Default::default()
            },
            ..Default::default()
        };
        let (account, admin) =
            accounts::create(&self.app.store, &self.app.hasher, &Actor::operator(), &request, self.now())
                .await
                .expect("company created");
        Company { account: account.id, admin: admin.id }
    }

    /// Creates a user made by `creator` in `account`, with the test password and no duty
    /// to change it.
    pub async fn user(&self, account: AccountId, creator: UserId, username: &str) -> UserId {
        let request = UserRequest {
            username: username.to_owned(),
            password: Some(PASSWORD.to_owned().into()),
            can_change_password: true,
            must_change_password: Some(false),
            ..Default::default()
        };
        let actor = Actor::operator();
        users::create(&self.app.store, &self.app.hasher, &actor, account, Some(creator), &request, self.now())
            .await
            .expect("user created")
            .id
    }
}

impl TestApp {
    /// Creates a user as the operator imports one: every field of `request` as given.
    pub async fn user_from(&self, account: AccountId, creator: UserId, request: UserRequest) -> UserId {
        let request = UserRequest {
            password: Some(PASSWORD.to_owned().into()),
            must_change_password: Some(false),
            ..request
        };
        let actor = Actor::operator();
        users::create(&self.app.store, &self.app.hasher, &actor, account, Some(creator), &request, self.now())
            .await
            .expect("user created")
            .id
    }

    /// Gives the company's administrator `act_as` on each of `targets`, through the API.
    pub async fn admin_may_act_as(&self, company: &Company, targets: &[UserId]) {
        let admin = self.signed_in(&self.username_of(company.admin).await).await;
        for target in targets {
            let path = format!("/api/v1/users/{}/grants/{}", company.admin.0, target.0);
            let body = json!({ "rights": ["act_as"] });
            let grant = self.send(reqwest::Method::PUT, &path, Some(&admin), Some(body)).await;
            assert_eq!(grant.status(), StatusCode::OK);
        }
    }

    async fn username_of(&self, id: UserId) -> String {
        let user = self.app.store.read().await.unwrap().user_by_id(id).await.unwrap().unwrap();
        user.username.to_string()
    }

    /// `driver` in the company, with the confirmed address `driver@fleet.example`.
    pub async fn driver_with_confirmed_email(&self, company: &Company) -> UserId {
        let driver = UserRequest {
            username: "driver".into(),
            email: Some("driver@fleet.example".into()),
            email_verified: true,
            ..Default::default()
        };
        self.user_from(company.account, company.admin, driver).await
    }

    /// The actions of an account's audit trail, oldest first, with their details.
    pub async fn audit_trail(&self, account: AccountId) -> Vec<(String, Value)> {
        let mut tx = self.app.store.read().await.unwrap();
        let rows = tx.audit_events_of(account).await.unwrap();
        rows.into_iter().map(|r| (r.action, serde_json::from_str(&r.details).unwrap())).collect()
    }

    /// A company with `quota` SMS and its user `driver`, whose email and phone are
    /// confirmed and who may receive SMS, with SMS codes on for both apps.
    pub async fn sms_driver(&self, quota: Option<i64>) -> Company {
        let company = self.company_with_sms("acme", quota).await;
        let driver = UserRequest {
            username: "driver".into(),
            email: Some("driver@fleet.example".into()),
            email_verified: true,
            phone: Some("+35312345678".into()),
            phone_verified: true,
            can_send_sms: true,
            ..Default::default()
        };
        self.user_from(company.account, company.admin, driver).await;
        let token = self.signed_in("driver").await;
        let on = json!({ "method": "sms" });
        let on = self.send(reqwest::Method::PUT, "/api/v1/me/two-factor", Some(&token), Some(on)).await;
        assert_eq!(json_of(on, StatusCode::OK).await, json!({ "web": "sms", "manager": "sms" }));
        company
    }

    /// Messages left in the account's SMS quota.
    pub async fn sms_quota(&self, account: AccountId) -> i64 {
        let mut tx = self.app.store.read().await.unwrap();
        tx.account_by_id(account).await.unwrap().unwrap().sms_quota
    }
}

pub struct Company {
    pub account: AccountId,
    pub admin: UserId,
}

/// Follows a link as a browser would: the page, then its button. `base` is the
/// server's URL without a trailing slash.
pub async fn follow(base: &str, path: &str) -> (StatusCode, String) {
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let browser = reqwest::Client::builder().cookie_provider(jar).build().unwrap();
    let page = browser.get(format!("{base}{path}")).send().await.unwrap().text().await.unwrap();
    let Some(at) = page.find("name=\"csrf\" value=\"") else {
        return (StatusCode::GONE, page);
    };
    let csrf: String = page[at + 19..].chars().take_while(|c| *c != '"').collect();
    let body = format!("csrf={}", url::form_urlencoded::byte_serialize(csrf.as_bytes()).collect::<String>());
    let form =
        browser.post(format!("{base}{path}")).header("content-type", "application/x-www-form-urlencoded");
    let answer = form.body(body).send().await.unwrap();
    (answer.status(), answer.text().await.unwrap())
}

pub fn new_password(page: &str) -> String {
    let at = page.find("id=\"new-password\" class=\"secret\">").expect("the new password") + 33;
    page[at..].chars().take_while(|c| *c != '<').collect()
}

/// A six-digit code that is surely not `code`.
pub fn wrong_code(code: &str) -> &'static str {
    if code == "000000" { "111111" } else { "000000" }
}

/// The JSON body of a response, after checking its status.
pub async fn json_of(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let text = response.text().await.expect("body");
    assert_eq!(actual, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// A new, empty PostgreSQL database for one test.
pub async fn fresh_postgres_database() -> String {
    let admin = std::env::var("PORTCULLIS_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned());
    fresh_database_on(&admin).await
}

/// A new, empty database on the PostgreSQL server `admin` reaches; its URL.
pub async fn fresh_database_on(admin: &str) -> String {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(admin).await.unwrap_or_else(|e| {
        panic!("PostgreSQL tests need a server at {admin} (set PORTCULLIS_TEST_POSTGRES_URL): {e}")
    });
    let name = format!("portcullis_test_{}", hex::encode(rand::random::<[u8; 8]>()));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create the test database");
    let mut url = url::Url::parse(admin).expect("a URL");
    url.set_path(&name);
    url.to_string()
}
