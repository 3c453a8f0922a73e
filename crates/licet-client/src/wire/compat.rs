//! Wire shapes of the products' own license services, served unchanged by Licet.

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
    /// End of the term or trial in Unix seconds, as a decimal string (BrinkByte's
    /// client reads it with `std::stoll`); absent when the license has no end (the
    /// client reads `null` as a failure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
    /// The period's allowance; -1 = unlimited or not a quota (BrinkByte's entitlement
    /// manager reads it, and takes a missing one as unlimited).
    pub quota_limit: i64,
    /// Used this period by the server's count; 0 when not a quota.
    pub quota_used: i64,
    /// End of the term or trial in Unix seconds, as a decimal string; absent when
    /// there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    /// Why: `enabled`, `not_licensed` (the catalog has it, the tenant's plans do not
    /// grant it) or `unknown_feature` (no catalog of the tenant's products has it: a
    /// misspelt name, not a plan to upgrade).
    #[serde(default)]
    pub reason: String,
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
    /// When: Unix seconds as a decimal string (what BrinkByte's client sends), or
    /// RFC 3339.
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
    /// Why each refused event was refused, one string each (BrinkByte's client reads
    /// strings), naming the event by its position: `events[3]: …`.
    pub errors: Vec<String>,
}

/// BrinkByte billing `GET /api/v1/health` answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BrinkbyteHealth {
    /// `healthy`, or `unhealthy` (503) when the database does not answer.
    pub status: String,
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
    /// Heartbeat: what Foxsight's client sends, nested (it wins over the top-level
    /// fields).
    #[serde(default)]
    pub usage_metrics: Option<FoxsightUsageMetrics>,
}

/// Foxsight's heartbeat `usageMetrics`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FoxsightUsageMetrics {
    /// Cameras in use.
    #[serde(default)]
    pub cameras_in_use: Option<u64>,
    /// Users active.
    #[serde(default)]
    pub users_active: Option<u64>,
    /// Storage used, in GB (may be fractional).
    #[serde(default)]
    pub storage_used_gb: Option<f64>,
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
