//! The native local API (`/v1/…`), health and metrics. Handlers read the agent's
//! current snapshot and convert between the wire shapes and the core's answers; no
//! entitlement rule lives here.

use crate::agent::{ActivationError, Agent, CameraAnswer, Current, SyncError};
use crate::db::CameraRow;
use crate::error::{AnyJson, ApiError, Body, Id, Query};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use licet_client::agent::ActivationRequestFile;
use licet_client::agent::brinkbyte::{QuotaUsage, UsageSummary};
use licet_client::agent::{
    ActivateRequest, CameraRegister, CameraView, CheckRequest, CheckResponse, ClassFilterRequest,
    ClassFilterResponse, ComponentCheckRequest, ComponentCheckResponse, StatusView, UsageAccepted,
    UsageEventIn,
};
use licet_client::wire::ErrorBody;
use licet_core::amount::Amount;
use licet_core::catalog::{ComponentKind, FeatureKind};
use licet_core::snapshot::{Decision, Value};
use licet_core::trial::CameraMode;
use serde::Deserialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Handler state: the agent and request counters for `/metrics`.
#[derive(Clone)]
pub struct ApiState {
    /// The agent.
    pub agent: Agent,
    /// Counters.
    pub counters: Arc<Counters>,
    /// Latency histograms: per route, and the usage outbox's commits.
    pub latency: Arc<licet_http::observe::Latency>,
}

/// Request counters.
#[derive(Debug, Default)]
pub struct Counters {
    /// Entitlement checks answered (native, OFREP, compatibility).
    pub checks: AtomicU64,
    /// Checks answered "no".
    pub denied: AtomicU64,
    /// Camera registrations refused at the limit.
    pub camera_refusals: AtomicU64,
}

impl Counters {
    /// Counts one check.
    pub fn count(&self, allowed: bool) {
        self.checks.fetch_add(1, Ordering::Relaxed);
        if !allowed {
            self.denied.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn text(at: Option<time::OffsetDateTime>) -> Option<String> {
    at.map(licet_core::time_text)
}

/// The value of a feature as JSON (`"unlimited"` for an unlimited amount).
pub fn value_json(value: Option<&Value>) -> serde_json::Value {
    value
        .and_then(|v| serde_json::to_value(v).ok())
        .unwrap_or(serde_json::Value::Null)
}

fn amount_json(amount: Amount) -> serde_json::Value {
    serde_json::to_value(amount).unwrap_or(serde_json::Value::Null)
}

/// The status as `GET /v1/status` reports it.
pub fn status_view(agent: &Agent) -> Result<StatusView, ApiError> {
    let current = agent.current();
    let sync = agent.sync_status();
    let cameras = agent.cameras()?.len() as u64;
    let license = current.license.as_ref();
    let now = current.report.effective_now;
    Ok(StatusView {
        state: current.report.state.as_str().to_owned(),
        detail: current.detail.clone(),
        device_id: current.device_id.clone(),
        tenant_id: license.map(|l| l.tenant.to_string()),
        product: license.map(|l| l.product.to_string()),
        plan: license.map(|l| l.plan.to_string()),
        license_id: license.map(|l| l.license_id.to_string()),
        sequence: license.map(|l| l.sequence),
        trial: license.is_some_and(|l| l.trial.is_some()),
        trial_ends_at: text(license.and_then(|l| l.trial.as_ref()).map(|t| t.ends_at)),
        trial_days_left: license
            .and_then(|l| l.trial.as_ref())
            .map(|t| licet_core::trial::days_left(t.ends_at - now)),
        expires_at: text(current.report.expires_at),
        refresh_due_at: text(current.report.refresh_due_at),
        degrades_at: text(current.report.degrades_at),
        last_sync_at: text(sync.last_success),
        last_sync_error: sync.last_error,
        clock_behind_seconds: current.report.clock_behind_seconds,
        cameras,
        camera_limit: agent
            .camera_limit(&current)
            .map(|(_, limit)| amount_json(limit)),
        usage_backlog: agent.usage_backlog(),
        now: licet_core::time_text(now),
    })
}

/// `GET /v1/status`.
#[utoipa::path(get, path = "/v1/status", tag = "status", responses((status = 200, body = StatusView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn status(State(s): State<ApiState>) -> Result<Json<StatusView>, ApiError> {
    Ok(Json(status_view(&s.agent)?))
}

/// `GET /health`: the agent answers (whatever the license state).
#[utoipa::path(get, path = "/health", tag = "status", security(()), responses((status = 200, description = "`{status, state}`: the agent answers, whatever the license state", body = Object)))]
pub async fn health(State(s): State<ApiState>) -> Json<serde_json::Value> {
    let state = s.agent.current().report.state;
    Json(serde_json::json!({ "status": "ok", "state": state.as_str() }))
}

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
    Ok(Json(answer))
}

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

/// `POST /v1/sync`: refresh from the server now.
#[utoipa::path(post, path = "/v1/sync", tag = "activation", responses((status = 200, body = StatusView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn sync(State(s): State<ApiState>) -> Result<Json<StatusView>, ApiError> {
    match s.agent.sync().await {
        Ok(_) | Err(SyncError::Refused(_)) => Ok(Json(status_view(&s.agent)?)),
        Err(SyncError::NotPossible(message)) => Err(ApiError::Conflict {
            code: "not_activated",
            message,
        }),
        Err(SyncError::Failed(message)) => Err(ApiError::Unreachable(message)),
    }
}

/// Maps an activation failure to the API error.
pub fn activation_error(error: ActivationError) -> ApiError {
    match error {
        ActivationError::NotPossible(message) => ApiError::Conflict {
            code: "activation_not_possible",
            message,
        },
        ActivationError::Refused { code, message } => ApiError::Refused { code, message },
        ActivationError::Unreachable(message) => ApiError::Unreachable(message),
        ActivationError::License(error) => ApiError::LicenseRefused(error.to_string()),
        ActivationError::Internal(message) => ApiError::Internal(message),
    }
}

/// `POST /v1/activate`: online activation with a license key.
#[utoipa::path(post, path = "/v1/activate", tag = "activation", request_body = ActivateRequest, responses((status = 200, body = StatusView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn activate(
    State(s): State<ApiState>,
    Body(request): Body<ActivateRequest>,
) -> Result<Json<StatusView>, ApiError> {
    s.agent
        .activate(&request.license_key)
        .await
        .map_err(activation_error)?;
    Ok(Json(status_view(&s.agent)?))
}

/// `GET /v1/activation-request`: the air-gapped activation request.
#[utoipa::path(get, path = "/v1/activation-request", tag = "activation", responses((status = 200, body = ActivationRequestFile), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn activation_request(State(s): State<ApiState>) -> Json<ActivationRequestFile> {
    Json(s.agent.activation_request())
}

/// `POST /v1/license`: import an armored license (the body, as text). Only with the
/// local API token (the token middleware checks it): any local process can reach the
/// loopback API, and an import is the one call that replaces what the device holds.
#[utoipa::path(post, path = "/v1/license", tag = "activation", security(("api_token" = [])), request_body(content = String, content_type = "text/plain", description = "An armored license (`-----BEGIN LICET LICENSE-----` …)"), responses((status = 200, body = StatusView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn import_license(
    State(s): State<ApiState>,
    body: String,
) -> Result<Json<StatusView>, ApiError> {
    if s.agent.config().api_token.is_none() {
        tracing::warn!("refused a license import over the local API: no api_token is configured");
        return Err(ApiError::TokenRequired(
            "importing a license over the local API needs the local API token: set api_token \
             (LICET_AGENT_API_TOKEN) and send Authorization: Bearer <api_token>, or run \
             `licet agent import-license FILE` with access to the agent's data directory"
                .into(),
        ));
    }
    if !body.contains("-----BEGIN LICET LICENSE-----") {
        return Err(ApiError::InvalidRequest(
            "the body must be an armored license (-----BEGIN LICET LICENSE----- …)".into(),
        ));
    }
    s.agent
        .import_license(&body, crate::agent::DeviceIdentity::Same)
        .map_err(activation_error)?;
    Ok(Json(status_view(&s.agent)?))
}

/// Events one `POST /v1/usage` may carry.
pub const USAGE_BATCH_MAX: usize = 10_000;

fn usage_event(
    index: usize,
    value: serde_json::Value,
    now: time::OffsetDateTime,
) -> Result<crate::usage::UsageEvent, ApiError> {
    let bad = |why: String| ApiError::InvalidRequest(format!("event {index}: {why}"));
    let event: UsageEventIn = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
    let kind_ok = !event.kind.is_empty()
        && event.kind.len() <= 100
        && event
            .kind
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !kind_ok {
        return Err(bad(format!(
            "`type` {:?} must be a meter name of 1 to 100 letters, digits, '_', '.' or '-'",
            event.kind
        )));
    }
    let quantity = licet_core::amount::wire_quantity(&event.quantity).map_err(bad)?;
    let time = match &event.time {
        None => now,
        Some(text) => {
            let at =
                time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                    .map_err(|e| bad(format!("`time` {text:?} is not RFC 3339 ({e})")))?;
            if at - now > time::Duration::hours(24) {
                return Err(bad(format!(
                    "`time` {text} is more than 24 h ahead of this device's clock"
                )));
            }
            at
        }
    };
    if event
        .camera_id
        .as_ref()
        .is_some_and(|c| c.is_empty() || c.chars().count() > 200)
    {
        return Err(bad("`camera_id` must be 1 to 200 characters".into()));
    }
    if event.unit.as_ref().is_some_and(|u| u.chars().count() > 50) {
        return Err(bad("`unit` is longer than 50 characters".into()));
    }
    if event.attributes.as_ref().is_some_and(|a| !a.is_object()) {
        return Err(bad("`attributes` must be a JSON object".into()));
    }
    Ok(crate::usage::UsageEvent {
        kind: event.kind,
        quantity,
        unit: event.unit,
        camera_id: event.camera_id,
        time,
        attributes: event.attributes,
    })
}

/// `POST /v1/usage`: one event, an array, or `{"events": [...]}`; 202 once they are
/// on disk. A request with an invalid event records nothing and names the event.
#[utoipa::path(post, path = "/v1/usage", tag = "usage", request_body(content = Object, description = "One `UsageEventIn`, an array of them, or `{\"events\": [...]}`"), responses((status = 202, body = UsageAccepted), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 507, body = ErrorBody)))]
pub async fn record_usage(
    State(s): State<ApiState>,
    AnyJson(body): AnyJson<serde_json::Value>,
) -> Result<Response, ApiError> {
    let items = match body {
        serde_json::Value::Array(items) => items,
        serde_json::Value::Object(mut map) if map.contains_key("events") => {
            match map.remove("events") {
                Some(serde_json::Value::Array(items)) => items,
                _ => {
                    return Err(ApiError::InvalidRequest(
                        "`events` must be an array of usage events".into(),
                    ));
                }
            }
        }
        object @ serde_json::Value::Object(_) => vec![object],
        _ => {
            return Err(ApiError::InvalidRequest(
                "send a usage event {\"type\", \"quantity\"}, an array of them, or {\"events\": [...]}".into(),
            ));
        }
    };
    if items.is_empty() || items.len() > USAGE_BATCH_MAX {
        return Err(ApiError::InvalidRequest(format!(
            "send 1 to {USAGE_BATCH_MAX} events per request (got {})",
            items.len()
        )));
    }
    let now = s.agent.current().report.effective_now;
    let events = items
        .into_iter()
        .enumerate()
        .map(|(i, v)| usage_event(i, v, now))
        .collect::<Result<Vec<_>, _>>()?;
    let accepted = events.len() as u64;
    let started = tokio::time::Instant::now();
    let recorded = s.agent.record_usage(events).await;
    s.latency
        .operation("usage_commit", started.elapsed().as_secs_f64());
    let (first, last) = recorded.map_err(|e| match e {
        crate::usage::RecordError::Full { .. } => ApiError::OutboxFull(e.to_string()),
        crate::usage::RecordError::Storage(m) => ApiError::Internal(m),
    })?;
    Ok((
        StatusCode::ACCEPTED,
        Json(UsageAccepted {
            accepted,
            first_sequence: first,
            last_sequence: last,
            backlog: s.agent.usage_backlog(),
        }),
    )
        .into_response())
}

/// Quota use in the current periods.
pub fn usage_summary(agent: &Agent) -> Result<UsageSummary, ApiError> {
    let current = agent.current();
    let mut quotas = Vec::new();
    let mut features: Vec<(&str, _)> = current
        .snapshot
        .features()
        .filter(|(_, f)| f.kind == FeatureKind::Quota)
        .collect();
    features.sort_by(|a, b| a.0.cmp(b.0));
    let counters = agent.quota_usage()?;
    for (key, status) in features {
        let Some(period) = status.period else {
            continue;
        };
        let period = period.key(current.report.effective_now);
        let used = counters
            .iter()
            .find(|(f, p, _)| f == key && *p == period)
            .map(|(_, _, used)| *used)
            .unwrap_or(0);
        let allowance = match status.value {
            Value::Amount(amount) => amount,
            _ => Amount::Finite(0),
        };
        quotas.push(QuotaUsage {
            feature: key.to_owned(),
            period,
            used,
            allowance: amount_json(allowance),
            remaining: amount_json(allowance.remaining_after(used)),
        });
    }
    Ok(UsageSummary { quotas })
}

/// `GET /v1/usage/summary`.
#[utoipa::path(get, path = "/v1/usage/summary", tag = "usage", responses((status = 200, body = UsageSummary), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn usage(State(s): State<ApiState>) -> Result<Json<UsageSummary>, ApiError> {
    Ok(Json(usage_summary(&s.agent)?))
}

/// `GET /metrics`: Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "status", responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn metrics(State(s): State<ApiState>) -> Result<Response, ApiError> {
    use std::fmt::Write as _;
    let current = s.agent.current();
    let sync = s.agent.sync_status();
    let cameras = s.agent.cameras()?.len();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP licet_agent_state 1 for the license state the agent is in."
    );
    let _ = writeln!(out, "# TYPE licet_agent_state gauge");
    for state in [
        "unactivated",
        "active",
        "stale",
        "degraded",
        "expired",
        "revoked",
        "suspended",
    ] {
        let on = u8::from(current.report.state.as_str() == state);
        let _ = writeln!(out, "licet_agent_state{{state=\"{state}\"}} {on}");
    }
    let counters = &s.counters;
    let mut metric = |name: &str, kind: &str, help: &str, value: i64| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        let _ = writeln!(out, "{name} {value}");
    };
    let count = |c: &AtomicU64| i64::try_from(c.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
    metric(
        "licet_agent_checks_total",
        "counter",
        "Entitlement checks answered.",
        count(&counters.checks),
    );
    metric(
        "licet_agent_checks_denied_total",
        "counter",
        "Checks answered no.",
        count(&counters.denied),
    );
    metric(
        "licet_agent_camera_refusals_total",
        "counter",
        "Camera registrations refused at the limit.",
        count(&counters.camera_refusals),
    );
    metric(
        "licet_agent_cameras",
        "gauge",
        "Cameras registered on the device.",
        i64::try_from(cameras).unwrap_or(i64::MAX),
    );
    metric(
        "licet_agent_refresh_failures",
        "gauge",
        "Failed refreshes in a row.",
        i64::from(sync.failures),
    );
    if let Some(at) = sync.last_success {
        metric(
            "licet_agent_last_sync_timestamp_seconds",
            "gauge",
            "The last successful refresh.",
            at.unix_timestamp(),
        );
    }
    metric(
        "licet_agent_usage_backlog",
        "gauge",
        "Usage events recorded and waiting for upload.",
        i64::try_from(s.agent.usage_backlog()).unwrap_or(i64::MAX),
    );
    metric(
        "licet_agent_clock_behind_seconds",
        "gauge",
        "How far the clock is behind the time high-water mark (0 when not).",
        current.report.clock_behind_seconds.unwrap_or(0),
    );
    out.push_str(&s.latency.render());
    out.push('\n');
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response())
}

/// Rejects requests without the local API token, when one is configured.
pub async fn require_token(
    State(s): State<ApiState>,
    headers: HeaderMap,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use secrecy::ExposeSecret;
    use subtle::ConstantTimeEq;
    let Some(token) = &s.agent.config().api_token else {
        return next.run(request).await;
    };
    if matches!(request.uri().path(), "/health" | "/healthz") {
        return next.run(request).await;
    }
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let expected = token.expose_secret().as_bytes();
    if presented.len() == expected.len() && bool::from(presented.as_bytes().ct_eq(expected)) {
        next.run(request).await
    } else {
        ApiError::Unauthorized.into_response()
    }
}

/// Refuses requests whose `Host` is not this machine, while the API listens on loopback
/// without a token: a web page the device's browser opens could otherwise reach the
/// local API through a DNS name rebound to 127.0.0.1.
pub async fn require_local_host(
    State(s): State<ApiState>,
    headers: HeaderMap,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if s.agent.config().api_token.is_some() {
        return next.run(request).await;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    if matches!(name, "localhost" | "127.0.0.1" | "[::1]" | "::1") {
        return next.run(request).await;
    }
    ApiError::ForeignHost(format!(
        "Host {host:?} is not this machine: the local API answers requests for localhost only \
         (set api_token to serve other names)"
    ))
    .into_response()
}

/// Gives any error answer that is not JSON (a 413 from the body limit, a 405) the
/// `{"error":{"code","message"}}` shape.
pub async fn ensure_shape(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let code = match status.as_u16() {
        413 => "body_too_large",
        415 => "unsupported_media_type",
        405 => "method_not_allowed",
        _ => "http_error",
    };
    let message = status
        .canonical_reason()
        .unwrap_or("the request failed")
        .to_owned();
    let body = licet_client::wire::ErrorBody {
        error: licet_client::wire::ErrorDetail {
            code: code.into(),
            message,
            details: Vec::new(),
        },
        verdict: None,
    };
    (status, Json(body)).into_response()
}
