//! Products and their catalogs.

use super::Id;
use crate::auth::Admin;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use licet_client::wire::{CatalogUploaded, ErrorBody, ProductView};
use licet_core::catalog::Catalog;
use licet_core::ids::ProductId;
use licet_core::product_document::seal_catalog;
use licet_store::{ConflictKind, StoreError};

/// Uploads a catalog version (TOML). Validated with the same messages as
/// `licet catalog check`; a published version never changes.
#[utoipa::path(put, path = "/v1/products/{product_id}/catalog", tag = "catalogs",
    params(("product_id" = String, Path, description = "Product id, as in the catalog's `product`")),
    request_body(description = "The catalog file (TOML)", content(
        (String = "application/toml"),
        (String = "text/plain"),
    )),
    responses((status = 404, body = ErrorBody), (status = 200, body = CatalogUploaded), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("admin_token" = [])))]
pub async fn put_catalog(
    State(state): State<AppState>,
    _admin: Admin,
    Id(product_id): Id<String>,
    body: String,
) -> Result<Json<CatalogUploaded>, ApiError> {
    let catalog = Catalog::from_toml(&body, &format!("{product_id}.toml")).map_err(|errors| {
        ApiError::InvalidCatalog(errors.problems.iter().map(ToString::to_string).collect())
    })?;
    if catalog.product().as_str() != product_id {
        return Err(ApiError::InvalidRequest(format!(
            "the catalog is for product {:?} but was uploaded to {product_id:?}; use PUT /v1/products/{}/catalog",
            catalog.product().as_str(),
            catalog.product()
        )));
    }
    let record = state
        .store
        .put_catalog(
            &ProductId::new(&product_id),
            catalog.version(),
            &body,
            state.clock.now(),
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(ConflictKind::CatalogVersionExists) => ApiError::Conflict {
                code: "catalog_version_exists",
                message: format!(
                    "version {:?} of {product_id} was already published with other content; \
                     licenses name it, so raise `version` for the change",
                    catalog.version()
                ),
            },
            other => other.into(),
        })?;
    Ok(Json(CatalogUploaded {
        product_id,
        version: record.version,
        revision: record.revision,
    }))
}

/// Every product with its current catalog version.
#[utoipa::path(get, path = "/v1/products", tag = "catalogs",
    responses((status = 404, body = ErrorBody), (status = 400, body = ErrorBody), (status = 200, body = Vec<ProductView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("admin_token" = [])))]
pub async fn list_products(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Vec<ProductView>>, ApiError> {
    let products = state.store.list_products().await?;
    Ok(Json(
        products
            .into_iter()
            .map(|c| ProductView {
                product_id: c.product.to_string(),
                version: c.version,
                revision: c.revision,
            })
            .collect(),
    ))
}

/// The product's current catalog, signed for its devices (`-----BEGIN LICET CATALOG-----`,
/// with the signing key's certificate): what an agent applies before it has a license
/// (core features, the unlicensed policy: safe mode). Needs no credential, since a
/// device asks before it has one; the catalog's text, prices included, is readable by
/// anyone who reaches the server.
#[utoipa::path(get, path = "/v1/products/{product_id}/catalog/signed", tag = "catalogs",
    params(("product_id" = String, Path, description = "Product id, as in the catalog's `product`")),
    responses((status = 200, description = "The signed catalog, armored", body = String, content_type = "text/plain"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn signed_catalog(
    State(state): State<AppState>,
    Id(product_id): Id<String>,
) -> Result<([(axum::http::HeaderName, &'static str); 1], String), ApiError> {
    let product = ProductId::new(&product_id);
    let record = match state.store.latest_catalog(&product).await {
        Ok(record) => record,
        Err(StoreError::NotFound) => {
            return Err(ApiError::NotFound(format!(
                "no catalog for product {product_id}; the vendor uploads one with PUT /v1/products/{product_id}/catalog"
            )));
        }
        Err(other) => return Err(other.into()),
    };
    // The record's own text, not the cached newest catalog: an upload in between must
    // not pair one revision's text with another's version.
    let catalog = Catalog::from_toml(&record.source, &format!("{product_id}.toml"))
        .map_err(|e| ApiError::internal(e.to_string()))?;
    // The upload time dates the document, so every replica signs the same date for a
    // revision and a newer upload always wins on the device.
    let armored = seal_catalog(
        &record.source,
        &catalog,
        record.created_at,
        state.signer.key(),
    )
    .map_err(ApiError::internal)?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        state.signer.bundle(&armored),
    ))
}
