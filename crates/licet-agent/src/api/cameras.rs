//! Camera registration against the licensed camera count.

use super::*;

/// A camera as the API shows it.
pub fn camera_view(agent: &Agent, current: &Current, camera: &CameraRow) -> CameraView {
    let trial = agent.camera_trial(current, camera);
    CameraView {
        camera_id: camera.camera_id.clone(),
        name: camera.name.clone(),
        first_registered_at: licet_core::time_text(camera.first_registered_at),
        mode: trial.mode.as_str().to_owned(),
        is_trial: trial.mode != CameraMode::Licensed,
        trial_expires_at: text(trial.expires_at),
        days_remaining: trial.days_remaining,
        hours_remaining: trial.hours_remaining,
        is_expired: trial.mode == CameraMode::TrialExpired,
    }
}

/// Validates a camera id.
pub fn camera_id_ok(camera_id: &str) -> Result<(), ApiError> {
    if camera_id.trim().is_empty() || camera_id.chars().count() > 200 {
        return Err(ApiError::InvalidRequest(
            "`camera_id` must be 1 to 200 characters".into(),
        ));
    }
    Ok(())
}

/// Registers a camera; shared with the BrinkByte compatibility API.
pub fn register(
    agent: &Agent,
    camera_id: &str,
    name: Option<&str>,
) -> Result<(StatusCode, CameraView), ApiError> {
    camera_id_ok(camera_id)?;
    if name.is_some_and(|n| n.chars().count() > 200) {
        return Err(ApiError::InvalidRequest(
            "`name` is longer than 200 characters".into(),
        ));
    }
    let answer = agent.register_camera(camera_id, name)?;
    let current = agent.current();
    match answer {
        CameraAnswer::Created(row) => Ok((StatusCode::CREATED, camera_view(agent, &current, &row))),
        CameraAnswer::Existing(row) => Ok((StatusCode::OK, camera_view(agent, &current, &row))),
        CameraAnswer::LimitReached { registered, limit } => {
            // An ended trial is why there is no room: say so, not "0 of 0".
            if let Some(trial) = current.license.as_ref().and_then(|l| l.trial.as_ref())
                && current.report.effective_now >= trial.ends_at
            {
                return Err(ApiError::Refused {
                    code: "trial_expired".into(),
                    message: format!(
                        "the trial ended at {}: no camera can be added until the subscription is converted to a paid plan",
                        licet_core::time_text(trial.ends_at)
                    ),
                });
            }
            let limit = match limit {
                Amount::Finite(n) => n.to_string(),
                Amount::Unlimited => "unlimited".into(),
            };
            Err(ApiError::CameraLimitReached(format!(
                "camera limit reached: {registered} of {limit} cameras are registered in state {}; remove one (DELETE /v1/cameras/{{id}}) or upgrade the license",
                current.report.state
            )))
        }
    }
}

/// `POST /v1/cameras`.
#[utoipa::path(post, path = "/v1/cameras", tag = "cameras", request_body = CameraRegister, responses((status = 201, body = CameraView, description = "Registered"), (status = 200, body = CameraView, description = "Already registered"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn register_camera(
    State(s): State<ApiState>,
    Body(request): Body<CameraRegister>,
) -> Result<Response, ApiError> {
    match register(&s.agent, &request.camera_id, request.name.as_deref()) {
        Ok((status, view)) => Ok((status, Json(view)).into_response()),
        Err(error) => {
            if matches!(error, ApiError::CameraLimitReached(_)) {
                s.counters.camera_refusals.fetch_add(1, Ordering::Relaxed);
            }
            Err(error)
        }
    }
}

/// `GET /v1/cameras`.
#[utoipa::path(get, path = "/v1/cameras", tag = "cameras", responses((status = 200, body = Vec<CameraView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_cameras(State(s): State<ApiState>) -> Result<Json<Vec<CameraView>>, ApiError> {
    let current = s.agent.current();
    let cameras = s.agent.cameras()?;
    Ok(Json(
        cameras
            .iter()
            .map(|c| camera_view(&s.agent, &current, c))
            .collect(),
    ))
}

/// `DELETE /v1/cameras/{camera_id}`.
#[utoipa::path(delete, path = "/v1/cameras/{camera_id}", tag = "cameras", params(("camera_id" = String, Path)), responses((status = 204, description = "Removed"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove_camera(
    State(s): State<ApiState>,
    Id(camera_id): Id<String>,
) -> Result<StatusCode, ApiError> {
    if s.agent.remove_camera(&camera_id)? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!(
            "camera {camera_id:?} is not registered on this device"
        )))
    }
}

/// `PUT /v1/cameras/{camera_id}/growth-packs`: assigns growth packs priced per camera to
/// a registered camera (the tenant's choice of which cameras get what it bought). A
/// check for the camera then allows the packs' features on it, and on no camera
/// without them.
#[utoipa::path(put, path = "/v1/cameras/{camera_id}/growth-packs", tag = "cameras", params(("camera_id" = String, Path)), request_body = CameraPacks, responses((status = 200, body = CameraPacksView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn assign_growth_packs(
    State(s): State<ApiState>,
    Id(camera_id): Id<String>,
    Body(request): Body<CameraPacks>,
) -> Result<Json<CameraPacksView>, ApiError> {
    camera_id_ok(&camera_id)?;
    if request.growth_packs.len() > 100
        || request
            .growth_packs
            .iter()
            .any(|p| p.is_empty() || p.len() > 200)
    {
        return Err(ApiError::InvalidRequest(
            "`growth_packs`: at most 100 add-on ids of 1 to 200 characters".into(),
        ));
    }
    match s
        .agent
        .assign_camera_packs(&camera_id, &request.growth_packs)?
    {
        PackAnswer::Assigned(growth_packs) => Ok(Json(CameraPacksView {
            camera_id,
            growth_packs,
        })),
        PackAnswer::NotRegistered => Err(ApiError::NotFound(format!(
            "camera {camera_id:?} is not registered on this device; register it with POST /v1/cameras first"
        ))),
        PackAnswer::NoLicense => Err(ApiError::Conflict {
            code: "not_activated",
            message: "this device has no license, so no growth pack was bought for it".into(),
        }),
        PackAnswer::NotPerCamera { pack, per_camera } => Err(ApiError::InvalidRequest(format!(
            "`growth_packs`: the license sells no {pack:?} per camera; it sells per camera: {}",
            if per_camera.is_empty() {
                "(none)".to_owned()
            } else {
                per_camera.join(", ")
            }
        ))),
        PackAnswer::AllTaken {
            pack,
            cameras,
            holders,
        } => Err(ApiError::Conflict {
            code: "growth_pack_limit_reached",
            message: format!(
                "{pack} was bought for {cameras} camera(s) and is assigned to {}; take it off one \
                 of them (PUT /v1/cameras/{{id}}/growth-packs) or buy it for more cameras",
                holders.join(", ")
            ),
        }),
    }
}
