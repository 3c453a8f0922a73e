//! Tenants and tenant API keys.

use super::{Body, Id, bounded, time_text};
use crate::auth::{Admin, Caller, SCOPES, mint};
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use licet_client::wire::{
    AdminTokenRotated, ApiKeyCreate, ApiKeyCreated, ApiKeyView, ErrorBody, TenantCreate, TenantView,
};
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
    security(("admin_token" = [])))]
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
    security(("admin_token" = [])))]
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
    security(("admin_token" = []), ("api_key" = [])))]
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
    security(("admin_token" = [])))]
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

fn key_view(credential: licet_store::Credential) -> ApiKeyView {
    ApiKeyView {
        id: credential.id,
        tenant_id: credential.tenant.map(|t| t.to_string()).unwrap_or_default(),
        scopes: credential.scopes,
        created_at: super::time_text(credential.created_at),
        expires_at: credential.expires_at.map(super::time_text),
        revoked_at: credential.revoked_at.map(super::time_text),
    }
}

/// A tenant's API keys (never their secrets), revoked ones included.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/api-keys", tag = "tenants",
    params(("tenant_id" = String, Path)),
    responses((status = 200, body = Vec<ApiKeyView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("admin_token" = [])))]
pub async fn list_api_keys(
    State(state): State<AppState>,
    _admin: Admin,
    Id(tenant_id): Id<String>,
) -> Result<Json<Vec<ApiKeyView>>, ApiError> {
    let tenant = TenantId::new(&tenant_id);
    state.store.get_tenant(&tenant).await?;
    let keys = state.store.list_api_keys(&tenant).await?;
    Ok(Json(keys.into_iter().map(key_view).collect()))
}

/// Revokes an API key at once: the admin any key, a tenant key itself (a key that
/// leaked can be killed by whoever holds it).
#[utoipa::path(delete, path = "/v1/api-keys/{key_id}", tag = "tenants",
    params(("key_id" = String, Path, description = "The key id: 16 hex digits after lct_live_")),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("admin_token" = []), ("api_key" = [])))]
pub async fn revoke_api_key(
    State(state): State<AppState>,
    caller: Caller,
    Id(key_id): Id<String>,
) -> Result<StatusCode, ApiError> {
    match &caller {
        Caller::Admin => {}
        Caller::Tenant { key_id: own, .. } if *own == key_id => {}
        _ => return Err(ApiError::NotFound("no such API key".into())),
    }
    state
        .store
        .revoke_api_key(caller.tenant(), &key_id, state.clock.now())
        .await
        .map_err(|e| match e {
            licet_store::StoreError::NotFound => {
                ApiError::NotFound(format!("no unrevoked API key {key_id:?}"))
            }
            other => other.into(),
        })?;
    tracing::info!(key_id, "API key revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces the admin token: the new one is answered once and every earlier admin
/// token stops working at once. A lost token is recovered with
/// `licet server reset-admin-token`, which needs the server's data directory or
/// database.
#[utoipa::path(post, path = "/v1/admin-token/rotate", tag = "tenants",
    responses((status = 201, body = AdminTokenRotated), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("admin_token" = [])))]
pub async fn rotate_admin_token(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<(StatusCode, Json<AdminTokenRotated>), ApiError> {
    let now = state.clock.now();
    let (token, credential) = mint(CredentialKind::Admin, None, None, vec![], now, None)?;
    state.store.replace_admin_tokens(&credential, now).await?;
    tracing::warn!("the admin token was rotated; earlier admin tokens are revoked");
    Ok((StatusCode::CREATED, Json(AdminTokenRotated { token })))
}
