//! The state every handler shares: the store, the signing key, the clock, parsed
//! catalogs and counters. Cheap to clone (everything is behind an `Arc`).

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::signer::Signer;
use licet_core::catalog::Catalog;
use licet_core::ids::ProductId;
use licet_host::clock::Clock;
use licet_store::{Store, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Parsed catalogs by product and revision.
pub type CatalogCache = RwLock<HashMap<(ProductId, i64), Arc<Catalog>>>;

/// The newest catalog revision of each product as last read, and when.
pub type RevisionCache = RwLock<HashMap<ProductId, (i64, tokio::time::Instant)>>;

/// How long a replica answers with the newest catalog revision it read before reading
/// it again. An upload through this replica is seen at once (it forgets the product);
/// through another, within this long. Every device request needs the revision, and
/// catalogs change a few times a year.
pub const REVISION_FRESH_FOR: std::time::Duration = std::time::Duration::from_secs(5);

/// Shared handler state.
#[derive(Clone)]
pub struct AppState {
    /// Storage.
    pub store: Arc<dyn Store>,
    /// The key licenses and verdicts are signed with, and its certificate.
    pub signer: Arc<Signer>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Parsed catalogs by (product, revision): uploads are immutable, so a parse is
    /// valid forever and only the lookup of the latest revision goes to the store.
    pub catalogs: Arc<CatalogCache>,
    /// The newest revision of each product, trusted for [`REVISION_FRESH_FOR`].
    pub revisions: Arc<RevisionCache>,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Rate limits on this API.
    pub limiter: Arc<crate::limits::Limiter>,
    /// Seconds between heartbeats.
    pub heartbeat_interval_seconds: u64,
    /// Permits for requests in flight (admission control).
    pub admission: Arc<tokio::sync::Semaphore>,
}

/// Malformed requests to the server's own routes answer in its error shape.
impl licet_http::Rejects for AppState {
    type Rejection = crate::error::ApiError;
}

impl AppState {
    /// Forgets the newest revision read for `product`: called after an upload, so this
    /// replica serves the new revision from the next request on.
    pub fn catalog_changed(&self, product: &ProductId) {
        if let Ok(mut revisions) = self.revisions.write() {
            revisions.remove(product);
        }
    }

    /// The current catalog of a product. On a cache hit nothing is read from the store
    /// (the newest revision is trusted for [`REVISION_FRESH_FOR`]); the text is fetched
    /// and parsed once per revision.
    pub async fn catalog(&self, product: &ProductId) -> Result<Arc<Catalog>, ApiError> {
        let missing = || {
            ApiError::NotFound(format!(
                "no catalog for product {product}; upload one with PUT /v1/products/{product}/catalog"
            ))
        };
        let fresh = self
            .revisions
            .read()
            .map_err(ApiError::internal)?
            .get(product)
            .filter(|(_, read_at)| read_at.elapsed() < REVISION_FRESH_FOR)
            .map(|(revision, _)| *revision);
        let revision = match fresh {
            Some(revision) => revision,
            None => {
                let revision = match self.store.latest_catalog_revision(product).await {
                    Ok(revision) => revision,
                    Err(StoreError::NotFound) => return Err(missing()),
                    Err(other) => return Err(other.into()),
                };
                self.revisions
                    .write()
                    .map_err(ApiError::internal)?
                    .insert(product.clone(), (revision, tokio::time::Instant::now()));
                revision
            }
        };
        let key = (product.clone(), revision);
        if let Some(catalog) = self.catalogs.read().map_err(ApiError::internal)?.get(&key) {
            return Ok(catalog.clone());
        }
        let record = match self.store.latest_catalog(product).await {
            Ok(record) => record,
            Err(StoreError::NotFound) => return Err(missing()),
            Err(other) => return Err(other.into()),
        };
        let catalog = Catalog::from_toml(&record.source, &format!("{product}.toml"))
            .map(Arc::new)
            .map_err(|e| ApiError::internal(format!("stored catalog no longer validates: {e}")))?;
        self.catalogs
            .write()
            .map_err(ApiError::internal)?
            .insert((product.clone(), record.revision), catalog.clone());
        Ok(catalog)
    }
}
