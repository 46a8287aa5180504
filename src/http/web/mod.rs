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
mod authenticator;
mod code;
mod company;
mod csrf;
mod duties;
mod guard;
mod integrations;
mod login;
mod recovery;
mod switch;
mod templates;
mod visitor;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/", get(login::home))
        .route("/login", get(login::page).post(login::submit))
        .route("/login/code", get(code::page).post(code::submit))
        .route("/login/code/resend", post(code::resend))
        .route("/login/code/cancel", post(code::cancel))
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
        .route("/security/flespi", post(integrations::save))
        .route("/security/flespi/check", post(integrations::check))
        .route("/security/flespi/remove", post(integrations::remove))
        .route("/security/{kind}", post(account::save_address))
        .route("/security/{kind}/send", post(account::send_address_code))
        .route("/security/{kind}/confirm", post(account::confirm_address))
        .route("/sessions", get(account::sessions))
        .route("/accounts", get(accounts::page))
        .route("/accounts/{id}", post(accounts::save))
        .route("/company", get(company::page))
        .route("/company/audit.csv", get(company::audit_csv))
        .route("/company/general", post(company::save_general))
        .route("/company/defaults", post(company::save_defaults))
        .route("/company/users/{id}/{action}", post(company::user_action))
        .route("/sessions/others/end", post(account::end_others))
        .route("/sessions/{id}/end", post(account::end_one))
        .route(
            "/static/app.js",
            get(|| asset("text/javascript; charset=utf-8", include_str!("static/app.js"))),
        )
        .route("/static/app.css", get(|| asset("text/css; charset=utf-8", include_str!("static/app.css"))))
}

async fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], body)
        .into_response()
}
