//! Foxsight's license server: activation, validation and heartbeats, authenticated by
//! the license key.

use super::*;

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
            .map(crate::routes::time_text)
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
    let key = TypedKey::parse(&body.license_key)
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
) -> Result<(Subscription, Option<Device>, TypedKey), ApiError> {
    let key = TypedKey::parse(key).map_err(|e| ApiError::InvalidLicenseKey(e.to_string()))?;
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
            // Foxsight's client does not say what it holds.
            let (armored, _) =
                license_for(&state, &subscription, &device, Floor::Unknown, None).await?;
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
                metrics: {
                    // Foxsight's client nests them in `usageMetrics`; older callers
                    // sent them at the top level.
                    let nested = body.usage_metrics.as_ref();
                    serde_json::json!({
                        "cameras_in_use": nested.and_then(|m| m.cameras_in_use).or(body.cameras_in_use),
                        "users_active": nested.and_then(|m| m.users_active).or(body.users_active),
                        "storage_used": body.storage_used,
                        "storage_used_gb": nested.and_then(|m| m.storage_used_gb),
                    })
                },
                running_modules: vec![],
                active_cameras: vec![],
                license_sequence: None,
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
