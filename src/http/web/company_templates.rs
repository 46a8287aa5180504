//! The typed templates of a company's administration: its settings, users, audit log
//! and accounts below.

use askama::Template;
use askama_web::WebTemplate;

use super::templates::Layout;

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
    /// Who must sign in with a passkey, per app.
    pub passkeys: crate::policy::PasskeyRequirement,
}

impl CompanyPage {
    /// The passkey rule for `app` (`web`, `manager`), as the form's values spell it.
    pub fn passkey_rule(&self, app: &str) -> &'static str {
        let rule = if app == "manager" { self.passkeys.manager } else { self.passkeys.web };
        rule.as_str()
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "audit.html")]
pub struct AuditPage {
    pub page: Layout,
    pub account: String,
    /// The users the log can be filtered by.
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
}

#[derive(Template, WebTemplate)]
#[template(path = "members.html")]
pub struct MembersPage {
    pub page: Layout,
    pub account: String,
    pub users: Vec<MemberLine>,
    /// The search typed.
    pub q: String,
    /// "Users 1–50 of 230".
    pub range: String,
    /// Links to the pages before and after this one.
    pub previous: Option<String>,
    pub next: Option<String>,
}

/// A user in the company's list, with the actions that apply to them.
pub struct MemberLine {
    pub id: i64,
    pub username: String,
    pub top_user: bool,
    /// The administrator looking at the page.
    pub me: bool,
    pub email: String,
    /// The second factor per app, in words.
    pub web: String,
    pub manager: String,
    /// A second factor or authenticator to reset.
    pub has_second_factor: bool,
    pub locked: bool,
    /// "2030-03-01 09:00:00 UTC · Signed in"; empty when never.
    pub last_sign_in: String,
    /// The administrator may act as them ("Login as").
    pub may_act_as: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "member.html")]
pub struct MemberPage {
    pub page: Layout,
    /// `None`: the form creates a user.
    pub id: Option<i64>,
    pub form: MemberForm,
    /// The user as stored when the page was made: the form posts it back, so that a save
    /// writes only what the administrator changed.
    pub was: MemberForm,
    /// The rights each other user holds on this one.
    pub holders: Vec<RightsLine>,
    /// The user's state, when editing.
    pub member: Option<MemberLine>,
}

/// The user form's values: as stored, or as posted when the form comes back.
#[derive(Clone, Default)]
pub struct MemberForm {
    pub username: String,
    pub email: String,
    pub email_verified: bool,
    pub phone: String,
    pub phone_verified: bool,
    pub can_change_password: bool,
    pub can_send_sms: bool,
    pub must_change_password: bool,
    pub top_user: bool,
    pub language: String,
}

impl MemberForm {
    pub fn new(language: &str) -> Self {
        Self { language: language.to_owned(), ..Self::default() }
    }
}

/// Someone and the rights they hold on the user being edited.
pub struct RightsLine {
    pub id: i64,
    pub username: String,
    pub act_as: bool,
    pub manage: bool,
}

pub struct AuditLine {
    pub time: String,
    /// Who did it, with "as whom" when impersonating.
    pub user: String,
    /// For whom, when not the person themselves.
    pub subject: String,
    pub action: String,
    pub action_text: String,
    /// The details, in words.
    pub sentence: String,
    pub ip: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "accounts.html")]
pub struct AccountsPage {
    pub page: Layout,
    /// The viewer's own account, whose terms only accounts above may change.
    pub own: AccountTerms,
    pub children: Vec<AccountTerms>,
    /// The new-account form's values (kept when it comes back refused).
    pub new: NewAccountForm,
}

/// The new-account form: the account and its first top user, who must change the
/// password given here at the first sign-in.
#[derive(Default, serde::Deserialize)]
pub struct NewAccountForm {
    pub name: String,
    pub admin_username: String,
    #[serde(default)]
    pub admin_password: String,
    #[serde(default)]
    pub admin_email: String,
    #[serde(default)]
    pub sms_quota: String,
    pub email_notifications: Option<String>,
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
