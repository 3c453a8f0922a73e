//! The products' own local license APIs, served from the agent so their applications
//! switch to Licet without code changes. These handlers only translate shapes: every
//! answer comes from the same snapshot, camera registry and activation as `/v1`.

mod bbvision;
pub use bbvision::*;

use crate::agent::Current;
use crate::api::{self, ApiState, activation_error, status_view};
use crate::error::{ApiError, Body, Id, Query};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use licet_client::agent::HeartbeatAnswer;
use licet_client::agent::brinkbyte::{
    BillingCamera, BillingLicense, Camera, CameraValidation, Cameras, EnabledGrowthPacks,
    Entitlement, Status, UsageSummary,
};
use licet_client::agent::foxsight::{
    Activate, Activated, ActivationFailure, FeatureAvailability, FeatureCheck, License,
    LicenseStatus, Validation,
};
use licet_client::wire::{ErrorBody, ErrorDetail};
use licet_core::amount::Amount;
use licet_core::state::LicenseState;
use licet_core::trial::CameraMode;

/// Foxsight's reason for a license that does not give full service.
fn foxsight_reason(state: LicenseState) -> &'static str {
    match state {
        // Foxsight's own name for "offline too long".
        LicenseState::Degraded => "grace_period_expired",
        LicenseState::Unactivated => "license_invalid",
        other => other.as_str(),
    }
}

/// The boolean features allowed now, sorted (with no license: what the product keeps
/// for the unlicensed).
fn enabled_features(current: &Current) -> Vec<String> {
    let mut features: Vec<String> = current
        .snapshot
        .features()
        .filter(|(_, f)| f.allowed && f.kind == licet_core::catalog::FeatureKind::Boolean)
        .map(|(k, _)| k.to_owned())
        .collect();
    features.sort();
    features
}

/// The growth packs (add-ons) of the license; none before a license.
fn growth_packs(current: &Current) -> Vec<String> {
    current
        .license
        .as_ref()
        .map(|l| l.addons.iter().map(|a| a.id.to_string()).collect())
        .unwrap_or_default()
}

/// The growth packs one camera has: the license's device-wide packs, and of the packs
/// sold per camera those assigned to it.
fn camera_growth_packs(
    s: &ApiState,
    current: &Current,
    camera_id: &str,
) -> Result<Vec<String>, ApiError> {
    let Some(license) = current.license.as_ref() else {
        return Ok(Vec::new());
    };
    let assigned = s.agent.camera_packs(camera_id)?;
    Ok(license
        .addons
        .iter()
        .map(|a| a.id.to_string())
        .filter(|id| {
            !license
                .entitlements
                .camera_packs
                .keys()
                .any(|p| p.as_str() == id)
                || assigned.contains(id)
        })
        .collect())
}

/// The camera limit when it is finite.
fn finite_camera_limit(s: &ApiState, current: &Current) -> Option<u64> {
    match s.agent.camera_limit(current) {
        Some((_, Amount::Finite(n))) => Some(n),
        _ => None,
    }
}

/// The license as Foxsight's UI reads it; `None` before any license.
fn foxsight_license(s: &ApiState, current: &Current) -> Result<Option<License>, ApiError> {
    let Some(license) = current.license.as_ref() else {
        return Ok(None);
    };
    Ok(Some(License {
        license_key: s.agent.license_key_hint()?,
        status: current.report.state.as_str().to_owned(),
        tier: license.plan.to_string(),
        expires_at: current.report.expires_at.map(licet_core::time_text),
        max_cameras: finite_camera_limit(s, current),
        max_users: s.agent.finite_limit(current, "max_users"),
        enabled_features: enabled_features(current),
    }))
}

fn foxsight_status(s: &ApiState) -> Result<LicenseStatus, ApiError> {
    let current = s.agent.current();
    let view = status_view(&s.agent)?;
    let state = current.report.state;
    let license = foxsight_license(s, &current)?;
    let valid = state.is_full_service();
    let has_license = license.is_some();
    Ok(LicenseStatus {
        has_license,
        status: match (has_license, valid) {
            (false, _) => "no_license",
            (true, true) => "active",
            (true, false) => "invalid",
        }
        .to_owned(),
        license_key: license.as_ref().and_then(|l| l.license_key.clone()),
        tier: license.as_ref().map(|l| l.tier.clone()),
        expires_at: license.as_ref().and_then(|l| l.expires_at.clone()),
        max_cameras: license.as_ref().and_then(|l| l.max_cameras),
        max_users: license.as_ref().and_then(|l| l.max_users),
        in_grace_period: state == LicenseState::Stale,
        grace_period_expires: (state == LicenseState::Stale)
            .then(|| view.degrades_at.clone())
            .flatten(),
        last_validated: view.last_sync_at.clone(),
        message: (!valid).then(|| {
            if has_license {
                view.detail.clone()
            } else {
                "No license activated".to_owned()
            }
        }),
        reason: (has_license && !valid).then(|| foxsight_reason(state).to_owned()),
        state: view.state,
        valid,
        features: enabled_features(&current),
        offline_mode: matches!(state, LicenseState::Stale | LicenseState::Degraded),
    })
}

/// A Foxsight activation failure: 400 `{detail}` (what its UI shows) with Licet's
/// `{error}` beside it; a failure of the agent itself stays a 500.
pub struct FoxsightActivationError(ApiError);

impl IntoResponse for FoxsightActivationError {
    fn into_response(self) -> Response {
        if matches!(self.0, ApiError::Internal(_)) {
            return self.0.into_response();
        }
        let code = self.0.code();
        let message = self.0.public_message();
        let body = ActivationFailure {
            detail: message.clone(),
            error: ErrorDetail {
                code,
                message,
                details: Vec::new(),
            },
        };
        (StatusCode::BAD_REQUEST, Json(body)).into_response()
    }
}

impl From<ApiError> for FoxsightActivationError {
    fn from(error: ApiError) -> Self {
        FoxsightActivationError(error)
    }
}

/// Foxsight `POST /api/license/activate {licenseKey}`: `{success, license, message}`;
/// any refusal is 400 `{detail}`, as Foxsight's UI expects.
#[utoipa::path(post, path = "/api/license/activate", tag = "compatibility", request_body = Activate, responses((status = 200, body = Activated), (status = 400, body = ActivationFailure), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn foxsight_activate(
    State(s): State<ApiState>,
    // A body that is not `{licenseKey}` is refused in the same `{detail}` shape.
    request: Result<Body<Activate>, ApiError>,
) -> Result<Json<Activated>, FoxsightActivationError> {
    let Body(request) = request?;
    if request.license_key.trim().is_empty() {
        return Err(ApiError::InvalidRequest(
            "`licenseKey` is empty: send the license key you were given".into(),
        )
        .into());
    }
    s.agent
        .activate(&request.license_key)
        .await
        .map_err(activation_error)?;
    let current = s.agent.current();
    let license = foxsight_license(&s, &current)?.ok_or_else(|| {
        ApiError::Internal("activation succeeded but no license is installed".into())
    })?;
    Ok(Json(Activated {
        success: true,
        license,
        message: "License activated successfully".into(),
    }))
}

/// Foxsight `GET /api/license/status`.
#[utoipa::path(get, path = "/api/license/status", tag = "compatibility", responses((status = 200, body = LicenseStatus), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn foxsight_get_status(
    State(s): State<ApiState>,
) -> Result<Json<LicenseStatus>, ApiError> {
    Ok(Json(foxsight_status(&s)?))
}

/// Foxsight `POST /api/license/validate`: the license as of now, verified locally (no
/// network round trip: the license was verified when it was stored, and the agent
/// refreshes it in the background).
#[utoipa::path(post, path = "/api/license/validate", tag = "compatibility", responses((status = 200, body = Validation), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn foxsight_validate(State(s): State<ApiState>) -> Result<Json<Validation>, ApiError> {
    let current = s.agent.current();
    let state = current.report.state;
    let valid = state.is_full_service();
    let license = foxsight_license(&s, &current)?;
    let stale = state == LicenseState::Stale;
    let degrades_at = current.report.degrades_at.map(licet_core::time_text);
    Ok(Json(Validation {
        valid,
        in_grace_period: stale,
        valid_until: if valid { degrades_at.clone() } else { None },
        grace_period_expires: if stale { degrades_at } else { None },
        reason: (!valid).then(|| {
            if license.is_some() {
                foxsight_reason(state).to_owned()
            } else {
                "no_license".to_owned()
            }
        }),
        message: (!valid).then(|| current.detail.clone()),
        license: if valid { license } else { None },
    }))
}

/// Foxsight `POST /api/license/feature/check {featureKey}` → `{featureKey, available}`.
#[utoipa::path(post, path = "/api/license/feature/check", tag = "compatibility", request_body = FeatureCheck, responses((status = 200, body = FeatureAvailability), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn foxsight_feature(
    State(s): State<ApiState>,
    Body(request): Body<FeatureCheck>,
) -> Result<Json<FeatureAvailability>, ApiError> {
    if request.feature_key.is_empty() || request.feature_key.len() > 200 {
        return Err(ApiError::InvalidRequest(
            "`featureKey` must be 1 to 200 characters".into(),
        ));
    }
    let available = s
        .agent
        .current()
        .snapshot
        .check(&request.feature_key)
        .allowed;
    s.counters.count(available);
    Ok(Json(FeatureAvailability {
        feature_key: request.feature_key,
        available,
    }))
}

/// A heartbeat to the server now: whether it reached the server.
async fn heartbeat(s: &ApiState) -> Json<HeartbeatAnswer> {
    let result = s.agent.heartbeat().await;
    let state = s.agent.current().report.state;
    Json(HeartbeatAnswer {
        success: result.is_ok(),
        state: state.as_str().to_owned(),
        message: match result {
            Ok(_) => "heartbeat delivered".to_owned(),
            Err(error) => error.to_string(),
        },
    })
}

/// Foxsight `POST /api/license/heartbeat`: a heartbeat to the server now.
#[utoipa::path(post, path = "/api/license/heartbeat", tag = "compatibility", responses((status = 200, body = HeartbeatAnswer), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn foxsight_heartbeat(State(s): State<ApiState>) -> Json<HeartbeatAnswer> {
    heartbeat(&s).await
}

/// BrinkByte `POST /api/v1/license/heartbeat`: a heartbeat to the server now.
#[utoipa::path(post, path = "/api/v1/license/heartbeat", tag = "compatibility", responses((status = 200, body = HeartbeatAnswer), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn brinkbyte_heartbeat(State(s): State<ApiState>) -> Json<HeartbeatAnswer> {
    heartbeat(&s).await
}

/// BrinkByte `GET /api/v1/license/status`.
#[utoipa::path(get, path = "/api/v1/license/status", tag = "compatibility", responses((status = 200, body = Status), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn brinkbyte_status(State(s): State<ApiState>) -> Result<Json<Status>, ApiError> {
    let current = s.agent.current();
    let view = status_view(&s.agent)?;
    Ok(Json(Status {
        valid: current.report.state.is_full_service(),
        state: view.state,
        tier: view.plan,
        is_trial: view.trial,
        expires_at: view.expires_at,
        last_sync: view.last_sync_at,
        offline: current.report.state == LicenseState::Stale,
    }))
}

/// BrinkByte `POST /api/v1/license/validate/{camera_id}`: a camera seen for the first
/// time is registered (against the limit, atomically), then its mode is reported.
#[utoipa::path(post, path = "/api/v1/license/validate/{camera_id}", tag = "compatibility", params(("camera_id" = String, Path)), responses((status = 200, body = CameraValidation), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn brinkbyte_validate_camera(
    State(s): State<ApiState>,
    Id(camera_id): Id<String>,
) -> Result<Json<CameraValidation>, ApiError> {
    api::camera_id_ok(&camera_id)?;
    match api::register(&s.agent, &camera_id, None) {
        Ok((_, view)) => {
            let full = s.agent.current().report.state.is_full_service();
            let valid = full && view.mode != CameraMode::TrialExpired.as_str();
            Ok(Json(CameraValidation {
                camera_id,
                valid,
                reason: if valid {
                    None
                } else if !full {
                    Some(format!("license {}", s.agent.current().report.state))
                } else {
                    Some("camera trial expired".into())
                },
                mode: view.mode,
            }))
        }
        Err(ApiError::CameraLimitReached(message)) => Ok(Json(CameraValidation {
            camera_id,
            valid: false,
            mode: "unlicensed".into(),
            reason: Some(message),
        })),
        Err(ApiError::Refused { code, message }) if code == "trial_expired" => {
            Ok(Json(CameraValidation {
                camera_id,
                valid: false,
                mode: CameraMode::TrialExpired.as_str().into(),
                reason: Some(message),
            }))
        }
        Err(other) => Err(other),
    }
}

/// BrinkByte `GET /api/v1/entitlements`.
#[utoipa::path(get, path = "/api/v1/entitlements", tag = "compatibility", responses((status = 200, body = Vec<Entitlement>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn brinkbyte_entitlements(State(s): State<ApiState>) -> Json<Vec<Entitlement>> {
    let current = s.agent.current();
    let mut out: Vec<Entitlement> = current
        .snapshot
        .features()
        .map(|(key, status)| Entitlement {
            feature: key.to_owned(),
            enabled: status.allowed,
            value: api::value_json(Some(&status.value)),
        })
        .collect();
    out.sort_by(|a, b| a.feature.cmp(&b.feature));
    Json(out)
}

/// BrinkByte `GET /api/v1/usage/summary`.
#[utoipa::path(get, path = "/api/v1/usage/summary", tag = "compatibility", responses((status = 200, body = UsageSummary), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn brinkbyte_usage(State(s): State<ApiState>) -> Result<Json<UsageSummary>, ApiError> {
    Ok(Json(api::usage_summary(&s.agent)?))
}

/// `?tenant_id=` of bbVision's camera listing.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct TenantQuery {
    /// The tenant bbVision asks for (`default` when it has none); the agent serves the
    /// one tenant its license names, which is what the answer shows.
    pub tenant_id: Option<String>,
}

/// BrinkByte `GET /api/v1/license/cameras`: per-camera mode and trial timers, in the
/// shape bbVision's license card reads.
#[utoipa::path(get, path = "/api/v1/license/cameras", tag = "compatibility", params(TenantQuery), responses((status = 200, body = Cameras), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn brinkbyte_cameras(
    State(s): State<ApiState>,
    Query(query): Query<TenantQuery>,
) -> Result<Json<Cameras>, ApiError> {
    let current = s.agent.current();
    let cameras = s.agent.cameras()?;
    let license = current.license.as_ref();
    let tenant = match (license, query.tenant_id) {
        (Some(license), _) => license.tenant.to_string(),
        (None, Some(asked)) if !asked.is_empty() && asked.len() <= 200 => asked,
        (None, _) => "default".to_owned(),
    };
    let term_end = current.report.expires_at.map(licet_core::time_text);
    let views: Vec<Camera> = cameras
        .iter()
        .map(|c| {
            let view = api::camera_view(&s.agent, &current, c);
            let mode = if view.is_expired {
                "UNLICENSED"
            } else if view.is_trial {
                "FREE_TRIAL"
            } else {
                "BASE_LICENSE"
            };
            Ok(Camera {
                camera_id: view.camera_id,
                tenant_id: tenant.clone(),
                mode: mode.to_owned(),
                is_trial: view.is_trial,
                days_remaining: view.days_remaining,
                hours_remaining: view.hours_remaining,
                end_date: view.trial_expires_at.clone().or_else(|| term_end.clone()),
                trial_expires_at: view.trial_expires_at,
                is_expired: view.is_expired,
                start_date: view.first_registered_at,
                enabled_growth_packs: camera_growth_packs(&s, &current, &c.camera_id)?,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    let trial_limit = match (
        license.and_then(|l| l.trial.as_ref()),
        s.agent.camera_limit(&current),
    ) {
        (Some(_), Some((_, Amount::Finite(n)))) => Some(n),
        _ => None,
    };
    let count = views.len() as u64;
    Ok(Json(Cameras {
        camera_count: count,
        trial_cameras: views.iter().filter(|c| c.is_trial).count() as u64,
        is_trial_limit_exceeded: trial_limit.is_some_and(|limit| count > limit),
        trial_limit,
        cameras: views,
    }))
}

/// The tenant a bbVision billing route asks for: any id is accepted (bbVision sends
/// placeholders such as `default` and `tenant-123`) and the answer names the tenant the
/// license names, the only one this device serves.
pub(crate) fn asked_tenant(tenant_id: &str) -> Result<(), ApiError> {
    if tenant_id.is_empty() || tenant_id.chars().count() > 200 {
        return Err(ApiError::InvalidRequest(
            "the tenant id must be 1 to 200 characters".into(),
        ));
    }
    Ok(())
}

/// bbVision `GET /api/v1/billing/license/{tenant_id}`: the license, its cameras and
/// growth packs, as its license page and pipeline builder read them.
#[utoipa::path(get, path = "/api/v1/billing/license/{tenant_id}", tag = "compatibility", params(("tenant_id" = String, Path)), responses((status = 200, body = BillingLicense), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn bbvision_license(
    State(s): State<ApiState>,
    Id(tenant_id): Id<String>,
) -> Result<Json<BillingLicense>, ApiError> {
    asked_tenant(&tenant_id)?;
    let current = s.agent.current();
    let license = current.license.as_ref();
    let tenant = license.map_or(tenant_id, |l| l.tenant.to_string());
    let packs = growth_packs(&current);
    let valid = current.report.state.is_full_service();
    let on_trial = license.is_some_and(|l| l.trial.is_some());
    let limit = finite_camera_limit(&s, &current);
    let term_end = current.report.expires_at.map(licet_core::time_text);
    let cameras: Vec<BillingCamera> = s
        .agent
        .cameras()?
        .iter()
        .map(|c| {
            let view = api::camera_view(&s.agent, &current, c);
            Ok(BillingCamera {
                mode: if view.is_expired {
                    "unlicensed"
                } else if view.is_trial {
                    "trial"
                } else {
                    "base"
                }
                .to_owned(),
                camera_id: view.camera_id,
                tenant_id: tenant.clone(),
                start_date: view.first_registered_at,
                end_date: view.trial_expires_at.or_else(|| term_end.clone()),
                enabled_growth_packs: camera_growth_packs(&s, &current, &c.camera_id)?,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    let view = status_view(&s.agent)?;
    Ok(Json(BillingLicense {
        license_mode: match (license.is_some() && valid, on_trial) {
            (false, _) => "unlicensed",
            (true, true) => "trial",
            (true, false) => "base",
        }
        .to_owned(),
        is_valid: valid,
        active_cameras: cameras.len() as u64,
        cameras_allowed: limit,
        trial_max_cameras: if on_trial { limit.unwrap_or(0) } else { 0 },
        days_remaining: view.trial_days_left,
        valid_until: term_end,
        enabled_growth_packs: packs,
        cameras,
        tenant_id: tenant,
    }))
}

/// bbVision `GET /api/v1/billing/growth-packs/{tenant_id}` → `{enabled_packs}`.
#[utoipa::path(get, path = "/api/v1/billing/growth-packs/{tenant_id}", tag = "compatibility", params(("tenant_id" = String, Path)), responses((status = 200, body = EnabledGrowthPacks), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn bbvision_growth_packs(
    State(s): State<ApiState>,
    Id(tenant_id): Id<String>,
) -> Result<Json<EnabledGrowthPacks>, ApiError> {
    asked_tenant(&tenant_id)?;
    let current = s.agent.current();
    let license = current.license.as_ref();
    Ok(Json(EnabledGrowthPacks {
        tenant_id: license.map_or(tenant_id, |l| l.tenant.to_string()),
        enabled_packs: growth_packs(&current),
    }))
}
