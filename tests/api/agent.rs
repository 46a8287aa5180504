//! A browser without a screen, for flows that leave the server and come back (an app's
//! sign-in, forward auth): it keeps cookies, follows redirects and pages that move on by
//! themselves while they stay on the server, posts forms with their CSRF token, and stops
//! at the first address elsewhere.

use reqwest::StatusCode;

use crate::helpers::TestApp;

pub struct Agent {
    pub http: reqwest::Client,
    base: String,
}

/// Where a visit ended.
#[derive(Debug)]
pub enum Stop {
    /// At an address off this server (an app's redirect URI), not fetched.
    Away(String),
    /// At a page of this server that waits for the person.
    Page { path: String, status: StatusCode, body: String },
}

impl Stop {
    /// The address off the server; panics at a page.
    pub fn away(&self) -> &str {
        match self {
            Stop::Away(url) => url,
            Stop::Page { path, status, body } => panic!("stayed at {path} ({status}): {body}"),
        }
    }

    /// The page; panics elsewhere.
    pub fn page(&self) -> (&str, StatusCode, &str) {
        match self {
            Stop::Page { path, status, body } => (path, *status, body),
            Stop::Away(url) => panic!("left for {url}"),
        }
    }
}

impl Agent {
    pub fn new(app: &TestApp) -> Self {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        let http = reqwest::Client::builder()
            .cookie_provider(jar)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self { http, base: app.url("") }
    }

    /// Visits `url` (absolute, or a path of this server) and goes where it leads.
    pub async fn visit(&self, url: &str) -> Stop {
        self.go(self.http.get(self.absolute(url))).await
    }

    /// Posts the form of `page` to `action` with `fields` and its CSRF token.
    pub async fn submit(&self, page: &str, action: &str, fields: &[(&str, &str)]) -> Stop {
        let mut form: Vec<(&str, String)> = fields.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        form.push(("csrf", csrf_of(page)));
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let request = self
            .http
            .post(self.absolute(action))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        self.go(request).await
    }

    /// Signs in on the sign-in page `at` reached, and goes where that leads.
    pub async fn sign_in(&self, at: Stop, username: &str, password: &str) -> Stop {
        let (path, _, body) = at.page();
        assert_eq!(path, "/login", "the sign-in page");
        self.submit(body, "/login", &[("username", username), ("password", password)]).await
    }

    async fn go(&self, request: reqwest::RequestBuilder) -> Stop {
        let mut response = request.send().await.unwrap();
        for _ in 0..20 {
            let next = match response.headers().get("location") {
                Some(location) if response.status().is_redirection() => {
                    Some(location.to_str().unwrap().to_owned())
                }
                _ => None,
            };
            let url = response.url().clone();
            let next = match next {
                Some(next) => url.join(&next).unwrap().to_string(),
                None => {
                    let status = response.status();
                    let body = response.text().await.unwrap();
                    match refresh_target(&body) {
                        Some(target) => url.join(&target).unwrap().to_string(),
                        None => return Stop::Page { path: url.path().to_owned(), status, body },
                    }
                }
            };
            if !next.starts_with(&self.base) {
                return Stop::Away(next);
            }
            response = self.http.get(&next).send().await.unwrap();
        }
        panic!("too many redirects");
    }

    fn absolute(&self, url: &str) -> String {
        if url.starts_with('/') { format!("{}{url}", self.base) } else { url.to_owned() }
    }
}

/// The CSRF token of a page's form.
pub fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a form with a CSRF token") + 19;
    page[at..].chars().take_while(|c| *c != '"').collect()
}

/// The value of a hidden field of a page's form.
pub fn field_of(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = page.find(&marker).expect("the field") + marker.len();
    unescape(&page[at..].chars().take_while(|c| *c != '"').collect::<String>())
}

/// Where a page that moves on by itself (`<meta http-equiv="refresh">`) goes.
fn refresh_target(page: &str) -> Option<String> {
    const MARKER: &str = "http-equiv=\"refresh\" content=\"0;url=";
    let at = page.find(MARKER)? + MARKER.len();
    Some(unescape(&page[at..].chars().take_while(|c| *c != '"').collect::<String>()))
}

fn unescape(html: &str) -> String {
    html.replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
}
