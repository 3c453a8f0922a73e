//! Request and response bodies of the server API (v1), with their OpenAPI schemas.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

mod imports;
mod metering;
pub use imports::*;
pub use metering::*;

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
    /// `false` converts a trial to the paid plan (claims, devices and the license key
    /// stay; the trial never restarts). A subscription becomes a trial only when made.
    #[serde(default)]
    pub trial: Option<bool>,
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
    /// The highest sequence of any license or verdict the device holds. The answer's
    /// sequence is above it, so the device accepts it. Without it the server reserves
    /// a number above everything it ever issued (a committed write per refresh).
    #[serde(default)]
    pub sequence: Option<u64>,
    /// SHA-256 (hex) of the grant of the license the device holds (format 2 licenses).
    /// When the new license has the same grant, the answer carries its signed lease
    /// alone, and the device completes it with the grant it holds.
    #[serde(default)]
    pub grant_sha256: Option<String>,
}

/// `POST /v1/devices/{device_id}/refresh` response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RefreshResponse {
    /// The new signed license, armored: its lease block, then its grant block — left
    /// out when the request's `grant_sha256` names it.
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
    /// The sequence of the license the device holds, for operators to see.
    #[serde(default)]
    pub license_sequence: Option<u64>,
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
    /// The sequence of the license the device last reported holding (0 before its
    /// first heartbeat).
    pub license_sequence: u64,
    /// Last heartbeat.
    pub last_heartbeat_at: Option<String>,
    /// Agent version.
    pub agent_version: Option<String>,
    /// Modules running at the last heartbeat.
    pub running_modules: Vec<String>,
    /// Activation time.
    pub created_at: String,
    /// Metrics from the last heartbeat, as reported (an object; empty before one).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metrics: serde_json::Value,
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

pub mod compat;

/// `POST /v1/tenants/{tenant_id}/check` body: may the tenant use a feature now?
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantCheck {
    /// The feature key (or one of the catalog's aliases).
    pub feature: String,
    /// For a limit: may the count reach this? (e.g. the 101st space.) For a quota:
    /// use this much now; what is allowed is recorded as the quota's usage and billed.
    #[serde(default)]
    #[schema(value_type = Option<u64>, maximum = 9007199254740991.0)]
    pub amount: Option<u64>,
    /// For a quota used: the caller's id for this use (1 to 200 characters), so that a
    /// retried check counts once; the retry answers `already_counted`.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// The answer to a tenant check, from the same evaluator as a device's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TenantCheckAnswer {
    /// May it be used?
    pub allowed: bool,
    /// Why (`licensed`, `not_licensed`, `limit_reached`, `not_in_catalog`, …).
    pub reason: String,
    /// The feature's value: a boolean, a number (an unlimited amount is `"unlimited"`)
    /// or a configuration value.
    pub value: serde_json::Value,
    /// The subscription that answered (the active one whose catalog has the feature).
    pub subscription_id: Option<String>,
    /// When that subscription is a trial: when it ends and the days left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial: Option<TrialStatus>,
    /// For a quota used: what is left this period after it (`"unlimited"` if so).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining: Option<serde_json::Value>,
    /// For a quota used: how much of it is beyond the allowance, billed as overage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<u64>, maximum = 9007199254740991.0)]
    pub overage: Option<u64>,
}

/// A trial's end, as the tenant check reports it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TrialStatus {
    /// When the trial ends (RFC 3339); from then on the subscription is expired.
    pub ends_at: String,
    /// Days left, a started day counting as one (0 once it has ended).
    pub days_left: u32,
}

/// `POST /v1/tenants/{tenant_id}/rate-limit` body: may this subject make one more
/// request under a rate limit of the tenant's plan?
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitRequest {
    /// The limit: a limit the tenant's catalog marks as a rate (`api_rate_per_minute`).
    pub limit: String,
    /// Who is counted: the product's own id of the caller, e.g. its API key id.
    pub subject: String,
}

/// A rate-limit decision. The same figures are in the `RateLimit-Policy` and
/// `RateLimit` header fields of the answer (a refusal is a 429 with `rate_limited`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RateLimitDecision {
    /// Whether the request is within the rate.
    pub allowed: bool,
    /// The limit.
    pub limit: String,
    /// Requests per window under the tenant's plan; absent when the plan's rate is
    /// unlimited.
    #[schema(value_type = Option<u64>, maximum = 9007199254740991.0)]
    pub quota: Option<u64>,
    /// Requests left in this window after this one.
    #[schema(value_type = Option<u64>, maximum = 9007199254740991.0)]
    pub remaining: Option<u64>,
    /// Seconds until the window ends.
    #[schema(value_type = Option<u64>, maximum = 9007199254740991.0)]
    pub reset_seconds: Option<u64>,
    /// The window's length in seconds.
    #[schema(value_type = u64, maximum = 9007199254740991.0)]
    pub window_seconds: u64,
    /// The subscription whose plan set the rate.
    pub subscription_id: String,
}

/// `POST /v1/tenants/{tenant_id}/claims` body: one unit of a limit for a resource.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    /// The limit (a limit feature of the tenant's catalog, e.g. `max_spaces`).
    pub limit: String,
    /// The product's own id of the resource (`space-17`); a claim is idempotent per id.
    pub resource: String,
}

/// A claim, and where its limit stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ClaimView {
    /// The limit.
    pub limit: String,
    /// The resource.
    pub resource: String,
    /// Claims on the limit now.
    pub claimed: u64,
    /// The limit's value (`null`: unlimited).
    pub max: Option<u64>,
}

/// `GET /v1/tenants/{tenant_id}/claims` answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ClaimList {
    /// Every claim, by limit and resource.
    pub claims: Vec<ClaimedResource>,
    /// Each limit with claims: the count, the limit, and whether the tenant is over it
    /// (after a downgrade: existing claims are kept, new ones refused).
    pub limits: Vec<ClaimedLimit>,
}

/// One claimed resource.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ClaimedResource {
    /// The limit.
    pub limit: String,
    /// The resource.
    pub resource: String,
    /// When it was claimed.
    pub created_at: String,
}

/// A limit with claims.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ClaimedLimit {
    /// The limit.
    pub limit: String,
    /// Claims on it.
    pub claimed: u64,
    /// Its value (`null`: unlimited).
    pub max: Option<u64>,
    /// More claims than the limit allows (kept after a downgrade).
    pub over_limit: bool,
}
