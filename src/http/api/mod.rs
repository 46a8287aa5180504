//! The JSON API under `/api/v1`, and its OpenAPI document. The routes are read from each
//! handler's `#[utoipa::path]`, so a route cannot exist without its description.

use std::sync::LazyLock;

use axum::{Json, Router, routing::get};
use utoipa::{Modify, OpenApi};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::app::App;

pub mod accounts;
pub mod clients;
pub mod doc;
pub mod forward_auth;
pub mod impersonation;
pub mod integrations;
pub mod login;
pub mod me;
pub mod passkeys;
pub mod session;
pub mod users;

#[derive(OpenApi)]
#[openapi(info(
    title = "Portcullis",
    description = "Authentication and account security for multi-tenant platforms."
))]
struct ApiDoc;

/// Every operation, each routed where its description says.
fn described() -> OpenApiRouter<App> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(login::login))
        .routes(routes!(login::verify))
        .routes(routes!(login::resend))
        .routes(routes!(passkeys::sign_in_options))
        .routes(routes!(passkeys::sign_in))
        .routes(routes!(passkeys::registration_options))
        .routes(routes!(passkeys::list, passkeys::register))
        .routes(routes!(passkeys::remove))
        .routes(routes!(session::get, session::delete))
        .routes(routes!(forward_auth::check))
        .routes(routes!(impersonation::start, impersonation::stop))
        .routes(routes!(impersonation::targets))
        .routes(routes!(me::accept_dpa))
        .routes(routes!(me::change_password))
        .routes(routes!(me::forgot_password))
        .routes(routes!(me::login_history))
        .routes(routes!(me::security, me::update_security))
        .routes(routes!(me::put_two_factor))
        .routes(routes!(me::enrol_totp, me::disable_totp))
        .routes(routes!(me::confirm_totp))
        .routes(routes!(me::regenerate_backup_codes))
        .routes(routes!(me::trusted_devices))
        .routes(routes!(me::revoke_trusted_device))
        .routes(routes!(integrations::flespi, integrations::save_flespi, integrations::remove_flespi))
        .routes(routes!(integrations::check_flespi))
        .routes(routes!(me::send_email_code))
        .routes(routes!(me::confirm_email))
        .routes(routes!(me::send_phone_code))
        .routes(routes!(me::confirm_phone))
        .routes(routes!(session::list, session::end_others))
        .routes(routes!(session::end_one))
        .routes(routes!(accounts::create))
        .routes(routes!(accounts::get, accounts::update))
        .routes(routes!(accounts::get_policy, accounts::put_policy))
        .routes(routes!(accounts::audit_trail))
        .routes(routes!(clients::list, clients::create))
        .routes(routes!(clients::delete))
        .routes(routes!(users::create))
        .routes(routes!(users::update))
        .routes(routes!(users::reset_two_factor))
        .routes(routes!(users::unlock))
        .routes(routes!(users::end_sessions))
        .routes(routes!(users::put_grants, users::delete_grants))
}

pub fn routes() -> Router<App> {
    let (router, _) = described().split_for_parts();
    router.route("/api/v1/openapi.json", get(openapi))
}

/// The OpenAPI document of this API.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, mut document) = described().split_for_parts();
    doc::BearerAuth.modify(&mut document);
    doc::CommonErrors.modify(&mut document);
    document
}

async fn openapi() -> Json<&'static utoipa::openapi::OpenApi> {
    static DOCUMENT: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(document);
    Json(&DOCUMENT)
}
