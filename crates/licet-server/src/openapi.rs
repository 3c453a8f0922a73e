//! The OpenAPI document. [`crate::router`] registers every handler through utoipa-axum's
//! `routes!`, which reads the handler's `#[utoipa::path]`: the router and this document
//! come from the same declaration, so no route is served undocumented. Each
//! operation's `security` says who may call it — `admin_token`, `api_key` with the
//! scopes it needs as roles, `device_token` — and a test holds the handlers to it.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The document's fixed parts; the paths are added by the router.
#[derive(OpenApi)]
#[openapi(
    info(title = "Licet server API", description = "Licensing, entitlements and usage metering for edge AI products."),
    modifiers(&Credentials)
)]
pub struct ApiDoc;

struct Credentials;

impl Modify for Credentials {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, description) in [
            ("admin_token", "The vendor's admin token (`lct_admin_…`)."),
            (
                "api_key",
                "A tenant API key (`lct_live_…`). The roles an operation lists are the scopes \
                 the key needs; a `write` scope includes its `read`. Another tenant's ids \
                 answer 404, exactly like ids that do not exist.",
            ),
            (
                "device_token",
                "A device token (`lct_dev_…`), answered by activation; it acts only on its own device.",
            ),
        ] {
            let mut scheme = Http::new(HttpAuthScheme::Bearer);
            scheme.description = Some(description.to_owned());
            components.add_security_scheme(name, SecurityScheme::Http(scheme));
        }
    }
}
