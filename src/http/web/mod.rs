//! The pages people use: sign-in, first-login duties, home, security and sessions. Each
//! page is one typed template over a shared layout, every string translated; forms work
//! without JavaScript and carry a CSRF token; the only script is a static file (the
//! Content-Security-Policy allows no inline code).

use axum::{
    Router,
    http::header,
    response::{IntoResponse, Response},
    routing::{get, post},
};

use crate::app::App;

mod account;
mod accounts;
mod apps;
mod audit_words;
mod authenticator;
mod code;
mod company;
mod company_templates;
mod csrf;
mod duties;
mod guard;
mod home;
mod integrations;
mod login;
mod members;
mod oidc;
mod passkeys;
mod recovery;
mod returns;
mod switch;
pub(super) mod tabs;
mod templates;
mod visitor;

pub(super) use guard::not_found;
pub(super) use returns::allowed as return_allowed;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/", get(home::home))
        .route("/login", get(login::page).post(login::submit))
        .route("/login/code", get(code::page).post(code::submit))
        .route("/login/code/resend", post(code::resend))
        .route("/login/code/cancel", post(code::cancel))
        .route("/login/passkey", post(passkeys::sign_in))
        .route("/passkey", get(passkeys::duty_page))
        .route("/security/passkeys/{id}/remove", post(passkeys::remove))
        .route("/logout", post(login::logout))
        .route("/switch", get(switch::page))
        .route("/switch/back", post(switch::back))
        .route("/switch/{id}", post(switch::start))
        .route("/forgot", get(recovery::forgot_page).post(recovery::forgot_submit))
        .route("/reset/{token}", get(recovery::reset_page).post(recovery::reset_submit))
        .route("/dpa", get(duties::dpa_page).post(duties::dpa_accept))
        .route("/password", get(duties::password_page).post(duties::password_submit))
        .route("/security", get(account::security))
        .route("/security/two-factor", post(account::save_two_factor))
        .route("/security/authenticator", post(authenticator::start))
        .route("/security/authenticator/confirm", post(authenticator::confirm))
        .route("/security/authenticator/disable", post(authenticator::disable))
        .route("/security/backup-codes", post(authenticator::regenerate))
        .route("/security/devices/{id}/revoke", post(authenticator::revoke_device))
        .route("/security/notices", post(account::save_notices))
        .route("/security/language", post(account::save_language))
        .route("/security/flespi", post(integrations::save))
        .route("/security/flespi/check", post(integrations::check))
        .route("/security/flespi/remove", post(integrations::remove))
        .route("/security/{kind}", post(account::save_address))
        .route("/security/{kind}/send", post(account::send_address_code))
        .route("/security/{kind}/confirm", post(account::confirm_address))
        .route("/sessions", get(account::sessions))
        .route("/accounts", get(accounts::page).post(accounts::create))
        .route("/accounts/{id}", post(accounts::save))
        .route("/company", get(company::page))
        .route("/company/audit.csv", get(company::audit_csv))
        .route("/company/general", post(company::save_general))
        .route("/company/defaults", post(company::save_defaults))
        .route("/company/passkeys", post(company::save_passkeys))
        .route("/company/audit", get(company::audit_log))
        .route("/company/apps", get(apps::page).post(apps::create))
        .route("/company/apps/{client_id}/delete", post(apps::delete))
        .route("/company/users", get(members::list).post(members::create))
        .route("/company/users/new", get(members::new))
        .route("/company/users/{id}", get(members::edit).post(members::save))
        .route("/company/users/{id}/rights", post(members::save_rights))
        .route("/company/users/{id}/{action}", post(members::act))
        .route("/oauth2/authorize", get(oidc::authorize).post(oidc::authorize))
        .route("/oauth2/consent", post(oidc::consent))
        .route("/oauth2/logout", get(oidc::logout).post(oidc::logout))
        .route("/oauth2/logout/confirm", post(oidc::confirm_logout))
        .route("/sessions/others/end", post(account::end_others))
        .route("/sessions/{id}/end", post(account::end_one))
        .route(
            "/static/app.js",
            get(|| asset("text/javascript; charset=utf-8", include_str!("static/app.js"))),
        )
        .route(
            "/static/passkeys.js",
            get(|| asset("text/javascript; charset=utf-8", include_str!("static/passkeys.js"))),
        )
        .route("/static/app.css", get(|| asset("text/css; charset=utf-8", include_str!("static/app.css"))))
}

async fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], body)
        .into_response()
}
