//! Devices: activation (authenticated by the license key), license refresh, heartbeat,
//! deactivation and listings.

use super::{Body, Id, bounded, time_text};
use crate::auth::{Caller, ClientAddress, mint};
use crate::error::ApiError;
use crate::issuance::{Refusal, bought, inactive, license_for, refusal, signed_refusal};
use crate::limits::Class;
use crate::metrics::bump;
use crate::sequences::Floor;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use licet_client::wire::{
    ActivationChallenge, ActivationRequest, ActivationResponse, CameraView, DeviceView, ErrorBody,
    HeartbeatRequest, HeartbeatResponse, QuotaUsage, RefreshRequest, RefreshResponse,
};
use licet_core::device_proof;
use licet_core::ids::{DeviceId, TenantId};
use licet_core::license_key::TypedKey;
use licet_core::state::Verdict;
use licet_store::{
    Activation, CredentialKind, Device, DeviceStatus, Heartbeat, NewDevice, StoreError,
    SubscriptionStatus,
};

fn view(device: Device) -> DeviceView {
    DeviceView {
        id: device.id.to_string(),
        tenant_id: device.tenant.to_string(),
        subscription_id: device.subscription.to_string(),
        name: device.name,
        status: match device.status {
            DeviceStatus::Active => "active",
            DeviceStatus::Deactivated => "deactivated",
        }
        .to_owned(),
        license_sequence: device.license_sequence,
        last_heartbeat_at: device.last_heartbeat_at.map(time_text),
        agent_version: device.agent_version,
        running_modules: device.running_modules,
        created_at: time_text(device.created_at),
        metrics: device.metrics,
    }
}

/// Activates a device with a license key: device id, device token (shown once) and the
/// signed license. The same fingerprint again is the same device (with a new token).
#[utoipa::path(post, path = "/v1/activations", tag = "devices", request_body = ActivationRequest,
    responses((status = 201, body = ActivationResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn activate(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    Body(body): Body<ActivationRequest>,
) -> Result<(StatusCode, Json<ActivationResponse>), ApiError> {
    // Before anything else: guessing license keys is throttled per address.
    state
        .limiter
        .check(Class::Activation, &address, state.clock.now())
        .await
        .map_err(ApiError::RateLimited)?;
    let device_key = licet_core::signing::parse_public_key(&body.device_public_key)
        .map_err(|e| ApiError::InvalidRequest(format!("`device_public_key`: {e}")))?;
    let key_proven = match &body.proof {
        None => false,
        Some(proof) => {
            let invalid = |e: device_proof::ProofError| ApiError::Unproven {
                code: "device_proof_invalid",
                message: format!("`proof`: {e}"),
            };
            device_proof::check_nonce(
                &state.signer.key().verifying_key(),
                &proof.nonce,
                state.clock.now(),
            )
            .map_err(invalid)?;
            device_proof::check_proof(
                &device_key,
                &proof.nonce,
                &body.fingerprint,
                &proof.signature,
            )
            .map_err(invalid)?;
            true
        }
    };
    let activated = activate_with(
        &state,
        &body.license_key,
        &body.fingerprint,
        Some(body.device_public_key.trim().to_owned()),
        key_proven,
        &body.name,
        body.hardware.unwrap_or(serde_json::Value::Null),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(ActivationResponse {
            device_id: activated.device.id.to_string(),
            device_token: activated.token,
            license: activated.license,
        }),
    ))
}

/// How long an activation nonce is accepted.
const CHALLENGE_SECONDS: i64 = 300;

/// A nonce for a device to sign, proving it holds its key (needed to re-activate a
/// device that is already active with that key).
#[utoipa::path(post, path = "/v1/activations/challenge", tag = "devices",
    responses((status = 200, body = ActivationChallenge), (status = 400, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn challenge(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
) -> Result<Json<ActivationChallenge>, ApiError> {
    state
        .limiter
        .check(Class::Activation, &address, state.clock.now())
        .await
        .map_err(ApiError::RateLimited)?;
    let mut random = [0u8; 16];
    licet_host::random::fill(&mut random).map_err(ApiError::internal)?;
    let expires_at = state.clock.now() + time::Duration::seconds(CHALLENGE_SECONDS);
    Ok(Json(ActivationChallenge {
        nonce: device_proof::issue_nonce(state.signer.key(), expires_at, random),
        expires_at: time_text(expires_at),
    }))
}

/// A device activated (or re-activated) on a subscription.
pub(crate) struct Activated {
    pub device: Device,
    pub subscription: licet_store::Subscription,
    pub token: String,
    pub license: String,
}

/// Activation, shared by the native route and the products' compatibility routes.
pub(crate) async fn activate_with(
    state: &AppState,
    license_key: &str,
    fingerprint: &str,
    public_key: Option<String>,
    key_proven: bool,
    name: &str,
    hardware: serde_json::Value,
) -> Result<Activated, ApiError> {
    // A mistyped key is refused before any lookup.
    // Licet's own keys, or keys imported from the vendor's earlier system.
    let key =
        TypedKey::parse(license_key).map_err(|e| ApiError::InvalidLicenseKey(e.to_string()))?;
    bounded("fingerprint", fingerprint, 512)?;
    bounded("name", name, 200)?;
    let subscription = match state.store.find_subscription_by_key(&key.hash()).await {
        Ok(subscription) => subscription,
        Err(StoreError::NotFound) => {
            return Err(ApiError::InvalidLicenseKey(
                "no subscription has this license key; check it with the vendor".into(),
            ));
        }
        Err(other) => return Err(other.into()),
    };
    // No verdict at activation: the device has no license to withdraw yet.
    if let Some((_, code, message)) = inactive(subscription.status) {
        return Err(ApiError::Refused {
            code,
            message: message.to_owned(),
            verdict: None,
        });
    }
    let catalog = state.catalog(&subscription.product).await?;
    let resolution = state
        .resolution(&catalog, &bought(&subscription))?
        .map_err(|e| ApiError::Conflict {
            code: "subscription_invalid",
            message: format!("the subscription no longer fits the product's catalog: {e}"),
        })?;
    let max_devices = resolution.entitlements.max_devices;
    let now = state.clock.now();
    let device_id = DeviceId::new(licet_host::random::id("dev_").map_err(ApiError::internal)?);
    let (token, credential) = mint(
        CredentialKind::Device,
        Some(&subscription.tenant),
        Some(&device_id),
        vec![],
        now,
        None,
    )?;
    let outcome = state
        .store
        .activate_device(
            &NewDevice {
                id: device_id,
                tenant: subscription.tenant.clone(),
                subscription: subscription.id.clone(),
                name: name.trim().to_owned(),
                fingerprint: fingerprint.to_owned(),
                public_key,
                hardware,
                token: credential,
                now,
                key_proven,
            },
            max_devices,
        )
        .await?;
    // A new device holds nothing yet; a re-activated one may hold licenses from any
    // replica, and does not say which.
    let (device, floor) = match outcome {
        Activation::Created(device) => (device, Floor::Held(0)),
        Activation::Reactivated(device) => (device, Floor::Unknown),
        Activation::KeyMismatch => {
            bump(&state.metrics.activations_refused);
            return Err(ApiError::Conflict {
                code: "device_key_mismatch",
                message: "this fingerprint belongs to an active device with another key; a device \
                    cannot be taken over. If the device was really replaced, deactivate the old one \
                    (DELETE /v1/devices/{id}, vendor or tenant) and activate again"
                    .into(),
            });
        }
        Activation::ProofRequired => {
            return Err(ApiError::Unproven {
                code: "device_proof_required",
                message:
                    "this device is already active: prove you hold its key by signing a nonce \
                    from POST /v1/activations/challenge and sending it as `proof`"
                        .into(),
            });
        }
        Activation::TooManyDevices { max_devices } => {
            bump(&state.metrics.activations_refused);
            return Err(ApiError::TooManyDevices(format!(
                "plan {} allows {max_devices} device(s) and all are active; deactivate one \
                 (DELETE /v1/devices/{{id}}) or move to a plan with more devices",
                subscription.plan
            )));
        }
    };
    bump(&state.metrics.activations);
    let (license, _) = license_for(state, &subscription, &device, floor, None).await?;
    Ok(Activated {
        device,
        subscription,
        token,
        license,
    })
}

/// Loads a device the caller may see: admins any, a tenant key its own (with `scope`),
/// a device itself.
async fn load(
    state: &AppState,
    caller: &Caller,
    id: &str,
    scope: &str,
    allow_revoked: bool,
) -> Result<Device, ApiError> {
    let id = DeviceId::new(id);
    if let Caller::Device {
        device,
        revoked,
        session,
        ..
    } = caller
    {
        if *device != id {
            return Err(ApiError::NotFound("not found".into()));
        }
        if *revoked && !allow_revoked {
            return Err(ApiError::Unauthorized(
                "invalid, expired or revoked token".into(),
            ));
        }
        // Read with the token, in the same query.
        return Ok(session.device.clone());
    }
    let device = state.store.get_device(caller.tenant(), &id).await?;
    if !matches!(caller, Caller::Device { .. }) {
        caller.require_tenant(&device.tenant, scope)?;
    }
    Ok(device)
}

/// A new license for the device (its sequence above the `sequence` the device says it
/// holds), or a signed verdict when the server
/// definitively refuses: subscription suspended or cancelled, device revoked.
#[utoipa::path(post, path = "/v1/devices/{device_id}/refresh", tag = "devices", params(("device_id" = String, Path)),
    request_body = RefreshRequest,
    responses((status = 200, body = RefreshResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "Refused; `verdict` holds the signed verdict"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("admin_token" = []), ("api_key" = ["devices:write"]), ("device_token" = [])))]
pub async fn refresh(
    State(state): State<AppState>,
    caller: Caller,
    Id(device_id): Id<String>,
    Body(body): Body<RefreshRequest>,
) -> Result<Json<RefreshResponse>, ApiError> {
    if let Some(nonce) = &body.nonce {
        if nonce.len() > 128 {
            return Err(ApiError::InvalidRequest(
                "`nonce` is longer than 128 characters".into(),
            ));
        }
    }
    let device = load(&state, &caller, &device_id, "devices:write", true).await?;
    let revoked_token = matches!(caller, Caller::Device { revoked: true, .. });
    if revoked_token && device.status == DeviceStatus::Active {
        // The token was replaced by a re-activation: it is worth nothing now.
        return Err(ApiError::Unauthorized(
            "invalid, expired or revoked token".into(),
        ));
    }
    let floor = body.sequence.map_or(Floor::Unknown, Floor::Held);
    if device.status == DeviceStatus::Deactivated {
        let revoked = Refusal {
            verdict: Verdict::Revoked,
            code: "license_revoked",
            message: "this device was deactivated; activate it again with a license key",
        };
        return Err(signed_refusal(&state, &device, revoked, body.nonce, floor).await?);
    }
    let subscription = caller.subscription_of(&state, &device).await?;
    if subscription.status != SubscriptionStatus::Active {
        return Err(refusal(&state, &device, subscription.status, body.nonce, floor).await?);
    }
    let held_grant = body.grant_sha256.as_deref();
    let (license, sequence) =
        license_for(&state, &subscription, &device, floor, held_grant).await?;
    Ok(Json(RefreshResponse { license, sequence }))
}

/// A device's heartbeat: metrics, active cameras, running modules, agent version.
#[utoipa::path(post, path = "/v1/devices/{device_id}/heartbeat", tag = "devices", params(("device_id" = String, Path)),
    request_body = HeartbeatRequest,
    responses((status = 403, body = ErrorBody), (status = 200, body = HeartbeatResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn heartbeat(
    State(state): State<AppState>,
    caller: Caller,
    Id(device_id): Id<String>,
    Body(body): Body<HeartbeatRequest>,
) -> Result<Json<HeartbeatResponse>, ApiError> {
    if !matches!(caller, Caller::Device { .. }) {
        return Err(ApiError::Forbidden(
            "heartbeats come from the device, with its device token".into(),
        ));
    }
    let device = load(&state, &caller, &device_id, "devices:write", false).await?;
    if body.active_cameras.len() > 10_000
        || body
            .active_cameras
            .iter()
            .any(|c| c.is_empty() || c.len() > 200)
    {
        return Err(ApiError::InvalidRequest(
            "`active_cameras`: at most 10000 ids of 1 to 200 characters".into(),
        ));
    }
    state
        .store
        .record_heartbeat(
            &device.id,
            &Heartbeat {
                agent_version: body.agent_version,
                metrics: body.metrics.unwrap_or_else(|| serde_json::json!({})),
                running_modules: body.running_modules,
                active_cameras: body.active_cameras,
                license_sequence: body.license_sequence,
                now: Some(state.clock.now()),
            },
        )
        .await?;
    bump(&state.metrics.heartbeats);
    let subscription = caller.subscription_of(&state, &device).await?;
    let catalog = state.catalog(&subscription.product).await?;
    let quotas = super::usage::quota_status(&state, &catalog, &subscription, state.clock.now())
        .await?
        .into_iter()
        .map(|q| QuotaUsage {
            feature: q.feature,
            meter: q.meter,
            period: q.period,
            used: q.used,
        })
        .collect();
    Ok(Json(HeartbeatResponse {
        next_heartbeat_in_seconds: state.heartbeat_interval_seconds,
        quotas,
    }))
}

/// Deactivates a device, freeing its slot (the device itself, an admin, or the tenant
/// with `devices:write`).
#[utoipa::path(delete, path = "/v1/devices/{device_id}", tag = "devices", params(("device_id" = String, Path)),
    responses((status = 403, body = ErrorBody), (status = 400, body = ErrorBody), (status = 204, description = "Deactivated"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("admin_token" = []), ("api_key" = ["devices:write"]), ("device_token" = [])))]
pub async fn deactivate(
    State(state): State<AppState>,
    caller: Caller,
    Id(device_id): Id<String>,
) -> Result<StatusCode, ApiError> {
    let device = load(&state, &caller, &device_id, "devices:write", false).await?;
    state
        .store
        .deactivate_device(&device.id, state.clock.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One device.
#[utoipa::path(get, path = "/v1/devices/{device_id}", tag = "devices", params(("device_id" = String, Path)),
    responses((status = 403, body = ErrorBody), (status = 400, body = ErrorBody), (status = 200, body = DeviceView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("admin_token" = []), ("api_key" = ["devices:read"]), ("device_token" = [])))]
pub async fn get_device(
    State(state): State<AppState>,
    caller: Caller,
    Id(device_id): Id<String>,
) -> Result<Json<DeviceView>, ApiError> {
    Ok(Json(view(
        load(&state, &caller, &device_id, "devices:read", false).await?,
    )))
}

/// A tenant's devices.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/devices", tag = "devices", params(("tenant_id" = String, Path)),
    responses((status = 403, body = ErrorBody), (status = 400, body = ErrorBody), (status = 200, body = Vec<DeviceView>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("admin_token" = []), ("api_key" = ["devices:read"])))]
pub async fn list_devices(
    State(state): State<AppState>,
    caller: Caller,
    Id(tenant_id): Id<String>,
) -> Result<Json<Vec<DeviceView>>, ApiError> {
    let tenant = TenantId::new(tenant_id);
    caller.require_tenant(&tenant, "devices:read")?;
    Ok(Json(
        state
            .store
            .list_devices(&tenant)
            .await?
            .into_iter()
            .map(view)
            .collect(),
    ))
}

/// Cameras seen on a device.
#[utoipa::path(get, path = "/v1/devices/{device_id}/cameras", tag = "devices", params(("device_id" = String, Path)),
    responses((status = 403, body = ErrorBody), (status = 400, body = ErrorBody), (status = 200, body = Vec<CameraView>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("admin_token" = []), ("api_key" = ["devices:read"]), ("device_token" = [])))]
pub async fn list_cameras(
    State(state): State<AppState>,
    caller: Caller,
    Id(device_id): Id<String>,
) -> Result<Json<Vec<CameraView>>, ApiError> {
    let device = load(&state, &caller, &device_id, "devices:read", false).await?;
    let cameras = state.store.list_cameras(&device.tenant, &device.id).await?;
    Ok(Json(
        cameras
            .into_iter()
            .map(|c| CameraView {
                camera_id: c.camera_id,
                first_seen: time_text(c.first_seen),
                last_seen: time_text(c.last_seen),
            })
            .collect(),
    ))
}
