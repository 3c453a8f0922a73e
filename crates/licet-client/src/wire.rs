//! Request and response bodies of the server API (v1), with their OpenAPI schemas.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The body of every error response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
    /// A signed verdict (`-----BEGIN LICET VERDICT-----`), when the server definitively
    /// refuses a device: its subscription is suspended or cancelled, or it was revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
}

/// An error's code and message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable code, e.g. `too_many_devices`.
    pub code: String,
    /// What was wrong and how to fix it.
    pub message: String,
    /// Individual problems, e.g. every problem in an uploaded catalog.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

/// `GET /healthz`, `GET /readyz`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
}

/// `PUT /v1/products/{product_id}/catalog` response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CatalogUploaded {
    /// The product.
    pub product_id: String,
    /// The catalog's version string.
    pub version: String,
    /// Upload order within the product.
    pub revision: i64,
}

/// A product and its current catalog.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProductView {
    /// The product.
    pub product_id: String,
    /// Current catalog version.
    pub version: String,
    /// Its revision.
    pub revision: i64,
}

/// `POST /v1/tenants` body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantCreate {
    /// Display name (1–200 characters).
    pub name: String,
}

/// A tenant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TenantView {
    /// Id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Creation time.
    pub created_at: String,
}

/// An add-on and its quantity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddonQuantity {
    /// Add-on id from the catalog.
    pub id: String,
    /// Quantity (cameras, seats, …); default 1.
    #[serde(default = "one")]
    pub quantity: u64,
}

fn one() -> u64 {
    1
}

/// `POST /v1/tenants/{tenant_id}/subscriptions` body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionCreate {
    /// Product (with an uploaded catalog).
    pub product_id: String,
    /// Plan id from the catalog.
    pub plan: String,
    /// Add-ons.
    #[serde(default)]
    pub addons: Vec<AddonQuantity>,
    /// Take the plan as its trial.
    #[serde(default)]
    pub trial: bool,
    /// Explicit module list replacing the tiers' modules.
    #[serde(default)]
    pub modules: Option<Vec<String>>,
    /// Length of the paid term in days (default: the catalog's term, or the trial).
    #[serde(default)]
    pub term_days: Option<u32>,
}

/// `PATCH /v1/subscriptions/{id}` body: what to change.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionChange {
    /// New plan.
    #[serde(default)]
    pub plan: Option<String>,
    /// New add-on list (replaces the old one).
    #[serde(default)]
    pub addons: Option<Vec<AddonQuantity>>,
    /// New explicit module list (an empty list returns to the tiers' modules).
    #[serde(default)]
    pub modules: Option<Vec<String>>,
}

/// A subscription.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SubscriptionView {
    /// Id.
    pub id: String,
    /// Owner.
    pub tenant_id: String,
    /// Product.
    pub product_id: String,
    /// Plan.
    pub plan: String,
    /// Add-ons.
    pub addons: Vec<AddonQuantity>,
    /// Taken as a trial.
    pub trial: bool,
    /// Explicit modules.
    pub modules: Option<Vec<String>>,
    /// `active`, `suspended` or `cancelled`.
    pub status: String,
    /// The full license key: only in the response that created the subscription.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_key: Option<String>,
    /// The key's last four characters.
    pub license_key_hint: String,
    /// End of the term, if fixed.
    pub term_ends_at: Option<String>,
    /// Creation time.
    pub created_at: String,
}

/// `POST /v1/activations` body. Authenticated by the license key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivationRequest {
    /// The license key, as typed.
    pub license_key: String,
    /// The device fingerprint (stable machine identity, hashed by the agent).
    pub fingerprint: String,
    /// The device's public key, `ed25519:<base64>`.
    pub device_public_key: String,
    /// A name for the device.
    pub name: String,
    /// Hardware facts (RAM, GPU, model), free-form.
    #[serde(default)]
    pub hardware: Option<serde_json::Value>,
    /// Proof of holding the device key; required to re-activate a device that is
    /// already active with this key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<DeviceProof>,
}

/// A device's proof that it holds its key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceProof {
    /// A nonce from `POST /v1/activations/challenge`.
    pub nonce: String,
    /// Ed25519 signature (base64url) by the device key over
    /// `"licet activation proof v1\n" + nonce + "\n" + hex(SHA-256(fingerprint))`.
    pub signature: String,
}

/// `POST /v1/activations/challenge` response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ActivationChallenge {
    /// The nonce to sign.
    pub nonce: String,
    /// When it stops being accepted.
    pub expires_at: String,
}

/// `POST /v1/activations` response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ActivationResponse {
    /// The device id.
    pub device_id: String,
    /// The device token (`lct_dev_…`), shown once.
    pub device_token: String,
    /// The signed license, armored.
    pub license: String,
}

/// `POST /v1/devices/{device_id}/refresh` body.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// A fresh random string; a signed verdict echoes it, so it cannot be replayed.
    #[serde(default)]
    pub nonce: Option<String>,
}

/// `POST /v1/devices/{device_id}/refresh` response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RefreshResponse {
    /// The new signed license, armored.
    pub license: String,
    /// Its sequence number.
    pub sequence: u64,
}

/// `POST /v1/devices/{device_id}/heartbeat` body.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatRequest {
    /// Agent version.
    #[serde(default)]
    pub agent_version: Option<String>,
    /// Metrics (free-form numbers).
    #[serde(default)]
    pub metrics: Option<serde_json::Value>,
    /// Cameras active now.
    #[serde(default)]
    pub active_cameras: Vec<String>,
    /// Modules running now.
    #[serde(default)]
    pub running_modules: Vec<String>,
}

/// `POST /v1/devices/{device_id}/heartbeat` response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HeartbeatResponse {
    /// When to send the next heartbeat.
    pub next_heartbeat_in_seconds: u64,
    /// The server's count of each quota this period (all devices and back-ends), so a
    /// device that spent offline reconciles with what the others used.
    #[serde(default)]
    pub quotas: Vec<QuotaUsage>,
}

/// A quota's use this period by the server's count.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct QuotaUsage {
    /// The quota feature.
    pub feature: String,
    /// The meter that consumes it.
    pub meter: String,
    /// The period's key (`2026-11`).
    pub period: String,
    /// Units used by the server's count.
    pub used: u64,
}

/// `POST /v1/devices/{device_id}/usage` body: a batch from a device's usage outbox.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageUpload {
    /// Events in sequence order (at most 5000).
    pub events: Vec<UsageUploadEvent>,
}

/// One uploaded usage event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageUploadEvent {
    /// The device's sequence number for the event (from 1, never reused).
    pub sequence: u64,
    /// The meter, from the product's catalog (or `camera_day`, recorded by the agent).
    #[serde(rename = "type")]
    pub kind: String,
    /// Units: a non-negative integer (anything else rejects this event only).
    #[schema(value_type = u64, maximum = 9007199254740991.0)]
    pub quantity: serde_json::Value,
    /// Unit, as recorded.
    #[serde(default)]
    pub unit: Option<String>,
    /// The camera it is about.
    #[serde(default)]
    pub camera_id: Option<String>,
    /// Device time, RFC 3339.
    pub time: String,
    /// Attributes (an object).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Value>,
}

/// A refused event: stored with its reason and acknowledged, never counted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UsageRejection {
    /// Its sequence number.
    pub sequence: u64,
    /// Why.
    pub reason: String,
}

/// `POST /v1/devices/{device_id}/usage` answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UsageUploadResult {
    /// Events stored now (rejected ones included).
    pub stored: u64,
    /// Events the server already had (a retried batch).
    pub duplicates: u64,
    /// Events refused, with the reason.
    pub rejected: Vec<UsageRejection>,
    /// Every sequence up to this one is stored: the device may drop them.
    pub acknowledged_through: u64,
}

/// One CloudEvents 1.0 usage event (structured mode): `type` names the meter, `data`
/// carries the quantity. Dedup is on the tenant, `source` and `id`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UsageCloudEvent {
    /// Must be `1.0`.
    pub specversion: String,
    /// The sender's id for the event, unique within `source`.
    pub id: String,
    /// Who sent it, e.g. `https://billing.vendor.example/edge`.
    pub source: String,
    /// The meter, from the product's catalog (e.g. `api_call`).
    #[serde(rename = "type")]
    pub kind: String,
    /// When it happened (RFC 3339); the receive time when absent.
    #[serde(default)]
    pub time: Option<String>,
    /// What it is about (kept as the resource).
    #[serde(default)]
    pub subject: Option<String>,
    /// `application/json` when given.
    #[serde(default)]
    pub datacontenttype: Option<String>,
    /// The measurement.
    pub data: UsageCloudEventData,
}

/// The `data` of a usage CloudEvent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UsageCloudEventData {
    /// Units: a non-negative integer.
    #[schema(value_type = u64, maximum = 9007199254740991.0)]
    pub quantity: serde_json::Value,
    /// Unit, as measured.
    #[serde(default)]
    pub unit: Option<String>,
    /// The camera it is about.
    #[serde(default)]
    pub camera_id: Option<String>,
    /// For a meter billed at cost: the cost in minor units.
    #[serde(default)]
    pub cost_minor: Option<i64>,
    /// Anything else (an object).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Value>,
}

/// A refused event of a batch: not stored; fix it and send it again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EventRejection {
    /// Its position in the batch, from 0.
    pub index: usize,
    /// Its id, if it had one.
    pub id: Option<String>,
    /// Why.
    pub reason: String,
}

/// The answer to a CloudEvents ingestion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CloudEventsResult {
    /// Events stored now.
    pub accepted: u64,
    /// Events already stored (same source and id): not counted again.
    pub duplicates: u64,
    /// Events refused, with the reason; the rest of the batch is stored.
    pub rejected: Vec<EventRejection>,
}

/// `GET /v1/tenants/{tenant_id}/usage` answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UsageSeries {
    /// The tenant.
    pub tenant_id: String,
    /// From (inclusive, RFC 3339).
    pub from: String,
    /// To (exclusive, RFC 3339).
    pub to: String,
    /// `hour`, `day` or `month`.
    pub window: String,
    /// Buckets with usage, oldest first, then by meter.
    pub buckets: Vec<UsageBucketView>,
}

/// One bucket of usage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UsageBucketView {
    /// The bucket's start (RFC 3339, UTC).
    pub start: String,
    /// The meter.
    pub meter: String,
    /// Units.
    pub quantity: u64,
    /// Events.
    pub events: u64,
}

/// `GET /v1/tenants/{tenant_id}/quotas` answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct QuotaStatusList {
    /// The tenant.
    pub tenant_id: String,
    /// One entry per subscription and quota feature.
    pub quotas: Vec<QuotaStatus>,
}

/// Where a quota stands in its current period, by the server's count.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct QuotaStatus {
    /// The subscription.
    pub subscription_id: String,
    /// The quota feature.
    pub feature: String,
    /// The meter that consumes it.
    pub meter: String,
    /// The period's key (`2026-11`).
    pub period: String,
    /// The period's start (RFC 3339).
    pub period_start: String,
    /// The period's end (RFC 3339, exclusive).
    pub period_end: String,
    /// The allowance; `null` = unlimited.
    pub allowance: Option<u64>,
    /// Used this period (all devices and back-ends).
    pub used: u64,
    /// Left this period; `null` = unlimited.
    pub remaining: Option<u64>,
    /// `allow` (billed as overage) or `refuse`.
    pub overage: String,
}

/// An invoice line, in minor units, with the quantity that produced it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InvoiceLineView {
    /// The catalog price.
    pub price_id: String,
    /// For people.
    pub description: String,
    /// The quantity charged.
    pub quantity: u64,
    /// What one unit of `quantity` is.
    pub unit: String,
    /// Price per unit, minor units.
    pub unit_amount: i64,
    /// The line's amount, minor units.
    pub amount: i64,
    /// How the quantity and amount were reached.
    pub detail: String,
}

/// Usage of an earlier, already invoiced month that arrived after it was invoiced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LateUsageView {
    /// The month the usage happened in.
    pub period: String,
    /// What it adds to that month's invoice.
    pub lines: Vec<InvoiceLineView>,
}

/// One subscription's invoice for a month.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InvoiceView {
    /// The subscription.
    pub subscription_id: String,
    /// The product.
    pub product_id: String,
    /// The month, `YYYY-MM`.
    pub period: String,
    /// `preview` (may still change) or `issued`.
    pub status: String,
    /// When it was issued.
    pub issued_at: Option<String>,
    /// The month's own lines.
    pub lines: Vec<InvoiceLineView>,
    /// Late usage of earlier months booked on this invoice.
    pub late_usage: Vec<LateUsageView>,
    /// Currency (ISO 4217).
    pub currency: String,
    /// The sum of all lines, late usage included, in minor units.
    pub total: i64,
}

/// A tenant's invoices for a month, one per subscription.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TenantInvoices {
    /// The tenant.
    pub tenant_id: String,
    /// The month.
    pub period: String,
    /// The invoices.
    pub invoices: Vec<InvoiceView>,
}

/// `POST /v1/tenants/{tenant_id}/invoices` body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceIssue {
    /// The month to issue, `YYYY-MM`; it must have ended.
    pub period: String,
}

/// A device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeviceView {
    /// Id.
    pub id: String,
    /// Owner.
    pub tenant_id: String,
    /// Subscription.
    pub subscription_id: String,
    /// Name.
    pub name: String,
    /// `active` or `deactivated`.
    pub status: String,
    /// Last license sequence issued.
    pub license_sequence: u64,
    /// Last heartbeat.
    pub last_heartbeat_at: Option<String>,
    /// Agent version.
    pub agent_version: Option<String>,
    /// Modules running at the last heartbeat.
    pub running_modules: Vec<String>,
    /// Activation time.
    pub created_at: String,
}

/// A camera seen on a device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CameraView {
    /// Camera id on the device.
    pub camera_id: String,
    /// First reported.
    pub first_seen: String,
    /// Last reported.
    pub last_seen: String,
}

/// A signing public key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SigningKeyView {
    /// Key id.
    pub key_id: String,
    /// `ed25519:<base64>`.
    pub public_key: String,
    /// The vendor root's certificate for this key (armored), for the key the server
    /// signs with now. Devices do not learn keys from here: they trust the root they
    /// were provisioned with, and every license carries its certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
}

/// `POST /v1/api-keys` body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyCreate {
    /// The tenant the key acts for.
    pub tenant_id: String,
    /// Scopes: `subscriptions:read`, `subscriptions:write`, `devices:read`, `devices:write`, `usage:read`, `usage:write`, `invoices:read`
    /// (`write` includes `read`).
    pub scopes: Vec<String>,
    /// Days until the key expires (default: never).
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// `POST /v1/api-keys` response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyCreated {
    /// Key id.
    pub id: String,
    /// The key (`lct_live_…`), shown once.
    pub key: String,
}

/// A tenant API key as listed (never its secret).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyView {
    /// Key id (the 16 hex digits after `lct_live_`).
    pub id: String,
    /// The tenant it acts for.
    pub tenant_id: String,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// When it was made.
    pub created_at: String,
    /// When it stops working by itself, if ever.
    pub expires_at: Option<String>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
}

/// `POST /v1/admin-token/rotate` response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AdminTokenRotated {
    /// The new admin token (`lct_admin_…`), shown once; every earlier admin token is
    /// revoked.
    pub token: String,
}

/// Wire shapes of the products' own license services, served unchanged by Licet.
pub mod compat {
    use serde::{Deserialize, Serialize};
    use utoipa::ToSchema;

    /// BrinkByte billing `POST /api/v1/licenses/validate` body.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    pub struct BrinkbyteValidate {
        /// The camera asking.
        pub camera_id: String,
        /// Must match the API key's tenant.
        pub tenant_id: String,
        /// The device.
        pub device_id: String,
    }

    /// BrinkByte billing `POST /api/v1/licenses/validate` response.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    pub struct BrinkbyteValidation {
        /// Whether the device's license is valid now.
        pub is_valid: bool,
        /// `trial`, `paid` or `inactive`.
        pub license_mode: String,
        /// Add-on (growth pack) ids.
        pub enabled_growth_packs: Vec<String>,
        /// End of the term or trial (RFC 3339), if any.
        pub valid_until: Option<String>,
        /// Cameras allowed; -1 = unlimited.
        pub cameras_allowed: i64,
    }

    /// BrinkByte billing `POST /api/v1/entitlements/check` body.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    pub struct BrinkbyteEntitlementCheck {
        /// Must match the API key's tenant.
        pub tenant_id: String,
        /// Feature category, e.g. `analytics` (joined with the name by a dot).
        pub feature_category: String,
        /// Feature name, e.g. `heatmap`.
        pub feature_name: String,
    }

    /// BrinkByte billing `POST /api/v1/entitlements/check` response.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    pub struct BrinkbyteEntitlement {
        /// Whether the feature is enabled.
        pub is_enabled: bool,
        /// Quota allowance left this period; -1 = unlimited or not a quota.
        pub quota_remaining: i64,
        /// End of the term or trial, if any.
        pub valid_until: Option<String>,
    }

    /// BrinkByte billing `POST /api/v1/heartbeat` body.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    pub struct BrinkbyteHeartbeat {
        /// The device.
        pub device_id: String,
        /// Must match the API key's tenant.
        pub tenant_id: String,
        /// Cameras active now.
        #[serde(default)]
        pub active_camera_ids: Vec<String>,
        /// Device management tier, informational.
        #[serde(default)]
        pub management_tier: Option<String>,
    }

    /// BrinkByte billing `POST /api/v1/heartbeat` response.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    pub struct BrinkbyteHeartbeatAck {
        /// `ok`.
        pub status: String,
        /// When to send the next heartbeat.
        pub next_heartbeat_in_seconds: u64,
    }

    /// BrinkByte billing `POST /api/v1/usage/batch` body. Events are read one by one,
    /// so a malformed event is rejected alone.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    pub struct BrinkbyteUsageBatch {
        /// The events ([`BrinkbyteUsageEvent`] each).
        #[schema(value_type = Vec<BrinkbyteUsageEvent>)]
        pub events: Vec<serde_json::Value>,
    }

    /// One BrinkByte usage event.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    pub struct BrinkbyteUsageEvent {
        /// Must match the API key's tenant.
        pub tenant_id: String,
        /// The meter, e.g. `api_call`.
        pub event_type: String,
        /// What it is about (a camera, a model…).
        #[serde(default)]
        pub resource_id: Option<String>,
        /// Units: a non-negative integer.
        #[schema(value_type = u64, maximum = 9007199254740991.0)]
        pub quantity: serde_json::Value,
        /// Unit.
        #[serde(default)]
        pub unit: Option<String>,
        /// When (RFC 3339).
        pub event_time: String,
        /// Anything else; `metadata.event_id` (a string), when given, is the
        /// deduplication key, and `metadata.cost_minor` the cost of a pass-through meter.
        #[serde(default)]
        #[schema(value_type = Option<Object>)]
        pub metadata: Option<serde_json::Value>,
    }

    /// BrinkByte billing `POST /api/v1/usage/batch` answer.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    pub struct BrinkbyteUsageResult {
        /// Events stored now or already stored before (a retried batch counts once).
        pub accepted_count: u64,
        /// Events refused.
        pub rejected_count: u64,
        /// Why each refused event was refused.
        pub errors: Vec<BrinkbyteUsageError>,
    }

    /// A refused BrinkByte usage event.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    pub struct BrinkbyteUsageError {
        /// Its position in `events`, from 0.
        pub index: usize,
        /// Why.
        pub error: String,
    }

    /// BrinkByte's error shape.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    pub struct BrinkbyteError {
        /// What went wrong.
        pub detail: String,
        /// Licet's stable code.
        pub code: String,
    }

    /// Foxsight `POST /api/licenses/activate` body.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct FoxsightActivate {
        /// The license key.
        pub license_key: String,
        /// The server's hardware id (the fingerprint).
        pub hardware_id: String,
        /// The installation's id (used as the device name).
        #[serde(default)]
        pub installation_id: Option<String>,
    }

    /// Foxsight `POST /api/licenses/validate` and `…/heartbeat` body.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct FoxsightValidate {
        /// The license key.
        pub license_key: String,
        /// The hardware id it was activated with.
        pub hardware_id: String,
        /// Heartbeat: cameras in use.
        #[serde(default)]
        pub cameras_in_use: Option<u64>,
        /// Heartbeat: users active.
        #[serde(default)]
        pub users_active: Option<u64>,
        /// Heartbeat: storage used (bytes).
        #[serde(default)]
        pub storage_used: Option<u64>,
    }

    /// Foxsight's license object.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct FoxsightLicense {
        /// The license key.
        pub license_key: String,
        /// The signed Licet license document (armored).
        pub signature: String,
        /// Feature keys enabled (`module.*`), core ones included.
        pub enabled_features: Vec<String>,
        /// `active`, `suspended` or `cancelled`.
        pub status: String,
        /// The plan.
        pub tier: String,
        /// End of the term (RFC 3339).
        pub expires_at: String,
        /// Cameras allowed; -1 = unlimited.
        pub max_cameras: i64,
        /// Users allowed; -1 = unlimited.
        pub max_users: i64,
    }

    /// Foxsight `activate` data.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    pub struct FoxsightActivated {
        /// The license.
        pub license: FoxsightLicense,
    }

    /// Foxsight `validate` data.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct FoxsightValidation {
        /// Whether the license is valid for this hardware.
        pub is_valid: bool,
        /// The license, when valid.
        pub license: Option<FoxsightLicense>,
        /// Always false from the server: grace is the on-prem side's state.
        pub grace_period_active: bool,
    }

    /// Foxsight `heartbeat` data.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct FoxsightHeartbeatAck {
        /// `ok`.
        pub status: String,
        /// When to send the next heartbeat.
        pub next_heartbeat_in_seconds: u64,
    }

    /// Foxsight's envelope: `{success, data}` or `{success: false, error}`.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    pub struct FoxsightEnvelope<T> {
        /// Whether the call succeeded.
        pub success: bool,
        /// The result.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub data: Option<T>,
        /// The error.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub error: Option<FoxsightErrorDetail>,
    }

    /// Foxsight's error detail.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    pub struct FoxsightErrorDetail {
        /// Licet's stable code.
        pub code: String,
        /// What went wrong.
        pub message: String,
    }
}
