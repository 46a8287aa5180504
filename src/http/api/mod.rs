//! The JSON API under `/api/v1`, and its OpenAPI document.

use axum::{
    Json, Router,
    routing::{get, patch, post, put},
};
use serde::Serialize;
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};

use crate::app::App;

pub mod accounts;
pub mod impersonation;
pub mod integrations;
pub mod login;
pub mod me;
pub mod session;
pub mod users;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/api/v1/login", post(login::login))
        .route("/api/v1/login/verify", post(login::verify))
        .route("/api/v1/login/resend", post(login::resend))
        .route("/api/v1/session", get(session::get).delete(session::delete))
        .route("/api/v1/impersonation", post(impersonation::start).delete(impersonation::stop))
        .route("/api/v1/impersonation/targets", get(impersonation::targets))
        .route("/api/v1/session/accept-dpa", post(me::accept_dpa))
        .route("/api/v1/password/change", post(me::change_password))
        .route("/api/v1/password/forgot", post(me::forgot_password))
        .route("/api/v1/me/login-history", get(me::login_history))
        .route("/api/v1/me/security", get(me::security).patch(me::update_security))
        .route("/api/v1/me/two-factor", put(me::put_two_factor))
        .route("/api/v1/me/totp", post(me::enrol_totp).delete(me::disable_totp))
        .route("/api/v1/me/totp/confirm", post(me::confirm_totp))
        .route("/api/v1/me/backup-codes", post(me::regenerate_backup_codes))
        .route("/api/v1/me/trusted-devices", get(me::trusted_devices))
        .route("/api/v1/me/trusted-devices/{id}", axum::routing::delete(me::revoke_trusted_device))
        .route(
            "/api/v1/me/integrations/flespi",
            get(integrations::flespi).put(integrations::save_flespi).delete(integrations::remove_flespi),
        )
        .route("/api/v1/me/integrations/flespi/check", post(integrations::check_flespi))
        .route("/api/v1/me/email/verification", post(me::send_email_code))
        .route("/api/v1/me/email/verification/confirm", post(me::confirm_email))
        .route("/api/v1/me/phone/verification", post(me::send_phone_code))
        .route("/api/v1/me/phone/verification/confirm", post(me::confirm_phone))
        .route("/api/v1/sessions", get(session::list).delete(session::end_others))
        .route("/api/v1/sessions/{id}", axum::routing::delete(session::end_one))
        .route("/api/v1/accounts", post(accounts::create))
        .route("/api/v1/accounts/{id}", get(accounts::get).patch(accounts::update))
        .route("/api/v1/accounts/{id}/two-factor-policy", get(accounts::get_policy).put(accounts::put_policy))
        .route("/api/v1/accounts/{id}/audit", get(accounts::audit_trail))
        .route("/api/v1/users", post(users::create))
        .route("/api/v1/users/{id}", patch(users::update))
        .route("/api/v1/users/{id}/two-factor/reset", post(users::reset_two_factor))
        .route("/api/v1/users/{id}/unlock", post(users::unlock))
        .route("/api/v1/users/{id}/sessions", axum::routing::delete(users::end_sessions))
        .route("/api/v1/users/{id}/grants/{target_id}", put(users::put_grants).delete(users::delete_grants))
        .route("/api/v1/openapi.json", get(openapi))
}

/// Every error answer has this shape, plus fields named in each endpoint's description
/// (`field`, `retry_after`, `pending`...).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable snake_case code, e.g. `invalid_credentials`.
    error: String,
    /// A sentence for people.
    message: String,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Portcullis", description = "Authentication and account security for multi-tenant platforms."),
    paths(
        login::login, login::verify, login::resend,
        impersonation::targets, impersonation::start, impersonation::stop,
        session::get, session::delete, session::list, session::end_one, session::end_others,
        me::accept_dpa, me::change_password, me::forgot_password, me::login_history, me::send_email_code, me::confirm_email, me::send_phone_code, me::confirm_phone,
        me::security, me::update_security, me::put_two_factor,
        me::enrol_totp, me::confirm_totp, me::disable_totp, me::regenerate_backup_codes, me::trusted_devices, me::revoke_trusted_device,
        integrations::flespi, integrations::save_flespi, integrations::remove_flespi, integrations::check_flespi,
        accounts::create, accounts::get, accounts::update, accounts::get_policy, accounts::put_policy, accounts::audit_trail,
        users::create, users::update, users::put_grants, users::delete_grants, users::reset_two_factor, users::unlock, users::end_sessions,
    ),
    modifiers(&BearerAuth),
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI document of this API.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(document())
}
