//! Licet's storage: one [`Store`] trait whose methods are use-case transactions
//! (`activate_device`, `create_subscription`, …), for PostgreSQL
//! ([`postgres::PgStore`]) and SQLite ([`sqlite::SqliteStore`]).
//!
//! The methods are written once ([`sql`]) in the SQL both databases agree on; each
//! backend module supplies only what really differs — how a writing transaction locks,
//! how times are stored, a few SQL fragments and the batch insert — and says why. Not
//! `sqlx::Any`: it would hide those differences at run time instead of naming them. Every tenant-owned row carries
//! `tenant_id` and every method that serves a tenant filters by it, so another tenant's
//! id reads as "not found". This crate knows nothing about HTTP or auth policy.

mod changes;
mod error;
mod model;
pub mod postgres;
mod rows;
mod sql;
pub mod sqlite;
mod usage;

pub use changes::Changes;
pub use error::{ConflictKind, StoreError};
pub use model::*;

use async_trait::async_trait;
use licet_core::ids::{DeviceId, ProductId, TenantId};
use time::OffsetDateTime;

/// Opens the store named by a database URL: `postgres://…` or `sqlite://…` (a path).
/// Migrations are applied before it is returned.
pub async fn open(url: &str) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(std::sync::Arc::new(postgres::PgStore::connect(url).await?))
    } else if let Some(path) = url.strip_prefix("sqlite://") {
        Ok(std::sync::Arc::new(
            sqlite::SqliteStore::open(std::path::Path::new(path)).await?,
        ))
    } else {
        Err(StoreError::Config(format!(
            "database URL {url:?} is neither postgres://… nor sqlite://PATH"
        )))
    }
}

/// Storage for the Licet server. Each method is one transaction.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Stores a catalog version. Storing the same version with the same text again is a
    /// no-op; with different text it is a `Conflict(CatalogVersionExists)`: published
    /// versions never change, because licenses name them.
    async fn put_catalog(
        &self,
        product: &ProductId,
        version: &str,
        source: &str,
        now: OffsetDateTime,
    ) -> Result<CatalogRecord, StoreError>;

    /// The newest catalog version of a product.
    async fn latest_catalog(&self, product: &ProductId) -> Result<CatalogRecord, StoreError>;

    /// The newest revision number of a product's catalog, without its text: what a
    /// caller with a cache of parsed catalogs needs on every request.
    async fn latest_catalog_revision(&self, product: &ProductId) -> Result<i64, StoreError>;

    /// The newest catalog of every product.
    async fn list_products(&self) -> Result<Vec<CatalogRecord>, StoreError>;

    /// Creates a tenant.
    async fn create_tenant(&self, tenant: &Tenant) -> Result<(), StoreError>;

    /// A tenant by id.
    async fn get_tenant(&self, id: &TenantId) -> Result<Tenant, StoreError>;

    /// Every tenant.
    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError>;

    /// Creates a subscription. The license key's hash must be unique.
    async fn create_subscription(
        &self,
        new: &Subscription,
        license_key_hash: &str,
    ) -> Result<(), StoreError>;

    /// A subscription; with a tenant, another tenant's subscription is `NotFound`.
    async fn get_subscription(
        &self,
        tenant: Option<&TenantId>,
        id: &SubscriptionId,
    ) -> Result<Subscription, StoreError>;

    /// A tenant's subscriptions.
    async fn list_subscriptions(&self, tenant: &TenantId) -> Result<Vec<Subscription>, StoreError>;

    /// The subscription a license key belongs to (looked up by the key's hash).
    async fn find_subscription_by_key(
        &self,
        license_key_hash: &str,
    ) -> Result<Subscription, StoreError>;

    /// Replaces a subscription's plan, add-ons, modules and status.
    async fn update_subscription(&self, subscription: &Subscription) -> Result<(), StoreError>;

    /// Activates a device on a subscription, atomically with the device-limit check:
    /// the same fingerprint again re-activates the same device with a new token; a new
    /// fingerprint beyond `max_devices` active devices is refused. The limit is a
    /// counter on the subscription taken by one conditional update at the end of the
    /// transaction, so concurrent activations do not queue behind each other's work.
    async fn activate_device(
        &self,
        new: &NewDevice,
        max_devices: u32,
    ) -> Result<Activation, StoreError>;

    /// A device; with a tenant, another tenant's device is `NotFound`.
    async fn get_device(
        &self,
        tenant: Option<&TenantId>,
        id: &DeviceId,
    ) -> Result<Device, StoreError>;

    /// A tenant's devices.
    async fn list_devices(&self, tenant: &TenantId) -> Result<Vec<Device>, StoreError>;

    /// Reserves the next `count` license sequence numbers for the caller alone and
    /// returns the highest of them (the block is `high - count + 1 ..= high`). Every
    /// reservation, by any process, is above every earlier one, and is committed
    /// before it is returned: a crash loses numbers, never hands one out twice.
    async fn reserve_license_sequences(&self, count: u64) -> Result<u64, StoreError>;

    /// Accepted usage per meter summed from the detail itself, over `[from, to)`: an
    /// audit of the counters and rollups (it reads every event of the range, so it is
    /// for tests and operators, never for a request path). `camera_day` is left out,
    /// as the counters leave it out.
    async fn recount_usage(
        &self,
        subscription: &SubscriptionId,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<std::collections::BTreeMap<String, u64>, StoreError>;

    /// Drops the usage detail of every month before `before`'s month (on PostgreSQL,
    /// the month's partition; on SQLite, its rows) and returns those months
    /// (`YYYY-MM`). Invoices, charts, totals and quotas read the rollups and counters,
    /// so none of them changes; a device event of a dropped month at or below the
    /// device's acknowledged sequence is still recognised as a replay.
    async fn drop_usage_detail(&self, before: OffsetDateTime) -> Result<Vec<String>, StoreError>;

    /// The generation caches in front of this store tag what they read with.
    fn changes(&self) -> std::sync::Arc<Changes>;

    /// Stores a device's usage events, ignoring sequences already stored, and advances
    /// the device's acknowledged sequence over every contiguous stored one. One
    /// transaction: a batch is stored whole or not at all.
    async fn ingest_device_usage(
        &self,
        device: &DeviceId,
        events: &[DeviceUsageEvent],
        now: OffsetDateTime,
    ) -> Result<UsageIngested, StoreError>;

    /// Stores usage from a vendor's back-end, ignoring (tenant, source, id) already
    /// stored. One transaction. Returns, per event, whether it was stored now (`false`:
    /// a duplicate).
    async fn ingest_external_usage(
        &self,
        tenant: &TenantId,
        events: &[ExternalUsageEvent],
        now: OffsetDateTime,
    ) -> Result<Vec<bool>, StoreError>;

    /// Whether usage from a vendor's back-end with this (tenant, source, id) is stored
    /// already: a retried request that named its event is answered as the first was.
    async fn external_event_stored(
        &self,
        tenant: &TenantId,
        source: &str,
        event_id: &str,
    ) -> Result<bool, StoreError>;

    /// A subscription's accepted usage per meter over the UTC days from `from` up to
    /// `to` (day-aligned bounds, as every quota period is), read from the running
    /// counters that each ingestion moves in its own transaction: at most one row per
    /// meter and day, however many events the days hold. Equal to the quantities
    /// [`Store::rating_quantities`] recounts from the events (`camera_day` excepted:
    /// it counts distinct cameras and has no counter).
    async fn counted_usage(
        &self,
        tenant: &TenantId,
        subscription: &SubscriptionId,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<std::collections::BTreeMap<String, u64>, StoreError>;

    /// The sum of a meter's accepted usage for a tenant (optionally one device).
    async fn usage_total(
        &self,
        tenant: &TenantId,
        device: Option<&DeviceId>,
        meter: &str,
    ) -> Result<u64, StoreError>;

    /// A tenant's accepted usage, bucketed by window and meter, oldest first.
    async fn usage_series(&self, query: &UsageQuery) -> Result<Vec<UsageBucket>, StoreError>;

    /// The quantities for rating a subscription's usage that occurred in `[from, to)`
    /// (`to` at most 31 days after `from`), counting only the events `booking` selects.
    async fn rating_quantities(
        &self,
        subscription: &SubscriptionId,
        from: OffsetDateTime,
        to: OffsetDateTime,
        booking: &Booking,
    ) -> Result<RatingQuantities, StoreError>;

    /// When the earliest event that `booking` selects and that occurred before `before`
    /// happened: where late usage begins.
    async fn earliest_usage(
        &self,
        subscription: &SubscriptionId,
        before: OffsetDateTime,
        booking: &Booking,
    ) -> Result<Option<OffsetDateTime>, StoreError>;

    /// Devices of a subscription that were active at some time in `[from, to)`.
    async fn count_devices_active(
        &self,
        subscription: &SubscriptionId,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<u64, StoreError>;

    /// Issues the invoice for `period` (which ends at `period_end`): in one transaction,
    /// refuses if this or a later month is already issued, then claims every accepted
    /// event of the subscription that occurred before `period_end` and no invoice has
    /// claimed (late usage of earlier months included).
    async fn issue_invoice(
        &self,
        subscription: &SubscriptionId,
        period: &str,
        period_end: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Writes an issued invoice's document (once; later writes are ignored).
    async fn put_invoice_document(
        &self,
        subscription: &SubscriptionId,
        period: &str,
        document: &str,
    ) -> Result<(), StoreError>;

    /// A subscription's issued invoices, oldest first.
    async fn list_invoices(
        &self,
        subscription: &SubscriptionId,
    ) -> Result<Vec<InvoiceRecord>, StoreError>;

    /// Records a heartbeat and the cameras it reports as active.
    async fn record_heartbeat(
        &self,
        device: &DeviceId,
        heartbeat: &Heartbeat,
    ) -> Result<(), StoreError>;

    /// Deactivates a device (freeing its slot) and revokes its token.
    async fn deactivate_device(
        &self,
        device: &DeviceId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Cameras seen on a tenant's device.
    async fn list_cameras(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
    ) -> Result<Vec<Camera>, StoreError>;

    /// Stores a credential (admin token, tenant API key or device token), hash only.
    async fn create_credential(&self, credential: &Credential) -> Result<(), StoreError>;

    /// Stores the first admin credential, unless one exists. Returns whether it did.
    async fn create_bootstrap_admin(&self, credential: &Credential) -> Result<bool, StoreError>;

    /// A credential by its public id.
    async fn find_credential(&self, id: &str) -> Result<Credential, StoreError>;

    /// A device token by its public id, with its device and subscription, in one
    /// query. `NotFound` if there is no such device token.
    async fn find_device_session(&self, id: &str) -> Result<DeviceSession, StoreError>;

    /// A tenant's API keys (tenant credentials), newest first, revoked ones included.
    async fn list_api_keys(&self, tenant: &TenantId) -> Result<Vec<Credential>, StoreError>;

    /// Revokes a tenant API key (`tenant`: only that tenant's). `NotFound` if there is
    /// no such unrevoked key.
    async fn revoke_api_key(
        &self,
        tenant: Option<&TenantId>,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Revokes every admin token and stores `replacement`, in one transaction: a
    /// rotation, or the recovery of a lost token.
    async fn replace_admin_tokens(
        &self,
        replacement: &Credential,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Registers a signing public key (idempotent).
    async fn register_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError>;

    /// Every signing public key, oldest first.
    async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError>;

    /// Claims one unit of a tenant's limit `feature` for `resource`, atomically: a
    /// resource already claimed is not counted again, and no claim takes the count past
    /// `limit` (`None`: unlimited), however many run at once.
    async fn claim(
        &self,
        tenant: &TenantId,
        feature: &str,
        resource: &str,
        limit: Option<u64>,
        now: OffsetDateTime,
    ) -> Result<ClaimOutcome, StoreError>;

    /// Releases a claim; `false` if there was none.
    async fn release_claim(
        &self,
        tenant: &TenantId,
        feature: &str,
        resource: &str,
    ) -> Result<bool, StoreError>;

    /// A tenant's claims, by limit and resource.
    async fn list_claims(&self, tenant: &TenantId) -> Result<Vec<ClaimRecord>, StoreError>;
}
