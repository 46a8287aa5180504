//! One typed template per page.

use askama::Template;
use askama_web::WebTemplate;

use crate::{i18n::Tr, values::device::Device};

/// The languages offered on the sign-in page, as (code, own name).
pub const LANGUAGES: &[(&str, &str)] = &[("en", "English"), ("ru", "Русский"), ("es", "Español")];

/// What the shared layout shows around every page.
pub struct Layout {
    pub tr: Tr,
    pub csrf: String,
    /// The top bar's name of who is signed in; `None` on the sign-in pages.
    pub user: Option<String>,
    /// Acting as someone else: the top bar offers to switch back.
    pub acting: bool,
    /// An administrator signed in as themselves: the top bar offers the company settings.
    pub administers: bool,
    pub error: Option<String>,
    pub notice: Option<String>,
    pub languages: &'static [(&'static str, &'static str)],
    /// The language was picked on a page of this browser, not guessed.
    pub language_picked: bool,
    /// For signed-in pages: how often to ask for the session and when to call the
    /// connection lost, in milliseconds.
    pub poll: Option<(u64, u64)>,
    /// The `<base>` of relative links: `/`, or a tab's own path.
    pub base: String,
    /// The page's path relative to `base`, for links that change only the query.
    pub here: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub page: Layout,
    pub username: String,
    /// "Login as": the username typed, kept when the form comes back.
    pub login_as: String,
    /// The person picked the page's language: signing in makes it theirs.
    pub language_picked: bool,
}

impl LoginPage {
    pub fn empty(page: Layout) -> Self {
        let language_picked = page.language_picked;
        Self { page, username: String::new(), login_as: String::new(), language_picked }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "code.html")]
pub struct CodePage {
    pub page: Layout,
    /// "We sent a code by SMS to +35*******78."
    pub sent_to: String,
    /// The last code typed was wrong: the field turns red.
    pub wrong: bool,
    /// Seconds before "Resend the code" becomes active.
    pub resend_in: i64,
    /// `sms`, `email`: the ways a new code may be sent.
    pub channels: Vec<&'static str>,
    pub contact: Option<crate::values::Contact>,
    /// Whether to offer "Don't ask on this device for 30 days".
    pub may_trust_device: bool,
    /// For a passkey: the options the browser is asked with, as JSON.
    pub passkey_options: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "authenticator.html")]
pub struct AuthenticatorPage {
    pub page: Layout,
    pub enrolment: crate::mfa::totp::Enrolment,
    /// The last code typed was wrong.
    pub wrong: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "backup_codes.html")]
pub struct BackupCodesPage {
    pub page: Layout,
    pub codes: Vec<String>,
    /// The codes as a `data:` URL, for the download link.
    pub download: String,
}

impl BackupCodesPage {
    pub fn new(page: Layout, codes: Vec<String>) -> Self {
        let text = codes.join("%0A");
        Self { page, download: format!("data:text/plain;charset=utf-8,{text}%0A"), codes }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "forgot.html")]
pub struct ForgotPage {
    pub page: Layout,
    /// The request went through: say so instead of showing the form again.
    pub sent: bool,
    pub username: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "reset.html")]
pub struct ResetPage {
    pub page: Layout,
    /// The link may be followed: offer the button.
    pub valid: bool,
    /// After the reset: whose password, and the new one (shown once).
    pub username: Option<String>,
    pub password: Option<String>,
    pub must_change: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "switch.html")]
pub struct SwitchPage {
    pub page: Layout,
    /// Already acting as someone: only switching back is possible.
    pub acting: bool,
    pub targets: Vec<crate::impersonation::Target>,
    pub q: String,
    /// `all`, `users` or `accounts`.
    pub kind: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "passkey.html")]
pub struct PasskeyDutyPage {
    pub page: Layout,
}

#[derive(Template, WebTemplate)]
#[template(path = "dpa.html")]
pub struct DpaPage {
    pub page: Layout,
    pub text: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "password.html")]
pub struct PasswordPage {
    pub page: Layout,
    pub forced: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
pub struct HomePage {
    pub page: Layout,
    pub username: String,
    pub account: String,
    /// The second factor of each app, in words.
    pub web: String,
    pub manager: String,
    pub email: Option<Address>,
    pub phone: Option<Address>,
    /// Open sessions, this one included.
    pub sessions: usize,
    pub sign_ins: Vec<HistoryRow>,
    pub warnings: Vec<Warning>,
}

/// An email address or phone number and whether it is confirmed, in words.
pub struct Address {
    pub value: String,
    pub confirmed: bool,
    pub status: String,
}

impl Address {
    pub fn of(tr: Tr, value: Option<&str>, confirmed: bool) -> Option<Self> {
        let status = tr.t(if confirmed { "security-confirmed" } else { "security-unconfirmed" });
        value.map(|v| Self { value: v.to_owned(), confirmed, status })
    }
}

/// Something on the home page that needs the person's attention.
pub struct Warning {
    pub id: &'static str,
    pub text: String,
    /// Where to deal with it.
    pub link: Option<&'static str>,
}

#[derive(Template, WebTemplate)]
#[template(path = "blocked.html")]
pub struct BlockedPage {
    pub page: Layout,
    pub since: String,
    pub contact: crate::values::Contact,
}

pub struct HistoryRow {
    pub time: String,
    /// "as driver", for a sign-in that acted as someone.
    pub as_whom: Option<String>,
    pub result: String,
    pub result_text: String,
    pub ip: String,
    pub app: String,
    pub agent: Agent,
}

#[derive(Template, WebTemplate)]
#[template(path = "security.html")]
pub struct SecurityPage {
    pub page: Layout,
    /// The stored language's code.
    pub language: String,
    pub can_change_password: bool,
    pub email: String,
    pub email_verified: bool,
    pub phone: String,
    pub phone_verified: bool,
    /// `email` or `phone` when a code was just sent to it.
    pub sent: Option<String>,
    /// The second factor per app: `none`, `email` or `sms`.
    pub web: &'static str,
    pub manager: &'static str,
    /// Whether the company sends codes by SMS at all.
    pub sms_allowed: bool,
    /// Whether an authenticator app is on, and how many backup codes are left.
    pub authenticator: bool,
    pub backup_codes_left: i64,
    pub notify_account_blocking: bool,
    /// Whether the account's `email_notifications` service is on.
    pub email_notifications_service: bool,
    /// The flespi settings, for top users only.
    pub flespi: Option<FlespiSection>,
    pub devices: Vec<DeviceLine>,
    pub passkeys: Vec<PasskeyLine>,
    pub history: Vec<HistoryRow>,
    pub next: Option<i64>,
}

impl SecurityPage {
    /// The second factor on for `app`.
    pub fn method_of(&self, app: &str) -> &'static str {
        if app == "manager" { self.manager } else { self.web }
    }
}

/// The flespi section of the Security tab.
pub struct FlespiSection {
    /// The stored token, masked; empty when none is stored.
    pub token: String,
    pub region: &'static str,
    /// The last check: whether the token was active, and what to say about it.
    pub check: Option<(bool, String)>,
}

pub struct PasskeyLine {
    pub id: i64,
    pub name: String,
    pub added: String,
    pub last_used: Option<String>,
}

pub struct DeviceLine {
    pub id: i64,
    pub agent: Agent,
    pub ip: String,
    pub trusted_at: String,
    pub expires_at: String,
}

pub struct SessionLine {
    pub id: i64,
    pub app: &'static str,
    pub ip: String,
    pub agent: Agent,
    pub created_at: String,
    pub last_seen_at: String,
    pub current: bool,
    /// "support acting as you", for a session someone opened to act as the user.
    pub acting_by: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "sessions.html")]
pub struct SessionsPage {
    pub page: Layout,
    pub sessions: Vec<SessionLine>,
}

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub page: Layout,
}

/// A browser as people name it ("Chrome 156 on Linux"), with the `User-Agent` it was
/// read from for whoever wants the detail.
pub struct Agent {
    pub name: String,
    pub raw: String,
}

impl Agent {
    pub fn of(tr: Tr, user_agent: String) -> Self {
        let name = match Device::of(&user_agent) {
            None => tr.t("device-unknown"),
            Some(d) if d.system.is_empty() => d.browser,
            Some(d) => tr.with("device-name", [("browser", d.browser.into()), ("system", d.system.into())]),
        };
        Self { name, raw: user_agent }
    }
}

/// How times are shown on pages: `2030-03-01 09:00:00 UTC`.
pub fn show_time(t: time::OffsetDateTime) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    t.format(&format).unwrap_or_default()
}
