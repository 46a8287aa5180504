//! What the OpenAPI document says beyond each operation's own description: the one error
//! shape, the bearer scheme, and the errors any operation may answer with.

use serde::Serialize;
use utoipa::{
    Modify,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};

/// Every error answer has this shape, plus fields named in each endpoint's description
/// (`field`, `retry_after`, `pending`...).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable snake_case code, e.g. `invalid_credentials`.
    pub error: String,
    /// A sentence for people.
    pub message: String,
}

pub struct BearerAuth;

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
pub struct CommonErrors;

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
                "`timeout` (the request took too long), `overloaded` (too many password checks \
                 waiting) or `unavailable` (the database cannot be reached); `Retry-After` says \
                 when to try again",
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
