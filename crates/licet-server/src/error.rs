//! `ApiError`: every failure a handler can return, with its status and stable code.
//!
//! The body is always `{"error": {"code", "message"}}`. Internal failures answer with an
//! opaque message; their detail rides in a response extension that the logging
//! middleware writes out, so nothing internal reaches a client and nothing is logged
//! twice.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use licet_client::wire::{ErrorBody, ErrorDetail};
use licet_store::StoreError;

/// A failed request.
#[derive(Debug)]
pub enum ApiError {
    /// No or bad credentials.
    Unauthorized(String),
    /// Authenticated, but this credential may not do this.
    Forbidden(String),
    /// No such object (or another tenant's: the two are indistinguishable on purpose).
    NotFound(String),
    /// The request is malformed.
    InvalidRequest(String),
    /// The license key is malformed or unknown.
    InvalidLicenseKey(String),
    /// An uploaded catalog is invalid; every problem is listed.
    InvalidCatalog(Vec<String>),
    /// A conflicting change (e.g. a published catalog version with new content).
    Conflict {
        /// Stable code.
        code: &'static str,
        /// Message.
        message: String,
    },
    /// The subscription's device limit is reached.
    TooManyDevices(String),
    /// The caller must prove it holds a device key, or its proof is wrong.
    Unproven {
        /// `device_proof_required` or `device_proof_invalid`.
        code: &'static str,
        /// Message.
        message: String,
    },
    /// A definite refusal for a device, with a signed verdict.
    Refused {
        /// `subscription_suspended`, `subscription_cancelled` or `license_revoked`.
        code: &'static str,
        /// Message.
        message: String,
        /// The armored signed verdict.
        verdict: Option<String>,
    },
    /// The request body is larger than the server accepts.
    TooLarge(String),
    /// The body's content type is not one the route reads.
    UnsupportedMediaType(String),
    /// The database is not reachable.
    NotReady(String),
    /// The database cannot be reached right now; retry shortly.
    DatabaseUnavailable,
    /// More requests in flight than the server admits; retry shortly.
    Overloaded,
    /// Too many requests of a kind; retry after the time given.
    RateLimited(crate::limits::Limited),
    /// Anything else: logged, never shown.
    Internal(String),
}

pub use licet_http::observe::InternalDetail;

/// The code and message of an error answer, kept in its extensions so that a route
/// answering in another product's shape (the compatibility routes) can re-shape it.
#[derive(Clone, Debug)]
pub struct ErrorPair(pub String, pub String);

impl ApiError {
    /// HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) | ApiError::Unproven { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::Refused { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::InvalidRequest(_)
            | ApiError::InvalidLicenseKey(_)
            | ApiError::InvalidCatalog(_) => StatusCode::BAD_REQUEST,
            ApiError::Conflict { .. } | ApiError::TooManyDevices(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NotReady(_) | ApiError::DatabaseUnavailable | ApiError::Overloaded => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::InvalidRequest(_) => "invalid_request",
            ApiError::InvalidLicenseKey(_) => "invalid_license_key",
            ApiError::InvalidCatalog(_) => "invalid_catalog",
            ApiError::Conflict { code, .. }
            | ApiError::Refused { code, .. }
            | ApiError::Unproven { code, .. } => code,
            ApiError::TooManyDevices(_) => "too_many_devices",
            ApiError::TooLarge(_) => "body_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::NotReady(_) => "not_ready",
            ApiError::DatabaseUnavailable => "database_unavailable",
            ApiError::Overloaded => "overloaded",
            ApiError::RateLimited(_) => "rate_limited",
            ApiError::Internal(_) => "internal",
        }
    }

    /// An internal error from anything displayable.
    pub fn internal(error: impl std::fmt::Display) -> ApiError {
        ApiError::Internal(error.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => ApiError::NotFound("not found".into()),
            StoreError::Unavailable(_) => ApiError::DatabaseUnavailable,
            StoreError::InvalidInput(message) => {
                ApiError::InvalidRequest(format!("a value was refused: {message}"))
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::TooLarge(format!(
                "the request body is larger than {} bytes",
                crate::BODY_LIMIT_BYTES
            ));
        }
        ApiError::InvalidRequest(format!("malformed JSON body: {}", rejection.body_text()))
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::InvalidRequest(format!("bad path: {}", rejection.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::InvalidRequest(format!("bad query string: {}", rejection.body_text()))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let code = self.code().to_owned();
        let mut limits = None;
        let (message, details, verdict, internal) = match self {
            ApiError::Internal(detail) => (
                "internal error; the server logged the cause".to_owned(),
                Vec::new(),
                None,
                Some(detail),
            ),
            ApiError::InvalidCatalog(problems) => (
                format!(
                    "the catalog has {} problem(s); fix them and upload again",
                    problems.len()
                ),
                problems,
                None,
                None,
            ),
            ApiError::Refused {
                message, verdict, ..
            } => (message, Vec::new(), verdict, None),
            ApiError::Overloaded => (
                "the server is at its limit of requests in flight; retry in a few seconds"
                    .to_owned(),
                Vec::new(),
                None,
                None,
            ),
            ApiError::DatabaseUnavailable => (
                "the database is unavailable; retry in a few seconds".to_owned(),
                Vec::new(),
                None,
                None,
            ),
            ApiError::RateLimited(limited) => {
                limits = Some(limited);
                (
                    format!(
                        "too many requests ({} per minute for {}); retry in {} s",
                        limited.per_minute,
                        limited.class.name(),
                        limited.retry_after
                    ),
                    Vec::new(),
                    None,
                    None,
                )
            }
            ApiError::Unauthorized(m)
            | ApiError::Forbidden(m)
            | ApiError::NotFound(m)
            | ApiError::InvalidRequest(m)
            | ApiError::InvalidLicenseKey(m)
            | ApiError::TooManyDevices(m)
            | ApiError::NotReady(m)
            | ApiError::TooLarge(m)
            | ApiError::UnsupportedMediaType(m)
            | ApiError::Unproven { message: m, .. }
            | ApiError::Conflict { message: m, .. } => (m, Vec::new(), None, None),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                message,
                details,
            },
            verdict,
        };
        let pair = ErrorPair(body.error.code.clone(), body.error.message.clone());
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(limited) = limits {
            // RFC 9110 Retry-After, and the IETF RateLimit header fields
            // (draft-ietf-httpapi-ratelimit-headers): the policy and what is left.
            let headers = response.headers_mut();
            let name = limited.class.name();
            for (header, value) in [
                ("retry-after", limited.retry_after.to_string()),
                (
                    "ratelimit-policy",
                    format!("\"{name}\";q={};w=60", limited.per_minute),
                ),
                (
                    "ratelimit",
                    format!("\"{name}\";r=0;t={}", limited.retry_after),
                ),
            ] {
                if let Ok(value) = axum::http::HeaderValue::from_str(&value) {
                    headers.insert(header, value);
                }
            }
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("2"),
            );
        }
        response.extensions_mut().insert(pair);
        if let Some(detail) = internal {
            response.extensions_mut().insert(InternalDetail(detail));
        }
        response
    }
}

/// Gives any error answer that is not JSON (a 413 or 415 from a layer, a 405 from the
/// router) the API's error shape, so a client has one shape to read.
pub async fn ensure_shape(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (code, message) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => (
            "body_too_large",
            format!(
                "the request body is larger than {} bytes",
                crate::BODY_LIMIT_BYTES
            ),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "the body's Content-Type or Content-Encoding is not one this route reads (JSON, gzip)"
                .into(),
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this route does not take that method; see /openapi.json".into(),
        ),
        other => (
            "http_error",
            other
                .canonical_reason()
                .unwrap_or("the request failed")
                .to_owned(),
        ),
    };
    let body = ErrorBody {
        error: ErrorDetail {
            code: code.into(),
            message,
            details: Vec::new(),
        },
        verdict: None,
    };
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    let mut shaped = (status, axum::Json(body)).into_response();
    for (name, value) in parts.headers.iter() {
        if name != axum::http::header::CONTENT_TYPE {
            shaped.headers_mut().insert(name.clone(), value.clone());
        }
    }
    shaped
}
