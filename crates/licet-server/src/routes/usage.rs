//! Usage uploaded by agents: a batch from a device's outbox, deduplicated on (device,
//! sequence), with per-event rejections. A rejected event is stored with its reason and
//! acknowledged like any other, so the device drops it instead of resending it forever;
//! totals leave it out.

use super::{Body, Id};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use licet_client::wire::{
    ErrorBody, UsageRejection, UsageUpload, UsageUploadEvent, UsageUploadResult,
};
use licet_core::catalog::Catalog;
use licet_core::ids::{DeviceId, MeterId};
use licet_store::DeviceUsageEvent;
use time::OffsetDateTime;

/// Events one upload may carry.
pub const UPLOAD_MAX: usize = 5000;

/// The meter the agent records by itself, one per camera and UTC day.
pub const CAMERA_DAY: &str = "camera_day";

/// Why an event is refused, if it is.
fn rejection(
    catalog: &Catalog,
    event: &UsageUploadEvent,
    now: OffsetDateTime,
) -> Result<(u64, OffsetDateTime), String> {
    if event.kind != CAMERA_DAY
        && !catalog
            .spec()
            .meters
            .contains_key(&MeterId::new(&event.kind))
    {
        return Err(format!(
            "unknown meter {:?}: not in the {} catalog",
            event.kind,
            catalog.product()
        ));
    }
    let quantity = event
        .quantity
        .as_u64()
        .ok_or_else(|| format!("quantity {} is not a non-negative integer", event.quantity))?;
    let at = OffsetDateTime::parse(&event.time, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("time {:?} is not RFC 3339 ({e})", event.time))?;
    if at - now > time::Duration::hours(24) {
        return Err(format!(
            "time {} is more than 24 h in the future",
            event.time
        ));
    }
    if event.attributes.as_ref().is_some_and(|a| !a.is_object()) {
        return Err("attributes must be an object".into());
    }
    Ok((quantity, at))
}

/// Stores a batch of a device's usage events (device token only).
#[utoipa::path(post, path = "/v1/devices/{device_id}/usage", tag = "usage", params(("device_id" = String, Path)),
    request_body = UsageUpload,
    responses((status = 200, body = UsageUploadResult), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    Id(device_id): Id<String>,
    Body(body): Body<UsageUpload>,
) -> Result<Json<UsageUploadResult>, ApiError> {
    let Caller::Device {
        device, revoked, ..
    } = &caller
    else {
        return Err(ApiError::Forbidden(
            "usage comes from the device, with its device token".into(),
        ));
    };
    if *device != DeviceId::new(&device_id) {
        return Err(ApiError::NotFound("not found".into()));
    }
    if *revoked {
        return Err(ApiError::Unauthorized(
            "invalid, expired or revoked token".into(),
        ));
    }
    if body.events.is_empty() || body.events.len() > UPLOAD_MAX {
        return Err(ApiError::InvalidRequest(format!(
            "`events`: send 1 to {UPLOAD_MAX} events per upload (got {})",
            body.events.len()
        )));
    }
    if let Some(bad) = body.events.iter().find(|e| e.sequence == 0) {
        return Err(ApiError::InvalidRequest(format!(
            "`sequence` starts at 1 (an event of type {:?} has 0)",
            bad.kind
        )));
    }
    let record = state.store.get_device(caller.tenant(), device).await?;
    let subscription = state
        .store
        .get_subscription(Some(&record.tenant), &record.subscription)
        .await?;
    let catalog = state.catalog(&subscription.product).await?;
    let now = state.clock.now();
    let mut rejected = Vec::new();
    let events: Vec<DeviceUsageEvent> = body
        .events
        .iter()
        .map(|event| {
            let (quantity, occurred_at, reason) = match rejection(&catalog, event, now) {
                Ok((quantity, at)) => (quantity, at, None),
                Err(reason) => {
                    rejected.push(UsageRejection {
                        sequence: event.sequence,
                        reason: reason.clone(),
                    });
                    (0, now, Some(reason))
                }
            };
            DeviceUsageEvent {
                sequence: event.sequence,
                meter: event.kind.chars().take(100).collect(),
                quantity,
                unit: event.unit.as_ref().map(|u| u.chars().take(50).collect()),
                camera_id: event
                    .camera_id
                    .as_ref()
                    .map(|c| c.chars().take(200).collect()),
                occurred_at,
                attributes: event
                    .attributes
                    .clone()
                    .filter(serde_json::Value::is_object),
                rejection: reason,
            }
        })
        .collect();
    let outcome = state
        .store
        .ingest_device_usage(device, &events, now)
        .await?;
    Ok(Json(UsageUploadResult {
        stored: outcome.stored,
        duplicates: outcome.duplicates,
        rejected,
        acknowledged_through: outcome.acknowledged_through,
    }))
}
