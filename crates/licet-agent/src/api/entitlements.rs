//! Entitlement answers: the feature list, single checks, class filters, components and
//! the module plan.

use super::*;

/// `GET /v1/entitlements`: every feature with its status in the current state.
#[utoipa::path(get, path = "/v1/entitlements", tag = "entitlements", responses((status = 200, description = "Every feature with its status in the current state", body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn entitlements(State(s): State<ApiState>) -> Json<serde_json::Value> {
    let current = s.agent.current();
    let features: serde_json::Map<String, serde_json::Value> = current
        .snapshot
        .features()
        .map(|(key, status)| {
            (
                key.to_owned(),
                serde_json::to_value(status).unwrap_or(serde_json::Value::Null),
            )
        })
        .collect();
    Json(serde_json::json!({
        "state": current.report.state.as_str(),
        "features": features,
    }))
}

fn decision_response(decision: Decision<'_>) -> CheckResponse {
    CheckResponse {
        allowed: decision.allowed,
        reason: decision.reason.as_str().to_owned(),
        value: value_json(decision.value),
        remaining: None,
        overage: None,
    }
}

/// Answers a check the way `POST /v1/check` does; shared with the compatibility APIs.
pub fn check(
    agent: &Agent,
    current: &Current,
    request: &CheckRequest,
) -> Result<CheckResponse, ApiError> {
    if request.feature.is_empty() || request.feature.len() > 200 {
        return Err(ApiError::InvalidRequest(
            "`feature` must be a feature key of 1 to 200 characters".into(),
        ));
    }
    if let Some(camera_id) = &request.camera_id {
        match agent.camera(camera_id)? {
            None => {
                return Ok(CheckResponse {
                    allowed: false,
                    reason: "camera_not_registered".into(),
                    value: value_json(current.snapshot.check(&request.feature).value),
                    remaining: None,
                    overage: None,
                });
            }
            Some(camera) => {
                if agent.camera_trial(current, &camera).mode == CameraMode::TrialExpired {
                    return Ok(CheckResponse {
                        allowed: false,
                        reason: "camera_trial_expired".into(),
                        value: value_json(current.snapshot.check(&request.feature).value),
                        remaining: None,
                        overage: None,
                    });
                }
                // A feature only a per-camera growth pack grants is on only where
                // that pack is assigned.
                let decision = current.snapshot.check(&request.feature);
                if let (true, Some(license)) = (decision.allowed, current.license.as_ref()) {
                    let packs: Vec<&str> = license
                        .entitlements
                        .packs_granting(&request.feature)
                        .map(|p| p.as_str())
                        .collect();
                    if !packs.is_empty() {
                        let assigned = agent.camera_packs(camera_id)?;
                        if !packs.iter().any(|p| assigned.iter().any(|a| a == p)) {
                            return Ok(CheckResponse {
                                allowed: false,
                                reason: "growth_pack_not_assigned".into(),
                                value: value_json(decision.value),
                                remaining: None,
                                overage: None,
                            });
                        }
                    }
                }
            }
        }
    }
    if let Some(amount) = request
        .amount
        .filter(|a| *a > licet_core::amount::MAX_WIRE_INTEGER)
    {
        return Err(ApiError::InvalidRequest(format!(
            "`amount` {amount} is above {}, the largest amount Licet counts",
            licet_core::amount::MAX_WIRE_INTEGER
        )));
    }
    let kind = current.snapshot.feature(&request.feature).map(|f| f.kind);
    Ok(match (kind, request.amount) {
        (Some(FeatureKind::Quota), Some(amount)) => {
            let q = agent.use_quota(current, &request.feature, amount)?;
            CheckResponse {
                allowed: q.allowed,
                reason: q.reason.as_str().to_owned(),
                value: amount_json(q.allowance),
                remaining: Some(amount_json(q.remaining)),
                overage: Some(q.overage),
            }
        }
        // An amount on anything else asks "may the count reach this?"; the core answers
        // `wrong_kind` for features that are not limits.
        (_, Some(amount)) => {
            decision_response(current.snapshot.check_limit(&request.feature, amount))
        }
        (_, None) => decision_response(current.snapshot.check(&request.feature)),
    })
}

/// `POST /v1/check`.
#[utoipa::path(post, path = "/v1/check", tag = "entitlements", request_body = CheckRequest, responses((status = 200, body = CheckResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn check_feature(
    State(s): State<ApiState>,
    Body(request): Body<CheckRequest>,
) -> Result<Json<CheckResponse>, ApiError> {
    let current = s.agent.current();
    let answer = check(&s.agent, &current, &request)?;
    s.counters.count(answer.allowed);
    spent_as_usage(&s.agent, &current, &request, &answer).await?;
    Ok(Json(answer))
}

/// Quota spent through a check is the usage of the meter that consumes that quota:
/// recorded in the outbox (and so uploaded and billed, once) before the check is
/// answered, with the check's result. An application that spends quota through checks
/// does not also post that usage. A check whose usage cannot be recorded (the outbox
/// is full) answers the error: the caller does not proceed unbilled.
async fn spent_as_usage(
    agent: &Agent,
    current: &Current,
    request: &CheckRequest,
    answer: &CheckResponse,
) -> Result<(), ApiError> {
    let (Some(amount), Some(license)) = (request.amount, current.license.as_ref()) else {
        return Ok(());
    };
    if !answer.allowed || amount == 0 || answer.overage.is_none() {
        return Ok(());
    }
    let Some((meter, _)) = license.entitlements.meters.iter().find(|(_, m)| {
        m.quota
            .as_ref()
            .is_some_and(|q| q.as_str() == request.feature)
    }) else {
        return Ok(());
    };
    let event = crate::usage::UsageEvent {
        kind: meter.clone(),
        quantity: amount,
        unit: None,
        camera_id: request.camera_id.clone(),
        time: agent.timer_now(current),
        attributes: Some(serde_json::json!({"source": "check", "result": answer.reason})),
    };
    agent.record_usage(vec![event]).await?;
    Ok(())
}

/// `POST /v1/classes/filter`.
#[utoipa::path(post, path = "/v1/classes/filter", tag = "entitlements", request_body = ClassFilterRequest, responses((status = 200, body = ClassFilterResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn filter_classes(
    State(s): State<ApiState>,
    Body(request): Body<ClassFilterRequest>,
) -> Result<Json<ClassFilterResponse>, ApiError> {
    if request.classes.len() > 1000 {
        return Err(ApiError::InvalidRequest(
            "`classes`: at most 1000 classes per request".into(),
        ));
    }
    let filter = s.agent.current().snapshot.filter_classes(&request.classes);
    Ok(Json(ClassFilterResponse {
        allowed: filter.allowed,
        denied: filter.denied,
        defaulted: filter.defaulted,
    }))
}

/// `POST /v1/components/check`.
#[utoipa::path(post, path = "/v1/components/check", tag = "entitlements", request_body = ComponentCheckRequest, responses((status = 200, body = ComponentCheckResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn check_component(
    State(s): State<ApiState>,
    Body(request): Body<ComponentCheckRequest>,
) -> Result<Json<ComponentCheckResponse>, ApiError> {
    let kind = ComponentKind::parse(&request.kind).ok_or_else(|| {
        ApiError::InvalidRequest(format!(
            "`kind` {:?} is not a component kind: use processor, sink or output",
            request.kind
        ))
    })?;
    let current = s.agent.current();
    let decision = current.snapshot.check_component(kind, &request.component);
    s.counters.count(decision.allowed);
    Ok(Json(ComponentCheckResponse {
        allowed: decision.allowed,
        reason: decision.reason.as_str().to_owned(),
    }))
}

/// `GET /v1/plan` query: "what if" overrides of the device's facts.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PlanQuery {
    /// Plan as if this many cameras were registered.
    #[param(maximum = 1000000.0)]
    cameras: Option<u32>,
    /// Plan as if the device had this much memory (at most 2^53−1, like every number
    /// Licet takes in).
    #[param(maximum = 9007199254740991.0)]
    ram_mb: Option<u64>,
}

/// `GET /v1/plan`: the module plan, in the same form as `licet plan --format json`.
#[utoipa::path(get, path = "/v1/plan", tag = "entitlements", params(PlanQuery), responses((status = 200, description = "The module plan, as `licet plan --format json` prints it", body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn plan(
    State(s): State<ApiState>,
    Query(query): Query<PlanQuery>,
) -> Result<Json<licet_core::planning::ModulePlan>, ApiError> {
    if query.cameras.is_some_and(|n| n > 1_000_000) {
        return Err(ApiError::InvalidRequest(
            "`cameras` must be at most 1000000".into(),
        ));
    }
    if query
        .ram_mb
        .is_some_and(|mb| mb > licet_core::amount::MAX_WIRE_INTEGER)
    {
        return Err(ApiError::InvalidRequest(format!(
            "`ram_mb` must be at most {}",
            licet_core::amount::MAX_WIRE_INTEGER
        )));
    }
    Ok(Json(s.agent.plan(query.cameras, query.ram_mb)))
}
