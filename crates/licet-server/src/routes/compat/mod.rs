//! Compatibility routes, so the products' existing code can point at Licet unchanged:
//! BrinkByte's billing service (`/api/v1/…`, tenant API key) and Foxsight's license
//! server (`/api/licenses/…`, authenticated by the license key).
//!
//! Each answers in its product's own shapes, errors included. Decisions come from the
//! same resolution and snapshot as everything else; this module only translates. The
//! tenant is always the API key's: a `tenant_id` in a BrinkByte body that differs is
//! refused, never trusted.

use super::devices::activate_with;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorPair};
use crate::issuance::license_for;
use crate::metering::{Billing, Incoming, check};
use crate::metrics::bump;
use crate::sequences::Floor;
pub(crate) use crate::standing::standing;
use crate::state::AppState;
use axum::Json;
use axum::extract::{FromRequest, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use licet_client::wire::compat::*;
use licet_core::amount::Amount;
use licet_core::ids::{DeviceId, TenantId};
use licet_core::license_key::TypedKey;
use licet_core::snapshot::{Snapshot, Value};
use licet_store::{
    Device, DeviceStatus, ExternalUsageEvent, Heartbeat, StoreError, Subscription,
    SubscriptionStatus,
};
use time::OffsetDateTime;

mod brinkbyte;
mod foxsight;

pub use brinkbyte::*;
pub use foxsight::*;

/// An error in BrinkByte's shape: `{"detail", "code"}`.
pub struct BrinkbyteFailure(ApiError);

impl<E: Into<ApiError>> From<E> for BrinkbyteFailure {
    fn from(error: E) -> Self {
        BrinkbyteFailure(error.into())
    }
}

impl IntoResponse for BrinkbyteFailure {
    fn into_response(self) -> Response {
        let response = self.0.into_response();
        translate(response, |code, message| {
            serde_json::to_value(BrinkbyteError {
                detail: message,
                code,
            })
            .unwrap_or_default()
        })
    }
}

/// An error in Foxsight's shape: `{"success": false, "error": {"code", "message"}}`.
pub struct FoxsightFailure(ApiError);

impl<E: Into<ApiError>> From<E> for FoxsightFailure {
    fn from(error: E) -> Self {
        FoxsightFailure(error.into())
    }
}

impl IntoResponse for FoxsightFailure {
    fn into_response(self) -> Response {
        let response = self.0.into_response();
        translate(response, |code, message| {
            serde_json::to_value(FoxsightEnvelope::<()> {
                success: false,
                data: None,
                error: Some(FoxsightErrorDetail { code, message }),
            })
            .unwrap_or_default()
        })
    }
}

/// An error answered on `path`: in BrinkByte's shape under `/api/v1/`, in Foxsight's
/// under `/api/licenses/`, in Licet's elsewhere (for refusals made before a route's
/// handler runs, such as the NUL check).
pub fn in_shape_of(path: &str, error: ApiError) -> Response {
    if path.starts_with("/api/v1/") {
        BrinkbyteFailure(error).into_response()
    } else if path.starts_with("/api/licenses/") {
        FoxsightFailure(error).into_response()
    } else {
        error.into_response()
    }
}

/// Re-shapes an `ApiError` response's body, keeping its status and extensions (so the
/// logging middleware still sees internal details).
fn translate(
    response: Response,
    shape: impl FnOnce(String, String) -> serde_json::Value,
) -> Response {
    let (mut parts, body) = response.into_parts();
    let error = parts.extensions.remove::<ErrorPair>();
    let (code, message) = error
        .map(|e| (e.0, e.1))
        .unwrap_or_else(|| ("internal".into(), "internal error".into()));
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    drop(body);
    let mut response = (parts.status, Json(shape(code, message))).into_response();
    *response.extensions_mut() = parts.extensions;
    response
}

/// The caller of a BrinkByte route; an auth failure answers in BrinkByte's shape.
pub struct BrinkbyteCaller(Caller);

impl axum::extract::FromRequestParts<AppState> for BrinkbyteCaller {
    type Rejection = BrinkbyteFailure;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, BrinkbyteFailure> {
        Ok(BrinkbyteCaller(
            Caller::from_request_parts(parts, state).await?,
        ))
    }
}

/// A JSON body whose rejection answers in BrinkByte's shape.
#[derive(FromRequest)]
#[from_request(via(licet_http::JsonObject), rejection(BrinkbyteFailure))]
pub struct BrinkbyteBody<T>(pub T);

/// A JSON body whose rejection answers in Foxsight's shape.
#[derive(FromRequest)]
#[from_request(via(licet_http::JsonObject), rejection(FoxsightFailure))]
pub struct FoxsightBody<T>(pub T);

fn count(amount: Amount) -> i64 {
    match amount {
        Amount::Finite(n) => i64::try_from(n).unwrap_or(i64::MAX),
        Amount::Unlimited => -1,
    }
}

fn limit(snapshot: &Snapshot, key: &str) -> i64 {
    match snapshot.feature(key).map(|f| &f.value) {
        Some(Value::Amount(amount)) => count(*amount),
        _ => -1,
    }
}
