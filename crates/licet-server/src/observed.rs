//! The store as the server uses it: every method timed into the
//! `licet_store_operation_duration_seconds` histogram and run inside a `store` span
//! named after it. A decorator over `dyn Store`, so both backends are measured the
//! same way and neither knows; the method list is checked by the compiler against the
//! trait (a missing or mistyped method does not build).

use licet_core::ids::{DeviceId, ProductId, TenantId};
use licet_http::observe::Latency;
use licet_store::*;
use std::sync::Arc;
use time::OffsetDateTime;
use tracing::Instrument as _;

/// A store whose every call is timed and traced.
pub struct Observed {
    inner: Arc<dyn Store>,
    latency: Arc<Latency>,
}

impl Observed {
    /// Wraps `inner`, recording into `latency`.
    pub fn wrap(inner: Arc<dyn Store>, latency: Arc<Latency>) -> Arc<dyn Store> {
        Arc::new(Observed { inner, latency })
    }
}

macro_rules! observed {
    ($( fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty; )*) => {
        #[async_trait::async_trait]
        impl Store for Observed {
            fn changes(&self) -> Arc<Changes> {
                self.inner.changes()
            }
            $(
                async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    let started = tokio::time::Instant::now();
                    let result = self
                        .inner
                        .$name($($arg),*)
                        .instrument(tracing::debug_span!("store", operation = stringify!($name)))
                        .await;
                    self.latency
                        .operation(stringify!($name), started.elapsed().as_secs_f64());
                    result
                }
            )*
        }
    };
}

observed! {
    fn ping(&self) -> Result<(), StoreError>;
    fn put_catalog(&self, product: &ProductId, version: &str, source: &str, now: OffsetDateTime) -> Result<CatalogRecord, StoreError>;
    fn latest_catalog(&self, product: &ProductId) -> Result<CatalogRecord, StoreError>;
    fn latest_catalog_revision(&self, product: &ProductId) -> Result<i64, StoreError>;
    fn list_products(&self) -> Result<Vec<CatalogRecord>, StoreError>;
    fn create_tenant(&self, tenant: &Tenant) -> Result<(), StoreError>;
    fn get_tenant(&self, id: &TenantId) -> Result<Tenant, StoreError>;
    fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError>;
    fn create_subscription(&self, new: &Subscription, license_key_hash: &str) -> Result<(), StoreError>;
    fn get_subscription(&self, tenant: Option<&TenantId>, id: &SubscriptionId) -> Result<Subscription, StoreError>;
    fn list_subscriptions(&self, tenant: &TenantId) -> Result<Vec<Subscription>, StoreError>;
    fn find_subscription_by_key(&self, license_key_hash: &str) -> Result<Subscription, StoreError>;
    fn update_subscription(&self, subscription: &Subscription) -> Result<(), StoreError>;
    fn activate_device(&self, new: &NewDevice, max_devices: u32) -> Result<Activation, StoreError>;
    fn get_device(&self, tenant: Option<&TenantId>, id: &DeviceId) -> Result<Device, StoreError>;
    fn list_devices(&self, tenant: &TenantId) -> Result<Vec<Device>, StoreError>;
    fn reserve_license_sequences(&self, count: u64) -> Result<u64, StoreError>;
    fn recount_usage(&self, subscription: &SubscriptionId, from: OffsetDateTime, to: OffsetDateTime) -> Result<std::collections::BTreeMap<String, u64>, StoreError>;
    fn drop_usage_detail(&self, before: OffsetDateTime) -> Result<Vec<String>, StoreError>;
    fn ingest_device_usage(&self, device: &DeviceId, events: &[DeviceUsageEvent], now: OffsetDateTime) -> Result<UsageIngested, StoreError>;
    fn ingest_external_usage(&self, tenant: &TenantId, events: &[ExternalUsageEvent], now: OffsetDateTime) -> Result<Vec<bool>, StoreError>;
    fn external_event_stored(&self, tenant: &TenantId, source: &str, event_id: &str) -> Result<bool, StoreError>;
    fn counted_usage(&self, tenant: &TenantId, subscription: &SubscriptionId, from: OffsetDateTime, to: OffsetDateTime) -> Result<std::collections::BTreeMap<String, u64>, StoreError>;
    fn usage_total(&self, tenant: &TenantId, device: Option<&DeviceId>, meter: &str) -> Result<u64, StoreError>;
    fn usage_series(&self, query: &UsageQuery) -> Result<Vec<UsageBucket>, StoreError>;
    fn rating_quantities(&self, subscription: &SubscriptionId, from: OffsetDateTime, to: OffsetDateTime, booking: &Booking) -> Result<RatingQuantities, StoreError>;
    fn earliest_usage(&self, subscription: &SubscriptionId, before: OffsetDateTime, booking: &Booking) -> Result<Option<OffsetDateTime>, StoreError>;
    fn count_devices_active(&self, subscription: &SubscriptionId, from: OffsetDateTime, to: OffsetDateTime) -> Result<u64, StoreError>;
    fn issue_invoice(&self, subscription: &SubscriptionId, period: &str, period_end: OffsetDateTime, now: OffsetDateTime) -> Result<(), StoreError>;
    fn put_invoice_document(&self, subscription: &SubscriptionId, period: &str, document: &str) -> Result<(), StoreError>;
    fn list_invoices(&self, subscription: &SubscriptionId) -> Result<Vec<InvoiceRecord>, StoreError>;
    fn record_heartbeat(&self, device: &DeviceId, heartbeat: &Heartbeat) -> Result<(), StoreError>;
    fn deactivate_device(&self, device: &DeviceId, now: OffsetDateTime) -> Result<(), StoreError>;
    fn list_cameras(&self, tenant: &TenantId, device: &DeviceId) -> Result<Vec<Camera>, StoreError>;
    fn create_credential(&self, credential: &Credential) -> Result<(), StoreError>;
    fn create_bootstrap_admin(&self, credential: &Credential) -> Result<bool, StoreError>;
    fn find_device_session(&self, id: &str) -> Result<DeviceSession, StoreError>;
    fn find_credential(&self, id: &str) -> Result<Credential, StoreError>;
    fn list_api_keys(&self, tenant: &TenantId) -> Result<Vec<Credential>, StoreError>;
    fn revoke_api_key(&self, tenant: Option<&TenantId>, id: &str, now: OffsetDateTime) -> Result<(), StoreError>;
    fn replace_admin_tokens(&self, replacement: &Credential, now: OffsetDateTime) -> Result<(), StoreError>;
    fn register_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError>;
    fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError>;
    fn claim(&self, tenant: &TenantId, feature: &str, resource: &str, limit: Option<u64>, now: OffsetDateTime) -> Result<ClaimOutcome, StoreError>;
    fn release_claim(&self, tenant: &TenantId, feature: &str, resource: &str) -> Result<bool, StoreError>;
    fn list_claims(&self, tenant: &TenantId) -> Result<Vec<ClaimRecord>, StoreError>;
}
