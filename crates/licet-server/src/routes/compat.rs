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
use crate::issuance::{bought, license_for};
use crate::metering::{Billing, Incoming, check};
use crate::metrics::bump;
use crate::state::AppState;
use axum::Json;
use axum::extract::{FromRequest, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use licet_client::wire::compat::*;
use licet_core::amount::Amount;
use licet_core::ids::{DeviceId, TenantId};
use licet_core::license_key::LicenseKey;
use licet_core::snapshot::{Snapshot, Value};
use licet_core::state::LicenseState;
use licet_store::{
    Device, DeviceStatus, ExternalUsageEvent, Heartbeat, StoreError, Subscription,
    SubscriptionStatus,
};
use time::{Duration, OffsetDateTime};

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

/// The subscription's entitlements as they stand now on the server.
struct Standing {
    snapshot: Snapshot,
    valid: bool,
    valid_until: Option<OffsetDateTime>,
}

async fn standing(state: &AppState, subscription: &Subscription) -> Result<Standing, ApiError> {
    let catalog = state.catalog(&subscription.product).await?;
    let resolution = catalog
        .resolve(&bought(subscription))
        .map_err(|e| ApiError::Conflict {
            code: "subscription_invalid",
            message: format!("the subscription no longer fits the product's catalog: {e}"),
        })?;
    let trial_end = match (resolution.trial_days, subscription.trial_started_at) {
        (Some(days), Some(start)) => Some(licet_core::time_after(
            start,
            Duration::days(i64::from(days)),
        )),
        _ => None,
    };
    let valid_until = match (subscription.term_ends_at, trial_end) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let now = state.clock.now();
    let license_state = match subscription.status {
        SubscriptionStatus::Suspended => LicenseState::Suspended,
        SubscriptionStatus::Cancelled => LicenseState::Expired,
        SubscriptionStatus::Active if valid_until.is_some_and(|end| end <= now) => {
            LicenseState::Expired
        }
        SubscriptionStatus::Active => LicenseState::Active,
    };
    Ok(Standing {
        snapshot: Snapshot::build(
            &resolution.entitlements,
            &resolution.degradation,
            license_state,
        ),
        valid: license_state == LicenseState::Active,
        valid_until,
    })
}

fn limit(snapshot: &Snapshot, key: &str) -> i64 {
    match snapshot.feature(key).map(|f| &f.value) {
        Some(Value::Amount(amount)) => count(*amount),
        _ => -1,
    }
}

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
        valid_until: standing.valid_until.map(super::time_text),
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
        valid_until: None,
    };
    for subscription in state.store.list_subscriptions(&tenant).await? {
        let standing = standing(&state, &subscription).await?;
        let decision = standing.snapshot.check(&key);
        if decision.allowed {
            // What is left by the server's count of this period's usage, all devices
            // and back-ends together.
            let remaining = match (
                standing.snapshot.feature(&key).map(|f| f.kind),
                decision.value,
            ) {
                (Some(licet_core::catalog::FeatureKind::Quota), Some(Value::Amount(amount))) => {
                    let catalog = state.catalog(&subscription.product).await?;
                    let now = state.clock.now();
                    let status =
                        super::usage::quota_status(&state, &catalog, &subscription, now).await?;
                    match status.iter().find(|q| q.feature == key) {
                        Some(quota) => quota
                            .remaining
                            .map_or(-1, |r| i64::try_from(r).unwrap_or(i64::MAX)),
                        None => count(*amount),
                    }
                }
                _ => -1,
            };
            answer = BrinkbyteEntitlement {
                is_enabled: true,
                quota_remaining: remaining,
                valid_until: standing.valid_until.map(super::time_text),
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

async fn foxsight_license(
    state: &AppState,
    subscription: &Subscription,
    key: &str,
    armored: String,
) -> Result<FoxsightLicense, ApiError> {
    let standing = standing(state, subscription).await?;
    let mut enabled: Vec<String> = standing
        .snapshot
        .features()
        .filter(|(_, f)| f.allowed && f.kind == licet_core::catalog::FeatureKind::Boolean)
        .map(|(k, _)| k.to_owned())
        .collect();
    enabled.sort();
    Ok(FoxsightLicense {
        license_key: key.to_owned(),
        signature: armored,
        enabled_features: enabled,
        status: subscription.status.as_str().to_owned(),
        tier: subscription.plan.to_string(),
        expires_at: standing
            .valid_until
            .map(super::time_text)
            .unwrap_or_else(|| "never".to_owned()),
        max_cameras: limit(&standing.snapshot, "max_cameras"),
        max_users: limit(&standing.snapshot, "max_users"),
    })
}

/// Foxsight: activate an installation with its license key and hardware id.
#[utoipa::path(post, path = "/api/licenses/activate", tag = "compatibility", request_body = FoxsightActivate,
    responses((status = 201, body = FoxsightEnvelope<FoxsightActivated>), (status = 400, body = FoxsightEnvelope<FoxsightActivated>), (status = 401, body = FoxsightEnvelope<FoxsightActivated>), (status = 403, body = FoxsightEnvelope<FoxsightActivated>), (status = 404, body = FoxsightEnvelope<FoxsightActivated>), (status = 409, body = FoxsightEnvelope<FoxsightActivated>), (status = 415, body = FoxsightEnvelope<FoxsightActivated>), (status = 422, body = FoxsightEnvelope<FoxsightActivated>), (status = 429, body = FoxsightEnvelope<FoxsightActivated>)))]
pub async fn foxsight_activate(
    State(state): State<AppState>,
    crate::auth::ClientAddress(address): crate::auth::ClientAddress,
    FoxsightBody(body): FoxsightBody<FoxsightActivate>,
) -> Result<(StatusCode, Json<FoxsightEnvelope<FoxsightActivated>>), FoxsightFailure> {
    state
        .limiter
        .check(
            crate::limits::Class::Activation,
            &address,
            state.clock.now(),
        )
        .await
        .map_err(ApiError::RateLimited)?;
    let name = body
        .installation_id
        .clone()
        .unwrap_or_else(|| body.hardware_id.clone());
    let activated = activate_with(
        &state,
        &body.license_key,
        &body.hardware_id,
        // Foxsight installations have no device key: they are bound by hardware id
        // alone, and cannot take over a device that activated with a key.
        None,
        false,
        &name,
        serde_json::json!({"installation_id": body.installation_id}),
    )
    .await?;
    let key = LicenseKey::parse(&body.license_key)
        .map_err(|e| ApiError::InvalidLicenseKey(e.to_string()))?;
    let license = foxsight_license(
        &state,
        &activated.subscription,
        key.as_str(),
        activated.license,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(FoxsightEnvelope {
            success: true,
            data: Some(FoxsightActivated { license }),
            error: None,
        }),
    ))
}

/// The subscription and active device a Foxsight key + hardware id name.
async fn foxsight_device(
    state: &AppState,
    key: &str,
    hardware_id: &str,
) -> Result<(Subscription, Option<Device>, LicenseKey), ApiError> {
    let key = LicenseKey::parse(key).map_err(|e| ApiError::InvalidLicenseKey(e.to_string()))?;
    let subscription = match state.store.find_subscription_by_key(&key.hash()).await {
        Ok(subscription) => subscription,
        Err(StoreError::NotFound) => {
            return Err(ApiError::InvalidLicenseKey(
                "no subscription has this license key".into(),
            ));
        }
        Err(other) => return Err(other.into()),
    };
    let device = state
        .store
        .list_devices(&subscription.tenant)
        .await?
        .into_iter()
        .find(|d| {
            d.subscription == subscription.id
                && d.fingerprint == hardware_id
                && d.status == DeviceStatus::Active
        });
    Ok((subscription, device, key))
}

/// Foxsight: is the license valid for this hardware? A valid answer carries a freshly
/// signed license.
#[utoipa::path(post, path = "/api/licenses/validate", tag = "compatibility", request_body = FoxsightValidate,
    responses((status = 200, body = FoxsightEnvelope<FoxsightValidation>), (status = 400, body = FoxsightEnvelope<FoxsightValidation>), (status = 401, body = FoxsightEnvelope<FoxsightValidation>), (status = 403, body = FoxsightEnvelope<FoxsightValidation>), (status = 404, body = FoxsightEnvelope<FoxsightValidation>), (status = 409, body = FoxsightEnvelope<FoxsightValidation>), (status = 415, body = FoxsightEnvelope<FoxsightValidation>), (status = 422, body = FoxsightEnvelope<FoxsightValidation>), (status = 429, body = FoxsightEnvelope<FoxsightValidation>)))]
pub async fn foxsight_validate(
    State(state): State<AppState>,
    FoxsightBody(body): FoxsightBody<FoxsightValidate>,
) -> Result<Json<FoxsightEnvelope<FoxsightValidation>>, FoxsightFailure> {
    let (subscription, device, key) =
        foxsight_device(&state, &body.license_key, &body.hardware_id).await?;
    let validation = match device {
        Some(device) if subscription.status == SubscriptionStatus::Active => {
            let (armored, _) = license_for(&state, &subscription, &device).await?;
            let license = foxsight_license(&state, &subscription, key.as_str(), armored).await?;
            FoxsightValidation {
                is_valid: true,
                license: Some(license),
                grace_period_active: false,
            }
        }
        _ => FoxsightValidation {
            is_valid: false,
            license: None,
            grace_period_active: false,
        },
    };
    Ok(Json(FoxsightEnvelope {
        success: true,
        data: Some(validation),
        error: None,
    }))
}

/// Foxsight: the 4-hourly heartbeat with cameras in use, users active, storage used.
#[utoipa::path(post, path = "/api/licenses/heartbeat", tag = "compatibility", request_body = FoxsightValidate,
    responses((status = 200, body = FoxsightEnvelope<FoxsightHeartbeatAck>), (status = 400, body = FoxsightEnvelope<FoxsightHeartbeatAck>), (status = 401, body = FoxsightEnvelope<FoxsightHeartbeatAck>), (status = 403, body = FoxsightEnvelope<FoxsightHeartbeatAck>), (status = 404, body = FoxsightEnvelope<FoxsightHeartbeatAck>), (status = 409, body = FoxsightEnvelope<FoxsightHeartbeatAck>), (status = 415, body = FoxsightEnvelope<FoxsightHeartbeatAck>), (status = 422, body = FoxsightEnvelope<FoxsightHeartbeatAck>), (status = 429, body = FoxsightEnvelope<FoxsightHeartbeatAck>)))]
pub async fn foxsight_heartbeat(
    State(state): State<AppState>,
    FoxsightBody(body): FoxsightBody<FoxsightValidate>,
) -> Result<Json<FoxsightEnvelope<FoxsightHeartbeatAck>>, FoxsightFailure> {
    let (_, device, _) = foxsight_device(&state, &body.license_key, &body.hardware_id).await?;
    let device = device.ok_or_else(|| {
        ApiError::NotFound("this hardware id is not activated on this license key".into())
    })?;
    state
        .store
        .record_heartbeat(
            &device.id,
            &Heartbeat {
                agent_version: None,
                metrics: serde_json::json!({
                    "cameras_in_use": body.cameras_in_use,
                    "users_active": body.users_active,
                    "storage_used": body.storage_used,
                }),
                running_modules: vec![],
                active_cameras: vec![],
                now: Some(state.clock.now()),
            },
        )
        .await?;
    bump(&state.metrics.heartbeats);
    Ok(Json(FoxsightEnvelope {
        success: true,
        data: Some(FoxsightHeartbeatAck {
            status: "ok".into(),
            next_heartbeat_in_seconds: state.heartbeat_interval_seconds,
        }),
        error: None,
    }))
}

/// Events one BrinkByte batch may carry.
const BRINKBYTE_BATCH_MAX: usize = 5000;

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
    let measured = check(
        catalog,
        &Incoming {
            meter: &event.event_type,
            quantity: &event.quantity,
            time: Some(&event.event_time),
            cost_minor: event.metadata.as_ref().and_then(|m| m.get("cost_minor")),
            attributes: event.metadata.as_ref(),
        },
        now,
    )?;
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
            Err(error) => errors.push(BrinkbyteUsageError { index, error }),
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
