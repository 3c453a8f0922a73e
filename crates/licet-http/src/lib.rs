//! The HTTP vocabulary the server and the agent share, so that both answer a malformed
//! body the same way and serve their OpenAPI documents the same way: [`JsonObject`], a JSON
//! body that must be an object, and [`Document`], the rendered document with the
//! handler that serves it. Each side keeps its own error type and turns a
//! [`BodyRejection`] into it. [`observe`] holds the request id, the request span and
//! the latency histograms both serve at `/metrics`.

pub mod observe;

use axum::Extension;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// A JSON request body that must be a JSON object. Serde's derived structs also accept
/// a JSON array (fields by position), so `[null, null]` would otherwise be a valid
/// "change nothing" request; no Licet body is positional.
#[derive(Debug)]
pub struct JsonObject<T>(pub T);

/// Why a body was refused.
#[derive(Debug)]
pub enum BodyRejection {
    /// Not JSON, the wrong content type, too large, or not the expected shape.
    Json(JsonRejection),
    /// Valid JSON, but not an object.
    NotAnObject,
    /// An object, but not the expected fields or types.
    Invalid(serde_json::Error),
}

impl BodyRejection {
    /// The status to answer.
    pub fn status(&self) -> StatusCode {
        match self {
            BodyRejection::Json(rejection) => rejection.status(),
            BodyRejection::NotAnObject => StatusCode::BAD_REQUEST,
            BodyRejection::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }

    /// What was wrong, for the error message.
    pub fn message(&self) -> String {
        match self {
            BodyRejection::Json(rejection) => rejection.body_text(),
            BodyRejection::NotAnObject => {
                "the body must be a JSON object ({\"field\": …}), not an array or a single value"
                    .to_owned()
            }
            BodyRejection::Invalid(error) => {
                format!("Failed to deserialize the JSON body into the target type: {error}")
            }
        }
    }
}

/// Plain text; each side turns a rejection into its own error shape before answering.
impl IntoResponse for BodyRejection {
    fn into_response(self) -> axum::response::Response {
        (self.status(), self.message()).into_response()
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonObject<T> {
    type Rejection = BodyRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, BodyRejection> {
        let axum::Json(value) = axum::Json::<serde_json::Value>::from_request(request, state)
            .await
            .map_err(BodyRejection::Json)?;
        if !value.is_object() {
            return Err(BodyRejection::NotAnObject);
        }
        T::deserialize(value)
            .map(JsonObject)
            .map_err(BodyRejection::Invalid)
    }
}

/// A rendered OpenAPI document, shared by every request (an axum [`Extension`]).
#[derive(Clone, Debug)]
pub struct Document(Arc<[u8]>);

impl Document {
    /// Renders `openapi` once.
    pub fn new(openapi: &utoipa::openapi::OpenApi) -> Document {
        Document(serde_json::to_vec(openapi).unwrap_or_default().into())
    }
}

/// `GET /openapi.json`: this document.
#[utoipa::path(get, path = "/openapi.json", tag = "system",
    responses((status = 200, description = "The OpenAPI 3.1 document of every route", content_type = "application/json", body = Object)))]
pub async fn document(Extension(document): Extension<Document>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        axum::body::Bytes::copy_from_slice(&document.0),
    )
}
