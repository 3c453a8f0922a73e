//! BrinkByte's billing service: license validation, entitlement checks, heartbeats and
//! usage batches, authenticated by the tenant's API key.

use super::*;

/// Events one BrinkByte batch may carry.
const BRINKBYTE_BATCH_MAX: usize = 5000;

/// The key's tenant, if the key has `scope`. A different `tenant_id` in the body is
/// answered 404, as another tenant's id is on every route: it is refused, never
/// trusted, and whether that tenant exists is not revealed.
fn brinkbyte_tenant(caller: &Caller, claimed: &str, scope: &str) -> Result<TenantId, ApiError> {
    let Caller::Tenant { tenant, .. } = caller else {
        return Err(ApiError::Forbidden(
            "BrinkByte routes take the tenant's API key (lct_live_…)".into(),
        ));
    };
    if tenant.as_str() != claimed {
        return Err(ApiError::NotFound(
            "no such tenant_id for this API key: the tenant always comes from the key, send its own id"
                .into(),
        ));
    }
    caller.require_tenant(tenant, scope)?;
    Ok(tenant.clone())
}

/// BrinkByte billing: is this device's license valid?
#[utoipa::path(post, path = "/api/v1/licenses/validate", tag = "compatibility", request_body = BrinkbyteValidate,
    responses((status = 200, body = BrinkbyteValidation), (status = 400, body = BrinkbyteError), (status = 401, body = BrinkbyteError), (status = 403, body = BrinkbyteError), (status = 404, body = BrinkbyteError), (status = 415, body = BrinkbyteError), (status = 422, body = BrinkbyteError)),
    security(("api_key" = ["devices:read"])))]
pub async fn brinkbyte_validate(
    State(state): State<AppState>,
    BrinkbyteCaller(caller): BrinkbyteCaller,
    BrinkbyteBody(body): BrinkbyteBody<BrinkbyteValidate>,
) -> Result<Json<BrinkbyteValidation>, BrinkbyteFailure> {
    let tenant = brinkbyte_tenant(&caller, &body.tenant_id, "devices:read")?;
    let device = state
        .store
        .get_device(Some(&tenant), &DeviceId::new(&body.device_id))
        .await?;
    let subscription = state
        .store
        .get_subscription(Some(&tenant), &device.subscription)
        .await?;
    let standing = standing(&state, &subscription).await?;
    let valid = standing.valid && device.status == DeviceStatus::Active;
    Ok(Json(BrinkbyteValidation {
        is_valid: valid,
        license_mode: match (valid, subscription.trial) {
            (false, _) => "inactive",
            (true, true) => "trial",
            (true, false) => "paid",
        }
        .to_owned(),
        enabled_growth_packs: subscription
            .addons
            .iter()
            .map(|a| a.id.to_string())
            .collect(),
        valid_until: standing.valid_until.map(epoch_text),
        cameras_allowed: limit(&standing.snapshot, "max_cameras"),
    }))
}

/// BrinkByte billing: is a feature enabled for the tenant?
#[utoipa::path(post, path = "/api/v1/entitlements/check", tag = "compatibility", request_body = BrinkbyteEntitlementCheck,
    responses((status = 200, body = BrinkbyteEntitlement), (status = 400, body = BrinkbyteError), (status = 401, body = BrinkbyteError), (status = 403, body = BrinkbyteError), (status = 404, body = BrinkbyteError), (status = 415, body = BrinkbyteError), (status = 422, body = BrinkbyteError)),
    security(("api_key" = ["subscriptions:read"])))]
pub async fn brinkbyte_entitlement(
    State(state): State<AppState>,
    BrinkbyteCaller(caller): BrinkbyteCaller,
    BrinkbyteBody(body): BrinkbyteBody<BrinkbyteEntitlementCheck>,
) -> Result<Json<BrinkbyteEntitlement>, BrinkbyteFailure> {
    let tenant = brinkbyte_tenant(&caller, &body.tenant_id, "subscriptions:read")?;
    let key = if body.feature_category.is_empty() {
        body.feature_name.clone()
    } else {
        format!("{}.{}", body.feature_category, body.feature_name)
    };
    let mut answer = BrinkbyteEntitlement {
        is_enabled: false,
        quota_remaining: 0,
        quota_limit: 0,
        quota_used: 0,
        valid_until: None,
        reason: "unknown_feature".into(),
    };
    for subscription in state.store.list_subscriptions(&tenant).await? {
        let standing = standing(&state, &subscription).await?;
        let decision = standing.snapshot.check(&key);
        if standing.snapshot.feature(&key).is_some() {
            answer.reason = "not_licensed".into();
        }
        if decision.allowed {
            // What is left by the server's count of this period's usage, all devices
            // and back-ends together.
            // (remaining, limit, used); -1 is unlimited, as BrinkByte reads it.
            let (remaining, limit, used) = match (
                standing.snapshot.feature(&key).map(|f| f.kind),
                decision.value,
            ) {
                (Some(licet_core::catalog::FeatureKind::Quota), Some(Value::Amount(amount))) => {
                    let catalog = state.catalog(&subscription.product).await?;
                    let now = state.clock.now();
                    let status =
                        crate::routes::usage::quota_status(&state, &catalog, &subscription, now)
                            .await?;
                    let signed = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
                    match status.iter().find(|q| q.feature == key) {
                        Some(quota) => (
                            quota.remaining.map_or(-1, signed),
                            quota.allowance.map_or(-1, signed),
                            signed(quota.used),
                        ),
                        None => (count(*amount), count(*amount), 0),
                    }
                }
                _ => (-1, -1, 0),
            };
            answer = BrinkbyteEntitlement {
                is_enabled: true,
                quota_remaining: remaining,
                quota_limit: limit,
                quota_used: used,
                valid_until: standing.valid_until.map(epoch_text),
                reason: "enabled".into(),
            };
            break;
        }
    }
    Ok(Json(answer))
}

/// BrinkByte billing: a device heartbeat with its active cameras.
#[utoipa::path(post, path = "/api/v1/heartbeat", tag = "compatibility", request_body = BrinkbyteHeartbeat,
    responses((status = 200, body = BrinkbyteHeartbeatAck), (status = 400, body = BrinkbyteError), (status = 401, body = BrinkbyteError), (status = 403, body = BrinkbyteError), (status = 404, body = BrinkbyteError), (status = 415, body = BrinkbyteError), (status = 422, body = BrinkbyteError)),
    security(("api_key" = ["devices:write"])))]
pub async fn brinkbyte_heartbeat(
    State(state): State<AppState>,
    BrinkbyteCaller(caller): BrinkbyteCaller,
    BrinkbyteBody(body): BrinkbyteBody<BrinkbyteHeartbeat>,
) -> Result<Json<BrinkbyteHeartbeatAck>, BrinkbyteFailure> {
    let tenant = brinkbyte_tenant(&caller, &body.tenant_id, "devices:write")?;
    let device = state
        .store
        .get_device(Some(&tenant), &DeviceId::new(&body.device_id))
        .await?;
    state
        .store
        .record_heartbeat(
            &device.id,
            &Heartbeat {
                agent_version: None,
                metrics: serde_json::json!({"management_tier": body.management_tier}),
                running_modules: device.running_modules.clone(),
                active_cameras: body.active_camera_ids,
                license_sequence: None,
                now: Some(state.clock.now()),
            },
        )
        .await?;
    bump(&state.metrics.heartbeats);
    Ok(Json(BrinkbyteHeartbeatAck {
        status: "ok".into(),
        next_heartbeat_in_seconds: state.heartbeat_interval_seconds,
    }))
}

/// The deduplication key of a BrinkByte event: `metadata.event_id` when the sender gives
/// one, else a digest of the whole event. BrinkByte's batches carry no ids, so without
/// this every retry of a batch would bill again; with it, a retry is recognised, and two
/// events are merged only if every field, the time included, is the same.
fn brinkbyte_event_id(event: &BrinkbyteUsageEvent) -> String {
    use sha2::Digest as _;
    if let Some(id) = event
        .metadata
        .as_ref()
        .and_then(|m| m.get("event_id"))
        .and_then(|v| v.as_str())
    {
        return format!("id:{id}");
    }
    // serde_json's maps are ordered by key, so equal events serialise equally.
    let canonical = serde_json::to_string(event).unwrap_or_default();
    let digest = sha2::Sha256::digest(canonical.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// A time as BrinkByte's client reads it: Unix seconds, as a decimal string.
fn epoch_text(at: OffsetDateTime) -> String {
    at.unix_timestamp().to_string()
}

/// A BrinkByte event time as RFC 3339: its client sends Unix seconds as a decimal
/// string; RFC 3339 is taken as it is.
fn event_time(text: &str) -> Result<String, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(text.to_owned());
    }
    text.parse::<i64>()
        .ok()
        .and_then(|seconds| OffsetDateTime::from_unix_timestamp(seconds).ok())
        .map(licet_core::time_text)
        .ok_or_else(|| format!("event_time {text:?} is not a time in Unix seconds"))
}

/// Reads one BrinkByte usage event into what the store keeps.
fn brinkbyte_usage_event(
    billing: &Billing,
    tenant: &TenantId,
    raw: &serde_json::Value,
    now: OffsetDateTime,
) -> Result<ExternalUsageEvent, String> {
    let event: BrinkbyteUsageEvent =
        serde_json::from_value(raw.clone()).map_err(|e| format!("malformed event: {e}"))?;
    if event.tenant_id != tenant.as_str() {
        return Err(format!(
            "tenant_id {:?} is not the API key's tenant; the tenant always comes from the key",
            event.tenant_id
        ));
    }
    let chosen = event
        .metadata
        .as_ref()
        .and_then(|m| m.get("subscription_id"))
        .and_then(|v| v.as_str());
    let (subscription, catalog) = billing
        .route(&event.event_type, chosen)
        .map_err(|reason| format!("{reason} (metadata.subscription_id)"))?;
    let time = event_time(&event.event_time)?;
    let measured = check(
        catalog,
        &Incoming {
            meter: &event.event_type,
            quantity: &event.quantity,
            time: Some(&time),
            cost_minor: event.metadata.as_ref().and_then(|m| m.get("cost_minor")),
            attributes: event.metadata.as_ref(),
        },
        now,
    )?;
    crate::metering::within_term(subscription, measured.occurred_at, now)?;
    Ok(ExternalUsageEvent {
        subscription: subscription.id.clone(),
        source: "brinkbyte:/api/v1/usage/batch".into(),
        event_id: brinkbyte_event_id(&event),
        meter: event.event_type,
        quantity: measured.quantity,
        unit: event.unit,
        camera_id: None,
        resource_id: event.resource_id,
        cost_minor: measured.cost_minor,
        occurred_at: measured.occurred_at,
        attributes: event.metadata,
    })
}

/// BrinkByte billing: is the service up? `healthy` when the database answers.
#[utoipa::path(get, path = "/api/v1/health", tag = "compatibility",
    responses((status = 200, body = BrinkbyteHealth), (status = 503, body = BrinkbyteHealth)))]
pub async fn brinkbyte_health(
    State(state): State<AppState>,
) -> (axum::http::StatusCode, Json<BrinkbyteHealth>) {
    match state.store.ping().await {
        Ok(()) => (
            axum::http::StatusCode::OK,
            Json(BrinkbyteHealth {
                status: "healthy".into(),
            }),
        ),
        Err(error) => {
            tracing::warn!(%error, "BrinkByte health: the database does not answer");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                Json(BrinkbyteHealth {
                    status: "unhealthy".into(),
                }),
            )
        }
    }
}

/// BrinkByte billing: a batch of usage events. Partial batches are stored: refused
/// events are counted and explained by index, the rest are kept. A retried batch is
/// recognised and counts once.
#[utoipa::path(post, path = "/api/v1/usage/batch", tag = "compatibility", request_body = BrinkbyteUsageBatch,
    responses((status = 200, body = BrinkbyteUsageResult), (status = 400, body = BrinkbyteError), (status = 401, body = BrinkbyteError), (status = 403, body = BrinkbyteError), (status = 404, body = BrinkbyteError), (status = 415, body = BrinkbyteError), (status = 422, body = BrinkbyteError)),
    security(("api_key" = ["usage:write"])))]
pub async fn brinkbyte_usage_batch(
    State(state): State<AppState>,
    BrinkbyteCaller(caller): BrinkbyteCaller,
    BrinkbyteBody(body): BrinkbyteBody<BrinkbyteUsageBatch>,
) -> Result<Json<BrinkbyteUsageResult>, BrinkbyteFailure> {
    let Caller::Tenant { tenant, .. } = &caller else {
        return Err(ApiError::Forbidden(
            "BrinkByte routes take the tenant's API key (lct_live_…)".into(),
        )
        .into());
    };
    caller.require_tenant(tenant, "usage:write")?;
    if body.events.is_empty() || body.events.len() > BRINKBYTE_BATCH_MAX {
        return Err(ApiError::InvalidRequest(format!(
            "`events`: send 1 to {BRINKBYTE_BATCH_MAX} events per batch (got {})",
            body.events.len()
        ))
        .into());
    }
    crate::metering::refuse_out_of_range(body.events.iter().enumerate().flat_map(|(i, e)| {
        [
            (i, "quantity", e.get("quantity")),
            (i, "cost_minor", e.pointer("/metadata/cost_minor")),
        ]
    }))?;
    let billing = Billing::load(&state, tenant).await?;
    let now = state.clock.now();
    let mut errors = Vec::new();
    let mut accepted = Vec::new();
    for (index, raw) in body.events.iter().enumerate() {
        match brinkbyte_usage_event(&billing, tenant, raw, now) {
            Ok(event) => accepted.push(event),
            Err(error) => errors.push(format!("events[{index}]: {error}")),
        }
    }
    if !accepted.is_empty() {
        state
            .store
            .ingest_external_usage(tenant, &accepted, now)
            .await?;
    }
    Ok(Json(BrinkbyteUsageResult {
        accepted_count: u64::try_from(accepted.len()).unwrap_or(u64::MAX),
        rejected_count: u64::try_from(errors.len()).unwrap_or(u64::MAX),
        errors,
    }))
}
