//! Tenants and tenant API keys.

use super::{Body, Id, bounded, time_text};
use crate::auth::{Admin, Caller, SCOPES, mint};
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use licet_client::wire::{ApiKeyCreate, ApiKeyCreated, ErrorBody, TenantCreate, TenantView};
use licet_core::ids::TenantId;
use licet_store::{CredentialKind, Tenant};
use time::Duration;

fn view(tenant: Tenant) -> TenantView {
    TenantView {
        id: tenant.id.to_string(),
        name: tenant.name,
        created_at: time_text(tenant.created_at),
    }
}

/// Creates a tenant (a vendor's customer).
#[utoipa::path(post, path = "/v1/tenants", tag = "tenants", request_body = TenantCreate,
    responses((status = 404, body = ErrorBody), (status = 201, body = TenantView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_tenant(
    State(state): State<AppState>,
    _admin: Admin,
    Body(body): Body<TenantCreate>,
) -> Result<(StatusCode, Json<TenantView>), ApiError> {
    bounded("name", &body.name, 200)?;
    let tenant = Tenant {
        id: TenantId::new(licet_host::random::id("ten_").map_err(ApiError::internal)?),
        name: body.name.trim().to_owned(),
        created_at: state.clock.now(),
    };
    state.store.create_tenant(&tenant).await?;
    Ok((StatusCode::CREATED, Json(view(tenant))))
}

/// Every tenant.
#[utoipa::path(get, path = "/v1/tenants", tag = "tenants",
    responses((status = 404, body = ErrorBody), (status = 400, body = ErrorBody), (status = 200, body = Vec<TenantView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_tenants(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Vec<TenantView>>, ApiError> {
    Ok(Json(
        state
            .store
            .list_tenants()
            .await?
            .into_iter()
            .map(view)
            .collect(),
    ))
}

/// One tenant (admins, or the tenant's own key).
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}", tag = "tenants",
    params(("tenant_id" = String, Path)),
    responses((status = 403, body = ErrorBody), (status = 400, body = ErrorBody), (status = 200, body = TenantView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Id(tenant_id): Id<String>,
) -> Result<Json<TenantView>, ApiError> {
    let tenant_id = TenantId::new(tenant_id);
    match &caller {
        Caller::Admin => {}
        Caller::Tenant { tenant, .. } if *tenant == tenant_id => {}
        _ => return Err(ApiError::NotFound("not found".into())),
    }
    Ok(Json(view(state.store.get_tenant(&tenant_id).await?)))
}

/// Creates a tenant API key. The key is shown once.
#[utoipa::path(post, path = "/v1/api-keys", tag = "tenants", request_body = ApiKeyCreate,
    responses((status = 201, body = ApiKeyCreated), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_api_key(
    State(state): State<AppState>,
    _admin: Admin,
    Body(body): Body<ApiKeyCreate>,
) -> Result<(StatusCode, Json<ApiKeyCreated>), ApiError> {
    if body.scopes.is_empty() {
        return Err(ApiError::InvalidRequest(format!(
            "give at least one scope: {}",
            SCOPES.join(", ")
        )));
    }
    if let Some(unknown) = body.scopes.iter().find(|s| !SCOPES.contains(&s.as_str())) {
        return Err(ApiError::InvalidRequest(format!(
            "unknown scope {unknown:?}; known: {}",
            SCOPES.join(", ")
        )));
    }
    if body
        .expires_in_days
        .is_some_and(|days| days > super::subscriptions::MAX_DAYS)
    {
        return Err(ApiError::InvalidRequest(format!(
            "`expires_in_days` must be at most {}",
            super::subscriptions::MAX_DAYS
        )));
    }
    let tenant = TenantId::new(&body.tenant_id);
    state.store.get_tenant(&tenant).await?;
    let now = state.clock.now();
    let expires_at = body
        .expires_in_days
        .map(|days| licet_core::time_after(now, Duration::days(i64::from(days))));
    let (key, credential) = mint(
        CredentialKind::Tenant,
        Some(&tenant),
        None,
        body.scopes,
        now,
        expires_at,
    )?;
    state.store.create_credential(&credential).await?;
    Ok((
        StatusCode::CREATED,
        Json(ApiKeyCreated {
            id: credential.id,
            key,
        }),
    ))
}
