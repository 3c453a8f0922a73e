//! Atomic claims on counted resources of hosted tenants: a parking platform claims one
//! unit of `max_spaces` for `space-17` before it creates the space, and releases it
//! when the space goes. The store takes a unit with an UPDATE bounded by the limit, so
//! concurrent claims never pass it, and a replayed claim for the same resource is not
//! counted twice. After a downgrade the existing claims are kept, new ones are refused
//! (`over_limit`) until releases bring the count under the new limit.

use super::tenant_flags::standings;
use super::{Body, Id};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use licet_client::wire::{
    ClaimList, ClaimRequest, ClaimView, ClaimedLimit, ClaimedResource, ErrorBody,
};
use licet_core::amount::Amount;
use licet_core::catalog::FeatureKind;
use licet_core::entitlements::Grant;
use licet_core::ids::TenantId;
use licet_core::resolve::Subscription as Bought;
use licet_core::snapshot::Value;
use licet_store::{ClaimOutcome, Subscription};

/// The limit's value for the tenant now, and the subscription it comes from.
async fn limit_of(
    state: &AppState,
    tenant: &TenantId,
    limit: &str,
) -> Result<(Option<u64>, Subscription), ApiError> {
    for standing in standings(state, tenant, None).await? {
        let Some(status) = standing.snapshot.feature(limit) else {
            continue;
        };
        if status.kind != FeatureKind::Limit {
            return Err(ApiError::InvalidRequest(format!(
                "`limit`: {limit:?} is not a limit of the tenant's catalog; claims count against limits such as max_spaces"
            )));
        }
        if let Some(reason) = standing.closed(state.clock.now()) {
            return Err(ApiError::Conflict {
                code: reason,
                message: format!(
                    "subscription {} takes no new claims now ({reason}); the claims held stay, and a paid plan or a resumption takes new ones again",
                    standing.subscription.id.0
                ),
            });
        }
        let max = match status.value {
            Value::Amount(Amount::Finite(n)) => Some(n),
            _ => None,
        };
        return Ok((max, standing.subscription.clone()));
    }
    Err(ApiError::NotFound(format!(
        "no subscription of this tenant has a limit {limit:?}"
    )))
}

/// The plan of the subscription's catalog with the smallest limit above `claimed`.
async fn tier_allowing(
    state: &AppState,
    subscription: &Subscription,
    limit: &str,
    claimed: u64,
) -> Option<String> {
    let catalog = state.catalog(&subscription.product).await.ok()?;
    let mut best: Option<(Amount, String)> = None;
    for plan in catalog.spec().plans.keys() {
        let Ok(resolution) = catalog.resolve(&Bought::plan(plan.as_str())) else {
            continue;
        };
        let Some(Grant::Limit { max, .. }) = resolution.entitlements.features.get(limit) else {
            continue;
        };
        let allows_more = match max {
            Amount::Finite(n) => *n > claimed,
            Amount::Unlimited => true,
        };
        let smaller = |best: &Amount| match (max, best) {
            (Amount::Finite(a), Amount::Finite(b)) => a < b,
            (Amount::Finite(_), Amount::Unlimited) => true,
            _ => false,
        };
        if allows_more && best.as_ref().is_none_or(|(b, _)| smaller(b)) {
            best = Some((*max, plan.to_string()));
        }
    }
    best.map(|(_, plan)| plan)
}

fn bounded(field: &str, value: &str) -> Result<(), ApiError> {
    if value.trim().is_empty() || value.len() > 200 {
        return Err(ApiError::InvalidRequest(format!(
            "`{field}` must be 1 to 200 characters"
        )));
    }
    Ok(())
}

/// Claims one unit of a limit for a resource (idempotent per resource).
#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/claims", tag = "entitlements",
    params(("tenant_id" = String, Path)), request_body = ClaimRequest,
    responses((status = 201, body = ClaimView, description = "Claimed"), (status = 200, body = ClaimView, description = "Already claimed: nothing changed"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`limit_reached`, or `over_limit` after a downgrade (names the limit, the count and the tier that allows more); `trial_expired`, `license_expired` or `license_suspended` when the subscription takes no new claims")),
    security(("admin_token" = []), ("api_key" = ["subscriptions:write"])))]
pub async fn claim(
    State(state): State<AppState>,
    caller: Caller,
    Id(tenant_id): Id<String>,
    Body(body): Body<ClaimRequest>,
) -> Result<(StatusCode, Json<ClaimView>), ApiError> {
    let tenant = TenantId::new(tenant_id);
    caller.require_tenant(&tenant, "subscriptions:write")?;
    bounded("limit", &body.limit)?;
    bounded("resource", &body.resource)?;
    state.store.get_tenant(&tenant).await?;
    let (max, subscription) = limit_of(&state, &tenant, &body.limit).await?;
    let outcome = state
        .store
        .claim(&tenant, &body.limit, &body.resource, max, state.clock.now())
        .await?;
    let view = |claimed: u64| ClaimView {
        limit: body.limit.clone(),
        resource: body.resource.clone(),
        claimed,
        max,
    };
    match outcome {
        ClaimOutcome::Taken { claimed } => Ok((StatusCode::CREATED, Json(view(claimed)))),
        ClaimOutcome::Held { claimed } => Ok((StatusCode::OK, Json(view(claimed)))),
        ClaimOutcome::Full { claimed } => {
            let max = max.unwrap_or(0);
            let tier = tier_allowing(&state, &subscription, &body.limit, claimed)
                .await
                .map_or_else(
                    || "no plan allows more".to_owned(),
                    |plan| format!("plan {plan} allows more"),
                );
            let (code, what) = if claimed > max {
                ("over_limit", "is over")
            } else {
                ("limit_reached", "has reached")
            };
            Err(ApiError::Conflict {
                code,
                message: format!(
                    "{} {what} {}: {claimed} claimed of {max} on plan {}; release one \
                     (DELETE /v1/tenants/{}/claims/{}/{{resource}}) or upgrade ({tier})",
                    tenant, body.limit, subscription.plan, tenant, body.limit
                ),
            })
        }
    }
}

/// Releases a claim (idempotent).
#[utoipa::path(delete, path = "/v1/tenants/{tenant_id}/claims/{limit}/{resource}", tag = "entitlements",
    params(("tenant_id" = String, Path), ("limit" = String, Path), ("resource" = String, Path)),
    responses((status = 204, description = "Released, or held no claim"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("admin_token" = []), ("api_key" = ["subscriptions:write"])))]
pub async fn release(
    State(state): State<AppState>,
    caller: Caller,
    axum::extract::Path((tenant_id, limit, resource)): axum::extract::Path<(
        String,
        String,
        String,
    )>,
) -> Result<StatusCode, ApiError> {
    let tenant = TenantId::new(tenant_id);
    caller.require_tenant(&tenant, "subscriptions:write")?;
    bounded("limit", &limit)?;
    bounded("resource", &resource)?;
    // Idempotent: releasing what holds no claim (released before, or never claimed)
    // changes nothing and answers the same, so a retried release is harmless.
    state
        .store
        .release_claim(&tenant, &limit, &resource)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A tenant's claims, and where each claimed limit stands.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/claims", tag = "entitlements",
    params(("tenant_id" = String, Path)),
    responses((status = 200, body = ClaimList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("admin_token" = []), ("api_key" = ["subscriptions:read"])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Id(tenant_id): Id<String>,
) -> Result<Json<ClaimList>, ApiError> {
    let tenant = TenantId::new(tenant_id);
    caller.require_tenant(&tenant, "subscriptions:read")?;
    state.store.get_tenant(&tenant).await?;
    let claims = state.store.list_claims(&tenant).await?;
    let mut limits: Vec<ClaimedLimit> = Vec::new();
    for record in &claims {
        match limits.last_mut() {
            Some(last) if last.limit == record.feature => last.claimed += 1,
            _ => limits.push(ClaimedLimit {
                limit: record.feature.clone(),
                claimed: 1,
                max: None,
                over_limit: false,
            }),
        }
    }
    for limit in &mut limits {
        if let Ok((max, _)) = limit_of(&state, &tenant, &limit.limit).await {
            limit.max = max;
            limit.over_limit = max.is_some_and(|m| limit.claimed > m);
        }
    }
    Ok(Json(ClaimList {
        claims: claims
            .into_iter()
            .map(|c| ClaimedResource {
                limit: c.feature,
                resource: c.resource,
                created_at: licet_core::time_text(c.created_at),
            })
            .collect(),
        limits,
    }))
}
