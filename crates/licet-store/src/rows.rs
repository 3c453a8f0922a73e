//! Row types shared by both backends and their conversion to the model.
//!
//! Both schemas use the same column names and store JSON as TEXT, so one `FromRow`
//! mapping serves PostgreSQL and SQLite; the SQL itself is written per backend.

use crate::error::StoreError;
use crate::model::*;
use licet_core::ids::{DeviceId, PlanId, ProductId, TenantId};
use time::OffsetDateTime;

fn json<T: serde::de::DeserializeOwned>(column: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    // Serialising plain data (strings, numbers, vectors) cannot fail.
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

#[derive(sqlx::FromRow)]
pub(crate) struct CatalogRow {
    pub product_id: String,
    pub version: String,
    pub revision: i64,
    pub source: String,
    pub created_at: OffsetDateTime,
}

impl From<CatalogRow> for CatalogRecord {
    fn from(row: CatalogRow) -> Self {
        CatalogRecord {
            product: ProductId::new(row.product_id),
            version: row.version,
            revision: row.revision,
            source: row.source,
            created_at: row.created_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct TenantRow {
    pub id: String,
    pub name: String,
    pub created_at: OffsetDateTime,
}

impl From<TenantRow> for Tenant {
    fn from(row: TenantRow) -> Self {
        Tenant {
            id: TenantId::new(row.id),
            name: row.name,
            created_at: row.created_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SubscriptionRow {
    pub id: String,
    pub tenant_id: String,
    pub product_id: String,
    pub plan: String,
    pub addons: String,
    pub trial: bool,
    pub modules: Option<String>,
    pub status: String,
    pub license_key_hint: String,
    pub trial_started_at: Option<OffsetDateTime>,
    pub term_ends_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl TryFrom<SubscriptionRow> for Subscription {
    type Error = StoreError;

    fn try_from(row: SubscriptionRow) -> Result<Self, StoreError> {
        Ok(Subscription {
            id: SubscriptionId(row.id),
            tenant: TenantId::new(row.tenant_id),
            product: ProductId::new(row.product_id),
            plan: PlanId::new(row.plan),
            addons: json("addons", &row.addons)?,
            trial: row.trial,
            modules: row
                .modules
                .as_deref()
                .map(|m| json("modules", m))
                .transpose()?,
            status: SubscriptionStatus::parse(&row.status)
                .ok_or_else(|| StoreError::Corrupt(format!("status {:?}", row.status)))?,
            license_key_hint: row.license_key_hint,
            trial_started_at: row.trial_started_at,
            term_ends_at: row.term_ends_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct DeviceRow {
    pub id: String,
    pub tenant_id: String,
    pub subscription_id: String,
    pub name: String,
    pub fingerprint: String,
    pub public_key: Option<String>,
    pub hardware: String,
    pub status: String,
    pub license_sequence: i64,
    pub last_heartbeat_at: Option<OffsetDateTime>,
    pub agent_version: Option<String>,
    pub running_modules: String,
    pub metrics: String,
    pub created_at: OffsetDateTime,
}

impl TryFrom<DeviceRow> for Device {
    type Error = StoreError;

    fn try_from(row: DeviceRow) -> Result<Self, StoreError> {
        Ok(Device {
            id: DeviceId::new(row.id),
            tenant: TenantId::new(row.tenant_id),
            subscription: SubscriptionId(row.subscription_id),
            name: row.name,
            fingerprint: row.fingerprint,
            public_key: row.public_key,
            hardware: json("hardware", &row.hardware)?,
            status: match row.status.as_str() {
                "active" => DeviceStatus::Active,
                "deactivated" => DeviceStatus::Deactivated,
                other => return Err(StoreError::Corrupt(format!("device status {other:?}"))),
            },
            license_sequence: u64::try_from(row.license_sequence)
                .map_err(|_| StoreError::Corrupt("negative license sequence".into()))?,
            last_heartbeat_at: row.last_heartbeat_at,
            agent_version: row.agent_version,
            running_modules: json("running_modules", &row.running_modules)?,
            metrics: json("metrics", &row.metrics)?,
            created_at: row.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CameraRow {
    pub camera_id: String,
    pub first_seen: OffsetDateTime,
    pub last_seen: OffsetDateTime,
}

impl From<CameraRow> for Camera {
    fn from(row: CameraRow) -> Self {
        Camera {
            camera_id: row.camera_id,
            first_seen: row.first_seen,
            last_seen: row.last_seen,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CredentialRow {
    pub id: String,
    pub kind: String,
    pub tenant_id: Option<String>,
    pub device_id: Option<String>,
    pub scopes: String,
    pub secret_hash: String,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

impl TryFrom<CredentialRow> for Credential {
    type Error = StoreError;

    fn try_from(row: CredentialRow) -> Result<Self, StoreError> {
        Ok(Credential {
            id: row.id,
            kind: CredentialKind::parse(&row.kind)
                .ok_or_else(|| StoreError::Corrupt(format!("credential kind {:?}", row.kind)))?,
            tenant: row.tenant_id.map(TenantId::new),
            device: row.device_id.map(DeviceId::new),
            scopes: json("scopes", &row.scopes)?,
            secret_hash: row.secret_hash,
            created_at: row.created_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SigningKeyRow {
    pub key_id: String,
    pub public_key: String,
    pub created_at: OffsetDateTime,
}

impl From<SigningKeyRow> for SigningKeyRecord {
    fn from(row: SigningKeyRow) -> Self {
        SigningKeyRecord {
            key_id: row.key_id,
            public_key: row.public_key,
            created_at: row.created_at,
        }
    }
}

pub(crate) fn sequence(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt("negative license sequence".into()))
}
