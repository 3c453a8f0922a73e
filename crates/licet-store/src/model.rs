//! What the store keeps, as Rust types. Wire shapes live in `licet-client`; these are
//! the server's own records.

use licet_core::ids::{DeviceId, ModuleId, PlanId, ProductId, TenantId};
use licet_core::resolve::AddonGrant;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A subscription id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SubscriptionId(pub String);

impl SubscriptionId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SubscriptionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(&self.0)
    }
}

/// One stored catalog version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogRecord {
    /// The product.
    pub product: ProductId,
    /// The catalog's own version string.
    pub version: String,
    /// Upload order within the product (1, 2, …).
    pub revision: i64,
    /// The TOML text as uploaded.
    pub source: String,
    /// Upload time.
    pub created_at: OffsetDateTime,
}

/// A vendor's customer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    /// Id.
    pub id: TenantId,
    /// Display name.
    pub name: String,
    /// Creation time.
    pub created_at: OffsetDateTime,
}

/// Where a subscription stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    /// In force.
    Active,
    /// Paused by the vendor; may resume.
    Suspended,
    /// Ended for good.
    Cancelled,
}

impl SubscriptionStatus {
    /// Wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Active => "active",
            SubscriptionStatus::Suspended => "suspended",
            SubscriptionStatus::Cancelled => "cancelled",
        }
    }

    /// Parses a storage name.
    pub fn parse(text: &str) -> Option<SubscriptionStatus> {
        match text {
            "active" => Some(SubscriptionStatus::Active),
            "suspended" => Some(SubscriptionStatus::Suspended),
            "cancelled" => Some(SubscriptionStatus::Cancelled),
            _ => None,
        }
    }
}

/// A subscription: tenant + product + plan + add-ons + trial + term.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    /// Id.
    pub id: SubscriptionId,
    /// Owner.
    pub tenant: TenantId,
    /// Product.
    pub product: ProductId,
    /// Plan.
    pub plan: PlanId,
    /// Add-ons.
    pub addons: Vec<AddonGrant>,
    /// Taken as a trial.
    pub trial: bool,
    /// Explicit module list.
    pub modules: Option<Vec<ModuleId>>,
    /// Status.
    pub status: SubscriptionStatus,
    /// The last characters of the license key, to recognise it in listings.
    pub license_key_hint: String,
    /// When the trial started (kept so that it never restarts).
    pub trial_started_at: Option<OffsetDateTime>,
    /// End of the paid term, if fixed.
    pub term_ends_at: Option<OffsetDateTime>,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

/// Whether a device holds a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceStatus {
    /// Activated and counting against the device limit.
    Active,
    /// Deactivated; the slot is free.
    Deactivated,
}

/// An edge device.
#[derive(Clone, Debug, PartialEq)]
pub struct Device {
    /// Id.
    pub id: DeviceId,
    /// Owner.
    pub tenant: TenantId,
    /// The subscription it was activated on.
    pub subscription: SubscriptionId,
    /// Display name.
    pub name: String,
    /// The device's fingerprint as the agent reported it.
    pub fingerprint: String,
    /// The device's public key (`ed25519:…`), if it sent one.
    pub public_key: Option<String>,
    /// Hardware facts reported at activation.
    pub hardware: serde_json::Value,
    /// Status.
    pub status: DeviceStatus,
    /// The sequence of the license the device last reported holding.
    pub license_sequence: u64,
    /// Last heartbeat.
    pub last_heartbeat_at: Option<OffsetDateTime>,
    /// Agent version from the last heartbeat.
    pub agent_version: Option<String>,
    /// Modules running at the last heartbeat.
    pub running_modules: Vec<String>,
    /// Metrics from the last heartbeat.
    pub metrics: serde_json::Value,
    /// Activation time.
    pub created_at: OffsetDateTime,
}

/// A device token with the device it names and that device's subscription, read
/// together: what every device request needs before it can do anything.
#[derive(Clone, Debug)]
pub struct DeviceSession {
    /// The token.
    pub credential: Credential,
    /// Its device.
    pub device: Device,
    /// The device's subscription.
    pub subscription: Subscription,
}

/// A device to activate, with its new token.
#[derive(Clone, Debug)]
pub struct NewDevice {
    /// Id to use if the device is new.
    pub id: DeviceId,
    /// Owner.
    pub tenant: TenantId,
    /// Subscription.
    pub subscription: SubscriptionId,
    /// Display name.
    pub name: String,
    /// Fingerprint.
    pub fingerprint: String,
    /// Public key text.
    pub public_key: Option<String>,
    /// Hardware facts.
    pub hardware: serde_json::Value,
    /// The device token's credential (its `device` is set by the store).
    pub token: Credential,
    /// Activation time.
    pub now: OffsetDateTime,
    /// The caller proved it holds the private half of `public_key` (it signed a server
    /// nonce). Re-activating a device that has a key needs this proof.
    pub key_proven: bool,
}

impl NewDevice {
    /// Whether this request may take over the active device that has `existing_key`:
    /// `None` if it may, else the refusal. A device is its key: a different key (or
    /// none) is a takeover attempt, and the same key must be proven, since a public
    /// key alone is no secret.
    pub fn refusal_for(&self, existing_key: Option<&str>) -> Option<Activation> {
        let existing = existing_key?;
        match self.public_key.as_deref() {
            Some(key) if key == existing && self.key_proven => None,
            Some(key) if key == existing => Some(Activation::ProofRequired),
            _ => Some(Activation::KeyMismatch),
        }
    }
}

/// The outcome of an activation.
#[derive(Clone, Debug, PartialEq)]
pub enum Activation {
    /// A new device took a slot.
    Created(Device),
    /// The same fingerprint was already active: same device, new token.
    Reactivated(Device),
    /// Every slot is taken by other devices.
    TooManyDevices {
        /// The subscription's device limit.
        max_devices: u32,
    },
    /// The fingerprint belongs to an active device with another key.
    KeyMismatch,
    /// The fingerprint belongs to an active device with this key, but possession of the
    /// key was not proven.
    ProofRequired,
}

/// A heartbeat from a device.
#[derive(Clone, Debug, Default)]
pub struct Heartbeat {
    /// Agent version.
    pub agent_version: Option<String>,
    /// Metrics, as reported.
    pub metrics: serde_json::Value,
    /// Modules running.
    pub running_modules: Vec<String>,
    /// Cameras active now.
    pub active_cameras: Vec<String>,
    /// The sequence of the license the device says it holds (shown to operators;
    /// never trusted for anything else).
    pub license_sequence: Option<u64>,
    /// Receive time.
    pub now: Option<OffsetDateTime>,
}

/// A camera seen on a device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Camera {
    /// The camera id on the device.
    pub camera_id: String,
    /// First reported.
    pub first_seen: OffsetDateTime,
    /// Last reported.
    pub last_seen: OffsetDateTime,
}

/// What a credential may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// Vendor operator: everything.
    Admin,
    /// A tenant's API key, limited by scopes.
    Tenant,
    /// One device's token.
    Device,
}

impl CredentialKind {
    /// Storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Admin => "admin",
            CredentialKind::Tenant => "tenant",
            CredentialKind::Device => "device",
        }
    }

    /// Parses a storage name.
    pub fn parse(text: &str) -> Option<CredentialKind> {
        match text {
            "admin" => Some(CredentialKind::Admin),
            "tenant" => Some(CredentialKind::Tenant),
            "device" => Some(CredentialKind::Device),
            _ => None,
        }
    }
}

/// A bearer credential. Only the SHA-256 of its secret is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    /// Public id (the part of the token before the secret).
    pub id: String,
    /// Kind.
    pub kind: CredentialKind,
    /// Tenant, for tenant keys and device tokens.
    pub tenant: Option<TenantId>,
    /// Device, for device tokens.
    pub device: Option<DeviceId>,
    /// Scopes of a tenant key (`devices:read`, `subscriptions:write`, …).
    pub scopes: Vec<String>,
    /// SHA-256 (hex) of the secret.
    pub secret_hash: String,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Expiry, if any.
    pub expires_at: Option<OffsetDateTime>,
    /// Revocation time, if revoked.
    pub revoked_at: Option<OffsetDateTime>,
}

/// A signing public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningKeyRecord {
    /// Key id.
    pub key_id: String,
    /// `ed25519:<base64>`.
    pub public_key: String,
    /// When it was first registered.
    pub created_at: OffsetDateTime,
}

/// A usage event uploaded by a device.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceUsageEvent {
    /// The device's sequence number (the deduplication key with the device id).
    pub sequence: u64,
    /// The meter.
    pub meter: String,
    /// Units.
    pub quantity: u64,
    /// Unit, as sent.
    pub unit: Option<String>,
    /// The camera it is about.
    pub camera_id: Option<String>,
    /// Device time.
    pub occurred_at: OffsetDateTime,
    /// For a pass-through meter: the cost the event reported, in minor units.
    pub cost_minor: Option<i64>,
    /// Attributes, as sent.
    pub attributes: Option<serde_json::Value>,
    /// Why the server refused it (kept, acknowledged, not counted).
    pub rejection: Option<String>,
}

/// A usage event from a vendor's back-end (CloudEvents, BrinkByte's batch route),
/// deduplicated on the tenant, `source` and `event_id`. Refused events are answered,
/// not stored: the sender fixes them and sends them again under the same id.
#[derive(Clone, Debug, PartialEq)]
pub struct ExternalUsageEvent {
    /// The subscription it bills.
    pub subscription: SubscriptionId,
    /// Who sent it (the CloudEvents `source`).
    pub source: String,
    /// The sender's id for it, unique within `source`.
    pub event_id: String,
    /// The meter.
    pub meter: String,
    /// Units.
    pub quantity: u64,
    /// Unit, as sent.
    pub unit: Option<String>,
    /// The camera it is about.
    pub camera_id: Option<String>,
    /// What else it is about (the CloudEvents `subject`, BrinkByte's `resource_id`).
    pub resource_id: Option<String>,
    /// For a pass-through meter: the cost, in minor units.
    pub cost_minor: Option<i64>,
    /// When it happened, by the sender's clock.
    pub occurred_at: OffsetDateTime,
    /// Attributes, as sent.
    pub attributes: Option<serde_json::Value>,
}

/// Which usage an invoice-related query counts, by the invoice that claimed it.
/// Periods are `YYYY-MM`; invoices claim in month order, so text order is time order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Booking {
    /// Every accepted event, claimed or not (a preview of an open month).
    Any,
    /// Events claimed by an invoice for a month before this one.
    ClaimedBefore(String),
    /// Events claimed by an invoice up to and including this month.
    ClaimedThrough(String),
    /// Events claimed by this month's invoice.
    ClaimedIn(String),
    /// Events no invoice has claimed yet.
    Unclaimed,
}

/// The quantities a month's rating needs, gathered from usage and devices.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RatingQuantities {
    /// Units and reported pass-through cost per meter (camera-days left out).
    pub meters: std::collections::BTreeMap<String, (u64, i64)>,
    /// Distinct cameras with a camera-day, per UTC day (index 0 is the range's first day).
    pub cameras_per_day: Vec<u32>,
    /// For each per-camera growth pack assigned to cameras: distinct cameras holding it
    /// per UTC day (`camera_day.<addon>` events), keyed by the add-on.
    pub assigned_per_day: std::collections::BTreeMap<String, Vec<u32>>,
}

/// How usage is bucketed in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Window {
    /// Per UTC hour.
    Hour,
    /// Per UTC day.
    Day,
    /// Per UTC calendar month.
    Month,
}

/// A usage query: accepted events of a tenant in `[from, to)`, optionally narrowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageQuery {
    /// The tenant.
    pub tenant: TenantId,
    /// Only this device.
    pub device: Option<DeviceId>,
    /// Only this camera.
    pub camera: Option<String>,
    /// Only this meter.
    pub meter: Option<String>,
    /// From (inclusive), device time.
    pub from: OffsetDateTime,
    /// To (exclusive), device time.
    pub to: OffsetDateTime,
    /// The bucket size.
    pub window: Window,
}

/// One bucket of a usage query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageBucket {
    /// The bucket's start (UTC).
    pub start: OffsetDateTime,
    /// The meter.
    pub meter: String,
    /// Units.
    pub quantity: u64,
    /// Events.
    pub events: u64,
}

/// An issued invoice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvoiceRecord {
    /// The subscription billed.
    pub subscription: SubscriptionId,
    /// The month, `YYYY-MM`.
    pub period: String,
    /// When it was issued.
    pub issued_at: OffsetDateTime,
    /// The document as issued (JSON), once written.
    pub document: Option<String>,
}

/// The outcome of storing a batch of a device's usage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UsageIngested {
    /// Events stored now.
    pub stored: u64,
    /// Events already stored before (replays).
    pub duplicates: u64,
    /// Every sequence up to this one is stored for the device.
    pub acknowledged_through: u64,
}

/// The outcome of a claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// Newly claimed; the limit's count is now `claimed`.
    Taken {
        /// Claims on the limit now.
        claimed: u64,
    },
    /// The resource held a claim already: nothing changed.
    Held {
        /// Claims on the limit.
        claimed: u64,
    },
    /// The limit is reached (or, after a downgrade, passed): nothing changed.
    Full {
        /// Claims on the limit.
        claimed: u64,
    },
}

/// A claim on a counted resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimRecord {
    /// The limit (feature key).
    pub feature: String,
    /// The resource.
    pub resource: String,
    /// When it was claimed.
    pub created_at: OffsetDateTime,
}
