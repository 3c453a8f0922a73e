//! Subscriptions: create (→ license key, shown once), read, change, suspend, resume,
//! cancel.

use super::{Body, Id, time_text};
use crate::auth::{Admin, Caller};
use crate::error::ApiError;
use crate::issuance::bought;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use licet_client::wire::{
    AddonQuantity, ErrorBody, SubscriptionChange, SubscriptionCreate, SubscriptionView,
};
use licet_core::ids::{AddonId, ModuleId, PlanId, ProductId, TenantId};
use licet_core::license_key::LicenseKey;
use licet_core::resolve::AddonGrant;
use licet_store::{ConflictKind, StoreError, Subscription, SubscriptionId, SubscriptionStatus};
use time::Duration;

/// The longest term or key lifetime accepted, in days (100 years).
pub(crate) const MAX_DAYS: u32 = 36_500;

pub(crate) fn view(subscription: &Subscription, license_key: Option<String>) -> SubscriptionView {
    SubscriptionView {
        id: subscription.id.to_string(),
        tenant_id: subscription.tenant.to_string(),
        product_id: subscription.product.to_string(),
        plan: subscription.plan.to_string(),
        addons: subscription
            .addons
            .iter()
            .map(|a| AddonQuantity {
                id: a.id.to_string(),
                quantity: a.quantity,
            })
            .collect(),
        trial: subscription.trial,
        modules: subscription
            .modules
            .as_ref()
            .map(|m| m.iter().map(ToString::to_string).collect()),
        status: subscription.status.as_str().to_owned(),
        license_key,
        license_key_hint: subscription.license_key_hint.clone(),
        term_ends_at: subscription.term_ends_at.map(time_text),
        created_at: time_text(subscription.created_at),
    }
}

pub(crate) fn addons(list: &[AddonQuantity]) -> Vec<AddonGrant> {
    list.iter()
        .map(|a| AddonGrant {
            id: AddonId::new(&a.id),
            quantity: a.quantity,
        })
        .collect()
}

/// Checks that the subscription resolves against its product's current catalog.
pub(crate) async fn validate(
    state: &AppState,
    subscription: &Subscription,
) -> Result<(), ApiError> {
    let catalog = state.catalog(&subscription.product).await?;
    catalog
        .resolve(&bought(subscription))
        .map_err(|e| ApiError::InvalidRequest(e.to_string()))?;
    Ok(())
}

/// Creates a subscription. The response holds the full license key, once.
#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/subscriptions", tag = "subscriptions",
    params(("tenant_id" = String, Path)), request_body = SubscriptionCreate,
    responses((status = 201, body = SubscriptionView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("admin_token" = [])))]
pub async fn create_subscription(
    State(state): State<AppState>,
    _admin: Admin,
    Id(tenant_id): Id<String>,
    Body(body): Body<SubscriptionCreate>,
) -> Result<(StatusCode, Json<SubscriptionView>), ApiError> {
    if body
        .term_days
        .is_some_and(|days| !(1..=MAX_DAYS).contains(&days))
    {
        return Err(ApiError::InvalidRequest(format!(
            "`term_days` must be between 1 and {MAX_DAYS}"
        )));
    }
    let tenant = TenantId::new(tenant_id);
    state.store.get_tenant(&tenant).await?;
    let now = state.clock.now();
    let mut random = [0u8; 12];
    licet_host::random::fill(&mut random).map_err(ApiError::internal)?;
    let key = LicenseKey::from_random(random);
    let subscription = Subscription {
        id: SubscriptionId(licet_host::random::id("sub_").map_err(ApiError::internal)?),
        tenant,
        product: ProductId::new(&body.product_id),
        plan: PlanId::new(&body.plan),
        addons: addons(&body.addons),
        trial: body.trial,
        modules: body
            .modules
            .map(|m| m.into_iter().map(ModuleId::new).collect()),
        status: SubscriptionStatus::Active,
        license_key_hint: key.hint(),
        trial_started_at: body.trial.then_some(now),
        term_ends_at: body
            .term_days
            .map(|days| licet_core::time_after(now, Duration::days(i64::from(days)))),
        created_at: now,
        updated_at: now,
    };
    validate(&state, &subscription).await?;
    state
        .store
        .create_subscription(&subscription, &key.hash())
        .await
        .map_err(|e| match e {
            StoreError::Conflict(ConflictKind::DuplicateLicenseKey) => {
                ApiError::internal("license key collision")
            }
            other => other.into(),
        })?;
    Ok((
        StatusCode::CREATED,
        Json(view(&subscription, Some(key.to_string()))),
    ))
}

/// A tenant's subscriptions.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/subscriptions", tag = "subscriptions",
    params(("tenant_id" = String, Path)),
    responses((status = 403, body = ErrorBody), (status = 400, body = ErrorBody), (status = 200, body = Vec<SubscriptionView>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("admin_token" = []), ("api_key" = ["subscriptions:read"])))]
pub async fn list_subscriptions(
    State(state): State<AppState>,
    caller: Caller,
    Id(tenant_id): Id<String>,
) -> Result<Json<Vec<SubscriptionView>>, ApiError> {
    let tenant = TenantId::new(tenant_id);
    caller.require_tenant(&tenant, "subscriptions:read")?;
    let list = state.store.list_subscriptions(&tenant).await?;
    Ok(Json(list.iter().map(|s| view(s, None)).collect()))
}

async fn load(
    state: &AppState,
    caller: &Caller,
    id: &str,
    scope: &str,
) -> Result<Subscription, ApiError> {
    let subscription = state
        .store
        .get_subscription(caller.tenant(), &SubscriptionId(id.to_owned()))
        .await?;
    caller.require_tenant(&subscription.tenant, scope)?;
    Ok(subscription)
}

/// One subscription.
#[utoipa::path(get, path = "/v1/subscriptions/{id}", tag = "subscriptions", params(("id" = String, Path)),
    responses((status = 403, body = ErrorBody), (status = 400, body = ErrorBody), (status = 200, body = SubscriptionView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("admin_token" = []), ("api_key" = ["subscriptions:read"])))]
pub async fn get_subscription(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id<String>,
) -> Result<Json<SubscriptionView>, ApiError> {
    let subscription = load(&state, &caller, &id, "subscriptions:read").await?;
    Ok(Json(view(&subscription, None)))
}

/// Changes the plan, add-ons or modules. Devices get the change at their next refresh.
#[utoipa::path(patch, path = "/v1/subscriptions/{id}", tag = "subscriptions", params(("id" = String, Path)),
    request_body = SubscriptionChange,
    responses((status = 200, body = SubscriptionView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("admin_token" = [])))]
pub async fn change_subscription(
    State(state): State<AppState>,
    _admin: Admin,
    Id(id): Id<String>,
    Body(body): Body<SubscriptionChange>,
) -> Result<Json<SubscriptionView>, ApiError> {
    let mut subscription = load(&state, &Caller::Admin, &id, "subscriptions:write").await?;
    if let Some(plan) = body.plan {
        subscription.plan = PlanId::new(plan);
    }
    if let Some(list) = body.addons {
        subscription.addons = addons(&list);
    }
    if let Some(modules) = body.modules {
        subscription.modules =
            (!modules.is_empty()).then(|| modules.into_iter().map(ModuleId::new).collect());
    }
    match body.trial {
        // Converting a trial to the paid plan; the trial's start is kept, so it never
        // restarts.
        Some(false) => subscription.trial = false,
        Some(true) if !subscription.trial => {
            return Err(ApiError::InvalidRequest(
                "`trial`: a subscription becomes a trial only when it is created (a trial never restarts); send `false` to convert a trial to the paid plan".into(),
            ));
        }
        Some(true) | None => {}
    }
    validate(&state, &subscription).await?;
    subscription.updated_at = state.clock.now();
    state.store.update_subscription(&subscription).await?;
    Ok(Json(view(&subscription, None)))
}

async fn set_status(
    state: &AppState,
    caller: &Caller,
    id: &str,
    status: SubscriptionStatus,
) -> Result<Json<SubscriptionView>, ApiError> {
    caller.require_admin()?;
    let mut subscription = load(state, caller, id, "subscriptions:write").await?;
    if subscription.status == SubscriptionStatus::Cancelled
        && status != SubscriptionStatus::Cancelled
    {
        return Err(ApiError::Conflict {
            code: "subscription_cancelled",
            message: "a cancelled subscription cannot change; create a new one".into(),
        });
    }
    subscription.status = status;
    subscription.updated_at = state.clock.now();
    state.store.update_subscription(&subscription).await?;
    Ok(Json(view(&subscription, None)))
}

/// Suspends a subscription: its devices get a signed verdict at their next refresh.
#[utoipa::path(post, path = "/v1/subscriptions/{id}/suspend", tag = "subscriptions", params(("id" = String, Path)),
    responses((status = 400, body = ErrorBody), (status = 200, body = SubscriptionView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("admin_token" = [])))]
pub async fn suspend(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id<String>,
) -> Result<Json<SubscriptionView>, ApiError> {
    set_status(&state, &caller, &id, SubscriptionStatus::Suspended).await
}

/// Resumes a suspended subscription.
#[utoipa::path(post, path = "/v1/subscriptions/{id}/resume", tag = "subscriptions", params(("id" = String, Path)),
    responses((status = 400, body = ErrorBody), (status = 200, body = SubscriptionView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("admin_token" = [])))]
pub async fn resume(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id<String>,
) -> Result<Json<SubscriptionView>, ApiError> {
    set_status(&state, &caller, &id, SubscriptionStatus::Active).await
}

/// Cancels a subscription for good.
#[utoipa::path(post, path = "/v1/subscriptions/{id}/cancel", tag = "subscriptions", params(("id" = String, Path)),
    responses((status = 400, body = ErrorBody), (status = 200, body = SubscriptionView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("admin_token" = [])))]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id<String>,
) -> Result<Json<SubscriptionView>, ApiError> {
    set_status(&state, &caller, &id, SubscriptionStatus::Cancelled).await
}
