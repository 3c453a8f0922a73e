//! The products' own local license APIs, served from the agent so their applications
//! switch to Licet without code changes. These handlers only translate shapes: every
//! answer comes from the same snapshot, camera registry and activation as `/v1`.

use crate::api::{self, ApiState, activation_error, status_view};
use crate::error::{ApiError, Body, Id};
use axum::Json;
use axum::extract::State;
use licet_client::agent::HeartbeatAnswer;
use licet_client::agent::brinkbyte::{
    Camera, CameraValidation, Cameras, Entitlement, Status, UsageSummary,
};
use licet_client::agent::foxsight::{Activate, FeatureAvailability, FeatureCheck, LicenseStatus};
use licet_client::wire::ErrorBody;
use licet_core::amount::Amount;
use licet_core::state::LicenseState;
use licet_core::trial::CameraMode;

fn foxsight_status(s: &ApiState) -> Result<LicenseStatus, ApiError> {
    let current = s.agent.current();
    let view = status_view(&s.agent)?;
    let mut features: Vec<String> = current
        .snapshot
        .features()
        .filter(|(_, f)| f.allowed && f.kind == licet_core::catalog::FeatureKind::Boolean)
        .map(|(k, _)| k.to_owned())
        .collect();
    features.sort();
    Ok(LicenseStatus {
        valid: current.report.state.is_full_service(),
        status: view.state,
        tier: view.plan,
        expires_at: view.expires_at,
        max_cameras: view.camera_limit,
        features,
        offline_mode: current.report.state == LicenseState::Stale,
        message: view.detail,
    })
}

/// Foxsight `POST /api/license/activate {licenseKey}`.
#[utoipa::path(post, path = "/api/license/activate", tag = "compatibility", request_body = Activate, responses((status = 200, body = LicenseStatus), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn foxsight_activate(
    State(s): State<ApiState>,
    Body(request): Body<Activate>,
) -> Result<Json<LicenseStatus>, ApiError> {
    s.agent
        .activate(&request.license_key)
        .await
        .map_err(activation_error)?;
    Ok(Json(foxsight_status(&s)?))
}

/// Foxsight `GET /api/license/status`.
#[utoipa::path(get, path = "/api/license/status", tag = "compatibility", responses((status = 200, body = LicenseStatus), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn foxsight_get_status(
    State(s): State<ApiState>,
) -> Result<Json<LicenseStatus>, ApiError> {
    Ok(Json(foxsight_status(&s)?))
}

/// Foxsight `POST /api/license/validate`: the status as of now, verified locally (no
/// network round trip: the license was verified when it was stored).
#[utoipa::path(post, path = "/api/license/validate", tag = "compatibility", responses((status = 200, body = LicenseStatus), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn foxsight_validate(State(s): State<ApiState>) -> Result<Json<LicenseStatus>, ApiError> {
    Ok(Json(foxsight_status(&s)?))
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

/// BrinkByte `GET /api/v1/license/cameras`: per-camera mode and trial timers.
#[utoipa::path(get, path = "/api/v1/license/cameras", tag = "compatibility", responses((status = 200, body = Cameras), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn brinkbyte_cameras(State(s): State<ApiState>) -> Result<Json<Cameras>, ApiError> {
    let current = s.agent.current();
    let cameras = s.agent.cameras()?;
    let views: Vec<Camera> = cameras
        .iter()
        .map(|c| {
            let view = api::camera_view(&s.agent, &current, c);
            Camera {
                camera_id: view.camera_id,
                mode: view.mode,
                is_trial: view.is_trial,
                days_remaining: view.days_remaining,
                hours_remaining: view.hours_remaining,
                trial_expires_at: view.trial_expires_at,
                is_expired: view.is_expired,
            }
        })
        .collect();
    let trial_limit = match (
        current.license.as_ref().and_then(|l| l.trial.as_ref()),
        s.agent.camera_limit(&current),
    ) {
        (Some(_), Some((_, Amount::Finite(n)))) => Some(n),
        _ => None,
    };
    let count = views.len() as u64;
    Ok(Json(Cameras {
        camera_count: count,
        is_trial_limit_exceeded: trial_limit.is_some_and(|limit| count > limit),
        trial_limit,
        cameras: views,
    }))
}
