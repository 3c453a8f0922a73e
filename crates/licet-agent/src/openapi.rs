//! The local API's OpenAPI document. [`crate::router`] registers every handler through
//! utoipa-axum's `routes!`, which reads the handler's `#[utoipa::path]`, so the router
//! and this document are one declaration. When `api_token` is configured, every route
//! but `/health` needs it as a bearer token; a license import needs it always.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The document's fixed parts; the paths are added by the router.
#[derive(OpenApi)]
#[openapi(
    info(title = "Licet agent local API", description = "Entitlement checks, cameras, usage and activation on the device, served on loopback; plus the products' own local license APIs and OpenFeature remote evaluation (OFREP)."),
    modifiers(&LocalToken)
)]
pub struct ApiDoc;

struct LocalToken;

impl Modify for LocalToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.description = Some(
            "The agent's `api_token`, when one is configured (without one the API answers \
             loopback `Host`s only)."
                .to_owned(),
        );
        components.add_security_scheme("api_token", SecurityScheme::Http(scheme));
        // Every operation: no token (none configured), or the token.
        openapi.security = Some(vec![
            SecurityRequirement::default(),
            SecurityRequirement::new("api_token", Vec::<String>::new()),
        ]);
    }
}
