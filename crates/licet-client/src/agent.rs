//! Wire shapes of the agent's local API (native `/v1`, OFREP, and the products' own local
//! APIs), shared by the agent, its tests and the benchmarks.
//!
//! Names are a contract: vendors' scripts and applications parse these bodies.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /v1/check` body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// The feature key from the catalog.
    pub feature: String,
    /// For a limit: the count asked for; for a quota: the amount to use now.
    #[serde(default)]
    pub amount: Option<u64>,
    /// The camera the check is for (refused when that camera's trial is over).
    #[serde(default)]
    pub camera_id: Option<String>,
}

/// `POST /v1/check` answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CheckResponse {
    /// May the caller go ahead?
    pub allowed: bool,
    /// Why, as a stable snake_case name (`licensed`, `not_in_catalog`, …).
    pub reason: String,
    /// The feature's value (bool, number, `"unlimited"`, or a config value).
    pub value: serde_json::Value,
    /// For quotas: what remains of the period's allowance after this use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining: Option<serde_json::Value>,
    /// For quotas: how much of this use is billed as overage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overage: Option<u64>,
}

/// `POST /v1/cameras` body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CameraRegister {
    /// The camera's id on this device (1 to 200 characters).
    pub camera_id: String,
    /// A name for people.
    #[serde(default)]
    pub name: Option<String>,
}

/// A camera registered on the device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CameraView {
    /// Id.
    pub camera_id: String,
    /// Name.
    pub name: Option<String>,
    /// First ever registration (the trial clock starts here and never restarts).
    pub first_registered_at: String,
    /// `licensed`, `trial` or `trial_expired`.
    pub mode: String,
    /// Whether the camera runs on a trial.
    pub is_trial: bool,
    /// End of the camera's trial, when on one.
    pub trial_expires_at: Option<String>,
    /// Days left in the trial, counting a started day (90 on the first day of 90).
    pub days_remaining: Option<i64>,
    /// Whole hours left in the trial.
    pub hours_remaining: Option<i64>,
    /// Whether the trial is over.
    pub is_expired: bool,
}

/// `PUT /v1/cameras/{camera_id}/growth-packs` body: the packs priced per camera this
/// camera should hold (replacing what it held; `[]` frees them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CameraPacks {
    /// Add-on ids of the license sold per camera (e.g. `advanced_analytics`).
    pub growth_packs: Vec<String>,
}

/// A camera's growth packs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CameraPacksView {
    /// The camera.
    pub camera_id: String,
    /// The packs it holds.
    pub growth_packs: Vec<String>,
}

/// `POST /v1/classes/filter` body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassFilterRequest {
    /// The object classes the application wants to detect.
    pub classes: Vec<String>,
}

/// `POST /v1/classes/filter` answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ClassFilterResponse {
    /// Classes the application may use.
    pub allowed: Vec<String>,
    /// Requested classes that were refused.
    pub denied: Vec<String>,
    /// True when none was allowed and the trial defaults are given instead.
    pub defaulted: bool,
}

/// `POST /v1/components/check` body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComponentCheckRequest {
    /// `processor`, `sink` or `output`.
    pub kind: String,
    /// The component type (e.g. `webhook`).
    #[serde(rename = "type")]
    pub component: String,
}

/// `POST /v1/components/check` answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ComponentCheckResponse {
    /// May the component be used?
    pub allowed: bool,
    /// Why.
    pub reason: String,
}

/// `GET /v1/status` answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StatusView {
    /// `unactivated`, `active`, `stale`, `degraded`, `expired`, `revoked` or `suspended`.
    pub state: String,
    /// Why the state is what it is, for people.
    pub detail: String,
    /// Device id, once activated.
    pub device_id: Option<String>,
    /// Tenant, product and plan of the license.
    pub tenant_id: Option<String>,
    /// Product.
    pub product: Option<String>,
    /// Plan.
    pub plan: Option<String>,
    /// License id and sequence.
    pub license_id: Option<String>,
    /// Sequence.
    pub sequence: Option<u64>,
    /// Whether the license is a trial.
    pub trial: bool,
    /// End of the trial.
    pub trial_ends_at: Option<String>,
    /// Days left in the trial, counting a started day (90 on the first day of 90).
    pub trial_days_left: Option<i64>,
    /// End of the paid term.
    pub expires_at: Option<String>,
    /// When the next refresh is due.
    pub refresh_due_at: Option<String>,
    /// When service degrades without a successful refresh.
    pub degrades_at: Option<String>,
    /// The last successful refresh.
    pub last_sync_at: Option<String>,
    /// The last refresh error, if the last attempt failed.
    pub last_sync_error: Option<String>,
    /// Set when the device clock is behind the latest time it has seen.
    pub clock_behind_seconds: Option<i64>,
    /// Cameras registered.
    pub cameras: u64,
    /// The camera limit, if the product has one (`"unlimited"` or a number).
    pub camera_limit: Option<serde_json::Value>,
    /// Usage events recorded and waiting for upload.
    pub usage_backlog: u64,
    /// Time the answer was computed at (the effective time).
    pub now: String,
}

/// `POST /v1/activate` body (online activation through the local API).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivateRequest {
    /// The license key.
    pub license_key: String,
}

/// What `licet agent activation-request` writes for an air-gapped activation: everything
/// the issuer needs to bind a license to this device, and nothing secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivationRequestFile {
    /// `licet-activation-request/1`.
    pub format: String,
    /// The device fingerprint (already hashed from machine identity).
    pub fingerprint: String,
    /// The device's public key, `ed25519:<base64>`.
    pub device_public_key: String,
    /// The device's name.
    pub name: String,
    /// Hardware facts.
    #[serde(default)]
    pub hardware: Option<serde_json::Value>,
}

/// The format tag of [`ActivationRequestFile`].
pub const ACTIVATION_REQUEST_FORMAT: &str = "licet-activation-request/1";

/// The answer to a heartbeat sent on request (Foxsight's and BrinkByte's local
/// `…/heartbeat`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HeartbeatAnswer {
    /// Whether the heartbeat reached the server.
    pub success: bool,
    /// The agent's license state.
    pub state: String,
    /// What happened.
    pub message: String,
}

/// OpenFeature Remote Evaluation Protocol shapes.
pub mod ofrep {
    use serde::{Deserialize, Serialize};
    use utoipa::ToSchema;

    /// An evaluation request (`{context}`; the context does not change entitlements).
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
    pub struct EvaluationRequest {
        /// The evaluation context.
        #[serde(default)]
        pub context: Option<serde_json::Value>,
    }

    /// A successful evaluation.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    pub struct Evaluation {
        /// The flag key.
        pub key: String,
        /// The value.
        pub value: serde_json::Value,
        /// `STATIC`, `STALE`, `DISABLED` or `ERROR`.
        pub reason: String,
        /// The variant name.
        pub variant: String,
        /// Extra facts (Licet's own reason name).
        pub metadata: serde_json::Value,
    }

    /// A failed evaluation.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    pub struct EvaluationFailure {
        /// The flag key.
        pub key: String,
        /// `FLAG_NOT_FOUND`, `PARSE_ERROR`, `INVALID_CONTEXT`, `GENERAL`.
        #[serde(rename = "errorCode")]
        pub error_code: String,
        /// For people.
        #[serde(rename = "errorDetails")]
        pub error_details: String,
    }

    /// A bulk evaluation.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    pub struct BulkEvaluation {
        /// Every flag.
        pub flags: Vec<Evaluation>,
        /// Extra facts.
        pub metadata: serde_json::Value,
    }
}

/// Foxsight's local license API shapes (camelCase, as Foxsight's services send them).
pub mod foxsight {
    use serde::{Deserialize, Serialize};
    use utoipa::ToSchema;

    /// `POST /api/license/activate` body.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct Activate {
        /// The license key.
        pub license_key: String,
    }

    /// `POST /api/license/feature/check` body.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct FeatureCheck {
        /// The feature.
        pub feature_key: String,
    }

    /// `POST /api/license/feature/check` answer.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct FeatureAvailability {
        /// The feature.
        pub feature_key: String,
        /// Whether it may be used.
        pub available: bool,
    }

    /// Foxsight's license object, as its UI reads it from activation and validation.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct License {
        /// The key the device was activated with, masked but for its last characters.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub license_key: Option<String>,
        /// `active`, `suspended`, `revoked`, `expired` or `degraded`.
        pub status: String,
        /// The plan.
        pub tier: String,
        /// End of the term (RFC 3339); left out when the term does not end.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub expires_at: Option<String>,
        /// Cameras allowed; left out when unlimited.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub max_cameras: Option<u64>,
        /// Users allowed; left out when unlimited.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub max_users: Option<u64>,
        /// Boolean features allowed now.
        pub enabled_features: Vec<String>,
    }

    /// `GET /api/license/status` answer (Foxsight's `LicenseStatusResponse`, with
    /// Licet's state beside it). Optional fields are left out, not `null`, when
    /// they do not apply.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct LicenseStatus {
        /// Whether a license is installed.
        pub has_license: bool,
        /// `no_license`, `active` (full service) or `invalid`.
        pub status: String,
        /// The activation key, masked.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub license_key: Option<String>,
        /// The plan (Foxsight calls it tier).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub tier: Option<String>,
        /// End of the term.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub expires_at: Option<String>,
        /// Cameras allowed (left out when unlimited).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub max_cameras: Option<u64>,
        /// Users allowed (left out when unlimited).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub max_users: Option<u64>,
        /// Whether the device runs on its cached license past the refresh (Licet's
        /// `stale`: full service while the server is away).
        pub in_grace_period: bool,
        /// When the grace ends (while in it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub grace_period_expires: Option<String>,
        /// Last successful contact with the server.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub last_validated: Option<String>,
        /// For people, when the status is not `active`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub message: Option<String>,
        /// Why not `active`: `grace_period_expired`, `expired`, `suspended`,
        /// `revoked`, `license_invalid`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub reason: Option<String>,
        /// Licet's state name.
        pub state: String,
        /// Whether the license gives full service now.
        pub valid: bool,
        /// Boolean features allowed now.
        pub features: Vec<String>,
        /// Whether the device is working without the server (stale or degraded).
        pub offline_mode: bool,
    }

    /// `POST /api/license/validate` answer (Foxsight's `LicenseValidationResponse`).
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct Validation {
        /// Whether the license gives full service now.
        pub valid: bool,
        /// The license, when valid.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub license: Option<License>,
        /// Whether the device runs on its cached license past the refresh.
        pub in_grace_period: bool,
        /// Until when the cached license serves without the server.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub valid_until: Option<String>,
        /// When the grace ends (while in it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub grace_period_expires: Option<String>,
        /// Why not valid.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub reason: Option<String>,
        /// For people, when not valid.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub message: Option<String>,
    }

    /// `POST /api/license/activate` answer (Foxsight's `LicenseActivationResponse`).
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    pub struct Activated {
        /// Always true here: a failure answers 400 with [`ActivationFailure`].
        pub success: bool,
        /// The license now installed.
        pub license: License,
        /// For people.
        pub message: String,
    }

    /// A refused `POST /api/license/activate`: HTTP 400 with FastAPI's `{detail}`,
    /// which Foxsight's UI shows, and Licet's `{error: {code, message}}` beside it.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    pub struct ActivationFailure {
        /// What went wrong, for people.
        pub detail: String,
        /// The stable code and message.
        pub error: crate::wire::ErrorDetail,
    }
}

/// bbVision's billing models beyond the license (snake_case).
pub mod bbvision;

/// BrinkByte's edge license API shapes (snake_case).
pub mod brinkbyte {
    use serde::{Deserialize, Serialize};
    use utoipa::ToSchema;

    /// `GET /api/v1/license/status` answer.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    pub struct Status {
        /// Whether the license gives full service now.
        pub valid: bool,
        /// Licet's state name.
        pub state: String,
        /// The plan.
        pub tier: Option<String>,
        /// Whether the license is a trial.
        pub is_trial: bool,
        /// End of the term.
        pub expires_at: Option<String>,
        /// Last successful sync.
        pub last_sync: Option<String>,
        /// Whether the device works without the server.
        pub offline: bool,
    }

    /// `POST /api/v1/license/validate/{camera_id}` answer.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    pub struct CameraValidation {
        /// The camera.
        pub camera_id: String,
        /// Whether it may run.
        pub valid: bool,
        /// `licensed`, `trial` or `trial_expired`.
        pub mode: String,
        /// Why not, when not.
        pub reason: Option<String>,
    }

    /// One camera in `GET /api/v1/license/cameras` (bbVision's `CameraLicenseStatus`).
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    pub struct Camera {
        /// The camera.
        pub camera_id: String,
        /// The tenant the license names (or the one asked for, before a license).
        pub tenant_id: String,
        /// `FREE_TRIAL`, `BASE_LICENSE` or `UNLICENSED` (a trial that ended).
        pub mode: String,
        /// Whether it is on a trial.
        pub is_trial: bool,
        /// Whole days left of its trial.
        pub days_remaining: Option<i64>,
        /// Hours left beyond the whole days (0 to 23).
        pub hours_remaining: Option<i64>,
        /// Trial end.
        pub trial_expires_at: Option<String>,
        /// Whether the trial is over.
        pub is_expired: bool,
        /// First registration on this device.
        pub start_date: String,
        /// End of its trial, or of the license's term.
        pub end_date: Option<String>,
        /// Growth packs (add-ons) that cover this camera.
        pub enabled_growth_packs: Vec<String>,
    }

    /// `GET /api/v1/license/cameras` answer.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    pub struct Cameras {
        /// The cameras.
        pub cameras: Vec<Camera>,
        /// How many are registered.
        pub camera_count: u64,
        /// How many of them are on a trial (ended or not).
        pub trial_cameras: u64,
        /// The trial's camera limit (null when not on a trial).
        pub trial_limit: Option<u64>,
        /// Whether more cameras are registered than the trial allows.
        pub is_trial_limit_exceeded: bool,
    }

    /// One entitlement in `GET /api/v1/entitlements`.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    pub struct Entitlement {
        /// Feature key.
        pub feature: String,
        /// Whether it may be used.
        pub enabled: bool,
        /// Its value.
        pub value: serde_json::Value,
    }

    /// `GET /api/v1/billing/license/{tenant_id}` answer (bbVision's `LicenseStatus`).
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    pub struct BillingLicense {
        /// The tenant the license names.
        pub tenant_id: String,
        /// `trial`, `base` or `unlicensed` (no license, or one that gives no service).
        pub license_mode: String,
        /// Whether the license gives full service now.
        pub is_valid: bool,
        /// Cameras registered.
        pub active_cameras: u64,
        /// The camera limit; `null` when unlimited.
        pub cameras_allowed: Option<u64>,
        /// The camera limit while on a trial (0 when not on one).
        pub trial_max_cameras: u64,
        /// Days left of the trial; `null` when not on one.
        pub days_remaining: Option<i64>,
        /// End of the term (left out before any license).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub valid_until: Option<String>,
        /// Growth packs (add-ons) of the license.
        pub enabled_growth_packs: Vec<String>,
        /// The cameras.
        pub cameras: Vec<BillingCamera>,
    }

    /// A camera in [`BillingLicense`].
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    pub struct BillingCamera {
        /// The camera.
        pub camera_id: String,
        /// The tenant.
        pub tenant_id: String,
        /// `trial`, `base` or `unlicensed` (its trial ended).
        pub mode: String,
        /// First registration on this device.
        pub start_date: String,
        /// End of its trial, or of the license's term.
        pub end_date: Option<String>,
        /// Growth packs that cover it.
        pub enabled_growth_packs: Vec<String>,
    }

    /// `GET /api/v1/billing/growth-packs/{tenant_id}` answer.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    pub struct EnabledGrowthPacks {
        /// The tenant the license names.
        pub tenant_id: String,
        /// Growth packs (add-ons) of the license.
        pub enabled_packs: Vec<String>,
    }

    /// `GET /api/v1/usage/summary` answer (usage metering arrives with the usage API).
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    pub struct UsageSummary {
        /// Per quota: allowance and what is used this period.
        pub quotas: Vec<QuotaUsage>,
    }

    /// A quota's use.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
    pub struct QuotaUsage {
        /// Feature key.
        pub feature: String,
        /// The period (`2026-11` for monthly quotas).
        pub period: String,
        /// Used so far.
        pub used: u64,
        /// The allowance.
        pub allowance: serde_json::Value,
        /// What remains.
        pub remaining: serde_json::Value,
    }
}

/// One usage event as `POST /v1/usage` takes it (a single event, an array of them, or
/// `{"events": [...]}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageEventIn {
    /// The meter, e.g. `api_call`.
    #[serde(rename = "type")]
    pub kind: String,
    /// How many units: a non-negative integer.
    pub quantity: serde_json::Value,
    /// The unit, if the caller names it.
    #[serde(default)]
    pub unit: Option<String>,
    /// The camera it is about.
    #[serde(default)]
    pub camera_id: Option<String>,
    /// When it happened (RFC 3339; default: now).
    #[serde(default)]
    pub time: Option<String>,
    /// Free-form attributes (a JSON object).
    #[serde(default)]
    pub attributes: Option<serde_json::Value>,
}

/// `POST /v1/usage` answer (202): the events are on disk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UsageAccepted {
    /// Events accepted.
    pub accepted: u64,
    /// The first sequence number given.
    pub first_sequence: u64,
    /// The last sequence number given.
    pub last_sequence: u64,
    /// Events waiting for upload, these included.
    pub backlog: u64,
}
