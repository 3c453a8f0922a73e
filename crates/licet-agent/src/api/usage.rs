//! Recording usage into the outbox and summarising it.

use super::*;
use sha2::Digest as _;

fn usage_event(
    index: usize,
    value: serde_json::Value,
    now: time::OffsetDateTime,
) -> Result<crate::usage::UsageEvent, ApiError> {
    let bad = |why: String| ApiError::InvalidRequest(format!("event {index}: {why}"));
    let event: UsageEventIn = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
    let kind_ok = !event.kind.is_empty()
        && event.kind.len() <= 100
        && event
            .kind
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !kind_ok {
        return Err(bad(format!(
            "`type` {:?} must be a meter name of 1 to 100 letters, digits, '_', '.' or '-'",
            event.kind
        )));
    }
    let quantity = licet_core::amount::wire_quantity(&event.quantity).map_err(bad)?;
    let time = match &event.time {
        None => now,
        Some(text) => {
            let at =
                time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                    .map_err(|e| bad(format!("`time` {text:?} is not RFC 3339 ({e})")))?;
            if at - now > time::Duration::hours(24) {
                return Err(bad(format!(
                    "`time` {text} is more than 24 h ahead of this device's clock"
                )));
            }
            at
        }
    };
    if event
        .camera_id
        .as_ref()
        .is_some_and(|c| c.is_empty() || c.chars().count() > 200)
    {
        return Err(bad("`camera_id` must be 1 to 200 characters".into()));
    }
    if event.unit.as_ref().is_some_and(|u| u.chars().count() > 50) {
        return Err(bad("`unit` is longer than 50 characters".into()));
    }
    if event.attributes.as_ref().is_some_and(|a| !a.is_object()) {
        return Err(bad("`attributes` must be a JSON object".into()));
    }
    Ok(crate::usage::UsageEvent {
        kind: event.kind,
        quantity,
        unit: event.unit,
        camera_id: event.camera_id,
        time,
        attributes: event.attributes,
    })
}

/// The client's `Idempotency-Key` header, if any, with a digest of the body: a retried
/// `POST /v1/usage` with the same key counts once.
fn request_key(
    headers: &axum::http::HeaderMap,
    body: &serde_json::Value,
    now: time::OffsetDateTime,
) -> Result<Option<crate::usage::RequestKey>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 200)
        .ok_or_else(|| {
            ApiError::InvalidRequest(
                "`Idempotency-Key` must be 1 to 200 visible ASCII characters".into(),
            )
        })?;
    // serde_json's maps are ordered by key, so equal bodies print equal.
    let digest = licet_core::signing::to_hex(&sha2::Sha256::digest(body.to_string().as_bytes()));
    Ok(Some(crate::usage::RequestKey {
        key: key.to_owned(),
        digest,
        at: now,
    }))
}

/// Refuses, before anything is recorded, events the vendor could never bill: a meter
/// the product does not have, or an at-cost meter without its cost. A license that
/// names no meters (issued before licenses carried them) refuses nothing here; the
/// server still refuses at upload what it cannot bill.
fn billable(
    meters: &std::collections::BTreeMap<String, licet_core::entitlements::MeterGrant>,
    product: &licet_core::ids::ProductId,
    events: &[crate::usage::UsageEvent],
) -> Result<(), ApiError> {
    if meters.is_empty() {
        return Ok(());
    }
    for (index, event) in events.iter().enumerate() {
        let Some(meter) = meters.get(&event.kind) else {
            let known: Vec<&str> = meters.keys().map(String::as_str).collect();
            return Err(ApiError::InvalidRequest(format!(
                "event {index}: `type` {:?} is not a meter of {product}; its meters are {}",
                event.kind,
                known.join(", ")
            )));
        };
        let cost = event
            .attributes
            .as_ref()
            .and_then(|a| a.get("cost_minor"))
            .is_some_and(|c| c.as_i64().is_some() || c.as_u64().is_some());
        if meter.at_cost && !cost {
            return Err(ApiError::InvalidRequest(format!(
                "event {index}: {} is billed at cost: give its cost in minor units as `attributes.cost_minor` (an integer)",
                event.kind
            )));
        }
    }
    Ok(())
}

/// `POST /v1/usage`: one event, an array, or `{"events": [...]}`; 202 once they are
/// on disk. A request with an invalid event records nothing and names the event.
#[utoipa::path(post, path = "/v1/usage", tag = "usage", params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried request count once: the same key with the same body within a day answers the first request's sequence numbers and records nothing; with another body it is refused (409 `idempotency_key_reused`).")), request_body(content = Object, description = "One `UsageEventIn`, an array of them, or `{\"events\": [...]}`"), responses((status = 202, body = UsageAccepted), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 507, body = ErrorBody)))]
pub async fn record_usage(
    State(s): State<ApiState>,
    headers: axum::http::HeaderMap,
    AnyJson(body): AnyJson<serde_json::Value>,
) -> Result<Response, ApiError> {
    let key = request_key(&headers, &body, s.agent.now())?;
    let items = match body {
        serde_json::Value::Array(items) => items,
        serde_json::Value::Object(mut map) if map.contains_key("events") => {
            match map.remove("events") {
                Some(serde_json::Value::Array(items)) => items,
                _ => {
                    return Err(ApiError::InvalidRequest(
                        "`events` must be an array of usage events".into(),
                    ));
                }
            }
        }
        object @ serde_json::Value::Object(_) => vec![object],
        _ => {
            return Err(ApiError::InvalidRequest(
                "send a usage event {\"type\", \"quantity\"}, an array of them, or {\"events\": [...]}".into(),
            ));
        }
    };
    if items.is_empty() || items.len() > USAGE_BATCH_MAX {
        return Err(ApiError::InvalidRequest(format!(
            "send 1 to {USAGE_BATCH_MAX} events per request (got {})",
            items.len()
        )));
    }
    let current = s.agent.current();
    let now = current.report.effective_now;
    let events = items
        .into_iter()
        .enumerate()
        .map(|(i, v)| usage_event(i, v, now))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(license) = current.license.as_ref() {
        billable(&license.entitlements.meters, &license.product, &events)?;
    }
    let accepted = events.len() as u64;
    let started = tokio::time::Instant::now();
    let recorded = s.agent.record_usage_once(events, key).await;
    s.latency
        .operation("usage_commit", started.elapsed().as_secs_f64());
    let (first, last) = recorded?;
    Ok((
        StatusCode::ACCEPTED,
        Json(UsageAccepted {
            accepted,
            first_sequence: first,
            last_sequence: last,
            backlog: s.agent.usage_backlog(),
        }),
    )
        .into_response())
}

/// Quota use in the current periods.
pub fn usage_summary(agent: &Agent) -> Result<UsageSummary, ApiError> {
    let current = agent.current();
    let mut quotas = Vec::new();
    let mut features: Vec<(&str, _)> = current
        .snapshot
        .features()
        .filter(|(_, f)| f.kind == FeatureKind::Quota)
        .collect();
    features.sort_by(|a, b| a.0.cmp(b.0));
    let counters = agent.quota_usage()?;
    for (key, status) in features {
        let Some(period) = status.period else {
            continue;
        };
        let period = period.key(current.report.effective_now);
        let used = counters
            .iter()
            .find(|(f, p, _)| f == key && *p == period)
            .map(|(_, _, used)| *used)
            .unwrap_or(0);
        let allowance = match status.value {
            Value::Amount(amount) => amount,
            _ => Amount::Finite(0),
        };
        quotas.push(QuotaUsage {
            feature: key.to_owned(),
            period,
            used,
            allowance: amount_json(allowance),
            remaining: amount_json(allowance.remaining_after(used)),
        });
    }
    Ok(UsageSummary { quotas })
}

/// `GET /v1/usage/summary`.
#[utoipa::path(get, path = "/v1/usage/summary", tag = "usage", responses((status = 200, body = UsageSummary), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn usage(State(s): State<ApiState>) -> Result<Json<UsageSummary>, ApiError> {
    Ok(Json(usage_summary(&s.agent)?))
}
