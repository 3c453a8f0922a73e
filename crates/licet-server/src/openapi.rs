//! The OpenAPI document, generated from the handlers' annotations and the wire types.

use axum::Json;
use licet_client::wire::*;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Licet server API", description = "Licensing, entitlements and usage metering for edge AI products."),
    paths(
        crate::routes::system::healthz,
        crate::routes::system::readyz,
        crate::routes::system::metrics,
        crate::routes::system::signing_keys,
        crate::routes::system::signing_key,
        crate::routes::catalogs::put_catalog,
        crate::routes::catalogs::list_products,
        crate::routes::tenants::create_tenant,
        crate::routes::tenants::list_tenants,
        crate::routes::tenants::get_tenant,
        crate::routes::tenants::create_api_key,
        crate::routes::tenants::list_api_keys,
        crate::routes::tenants::revoke_api_key,
        crate::routes::tenants::rotate_admin_token,
        crate::routes::subscriptions::create_subscription,
        crate::routes::subscriptions::list_subscriptions,
        crate::routes::subscriptions::get_subscription,
        crate::routes::subscriptions::change_subscription,
        crate::routes::subscriptions::suspend,
        crate::routes::subscriptions::resume,
        crate::routes::subscriptions::cancel,
        crate::routes::devices::activate,
        crate::routes::devices::challenge,
        crate::routes::devices::refresh,
        crate::routes::devices::heartbeat,
        crate::routes::devices::deactivate,
        crate::routes::devices::get_device,
        crate::routes::devices::list_devices,
        crate::routes::devices::list_cameras,
        crate::routes::usage::upload,
        crate::routes::usage::cloudevents,
        crate::routes::usage::series,
        crate::routes::usage::quotas,
        crate::routes::invoices::preview,
        crate::routes::invoices::issue,
        crate::routes::invoices::list,
    ),
    components(schemas(
        ErrorBody, ErrorDetail, Health, CatalogUploaded, ProductView, TenantCreate, TenantView, AddonQuantity,
        SubscriptionCreate, SubscriptionChange, SubscriptionView, ActivationRequest, ActivationResponse, DeviceProof, ActivationChallenge,
        RefreshRequest, RefreshResponse, HeartbeatRequest, HeartbeatResponse, DeviceView, CameraView,
        SigningKeyView, ApiKeyCreate, ApiKeyCreated, ApiKeyView, AdminTokenRotated, UsageUpload, UsageUploadEvent, UsageRejection,
        UsageUploadResult, UsageCloudEvent, UsageCloudEventData, EventRejection, CloudEventsResult,
        UsageSeries, UsageBucketView, QuotaStatusList, QuotaStatus, InvoiceLineView, LateUsageView,
        InvoiceView, TenantInvoices, InvoiceIssue,
    )),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// `GET /openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
