//! The state every handler shares: the store, the signing key, the clock, parsed
//! catalogs and counters. Cheap to clone (everything is behind an `Arc`).

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::signer::Signer;
use licet_core::catalog::Catalog;
use licet_core::ids::{ProductId, TenantId};
use licet_core::license::{self, Grant, IssueError, IssueRequest};
use licet_core::resolve::{Resolution, ResolveError, Subscription};
use licet_host::clock::Clock;
use licet_store::{Store, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use time::OffsetDateTime;

/// Parsed catalogs by product and revision.
pub type CatalogCache = RwLock<HashMap<(ProductId, i64), Arc<Catalog>>>;

/// The newest catalog revision of each product as last read, with the store's change
/// generation seen before reading it: an upload through any replica moves the
/// generation (see [`licet_store::Changes`]), so the revision is read again after it.
pub type RevisionCache = RwLock<HashMap<ProductId, (i64, u64)>>;

/// Resolved subscriptions by (product, catalog version, what was bought). A catalog
/// version names one immutable text (a different text under a taken version is
/// refused), and resolution is pure, so an entry never goes stale; the map is emptied
/// when it grows past [`RESOLUTIONS_MAX`] entries.
pub type ResolutionCache = RwLock<HashMap<(ProductId, String, Subscription), Arc<Resolution>>>;

/// Encoded license grants, shared by every device of a subscription: keyed by the
/// tenant, the subscription, the trial's start and the resolution they encode (by identity; the entry
/// holds the resolution, so its address is not reused while the entry lives). Emptied
/// when it grows past [`GRANTS_MAX`] entries.
pub type GrantCache = RwLock<HashMap<GrantKey, (Arc<Resolution>, Arc<Grant>)>>;

/// See [`GrantCache`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GrantKey {
    tenant: TenantId,
    subscription: Option<String>,
    trial_started_at: Option<OffsetDateTime>,
    resolution: usize,
}

/// Entries the grant cache holds at most (one per subscription being issued for; a
/// grant is a few kilobytes).
pub const GRANTS_MAX: usize = 2_000;

/// Entries the resolution cache holds at most (distinct plans × add-on mixes in use).
pub const RESOLUTIONS_MAX: usize = 10_000;

/// Shared handler state: one pointer, so that the extractors and layers that clone it
/// for every request copy one `Arc` rather than one per field (a profile of the
/// hosted-tenant routes showed the per-field clones and drops at a tenth of the time).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// The state of a server made of `shared`.
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What the handlers share.
pub struct Shared {
    /// Storage.
    pub store: Arc<dyn Store>,
    /// The key licenses and verdicts are signed with, and its certificate.
    pub signer: Arc<Signer>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Parsed catalogs by (product, revision): uploads are immutable, so a parse is
    /// valid forever and only the lookup of the latest revision goes to the store.
    pub catalogs: Arc<CatalogCache>,
    /// The newest revision of each product, trusted until the store changes.
    pub revisions: Arc<RevisionCache>,
    /// Subscriptions resolved against catalogs, shared by every license issued for
    /// them.
    pub resolutions: Arc<ResolutionCache>,
    /// Encoded grants, so that a refresh signs only its lease.
    pub grants: Arc<GrantCache>,
    /// Device sessions, trusted until the store changes.
    pub sessions: Arc<crate::sessions::Sessions>,
    /// Admin tokens and API keys in memory.
    pub credentials: Arc<crate::sessions::Credentials>,
    /// This replica's block of license sequence numbers.
    pub sequences: Arc<crate::sequences::Sequences>,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Rate limits on this API.
    pub limiter: Arc<crate::limits::Limiter>,
    /// Hosted tenants' entitlements in memory.
    pub tenants: Arc<crate::standing::TenantCache>,
    /// Turns of quota uses through the tenant check, per subscription and quota.
    pub quota_turns: Arc<Turns>,
    /// Seconds between heartbeats.
    pub heartbeat_interval_seconds: u64,
    /// Permits for requests in flight (admission control).
    pub admission: Arc<tokio::sync::Semaphore>,
}

/// Malformed requests to the server's own routes answer in its error shape.
impl licet_http::Rejects for AppState {
    type Rejection = crate::error::ApiError;
}

impl Shared {
    /// The current catalog of a product. On a cache hit nothing is read from the store
    /// (the newest revision is trusted until the store's change generation moves); the
    /// text is fetched and parsed once per revision.
    pub async fn catalog(&self, product: &ProductId) -> Result<Arc<Catalog>, ApiError> {
        let missing = || {
            ApiError::NotFound(format!(
                "no catalog for product {product}; upload one with PUT /v1/products/{product}/catalog"
            ))
        };
        let generation = self.store.changes().generation();
        let fresh = self
            .revisions
            .read()
            .map_err(ApiError::internal)?
            .get(product)
            .filter(|(_, seen)| Some(*seen) == generation)
            .map(|(revision, _)| *revision);
        let revision = match fresh {
            Some(revision) => revision,
            None => {
                let revision = match self.store.latest_catalog_revision(product).await {
                    Ok(revision) => revision,
                    Err(StoreError::NotFound) => return Err(missing()),
                    Err(other) => return Err(other.into()),
                };
                if let Some(generation) = generation {
                    self.revisions
                        .write()
                        .map_err(ApiError::internal)?
                        .insert(product.clone(), (revision, generation));
                }
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

    /// `subscription` resolved against `catalog`, from the cache when it was resolved
    /// before.
    pub fn resolution(
        &self,
        catalog: &Catalog,
        subscription: &Subscription,
    ) -> Result<Result<Arc<Resolution>, ResolveError>, ApiError> {
        let key = (
            catalog.product().clone(),
            catalog.version().to_owned(),
            subscription.clone(),
        );
        if let Some(hit) = self
            .resolutions
            .read()
            .map_err(ApiError::internal)?
            .get(&key)
        {
            return Ok(Ok(hit.clone()));
        }
        let resolution = match catalog.resolve(subscription) {
            Ok(resolution) => Arc::new(resolution),
            Err(error) => return Ok(Err(error)),
        };
        let mut cache = self.resolutions.write().map_err(ApiError::internal)?;
        if cache.len() >= RESOLUTIONS_MAX {
            cache.clear();
        }
        cache.insert(key, resolution.clone());
        Ok(Ok(resolution))
    }

    /// The grant `request` encodes, from the cache when a license for the same tenant,
    /// trial and resolution was issued before. A trial that has not started is encoded
    /// afresh each time (its start would be this issue's time).
    pub fn grant(
        &self,
        request: &IssueRequest<'_>,
        resolution: &Arc<Resolution>,
    ) -> Result<Arc<Grant>, ApiError> {
        let encode = || license::grant(request, resolution).map(Arc::new);
        let internal = |e: IssueError| ApiError::internal(e);
        if resolution.trial_days.is_some() && request.trial_started_at.is_none() {
            return encode().map_err(internal);
        }
        let key = GrantKey {
            tenant: request.tenant.clone(),
            subscription: request.subscription_id.clone(),
            trial_started_at: request.trial_started_at,
            resolution: Arc::as_ptr(resolution) as usize,
        };
        if let Some((_, hit)) = self.grants.read().map_err(ApiError::internal)?.get(&key) {
            return Ok(hit.clone());
        }
        let grant = encode().map_err(internal)?;
        let mut cache = self.grants.write().map_err(ApiError::internal)?;
        if cache.len() >= GRANTS_MAX {
            cache.clear();
        }
        cache.insert(key, (resolution.clone(), grant.clone()));
        Ok(grant)
    }
}

/// Per-key locks that are dropped when no one holds them: one turn at a time per key.
#[derive(Default)]
pub struct Turns {
    locks: std::sync::Mutex<
        std::collections::HashMap<String, std::sync::Weak<tokio::sync::Mutex<()>>>,
    >,
}

impl Turns {
    /// The lock of `key`; hold its guard for the turn.
    pub fn turn(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(lock) = locks.get(key).and_then(std::sync::Weak::upgrade) {
            return lock;
        }
        if locks.len() >= 1024 {
            locks.retain(|_, lock| lock.strong_count() > 0);
        }
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        locks.insert(key.to_owned(), Arc::downgrade(&lock));
        lock
    }
}
