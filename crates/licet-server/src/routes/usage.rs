//! Usage uploaded by agents: a batch from a device's outbox, deduplicated on (device,
//! sequence), with per-event rejections. A rejected event is stored with its reason and
//! acknowledged like any other, so the device drops it instead of resending it forever;
//! totals leave it out.

use super::{Body, Id, Query};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::metering::Billing;
use crate::metering::{self, Incoming, Measured};
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use licet_client::wire::{
    CloudEventsResult, EventRejection, QuotaStatus, QuotaStatusList, UsageBucketView,
    UsageCloudEvent, UsageSeries,
};
use licet_client::wire::{
    ErrorBody, UsageRejection, UsageUpload, UsageUploadEvent, UsageUploadResult,
};
use licet_core::amount::Amount;
use licet_core::catalog::Catalog;
use licet_core::catalog::{Overage, Period};
use licet_core::entitlements::Grant;
use licet_core::ids::DeviceId;
use licet_core::ids::TenantId;
use licet_store::DeviceUsageEvent;
use licet_store::{ExternalUsageEvent, UsageQuery, Window};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Events one upload may carry.
pub const UPLOAD_MAX: usize = 5000;

/// Checks a device's event against its subscription's catalog.
fn rejection(
    catalog: &Catalog,
    event: &UsageUploadEvent,
    now: OffsetDateTime,
) -> Result<Measured, String> {
    metering::check(
        catalog,
        &Incoming {
            meter: &event.kind,
            quantity: &event.quantity,
            time: Some(&event.time),
            cost_minor: event.attributes.as_ref().and_then(|a| a.get("cost_minor")),
            attributes: event.attributes.as_ref(),
        },
        now,
    )
}

/// Stores a batch of a device's usage events (device token only).
#[utoipa::path(post, path = "/v1/devices/{device_id}/usage", tag = "usage", params(("device_id" = String, Path)),
    request_body = UsageUpload,
    responses((status = 200, body = UsageUploadResult), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    Id(device_id): Id<String>,
    Body(body): Body<UsageUpload>,
) -> Result<Json<UsageUploadResult>, ApiError> {
    let Caller::Device {
        device,
        revoked,
        session,
        ..
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
    metering::refuse_out_of_range(body.events.iter().enumerate().flat_map(|(i, e)| {
        [
            (i, "quantity", Some(&e.quantity)),
            (
                i,
                "cost_minor",
                e.attributes.as_ref().and_then(|a| a.get("cost_minor")),
            ),
        ]
    }))?;
    if let Some(bad) = body
        .events
        .iter()
        .find(|e| e.sequence > licet_core::amount::MAX_WIRE_INTEGER)
    {
        return Err(ApiError::InvalidRequest(format!(
            "`sequence` {} is above {}; sequences count up from 1",
            bad.sequence,
            licet_core::amount::MAX_WIRE_INTEGER
        )));
    }
    if let Some(bad) = body.events.iter().find(|e| e.sequence == 0) {
        return Err(ApiError::InvalidRequest(format!(
            "`sequence` starts at 1 (an event of type {:?} has 0)",
            bad.kind
        )));
    }
    let subscription = &session.subscription;
    let catalog = state.catalog(&subscription.product).await?;
    let now = state.clock.now();
    let mut rejected = Vec::new();
    let events: Vec<DeviceUsageEvent> = body
        .events
        .iter()
        .map(|event| {
            let checked = rejection(&catalog, event, now).and_then(|measured| {
                metering::within_term(subscription, measured.occurred_at, now)?;
                Ok(measured)
            });
            let (measured, reason) = match checked {
                Ok(measured) => (measured, None),
                Err(reason) => {
                    rejected.push(UsageRejection {
                        sequence: event.sequence,
                        reason: reason.clone(),
                    });
                    let nothing = Measured {
                        quantity: 0,
                        occurred_at: now,
                        cost_minor: None,
                    };
                    (nothing, Some(reason))
                }
            };
            DeviceUsageEvent {
                sequence: event.sequence,
                meter: event.kind.chars().take(100).collect(),
                quantity: measured.quantity,
                unit: event.unit.as_ref().map(|u| u.chars().take(50).collect()),
                camera_id: event
                    .camera_id
                    .as_ref()
                    .map(|c| c.chars().take(200).collect()),
                cost_minor: measured.cost_minor,
                occurred_at: measured.occurred_at,
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

/// Events one CloudEvents batch may carry.
pub const CLOUDEVENTS_MAX: usize = 5000;

const BATCH: &str = "application/cloudevents-batch+json";
const SINGLE: &str = "application/cloudevents+json";

/// One event in binary mode (the CloudEvents SDKs' default): its attributes are the
/// `ce-*` headers (percent-decoded, as the HTTP binding encodes them), its data the
/// body, its `datacontenttype` the request's content type. Read into the structured
/// form, so both modes go through the same checks.
fn binary_event(
    headers: &HeaderMap,
    content_type: &str,
    body: &[u8],
) -> Result<serde_json::Value, ApiError> {
    let mut event = serde_json::Map::new();
    for (name, value) in headers {
        let Some(attribute) = name.as_str().strip_prefix("ce-") else {
            continue;
        };
        let text = value.to_str().ok().and_then(|v| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8()
                .ok()
                .map(|v| v.into_owned())
        });
        let text = text.ok_or_else(|| {
            ApiError::InvalidRequest(format!("header {name}: not UTF-8 once percent-decoded"))
        })?;
        event.insert(attribute.to_owned(), serde_json::Value::String(text));
    }
    if !content_type.is_empty() {
        event.insert(
            "datacontenttype".into(),
            serde_json::Value::String(content_type.to_owned()),
        );
    }
    let data: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::InvalidRequest(format!(
            "binary mode: the body is the event's data and must be JSON: {e}"
        ))
    })?;
    event.insert("data".into(), data);
    Ok(serde_json::Value::Object(event))
}

/// Reads one CloudEvent (structured mode) into what the store keeps.
fn cloud_event(
    billing: &Billing,
    event: &serde_json::Value,
    now: OffsetDateTime,
) -> Result<ExternalUsageEvent, (Option<String>, String)> {
    let id = event.get("id").and_then(|v| v.as_str()).map(str::to_owned);
    let fail = |reason: String| (id.clone(), reason);
    let parsed: UsageCloudEvent = serde_json::from_value(event.clone())
        .map_err(|e| fail(format!("not a usage CloudEvent: {e}")))?;
    if parsed.specversion != "1.0" {
        return Err(fail(format!(
            "specversion {:?} is not supported; send CloudEvents 1.0",
            parsed.specversion
        )));
    }
    if parsed.id.is_empty() || parsed.source.is_empty() {
        return Err(fail("`id` and `source` must not be empty".into()));
    }
    if parsed.id.chars().count() > 200 || parsed.source.chars().count() > 500 {
        return Err(fail(
            "`id` is limited to 200 characters and `source` to 500".into(),
        ));
    }
    if let Some(content) = &parsed.datacontenttype {
        if !content.starts_with("application/json") {
            return Err(fail(format!(
                "datacontenttype {content:?}: `data` must be application/json"
            )));
        }
    }
    let chosen = event.get("licetsubscription").and_then(|v| v.as_str());
    let (subscription, catalog) = billing
        .route(&parsed.kind, chosen)
        .map_err(|reason| fail(format!("{reason} (extension `licetsubscription`)")))?;
    let measured = metering::check(
        catalog,
        &Incoming {
            meter: &parsed.kind,
            quantity: &parsed.data.quantity,
            time: parsed.time.as_deref(),
            cost_minor: event.pointer("/data/cost_minor"),
            attributes: parsed.data.attributes.as_ref(),
        },
        now,
    )
    .map_err(&fail)?;
    metering::within_term(subscription, measured.occurred_at, now).map_err(fail)?;
    Ok(ExternalUsageEvent {
        subscription: subscription.id.clone(),
        source: parsed.source,
        event_id: parsed.id,
        meter: parsed.kind,
        quantity: measured.quantity,
        unit: parsed.data.unit,
        camera_id: parsed.data.camera_id,
        resource_id: parsed.subject,
        cost_minor: measured.cost_minor,
        occurred_at: measured.occurred_at,
        attributes: parsed.data.attributes,
    })
}

/// Stores CloudEvents 1.0 usage from a vendor's back-end: a batch
/// (`application/cloudevents-batch+json`, a JSON array), one event in structured mode
/// (`application/cloudevents+json`) or one in binary mode (`ce-*` headers, the data as
/// an `application/json` body: the SDKs' default). Deduplicated on source + id;
/// refused events are reported by index and the rest are stored.
#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/usage/events", tag = "usage",
    params(("tenant_id" = String, Path)),
    request_body(content = Vec<serde_json::Value>, content_type = "application/cloudevents-batch+json",
        description = "CloudEvents 1.0 in structured mode, each a `UsageCloudEvent`; an event that is not one is refused alone, in the answer. One event in binary mode is accepted too: its attributes as `ce-*` headers (`ce-specversion`, `ce-id`, `ce-source`, `ce-type`, `ce-time`, `ce-subject`, `ce-licetsubscription`) and its data as an `application/json` body"),
    responses((status = 200, body = CloudEventsResult), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody)),
    security(("admin_token" = []), ("api_key" = ["usage:write"])))]
pub async fn cloudevents(
    State(state): State<AppState>,
    caller: Caller,
    Id(tenant_id): Id<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<CloudEventsResult>, ApiError> {
    let tenant = TenantId::new(&tenant_id);
    caller.require_tenant(&tenant, "usage:write")?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let binary =
        headers.contains_key("ce-specversion") && content_type != BATCH && content_type != SINGLE;
    let value: serde_json::Value = if binary {
        binary_event(&headers, &content_type, &body)?
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::InvalidRequest(format!("the body is not JSON: {e}")))?
    };
    let events = match (content_type.as_str(), value) {
        (_, event @ serde_json::Value::Object(_)) if binary => vec![event],
        (BATCH, serde_json::Value::Array(events)) => events,
        (BATCH, _) => {
            return Err(ApiError::InvalidRequest(format!(
                "{BATCH} is a JSON array of events"
            )));
        }
        (SINGLE, event @ serde_json::Value::Object(_)) => vec![event],
        (SINGLE, _) => {
            return Err(ApiError::InvalidRequest(format!(
                "{SINGLE} is one event, a JSON object"
            )));
        }
        (other, _) => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "content type {other:?}: send {BATCH} (an array), {SINGLE} (one event), \
                 or one event in binary mode (`ce-*` headers and a JSON body)"
            )));
        }
    };
    if events.is_empty() || events.len() > CLOUDEVENTS_MAX {
        return Err(ApiError::InvalidRequest(format!(
            "send 1 to {CLOUDEVENTS_MAX} events per request (got {})",
            events.len()
        )));
    }
    metering::refuse_out_of_range(events.iter().enumerate().flat_map(|(i, e)| {
        [
            (i, "quantity", e.pointer("/data/quantity")),
            (i, "cost_minor", e.pointer("/data/cost_minor")),
        ]
    }))?;
    state.store.get_tenant(&tenant).await?;
    let billing = Billing::load(&state, &tenant).await?;
    let now = state.clock.now();
    let mut rejected = Vec::new();
    let mut accepted = Vec::new();
    for (index, event) in events.iter().enumerate() {
        match cloud_event(&billing, event, now) {
            Ok(event) => accepted.push(event),
            Err((id, reason)) => rejected.push(EventRejection { index, id, reason }),
        }
    }
    let stored = if accepted.is_empty() {
        Vec::new()
    } else {
        state
            .store
            .ingest_external_usage(&tenant, &accepted, now)
            .await?
    };
    let fresh = stored.iter().filter(|&&s| s).count();
    Ok(Json(CloudEventsResult {
        accepted: u64::try_from(fresh).unwrap_or(u64::MAX),
        duplicates: u64::try_from(stored.len() - fresh).unwrap_or(u64::MAX),
        rejected,
    }))
}

/// `GET /v1/tenants/{tenant_id}/usage` filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageFilter {
    /// From (RFC 3339, inclusive); the start of the current month when absent.
    pub from: Option<String>,
    /// To (RFC 3339, exclusive); the start of the next month when absent.
    pub to: Option<String>,
    /// `hour`, `day` (default) or `month`.
    pub window: Option<String>,
    /// Only this device.
    pub device_id: Option<String>,
    /// Only this camera.
    pub camera_id: Option<String>,
    /// Only this meter.
    pub meter: Option<String>,
}

fn parse_time(field: &str, text: &str) -> Result<OffsetDateTime, ApiError> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|e| {
            ApiError::InvalidRequest(format!(
                "`{field}` {text:?} is not RFC 3339 ({e}), e.g. 2026-11-01T00:00:00Z"
            ))
        })
        .map(|t| t.to_offset(time::UtcOffset::UTC))
}

/// A tenant's accepted usage over a range, per meter and hour, day or month.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/usage", tag = "usage",
    params(("tenant_id" = String, Path), UsageFilter),
    responses((status = 200, body = UsageSeries), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("admin_token" = []), ("api_key" = ["usage:read"])))]
pub async fn series(
    State(state): State<AppState>,
    caller: Caller,
    Id(tenant_id): Id<String>,
    Query(filter): Query<UsageFilter>,
) -> Result<Json<UsageSeries>, ApiError> {
    let tenant = TenantId::new(&tenant_id);
    caller.require_tenant(&tenant, "usage:read")?;
    let (window, longest) = match filter.window.as_deref().unwrap_or("day") {
        "hour" => (Window::Hour, time::Duration::days(31)),
        "day" => (Window::Day, time::Duration::days(366)),
        "month" => (Window::Month, time::Duration::days(3660)),
        other => {
            return Err(ApiError::InvalidRequest(format!(
                "`window` {other:?}: use hour, day or month"
            )));
        }
    };
    let now = state.clock.now();
    let this_month = licet_core::catalog::Period::Month
        .bounds(now)
        .ok_or_else(|| ApiError::internal("the clock is past the calendar"))?;
    let from = match &filter.from {
        Some(text) => parse_time("from", text)?,
        None => this_month.0,
    };
    let to = match &filter.to {
        Some(text) => parse_time("to", text)?,
        None => this_month.1,
    };
    if to <= from {
        return Err(ApiError::InvalidRequest("`to` must be after `from`".into()));
    }
    if to - from > longest {
        return Err(ApiError::InvalidRequest(format!(
            "a {} window covers at most {} days; narrow the range or widen the window",
            filter.window.as_deref().unwrap_or("day"),
            longest.whole_days()
        )));
    }
    state.store.get_tenant(&tenant).await?;
    let buckets = state
        .store
        .usage_series(&UsageQuery {
            tenant: tenant.clone(),
            device: filter.device_id.as_deref().map(DeviceId::new),
            camera: filter.camera_id.clone(),
            meter: filter.meter.clone(),
            from,
            to,
            window,
        })
        .await?;
    Ok(Json(UsageSeries {
        tenant_id: tenant.to_string(),
        from: licet_core::time_text(from),
        to: licet_core::time_text(to),
        window: match window {
            Window::Hour => "hour",
            Window::Day => "day",
            Window::Month => "month",
        }
        .into(),
        buckets: buckets
            .into_iter()
            .map(|b| UsageBucketView {
                start: licet_core::time_text(b.start),
                meter: b.meter,
                quantity: b.quantity,
                events: b.events,
            })
            .collect(),
    }))
}

/// Where each quota of the tenant stands this period, by the server's count (every
/// device and back-end together).
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/quotas", tag = "usage",
    params(("tenant_id" = String, Path)),
    responses((status = 200, body = QuotaStatusList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("admin_token" = []), ("api_key" = ["usage:read"])))]
pub async fn quotas(
    State(state): State<AppState>,
    caller: Caller,
    Id(tenant_id): Id<String>,
) -> Result<Json<QuotaStatusList>, ApiError> {
    let tenant = TenantId::new(&tenant_id);
    caller.require_tenant(&tenant, "usage:read")?;
    state.store.get_tenant(&tenant).await?;
    let now = state.clock.now();
    let mut quotas = Vec::new();
    for subscription in state.store.list_subscriptions(&tenant).await? {
        if subscription.status == licet_store::SubscriptionStatus::Cancelled {
            continue;
        }
        let catalog = state.catalog(&subscription.product).await?;
        quotas.extend(quota_status(&state, &catalog, &subscription, now).await?);
    }
    Ok(Json(QuotaStatusList {
        tenant_id: tenant.to_string(),
        quotas,
    }))
}

/// The quota features of one subscription with the server's count this period.
pub async fn quota_status(
    state: &AppState,
    catalog: &Catalog,
    subscription: &licet_store::Subscription,
    now: OffsetDateTime,
) -> Result<Vec<QuotaStatus>, ApiError> {
    let resolution = catalog
        .resolve(&crate::issuance::bought(subscription))
        .map_err(ApiError::internal)?;
    let mut counted: Vec<(Period, std::collections::BTreeMap<String, u64>)> = Vec::new();
    let mut out = Vec::new();
    for (meter, spec) in &catalog.spec().meters {
        let Some(feature) = &spec.quota else { continue };
        let Some(Grant::Quota {
            allowance,
            period,
            overage,
            ..
        }) = resolution.entitlements.features.get(feature)
        else {
            continue;
        };
        let Some((start, end)) = period.bounds(now) else {
            continue;
        };
        // One query per period, not per quota: a catalog's quotas mostly share the month,
        // and heartbeats ask this of every device. It reads the running counters (a row
        // per meter and day), never the period's events.
        let sums = match counted.iter().find(|(counted, _)| counted == period) {
            Some((_, sums)) => sums,
            None => {
                let sums = state
                    .store
                    .counted_usage(&subscription.tenant, &subscription.id, start, end)
                    .await?;
                counted.push((*period, sums));
                &counted[counted.len() - 1].1
            }
        };
        let used = sums.get(meter.as_str()).copied().unwrap_or(0);
        let allowance = match allowance {
            Amount::Finite(n) => Some(*n),
            Amount::Unlimited => None,
        };
        out.push(QuotaStatus {
            subscription_id: subscription.id.to_string(),
            feature: feature.to_string(),
            meter: meter.to_string(),
            period: period.key(now),
            period_start: licet_core::time_text(start),
            period_end: licet_core::time_text(end),
            allowance,
            used,
            remaining: allowance.map(|a| a.saturating_sub(used)),
            overage: match overage {
                Overage::Allow => "allow",
                Overage::Refuse => "refuse",
            }
            .into(),
        });
    }
    Ok(out)
}
