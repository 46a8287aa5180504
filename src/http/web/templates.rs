//! One typed template per page.

use askama::Template;
use askama_web::WebTemplate;

use crate::i18n::Tr;

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
    pub error: Option<String>,
    pub notice: Option<String>,
    pub languages: &'static [(&'static str, &'static str)],
    /// For signed-in pages: how often to ask for the session and when to call the
    /// connection lost, in milliseconds.
    pub poll: Option<(u64, u64)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub page: Layout,
    pub username: String,
    /// "Login as": the username typed, kept when the form comes back.
    pub login_as: String,
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
    /// A top user of the account: the company settings are theirs.
    pub administers: bool,
}

pub struct HistoryRow {
    pub time: String,
    pub result: String,
    pub result_text: String,
    pub ip: String,
    pub app: String,
    pub user_agent: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "security.html")]
pub struct SecurityPage {
    pub page: Layout,
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

pub struct DeviceLine {
    pub id: i64,
    pub user_agent: String,
    pub ip: String,
    pub trusted_at: String,
    pub expires_at: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "company.html")]
pub struct CompanyPage {
    pub page: Layout,
    pub account: String,
    pub email_only: bool,
    pub contact: crate::values::Contact,
    pub allow_trusted_devices: bool,
    pub default_web: bool,
    pub default_manager: bool,
    pub users: Vec<UserLine>,
    pub log: Vec<AuditLine>,
    /// The query string of the next (older) page of the log.
    pub next: Option<String>,
    /// The CSV export of the log as filtered.
    pub csv: String,
    pub actions: &'static [&'static str],
    pub chosen_action: String,
    pub chosen_user: String,
    pub from: String,
    pub to: String,
}

pub struct UserLine {
    pub id: i64,
    pub username: String,
    pub top_user: bool,
    /// The administrator looking at the page.
    pub me: bool,
}

pub struct AuditLine {
    pub time: String,
    /// Who did it, with "(as whom)" when impersonating.
    pub user: String,
    pub subject: String,
    pub action: String,
    pub action_text: String,
    pub details: String,
    pub ip: String,
}

pub struct SessionLine {
    pub id: i64,
    pub app: &'static str,
    pub ip: String,
    pub user_agent: String,
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

/// How times are shown on pages: `2030-03-01 09:00:00 UTC`.
pub fn show_time(t: time::OffsetDateTime) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    t.format(&format).unwrap_or_default()
}

#[derive(Template, WebTemplate)]
#[template(path = "accounts.html")]
pub struct AccountsPage {
    pub page: Layout,
    /// The viewer's own account, whose terms only accounts above may change.
    pub own: AccountTerms,
    pub children: Vec<AccountTerms>,
}

/// An account's blocking date and services, as the page shows and edits them.
pub struct AccountTerms {
    pub id: i64,
    pub name: String,
    /// The account's own blocking date as `YYYY-MM-DDTHH:MM` (UTC); empty when none.
    pub blocking_date: String,
    /// The date in force, its own or from above, for people to read; empty when none.
    pub blocked_from: String,
    pub blocked: bool,
    pub sms: bool,
    pub sms_quota: i64,
    pub email_notifications: bool,
}
