//! Activation, sync and offline license import.

use super::*;

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
