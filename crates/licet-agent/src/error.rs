//! `ApiError` for the agent's local API: a status and a stable code, in the same
//! `{"error": {"code", "message"}}` shape as the server. Internal failures are logged
//! here, once, and answered with an opaque message.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use licet_client::wire::{ErrorBody, ErrorDetail};
pub use licet_http::{Body, Id, Query};

/// A failed local API request.
#[derive(Debug)]
pub enum ApiError {
    /// Malformed request.
    InvalidRequest(String),
    /// No or wrong local API token.
    Unauthorized,
    /// Needs the local API token, and none is configured.
    TokenRequired(String),
    /// The request names another host (DNS rebinding).
    ForeignHost(String),
    /// No such camera (or other object).
    NotFound(String),
    /// The camera limit is reached.
    CameraLimitReached(String),
    /// Not possible in the agent's current situation (e.g. not activated).
    Conflict {
        /// Stable code.
        code: &'static str,
        /// Message.
        message: String,
    },
    /// The server refused an activation; its code is passed on.
    Refused {
        /// The server's code.
        code: String,
        /// The server's message.
        message: String,
    },
    /// A license file was refused.
    LicenseRefused(String),
    /// The server could not be reached.
    Unreachable(String),
    /// The usage outbox is full.
    OutboxFull(String),
    /// Anything else.
    Internal(String),
}

impl ApiError {
    /// HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::TokenRequired(_) | ApiError::ForeignHost(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::CameraLimitReached(_) => StatusCode::FORBIDDEN,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            // The server is busy, not saying no: the caller may try again shortly.
            ApiError::Refused { code, .. } if code == "rate_limited" => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::Refused { .. } => StatusCode::FORBIDDEN,
            ApiError::LicenseRefused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unreachable(_) => StatusCode::BAD_GATEWAY,
            ApiError::OutboxFull(_) => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Stable code.
    pub fn code(&self) -> String {
        match self {
            ApiError::InvalidRequest(_) => "invalid_request".into(),
            ApiError::Unauthorized => "unauthorized".into(),
            ApiError::TokenRequired(_) => "local_api_token_required".into(),
            ApiError::ForeignHost(_) => "foreign_host".into(),
            ApiError::NotFound(_) => "not_found".into(),
            ApiError::CameraLimitReached(_) => "camera_limit_reached".into(),
            ApiError::Conflict { code, .. } => (*code).into(),
            ApiError::Refused { code, .. } => code.clone(),
            ApiError::LicenseRefused(_) => "license_refused".into(),
            ApiError::Unreachable(_) => "server_unreachable".into(),
            ApiError::OutboxFull(_) => "usage_backlog_full".into(),
            ApiError::Internal(_) => "internal".into(),
        }
    }
}

impl ApiError {
    /// What the caller is told: the message, except for an internal failure, whose
    /// detail goes to the log only.
    pub fn public_message(&self) -> String {
        match self {
            ApiError::Internal(_) => "the agent could not answer; its log has the details".into(),
            ApiError::Unauthorized => {
                "missing or wrong local API token: send Authorization: Bearer <api_token>".into()
            }
            ApiError::InvalidRequest(m)
            | ApiError::TokenRequired(m)
            | ApiError::ForeignHost(m)
            | ApiError::NotFound(m)
            | ApiError::CameraLimitReached(m)
            | ApiError::Conflict { message: m, .. }
            | ApiError::Refused { message: m, .. }
            | ApiError::LicenseRefused(m)
            | ApiError::Unreachable(m)
            | ApiError::OutboxFull(m) => m.clone(),
        }
    }
}

impl From<crate::usage::RecordError> for ApiError {
    fn from(error: crate::usage::RecordError) -> Self {
        use crate::usage::RecordError;
        match error {
            RecordError::Full { .. } => ApiError::OutboxFull(error.to_string()),
            RecordError::KeyReused(_) => ApiError::Conflict {
                code: "idempotency_key_reused",
                message: error.to_string(),
            },
            RecordError::Storage(m) => ApiError::Internal(m),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> Self {
        ApiError::Internal(format!("{error:#}"))
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        ApiError::InvalidRequest(format!(
            "{}; send a JSON body with Content-Type: application/json",
            rejection.body_text()
        ))
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::InvalidRequest(rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::InvalidRequest(rejection.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let code = self.code();
        let message = self.public_message();
        let internal = match self {
            // Logged once, by the failure-logging middleware.
            ApiError::Internal(detail) => Some(licet_http::observe::InternalDetail(detail)),
            _ => None,
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                message,
                details: Vec::new(),
            },
            verdict: None,
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(detail) = internal {
            response.extensions_mut().insert(detail);
        }
        response
    }
}

/// Any JSON body (an object, an array, a value), for the one route that takes several
/// forms (`POST /v1/usage`).
#[derive(Debug, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct AnyJson<T>(pub T);
