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
    modifiers(&BearerAuth, &CommonErrors),
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

/// The errors any operation may answer with, in the one error shape, added to each
/// operation that does not describe them itself: what the server says about a request
/// it cannot read or serve, and, for operations that need a session, about the session.
struct CommonErrors;

impl Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let error = |description: &str| {
            let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
            ResponseBuilder::new().description(description).content("application/json", content).build()
        };
        let any = [
            ("400", "`malformed_json` or `invalid_query`: the request could not be read"),
            ("413", "`too_large`: the body is larger than the server accepts"),
            ("415", "`unsupported_media_type`: the body is not JSON"),
            ("422", "`invalid`: `field` names the value that is wrong"),
            (
                "503",
                "`timeout` (the request took too long) or `overloaded` (too many password checks \
                 waiting); `Retry-After` says when to try again",
            ),
        ];
        let signed_in = [
            ("401", "`unauthenticated`: no session, or it ended, went idle or expired"),
            (
                "403",
                "`forbidden`, `pending_duty` (with `pending`), `account_blocked`, or `cross_origin` \
                 (a change authorized by the session cookie from another site)",
            ),
        ];
        let not_found = ("404", "`not_found`: no such resource, or the path does not name one");
        for (path, item) in openapi.paths.paths.iter_mut() {
            let with_ids = path.contains('{');
            for operation in [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete]
                .into_iter()
                .flatten()
            {
                let needs_session = operation.security.as_ref().is_some_and(|s| !s.is_empty());
                let extra = any
                    .iter()
                    .chain(signed_in.iter().filter(|_| needs_session))
                    .chain(std::iter::once(&not_found).filter(|_| with_ids));
                for (status, description) in extra {
                    operation
                        .responses
                        .responses
                        .entry((*status).to_owned())
                        .or_insert_with(|| error(description).into());
                }
            }
        }
    }
}

/// The OpenAPI document of this API.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(document())
}
