//! Usage and billing bodies: device usage uploads, CloudEvents ingestion, usage
//! series, quota status and invoices.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /v1/devices/{device_id}/usage` body: a batch from a device's usage outbox.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageUpload {
    /// Events in sequence order (at most 5000).
    pub events: Vec<UsageUploadEvent>,
}

/// One uploaded usage event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageUploadEvent {
    /// The device's sequence number for the event (from 1, never reused).
    pub sequence: u64,
    /// The meter, from the product's catalog (or `camera_day`, recorded by the agent).
    #[serde(rename = "type")]
    pub kind: String,
    /// Units: a non-negative integer (anything else rejects this event only).
    #[schema(value_type = u64, maximum = 9007199254740991.0)]
    pub quantity: serde_json::Value,
    /// Unit, as recorded.
    #[serde(default)]
    pub unit: Option<String>,
    /// The camera it is about.
    #[serde(default)]
    pub camera_id: Option<String>,
    /// Device time, RFC 3339.
    pub time: String,
    /// Attributes (an object).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Value>,
}

/// A refused event: stored with its reason and acknowledged, never counted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UsageRejection {
    /// Its sequence number.
    pub sequence: u64,
    /// Why.
    pub reason: String,
}

/// `POST /v1/devices/{device_id}/usage` answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UsageUploadResult {
    /// Events stored now (rejected ones included).
    pub stored: u64,
    /// Events the server already had (a retried batch).
    pub duplicates: u64,
    /// Events refused, with the reason.
    pub rejected: Vec<UsageRejection>,
    /// Every sequence up to this one is stored: the device may drop them.
    pub acknowledged_through: u64,
}

/// One CloudEvents 1.0 usage event (structured mode): `type` names the meter, `data`
/// carries the quantity. Dedup is on the tenant, `source` and `id`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UsageCloudEvent {
    /// Must be `1.0`.
    pub specversion: String,
    /// The sender's id for the event, unique within `source`.
    pub id: String,
    /// Who sent it, e.g. `https://billing.vendor.example/edge`.
    pub source: String,
    /// The meter, from the product's catalog (e.g. `api_call`).
    #[serde(rename = "type")]
    pub kind: String,
    /// When it happened (RFC 3339); the receive time when absent.
    #[serde(default)]
    pub time: Option<String>,
    /// What it is about (kept as the resource).
    #[serde(default)]
    pub subject: Option<String>,
    /// `application/json` when given.
    #[serde(default)]
    pub datacontenttype: Option<String>,
    /// The measurement.
    pub data: UsageCloudEventData,
}

/// The `data` of a usage CloudEvent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UsageCloudEventData {
    /// Units: a non-negative integer.
    #[schema(value_type = u64, maximum = 9007199254740991.0)]
    pub quantity: serde_json::Value,
    /// Unit, as measured.
    #[serde(default)]
    pub unit: Option<String>,
    /// The camera it is about.
    #[serde(default)]
    pub camera_id: Option<String>,
    /// For a meter billed at cost: the cost in minor units.
    #[serde(default)]
    pub cost_minor: Option<i64>,
    /// Anything else (an object).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Value>,
}

/// A refused event of a batch: not stored; fix it and send it again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EventRejection {
    /// Its position in the batch, from 0.
    pub index: usize,
    /// Its id, if it had one.
    pub id: Option<String>,
    /// Why.
    pub reason: String,
}

/// The answer to a CloudEvents ingestion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CloudEventsResult {
    /// Events stored now.
    pub accepted: u64,
    /// Events already stored (same source and id): not counted again.
    pub duplicates: u64,
    /// Events refused, with the reason; the rest of the batch is stored.
    pub rejected: Vec<EventRejection>,
}

/// `GET /v1/tenants/{tenant_id}/usage` answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UsageSeries {
    /// The tenant.
    pub tenant_id: String,
    /// From (inclusive, RFC 3339).
    pub from: String,
    /// To (exclusive, RFC 3339).
    pub to: String,
    /// `hour`, `day` or `month`.
    pub window: String,
    /// Buckets with usage, oldest first, then by meter.
    pub buckets: Vec<UsageBucketView>,
}

/// One bucket of usage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UsageBucketView {
    /// The bucket's start (RFC 3339, UTC).
    pub start: String,
    /// The meter.
    pub meter: String,
    /// Units.
    pub quantity: u64,
    /// Events.
    pub events: u64,
}

/// `GET /v1/tenants/{tenant_id}/quotas` answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct QuotaStatusList {
    /// The tenant.
    pub tenant_id: String,
    /// One entry per subscription and quota feature.
    pub quotas: Vec<QuotaStatus>,
}

/// Where a quota stands in its current period, by the server's count.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct QuotaStatus {
    /// The subscription.
    pub subscription_id: String,
    /// The quota feature.
    pub feature: String,
    /// The meter that consumes it.
    pub meter: String,
    /// The period's key (`2026-11`).
    pub period: String,
    /// The period's start (RFC 3339).
    pub period_start: String,
    /// The period's end (RFC 3339, exclusive).
    pub period_end: String,
    /// The allowance; `null` = unlimited.
    pub allowance: Option<u64>,
    /// Used this period (all devices and back-ends).
    pub used: u64,
    /// Left this period; `null` = unlimited.
    pub remaining: Option<u64>,
    /// `allow` (billed as overage) or `refuse`.
    pub overage: String,
}

/// An invoice line, in minor units, with the quantity that produced it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InvoiceLineView {
    /// The catalog price.
    pub price_id: String,
    /// For people.
    pub description: String,
    /// The quantity charged.
    pub quantity: u64,
    /// What one unit of `quantity` is.
    pub unit: String,
    /// Price per unit, minor units.
    pub unit_amount: i64,
    /// The line's amount, minor units.
    pub amount: i64,
    /// How the quantity and amount were reached.
    pub detail: String,
}

/// Usage of an earlier, already invoiced month that arrived after it was invoiced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LateUsageView {
    /// The month the usage happened in.
    pub period: String,
    /// What it adds to that month's invoice.
    pub lines: Vec<InvoiceLineView>,
}

/// One subscription's invoice for a month.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InvoiceView {
    /// The subscription.
    pub subscription_id: String,
    /// The product.
    pub product_id: String,
    /// The month, `YYYY-MM`.
    pub period: String,
    /// `preview` (may still change) or `issued`.
    pub status: String,
    /// When it was issued.
    pub issued_at: Option<String>,
    /// The month's own lines.
    pub lines: Vec<InvoiceLineView>,
    /// Late usage of earlier months booked on this invoice.
    pub late_usage: Vec<LateUsageView>,
    /// Currency (ISO 4217).
    pub currency: String,
    /// The sum of all lines, late usage included, in minor units.
    pub total: i64,
}

/// A tenant's invoices for a month, one per subscription.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TenantInvoices {
    /// The tenant.
    pub tenant_id: String,
    /// The month.
    pub period: String,
    /// The invoices.
    pub invoices: Vec<InvoiceView>,
}

/// `POST /v1/tenants/{tenant_id}/invoices` body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceIssue {
    /// The month to issue, `YYYY-MM`; it must have ended.
    pub period: String,
}
