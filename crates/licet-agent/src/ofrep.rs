//! The OpenFeature Remote Evaluation Protocol over the agent's snapshot, so that
//! off-the-shelf OpenFeature OFREP providers evaluate entitlements unchanged.
//!
//! Flags are catalog features, evaluated by the core (`licet_core::flags`, shared with
//! the server's OFREP). The evaluation context does not change entitlements.

use crate::api::ApiState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use licet_client::agent::ofrep::{
    BulkEvaluation, Evaluation, EvaluationFailure, EvaluationRequest,
};
use licet_client::wire::ErrorBody;
use licet_core::snapshot::FeatureStatus;
use licet_core::state::LicenseState;

/// The value an unlimited amount evaluates to.
pub use licet_core::flags::UNLIMITED;

fn evaluate(key: &str, status: &FeatureStatus, state: LicenseState) -> Evaluation {
    let flag = licet_core::flags::flag(status, state);
    Evaluation {
        key: key.to_owned(),
        value: flag.value,
        reason: flag.reason.to_owned(),
        variant: flag.variant.to_owned(),
        metadata: serde_json::json!({
            "licet_reason": status.reason.as_str(),
            "licet_state": state.as_str(),
        }),
    }
}

fn failure(status: StatusCode, key: &str, code: &str, details: String) -> Response {
    (
        status,
        Json(EvaluationFailure {
            key: key.to_owned(),
            error_code: code.to_owned(),
            error_details: details,
        }),
    )
        .into_response()
}

/// Checks the body is a JSON object with an optional object `context`.
fn context_problem(body: &[u8]) -> Option<(&'static str, String)> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Err(error) => Some((
            "PARSE_ERROR",
            format!("the body is not JSON: {error}; send {{\"context\": {{…}}}}"),
        )),
        Ok(serde_json::Value::Object(map)) => match map.get("context") {
            None | Some(serde_json::Value::Object(_)) | Some(serde_json::Value::Null) => None,
            Some(_) => Some(("INVALID_CONTEXT", "`context` must be an object".to_owned())),
        },
        Ok(_) => Some((
            "PARSE_ERROR",
            "the body must be a JSON object: {\"context\": {…}}".to_owned(),
        )),
    }
}

/// `POST /ofrep/v1/evaluate/flags/{key}`.
#[utoipa::path(post, path = "/ofrep/v1/evaluate/flags/{key}", tag = "ofrep", params(("key" = String, Path, description = "A feature key of the catalog")), request_body(content = Option<EvaluationRequest>, description = "OFREP evaluation context (ignored: the license decides)"), responses((status = 200, body = Evaluation), (status = 400, body = EvaluationFailure), (status = 404, body = EvaluationFailure), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn evaluate_flag(
    State(s): State<ApiState>,
    axum::extract::Path(key): axum::extract::Path<String>,
    body: axum::body::Bytes,
) -> Response {
    if let Some((code, details)) = context_problem(&body) {
        return failure(StatusCode::BAD_REQUEST, &key, code, details);
    }
    let current = s.agent.current();
    match current.snapshot.feature(&key) {
        Some(status) => {
            s.counters.count(status.allowed);
            Json(evaluate(&key, status, current.report.state)).into_response()
        }
        None => {
            s.counters.count(false);
            failure(
                StatusCode::NOT_FOUND,
                &key,
                "FLAG_NOT_FOUND",
                format!("{key:?} is not a feature in this product's catalog"),
            )
        }
    }
}

/// `POST /ofrep/v1/evaluate/flags`: every flag, with an ETag; `If-None-Match` with the
/// current ETag answers 304.
#[utoipa::path(post, path = "/ofrep/v1/evaluate/flags", tag = "ofrep", request_body(content = Option<EvaluationRequest>, description = "OFREP evaluation context (ignored: the license decides); may be absent"), params(("If-None-Match" = Option<String>, Header, description = "The ETag of an earlier answer")), responses((status = 200, body = BulkEvaluation, headers(("ETag" = String))), (status = 304, description = "Not modified since the ETag"), (status = 400, body = Object, description = "`{errorCode, errorDetails}`"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn evaluate_all(
    State(s): State<ApiState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Some((code, details)) = context_problem(&body) {
        return (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "errorCode": code, "errorDetails": details })),
        )
            .into_response();
    }
    let current = s.agent.current();
    let etag = format!(
        "\"{}-{}-{}\"",
        current.license.as_ref().map_or(0, |l| l.sequence),
        current.report.state.as_str(),
        current.generation
    );
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        });
    let etag_value = HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"0\""));
    if matches {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag_value)]).into_response();
    }
    let mut flags: Vec<Evaluation> = current
        .snapshot
        .features()
        .map(|(key, status)| evaluate(key, status, current.report.state))
        .collect();
    flags.sort_by(|a, b| a.key.cmp(&b.key));
    (
        [(header::ETAG, etag_value)],
        Json(BulkEvaluation {
            flags,
            metadata: serde_json::json!({ "licet_state": current.report.state.as_str() }),
        }),
    )
        .into_response()
}
