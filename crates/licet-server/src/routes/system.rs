//! Health, readiness, metrics, the OpenAPI document and the public signing keys.

use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use licet_client::wire::{ErrorBody, Health, SigningKeyView};

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "system", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// Readiness: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "system",
    responses((status = 200, body = Health), (status = 503, body = ErrorBody)))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    state
        .store
        .ping()
        .await
        .map_err(|e| ApiError::NotReady(format!("the database is not reachable: {e}")))?;
    Ok(Json(Health {
        status: "ok".into(),
    }))
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "system",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

/// The server's signing public keys, by key id, with the root's certificate of the one
/// in use. For operators and offline tools: agents trust only their provisioned roots.
#[utoipa::path(get, path = "/v1/signing-keys", tag = "system",
    responses((status = 200, body = Vec<SigningKeyView>)))]
pub async fn signing_keys(
    State(state): State<AppState>,
) -> Result<Json<Vec<SigningKeyView>>, ApiError> {
    let keys = state.store.list_signing_keys().await?;
    Ok(Json(
        keys.into_iter().map(|k| key_view(&state, k)).collect(),
    ))
}

/// One signing public key by its key id.
#[utoipa::path(get, path = "/v1/signing-keys/{key_id}", tag = "system",
    params(("key_id" = String, Path, description = "Key id: 16 hex digits")),
    responses((status = 200, body = SigningKeyView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn signing_key(
    State(state): State<AppState>,
    super::Id(key_id): super::Id<String>,
) -> Result<Json<SigningKeyView>, ApiError> {
    let keys = state.store.list_signing_keys().await?;
    keys.into_iter()
        .find(|k| k.key_id == key_id)
        .map(|k| Json(key_view(&state, k)))
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no signing key with id {key_id:?}; GET /v1/signing-keys lists them"
            ))
        })
}

fn key_view(state: &AppState, key: licet_store::SigningKeyRecord) -> SigningKeyView {
    let certificate = (key.key_id == state.signer.key_id().as_str())
        .then(|| state.signer.certificate().to_owned());
    SigningKeyView {
        key_id: key.key_id,
        public_key: key.public_key,
        certificate,
    }
}
