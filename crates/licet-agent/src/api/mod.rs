//! The native local API (`/v1/…`), health and metrics. Handlers read the agent's
//! current snapshot and convert between the wire shapes and the core's answers; no
//! entitlement rule lives here.

use crate::agent::{ActivationError, Agent, CameraAnswer, Current, PackAnswer, SyncError};
use crate::db::CameraRow;
use crate::error::{AnyJson, ApiError, Body, Id, Query};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use licet_client::agent::ActivationRequestFile;
use licet_client::agent::brinkbyte::{QuotaUsage, UsageSummary};
use licet_client::agent::{
    ActivateRequest, CameraPacks, CameraPacksView, CameraRegister, CameraView, CheckRequest,
    CheckResponse, ClassFilterRequest, ClassFilterResponse, ComponentCheckRequest,
    ComponentCheckResponse, StatusView, UsageAccepted, UsageEventIn,
};
use licet_client::wire::ErrorBody;
use licet_core::amount::Amount;
use licet_core::catalog::{ComponentKind, FeatureKind};
use licet_core::snapshot::{Decision, Value};
use licet_core::trial::CameraMode;
use serde::Deserialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

mod activation;
mod cameras;
mod entitlements;
mod usage;

pub use activation::*;
pub use cameras::*;
pub use entitlements::*;
pub use usage::*;

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

/// Malformed requests to the local API answer in its error shape.
impl licet_http::Rejects for ApiState {
    type Rejection = ApiError;
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
    let now = agent.timer_now(&current);
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

/// `GET /health`: the agent answers (whatever the license state), in the shape of
/// Foxsight's license client's health check (`status: healthy`, `service`, `version`,
/// `installationId` = the device id once activated, `hardwareId` = the fingerprint)
/// with Licet's state beside it.
#[utoipa::path(get, path = "/health", tag = "status", security(()), responses((status = 200, description = "`{status, service, version, installationId?, hardwareId, state}`: the agent answers, whatever the license state", body = Object)))]
pub async fn health(State(s): State<ApiState>) -> Json<serde_json::Value> {
    let current = s.agent.current();
    let mut body = serde_json::json!({
        "status": "healthy",
        "service": "licet-agent",
        "version": env!("CARGO_PKG_VERSION"),
        "hardwareId": s.agent.fingerprint().value,
        "state": current.report.state.as_str(),
    });
    if let Some(device) = &current.device_id {
        body["installationId"] = serde_json::Value::String(device.clone());
    }
    Json(body)
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
